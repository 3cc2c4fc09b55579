/*
 * runtime.h - the output API every Game Boy test program uses.
 *
 * Two implementations share no code:
 *   runtime.c    the Game Boy side (sdcc -msm83): every byte goes out through the serial
 *                port, with the program's own decimal and hex formatting;
 *   host_shim.c  the host side (native gcc), for expected/NAME.txt: stdio printf.
 * So the expected outputs also check the guest's number formatting.
 *
 * Programs use only fixed-width types; the host (LP64) and sdcc (16-bit int) differ in
 * int's width, so every expression whose width matters is written with explicit casts
 * and the host build runs under -fsanitize=undefined.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdint.h>

void rt_putc(char c);                /* one byte */
void rt_print(const char *s);        /* a NUL-terminated string, no newline added */
void rt_print_u16(uint16_t v);       /* decimal */
void rt_print_u32(uint32_t v);       /* decimal */
void rt_print_i32(int32_t v);        /* decimal, leading '-' when negative */
void rt_print_hex16(uint16_t v);     /* exactly 4 lower-case hex digits, no prefix */
void rt_print_hex32(uint32_t v);     /* exactly 8 lower-case hex digits, no prefix */

/* "label=0x%04x\n" and "label=0x%08x\n": checksum lines. */
void rt_print_kv_hex16(const char *label, uint16_t v);
void rt_print_kv_hex32(const char *label, uint32_t v);
/* "label=%u\n" */
void rt_print_kv_u32(const char *label, uint32_t v);

#endif
