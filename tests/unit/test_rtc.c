/* The MC146818 register logic (devices/mc146818.c) on a clock of the test's
 * own: BCD/binary, 12/24 hours, SET and divider freeze, UIP timing, alarm,
 * periodic and update flags and the time of the next interrupt. */
#include <string.h>
#include <time.h>

#include "devices/mc146818.h"
#include "tests/unit/harness.h"

#define NS 1000000000ll
#define MS 1000000ll

/* 2026-11-23 16:45:30 UTC, a Monday, plus `ns`. */
static int64_t t0(int64_t ns)
{
    struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 23, .tm_hour = 16,
                     .tm_min = 45, .tm_sec = 30 };
    return (int64_t)timegm(&tm) * NS + ns;
}

static uint8_t rd(struct mc146818 *s, uint8_t i, int64_t now)
{
    return mc146818_read(s, i, now);
}

TEST(bcd_24h_from_the_host_clock)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    int64_t now = t0(250 * MS);
    CHECK_EQ(rd(&s, RTC_SECONDS, now), 0x30);
    CHECK_EQ(rd(&s, RTC_MINUTES, now), 0x45);
    CHECK_EQ(rd(&s, RTC_HOURS, now), 0x16);
    CHECK_EQ(rd(&s, RTC_DAY_OF_WEEK, now), 2);      /* Monday; Sunday is 1 */
    CHECK_EQ(rd(&s, RTC_DAY_OF_MONTH, now), 0x23);
    CHECK_EQ(rd(&s, RTC_MONTH, now), 0x11);
    CHECK_EQ(rd(&s, RTC_YEAR, now), 0x26);
    CHECK_EQ(rd(&s, RTC_CENTURY, now), 0x20);
    CHECK_EQ(rd(&s, RTC_REG_B, now), RTC_B_24H);
    CHECK_EQ(rd(&s, RTC_REG_D, now), RTC_D_VRT);
    CHECK_EQ(rd(&s, RTC_SECONDS, t0(2 * NS + 10 * MS)), 0x32);   /* it runs */
}

TEST(binary_and_12_hour_modes)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    mc146818_write(&s, RTC_REG_B, RTC_B_24H | RTC_B_BINARY, t0(0));
    CHECK_EQ(rd(&s, RTC_SECONDS, t0(0)), 30);
    CHECK_EQ(rd(&s, RTC_HOURS, t0(0)), 16);
    CHECK_EQ(rd(&s, RTC_YEAR, t0(0)), 26);
    CHECK_EQ(rd(&s, RTC_CENTURY, t0(0)), 20);
    mc146818_write(&s, RTC_REG_B, RTC_B_BINARY, t0(0));              /* 12 h */
    CHECK_EQ(rd(&s, RTC_HOURS, t0(0)), RTC_HOUR_PM | 4);
    mc146818_write(&s, RTC_REG_B, 0, t0(0));                         /* 12 h, BCD */
    CHECK_EQ(rd(&s, RTC_HOURS, t0(0)), RTC_HOUR_PM | 0x04);
    /* 16:45:30 + 7h14m30s = 00:00:00 the next day: 12 AM; +12 h: 12 PM */
    int64_t midnight = t0((7 * 3600 + 14 * 60 + 30) * NS);
    CHECK_EQ(rd(&s, RTC_HOURS, midnight), 0x12);
    CHECK_EQ(rd(&s, RTC_DAY_OF_MONTH, midnight), 0x24);
    CHECK_EQ(rd(&s, RTC_HOURS, midnight + 12 * 3600 * NS), RTC_HOUR_PM | 0x12);
}

