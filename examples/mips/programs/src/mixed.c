/*
 * mixed - a CoreMark-style mixed workload (written for this project; it follows
 * CoreMark's idea of four kernels chained through a CRC, not its code).
 *
 * Each iteration runs:
 *   list    a 48-node linked list of (value, index) pairs: search, reverse, a
 *           bottom-up merge sort by value and another back by index;
 *   matrix  12x12 int16 matrices: add and multiply by a constant, matrix-vector and
 *           matrix-matrix products into int32, and a bit-field extraction sum;
 *   state   a switch-based state machine that classifies comma-separated tokens
 *           (integer, decimal, scientific, hex, invalid) in a text that is
 *           corrupted a little differently each time;
 *   crc     CRC-16/CCITT (polynomial 0x1021, initial 0xFFFF) over every result,
 *           chaining the kernels. Known answer: CRC-16/CCITT-FALSE("123456789") = 0x29b1.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 20
#endif

/* ---- crc ------------------------------------------------------------------ */

static uint16_t crc16_byte(uint16_t crc, uint8_t byte)
{
    crc ^= (uint16_t)(byte << 8);
    for (int k = 0; k < 8; k++)
        crc = (crc & 0x8000) ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
    return crc;
}

static uint16_t crc16_u32(uint16_t crc, uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        crc = crc16_byte(crc, (uint8_t)(v >> shift));
    return crc;
}

/* ---- list ----------------------------------------------------------------- */

#define LIST_NODES 48

struct item {
    struct item *next;
    int16_t value;
    uint16_t index;
};

static struct item items[LIST_NODES];

typedef int (*item_order)(const struct item *, const struct item *);

static int by_value(const struct item *a, const struct item *b) { return a->value - b->value; }
static int by_index(const struct item *a, const struct item *b) { return a->index - b->index; }

/* Bottom-up merge sort of a list: runs of width 1, 2, 4, ... merged in passes. */
static struct item *list_sort(struct item *list, item_order order)
{
    for (int width = 1;; width *= 2) {
        struct item *p = list, *tail = 0;
        int merges = 0;
        list = 0;
        while (p) {
            merges++;
            struct item *q = p;
            int p_size = 0, q_size = width;
            while (p_size < width && q) {
                p_size++;
                q = q->next;
            }
            while (p_size > 0 || (q_size > 0 && q)) {
                struct item *e;
                if (p_size == 0) {
                    e = q; q = q->next; q_size--;
                } else if (q_size == 0 || !q || order(p, q) <= 0) {
                    e = p; p = p->next; p_size--;
                } else {
                    e = q; q = q->next; q_size--;
                }
                if (tail)
                    tail->next = e;
                else
                    list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = 0;
        if (merges <= 1)
            return list;
    }
}

static uint16_t list_kernel(uint16_t crc, uint32_t seed)
{
    for (int i = 0; i < LIST_NODES; i++) {
        seed = seed * 1664525u + 1013904223u;
        items[i].value = (int16_t)((seed >> 16) % 2001) - 1000;
        items[i].index = (uint16_t)i;
        items[i].next = i + 1 < LIST_NODES ? &items[i + 1] : 0;
    }
    struct item *list = &items[0];

    uint32_t found = 0;                               /* search for a few values */
    for (int16_t wanted = -1000; wanted <= 1000; wanted += 97)
        for (const struct item *p = list; p; p = p->next)
            if (p->value / 8 == wanted / 8) {
                found += p->index;
                break;
            }

    struct item *reversed = 0;
    while (list) {
        struct item *next = list->next;
        list->next = reversed;
        reversed = list;
        list = next;
    }
    list = list_sort(reversed, by_value);
    for (const struct item *p = list; p; p = p->next)
        crc = crc16_u32(crc, (uint32_t)(int32_t)p->value);
    list = list_sort(list, by_index);
    uint32_t in_order = 1;
    for (const struct item *p = list; p && p->next; p = p->next)
        in_order &= p->index + 1u == p->next->index;
    return crc16_u32(crc, found * 2 + in_order);
}

/* ---- matrix --------------------------------------------------------------- */

#define M 12

static int16_t ma[M][M], mb[M][M];
static int32_t mc[M][M], vector_out[M];

static uint16_t matrix_kernel(uint16_t crc, uint32_t seed)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            seed = seed * 1664525u + 1013904223u;
            ma[i][j] = (int16_t)((int32_t)(seed >> 20) - 2048);
            mb[i][j] = (int16_t)((int32_t)((seed >> 8) & 0xFFF) - 2048);
        }
    int16_t constant = (int16_t)((seed >> 28) + 3);

