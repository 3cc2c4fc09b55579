/*
 * bitops - bit manipulation, narrow loads and 32-bit multiply/divide.
 *
 * SWAR popcount, leading/trailing zero counts by binary search, bit reversal, byte
 * swap, rotates, Gray codes, Gosper's next-combination, parity, sign extension of
 * bit fields (SLL then SRA), signed and unsigned byte/halfword loads (LB/LBU/LH/LHU)
 * and stores, MULT/MULTU high halves, signed and unsigned division with negative
 * operands (truncating toward zero), division by constants (gcc's multiply-high
 * sequences), and FNV-1a / murmur3-finaliser hashing.
 * Known answers: popcount(0xFFFFFFFF) = 32, reverse(1) = 0x80000000,
 * the 5-bit subsets of 8 bits number C(8, 5) = 56.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 4
#endif

static uint32_t popcount(uint32_t v)
{
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    v = (v + (v >> 4)) & 0x0F0F0F0Fu;
    return (v * 0x01010101u) >> 24;
}

static uint32_t count_leading_zeros(uint32_t v)
{
    if (v == 0)
        return 32;
    uint32_t n = 0;
    if (!(v & 0xFFFF0000u)) { n += 16; v <<= 16; }
    if (!(v & 0xFF000000u)) { n += 8; v <<= 8; }
    if (!(v & 0xF0000000u)) { n += 4; v <<= 4; }
    if (!(v & 0xC0000000u)) { n += 2; v <<= 2; }
    if (!(v & 0x80000000u)) { n += 1; }
    return n;
}

static uint32_t count_trailing_zeros(uint32_t v) { return v ? 31 - count_leading_zeros(v & -v) : 32; }

static uint32_t reverse_bits(uint32_t v)
{
    v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
    v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
    v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
    v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
    return (v >> 16) | (v << 16);
}

static uint32_t byte_swap(uint32_t v) { return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v & 0xFF00u) << 8) | (v << 24); }
static uint32_t rotate_left(uint32_t v, unsigned k) { return (v << (k & 31)) | (v >> ((32 - k) & 31)); }
static uint32_t gray_encode(uint32_t v) { return v ^ (v >> 1); }

static uint32_t gray_decode(uint32_t g)
{
    for (uint32_t shift = 1; shift < 32; shift <<= 1)
        g ^= g >> shift;
    return g;
}

/* The next larger number with the same number of set bits (Gosper's hack, HAKMEM 175). */
static uint32_t next_combination(uint32_t v)
{
    uint32_t lowest = v & -v, ripple = v + lowest;
    return ripple | (((v ^ ripple) >> 2) / lowest);
}

/* Sign-extends the low `bits` bits of v. */
static int32_t sign_extend(uint32_t v, unsigned bits) { return (int32_t)(v << (32 - bits)) >> (32 - bits); }

static uint32_t fmix32(uint32_t h)                  /* MurmurHash3's finaliser */
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static int8_t signed_bytes[256];
static uint8_t unsigned_bytes[256];
static int16_t signed_halves[128];
static uint16_t unsigned_halves[128];

