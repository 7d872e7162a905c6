/* MC146818 register logic (see mc146818.h). */
#include "devices/mc146818.h"

#include <time.h>

#define NS_PER_SEC      1000000000ll
#define SEC_PER_DAY     86400ll
#define RTC_CRYSTAL_HZ  32768
/* After a divider reset ends, the first update comes half a second later. */
#define RTC_DIVIDER_RELEASE_NS (NS_PER_SEC / 2)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool divider_running(const struct mc146818 *s)
{
    return (s->cmos[RTC_REG_A] & RTC_A_DIVIDER) == RTC_A_DIVIDER_32K;
}

static bool binary_mode(const struct mc146818 *s)
{
    return s->cmos[RTC_REG_B] & RTC_B_BINARY;
}

static uint8_t to_reg(const struct mc146818 *s, unsigned v)
{
    return binary_mode(s) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_reg(const struct mc146818 *s, uint8_t r)
{
    return binary_mode(s) ? r : (r >> 4) * 10u + (r & 0xf);
}

static uint8_t hour_to_reg(const struct mc146818 *s, unsigned h)
{
    if (s->cmos[RTC_REG_B] & RTC_B_24H)
        return to_reg(s, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return to_reg(s, h12) | (h >= 12 ? RTC_HOUR_PM : 0);
}

/* 0-23; values the mode cannot hold come out >= 24. */
static unsigned hour_from_reg(const struct mc146818 *s, uint8_t r)
{
    if (s->cmos[RTC_REG_B] & RTC_B_24H)
        return from_reg(s, r);
    unsigned h12 = from_reg(s, r & ~RTC_HOUR_PM);
    if (h12 == 0 || h12 > 12)
        return 24;
    return h12 % 12 + (r & RTC_HOUR_PM ? 12 : 0);
}

static int64_t guest_ns(const struct mc146818 *s, int64_t now_ns)
{
    return now_ns + s->offset_ns;
}

/* The time registers from the guest clock at now_ns. */
static void latch_time(struct mc146818 *s, int64_t now_ns)
{
    time_t secs = (time_t)floor_div(guest_ns(s, now_ns), NS_PER_SEC);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return;
    unsigned year = (unsigned)tm.tm_year + 1900;
    s->cmos[RTC_SECONDS] = to_reg(s, (unsigned)tm.tm_sec);
    s->cmos[RTC_MINUTES] = to_reg(s, (unsigned)tm.tm_min);
    s->cmos[RTC_HOURS] = hour_to_reg(s, (unsigned)tm.tm_hour);
    s->cmos[RTC_DAY_OF_WEEK] = to_reg(s, (unsigned)tm.tm_wday + 1);
    s->cmos[RTC_DAY_OF_MONTH] = to_reg(s, (unsigned)tm.tm_mday);
    s->cmos[RTC_MONTH] = to_reg(s, (unsigned)tm.tm_mon + 1);
    s->cmos[RTC_YEAR] = to_reg(s, year % 100);
    s->cmos[RTC_CENTURY] = to_reg(s, (year / 100) % 100);
}

/* Seconds since the epoch that the time registers hold. Out-of-range fields
 * (month 13, minute 75) carry over as timegm normalises them. */
static int64_t registers_to_secs(const struct mc146818 *s)
{
    unsigned hour = hour_from_reg(s, s->cmos[RTC_HOURS]);
    struct tm tm = {
        .tm_sec = (int)from_reg(s, s->cmos[RTC_SECONDS]),
        .tm_min = (int)from_reg(s, s->cmos[RTC_MINUTES]),
        .tm_hour = hour < 24 ? (int)hour : 0,
        .tm_mday = (int)from_reg(s, s->cmos[RTC_DAY_OF_MONTH]),
        .tm_mon = (int)from_reg(s, s->cmos[RTC_MONTH]) - 1,
        .tm_year = (int)(from_reg(s, s->cmos[RTC_CENTURY]) * 100 +
                         from_reg(s, s->cmos[RTC_YEAR])) - 1900,
    };
    return (int64_t)timegm(&tm);
}

/* Starts the clock at the registers' time plus `phase_ns`. */
static void restart_clock(struct mc146818 *s, int64_t now_ns, int64_t phase_ns)
{
    s->offset_ns = registers_to_secs(s) * NS_PER_SEC + phase_ns - now_ns;
    s->accounted_ns = guest_ns(s, now_ns);
}

/* Periodic rate in 32.768 kHz ticks; 0 when off. Rates 1 and 2 repeat 8 and 9. */
static int64_t periodic_ticks(const struct mc146818 *s)
{
    unsigned rate = s->cmos[RTC_REG_A] & RTC_A_RATE;
    if (rate == 0)
        return 0;
    if (rate < 3)
        rate += 7;
    return 1ll << (rate - 1);
}

static int64_t ns_to_ticks(int64_t ns)
{
    return (int64_t)(((__int128)ns * RTC_CRYSTAL_HZ - (ns < 0 ? NS_PER_SEC - 1 : 0)) /
                     NS_PER_SEC);
}

static int64_t ticks_to_ns_ceil(int64_t ticks)
{
    __int128 n = (__int128)ticks * NS_PER_SEC;
    return (int64_t)((n + (n > 0 ? RTC_CRYSTAL_HZ - 1 : 0)) / RTC_CRYSTAL_HZ);
}

/* First second t > after_sec at which the alarm registers match, or INT64_MAX.
 * A byte with both top bits set matches anything; a value the mode cannot hold
 * never matches. At most two days of hours and minutes are searched. */
static int64_t next_alarm_sec(const struct mc146818 *s, int64_t after_sec)
{
    uint8_t ra_s = s->cmos[RTC_SECONDS_ALARM], ra_m = s->cmos[RTC_MINUTES_ALARM];
    uint8_t ra_h = s->cmos[RTC_HOURS_ALARM];
    bool any_s = (ra_s & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE;
    bool any_m = (ra_m & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE;
    bool any_h = (ra_h & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE;
    unsigned want_s = from_reg(s, ra_s), want_m = from_reg(s, ra_m);
    unsigned want_h = hour_from_reg(s, ra_h);
    if ((!any_s && want_s > 59) || (!any_m && want_m > 59) || (!any_h && want_h > 23))
        return INT64_MAX;

    int64_t t0 = after_sec + 1;
    int64_t day = floor_div(t0, SEC_PER_DAY) * SEC_PER_DAY;
    int64_t tod = t0 - day;
    for (int d = 0; d < 2; d++, day += SEC_PER_DAY, tod = 0) {
        for (unsigned h = 0; h < 24; h++) {
            if ((!any_h && h != want_h) || (int64_t)h * 3600 + 3599 < tod)
                continue;
            for (unsigned m = 0; m < 60; m++) {
                int64_t start = (int64_t)h * 3600 + m * 60;
                if ((!any_m && m != want_m) || start + 59 < tod)
                    continue;
                int64_t cand = any_s ? (start < tod ? tod : start) : start + want_s;
                if (cand >= tod)
                    return day + cand;
            }
        }
    }
    return INT64_MAX;
}

void mc146818_init(struct mc146818 *s, int64_t now_ns)
{
    *s = (struct mc146818){ 0 };
    s->cmos[RTC_REG_A] = RTC_A_DIVIDER_32K | 0x6;   /* 1024 Hz, as firmware leaves it */
    s->cmos[RTC_REG_B] = RTC_B_24H;
    s->cmos[RTC_REG_D] = RTC_D_VRT;
    s->accounted_ns = now_ns;
}

bool mc146818_update(struct mc146818 *s, int64_t now_ns)
{
    uint8_t *c = &s->cmos[RTC_REG_C];
    if (divider_running(s)) {
        int64_t prev = s->accounted_ns, cur = guest_ns(s, now_ns);
        int64_t period = periodic_ticks(s);
        if (cur > prev) {
            if (period &&
                floor_div(ns_to_ticks(cur), period) > floor_div(ns_to_ticks(prev), period))
                *c |= RTC_C_PF;
            int64_t prev_sec = floor_div(prev, NS_PER_SEC), cur_sec = floor_div(cur, NS_PER_SEC);
            if (!s->frozen && cur_sec > prev_sec) {
                *c |= RTC_C_UF;
                if (next_alarm_sec(s, prev_sec) <= cur_sec)
                    *c |= RTC_C_AF;
            }
            s->accounted_ns = cur;
        }
    }
    /* PF/AF/UF and PIE/AIE/UIE share bit positions. */
    if (*c & s->cmos[RTC_REG_B] & (RTC_C_PF | RTC_C_AF | RTC_C_UF))
        *c |= RTC_C_IRQF;
    return *c & RTC_C_IRQF;
}

int64_t mc146818_next_irq(struct mc146818 *s, int64_t now_ns)
{
    if (mc146818_update(s, now_ns) || !divider_running(s))
        return INT64_MAX;
    int64_t cur = guest_ns(s, now_ns), next = INT64_MAX;
    uint8_t b = s->cmos[RTC_REG_B];
    int64_t period = periodic_ticks(s);
    if ((b & RTC_B_PIE) && period)
        next = ticks_to_ns_ceil((floor_div(ns_to_ticks(cur), period) + 1) * period);
    if (!s->frozen) {
        int64_t sec = floor_div(cur, NS_PER_SEC);
        if ((b & RTC_B_UIE) && (sec + 1) * NS_PER_SEC < next)
            next = (sec + 1) * NS_PER_SEC;
        int64_t alarm = (b & RTC_B_AIE) ? next_alarm_sec(s, sec) : INT64_MAX;
        if (alarm != INT64_MAX && alarm * NS_PER_SEC < next)
            next = alarm * NS_PER_SEC;
    }
    return next == INT64_MAX ? INT64_MAX : next - s->offset_ns;
}

static bool is_time_register(uint8_t index)
{
    return index == RTC_SECONDS || index == RTC_MINUTES || index == RTC_HOURS ||
           (index >= RTC_DAY_OF_WEEK && index <= RTC_YEAR) || index == RTC_CENTURY;
}

uint8_t mc146818_read(struct mc146818 *s, uint8_t index, int64_t now_ns)
{
    index &= CMOS_SIZE - 1;
    mc146818_update(s, now_ns);
    if (is_time_register(index) && !s->frozen)
        latch_time(s, now_ns);
    switch (index) {
    case RTC_REG_A: {
        int64_t sub = guest_ns(s, now_ns) - floor_div(guest_ns(s, now_ns), NS_PER_SEC) * NS_PER_SEC;
        bool uip = !s->frozen && sub >= NS_PER_SEC - RTC_UIP_NS;
        return (s->cmos[RTC_REG_A] & ~RTC_A_UIP) | (uip ? RTC_A_UIP : 0);
    }
    case RTC_REG_C: {
        uint8_t val = s->cmos[RTC_REG_C];
        s->cmos[RTC_REG_C] = 0;
        return val;
    }
    default:
        return s->cmos[index];
    }
}

void mc146818_write(struct mc146818 *s, uint8_t index, uint8_t val, int64_t now_ns)
{
    index &= CMOS_SIZE - 1;
    mc146818_update(s, now_ns);
    bool was_frozen = s->frozen, was_running = divider_running(s);
    if (is_time_register(index)) {
        if (!was_frozen) {
            /* Set one field of the running clock, keeping the sub-second phase. */
            int64_t g = guest_ns(s, now_ns);
            latch_time(s, now_ns);
            s->cmos[index] = val;
            restart_clock(s, now_ns, g - floor_div(g, NS_PER_SEC) * NS_PER_SEC);
        } else {
            s->cmos[index] = val;
        }
        return;
    }
    switch (index) {
    case RTC_REG_A:
        s->cmos[RTC_REG_A] = val & ~RTC_A_UIP;
        break;
    case RTC_REG_B:
        /* Setting SET clears UIE, as on the real part. */
        s->cmos[RTC_REG_B] = (val & RTC_B_SET) ? (uint8_t)(val & ~RTC_B_UIE) : val;
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        return;     /* read-only */
    default:
        s->cmos[index] = val;
        return;
    }
    s->frozen = (s->cmos[RTC_REG_B] & RTC_B_SET) || !divider_running(s);
    if (!was_frozen && s->frozen) {
        latch_time(s, now_ns);    /* in the mode just written */
    } else if (was_frozen && !s->frozen) {
        restart_clock(s, now_ns, was_running ? 0 : RTC_DIVIDER_RELEASE_NS);
    } else if (!was_running && divider_running(s)) {
        s->accounted_ns = guest_ns(s, now_ns);   /* periodic ticks restart */
    }
}
