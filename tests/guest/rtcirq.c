/* rtcirq: RTC interrupts through the IOAPIC (GSI 8 -> vector 0x40) to the
 * local APIC. First the periodic interrupt at 1024 Hz (three of them), then an
 * alarm: with the divider held in reset the guest sets the alarm to the next
 * second and releases the divider, so the first update, half a second later,
 * matches it. Prints
 *   rtcirq: periodic 3 (PF each)
 *   rtcirq: alarm after N ms
 * Exit codes: 2 no or wrong interrupt within the bound, 3 no ACPI tables. */
#include "pcplat.h"

#define RTC_VECTOR 0x40

static volatile unsigned irqs;
static volatile uint8_t last_c;

__attribute__((interrupt)) static void rtc_isr(struct interrupt_frame *f)
{
    (void)f;
    last_c = cmos_read(RTC_REG_C);        /* acknowledges: the line drops */
    irqs = irqs + 1;
    lapic_eoi();
}

/* Interrupts on, until `n` interrupts or `ms` milliseconds of PM timer. */
static void wait_irqs(unsigned n, unsigned ms)
{
    uint32_t t0 = pm_ticks();
    sti();
    while (irqs < n && pm_since(t0) < PM_MS(ms))
        cpu_relax();
    cli();
}

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    struct acpi_info a;
    acpi_find(info, &a);
    pm_timer_port = a.pm_timer;

    idt_set(RTC_VECTOR, rtc_isr);
    lapic_enable();
    ioapic_route(8, RTC_VECTOR);

    /* periodic, 1024 Hz */
    cmos_write(RTC_REG_A, RTC_A_DIVIDER_32K | 6);
    cmos_read(RTC_REG_C);
    cmos_write(RTC_REG_B, RTC_B_24H | RTC_B_PIE);
    wait_irqs(3, 200);
    cmos_write(RTC_REG_B, RTC_B_24H);
    cmos_read(RTC_REG_C);
    if (irqs < 3)
        guest_fail(2, "%u periodic interrupts in 200 ms, want 3", irqs);
    if (!(last_c & RTC_C_PF) || !(last_c & RTC_C_IRQF))
        guest_fail(2, "register C 0x%x in the periodic handler", last_c);
    guest_printf("rtcirq: periodic %u (PF each)\n", irqs);

    /* alarm: at the next second, about 500 ms after the divider's release */
    irqs = 0;
    last_c = 0;
    uint32_t t0 = rtc_alarm_next_second();
    wait_irqs(1, 1500);
    uint32_t ms = pm_since(t0) / (PM_TIMER_HZ / 1000);
    cmos_write(RTC_REG_B, RTC_B_24H);
    if (irqs != 1 || !(last_c & RTC_C_AF))
        guest_fail(2, "alarm: %u interrupts, register C 0x%x after %u ms", irqs, last_c, ms);
    if (ms < 400 || ms > 900)
        guest_fail(2, "alarm after %u ms, want ~500", ms);
    guest_printf("rtcirq: alarm after %u ms\n", ms);
    puts("rtcirq: ok\n");
    return 0;
}