TEST(set_freezes_and_restarts_the_clock)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    int64_t now = t0(300 * MS);
    mc146818_write(&s, RTC_REG_B, RTC_B_SET | RTC_B_24H | RTC_B_UIE, now);
    CHECK_EQ(rd(&s, RTC_REG_B, now), RTC_B_SET | RTC_B_24H);      /* SET clears UIE */
    /* 1999-12-31 23:59:58, 12-hour BCD written as 11 PM */
    mc146818_write(&s, RTC_REG_B, RTC_B_SET, now);
    static const uint8_t set[][2] = {
        { RTC_SECONDS, 0x58 }, { RTC_MINUTES, 0x59 }, { RTC_HOURS, RTC_HOUR_PM | 0x11 },
        { RTC_DAY_OF_MONTH, 0x31 }, { RTC_MONTH, 0x12 }, { RTC_YEAR, 0x99 },
        { RTC_CENTURY, 0x19 },
    };
    for (unsigned i = 0; i < sizeof(set) / sizeof(set[0]); i++)
        mc146818_write(&s, set[i][0], set[i][1], now);
    CHECK_EQ(rd(&s, RTC_SECONDS, now + 5 * NS), 0x58);      /* frozen */
    CHECK_EQ(rd(&s, RTC_REG_A, t0(999900 * 1000)) & RTC_A_UIP, 0);
    int64_t go = now + 5 * NS;
    mc146818_write(&s, RTC_REG_B, 0, go);                   /* SET off: runs from :58 */
    CHECK_EQ(rd(&s, RTC_SECONDS, go + 999 * MS), 0x58);
    CHECK_EQ(rd(&s, RTC_HOURS, go), RTC_HOUR_PM | 0x11);
    int64_t later = go + 2 * NS + MS;                       /* 2000-01-01 00:00:00 */
    CHECK_EQ(rd(&s, RTC_SECONDS, later), 0x00);
    CHECK_EQ(rd(&s, RTC_HOURS, later), 0x12);               /* 12 AM */
    mc146818_write(&s, RTC_REG_B, RTC_B_24H, later);
    CHECK_EQ(rd(&s, RTC_HOURS, later), 0x00);
    CHECK_EQ(rd(&s, RTC_DAY_OF_MONTH, later), 0x01);
    CHECK_EQ(rd(&s, RTC_MONTH, later), 0x01);
    CHECK_EQ(rd(&s, RTC_YEAR, later), 0x00);
    CHECK_EQ(rd(&s, RTC_CENTURY, later), 0x20);
    CHECK_EQ(rd(&s, RTC_DAY_OF_WEEK, later), 7);            /* a Saturday */
}

TEST(writing_a_running_field_keeps_the_phase)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    mc146818_write(&s, RTC_MINUTES, 0x10, t0(600 * MS));
    CHECK_EQ(rd(&s, RTC_MINUTES, t0(700 * MS)), 0x10);
    CHECK_EQ(rd(&s, RTC_SECONDS, t0(999 * MS)), 0x30);
    CHECK_EQ(rd(&s, RTC_SECONDS, t0(1001 * MS)), 0x31);     /* same second boundary */
}

TEST(uip_in_the_last_244_us_of_each_second)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    CHECK_EQ(rd(&s, RTC_REG_A, t0(500 * MS)), 0x26);
    CHECK_EQ(rd(&s, RTC_REG_A, t0(NS - RTC_UIP_NS - 1)) & RTC_A_UIP, 0);
    CHECK_EQ(rd(&s, RTC_REG_A, t0(NS - RTC_UIP_NS)) & RTC_A_UIP, RTC_A_UIP);
    CHECK_EQ(rd(&s, RTC_REG_A, t0(NS - 1)) & RTC_A_UIP, RTC_A_UIP);
    CHECK_EQ(rd(&s, RTC_REG_A, t0(NS)) & RTC_A_UIP, 0);
    mc146818_write(&s, RTC_REG_A, 0xff, t0(NS));            /* UIP is read-only */
    CHECK_EQ(rd(&s, RTC_REG_A, t0(NS)), 0x7f);
}

