/*
 * interrupts.c - interrupt dispatch, the timer, VBlank, STAT and serial interrupts, counted
 * by C handlers (crt0.s vectors, hw.h). Every expected value is worked out below from Pan
 * Docs (gbdev.io/pandocs): "Interrupts", "Interrupt Sources", "Timer and Divider Registers",
 * "Timer obscure behaviour", "LCD Status Registers", "Rendering Overview", "Serial Data
 * Transfer" and "CPU Instruction Set" (EI). Intervals are chosen so that each answer holds
 * with hundreds of M-cycles to spare on either side, whatever the interrupt latency and the
 * handlers' length (a few dozen M-cycles).
 *
 * Times are M-cycles (4 T-cycles; 1048576 a second). DIV counts up every 64 M-cycles, and a
 * write to DIV clears the whole system counter, which restarts the timer's phase too.
 */
#include "hw.h"
#include "runtime.h"

static volatile uint16_t n_vblank, n_stat, n_timer, n_serial;
static volatile uint16_t stat_at_11, timer_at_11;   /* the counts at the 11th VBlank */
static volatile uint8_t order[8], n_order, mark;
static const char *volatile serial_next;

/* ---- handlers ---------------------------------------------------------------------- */

static void count_timer(void) { n_timer++; }
static void count_stat(void) { n_stat++; }

/* The first VBlank starts a measurement and the 11th ends it: 10 frames, 10 * 17556
 * M-cycles, apart. The first restarts the timer (TIMA 0, counter 0) and drops a timer
 * interrupt requested before it. */
static void count_vblank(void)
{
    n_vblank++;
    if (n_vblank == 1) {
        TIMA = 0;
        DIV = 0;
        IF &= (uint8_t)~(1 << INT_TIMER);
        n_timer = n_stat = 0;
    } else if (n_vblank == 11) {
        timer_at_11 = n_timer;
        stat_at_11 = n_stat;
    }
}

static void record(uint8_t what)
{
    if (n_order < sizeof order)
        order[n_order++] = what;
}
static void record_vblank(void) { record(INT_VBLANK); }
static void record_stat(void) { record(INT_STAT); }
static void record_timer(void) { record(INT_TIMER); }
static void record_serial(void) { record(INT_SERIAL); }
static void record_joypad(void) { record(INT_JOYPAD); }
static void record_mark(void) { record(mark); }

/* Counts a finished transfer and starts the next byte of the message, if any. */
static void send_next(void)
{
    n_serial++;
    if (*serial_next) {
        SB = (uint8_t)*serial_next++;
        SC = 0x81;
    }
}

/* ---- helpers ----------------------------------------------------------------------- */

/* IME off, IE = ``enable``, nothing requested, no handlers. */
static void quiet(uint8_t enable)
{
    uint8_t i;
    DISABLE_INTERRUPTS();
    for (i = 0; i < 5; i++)
        rt_isr_table[i] = 0;
    IE = enable;
    IF = 0;
}

/* EI then DI: no interrupt can be taken between them (EI acts after the next instruction). */
static void ei_di(void)
{
    __asm
        ei
        di
    __endasm;
}

/* EI, one instruction (mark = 1), DI: a pending interrupt is taken after the increment. */
static void ei_inc_di(void)
{
    __asm
        ld      hl, #_mark
        ei
        inc     (hl)
        di
    __endasm;
}

/* Lets IME = 1 stand for a few instructions. */
static void ei_nops_di(void)
{
    __asm
        ei
        nop
        nop
        di
    __endasm;
}

/* ---- the tests --------------------------------------------------------------------- */

/* Five interrupts requested at once through IF are taken one after the other in priority
 * order, bit 0 (VBlank) first, and each dispatch clears its IF bit ("Interrupts"). Done on
 * line 10, far from a real VBlank, with the timer stopped and no STAT source enabled
 * (post-boot TAC F8 and STAT 85). */
static void test_priority(void)
{
    uint8_t i, flags;
    while (LY != 10)
        ;
    quiet(0x1F);
    rt_isr_table[INT_VBLANK] = record_vblank;
    rt_isr_table[INT_STAT] = record_stat;
    rt_isr_table[INT_TIMER] = record_timer;
    rt_isr_table[INT_SERIAL] = record_serial;
    rt_isr_table[INT_JOYPAD] = record_joypad;
    n_order = 0;
    IF = 0x1F;
    ei_nops_di();
    flags = IF & 0x1F;
    rt_check("priority: taken", n_order, 5);
    for (i = 0; i < 5; i++)
        rt_check("priority: next", order[i], i);
    rt_check("priority: IF after", flags, 0);
}

/* An interrupt is taken only when both its IE bit and IME are set; EI acts after the
 * instruction that follows it ("Interrupts", "EI"). */
static void test_masking(void)
{
    uint8_t flags;
    quiet(0);
    rt_isr_table[INT_TIMER] = record_mark;
    n_order = 0;
    mark = 0;
    IF = 1 << INT_TIMER;
    ei_nops_di();
    rt_check("mask: IE clear, taken", n_order, 0);
    IE = 1 << INT_TIMER;
    rt_check("mask: IME clear, taken", n_order, 0);
    ei_di();
    rt_check("mask: EI;DI, taken", n_order, 0);
    ei_inc_di();
    flags = IF & 1 << INT_TIMER;
    rt_check("mask: EI;INC;DI, taken", n_order, 1);
    rt_check("mask: EI;INC;DI, mark seen", order[0], 1);
    rt_check("mask: IF timer bit after", flags, 0);
}

struct timer_case {
    const char *name;
    uint8_t tac, tma;
};

