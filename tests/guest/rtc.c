/* rtc: reads the CMOS RTC the way firmware and Linux do (wait for UIP to
 * clear, read, read again until stable), in BCD and in binary mode and in
 * 12-hour mode, and the CMOS memory bytes. Prints
 *   rtc: epoch=N 2026-11-23 16:45:30
 *   cmos: base=640 ext=K high=H above4g=A cpus=C
 * and exits 0; the runner compares N with the host clock and the CMOS fields
 * with --memory. Exit codes: 2 inconsistent modes, 3 no UIP-free window. */
#include "pcplat.h"

struct rtc_time { unsigned sec, min, hour, mday, mon, year; };

static void read_raw(uint8_t r[7])
{
    static const uint8_t idx[7] = { RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_MONTH,
                                    RTC_MONTH, RTC_YEAR, RTC_CENTURY };
    for (;;) {
        unsigned n = 0;
        while (cmos_read(RTC_REG_A) & RTC_A_UIP)
            if (++n > 100000)
                guest_fail(3, "UIP never clears");
        uint8_t a[7], b[7];
        for (int i = 0; i < 7; i++)
            a[i] = cmos_read(idx[i]);
        for (int i = 0; i < 7; i++)
            b[i] = cmos_read(idx[i]);
        int same = 1;
        for (int i = 0; i < 7; i++)
            same &= a[i] == b[i];
        if (same) {
            memcpy(r, a, 7);
            return;
        }
    }
}

static struct rtc_time read_time(int binary)
{
    uint8_t r[7];
    read_raw(r);
    unsigned (*conv)(uint8_t) = binary ? NULL : bcd;
#define V(i) (conv ? conv(r[i]) : r[i])
    struct rtc_time t = { V(0), V(1), V(2), V(3), V(4), V(6) * 100 + V(5) };
#undef V
    return t;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static long epoch(const struct rtc_time *t)
{
    return days_from_civil(t->year, t->mon, t->mday) * 86400 + t->hour * 3600 + t->min * 60 +
           t->sec;
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    if (cmos_read(RTC_REG_D) != RTC_D_VRT)
        guest_fail(2, "register D 0x%x, want VRT", cmos_read(RTC_REG_D));
    uint8_t b = cmos_read(RTC_REG_B);
    if (!(b & RTC_B_24H) || (b & RTC_B_BINARY))
        guest_fail(2, "register B 0x%x: want 24-hour BCD at power-on", b);
    struct rtc_time t = read_time(0);
    long e = epoch(&t);

    cmos_write(RTC_REG_B, RTC_B_24H | RTC_B_BINARY);
    struct rtc_time tb = read_time(1);
    long eb = epoch(&tb);
    if (eb < e || eb > e + 2)
        guest_fail(2, "binary mode reads %ld, BCD read %ld", eb, e);

    cmos_write(RTC_REG_B, 0);                         /* 12-hour BCD */
    uint8_t h12 = cmos_read(RTC_HOURS);
    cmos_write(RTC_REG_B, RTC_B_24H);
    unsigned h24 = bcd(cmos_read(RTC_HOURS));
    unsigned want = h24 % 12 ? h24 % 12 : 12;
    if (bcd(h12 & 0x7f) != want || !!(h12 & 0x80) != (h24 >= 12))
        guest_fail(2, "12-hour 0x%x vs 24-hour %u", h12, h24);

    /* NMI-disable bit on the index port: the data port works the same */
    outb(CMOS_INDEX, 0x80 | RTC_REG_D);
    if (inb(CMOS_DATA) != RTC_D_VRT)
        guest_fail(2, "register D with the NMI bit set");
    outb(CMOS_INDEX, RTC_REG_D);

    guest_printf("rtc: epoch=%ld %u-%02u-%02u %02u:%02u:%02u\n", e, t.year, t.mon, t.mday,
                 t.hour, t.min, t.sec);
    guest_printf("cmos: base=%u ext=%u high=%u above4g=%u cpus=%u\n",
                 cmos_read(0x15) | cmos_read(0x16) << 8, cmos_read(0x17) | cmos_read(0x18) << 8,
                 cmos_read(0x34) | cmos_read(0x35) << 8,
                 cmos_read(0x5b) | cmos_read(0x5c) << 8 | cmos_read(0x5d) << 16,
                 cmos_read(0x5f) + 1u);
    puts("rtc: ok\n");
    return 0;
}
