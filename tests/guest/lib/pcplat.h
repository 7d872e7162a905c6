/* PC platform helpers for guest programs (64-bit entry only): the CMOS RTC,
 * the ACPI tables minivmm hands over (RSDP -> XSDT -> FADT -> FACS, DSDT),
 * the PM timer as a clock, and interrupts (IDT, local APIC, IOAPIC). Each
 * program includes this once; everything is static. */
#ifndef GUEST_PCPLAT_H
#define GUEST_PCPLAT_H

#include "guest.h"
#include "devices/mc146818.h"   /* register numbers and bits: #defines only */

#define CMOS_INDEX   0x70
#define CMOS_DATA    0x71
#define PM_TIMER_HZ  3579545u

static inline uint8_t cmos_read(uint8_t index)
{
    outb(CMOS_INDEX, index);
    return inb(CMOS_DATA);
}

static inline void cmos_write(uint8_t index, uint8_t v)
{
    outb(CMOS_INDEX, index);
    outb(CMOS_DATA, v);
}

static inline unsigned bcd(uint8_t v) { return (v >> 4) * 10u + (v & 0xf); }
static inline uint8_t to_bcd(unsigned v) { return (uint8_t)((v / 10) << 4 | v % 10); }

/* ---- ACPI: the tables minivmm built, found from hvm_start_info.rsdp_paddr ---- */
struct acpi_info {
    const uint8_t *fadt, *facs, *dsdt;
    uint16_t pm_timer, sleep_control, sleep_status;
};

static inline uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static inline void acpi_find(const struct hvm_start_info *si, struct acpi_info *a)
{
    memset(a, 0, sizeof(*a));
    if (si->magic != HVM_START_MAGIC || !si->rsdp_paddr)
        guest_fail(3, "no RSDP in the start info");
    const uint8_t *rsdp = (const uint8_t *)(uintptr_t)si->rsdp_paddr;
    const uint8_t *xsdt = (const uint8_t *)(uintptr_t)get64(rsdp + 24);
    for (uint32_t off = 36; off + 8 <= get32(xsdt + 4); off += 8) {
        const uint8_t *t = (const uint8_t *)(uintptr_t)get64(xsdt + off);
        if (!strncmp((const char *)t, "FACP", 4))
            a->fadt = t;
    }
    if (!a->fadt)
        guest_fail(3, "no FADT in the XSDT");
    a->facs = (const uint8_t *)(uintptr_t)get64(a->fadt + 132);
    a->dsdt = (const uint8_t *)(uintptr_t)get64(a->fadt + 140);
    a->pm_timer = (uint16_t)get64(a->fadt + 208 + 4);
    a->sleep_control = (uint16_t)get64(a->fadt + 244 + 4);
    a->sleep_status = (uint16_t)get64(a->fadt + 256 + 4);
    if (!a->facs || strncmp((const char *)a->facs, "FACS", 4))
        guest_fail(3, "no FACS at X_FIRMWARE_CTRL");
}

/* SLP_TYP of \_Sx_ ("_S3_"): the package's first element, or -1. */
static inline int acpi_sleep_type(const struct acpi_info *a, const char *name)
{
    uint32_t len = get32(a->dsdt + 4);
    for (uint32_t i = 36; i + 8 < len; i++) {
        const uint8_t *p = a->dsdt + i;
        if (strncmp((const char *)p, name, 4) || p[4] != 0x12)
            continue;
        const uint8_t *e = p + 5 + 1 + (p[5] >> 6) + 1;   /* PkgLength, NumElements */
        if (*e == 0x00 || *e == 0x01)
            return *e;                                     /* Zero, One */
        if (*e == 0x0a)
            return e[1];                                   /* BytePrefix */
    }
    return -1;
}

/* ---- the PM timer as a bounded-wait clock ---- */
static uint16_t pm_timer_port;

static inline uint32_t pm_ticks(void) { return inl(pm_timer_port); }

