;; crt0.s - start-up code for the Game Boy test programs (sdas syntax, SM83).
;;
;; The cartridge entry at 0100 (Pan Docs, "The Cartridge Header") jumps past the header,
;; which makebin -Z fills in (0104-014F). _start disables interrupts, puts the stack at the
;; top of WRAM (DFFF down), zeroes _DATA (sdcc's uninitialised globals), copies
;; _INITIALIZER to _INITIALIZED (initialised globals), calls main and then halts for ever
;; with interrupts off and IE clear (_halt): nothing can wake the CPU, so the run ends there.
;;
;; Interrupts (Pan Docs, "Interrupts"): each vector (0040 VBlank, 0048 STAT, 0050 Timer,
;; 0058 Serial, 0060 Joypad) saves HL and jumps to isr_common with HL pointing at its entry
;; of _rt_isr_table (hw.h: five C function pointers in WRAM, zeroed by _start, so an
;; interrupt nobody asked for just returns). isr_common saves AF, BC and DE (sdcc's SM83
;; code preserves no register across a call), calls the handler if there is one and
;; returns with RETI. A handler runs with IME clear.

        .module crt0
        .globl  _main
        .globl  _rt_isr_table

        .area   _HEADER (ABS)

        .org    0x40
        push    hl
        ld      hl, #_rt_isr_table + 0
        jp      isr_common
        .org    0x48
        push    hl
        ld      hl, #_rt_isr_table + 2
        jp      isr_common
        .org    0x50
        push    hl
        ld      hl, #_rt_isr_table + 4
        jp      isr_common
        .org    0x58
        push    hl
        ld      hl, #_rt_isr_table + 6
        jp      isr_common
        .org    0x60
        push    hl
        ld      hl, #_rt_isr_table + 8
        jp      isr_common

isr_common:
        push    af
        push    bc
        push    de
        ld      a, (hl+)
        ld      h, (hl)
        ld      l, a
        or      a, h
        jr      Z, isr_done
        call    call_hl
isr_done:
        pop     de
        pop     bc
        pop     af
        pop     hl
        reti
call_hl:
        jp      (hl)

        .org    0x100
        nop
        jp      _start

        .org    0x150
_start::
        di
        ld      sp, #0xE000

        ;; Zero _DATA.
        ld      hl, #s__DATA
        ld      bc, #l__DATA
        xor     a, a
        ld      e, a
zero:
        ld      a, b
        or      a, c
        jr      Z, zeroed
        ld      a, e
        ld      (hl+), a
        dec     bc
        jr      zero
zeroed:

        ;; Copy _INITIALIZER (ROM) to _INITIALIZED (WRAM).
        ld      de, #s__INITIALIZED
        ld      hl, #s__INITIALIZER
        ld      bc, #l__INITIALIZER
copy:
        ld      a, b
        or      a, c
        jr      Z, copied
        ld      a, (hl+)
        ld      (de), a
        inc     de
        dec     bc
        jr      copy
copied:

        call    _main
        di
        xor     a, a
        ldh     (0xFF), a               ; IE = 0
_halt::
        halt
        jr      _halt

        ;; Segment order for the linker: code and ROM data, then RAM.
        .area   _HOME
        .area   _CODE
        .area   _INITIALIZER
        .area   _GSINIT
        .area   _GSFINAL

        .area   _DATA
_rt_isr_table::
        .ds     10
        .area   _INITIALIZED
        .area   _BSEG
        .area   _BSS
        .area   _HEAP
