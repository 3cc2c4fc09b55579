/*
 * crc32 - checksums over a pseudo-random buffer.
 *
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) table-driven and bit by bit,
 * CRC-32C (Castagnoli, reflected 0x82F63B78) bit by bit, and Adler-32 (RFC 1950).
 * Known answers first: CRC-32("123456789") = 0xcbf43926 and CRC-32C("123456789")
 * = 0xe3069283 (the "check" values of the Rocksoft CRC catalogue), Adler-32
 * ("Wikipedia") = 0x11e60398 (RFC 1950's algorithm, the Wikipedia example).
 * Then ITERS rounds that flip bytes of a 4 KB buffer and checksum it, also at
 * unaligned offsets. Exercises byte loads, shifts, XOR, table lookups, DIVU (Adler).
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 6
#endif

#define BUF_SIZE 4096

static uint32_t crc_table[256];
static uint8_t buffer[BUF_SIZE];

static void make_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_table(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t crc_bitwise(uint32_t poly, uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (poly & -(crc & 1));
    }
    return ~crc;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    while (n) {
        size_t chunk = n < 3800 ? n : 3800;      /* keeps b below 2^32 before the modulo */
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return (b << 16) | a;
}

static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

int main(void)
{
    static const uint8_t check[] = "123456789";
    static const uint8_t wiki[] = "Wikipedia";

    make_table();
    rt_print_kv_hex32("crc32(123456789)", crc32_table(0, check, 9));
    rt_print_kv_hex32("crc32-bitwise(123456789)", crc_bitwise(0xEDB88320u, 0, check, 9));
    rt_print_kv_hex32("crc32c(123456789)", crc_bitwise(0x82F63B78u, 0, check, 9));
    rt_print_kv_hex32("adler32(Wikipedia)", adler32(wiki, 9));

    uint32_t seed = 0x12345678u;
    for (size_t i = 0; i < BUF_SIZE; i++)
        buffer[i] = (uint8_t)xorshift32(&seed);

    uint32_t acc = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        buffer[xorshift32(&seed) % BUF_SIZE] ^= (uint8_t)(iter + 1);
        uint32_t whole = crc32_table(0, buffer, BUF_SIZE);
        uint32_t odd = crc32_table(0, buffer + 1, BUF_SIZE - 4);   /* unaligned start */
        uint32_t chained = crc32_table(crc32_table(0, buffer, 1000), buffer + 1000, BUF_SIZE - 1000);
        if (chained != whole) {
            rt_print("chained crc mismatch\n");
            return 1;
        }
        uint32_t bits = crc_bitwise(0xEDB88320u, 0, buffer + 3, 256);
        if (bits != crc32_table(0, buffer + 3, 256)) {
            rt_print("bitwise crc mismatch\n");
            return 1;
        }
        uint32_t castagnoli = crc_bitwise(0x82F63B78u, 0, buffer + 7, 512);
        uint32_t adler = adler32(buffer, BUF_SIZE);
        acc = (acc << 5 | acc >> 27) ^ whole ^ odd ^ castagnoli ^ adler;
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": crc32=0x");
            rt_print_hex32(whole);
            rt_print(" crc32c=0x");
            rt_print_hex32(castagnoli);
            rt_print(" adler32=0x");
            rt_print_hex32(adler);
            rt_newline();
        }
    }
    rt_print_kv_hex32("checksum", acc);
    return 0;
}
