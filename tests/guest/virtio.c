/* A virtio-rng driver over the modern virtio-pci transport, from scratch:
 * finds 1af4:1044 through 0xCF8, places BAR 4 at 0xc0000000, walks the vendor
 * capabilities, negotiates VERSION_1 (+ ACCESS_PLATFORM when offered), sets up
 * queue 0 as a split ring and reads entropy from the source the runner made
 * ("minivmm-rng-src:..."). Then it is hostile, one malformed request at a time
 * (a descriptor loop, a chain running off the table, indirect inside indirect,
 * a bad indirect table, a length that wraps, buffers outside RAM and in MMIO, a
 * read-only buffer for entropy, avail->idx jumping by more than the queue):
 * each must leave the device in NEEDS_RESET with the config bit in the ISR, and
 * after a reset the next request is served again.
 *
 * Then MSI-X: the queue's vector unmasked delivers an interrupt per request
 * (minivmm: an irqfd on an MSI route); masked, the request completes with the
 * vector's pending bit set and no interrupt, and the unmask delivers it.
 *
 * With `iommu=1` on the command line it first programs the VT-d unit at
 * 0xfed90000: root -> context -> 4-level second-level tables mapping IOVA
 * 0..2 MiB to guest-physical 2..4 MiB, turns translation on and runs the same
 * request through it; then it unmaps the rings, invalidates the IOTLB and
 * checks that the next request faults in the IOMMU instead of being written.
 *
 * Prints "virtio: ok" and exits 0; any failure prints why and exits non-zero. */
#include <stdbool.h>

#include "pcplat.h"

#define BAR_ADDR      0xc0000000ull
#define RING_GPA      0x200000ull        /* where the driver's memory really is */
#define VTD           0xfed90000ull
#define QSIZE         8
#define DESC          0x0000
#define AVAIL         0x1000
#define USED          0x2000
#define BUF           0x3000
#define VIRTIO_F_INDIRECT (1u << 28)

static uint8_t devfn;
static uint64_t common, notify, isr;
static uint32_t notify_mult;
static uint64_t dma_base;   /* the device's view of RING_GPA: itself, or IOVA 0 */
static uint16_t avail_idx;

static uint32_t cfg_read(unsigned off, unsigned len)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (off & 0xfc));
    if (len == 1)
        return inb((uint16_t)(0xcfc + (off & 3)));
    if (len == 2)
        return inw((uint16_t)(0xcfc + (off & 2)));
    return inl(0xcfc);
}

static void cfg_write32(unsigned off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (off & 0xfc));
    outl(0xcfc, v);
}

static volatile uint8_t *gpa(uint64_t off) { return (volatile uint8_t *)(RING_GPA + off); }
static volatile uint16_t *u16at(uint64_t off) { return (volatile uint16_t *)gpa(off); }
static volatile uint32_t *u32at(uint64_t off) { return (volatile uint32_t *)gpa(off); }

static bool find_device(void)
{
    for (unsigned slot = 0; slot < 32; slot++) {
        devfn = (uint8_t)(slot << 3);
        if (cfg_read(0, 4) == (0x1044u << 16 | 0x1af4u))
            return true;
    }
    return false;
}

static bool find_caps(void)
{
    cfg_write32(0x20, (uint32_t)BAR_ADDR);   /* BAR 4 (64-bit: BAR 5 is the high half) */
    cfg_write32(0x24, 0);
    cfg_write32(0x04, 0x6);                  /* memory decode, bus master */
    for (unsigned c = cfg_read(0x34, 1); c; c = cfg_read(c + 1, 1)) {
        if (cfg_read(c, 1) != 0x09 || cfg_read(c + 4, 1) != 4)
            continue;
        uint64_t at = BAR_ADDR + cfg_read(c + 8, 4);
        switch (cfg_read(c + 3, 1)) {
        case 1: common = at; break;
        case 2: notify = at; notify_mult = cfg_read(c + 16, 4); break;
        case 3: isr = at; break;
        }
    }
    return common && notify && isr;
}

