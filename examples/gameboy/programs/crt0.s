;; crt0.s - start-up code for the Game Boy test programs (sdas syntax, SM83).
;;
;; The cartridge entry at 0100 (Pan Docs, "The Cartridge Header") jumps past the header,
;; which makebin -Z fills in (0104-014F). _start disables interrupts, puts the stack at the
;; top of WRAM (DFFF down), zeroes _DATA (sdcc's uninitialised globals), copies
;; _INITIALIZER to _INITIALIZED (initialised globals), calls main and then halts for ever
;; with interrupts off (_halt): nothing can wake the CPU, so the run ends there.

        .module crt0
        .globl  _main

        .area   _HEADER (ABS)
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
        .area   _INITIALIZED
        .area   _BSEG
        .area   _BSS
        .area   _HEAP
