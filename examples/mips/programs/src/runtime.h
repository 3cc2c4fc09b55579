/*
 * runtime.h - the little runtime every test program links against.
 *
 * Two implementations exist:
 *   runtime.c    bare-metal VR4300 guest: output through the debug port, plus the
 *                freestanding memory/string functions and libgcc-style 64-bit
 *                division helpers that a -nostdlib build needs;
 *   host_shim.c  the host build used to compute expected/NAME.txt: output through
 *                stdio (printf), memory/string functions from the host libc.
 * The two share no code, so the expected outputs also check the guest's own
 * number formatting and memory routines.
 *
 * Programs use only fixed-width types and no pointer-size or byte-order dependent
 * arithmetic, so the host (x86-64, little-endian, LP64) and the guest (o32 or n32,
 * big-endian, ILP32) print the same bytes.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* Output. Nothing is buffered on the guest: every character is one byte store. */
void rt_putc(int c);                 /* one byte, c & 0xFF */
void rt_print(const char *s);        /* a NUL-terminated string, no newline added */
void rt_newline(void);               /* "\n" */
void rt_print_u32(uint32_t v);       /* decimal */
void rt_print_i32(int32_t v);        /* decimal, leading '-' when negative */
void rt_print_u64(uint64_t v);       /* decimal */
void rt_print_i64(int64_t v);        /* decimal, leading '-' when negative */
void rt_print_hex32(uint32_t v);     /* exactly 8 lower-case hex digits, no prefix */
void rt_print_hex64(uint64_t v);     /* exactly 16 lower-case hex digits, no prefix */

/* "label=0x%08x\n": the line most programs print their checksums with. */
void rt_print_kv_hex32(const char *label, uint32_t v);
/* "label=%u\n" */
void rt_print_kv_u32(const char *label, uint32_t v);

/* The freestanding C functions gcc may also call on its own (struct copies,
 * zero-initialised arrays); same contracts as the C standard's. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
