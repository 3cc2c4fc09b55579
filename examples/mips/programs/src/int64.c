/*
 * int64 - 64-bit integer arithmetic.
 *
 * On o32 every operation here is synthesised from 32-bit instructions (carries
 * with SLTU, MULTU partial products, the runtime's __udivdi3 family); on n32 gcc
 * uses DADDU, DMULTU, DDIV, DSLLV, DSRA32 and friends. Covers xorshift64*,
 * wrapping multiply, a 64x64->128 high half from 32-bit pieces, signed and unsigned
 * division and remainder with negative operands, variable shifts and rotates,
 * signed/unsigned comparisons, integer square root (Newton), binary GCD, modular
 * exponentiation, popcount and Collatz orbits of 64-bit numbers.
 * Known answers: isqrt(2^64 - 1) = 4294967295, 2^61 - 1 is prime so
 * 3^(2^61 - 2) mod (2^61 - 1) = 1 (Fermat), fib(90) = 2880067194370816120.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 3
#endif

static uint64_t rng_state;
static uint64_t xorshift64star(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;                 /* Vigna, "An experimental exploration of Marsaglia's xorshift generators" */
}

/* The high 64 bits of a * b, from 32-bit halves. */
static uint64_t mul_high(uint64_t a, uint64_t b)
{
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
    uint64_t middle = (lo_lo >> 32) + (uint32_t)hi_lo + (uint32_t)lo_hi;
    return hi_hi + (hi_lo >> 32) + (lo_hi >> 32) + (middle >> 32);
}

/* a * b mod m for m < 2^63, by doubling (no 128-bit type needed). */
static uint64_t mul_mod(uint64_t a, uint64_t b, uint64_t m)
{
    uint64_t result = 0;
    a %= m;
    while (b) {
        if (b & 1) {
            result += a;
            if (result >= m)
                result -= m;
        }
        a <<= 1;
        if (a >= m)
            a -= m;
        b >>= 1;
    }
    return result;
}

static uint64_t pow_mod(uint64_t base, uint64_t exponent, uint64_t m)
{
    uint64_t result = 1 % m;
    base %= m;
    for (; exponent; exponent >>= 1) {
        if (exponent & 1)
            result = mul_mod(result, base, m);
        base = mul_mod(base, base, m);
    }
    return result;
}

static uint64_t isqrt(uint64_t n)
{
    if (n < 2)
        return n;
    uint64_t x = n / 2 + 1, y = (x + n / x) / 2;      /* Newton from above */
    while (y < x) {
        x = y;
        y = (x + n / x) / 2;
    }
    return x;
}

