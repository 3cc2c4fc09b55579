/*
 * crt0.S - start stub for the bare-metal VR4300 test programs (o32 and n32).
 *
 * Entered at _start in kernel mode with nothing set up. Sets the stack pointer to
 * __stack_top (link.ld: the top of the 8 MB of RAM, seen through KSEG0, less 16
 * bytes: the o32 argument save area), zeroes .bss word by word, calls main() and
 * then spins at _halt forever. Emulators and test harnesses run "until _halt";
 * main's return value is still in $v0 ($2) there.
 *
 * Registers are numbered ($8 = o32 t0, n32 a4) so one source serves both ABIs.
 */
        .set    noreorder
        .section .text.start, "ax", @progbits
        .globl  _start
        .ent    _start
_start:
        la      $sp, __stack_top
        la      $8, __bss_start
        la      $9, __bss_end
1:      beq     $8, $9, 2f
        nop
        sw      $0, 0($8)
        b       1b
        addiu   $8, $8, 4               /* delay slot */
2:      jal     main
        nop
        .globl  _halt
_halt:
        j       _halt
        nop
        .end    _start