static bool wait_status_zero(void)
{
    mmio_write8(common + 0x14, 0);
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 4000000000ull;)
        if (mmio_read8(common + 0x14) == 0)
            return true;
    return false;
}

/* Reset, negotiate, queue 0, DRIVER_OK. */
static bool setup(void)
{
    if (!wait_status_zero()) {
        puts("virtio: reset never completed\n");
        return false;
    }
    mmio_write8(common + 0x14, 1 | 2);
    mmio_write32(common + 0x00, 1);
    uint32_t hi = mmio_read32(common + 0x04);
    if (!(hi & 1)) {
        puts("virtio: VERSION_1 not offered\n");
        return false;
    }
    mmio_write32(common + 0x00, 0);
    mmio_write32(common + 0x08, 0);
    mmio_write32(common + 0x0c, mmio_read32(common + 0x04) & VIRTIO_F_INDIRECT);
    mmio_write32(common + 0x08, 1);
    mmio_write32(common + 0x0c, hi & 3);     /* VERSION_1, ACCESS_PLATFORM if offered */
    mmio_write8(common + 0x14, 1 | 2 | 8);
    if (!(mmio_read8(common + 0x14) & 8)) {
        puts("virtio: FEATURES_OK refused\n");
        return false;
    }
    memset((void *)RING_GPA, 0, 0x4000);
    avail_idx = 0;
    mmio_write16(common + 0x16, 0);
    mmio_write16(common + 0x18, QSIZE);
    /* 64-bit fields as two 32-bit halves, as the spec allows (and Linux does). */
    const uint64_t rings[3] = { dma_base + DESC, dma_base + AVAIL, dma_base + USED };
    for (unsigned i = 0; i < 3; i++) {
        mmio_write32(common + 0x20 + 8 * i, (uint32_t)rings[i]);
        mmio_write32(common + 0x24 + 8 * i, (uint32_t)(rings[i] >> 32));
    }
    mmio_write16(common + 0x1c, 1);
    mmio_write8(common + 0x14, 1 | 2 | 8 | 4);
    return true;
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    volatile uint64_t *d = (volatile uint64_t *)gpa(DESC + 16 * i);
    d[0] = addr;
    u32at(DESC + 16 * i + 8)[0] = len;
    u16at(DESC + 16 * i + 12)[0] = flags;
    u16at(DESC + 16 * i + 14)[0] = next;
}

static void publish(uint16_t head)
{
    u16at(AVAIL + 4 + 2 * (avail_idx % QSIZE))[0] = head;
    barrier();                               /* x86 keeps stores in order */
    avail_idx++;
    u16at(AVAIL + 2)[0] = avail_idx;
    mmio_write16(notify + 0 * notify_mult, 0);
}

/* Waits until used->idx reaches `want`; false after ~1 s. */
static bool wait_used(uint16_t want, uint64_t cycles)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < cycles;)
        if (u16at(USED + 2)[0] == want)
            return true;
    return false;
}

static bool rng_request(void)
{
    memset((void *)(RING_GPA + BUF), 0, 64);
    desc(0, dma_base + BUF, 64, 2 /* WRITE */, 0);
    uint16_t want = (uint16_t)(avail_idx + 1);
    publish(0);
    if (!wait_used(want, 2000000000ull)) {
        guest_printf("virtio: request %u not completed (status 0x%x)\n", want,
                     mmio_read8(common + 0x14));
        return false;
    }
    uint32_t len = u32at(USED + 4 + 8 * ((want - 1) % QSIZE) + 4)[0];
    if (len != 64 || strncmp((const char *)(RING_GPA + BUF), "minivmm-rng-src:", 16)) {
        guest_printf("virtio: request %u: len %u, data '%c%c%c...'\n", want, len,
                     gpa(BUF)[0], gpa(BUF)[1], gpa(BUF)[2]);
        return false;
    }
    return true;
}