    for (int i = 0; i < M; i++)                       /* A += constant */
        for (int j = 0; j < M; j++)
            ma[i][j] = (int16_t)(ma[i][j] + constant);
    int32_t scaled = 0;                               /* sum of A * constant */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            scaled += ma[i][j] * constant;
    for (int i = 0; i < M; i++) {                     /* A * column 0 of B */
        int32_t sum = 0;
        for (int j = 0; j < M; j++)
            sum += ma[i][j] * mb[j][0];
        vector_out[i] = sum;
    }
    uint32_t bitfields = 0;
    for (int i = 0; i < M; i++)                       /* A * B, then bits 2..9 of each entry */
        for (int j = 0; j < M; j++) {
            int32_t sum = 0;
            for (int k = 0; k < M; k++)
                sum += ma[i][k] * mb[k][j];
            mc[i][j] = sum;
            bitfields += ((uint32_t)sum >> 2) & 0xFF;
        }
    crc = crc16_u32(crc, (uint32_t)scaled);
    for (int i = 0; i < M; i++)
        crc = crc16_u32(crc, (uint32_t)vector_out[i]);
    crc = crc16_u32(crc, (uint32_t)mc[M / 2][M / 3]);
    return crc16_u32(crc, bitfields);
}

/* ---- state machine -------------------------------------------------------- */

enum state { START, SIGN, INT, ZERO, HEX, POINT, FRACTION, EXPONENT, EXP_SIGN, EXP_DIGITS, INVALID, NSTATES };

static const char text_template[] =
    "1234,-87,3.1415,6.02e23,-1.5E-3,0x1F,12a,+42,0,.5,7.,0xBEEF,1e,--3,"
    "99999,-0.001,2.5e+10,0x,x12,3.3.3,-,808,17e-2,0xdeadbeef,";
static char text[sizeof text_template];

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static enum state step(enum state s, char c)
{
    switch (s) {
    case START:
        if (c == '+' || c == '-') return SIGN;
        if (c == '0') return ZERO;
        if (is_digit(c)) return INT;
        if (c == '.') return POINT;
        return INVALID;
    case SIGN:
        if (c == '0') return ZERO;
        if (is_digit(c)) return INT;
        if (c == '.') return POINT;
        return INVALID;
    case ZERO:
        if (c == 'x' || c == 'X') return HEX;
        /* fall through */
    case INT:
        if (is_digit(c)) return INT;
        if (c == '.') return FRACTION;
        if (c == 'e' || c == 'E') return EXPONENT;
        return INVALID;
    case HEX:
        return is_hex_digit(c) ? HEX : INVALID;
    case POINT:
        return is_digit(c) ? FRACTION : INVALID;
    case FRACTION:
        if (is_digit(c)) return FRACTION;
        if (c == 'e' || c == 'E') return EXPONENT;
        return INVALID;
    case EXPONENT:
        if (c == '+' || c == '-') return EXP_SIGN;
        return is_digit(c) ? EXP_DIGITS : INVALID;
    case EXP_SIGN:
    case EXP_DIGITS:
        return is_digit(c) ? EXP_DIGITS : INVALID;
    default:
        return INVALID;
    }
}

static uint16_t state_kernel(uint16_t crc, uint32_t seed)
{
    memcpy(text, text_template, sizeof text);
    for (int k = 0; k < 3; k++) {                     /* corrupt three characters */
        seed = seed * 1664525u + 1013904223u;
        size_t at = (seed >> 8) % (sizeof text - 1);
        if (text[at] != ',')
            text[at] = "0.e-x9+A"[(seed >> 4) & 7];
    }
    uint32_t finals[NSTATES] = {0}, transitions = 0;
    enum state s = START;
    for (const char *p = text; *p; p++) {
        if (*p == ',') {
            finals[s]++;
            s = START;
            continue;
        }
        enum state next = step(s, *p);
        transitions += next != s;
        s = next;
    }
    uint32_t integers = finals[INT] + finals[ZERO], decimals = finals[FRACTION];
    uint32_t scientific = finals[EXP_DIGITS], hex = finals[HEX];
    uint32_t invalid = 0;
    for (int k = 0; k < NSTATES; k++)
        invalid += finals[k];
    invalid -= integers + decimals + scientific + hex;
    crc = crc16_u32(crc, integers << 24 | decimals << 16 | scientific << 8 | hex);
    return crc16_u32(crc, invalid << 16 | transitions);
}

int main(void)
{
    uint16_t check = 0xFFFF;
    for (const char *p = "123456789"; *p; p++)
        check = crc16_byte(check, (uint8_t)*p);
    rt_print_kv_hex32("crc16(123456789)", check);

    uint16_t list_crc = 0xFFFF, matrix_crc = 0xFFFF, state_crc = 0xFFFF, crc = 0xFFFF;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        uint32_t seed = 0x5EED0000u ^ iter ^ (uint32_t)crc << 8;   /* chained: each round depends on the last */
        list_crc = list_kernel(list_crc, seed);
        matrix_crc = matrix_kernel(matrix_crc, seed);
        state_crc = state_kernel(state_crc, seed);
        crc = crc16_u32(crc, (uint32_t)list_crc << 16 | matrix_crc);
        crc = crc16_u32(crc, state_crc);
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": list=0x");
            rt_print_hex32(list_crc);
            rt_print(" matrix=0x");
            rt_print_hex32(matrix_crc);
            rt_print(" state=0x");
            rt_print_hex32(state_crc);
            rt_newline();
        }
    }
    rt_print_kv_hex32("list-crc", list_crc);
    rt_print_kv_hex32("matrix-crc", matrix_crc);
    rt_print_kv_hex32("state-crc", state_crc);
    rt_print_kv_hex32("checksum", crc);
    return 0;
}
