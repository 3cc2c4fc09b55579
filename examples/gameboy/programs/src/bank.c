/*
 * bank.c - the header at the start of switchable ROM bank BANK of mbc.gb (bank.h). Its
 * function is in bank_id.c: sdcc puts constants in the code area, so the code goes to an
 * area of its own (_BANKN_ID, linked after the header).
 */
#include "bank.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

uint8_t CAT(bank_id_, BANK)(void);

#define E(i) BANK_TABLE_BYTE(BANK, i)
#define R4(i) E(i), E((i) + 1), E((i) + 2), E((i) + 3)
#define R16(i) R4(i), R4((i) + 4), R4((i) + 8), R4((i) + 12)
#define R64(i) R16(i), R16((i) + 16), R16((i) + 32), R16((i) + 48)

const struct bank_header CAT(bank_header_, BANK) = {
    {'B', 'A', 'N', 'K'},
    BANK,
    CAT(bank_id_, BANK),
    {R64(0), R64(64), R64(128), R64(192)},
};
