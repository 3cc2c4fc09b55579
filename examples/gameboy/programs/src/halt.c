/*
 * halt.c - HALT: waking with and without taking the interrupt, and the HALT bug.
 *
 * Sources: Pan Docs (gbdev.io/pandocs), "halt" (CPU Instruction Set) and its "halt bug",
 * "Interrupts", "Timer and Divider Registers", "Timer obscure behaviour"; the EI-before-HALT
 * case also mooneye-test-suite acceptance/interrupts/ei_delay_halt (verified on a DMG). HALT waits until IE & IF is non-zero. With IME = 1 the
 * interrupt is then taken; with IME = 0 the CPU just continues after the HALT. If IE & IF is
 * already non-zero when HALT executes with IME = 0, the CPU does not halt and the byte after
 * HALT is read twice (PC fails to advance once). With EI right before such a HALT, the
 * interrupt is taken with the HALT itself as the return address, so HALT runs again.
 *
 * The timer (TAC 4096 Hz: a tick every 256 M-cycles, the first 256 after DIV is cleared)
 * from TIMA FF with TMA F0 overflows at M-cycle 256 and requests its interrupt at 257, when
 * TIMA reads F0 until the next tick at 512: code resuming after that interrupt reads F0.
 */
#include "hw.h"
#include "runtime.h"

static volatile uint16_t n_timer;
static volatile uint8_t result_a, result_d;

static void count_timer(void) { n_timer++; }

/* IME off, only the timer interrupt enabled and handled, nothing requested, the timer
 * restarted: its interrupt comes 257 M-cycles from now (file comment). */
static void start_timer(void)
{
    DISABLE_INTERRUPTS();
    rt_isr_table[INT_TIMER] = count_timer;
    IE = 1 << INT_TIMER;
    TAC = 0;
    TMA = 0xF0;
    TIMA = 0xFF;
    n_timer = 0;
    DIV = 0;
    TAC = TAC_ENABLE | TAC_4096;
    IF = 0;
}

/* xor a; halt; inc a: with the HALT bug, INC A runs twice. */
static void halt_inc(void)
{
    __asm
        xor     a, a
        halt
        inc     a
        ld      (_result_a), a
    __endasm;
}

/* halt; ld a, #0x14 (bytes 76 3E 14): with the HALT bug, 3E is read twice: LD A,3E, and the
 * operand 14 then runs as INC D. */
static void halt_ld(void)
{
    __asm
        ld      d, #0
        halt
        ld      a, #0x14
        ld      (_result_a), a
        ld      a, d
        ld      (_result_d), a
    __endasm;
}

/* xor a; ei; halt; inc a; di */
static void ei_halt_inc(void)
{
    __asm
        xor     a, a
        ei
        halt
        inc     a
        di
        ld      (_result_a), a
    __endasm;
}

/* IME = 1, nothing pending: HALT sleeps until the timer's interrupt, which is taken; the
 * code after HALT then reads TIMA F0. */
static void test_ime1(void)
{
    uint8_t tima;
    start_timer();
    ENABLE_INTERRUPTS();
    HALT();
    tima = TIMA;
    DISABLE_INTERRUPTS();
    rt_check("ime=1: irqs taken", n_timer, 1);
    rt_check("ime=1: TIMA after", tima, 0xF0);
}

/* IME = 0, nothing pending: HALT sleeps until the timer requests its interrupt and the CPU
 * continues without taking it, so IF keeps the request. */
static void test_ime0(void)
{
    uint8_t tima, flags;
    start_timer();
    HALT();
    tima = TIMA;
    flags = IF & 1 << INT_TIMER;
    rt_check("ime=0: irqs taken", n_timer, 0);
    rt_check("ime=0: TIMA after", tima, 0xF0);
    rt_check("ime=0: IF timer bit after", flags, 1 << INT_TIMER);
}

/* IME = 0, only VBlank enabled: HALT wakes as line 144 starts (VBlank, "Rendering
 * Overview"), and LY still reads 144 (0x90) right after: the line lasts 114 M-cycles. */
static void test_ime0_vblank(void)
{
    uint8_t ly;
    DISABLE_INTERRUPTS();
    IE = 1 << INT_VBLANK;
    IF = 0;
    HALT();
    ly = LY;
    rt_check("ime=0, VBlank: LY after", ly, 144);
}

/* IME = 0 with the timer's interrupt pending: the HALT bug. */
static void test_halt_bug(void)
{
    start_timer();
    IF = 1 << INT_TIMER;
    halt_inc();
    rt_check("halt bug: xor a; halt; inc a: A", result_a, 2);
    halt_ld();
    rt_check("halt bug: halt; ld a,14: A", result_a, 0x3E);
    rt_check("halt bug: halt; ld a,14: D", result_d, 1);
    rt_check("halt bug: irqs taken", n_timer, 0);
}

/* EI; HALT with the interrupt pending: taken at once, returning to the HALT, which then
 * sleeps until the timer's own interrupt, 257 M-cycles on; after that INC A runs once. */
static void test_ei_halt(void)
{
    start_timer();
    IF = 1 << INT_TIMER;
    ei_halt_inc();
    rt_check("ei; halt, pending: irqs taken", n_timer, 2);
    rt_check("ei; halt, pending: A", result_a, 1);
}

int main(void)
{
    rt_print("halt\n");
    test_ime1();
    test_ime0();
    test_ime0_vblank();
    test_halt_bug();
    test_ei_halt();
    TAC = 0;
    rt_print("done\n");
    return 0;
}