/* TIMA counts falling edges of system-counter bit 9, 3, 5 or 7 (TAC 00..11: every 256, 4,
 * 16 or 64 M-cycles, the first one that long after DIV is cleared). From TMA it overflows
 * on the (256 - TMA)th tick; one M-cycle later TMA is reloaded and the interrupt requested
 * ("Timer obscure behaviour"). Each case has a period of 1024 M-cycles, so the interrupts
 * come at 1025 + 1024k after the DIV write: 4 by DIV = 72 (4608; the 4th at 4097, the 5th at
 * 5121) and 5 by DIV = 88 (5632; the 6th at 6145). */
static const struct timer_case timer_cases[] = {
    {"timer 4096 Hz, TMA FC: irqs by ", TAC_4096, 0xFC},
    {"timer 262144 Hz, TMA 00: irqs by ", TAC_262144, 0x00},
    {"timer 65536 Hz, TMA C0: irqs by ", TAC_65536, 0xC0},
    {"timer 16384 Hz, TMA F0: irqs by ", TAC_16384, 0xF0},
};

static void test_timer(void)
{
    uint8_t i;
    uint16_t by_4608, by_5632;
    for (i = 0; i < sizeof timer_cases / sizeof timer_cases[0]; i++) {
        const struct timer_case *c = &timer_cases[i];
        quiet(1 << INT_TIMER);
        rt_isr_table[INT_TIMER] = count_timer;
        TAC = 0;
        TMA = c->tma;
        TIMA = c->tma;
        n_timer = 0;
        DIV = 0;
        TAC = TAC_ENABLE | c->tac;
        ENABLE_INTERRUPTS();
        while (DIV < 72)
            ;
        by_4608 = n_timer;
        while (DIV < 88)
            ;
        by_5632 = n_timer;
        DISABLE_INTERRUPTS();
        TAC = 0;
        rt_print(c->name);
        rt_check("4608", by_4608, 4);
        rt_print(c->name);
        rt_check("5632", by_5632, 5);
    }
}

/* Ten frames (VBlank to VBlank, 10 * 17556 = 175560 M-cycles; "Rendering Overview") against
 * the timer at 262144 Hz from TMA 00 (an interrupt every 1024 M-cycles, the first 1025 after
 * the restart in the first VBlank's handler): 171 interrupts, the 171st at 175105, the
 * 172nd at 176129. */
static void test_vblank(void)
{
    quiet(1 << INT_VBLANK | 1 << INT_TIMER);
    rt_isr_table[INT_VBLANK] = count_vblank;
    rt_isr_table[INT_TIMER] = count_timer;
    TMA = 0;
    TAC = TAC_ENABLE | TAC_262144;
    n_vblank = 0;
    ENABLE_INTERRUPTS();
    while (n_vblank < 11)
        HALT();
    DISABLE_INTERRUPTS();
    TAC = 0;
    rt_check("vblank: timer irqs in 10 frames", timer_at_11, 171);
}

/* STAT interrupts counted over ten frames, one source at a time ("LCD Status Registers",
 * "Interrupt Sources"): LY = LYC with LYC = 64 once a frame (10); mode 0 (HBlank) on each
 * of the 144 visible lines (1440; line 143's comes 51 M-cycles before the VBlank, whose
 * handler waits for its RETI); mode 1 with the VBlank itself (10: requested together, the
 * VBlank's handler runs first, so the 11th frame's is not counted yet and the first's is). */
static void count_stat_over_10_frames(const char *label, uint8_t source, uint16_t want)
{
    quiet(1 << INT_VBLANK | 1 << INT_STAT);
    rt_isr_table[INT_VBLANK] = count_vblank;
    rt_isr_table[INT_STAT] = count_stat;
    LYC = 64;
    STAT = source;
    n_vblank = 0;
    ENABLE_INTERRUPTS();
    while (n_vblank < 11)
        HALT();
    DISABLE_INTERRUPTS();
    STAT = 0;
    rt_check(label, stat_at_11, want);
}

static void test_stat(void)
{
    count_stat_over_10_frames("stat: LY=LYC irqs in 10 frames", STAT_LYC_INT, 10);
    count_stat_over_10_frames("stat: mode 0 irqs in 10 frames", STAT_HBLANK_INT, 1440);
    count_stat_over_10_frames("stat: mode 1 irqs in 10 frames", STAT_VBLANK_INT, 10);
}

/* A message sent by the serial interrupt's handler, a byte per interrupt ("Serial Data
 * Transfer": with the internal clock a transfer takes 8 bits at 8192 Hz, 1024 M-cycles,
 * then SC bit 7 clears and the interrupt is requested). 11 bytes: 11264 M-cycles plus each
 * handler's time to start the next, about 176 DIV counts; the range allows the first bit's
 * dependence on the clock's phase (up to a bit, 128 M-cycles, early) and handlers of up to
 * 140 M-cycles. */
static void test_serial(void)
{
    static const char message[] = "serial irq\n";
    uint8_t divs;
    quiet(1 << INT_SERIAL);
    rt_isr_table[INT_SERIAL] = send_next;
    n_serial = 0;
    serial_next = message + 1;
    DIV = 0;
    SB = (uint8_t)message[0];
    SC = 0x81;
    ENABLE_INTERRUPTS();
    while (n_serial < sizeof message - 1)
        HALT();
    divs = DIV;
    DISABLE_INTERRUPTS();
    rt_check("serial: irqs", n_serial, sizeof message - 1);
    rt_check_range("serial: DIV counts", divs, 174, 200);
}

int main(void)
{
    rt_print("interrupts\n");
    test_priority();
    test_masking();
    test_timer();
    test_vblank();
    test_stat();
    test_serial();
    rt_print("done\n");
    return 0;
}
