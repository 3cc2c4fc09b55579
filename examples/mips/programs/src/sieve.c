/*
 * sieve - Sieve of Eratosthenes.
 *
 * A byte-per-number sieve and a bit-packed odd-only sieve (shift/mask addressing)
 * over the same range must agree. Prints pi(limit), the sum of the primes, the
 * number of twin-prime pairs, the largest prime gap and the last primes found.
 * Known answers: pi(10^4) = 1229, pi(32768) = 3512. ITERS rounds shrink the limit.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 1
#endif

#define LIMIT 32768u

static uint8_t composite[LIMIT + 1];
static uint32_t odd_bits[(LIMIT / 2 + 31) / 32 + 1];    /* bit k set: 2k+1 is composite */

static void byte_sieve(uint32_t limit)
{
    memset(composite, 0, limit + 1);
    composite[0] = composite[1] = 1;
    for (uint32_t p = 2; p * p <= limit; p++)
        if (!composite[p])
            for (uint32_t m = p * p; m <= limit; m += p)
                composite[m] = 1;
}

static int odd_is_composite(uint32_t n) { return (odd_bits[(n >> 1) >> 5] >> ((n >> 1) & 31)) & 1; }

static void bit_sieve(uint32_t limit)
{
    memset(odd_bits, 0, sizeof odd_bits);
    odd_bits[0] = 1;                                     /* 1 is not prime */
    for (uint32_t p = 3; p * p <= limit; p += 2)
        if (!odd_is_composite(p))
            for (uint32_t m = p * p; m <= limit; m += 2 * p)
                odd_bits[(m >> 1) >> 5] |= 1u << ((m >> 1) & 31);
}

static int is_prime_bits(uint32_t n)
{
    if (n < 2)
        return 0;
    if ((n & 1) == 0)
        return n == 2;
    return !odd_is_composite(n);
}

int main(void)
{
    byte_sieve(10000);
    uint32_t small = 0;
    for (uint32_t n = 0; n <= 10000; n++)
        small += !composite[n];
    rt_print_kv_u32("pi(10000)", small);

    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        uint32_t limit = LIMIT - (iter % 64) * 97;
        byte_sieve(limit);
        bit_sieve(limit);
        uint32_t count = 0, sum = 0, twins = 0, gap = 0, gap_at = 0, previous = 0;
        uint32_t last[4] = {0, 0, 0, 0};
        for (uint32_t n = 2; n <= limit; n++) {
            int prime = !composite[n];
            if (prime != is_prime_bits(n)) {
                rt_print("sieves disagree at ");
                rt_print_u32(n);
                rt_newline();
                return 1;
            }
            if (!prime)
                continue;
            count++;
            sum += n;
            if (previous && n - previous == 2)
                twins++;
            if (previous && n - previous > gap) {
                gap = n - previous;
                gap_at = previous;
            }
            previous = n;
            last[count & 3] = n;
        }
        if (iter < 3) {
            rt_print("limit=");
            rt_print_u32(limit);
            rt_print(" pi=");
            rt_print_u32(count);
            rt_print(" sum=");
            rt_print_u32(sum);
            rt_print(" twins=");
            rt_print_u32(twins);
            rt_print(" gap=");
            rt_print_u32(gap);
            rt_print("@");
            rt_print_u32(gap_at);
            rt_print(" last=");
            for (int k = 3; k >= 0; k--) {
                rt_print_u32(last[(count - (uint32_t)k) & 3]);
                rt_putc(k ? ',' : '\n');
            }
        }
        total = total * 7 + count + sum + twins;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
