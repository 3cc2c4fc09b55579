/*
 * sieve.c - Sieve of Eratosthenes below LIMIT as a byte array and as an odd-only bit
 * array, which must agree; prints the prime count, their sum, twin-prime pairs, the
 * largest gap and a checksum over the primes.
 *
 * Known answers: 550 primes below 4000 (pi(4000) = 550; OEIS A000720), 1229 below 10000
 * would not fit WRAM's 8 KiB as bytes, hence 4000.
 */
#include "runtime.h"

#define LIMIT 4000u

static uint8_t composite[LIMIT];              /* 1: composite (index = n) */
static uint8_t odd_bits[(LIMIT / 2 + 7) / 8]; /* bit k: 2k+1 is composite */

static void sieve_bytes(void)
{
    uint16_t i, j;
    composite[0] = composite[1] = 1;
    for (i = 2; (uint32_t)i * i < LIMIT; i++)
        if (!composite[i])
            for (j = i * i; j < LIMIT; j += i)
                composite[j] = 1;
}

static uint8_t odd_composite(uint16_t n)
{
    uint16_t k = n >> 1;
    return (odd_bits[k >> 3] >> (k & 7)) & 1;
}

static void sieve_bits(void)
{
    uint16_t i, j;
    odd_bits[0] |= 1;                          /* 1 is not prime */
    for (i = 3; (uint32_t)i * i < LIMIT; i += 2)
        if (!odd_composite(i))
            for (j = i * i; j < LIMIT; j += 2 * i)
                odd_bits[(j >> 1) >> 3] |= (uint8_t)(1u << ((j >> 1) & 7));
}

static uint8_t is_prime_bits(uint16_t n)
{
    if (n < 2)
        return 0;
    if (n == 2)
        return 1;
    if (!(n & 1))
        return 0;
    return !odd_composite(n);
}

int main(void)
{
    uint16_t n, count = 0, twins = 0, gap = 0, gap_after = 0, last = 0, check = 0xFFFF;
    uint32_t sum = 0;
    uint16_t mismatches = 0;

    sieve_bytes();
    sieve_bits();
    for (n = 0; n < LIMIT; n++) {
        uint8_t prime = !composite[n];
        if (prime != is_prime_bits(n))
            mismatches++;
        if (!prime)
            continue;
        count++;
        sum += n;
        if (last && n - last == 2)
            twins++;
        if (last && n - last > gap) {
            gap = n - last;
            gap_after = last;
        }
        last = n;
        check = (uint16_t)((uint16_t)(check << 5) | (check >> 11)) ^ n;
    }
    rt_print("sieve below ");
    rt_print_u16(LIMIT);
    rt_putc('\n');
    rt_print_kv_u32("mismatches", mismatches);
    rt_print_kv_u32("count", count);
    rt_print_kv_u32("sum", sum);
    rt_print_kv_u32("twins", twins);
    rt_print_kv_u32("largest_prime", last);
    rt_print("largest_gap=");
    rt_print_u16(gap);
    rt_print(" after ");
    rt_print_u16(gap_after);
    rt_putc('\n');
    rt_print_kv_hex16("checksum", check);
    return 0;
}