TEST(alarm_matches_with_dont_care_bytes)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    mc146818_write(&s, RTC_REG_A, RTC_A_DIVIDER_32K, t0(0));   /* no periodic flags */
    /* alarm at 16:45:33, AIE */
    mc146818_write(&s, RTC_SECONDS_ALARM, 0x33, t0(0));
    mc146818_write(&s, RTC_MINUTES_ALARM, 0x45, t0(0));
    mc146818_write(&s, RTC_HOURS_ALARM, 0x16, t0(0));
    mc146818_write(&s, RTC_REG_B, RTC_B_24H | RTC_B_AIE, t0(0));
    CHECK_EQ(mc146818_next_irq(&s, t0(100 * MS)), t0(3 * NS));
    CHECK(!mc146818_update(&s, t0(3 * NS - 1)));
    CHECK(mc146818_update(&s, t0(3 * NS)));
    CHECK_EQ(rd(&s, RTC_REG_C, t0(3 * NS)), RTC_C_IRQF | RTC_C_AF | RTC_C_UF);
    CHECK(!mc146818_update(&s, t0(3 * NS + 1)));             /* reading C cleared it */
    /* the same alarm again: tomorrow */
    CHECK_EQ(mc146818_next_irq(&s, t0(4 * NS)), t0((3 + 86400) * NS));
    /* seconds "don't care": every second of 16:46 */
    mc146818_write(&s, RTC_SECONDS_ALARM, 0xc0, t0(4 * NS));
    mc146818_write(&s, RTC_MINUTES_ALARM, 0x46, t0(4 * NS));
    CHECK_EQ(mc146818_next_irq(&s, t0(4 * NS)), t0(30 * NS));
    rd(&s, RTC_REG_C, t0(50 * NS + 5));
    CHECK_EQ(mc146818_next_irq(&s, t0(50 * NS + 5)), t0(51 * NS));
    rd(&s, RTC_REG_C, t0(90 * NS + 5));
    CHECK_EQ(mc146818_next_irq(&s, t0(90 * NS + 5)), t0((30 + 86400) * NS));
    /* everything "don't care": each second */
    mc146818_write(&s, RTC_MINUTES_ALARM, 0xff, t0(91 * NS));
    mc146818_write(&s, RTC_HOURS_ALARM, 0xff, t0(91 * NS));
    CHECK_EQ(mc146818_next_irq(&s, t0(91 * NS + 7)), t0(92 * NS));
    /* a value BCD cannot hold never matches; alarms slept through are caught up */
    mc146818_write(&s, RTC_SECONDS_ALARM, 0x99, t0(92 * NS));
    CHECK_EQ(mc146818_next_irq(&s, t0(92 * NS)), INT64_MAX);
    mc146818_write(&s, RTC_SECONDS_ALARM, 0x00, t0(92 * NS));
    rd(&s, RTC_REG_C, t0(92 * NS));
    CHECK(mc146818_update(&s, t0(500 * NS)));
    CHECK_EQ(rd(&s, RTC_REG_C, t0(500 * NS)) & RTC_C_AF, RTC_C_AF);
}

TEST(alarm_hours_in_12_hour_mode)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    mc146818_write(&s, RTC_REG_B, RTC_B_AIE, t0(0));         /* 12 h, BCD */
    mc146818_write(&s, RTC_SECONDS_ALARM, 0x00, t0(0));
    mc146818_write(&s, RTC_MINUTES_ALARM, 0x00, t0(0));
    mc146818_write(&s, RTC_HOURS_ALARM, RTC_HOUR_PM | 0x05, t0(0));  /* 17:00:00 */
    CHECK_EQ(mc146818_next_irq(&s, t0(0)), t0((14 * 60 + 30) * NS));
    mc146818_write(&s, RTC_HOURS_ALARM, 0x12, t0(0));        /* 12 AM = 00:00 */
    CHECK_EQ(mc146818_next_irq(&s, t0(0)), t0((7 * 3600 + 14 * 60 + 30) * NS));
    mc146818_write(&s, RTC_HOURS_ALARM, 0x13, t0(0));        /* no such hour */
    CHECK_EQ(mc146818_next_irq(&s, t0(0)), INT64_MAX);
}