int main(void)
{
    rt_print_kv_u32("popcount(0xffffffff)", popcount(0xFFFFFFFFu));
    rt_print_kv_hex32("reverse(1)", reverse_bits(1));
    rt_print_kv_hex32("bswap(0x12345678)", byte_swap(0x12345678u));
    rt_print_kv_u32("clz(1)", count_leading_zeros(1));
    rt_print_kv_u32("ctz(0x80000000)", count_trailing_zeros(0x80000000u));
    uint32_t subsets = 0;
    for (uint32_t v = 0x1F; v < 0x100; v = next_combination(v))
        subsets++;
    rt_print_kv_u32("C(8,5)", subsets);
    rt_print("sign_extend(0xABC,12)=");
    rt_print_i32(sign_extend(0xABC, 12));
    rt_newline();
    rt_print("-7/2=");
    rt_print_i32((int32_t)-7 / 2);
    rt_print(" -7%2=");
    rt_print_i32((int32_t)-7 % 2);
    rt_print(" 7/-2=");
    rt_print_i32(7 / (int32_t)-2);
    rt_print(" INT_MIN/3=");
    rt_print_i32(INT32_MIN / 3);
    rt_print(" 0xFFFFFFFF/10=");
    rt_print_u32(0xFFFFFFFFu / 10);
    rt_newline();

    uint32_t total = 0, x = 0x2545F491u;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        uint32_t bits = 0, zeros = 0, reversed = 0, swapped = 0, rotated = 0, gray = 0;
        uint32_t mul_high_u = 0, div_sum = 0, const_div = 0, hash = 0x811C9DC5u;
        uint32_t mul_high_s = 0, sdiv_sum = 0, extended = 0;     /* sums of signed values, wrapping */
        for (int i = 0; i < 256; i++) {
            x = fmix32(x + 0x9E3779B9u);
            uint32_t y = fmix32(x ^ (uint32_t)i);
            bits += popcount(x);
            zeros += count_leading_zeros(x >> (y & 31)) + count_trailing_zeros(y << (x & 31));
            reversed ^= reverse_bits(x) + (uint32_t)i;
            swapped += byte_swap(y);
            rotated ^= rotate_left(x, y);
            uint32_t g = gray_encode(x);
            if (gray_decode(g) != x) {
                rt_print("gray code round trip failed\n");
                return 1;
            }
            gray += g >> 16;
            mul_high_u += (uint32_t)(((uint64_t)x * y) >> 32);
            mul_high_s += (uint32_t)(((int64_t)(int32_t)x * (int32_t)y) >> 32);
            uint32_t d = (y >> (x & 31)) | 1;
            div_sum += x / d + x % d;
            int32_t sd = (int32_t)(d ^ (y & 0x80000000u));
            if (!((int32_t)x == INT32_MIN && sd == -1))
                sdiv_sum += (uint32_t)((int32_t)x / sd + (int32_t)x % sd);
            const_div += x / 7 + x / 1000 + (uint32_t)((int32_t)x / 3) + (uint32_t)((int32_t)y % 10);
            extended += (uint32_t)(sign_extend(x, 1 + (y % 31)) >> 3);
            signed_bytes[i] = (int8_t)(x >> 24);
            unsigned_bytes[i] = (uint8_t)(x >> 24);
            signed_halves[i & 127] = (int16_t)(y >> 8);
            unsigned_halves[i & 127] = (uint16_t)(y >> 8);
            hash = (hash ^ (x & 0xFF)) * 16777619u;    /* FNV-1a */
        }
        int32_t narrow_signed = 0;
        uint32_t narrow_unsigned = 0;
        for (int i = 0; i < 256; i++) {
            narrow_signed += signed_bytes[i] + signed_halves[i & 127];
            narrow_unsigned += unsigned_bytes[i] + unsigned_halves[i & 127];
        }
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": popcount=");
            rt_print_u32(bits);
            rt_print(" zeros=");
            rt_print_u32(zeros);
            rt_print(" reversed=0x");
            rt_print_hex32(reversed);
            rt_print(" swapped=0x");
            rt_print_hex32(swapped);
            rt_print(" rotated=0x");
            rt_print_hex32(rotated);
            rt_print(" gray=");
            rt_print_u32(gray);
            rt_newline();
            rt_print("  mulhu=0x");
            rt_print_hex32(mul_high_u);
            rt_print(" mulhs=");
            rt_print_i32((int32_t)mul_high_s);
            rt_print(" div=");
            rt_print_u32(div_sum);
            rt_print(" sdiv=");
            rt_print_i32((int32_t)sdiv_sum);
            rt_print(" constdiv=");
            rt_print_u32(const_div);
            rt_print(" sext=");
            rt_print_i32((int32_t)extended);
            rt_print(" narrow=");
            rt_print_i32(narrow_signed);
            rt_putc('/');
            rt_print_u32(narrow_unsigned);
            rt_print(" fnv=0x");
            rt_print_hex32(hash);
            rt_newline();
        }
        total = rotate_left(total, 5) ^ bits ^ zeros ^ reversed ^ swapped ^ rotated ^ gray ^ mul_high_u ^
                mul_high_s ^ div_sum ^ sdiv_sum ^ const_div ^ extended ^
                (uint32_t)narrow_signed ^ narrow_unsigned ^ hash;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