static uint64_t gcd_binary(uint64_t a, uint64_t b)
{
    if (a == 0 || b == 0)
        return a | b;
    int shift = 0;
    while (((a | b) & 1) == 0) {
        a >>= 1;
        b >>= 1;
        shift++;
    }
    while ((a & 1) == 0)
        a >>= 1;
    do {
        while ((b & 1) == 0)
            b >>= 1;
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << shift;
}

static int popcount64(uint64_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static uint64_t rotl64(uint64_t v, unsigned k) { return (v << (k & 63)) | (v >> ((64 - k) & 63)); }

static void print_line(const char *label, int64_t v)
{
    rt_print(label);
    rt_putc('=');
    rt_print_i64(v);
    rt_newline();
}

int main(void)
{
    print_line("isqrt(2^64-1)", (int64_t)isqrt(~0ull));
    print_line("3^(p-1) mod p, p=2^61-1", (int64_t)pow_mod(3, (1ull << 61) - 2, (1ull << 61) - 1));
    uint64_t fa = 0, fb = 1;
    for (int i = 0; i < 90; i++) {
        uint64_t t = fa + fb;
        fa = fb;
        fb = t;
    }
    print_line("fib(90)", (int64_t)fa);
    print_line("-2^63/2/-1", INT64_MIN / 2 / -1);
    print_line("-7/2", (int64_t)-7 / 2);
    print_line("-7%2", (int64_t)-7 % 2);
    print_line("7/-2", (int64_t)7 / -2);
    print_line("u(-1)/3", (int64_t)(~0ull / 3));
    print_line("(-5)>>1", (int64_t)-5 >> 1);
    print_line("(-1)>>63", INT64_C(-1) >> 63);
    print_line("1<<63 signed<0", (int64_t)(1ull << 63) < 0);

    rng_state = 0x9E3779B97F4A7C15ull;
    uint64_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        uint64_t product_sum = 0, high_sum = 0, quotient_sum = 0, remainder_sum = 0, shift_sum = 0;
        uint64_t signed_sum = 0;                         /* a wrapping sum of signed values */
        uint32_t compare_bits = 0, popcount = 0;
        for (int i = 0; i < 64; i++) {
            uint64_t a = xorshift64star(), b = xorshift64star();
            uint64_t d = (b >> (a & 63)) | 1;                /* divisors of every size */
            product_sum += a * b;
            high_sum += mul_high(a, b);
            quotient_sum += a / d;
            remainder_sum += a % d;
            int64_t sa = (int64_t)a, sd = (int64_t)(d ^ (b & 0x8000000000000000ull));
            if (!(sa == INT64_MIN && sd == -1))
                signed_sum += (uint64_t)(sa / sd + sa % sd);
            unsigned k = (unsigned)(b >> 58);
            shift_sum += (a << k) ^ (a >> k) ^ (uint64_t)(sa >> k) ^ rotl64(a, k);
            compare_bits = compare_bits * 4 + (uint32_t)(a < b) * 2 + (uint32_t)((int64_t)a < (int64_t)b);
            popcount += (uint32_t)popcount64(a ^ b);
        }
        uint64_t x = xorshift64star();
        uint64_t root = isqrt(x);
        if (root * root > x || x - root * root > 2 * root) {       /* r^2 <= x < (r+1)^2 */
            rt_print("isqrt wrong\n");
            return 1;
        }
        uint64_t ga = xorshift64star() >> 3 << 5, gb = xorshift64star() >> 5 << 3;
        uint64_t g = gcd_binary(ga, gb);
        uint64_t modulus = (xorshift64star() >> 2) | 1;
        uint64_t power = pow_mod(xorshift64star(), 12345 + iter, modulus);
        uint64_t collatz = (xorshift64star() >> 40) | 1, steps = 0, peak = collatz;   /* peaks stay far below 2^64 */
        while (collatz != 1) {
            collatz = (collatz & 1) ? 3 * collatz + 1 : collatz >> 1;
            peak = collatz > peak ? collatz : peak;
            steps++;
        }
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_newline();
            print_line("  products", (int64_t)product_sum);
            print_line("  high halves", (int64_t)high_sum);
            print_line("  quotients", (int64_t)quotient_sum);
            print_line("  remainders", (int64_t)remainder_sum);
            print_line("  signed q+r", (int64_t)signed_sum);
            print_line("  shifts", (int64_t)shift_sum);
            rt_print("  compares=0x");
            rt_print_hex32(compare_bits);
            rt_print(" popcount=");
            rt_print_u32(popcount);
            rt_newline();
            rt_print("  isqrt=");
            rt_print_u64(root);
            rt_print(" gcd=");
            rt_print_u64(g);
            rt_print(" powmod=0x");
            rt_print_hex64(power);
            rt_print(" collatz steps=");
            rt_print_u64(steps);
            rt_print(" peak=");
            rt_print_u64(peak);
            rt_newline();
        }
        total = rotl64(total, 7) ^ product_sum ^ high_sum ^ quotient_sum ^ remainder_sum ^
                signed_sum ^ shift_sum ^ compare_bits ^ popcount ^ root ^ g ^ power ^ steps;
    }
    rt_print("checksum=0x");
    rt_print_hex64(total);
    rt_newline();
    return 0;
}
