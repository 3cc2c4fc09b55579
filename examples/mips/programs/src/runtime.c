/*
 * runtime.c - the bare-metal VR4300 side of runtime.h.
 *
 * Output goes to the system's debug port: each byte stored to virtual 0xBFF00000
 * (KSEG1, uncached; physical 0x1FF00000) is appended to the program's output.
 *
 * Debian's libgcc for mips-linux-gnu is built for MIPS32r2 (it uses MUL and CLZ,
 * which the MIPS III VR4300 lacks) as PIC/abicalls code, and no n32 multilib is
 * installed, so this file also provides the libgcc 64-bit entry points an o32
 * build calls: division (__udivdi3, __umoddi3, __divdi3, __moddi3) and, where gcc
 * chooses a call over inline code, variable shifts (__ashldi3, __lshrdi3,
 * __ashrdi3). Names and contracts: the GCC internals manual, "The GCC low-level
 * runtime library", integer arithmetic routines. n32 builds have 64-bit registers
 * (DDIVU, DSLLV, ...) and never call them.
 */
#include "runtime.h"

/* Without this gcc may turn the byte loops below into calls to memset/memcpy,
 * i.e. into calls to themselves. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")

#define DEBUG_PORT ((volatile uint8_t *)0xBFF00000u)

void rt_putc(int c) { *DEBUG_PORT = (uint8_t)c; }

void rt_print(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

void rt_newline(void) { rt_putc('\n'); }

void rt_print_u64(uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        rt_putc(digits[--n]);
}

void rt_print_i64(int64_t v)
{
    uint64_t magnitude = (uint64_t)v;
    if (v < 0) {
        rt_putc('-');
        magnitude = -magnitude;
    }
    rt_print_u64(magnitude);
}

void rt_print_u32(uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        rt_putc(digits[--n]);
}

void rt_print_i32(int32_t v)
{
    uint32_t magnitude = (uint32_t)v;
    if (v < 0) {
        rt_putc('-');
        magnitude = -magnitude;
    }
    rt_print_u32(magnitude);
}

static void print_hex(uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    while (digits--)
        rt_putc(hex[(v >> (4 * digits)) & 0xF]);
}

void rt_print_hex32(uint32_t v) { print_hex(v, 8); }
void rt_print_hex64(uint64_t v) { print_hex(v, 16); }

void rt_print_kv_hex32(const char *label, uint32_t v)
{
    rt_print(label);
    rt_print("=0x");
    rt_print_hex32(v);
    rt_newline();
}

void rt_print_kv_u32(const char *label, uint32_t v)
{
    rt_print(label);
    rt_putc('=');
    rt_print_u32(v);
    rt_newline();
}

/* ---- memory and string functions ---------------------------------------- */

/* A 32-bit word that may alias any object (the word loops below read char buffers). */
typedef uint32_t __attribute__((may_alias)) word_t;

static int both_word_aligned(const void *a, const void *b)
{
    return (((uintptr_t)a | (uintptr_t)b) & 3) == 0;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (both_word_aligned(d, s)) {
        for (; n >= 4; n -= 4, d += 4, s += 4)
            *(word_t *)d = *(const word_t *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)                      /* overlapping, destination above: copy backwards */
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint8_t byte = (uint8_t)c;
    for (; n && ((uintptr_t)d & 3); n--)
        *d++ = byte;
    word_t fill = byte * 0x01010101u;
    for (; n >= 4; n -= 4, d += 4)
        *(word_t *)d = fill;
    while (n--)
        *d++ = byte;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++) {
        if (*p != *q)
            return *p - *q;
    }
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

/* ---- libgcc 64-bit arithmetic (o32) -------------------------------------- */

uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
uint64_t __ashldi3(uint64_t v, int shift);
uint64_t __lshrdi3(uint64_t v, int shift);
int64_t __ashrdi3(int64_t v, int shift);

/* Unsigned 64-bit n / d by restoring shift-and-subtract; *rem gets n % d.
 * Division by zero (undefined in C) gives quotient all ones and remainder n,
 * what the VR4300's DDIVU leaves in LO/HI. */
static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
    if (d == 0) {
        *rem = n;
        return ~(uint64_t)0;
    }
    if ((n >> 32) == 0 && (d >> 32) == 0) {       /* hardware DIVU suffices */
        *rem = (uint32_t)n % (uint32_t)d;
        return (uint32_t)n / (uint32_t)d;
    }
    int shift = 0;
    while (!(d >> 63) && (d << 1) <= n) {         /* line d's top bit up under n's */
        d <<= 1;
        shift++;
    }
    uint64_t q = 0;
    for (; shift >= 0; shift--, d >>= 1) {
        q <<= 1;
        if (n >= d) {
            n -= d;
            q |= 1;
        }
    }
    *rem = n;
    return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    uint64_t rem;
    return udivmod64(n, d, &rem);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t rem;
    udivmod64(n, d, &rem);
    return rem;
}

static uint64_t magnitude64(int64_t v) { return v < 0 ? -(uint64_t)v : (uint64_t)v; }

int64_t __divdi3(int64_t n, int64_t d)
{
    uint64_t rem;
    uint64_t q = udivmod64(magnitude64(n), magnitude64(d), &rem);
    return (int64_t)(((n < 0) != (d < 0)) ? -q : q);
}

int64_t __moddi3(int64_t n, int64_t d)
{
    uint64_t rem;
    udivmod64(magnitude64(n), magnitude64(d), &rem);
    return (int64_t)(n < 0 ? -rem : rem);
}

/* The shifts work on 32-bit halves (a 64-bit variable shift here could compile to a
 * call to itself). shift is 0..63, as in libgcc. */
static uint64_t join(uint32_t high, uint32_t low) { return (uint64_t)high << 32 | low; }

uint64_t __ashldi3(uint64_t v, int shift)
{
    uint32_t low = (uint32_t)v, high = (uint32_t)(v >> 32);
    if (shift == 0)
        return v;
    if (shift >= 32)
        return join(low << (shift - 32), 0);
    return join(high << shift | low >> (32 - shift), low << shift);
}

uint64_t __lshrdi3(uint64_t v, int shift)
{
    uint32_t low = (uint32_t)v, high = (uint32_t)(v >> 32);
    if (shift == 0)
        return v;
    if (shift >= 32)
        return join(0, high >> (shift - 32));
    return join(high >> shift, low >> shift | high << (32 - shift));
}

int64_t __ashrdi3(int64_t v, int shift)
{
    uint32_t low = (uint32_t)v;
    int32_t high = (int32_t)((uint64_t)v >> 32);
    if (shift == 0)
        return v;
    if (shift >= 32)                                 /* SRA of the high half fills with the sign */
        return (int64_t)join((uint32_t)(high >> 31), (uint32_t)(high >> (shift - 32)));
    return (int64_t)join((uint32_t)(high >> shift), low >> shift | (uint32_t)high << (32 - shift));
}