/* One malformed request (descriptors set up by `make`, published from head
 * 0 unless it moves avail->idx itself) must end in NEEDS_RESET + ISR bit 1. */
typedef struct Hostile {
    const char *what;
    void (*make)(void);
} Hostile;

static void bad_loop(void)
{
    desc(0, dma_base + BUF, 8, 1 | 2, 1);
    desc(1, dma_base + BUF, 8, 1 | 2, 0);
    publish(0);
}

static void bad_next_beyond_table(void)
{
    for (unsigned i = 0; i < QSIZE; i++)
        desc(i, dma_base + BUF, 8, 1 | 2, (uint16_t)(i + 1));   /* the last: next = QSIZE */
    publish(0);
}

static void bad_nested_indirect(void)
{
    volatile uint64_t *t = (volatile uint64_t *)gpa(BUF + 0x100);
    t[0] = dma_base + BUF + 0x200;          /* an indirect entry inside the table */
    t[1] = 16 | (uint64_t)4 << 32;          /* len 16, flags INDIRECT */
    desc(0, dma_base + BUF + 0x100, 16, 4, 0);
    publish(0);
}

static void bad_indirect_len(void)
{
    desc(0, dma_base + BUF + 0x100, 15, 4, 0);   /* not a whole number of entries */
    publish(0);
}

static void bad_wrapping_len(void)
{
    desc(0, 0xfffffffffffff000ull, 0x2000, 2, 0);
    publish(0);
}

static void bad_outside_ram(void)
{
    desc(0, 0x4000000000ull, 64, 2, 0);     /* 256 GiB: no RAM there */
    publish(0);
}

static void bad_in_mmio(void)
{
    desc(0, 0xfec00000ull, 64, 2, 0);       /* the IOAPIC */
    publish(0);
}

static void bad_direction(void)
{
    desc(0, dma_base + BUF, 64, 0, 0);      /* device-readable only: nowhere to put entropy */
    publish(0);
}

static void bad_avail_jump(void)
{
    desc(0, dma_base + BUF, 64, 2, 0);
    avail_idx = (uint16_t)(avail_idx + QSIZE + 1);
    u16at(AVAIL + 2)[0] = avail_idx;
    mmio_write16(notify + 0 * notify_mult, 0);
}

static const Hostile hostile_requests[] = {
    { "descriptor loop", bad_loop },
    { "next beyond the table", bad_next_beyond_table },
    { "indirect inside indirect", bad_nested_indirect },
    { "indirect table of 15 bytes", bad_indirect_len },
    { "length wrapping past 2^64", bad_wrapping_len },
    { "buffer outside RAM", bad_outside_ram },
    { "buffer in MMIO", bad_in_mmio },
    { "read-only entropy buffer", bad_direction },
    { "avail->idx jumping by more than the queue", bad_avail_jump },
};

static bool hostile_one(const Hostile *h)
{
    h->make();
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 2000000000ull;)
        if (mmio_read8(common + 0x14) & 0x40)
            break;
    uint8_t st = mmio_read8(common + 0x14), why = mmio_read8(isr);
    if (!(st & 0x40) || !(why & 2)) {
        guest_printf("virtio: %s: status 0x%x isr 0x%x (want NEEDS_RESET, config)\n", h->what,
                     st, why);
        return false;
    }
    return true;
}

/* Each malformed request, then a reset and a good request. */
static bool hostile_all(void)
{
    for (unsigned i = 0; i < sizeof(hostile_requests) / sizeof(hostile_requests[0]); i++) {
        if (!hostile_one(&hostile_requests[i]))
            return false;
        if (!setup() || !rng_request()) {
            guest_printf("virtio: no good request after '%s' and a reset\n",
                         hostile_requests[i].what);
            return false;
        }
    }
    guest_printf("virtio: %u malformed requests, each NEEDS_RESET, served after reset\n",
                 (unsigned)(sizeof(hostile_requests) / sizeof(hostile_requests[0])));
    return true;
}