TEST(periodic_and_update_interrupts)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    /* rate 15: 2 Hz */
    mc146818_write(&s, RTC_REG_A, RTC_A_DIVIDER_32K | 15, t0(0));
    CHECK_EQ(mc146818_next_irq(&s, t0(100 * MS)), INT64_MAX);    /* PIE off */
    CHECK(!mc146818_update(&s, t0(600 * MS)));
    CHECK_EQ(rd(&s, RTC_REG_C, t0(600 * MS)), RTC_C_PF);         /* flag without IRQF */
    mc146818_write(&s, RTC_REG_B, RTC_B_24H | RTC_B_PIE, t0(600 * MS));
    CHECK_EQ(mc146818_next_irq(&s, t0(600 * MS)), t0(NS));
    CHECK(mc146818_update(&s, t0(NS)));
    CHECK_EQ(mc146818_next_irq(&s, t0(NS)), INT64_MAX);          /* already high */
    CHECK_EQ(rd(&s, RTC_REG_C, t0(NS)), RTC_C_IRQF | RTC_C_PF | RTC_C_UF);
    /* rate 3: 8192 Hz, 122070.3125 ns */
    mc146818_write(&s, RTC_REG_A, RTC_A_DIVIDER_32K | 3, t0(NS));
    CHECK_EQ(mc146818_next_irq(&s, t0(NS)), t0(NS + 122071));
    /* update-ended only */
    mc146818_write(&s, RTC_REG_B, RTC_B_24H | RTC_B_UIE, t0(NS + 5));
    rd(&s, RTC_REG_C, t0(NS + 5));
    CHECK_EQ(mc146818_next_irq(&s, t0(NS + 5)), t0(2 * NS));
}

TEST(divider_reset_stops_everything)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    mc146818_write(&s, RTC_REG_B, RTC_B_24H | RTC_B_UIE | RTC_B_PIE, t0(0));
    mc146818_write(&s, RTC_REG_A, 0x70 | 6, t0(100 * MS));   /* divider held in reset */
    rd(&s, RTC_REG_C, t0(100 * MS));                          /* PF of the first 100 ms */
    CHECK_EQ(mc146818_next_irq(&s, t0(100 * MS)), INT64_MAX);
    CHECK_EQ(rd(&s, RTC_SECONDS, t0(10 * NS)), 0x30);
    CHECK_EQ(rd(&s, RTC_REG_A, t0(10 * NS + NS - 1)) & RTC_A_UIP, 0);
    CHECK(!mc146818_update(&s, t0(20 * NS)));
    CHECK_EQ(rd(&s, RTC_REG_C, t0(20 * NS)), 0);
    mc146818_write(&s, RTC_REG_B, RTC_B_24H | RTC_B_UIE, t0(20 * NS));
    mc146818_write(&s, RTC_REG_A, RTC_A_DIVIDER_32K | 6, t0(20 * NS));
    /* the first update half a second after the release */
    CHECK_EQ(mc146818_next_irq(&s, t0(20 * NS)), t0(20 * NS + 500 * MS));
    CHECK_EQ(rd(&s, RTC_SECONDS, t0(20 * NS + 600 * MS)), 0x31);
}

TEST(hostile_indexes_and_read_only_registers)
{
    struct mc146818 s;
    mc146818_init(&s, t0(0));
    mc146818_write(&s, 0x80 | 0x40, 0xab, t0(0));          /* index wraps to 0x40 */
    CHECK_EQ(rd(&s, 0x40, t0(0)), 0xab);
    mc146818_write(&s, RTC_REG_C, 0xff, t0(0));
    mc146818_write(&s, RTC_REG_D, 0x00, t0(0));
    CHECK_EQ(rd(&s, RTC_REG_C, t0(0)), 0);
    CHECK_EQ(rd(&s, RTC_REG_D, t0(0)), RTC_D_VRT);
    /* nonsense time bytes: month 0x1f, no crash; the clock still reads back */
    mc146818_write(&s, RTC_MONTH, 0x1f, t0(0));
    CHECK(rd(&s, RTC_MONTH, t0(0)) <= 0x12);
}
