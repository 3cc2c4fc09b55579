/*
 * strings - string routines written here plus the runtime's memory functions.
 *
 * Copy, append, compare, search (strchr, naive strstr), reverse, case folding,
 * number <-> text conversion, tokenising, word statistics, palindromes and djb2
 * hashing over a text built in memory; memcpy/memmove/memset/memcmp/strlen at every
 * alignment offset, with overlapping moves. Mostly LB/LBU/SB and short branches.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 4
#endif

static const char *const words[] = {
    "emulator", "register", "delay", "slot", "branch", "level", "racecar", "cache",
    "translation", "block", "noon", "guest", "host", "recompile", "refer", "kayak",
};
#define NWORDS (sizeof words / sizeof words[0])

static char text[4096];
static char scratch[4096];
static unsigned char pattern[256], copy[256 + 8];

static char *str_copy(char *dst, const char *src)
{
    char *d = dst;
    while ((*d++ = *src++))
        ;
    return dst;
}

/* Copies src to dst and returns the end of the copy (where its NUL is), like stpcpy. */
static char *str_append(char *dst, const char *src)
{
    while ((*dst = *src++))
        dst++;
    return dst;
}

static int str_compare(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static const char *str_find_char(const char *s, char c)
{
    for (; *s; s++)
        if (*s == c)
            return s;
    return c ? 0 : s;
}

static const char *str_find(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (; *haystack; haystack++)
        if (memcmp(haystack, needle, n) == 0)
            return haystack;
    return 0;
}

static void str_reverse(char *s, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        char t = s[i];
        s[i] = s[j - 1];
        s[j - 1] = t;
    }
}

static char to_upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

/* Signed decimal text of v into buf; returns the length. */
static size_t format_int(char *buf, int32_t v)
{
    uint32_t magnitude = v < 0 ? -(uint32_t)v : (uint32_t)v;
    size_t n = 0;
    do {
        buf[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (v < 0)
        buf[n++] = '-';
    str_reverse(buf, n);
    buf[n] = 0;
    return n;
}

static int32_t parse_int(const char *s)
{
    int negative = *s == '-';
    s += negative;
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return (int32_t)(negative ? -v : v);
}

static int is_palindrome(const char *s, size_t n)
{
    for (size_t i = 0; i < n / 2; i++)
        if (s[i] != s[n - 1 - i])
            return 0;
    return 1;
}

static uint32_t djb2(const char *s)
{
    uint32_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static uint32_t check_memory_functions(void)
{
    uint32_t h = 0;
    for (unsigned i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i * 7 + 3);
    for (unsigned src = 0; src < 4; src++)
        for (unsigned dst = 0; dst < 4; dst++)
            for (unsigned len = 0; len < 40; len += 3) {
                memset(copy, 0xA5, sizeof copy);
                memcpy(copy + dst, pattern + src, len);
                if (memcmp(copy + dst, pattern + src, len) != 0 || copy[dst + len] != 0xA5)
                    return 0xBAD0000u | (src << 8) | (dst << 4);
                h = h * 31 + copy[dst + len / 2];
            }
    for (unsigned shift = 1; shift < 9; shift++) {      /* overlapping moves, both ways */
        memcpy(copy, pattern, 200);
        memmove(copy + shift, copy, 100);
        memmove(copy + 150, copy + 150 + shift, 50);
        for (unsigned i = 0; i < 200; i++)
            h = h * 31 + copy[i];
    }
    memset(copy + 3, 0, 17);
    h += (uint32_t)(memcmp(copy, pattern, 3) == 0) + (uint32_t)(memcmp(copy, pattern, 4) < 0) + copy[10] + copy[20];
    return h;
}

int main(void)
{
    rt_print_kv_hex32("memory-functions", check_memory_functions());

    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        /* build a sentence of words and numbers */
        char *end = text;
        uint32_t state = 12345 + iter;
        char number[16];
        for (int w = 0; w < 200; w++) {
            state = state * 1103515245u + 12345u;
            end = str_append(end, words[(state >> 16) % NWORDS]);
            end = str_append(end, " ");
            if ((state >> 8) % 5 == 0) {
                format_int(number, (int32_t)(state >> 12) % 20001 - 10000);
                end = str_append(end, number);
                end = str_append(end, " ");
            }
        }
        size_t length = strlen(text);
        if (length != (size_t)(end - text)) {
            rt_print("strlen disagrees with the end pointer\n");
            return 1;
        }

        /* tokenise: count words, palindromes and the sum of the numbers */
        uint32_t word_count = 0, palindromes = 0, longest = 0;
        int32_t number_sum = 0;
        uint32_t word_hash = 0;
        const char *p = text;
        while (*p) {
            const char *space = str_find_char(p, ' ');
            size_t n = (size_t)(space - p);
            memcpy(scratch, p, n);
            scratch[n] = 0;
            if (scratch[0] == '-' || (scratch[0] >= '0' && scratch[0] <= '9')) {
                int32_t v = parse_int(scratch);
                format_int(number, v);
                if (str_compare(number, scratch) != 0) {
                    rt_print("number round trip failed\n");
                    return 1;
                }
                number_sum += v;
            } else {
                word_count++;
                palindromes += (uint32_t)is_palindrome(scratch, n);
                word_hash = word_hash * 31 + djb2(scratch);
            }
            if (n > longest)
                longest = (uint32_t)n;
            p = space + 1;
        }

        /* search, reverse twice, upper-case */
        uint32_t found = 0;
        for (const char *q = text; (q = str_find(q, "slot")) != 0; q++)
            found++;
        str_copy(scratch, text);
        str_reverse(scratch, length);
        uint32_t reversed_hash = djb2(scratch);
        str_reverse(scratch, length);
        if (str_compare(scratch, text) != 0) {
            rt_print("double reverse failed\n");
            return 1;
        }
        for (size_t i = 0; i < length; i++)
            scratch[i] = to_upper(scratch[i]);

        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": length=");
            rt_print_u32((uint32_t)length);
            rt_print(" words=");
            rt_print_u32(word_count);
            rt_print(" palindromes=");
            rt_print_u32(palindromes);
            rt_print(" longest=");
            rt_print_u32(longest);
            rt_print(" numbers=");
            rt_print_i32(number_sum);
            rt_print(" 'slot'x");
            rt_print_u32(found);
            rt_newline();
            scratch[60] = 0;
            rt_print("  ");
            rt_print(scratch);
            rt_newline();
        }
        total = total * 33 + word_hash + reversed_hash + djb2(scratch) + found + (uint32_t)number_sum;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
