/*
 * bank.h - what bank.c puts at the start (4000) of each switchable ROM bank of mbc.gb.
 *
 * build.sh compiles bank.c and bank_id.c once per bank N = 1..7 with -DBANK=N, into the
 * areas _BANKN (the header) and _BANKN_ID (the function), which the linker places at the
 * bank's 4000 and 4200 (addresses N*0x10000 + 0x4000 and + 0x4200, which makebin turns into
 * ROM offsets N*0x4000 and + 0x200). Every bank has the same layout, so ``bank_header.id`` is
 * the same address in each bank but runs that bank's own code.
 */
#ifndef BANK_H
#define BANK_H

#include <stdint.h>

/* byte i of bank n's table */
#define BANK_TABLE_BYTE(n, i) ((uint8_t)((i) ^ (n) * 0x24u))

struct bank_header {
    char magic[4];                  /* "BANK" */
    uint8_t number;                 /* N */
    uint8_t (*id)(void);            /* returns 0x10 * N + 1, from code in bank N */
    uint8_t table[256];             /* BANK_TABLE_BYTE(N, i) */
};

#define BANK_HEADER (*(const struct bank_header *)0x4000)

#endif
