/*
 * bench.c - the CPU-bound benchmark: `bench_rounds` rounds of a mix of the other programs'
 * kernels, each round printing a line with the running checksum.
 *
 * A round: a byte-array sieve below 2048 (count and sum of the primes), a 512-byte buffer
 * filled from a 16-bit LFSR and run through a table-driven CRC-16/CCITT-FALSE, 64 xorshift32
 * steps with 16x16 -> 32 multiplies, and an insertion sort of 64 16-bit values. Each round's
 * inputs depend on the checksum so far, so no round can be skipped or reordered.
 *
 * The round count is a 16-bit little-endian constant at ROM address 01F0 (crt0 ends well
 * before it, code starts at 0200), so a harness can patch the ROM image instead of
 * rebuilding it (benchmarks/gameboy_vs_pyboy.py). The committed ROM has ROUNDS (4); the host
 * build takes -DROUNDS=N for the expected output of a patched ROM.
 */
#include "runtime.h"

#ifdef __SDCC
#define AT(address) __at(address)
#else
#define AT(address)
#endif

#ifndef ROUNDS
#define ROUNDS 4
#endif

volatile const uint16_t AT(0x01F0) bench_rounds = ROUNDS;

#define SIEVE_LIMIT 2048u
#define BUFFER_SIZE 512u
#define SORT_SIZE 64u

static uint8_t composite[SIEVE_LIMIT];
static uint8_t buffer[BUFFER_SIZE];
static uint16_t crc_table[256];
static uint16_t values[SORT_SIZE];
static uint32_t xorshift_state = 2463534242u;

static void make_crc_table(void)
{
    uint16_t i;
    uint8_t bit;
    for (i = 0; i < 256; i++) {
        uint16_t crc = (uint16_t)(i << 8);
        for (bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 0x8000u ? (uint16_t)(crc << 1) ^ 0x1021u
                                             : (uint16_t)(crc << 1));
        crc_table[i] = crc;
    }
}

/* Primes below SIEVE_LIMIT: count in the low 16 bits of the result, (sum & 0xFFFF) above. */
static uint32_t sieve(void)
{
    uint16_t i, j, count = 0, sum = 0;
    for (i = 0; i < SIEVE_LIMIT; i++)
        composite[i] = 0;
    for (i = 2; (uint32_t)i * i < SIEVE_LIMIT; i++)
        if (!composite[i])
            for (j = (uint16_t)(i * i); j < SIEVE_LIMIT; j += i)
                composite[j] = 1;
    for (i = 2; i < SIEVE_LIMIT; i++)
        if (!composite[i]) {
            count++;
            sum = (uint16_t)(sum + i);
        }
    return (uint32_t)sum << 16 | count;
}

/* CRC-16/CCITT-FALSE of the buffer filled from a Galois LFSR (taps B400) seeded by ``seed``. */
static uint16_t crc_of_lfsr(uint16_t seed)
{
    uint16_t i, lfsr = seed | 1, crc = 0xFFFF;
    for (i = 0; i < BUFFER_SIZE; i++) {
        lfsr = (uint16_t)(lfsr & 1 ? (lfsr >> 1) ^ 0xB400u : lfsr >> 1);
        buffer[i] = (uint8_t)lfsr;
    }
    for (i = 0; i < BUFFER_SIZE; i++)
        crc = (uint16_t)(crc << 8) ^ crc_table[(uint8_t)(crc >> 8) ^ buffer[i]];
    return crc;
}

static uint32_t xorshift32(void)
{
    uint32_t x = xorshift_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return xorshift_state = x;
}

/* 64 xorshift32 steps, accumulating the full products of their two halves. */
static uint32_t multiply_mix(void)
{
    uint8_t i;
    uint32_t acc = 0;
    for (i = 0; i < 64; i++) {
        uint32_t x = xorshift32();
        acc += (uint32_t)(uint16_t)x * (uint16_t)(x >> 16);
    }
    return acc;
}

/* Insertion sort of SORT_SIZE values drawn from xorshift32; a position-weighted sum. */
static uint16_t sort_values(void)
{
    uint8_t i, j;
    uint16_t weighted = 0;
    for (i = 0; i < SORT_SIZE; i++)
        values[i] = (uint16_t)xorshift32();
    for (i = 1; i < SORT_SIZE; i++) {
        uint16_t v = values[i];
        for (j = i; j > 0 && values[j - 1] > v; j--)
            values[j] = values[j - 1];
        values[j] = v;
    }
    for (i = 0; i < SORT_SIZE; i++)
        weighted = (uint16_t)(weighted + (uint16_t)(values[i] * (uint16_t)(i + 1)));
    return weighted;
}

int main(void)
{
    uint16_t round, rounds = bench_rounds, check = 0x1D0F;     /* rounds: still to run */
    uint32_t primes, products;

    make_crc_table();
    rt_print_kv_u32("bench rounds", rounds);
    for (round = 1; rounds; round++, rounds--) {
        primes = sieve();
        check ^= (uint16_t)primes ^ (uint16_t)(primes >> 16);
        check = crc_of_lfsr((uint16_t)(check + round));
        xorshift_state ^= check;
        products = multiply_mix();
        check ^= (uint16_t)products ^ (uint16_t)(products >> 16);
        check = (uint16_t)(check + sort_values());
        rt_print("round ");
        rt_print_u16(round);
        rt_print_kv_hex16(" check", check);
    }
    rt_print_kv_hex16("checksum", check);
    return 0;
}
