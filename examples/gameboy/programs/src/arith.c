/*
 * arith.c - 16- and 32-bit integer arithmetic as sdcc compiles it for the SM83 (its own
 * multiply, divide and shift code and the library's 32-bit helpers): a xorshift32
 * generator, wrapping multiplies, signed and unsigned division and remainder with negative
 * operands (C99 truncates toward zero), variable shifts and rotates, integer square root,
 * binary GCD, modular exponentiation, and 8.8 fixed point (Newton's square root of 2 and a
 * rotation by repeated small angles), all folded into a checksum.
 *
 * Known answers: xorshift32 (Marsaglia 2003, "Xorshift RNGs", shifts 13/17/5) from seed
 * 2463534242 gives 723471715 first; gcd(1071, 462) = 21 (Euclid's example); 999983 is
 * prime, so 2^999982 mod 999983 = 1 (Fermat); isqrt(2^32 - 1) = 65535.
 */
#include "runtime.h"

static uint32_t state = 2463534242u;

static uint32_t xorshift32(void)
{
    uint32_t x = state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return state = x;
}

static uint32_t check = 0;

static void mix(uint32_t v)
{
    check = ((check << 7) | (check >> 25)) ^ v;
}

static uint32_t isqrt32(uint32_t n)
{
    uint32_t root = 0, bit = 1ul << 30;
    while (bit > n)
        bit >>= 2;
    while (bit) {
        if (n >= root + bit) {
            n -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

static uint32_t gcd32(uint32_t a, uint32_t b)
{
    uint8_t shift = 0;
    if (!a)
        return b;
    if (!b)
        return a;
    while (!((a | b) & 1)) {
        a >>= 1;
        b >>= 1;
        shift++;
    }
    while (!(a & 1))
        a >>= 1;
    do {
        while (!(b & 1))
            b >>= 1;
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << shift;
}

static uint32_t mulmod(uint32_t a, uint32_t b, uint32_t m)   /* m < 2^20: a*b < 2^40 */
{
    uint32_t result = 0;
    a %= m;
    while (b) {
        if (b & 1)
            result = (result + a) % m;
        a = (a << 1) % m;
        b >>= 1;
    }
    return result;
}

static uint32_t powmod(uint32_t base, uint32_t exp, uint32_t m)
{
    uint32_t result = 1;
    while (exp) {
        if (exp & 1)
            result = mulmod(result, base, m);
        base = mulmod(base, base, m);
        exp >>= 1;
    }
    return result;
}

/* 8.8 fixed point; products are formed in 32 bits, then scaled back (truncating toward
 * zero via division, so negative values behave the same on every compiler). */
typedef int16_t fix8;

static fix8 fix_mul(fix8 a, fix8 b)
{
    return (fix8)(((int32_t)a * b) / 256);
}

static fix8 fix_div(fix8 a, fix8 b)
{
    return (fix8)(((int32_t)a * 256) / b);
}

static void division_table(void)
{
    static const int32_t dividends[] = {1000000007l, -1000000007l, 65536l, -65535l, 7l, -7l};
    static const int32_t divisors[] = {3l, -3l, 255l, -256l, 65537l, -2147483647l};
    uint8_t i, j;
    for (i = 0; i < 6; i++)
        for (j = 0; j < 6; j++) {
            int32_t q = dividends[i] / divisors[j], r = dividends[i] % divisors[j];
            mix((uint32_t)q);
            mix((uint32_t)r);
            if (i == 1 && j < 2) {
                rt_print_i32(dividends[i]);
                rt_print(" / ");
                rt_print_i32(divisors[j]);
                rt_print(" = ");
                rt_print_i32(q);
                rt_print(" rem ");
                rt_print_i32(r);
                rt_putc('\n');
            }
        }
}

int main(void)
{
    uint16_t i;
    uint32_t first = xorshift32(), x, acc16 = 0;
    fix8 s, c, root;

    rt_print_kv_u32("xorshift32_first", first);
    mix(first);
    for (i = 0; i < 300; i++) {
        uint16_t a, b;
        uint8_t sh;
        x = xorshift32();
        a = (uint16_t)x;
        b = (uint16_t)(x >> 16);
        sh = (uint8_t)(x & 31);
        mix(x * 2654435761u);                                /* wrapping 32x32 */
        mix((uint32_t)a * b);                                /* full 16x16 -> 32 */
        acc16 += (uint16_t)((unsigned)a * b);                /* wrapping 16x16 on sdcc */
        mix(x / (b | 1u));
        mix(x % (a | 1u));
        mix((uint16_t)(a / (uint8_t)(sh | 1)) + (uint16_t)(b % 10u));
        mix((x << sh) ^ (x >> sh));
        mix((x << sh) | (x >> ((32 - sh) & 31)));            /* rotate */
        mix(isqrt32(x));
        mix(gcd32(x, first));
    }
    rt_print_kv_hex32("after_loop", check);
    rt_print_kv_u32("acc16", acc16);
    division_table();

    rt_print_kv_u32("isqrt(4294967295)", isqrt32(0xFFFFFFFFu));
    rt_print_kv_u32("gcd(1071,462)", gcd32(1071, 462));
    rt_print_kv_u32("gcd(2^31,3*2^20)", gcd32(0x80000000u, 3ul << 20));
    rt_print_kv_u32("3^200 mod 1000003", powmod(3, 200, 1000003u));
    rt_print_kv_u32("2^(p-1) mod p, p=999983", powmod(2, 999982u, 999983u));

    root = 256;                                             /* Newton: x = (x + 2/x) / 2 */
    for (i = 0; i < 6; i++)
        root = (fix8)((root + fix_div(512, root)) / 2);
    rt_print("sqrt2_8.8=");
    rt_print_i32(root);
    rt_putc('\n');
    mix((uint16_t)root);

    c = 256;                                                /* rotate (1, 0) by 0.05 rad steps */
    s = 0;
    for (i = 0; i < 63; i++) {
        fix8 nc = (fix8)(c - fix_mul(s, 13));
        fix8 ns = (fix8)(s + fix_mul(c, 13));
        c = nc;
        s = ns;
        mix((uint32_t)(int32_t)c ^ ((uint32_t)(uint16_t)s << 16));
    }
    rt_print("rotated: cos=");
    rt_print_i32(c);
    rt_print(" sin=");
    rt_print_i32(s);
    rt_putc('\n');
    rt_print_kv_hex32("checksum", check);
    return 0;
}
