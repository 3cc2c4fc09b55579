/*
 * crc16.c - CRC-16 in three variants, table-driven and bitwise, over the check string
 * "123456789" and a 1 KiB generated buffer (also from an odd offset); Fletcher-16 too.
 *
 * Known answers for "123456789" (the CRC catalogue's "check" values, reveng.sourceforge.io
 * "Catalogue of parametrised CRC algorithms"): CRC-16/IBM-3740 (CCITT-FALSE) 0x29b1,
 * CRC-16/XMODEM 0x31c3, CRC-16/ARC 0xbb3d. Fletcher-16 of "abcde" is 0xc8f0 (Wikipedia,
 * "Fletcher's checksum").
 */
#include "runtime.h"

#define BUF_LEN 1024u

static uint8_t buf[BUF_LEN];
static uint16_t table_msb[256];   /* poly 0x1021, MSB first */
static uint16_t table_lsb[256];   /* poly 0xA001 (0x8005 reflected), LSB first */

static const char check_string[] = "123456789";

static void make_tables(void)
{
    uint16_t i;
    uint8_t bit;
    for (i = 0; i < 256; i++) {
        uint16_t msb = (uint16_t)(i << 8), lsb = i;
        for (bit = 0; bit < 8; bit++) {
            msb = (msb & 0x8000) ? (uint16_t)((uint16_t)(msb << 1) ^ 0x1021) : (uint16_t)(msb << 1);
            lsb = (lsb & 1) ? (uint16_t)((lsb >> 1) ^ 0xA001) : (uint16_t)(lsb >> 1);
        }
        table_msb[i] = msb;
        table_lsb[i] = lsb;
    }
}

static uint16_t crc_msb_bitwise(uint16_t crc, const uint8_t *p, uint16_t n)
{
    uint8_t bit;
    while (n--) {
        crc ^= (uint16_t)(*p++ << 8);
        for (bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((uint16_t)(crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static uint16_t crc_msb_table(uint16_t crc, const uint8_t *p, uint16_t n)
{
    while (n--)
        crc = (uint16_t)(crc << 8) ^ table_msb[(uint8_t)(crc >> 8) ^ *p++];
    return crc;
}

static uint16_t crc_lsb_bitwise(uint16_t crc, const uint8_t *p, uint16_t n)
{
    uint8_t bit;
    while (n--) {
        crc ^= *p++;
        for (bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static uint16_t crc_lsb_table(uint16_t crc, const uint8_t *p, uint16_t n)
{
    while (n--)
        crc = (crc >> 8) ^ table_lsb[(uint8_t)crc ^ *p++];
    return crc;
}

static uint16_t fletcher16(const uint8_t *p, uint16_t n)
{
    uint16_t a = 0, b = 0;
    while (n--) {
        a = (a + *p++) % 255;
        b = (b + a) % 255;
    }
    return (uint16_t)(b << 8) | a;
}

static void print_variants(const char *what, const uint8_t *p, uint16_t n)
{
    uint16_t ibm_b = crc_msb_bitwise(0xFFFF, p, n), ibm_t = crc_msb_table(0xFFFF, p, n);
    uint16_t xm_b = crc_msb_bitwise(0, p, n), xm_t = crc_msb_table(0, p, n);
    uint16_t arc_b = crc_lsb_bitwise(0, p, n), arc_t = crc_lsb_table(0, p, n);
    rt_print(what);
    rt_print(": ibm3740=");
    rt_print_hex16(ibm_t);
    rt_print(" xmodem=");
    rt_print_hex16(xm_t);
    rt_print(" arc=");
    rt_print_hex16(arc_t);
    rt_print(" fletcher16=");
    rt_print_hex16(fletcher16(p, n));
    rt_print(ibm_b == ibm_t && xm_b == xm_t && arc_b == arc_t ? " agree\n" : " DISAGREE\n");
}

int main(void)
{
    uint16_t i, running = 0xFFFF;
    uint16_t lfsr = 0xACE1;

    make_tables();
    print_variants("check", (const uint8_t *)check_string, 9);
    print_variants("abcde", (const uint8_t *)"abcde", 5);

    for (i = 0; i < BUF_LEN; i++) {         /* Galois LFSR, taps 0xB400 */
        lfsr = (lfsr & 1) ? (uint16_t)((lfsr >> 1) ^ 0xB400) : (uint16_t)(lfsr >> 1);
        buf[i] = (uint8_t)(lfsr ^ (lfsr >> 8) ^ i);
    }
    print_variants("buffer", buf, BUF_LEN);
    print_variants("buffer+3", buf + 3, BUF_LEN - 3);

    for (i = 0; i < BUF_LEN; i += 64)       /* incremental == one-shot */
        running = crc_msb_table(running, buf + i, 64);
    rt_print(running == crc_msb_bitwise(0xFFFF, buf, BUF_LEN) ? "incremental agrees\n"
                                                                 : "incremental DISAGREES\n");
    rt_print_kv_hex16("table_msb[255]", table_msb[255]);
    rt_print_kv_hex16("table_lsb[255]", table_lsb[255]);
    rt_print_kv_hex16("checksum", running ^ crc_lsb_table(0, buf, BUF_LEN));
    return 0;
}
