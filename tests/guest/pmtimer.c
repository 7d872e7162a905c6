/* pmtimer: the ACPI PM timer the FADT announces (X_PM_TMR_BLK, 32 bits with
 * TMR_VAL_EXT) measured against the TSC, whose rate comes from KVM's clock
 * (kvmclock: tsc_to_system_mul/tsc_shift convert TSC ticks to nanoseconds).
 * Over 30 ms the PM timer must count 3579545 Hz within 1 % and never go back.
 * Prints "pmtimer: N Hz over M us". Exit codes: 2 wrong rate or not monotonic,
 * 3 tables or kvmclock missing. */
#include "pcplat.h"

#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)

struct pvclock {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad[2];
} __attribute__((packed));

static volatile struct pvclock clock __attribute__((aligned(64)));

static void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint64_t tsc_to_ns(uint64_t delta)
{
    int8_t shift = clock.tsc_shift;
    delta = shift < 0 ? delta >> -shift : delta << shift;
    return (uint64_t)(((unsigned __int128)delta * clock.tsc_to_system_mul) >> 32);
}

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    struct acpi_info a;
    acpi_find(info, &a);
    pm_timer_port = a.pm_timer;
    const uint8_t *g = a.fadt + 208;
    uint32_t flags = get32(a.fadt + 112);
    if (g[0] != 1 || g[1] != 32 || !pm_timer_port || !(flags & (1u << 8)) || a.fadt[91] != 4)
        guest_fail(3, "FADT: X_PM_TMR_BLK space %u width %u port 0x%x, TMR_VAL_EXT %u", g[0],
                   g[1], pm_timer_port, !!(flags & (1u << 8)));

    uint32_t r[4];
    cpuid(0x40000000, r);
    if (r[1] != 0x4b4d564b || r[0] < 0x40000001)                  /* "KVMK" */
        guest_fail(3, "no KVM CPUID leaves");
    cpuid(0x40000001, r);
    if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
        guest_fail(3, "no kvmclock (KVM features 0x%x)", r[0]);
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&clock | 1);
    for (unsigned i = 0; i < 1000 && !clock.tsc_to_system_mul; i++)
        cpu_relax();
    if (!clock.tsc_to_system_mul)
        guest_fail(3, "kvmclock left tsc_to_system_mul at 0");

    uint32_t p0 = pm_ticks(), prev = p0, p1;
    uint64_t t0 = rdtsc();
    do {
        p1 = pm_ticks();
        if ((int32_t)(p1 - prev) < 0)
            guest_fail(2, "PM timer went back: 0x%x after 0x%x", p1, prev);
        prev = p1;
    } while (p1 - p0 < PM_MS(30));
    uint64_t t1 = rdtsc();
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);

    uint64_t ns = tsc_to_ns(t1 - t0);
    uint64_t hz = (uint64_t)(p1 - p0) * 1000000000ull / (ns ? ns : 1);
    guest_printf("pmtimer: %lu Hz over %lu us\n", (unsigned long)hz, (unsigned long)(ns / 1000));
    if (hz < PM_TIMER_HZ - PM_TIMER_HZ / 100 || hz > PM_TIMER_HZ + PM_TIMER_HZ / 100)
        guest_fail(2, "PM timer at %lu Hz, want %u within 1 %%", (unsigned long)hz, PM_TIMER_HZ);
    puts("pmtimer: ok\n");
    return 0;
}
