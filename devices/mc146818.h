/* The MC146818 real-time clock and CMOS RAM as register logic, without ports,
 * threads or KVM (the device around it is devices/rtc.c), so unit tests drive
 * it with a clock of their own.
 *
 * Every call takes the host's CLOCK_REALTIME in nanoseconds. The guest's clock
 * is the host's plus an offset the guest sets by writing the time registers;
 * registers 0-9 and the century (0x32) are computed from it on each read, in
 * the current data mode (BCD or binary, 12 or 24 hours). While the SET bit or
 * a divider reset stops the clock, they hold what was last read or written,
 * and the clock restarts at that second when it is released.
 *
 * Interrupt flags (register C) are accounted lazily: each call first adds the
 * periodic, alarm and update-ended events that happened since the last call.
 * IRQF and the IRQ line follow PF&PIE | AF&AIE | UF&UIE; reading C clears it.
 */
#ifndef MINIVMM_MC146818_H
#define MINIVMM_MC146818_H

#include <stdbool.h>
#include <stdint.h>

#define RTC_SECONDS        0x00
#define RTC_SECONDS_ALARM  0x01
#define RTC_MINUTES        0x02
#define RTC_MINUTES_ALARM  0x03
#define RTC_HOURS          0x04
#define RTC_HOURS_ALARM    0x05
#define RTC_DAY_OF_WEEK    0x06
#define RTC_DAY_OF_MONTH   0x07
#define RTC_MONTH          0x08
#define RTC_YEAR           0x09
#define RTC_REG_A          0x0a
#define RTC_REG_B          0x0b
#define RTC_REG_C          0x0c
#define RTC_REG_D          0x0d
#define RTC_CENTURY        0x32   /* as the FADT's CENTURY field says */

#define RTC_A_UIP          0x80
#define RTC_A_DIVIDER      0x70
#define RTC_A_DIVIDER_32K  0x20   /* normal operation from a 32.768 kHz crystal */
#define RTC_A_RATE         0x0f
#define RTC_B_SET          0x80
#define RTC_B_PIE          0x40
#define RTC_B_AIE          0x20
#define RTC_B_UIE          0x10
#define RTC_B_SQWE         0x08
#define RTC_B_BINARY       0x04
#define RTC_B_24H          0x02
#define RTC_B_DSE          0x01
#define RTC_C_IRQF         0x80
#define RTC_C_PF           0x40
#define RTC_C_AF           0x20
#define RTC_C_UF           0x10
#define RTC_D_VRT          0x80
#define RTC_HOUR_PM        0x80   /* 12-hour mode */
#define RTC_ALARM_DONT_CARE 0xc0  /* an alarm byte >= this matches every value */

/* UIP is set for this long before each update (244 us on the real part). */
#define RTC_UIP_NS         244000

#define CMOS_SIZE          128

struct mc146818 {
    uint8_t cmos[CMOS_SIZE];   /* registers A-D, alarms, frozen time, CMOS RAM */
    int64_t offset_ns;         /* guest clock = host clock + offset (when running) */
    int64_t accounted_ns;      /* guest time up to which events are in register C */
    bool frozen;               /* SET, or the divider held in reset */
};

/* Power-on state: clock = host clock (UTC), 24-hour BCD, divider running,
 * no interrupts enabled; the rest of CMOS RAM zero. */
void mc146818_init(struct mc146818 *s, int64_t now_ns);
uint8_t mc146818_read(struct mc146818 *s, uint8_t index, int64_t now_ns);
void mc146818_write(struct mc146818 *s, uint8_t index, uint8_t val, int64_t now_ns);
/* Accounts events up to now_ns; the level of the IRQ line (IRQF). */
bool mc146818_update(struct mc146818 *s, int64_t now_ns);
/* Host time of the next event that would raise the IRQ line, or INT64_MAX
 * (line already high, nothing enabled, clock stopped). */
int64_t mc146818_next_irq(struct mc146818 *s, int64_t now_ns);

#endif
