/*
 * runtime.c - Game Boy side of runtime.h: output through the serial port.
 *
 * Pan Docs, "Serial Data Transfer (Link Cable)": write the byte to SB (FF01), start a
 * transfer on the internal clock by writing 0x81 to SC (FF02), and the transfer is over
 * when SC bit 7 reads 0 again. The serial interrupt each transfer requests is only taken
 * by a program that enables it (interrupts.c, with a handler through hw.h). Also the
 * checks the hardware tests print (hw.h).
 */
#include "hw.h"
#include "runtime.h"

static const char digits[] = "0123456789abcdef";

void rt_putc(char c)
{
    SB = (uint8_t)c;
    SC = 0x81;
    while (SC & 0x80)
        ;
}

void rt_print(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

void rt_print_u32(uint32_t v)
{
    char buf[10];
    uint8_t n = 0;
    do {
        buf[n++] = digits[(uint8_t)(v % 10)];
        v /= 10;
    } while (v);
    while (n)
        rt_putc(buf[--n]);
}

void rt_print_u16(uint16_t v)
{
    rt_print_u32(v);
}

void rt_print_i32(int32_t v)
{
    if (v < 0) {
        rt_putc('-');
        rt_print_u32(0u - (uint32_t)v);
    } else {
        rt_print_u32((uint32_t)v);
    }
}

static void print_hex(uint32_t v, uint8_t n_digits)
{
    while (n_digits--)
        rt_putc(digits[(uint8_t)(v >> (4 * n_digits)) & 0xF]);
}

void rt_print_hex16(uint16_t v)
{
    print_hex(v, 4);
}

void rt_print_hex32(uint32_t v)
{
    print_hex(v, 8);
}

void rt_print_kv_hex16(const char *label, uint16_t v)
{
    rt_print(label);
    rt_print("=0x");
    rt_print_hex16(v);
    rt_putc('\n');
}

void rt_print_kv_hex32(const char *label, uint32_t v)
{
    rt_print(label);
    rt_print("=0x");
    rt_print_hex32(v);
    rt_putc('\n');
}

void rt_print_kv_u32(const char *label, uint32_t v)
{
    rt_print(label);
    rt_putc('=');
    rt_print_u32(v);
    rt_putc('\n');
}

static void print_hex_value(uint16_t v)
{
    print_hex(v, v < 0x100 ? 2 : 4);
}

void rt_check(const char *label, uint16_t got, uint16_t want)
{
    rt_print(label);
    rt_putc('=');
    print_hex_value(got);
    if (got == want) {
        rt_print(" ok\n");
    } else {
        rt_print(" FAIL want=");
        print_hex_value(want);
        rt_putc('\n');
    }
}

static void print_range(uint16_t lo, uint16_t hi)
{
    rt_print_u16(lo);
    rt_print("..");
    rt_print_u16(hi);
}

void rt_check_range(const char *label, uint16_t got, uint16_t lo, uint16_t hi)
{
    rt_print(label);
    if (lo <= got && got <= hi) {
        rt_print(" in ");
        print_range(lo, hi);
        rt_print(" ok\n");
    } else {
        rt_putc('=');
        rt_print_u16(got);
        rt_print(" FAIL want ");
        print_range(lo, hi);
        rt_putc('\n');
    }
}
