/*
 * packed - unaligned data: packed structs and byte-stream decoding.
 *
 * Records of a packed struct sit back to back in a byte buffer, so most fields are
 * misaligned: gcc reads and writes them with LWL/LWR and SWL/SWR (LDL/LDR and
 * SDL/SDR for the 64-bit field on n32). A stream of variable-length messages is
 * encoded with explicit little- and big-endian byte order, decoded byte by byte,
 * and its checksum fields copied through aligned locals with __builtin_memcpy.
 * Every printed value is independent of the machine's byte order.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 4
#endif

struct __attribute__((packed)) record {
    uint8_t tag;
    uint32_t id;
    int16_t delta;
    uint64_t stamp;
    int32_t balance;
    uint8_t flags;
};                                                    /* 20 bytes, no padding */

#define NRECORDS 120
static uint8_t storage[NRECORDS * sizeof(struct record) + 3];
#define MESSAGES 150
#define MAX_PAYLOAD 22
static uint8_t stream[MESSAGES * (3 + MAX_PAYLOAD + 4)];

static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* A copy through an aligned word and back must give the same bytes at any
 * alignment. __builtin_memcpy is expanded inline even in a -ffreestanding build:
 * an unaligned load (LWL/LWR) and store (SWL/SWR). */
static uint32_t roundtrip32(const uint8_t *p)
{
    uint32_t word;
    uint8_t out[8];
    __builtin_memcpy(&word, p, sizeof word);
    __builtin_memcpy(out + 3, &word, sizeof word);
    return (uint32_t)(memcmp(out + 3, p, 4) == 0);
}

/* Message: type byte, be16 payload length, payload, le32 sum of the payload bytes. */
static size_t encode_messages(uint32_t seed)
{
    size_t at = 0;
    for (int m = 0; m < MESSAGES; m++) {
        uint16_t length = (uint16_t)(next_random(&seed) % (MAX_PAYLOAD + 1));
        stream[at] = (uint8_t)(m & 7);
        put_be16(stream + at + 1, length);
        uint32_t sum = 0;
        for (uint16_t i = 0; i < length; i++) {
            uint8_t b = (uint8_t)(next_random(&seed) >> 24);
            stream[at + 3 + i] = b;
            sum += b * (uint32_t)(i + 1);
        }
        put_le32(stream + at + 3 + length, sum);
        at += 3 + length + 4;
    }
    return at;
}

int main(void)
{
    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        /* packed records, starting at an odd address */
        struct record *records = (struct record *)(storage + 1 + iter % 3);
        uint32_t state = 0xC0FFEEu + iter;
        for (int i = 0; i < NRECORDS; i++) {
            struct record *r = &records[i];
            r->tag = (uint8_t)i;
            r->id = next_random(&state);
            r->delta = (int16_t)(next_random(&state) >> 16);
            uint32_t stamp_high = next_random(&state);
            r->stamp = (uint64_t)stamp_high << 32 | next_random(&state);
            r->balance = (int32_t)(next_random(&state) % 2000001u) - 1000000;
            r->flags = (uint8_t)(r->id >> 29);
        }
        int64_t balance_sum = 0;
        uint64_t stamp_xor = 0;
        uint32_t id_sum = 0, flagged = 0;
        int32_t delta_sum = 0;
        for (int i = 0; i < NRECORDS; i++) {
            const struct record *r = &records[i];
            if (r->tag != (uint8_t)i) {
                rt_print("tag mismatch\n");
                return 1;
            }
            id_sum += r->id;
            delta_sum += r->delta;
            stamp_xor ^= r->stamp + (uint64_t)i;
            balance_sum += r->balance;
            flagged += (r->flags & 4) != 0;
        }
        struct record copy = records[NRECORDS / 2];          /* struct copy from a misaligned source */
        copy.balance += 1;
        records[NRECORDS - 1] = copy;
        uint32_t copied = records[NRECORDS - 1].id == records[NRECORDS / 2].id &&
                          records[NRECORDS - 1].balance == records[NRECORDS / 2].balance + 1;

        /* byte-stream messages */
        size_t length = encode_messages(0xABCDEFu ^ iter);
        uint32_t messages = 0, payload_bytes = 0, type_mix = 0, bad = 0, roundtrips = 0;
        for (size_t at = 0; at < length;) {
            uint8_t type = stream[at];
            uint16_t n = get_be16(stream + at + 1);
            const uint8_t *payload = stream + at + 3;
            uint32_t sum = 0;
            for (uint16_t i = 0; i < n; i++)
                sum += payload[i] * (uint32_t)(i + 1);
            bad += sum != get_le32(payload + n);
            roundtrips += roundtrip32(payload + n);
            messages++;
            payload_bytes += n;
            type_mix = type_mix * 3 + type;
            at += 3 + n + 4;
        }

        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": ids=");
            rt_print_u32(id_sum);
            rt_print(" deltas=");
            rt_print_i32(delta_sum);
            rt_print(" stamps=0x");
            rt_print_hex64(stamp_xor);
            rt_print(" balance=");
            rt_print_i64(balance_sum);
            rt_print(" flagged=");
            rt_print_u32(flagged);
            rt_print(" copied=");
            rt_print_u32(copied);
            rt_newline();
            rt_print("  stream bytes=");
            rt_print_u32((uint32_t)length);
            rt_print(" messages=");
            rt_print_u32(messages);
            rt_print(" payload=");
            rt_print_u32(payload_bytes);
            rt_print(" bad=");
            rt_print_u32(bad);
            rt_print(" roundtrips=");
            rt_print_u32(roundtrips);
            rt_print(" types=0x");
            rt_print_hex32(type_mix);
            rt_newline();
        }
        total = total * 17 + id_sum + (uint32_t)delta_sum + (uint32_t)stamp_xor + (uint32_t)(stamp_xor >> 32) +
                (uint32_t)balance_sum + flagged + copied + messages + payload_bytes + bad + roundtrips + type_mix;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