/* ---- MSI-X ---- */
#define MSIX_VECTOR 0x41
static volatile unsigned msix_irqs;

__attribute__((interrupt)) static void msix_isr(struct interrupt_frame *f)
{
    (void)f;
    msix_irqs = msix_irqs + 1;
    lapic_eoi();
}

static void msix_entry(unsigned v, uint32_t data, uint32_t ctrl)
{
    uint64_t e = BAR_ADDR + 0x4000 + 16 * v;   /* VIRTIO_PCI_MSIX_OFF */
    mmio_write32(e, 0xfee00000);               /* APIC 0, fixed */
    mmio_write32(e + 4, 0);
    mmio_write32(e + 8, data);
    mmio_write32(e + 12, ctrl);
}

/* Interrupts on until `n` arrived or ~0.5 s passed. */
static bool wait_msix(unsigned n)
{
    sti();
    for (uint64_t t0 = rdtsc(); msix_irqs < n && rdtsc() - t0 < 1000000000ull;)
        cpu_relax();
    cli();
    return msix_irqs == n;
}

static bool msix_interrupts(void)
{
    unsigned cap = cfg_read(0x34, 1);
    while (cap && cfg_read(cap, 1) != 0x11)
        cap = cfg_read(cap + 1, 1);
    if (!cap) {
        puts("virtio: no MSI-X capability\n");
        return false;
    }
    idt_set(MSIX_VECTOR, msix_isr);
    lapic_enable();
    msix_entry(0, MSIX_VECTOR + 1, 1);         /* config: masked, unused */
    msix_entry(1, MSIX_VECTOR, 0);
    cfg_write32(cap, (cfg_read(cap, 4) & 0xffff) | 1u << 31);   /* MSI-X enable */
    mmio_write16(common + 0x10, 0);
    mmio_write16(common + 0x16, 0);
    mmio_write16(common + 0x1a, 1);
    if (mmio_read16(common + 0x1a) != 1) {
        puts("virtio: queue vector 1 not taken\n");
        return false;
    }
    if (!rng_request() || !wait_msix(1)) {
        guest_printf("virtio: msix: %u interrupts after a request, want 1\n", msix_irqs);
        return false;
    }
    msix_entry(1, MSIX_VECTOR, 1);             /* masked */
    if (!rng_request() || wait_msix(2) ||
        !(mmio_read32(BAR_ADDR + 0x5000) & 2)) {
        guest_printf("virtio: msix masked: %u interrupts, PBA 0x%x (want 1, bit 1)\n",
                     msix_irqs, mmio_read32(BAR_ADDR + 0x5000));
        return false;
    }
    mmio_write32(BAR_ADDR + 0x4000 + 16 + 12, 0);   /* unmask: the pending one */
    if (!wait_msix(2) || (mmio_read32(BAR_ADDR + 0x5000) & 2)) {
        guest_printf("virtio: msix unmask: %u interrupts, PBA 0x%x (want 2, 0)\n",
                     msix_irqs, mmio_read32(BAR_ADDR + 0x5000));
        return false;
    }
    if (!rng_request() || !wait_msix(3)) {
        guest_printf("virtio: msix: %u interrupts after unmask + request, want 3\n", msix_irqs);
        return false;
    }
    return true;
}

/* ---- VT-d ---- */
#define ROOT 0x300000ull
#define CTX  0x301000ull
#define PML4 0x302000ull
#define PDPT 0x303000ull
#define PD   0x304000ull
#define PT   0x305000ull

