/*
 * mbc.c - MBC1 bank switching on a 128 KiB cartridge (8 ROM banks) with 32 KiB of RAM
 * (4 banks): type 03, ROM size code 02, RAM size code 03 (build.sh).
 *
 * Source: Pan Docs (gbdev.io/pandocs), "MBC1". 0000-1FFF: RAM enable (any value with A in
 * the low nibble enables, anything else disables). 2000-3FFF: the 5-bit ROM bank number for
 * 4000-7FFF; 00 reads as 01, the test looking at all 5 bits, and only as many bits as the ROM
 * needs (3 here) select the bank, so 08 selects bank 0. 4000-5FFF: 2-bit RAM bank (mode 1)
 * or upper ROM bank bits (beyond this ROM, so they change nothing here). 6000-7FFF: banking
 * mode; in mode 0 A000-BFFF is always RAM bank 0. Each register answers at every address of
 * its range. Disabled RAM reads open bus: FF on the DMG with nothing driving the bus.
 *
 * Banks 1..7 each start with a header (bank.h) naming the bank and a function at the same
 * address in every bank returning 0x10 * N + 1; bank 0 holds this program, with the
 * cartridge title "MBC" at 0134.
 */
#include "bank.h"
#include "hw.h"
#include "runtime.h"

#define ROM_BANKS 8
#define RAM_BANKS 4

#define MBC_REG(address) (*(volatile uint8_t *)(address))
#define RAM_ENABLE MBC_REG(0x0000)
#define ROM_BANK   MBC_REG(0x2000)
#define RAM_BANK   MBC_REG(0x4000)
#define MODE       MBC_REG(0x6000)
#define CART_RAM   ((volatile uint8_t *)0xA000)
#define CART_RAM_LAST MBC_REG(0xBFFF)

static char rom_label[] = "rom bank N";         /* N at [9] */
static char ram_label[] = "ram bank N";

/* The number in the header at 4000 (0 for a bank without the magic, such as bank 0). */
static uint8_t header_number(void)
{
    const struct bank_header *h = &BANK_HEADER;
    if (h->magic[0] != 'B' || h->magic[1] != 'A' || h->magic[2] != 'N' || h->magic[3] != 'K')
        return 0;
    return h->number;
}

static uint16_t table_mismatches(uint8_t n)
{
    uint16_t i, bad = 0;
    for (i = 0; i < 256; i++)
        if (BANK_HEADER.table[i] != BANK_TABLE_BYTE(n, i))
            bad++;
    return bad;
}

static void test_rom_banks(void)
{
    uint8_t n;
    for (n = 1; n < ROM_BANKS; n++) {
        ROM_BANK = n;
        rom_label[9] = (char)('0' + n);
        rt_check(rom_label, header_number(), n);
        rt_print(rom_label);
        rt_check(" table mismatches", table_mismatches(n), 0);
        rt_print(rom_label);
        rt_check(" id()", BANK_HEADER.id(), (uint8_t)(0x10 * n + 1));
    }
    ROM_BANK = 0;
    rt_check("rom bank 00 selects", header_number(), 1);
    ROM_BANK = 0x08;                        /* bits 2..0 clear: bank 0, not 1 */
    rt_check("rom bank 08 selects bank 0: 4134", MBC_REG(0x4134), 'M');
    ROM_BANK = 0x0D;
    rt_check("rom bank 0d selects", header_number(), 5);
    ROM_BANK = 0x23;                        /* bits 7..5 are not stored */
    rt_check("rom bank 23 selects", header_number(), 3);
    MBC_REG(0x3FFF) = 6;
    rt_check("rom bank 6 written to 3fff selects", header_number(), 6);
    MBC_REG(0x2ABC) = 2;
    rt_check("rom bank 2 written to 2abc selects", header_number(), 2);
    ROM_BANK = 1;
}

static uint8_t ram_byte(uint8_t bank, uint8_t i)
{
    return (uint8_t)(bank * 0x47u ^ i ^ 0x5A);
}

static void fill_ram_bank(uint8_t bank)
{
    uint16_t i;
    RAM_BANK = bank;
    for (i = 0; i < 256; i++)
        CART_RAM[i] = ram_byte(bank, (uint8_t)i);
    CART_RAM_LAST = 0xB0 | bank;
}

static uint16_t ram_mismatches(uint8_t bank)
{
    uint16_t i, bad = 0;
    RAM_BANK = bank;
    for (i = 0; i < 256; i++)
        if (CART_RAM[i] != ram_byte(bank, (uint8_t)i))
            bad++;
    return bad;
}

static void test_ram(void)
{
    uint8_t bank;
    RAM_ENABLE = 0x0A;
    MODE = 1;
    for (bank = 0; bank < RAM_BANKS; bank++)
        fill_ram_bank(bank);
    for (bank = 0; bank < RAM_BANKS; bank++) {
        ram_label[9] = (char)('0' + bank);
        rt_print(ram_label);
        rt_check(" mismatches", ram_mismatches(bank), 0);
        rt_print(ram_label);
        rt_check(" bfff", CART_RAM_LAST, 0xB0 | bank);
    }
    RAM_BANK = 2;
    MODE = 0;
    rt_check("ram mode 0, bank 2 selected: bfff", CART_RAM_LAST, 0xB0);
    MODE = 1;
    rt_check("ram mode 1, bank 2 selected: bfff", CART_RAM_LAST, 0xB2);

    RAM_ENABLE = 0x00;
    rt_check("ram disabled: a000", CART_RAM[0], 0xFF);
    CART_RAM[0] = 0x12;                     /* lost */
    RAM_ENABLE = 0x3A;                      /* low nibble A enables too */
    rt_check("ram enabled by 3a: a000", CART_RAM[0], ram_byte(2, 0));
    RAM_ENABLE = 0x1B;
    rt_check("ram disabled by 1b: bfff", CART_RAM_LAST, 0xFF);
    MBC_REG(0x1234) = 0x0A;
    rt_check("ram enabled by 0a at 1234: bfff", CART_RAM_LAST, 0xB2);
    RAM_ENABLE = 0x00;
    MODE = 0;
    RAM_BANK = 0;
}

int main(void)
{
    rt_print("mbc1\n");
    test_rom_banks();
    test_ram();
    rt_print("done\n");
    return 0;
}
