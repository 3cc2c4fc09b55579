/*
 * lzss - LZSS compression and decompression round trip.
 *
 * The compressor finds earlier occurrences through a hash of the next three bytes
 * (head/previous chains, 4 KB window, matches of 3..18 bytes) and writes groups of
 * eight items behind a flag byte: a literal byte, or a 16-bit (12-bit distance,
 * 4-bit length) reference. The decompressor copies references byte by byte, so
 * overlapping matches repeat patterns. Input is generated text with repetition and
 * noise. Byte loads/stores, halfword table updates, data-dependent branches.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 2
#endif

#define INPUT_SIZE 6000
#define WINDOW 4096
#define MIN_MATCH 3
#define MAX_MATCH 18
#define HASH_BITS 12
#define MAX_CHAIN 8

static uint8_t input[INPUT_SIZE];
static uint8_t packed[INPUT_SIZE + INPUT_SIZE / 8 + 16];
static uint8_t output[INPUT_SIZE];
static int16_t head[1 << HASH_BITS];                 /* latest position with a hash, or -1 */
static int16_t previous[INPUT_SIZE];                 /* the position before it with the same hash */

static uint32_t hash3(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) * 2654435761u >> (32 - HASH_BITS);
}

static size_t compress(const uint8_t *in, size_t n, uint8_t *out)
{
    for (int i = 0; i < (1 << HASH_BITS); i++)
        head[i] = -1;
    size_t at = 0, o = 0, flag_at = 0;
    int items = 8;
    while (at < n) {
        if (items == 8) {                             /* start a new group */
            flag_at = o++;
            out[flag_at] = 0;
            items = 0;
        }
        size_t best_length = 0, best_distance = 0;
        if (at + MIN_MATCH <= n) {
            uint32_t h = hash3(in + at);
            int chain = MAX_CHAIN;
            for (int candidate = head[h]; candidate >= 0 && chain--; candidate = previous[candidate]) {
                size_t distance = at - (size_t)candidate;
                if (distance > WINDOW)
                    break;
                size_t length = 0, limit = n - at < MAX_MATCH ? n - at : MAX_MATCH;
                while (length < limit && in[candidate + length] == in[at + length])
                    length++;
                if (length > best_length) {
                    best_length = length;
                    best_distance = distance;
                }
            }
        }
        size_t advance = best_length >= MIN_MATCH ? best_length : 1;
        if (best_length >= MIN_MATCH) {
            uint32_t token = (uint32_t)(best_distance - 1) << 4 | (uint32_t)(best_length - MIN_MATCH);
            out[flag_at] |= (uint8_t)(1u << items);
            out[o++] = (uint8_t)(token >> 8);
            out[o++] = (uint8_t)token;
        } else {
            out[o++] = in[at];
        }
        items++;
        for (size_t end = at + advance; at < end; at++) {   /* enter every position into the chains */
            if (at + MIN_MATCH <= n) {
                uint32_t h = hash3(in + at);
                previous[at] = head[h];
                head[h] = (int16_t)at;
            }
        }
    }
    return o;
}

/* Returns the decompressed size, or 0 when the stream is malformed. */
static size_t decompress(const uint8_t *in, size_t n, uint8_t *out, size_t capacity)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t flags = in[i++];
        for (int item = 0; item < 8 && i < n; item++) {
            if (flags & (1u << item)) {
                if (i + 2 > n)
                    return 0;
                uint32_t token = (uint32_t)in[i] << 8 | in[i + 1];
                i += 2;
                size_t distance = (token >> 4) + 1, length = (token & 15) + MIN_MATCH;
                if (distance > o || o + length > capacity)
                    return 0;
                for (size_t k = 0; k < length; k++, o++)
                    out[o] = out[o - distance];
            } else {
                if (o == capacity)
                    return 0;
                out[o++] = in[i++];
            }
        }
    }
    return o;
}

static void make_input(uint32_t seed)
{
    static const char *const phrases[] = {
        "the quick brown fox ", "jumps over ", "the lazy dog; ", "aaaaaaaaaaaa", "abcabcabcabc",
        "translation block ", "delay slot ", "0123456789", "\n",
    };
    size_t at = 0;
    while (at < INPUT_SIZE) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 16;
        if (r % 4 == 0) {                                    /* noise */
            input[at++] = (uint8_t)(r >> 4);
            continue;
        }
        for (const char *p = phrases[r % 9]; *p && at < INPUT_SIZE; p++)
            input[at++] = (uint8_t)*p;
    }
}

int main(void)
{
    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        make_input(1234 + iter * 7919);
        size_t packed_size = compress(input, INPUT_SIZE, packed);
        memset(output, 0, sizeof output);
        size_t unpacked_size = decompress(packed, packed_size, output, sizeof output);
        if (unpacked_size != INPUT_SIZE || memcmp(input, output, INPUT_SIZE) != 0) {
            rt_print("round trip failed\n");
            return 1;
        }
        uint32_t hash = 0x811C9DC5u;
        for (size_t i = 0; i < packed_size; i++)
            hash = (hash ^ packed[i]) * 16777619u;
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": ");
            rt_print_u32(INPUT_SIZE);
            rt_print(" -> ");
            rt_print_u32((uint32_t)packed_size);
            rt_print(" bytes, fnv=0x");
            rt_print_hex32(hash);
            rt_newline();
        }
        total = total * 3 + hash + (uint32_t)packed_size;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