static bool vtd_wait(uint64_t reg, uint64_t bit, bool set, bool wide)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 1000000000ull;) {
        uint64_t v = wide ? mmio_read64(VTD + reg) : mmio_read32(VTD + reg);
        if (!!(v & bit) == set)
            return true;
    }
    guest_printf("virtio: VT-d register 0x%lx bit 0x%lx stuck\n", (unsigned long)reg,
                 (unsigned long)bit);
    return false;
}

static bool iotlb_flush(void)
{
    uint64_t iro = (mmio_read64(VTD + 0x10) >> 8 & 0x3ff) * 16;
    mmio_write64(VTD + iro + 8, 1ull << 63 | 1ull << 60);     /* global */
    return vtd_wait(iro + 8, 1ull << 63, false, true);
}

static bool vtd_enable(void)
{
    memset((void *)ROOT, 0, 0x6000);
    *(volatile uint64_t *)(ROOT + 0) = CTX | 1;                /* bus 0 */
    volatile uint64_t *ce = (volatile uint64_t *)(CTX + 16ull * devfn);
    ce[1] = 2 | 1ull << 8;                                     /* 48-bit AGAW, domain 1 */
    ce[0] = PML4 | 1;                                          /* translate, present */
    *(volatile uint64_t *)PML4 = PDPT | 3;
    *(volatile uint64_t *)PDPT = PD | 3;
    *(volatile uint64_t *)PD = PT | 3;
    for (unsigned i = 0; i < 512; i++)                         /* IOVA 0..2M -> 2M..4M */
        ((volatile uint64_t *)PT)[i] = (RING_GPA + 0x1000ull * i) | 3;
    mmio_write64(VTD + 0x20, ROOT);
    mmio_write32(VTD + 0x18, 1u << 30);                        /* SRTP */
    if (!vtd_wait(0x1c, 1u << 30, true, false))
        return false;
    mmio_write64(VTD + 0x28, 1ull << 63 | 1ull << 61);         /* global context flush */
    if (!vtd_wait(0x28, 1ull << 63, false, true) || !iotlb_flush())
        return false;
    mmio_write32(VTD + 0x18, 1u << 31);                        /* TE */
    return vtd_wait(0x1c, 1u << 31, true, false);
}

static bool iommu_unmap_faults(void)
{
    for (unsigned i = 0; i < 3; i++)                           /* desc, avail, used pages */
        ((volatile uint64_t *)PT)[i] = 0;
    if (!iotlb_flush())
        return false;
    uint16_t before = u16at(USED + 2)[0];
    desc(0, dma_base + BUF, 64, 2, 0);
    publish(0);
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 2000000000ull;)
        if (mmio_read32(VTD + 0x34) & 2)                       /* FSTS.PPF */
            break;
    uint32_t fsts = mmio_read32(VTD + 0x34);
    if (!(fsts & 2) || u16at(USED + 2)[0] != before) {
        guest_printf("virtio: after unmap: FSTS 0x%x, used->idx %u (was %u)\n", fsts,
                     u16at(USED + 2)[0], before);
        return false;
    }
    return true;
}

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    struct hvm_start_info *si = info;
    const char *cmdline = si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
    bool iommu = cmdline_ulong(cmdline, "iommu", 0) != 0;
    if (!find_device()) {
        puts("virtio: no virtio-rng (1af4:1044) on bus 0\n");
        return 1;
    }
    if (!find_caps()) {
        puts("virtio: common/notify/ISR capabilities missing\n");
        return 2;
    }
    dma_base = RING_GPA;
    if (iommu) {
        if (!vtd_enable())
            return 3;
        dma_base = 0;
    }
    if (!setup() || !rng_request() || !rng_request())
        return 4;
    if (iommu) {
        if (!iommu_unmap_faults())
            return 5;
        puts("virtio: iommu fault after unmap ok\n");
        return 0;
    }
    if (!hostile_all())
        return 6;
    if (!msix_interrupts())
        return 8;
    puts("virtio: msix ok\n");
    puts("virtio: ok\n");
    return 0;
}
