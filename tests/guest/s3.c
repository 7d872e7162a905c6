/* s3: suspend to RAM and wake by RTC alarm. The guest fills 64 KiB with a
 * pattern, puts a resume trampoline at 0x8000 (lib/tramp.S) into the FACS
 * waking vector, sets the RTC alarm to fire half a second ahead (divider
 * released with the alarm at the next second), then writes SLP_TYP(\_S3_) |
 * SLP_EN. minivmm stops the vCPU; the alarm restarts it in real mode at the
 * vector; the trampoline returns to long mode and s3_resume checks RAM, the
 * WAK_STS bit and the RTC's alarm flag. Prints "s3: woke after N ms, 64 KiB
 * intact". Exit codes: 2 not stopped / RAM or status wrong, 3 tables missing. */
#include "pcplat.h"
#include "tramp.h"

#define PATTERN_WORDS (65536 / 8)
#define RESUME_STACK  8192

static uint64_t pattern[PATTERN_WORDS];
static char resume_stack[RESUME_STACK] __attribute__((section(".stack"), aligned(16)));
static struct acpi_info acpi;
static uint32_t sleep_start;

static uint64_t word(unsigned i) { return 0x5a5a000000000000ull ^ ((uint64_t)i * 0x9e3779b1u); }

static __attribute__((noreturn, used)) void s3_resume(void)
{
    uint32_t ms = pm_since(sleep_start) / (PM_TIMER_HZ / 1000);
    uint8_t status = inb(acpi.sleep_status);
    uint8_t c = cmos_read(RTC_REG_C);
    for (unsigned i = 0; i < PATTERN_WORDS; i++)
        if (pattern[i] != word(i))
            guest_fail(2, "RAM changed across S3: word %u is 0x%lx", i, (unsigned long)pattern[i]);
    if (!(status & 0x80))
        guest_fail(2, "WAK_STS not set after wake (status 0x%x)", status);
    if (!(c & RTC_C_AF))
        guest_fail(2, "RTC register C 0x%x after wake: no alarm flag", c);
    if (ms < 300 || ms > 2000)
        guest_fail(2, "woke after %u ms, the alarm was ~500 ms ahead", ms);
    outb(acpi.sleep_status, 0x80);
    if (inb(acpi.sleep_status) & 0x80)
        guest_fail(2, "WAK_STS does not clear");
    guest_printf("s3: woke after %u ms, 64 KiB intact\n", ms);
    puts("s3: ok\n");
    guest_exit(0);
}

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    acpi_find(info, &acpi);
    pm_timer_port = acpi.pm_timer;
    int slp_typ = acpi_sleep_type(&acpi, "_S3_");
    if (slp_typ < 0)
        guest_fail(3, "no \\_S3_ in the DSDT");

    for (unsigned i = 0; i < PATTERN_WORDS; i++)
        pattern[i] = word(i);
    tramp_install(EFER_LME, resume_stack, RESUME_STACK, s3_resume);   /* the one CPU: slot 0 */
    *(volatile uint32_t *)(acpi.facs + 12) = (uint32_t)TRAMP_BASE;

    sleep_start = rtc_alarm_next_second();

    outb(acpi.sleep_status, 0x80);                         /* clear WAK_STS */
    outb(acpi.sleep_control, (uint8_t)(slp_typ << 2 | 0x20));
    /* Not reached while asleep; the wake enters at the vector instead. */
    uint32_t t = pm_ticks();
    while (pm_since(t) < PM_MS(2000))
        cpu_relax();
    guest_fail(2, "still running 2 s after SLP_EN");
}