/* Elapsed PM-timer ticks since `start` (32 bits: wraps after 20 minutes). */
static inline uint32_t pm_since(uint32_t start) { return pm_ticks() - start; }
#define PM_MS(ms) ((uint32_t)((uint64_t)(ms) * PM_TIMER_HZ / 1000))

/* RTC (BCD, 24-hour): the alarm interrupt armed for the next second, set
 * while the divider is held in reset and released last, so it comes about
 * half a second after the release. Register C is read on the way, clearing
 * any stale flag. Returns the PM timer at the release. */
static inline uint32_t rtc_alarm_next_second(void)
{
    cmos_write(RTC_REG_A, RTC_A_DIVIDER);
    uint8_t sec = cmos_read(RTC_SECONDS);
    cmos_write(RTC_SECONDS_ALARM, to_bcd((bcd(sec) + 1) % 60));
    cmos_write(RTC_MINUTES_ALARM, RTC_ALARM_DONT_CARE);
    cmos_write(RTC_HOURS_ALARM, RTC_ALARM_DONT_CARE);
    cmos_read(RTC_REG_C);
    cmos_write(RTC_REG_B, RTC_B_24H | RTC_B_AIE);
    uint32_t t = pm_ticks();
    cmos_write(RTC_REG_A, RTC_A_DIVIDER_32K);
    return t;
}

/* ---- interrupts ---- */
#define LAPIC_BASE   0xfee00000ul
#define LAPIC_TPR    0x080
#define LAPIC_EOI    0x0b0
#define LAPIC_SVR    0x0f0
#define LAPIC_LVT_LINT0 0x350
#define IOAPIC_BASE  0xfec00000ul
#define IOAPIC_SELECT 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_EOI   0x40
#define RTE_LEVEL      (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_MASKED     (1u << 16)

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

static inline void idt_set(unsigned vector, void *handler)
{
    uint64_t h = (uint64_t)(uintptr_t)handler;
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    idt[vector] = (struct idt_gate){ .off0 = (uint16_t)h, .sel = cs, .type = 0x8e,
                                     .off1 = (uint16_t)(h >> 16), .off2 = (uint32_t)(h >> 32) };
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = {
        sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" :: "m"(d));
}

/* The local APIC on; the 8259s masked and LINT0 (their virtual wire, which
 * KVM leaves open on the boot CPU) masked, so only IOAPIC routes arrive. */
static inline void lapic_enable(void)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    mmio_write32(LAPIC_BASE + LAPIC_LVT_LINT0, 0x10000);
    mmio_write32(LAPIC_BASE + LAPIC_TPR, 0);
    mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff);   /* enabled, spurious vector 0xff */
}

static inline void lapic_eoi(void) { mmio_write32(LAPIC_BASE + LAPIC_EOI, 0); }

/* IOAPIC registers through the select/window pair. */
static inline uint32_t ioapic_read(uint8_t reg)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_SELECT, reg);
    return mmio_read32(IOAPIC_BASE + IOAPIC_WINDOW);
}

static inline void ioapic_write(uint8_t reg, uint32_t v)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_SELECT, reg);
    mmio_write32(IOAPIC_BASE + IOAPIC_WINDOW, v);
}

/* The whole redirection entry of `pin`, high half (destination) first so the
 * entry is never live with a stale destination. */
static inline void ioapic_set_rte(unsigned pin, uint64_t rte)
{
    ioapic_write((uint8_t)(0x11 + 2 * pin), (uint32_t)(rte >> 32));
    ioapic_write((uint8_t)(0x10 + 2 * pin), (uint32_t)rte);
}

static inline uint32_t ioapic_rte_low(unsigned pin) { return ioapic_read((uint8_t)(0x10 + 2 * pin)); }

/* IOAPIC input `gsi` -> `vector` on APIC 0: fixed, edge, active high. */
static inline void ioapic_route(unsigned gsi, uint8_t vector) { ioapic_set_rte(gsi, vector); }

static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }

struct interrupt_frame;

#endif
