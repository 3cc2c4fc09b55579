/*
 * host_shim.c - host side of runtime.h (native gcc, stdio), for expected/NAME.txt.
 * Shares no code with runtime.c.
 */
#include <inttypes.h>
#include <stdio.h>

#include "runtime.h"

void rt_putc(char c) { putchar((unsigned char)c); }
void rt_print(const char *s) { fputs(s, stdout); }
void rt_print_u16(uint16_t v) { printf("%u", (unsigned)v); }
void rt_print_u32(uint32_t v) { printf("%" PRIu32, v); }
void rt_print_i32(int32_t v) { printf("%" PRId32, v); }
void rt_print_hex16(uint16_t v) { printf("%04x", (unsigned)v); }
void rt_print_hex32(uint32_t v) { printf("%08" PRIx32, v); }
void rt_print_kv_hex16(const char *label, uint16_t v) { printf("%s=0x%04x\n", label, (unsigned)v); }
void rt_print_kv_hex32(const char *label, uint32_t v) { printf("%s=0x%08" PRIx32 "\n", label, v); }
void rt_print_kv_u32(const char *label, uint32_t v) { printf("%s=%" PRIu32 "\n", label, v); }
