/*
 * bank_id.c - the function of switchable ROM bank BANK of mbc.gb (bank.h, bank.c).
 */
#include "bank.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

uint8_t CAT(bank_id_, BANK)(void)
{
    return 0x10 * BANK + 1;
}
