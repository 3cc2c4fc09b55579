/*
 * host_shim.c - the host side of runtime.h, used only by build.sh to compute the
 * expected outputs: the same program sources compiled natively, printing through
 * stdio. Memory and string functions come from the host libc.
 */
#include <inttypes.h>
#include <stdio.h>

#include "runtime.h"

void rt_putc(int c) { putchar(c & 0xFF); }
void rt_print(const char *s) { fputs(s, stdout); }
void rt_newline(void) { putchar('\n'); }
void rt_print_u32(uint32_t v) { printf("%" PRIu32, v); }
void rt_print_i32(int32_t v) { printf("%" PRId32, v); }
void rt_print_u64(uint64_t v) { printf("%" PRIu64, v); }
void rt_print_i64(int64_t v) { printf("%" PRId64, v); }
void rt_print_hex32(uint32_t v) { printf("%08" PRIx32, v); }
void rt_print_hex64(uint64_t v) { printf("%016" PRIx64, v); }
void rt_print_kv_hex32(const char *label, uint32_t v) { printf("%s=0x%08" PRIx32 "\n", label, v); }
void rt_print_kv_u32(const char *label, uint32_t v) { printf("%s=%" PRIu32 "\n", label, v); }
