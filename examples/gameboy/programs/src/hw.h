/*
 * hw.h - the Game Boy hardware the hardware-test programs use, and their checks (guest side
 * only: sdcc -msm83; the checks are in runtime.c).
 *
 * Register addresses and bits: Pan Docs (gbdev.io/pandocs), "Memory Map", "Interrupts",
 * "Timer and Divider Registers", "LCD Status Registers", "Serial Data Transfer".
 * Interrupt handlers are plain C functions put in rt_isr_table (crt0.s: each vector calls
 * the entry for its interrupt, saving every register, and returns with RETI).
 */
#ifndef HW_H
#define HW_H

#include <stdint.h>

#define REG(address) (*(volatile uint8_t *)(address))

#define SB   REG(0xFF01)   /* serial data */
#define SC   REG(0xFF02)   /* serial control: bit 7 start/busy, bit 0 internal clock */
#define DIV  REG(0xFF04)   /* divider: upper byte of the system counter, +1 every 64 M-cycles */
#define TIMA REG(0xFF05)   /* timer counter */
#define TMA  REG(0xFF06)   /* timer modulo: loaded into TIMA when it overflows */
#define TAC  REG(0xFF07)   /* timer control: bit 2 enable, bits 1-0 clock select */
#define IF   REG(0xFF0F)   /* interrupt flags (requested) */
#define LCDC REG(0xFF40)
#define STAT REG(0xFF41)   /* bits 6..3: LYC=LY, mode 2, mode 1, mode 0 interrupt sources */
#define LY   REG(0xFF44)
#define LYC  REG(0xFF45)
#define IE   REG(0xFFFF)   /* interrupt enable */

/* Interrupt bits of IE and IF, in priority order (bit 0 first), and their vectors
 * 0040, 0048, 0050, 0058, 0060. */
#define INT_VBLANK 0
#define INT_STAT   1
#define INT_TIMER  2
#define INT_SERIAL 3
#define INT_JOYPAD 4

/* TAC: enable, and the clock selects with their period in M-cycles (1 M-cycle = 4 T-cycles
 * of the 4194304 Hz clock): 00 4096 Hz (256), 01 262144 Hz (4), 10 65536 Hz (16),
 * 11 16384 Hz (64). */
#define TAC_ENABLE 0x04
#define TAC_4096   0x00
#define TAC_262144 0x01
#define TAC_65536  0x02
#define TAC_16384  0x03

#define STAT_HBLANK_INT 0x08   /* mode 0 */
#define STAT_VBLANK_INT 0x10   /* mode 1 */
#define STAT_OAM_INT    0x20   /* mode 2 */
#define STAT_LYC_INT    0x40   /* LY = LYC */

/* M-cycles of one frame: 154 lines of 114 (Pan Docs, "Rendering Overview": 70224 dots). */
#define FRAME_CYCLES 17556u

typedef void (*rt_isr)(void);
/* The handler of each interrupt bit (0: none; the vector just returns). Set it with
 * interrupts disabled or the bit clear in IE. */
extern rt_isr rt_isr_table[5];

/* Checks of the hardware tests (runtime.c): "label=GOT ok\n" when got == want, else
 * "label=GOT FAIL want=WANT\n" (each value in hex, 2 digits below 0x100, else 4); and
 * "label in LO..HI ok\n" when lo <= got <= hi, else "label=GOT FAIL want LO..HI\n"
 * (decimal). */
void rt_check(const char *label, uint16_t got, uint16_t want);
void rt_check_range(const char *label, uint16_t got, uint16_t lo, uint16_t hi);

#define ENABLE_INTERRUPTS()  __asm__("ei")
#define DISABLE_INTERRUPTS() __asm__("di")
#define HALT()               __asm__("halt")

#endif
