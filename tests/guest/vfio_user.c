/* vfio_user: an assigned device served by tests/vfio_user_server (run with
 * --user-device socket=...). Finds 1234:5678 on bus 0, then:
 *  1. register accesses of 1, 2, 4 and 8 bytes, which must reach the server
 *     exactly so (the runner compares the server's log with the sequence here)
 *  2. the mmap-able data page: 8-byte store and load (device memory, no server)
 *  3. MSI-X vector 0 through its eventfd and irqfd
 *  4. the device's DMA of 64 bytes from its data page into a guest buffer;
 *     with `iommu=1` through the VT-d unit in caching mode (IOVA 0 -> the
 *     buffer), and a DMA to an unmapped IOVA fails (device status 1)
 *  5. with `kill=1`: prints a line asking the runner to kill the server, then
 *     waits until the device reads all-ones.
 * Prints "vfio_user: ok" and exits 0; failures exit non-zero with a line. */
#include <stdbool.h>

#include "guest.h"

#define LAPIC    0xfee00000u
#define VEC      0x45
#define BUF      0x200000ull
#define VTD      0xfed90000ull
#define ROOT     0x300000ull
#define CTX      0x301000ull
#define PML4     0x302000ull
#define PDPT     0x303000ull
#define PD       0x304000ull
#define PT       0x305000ull

static unsigned devfn;
static uint64_t bar, regs;

static uint32_t cfg_read(unsigned off)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (off & 0xfc));
    return inl(0xcfc);
}

static void cfg_write(unsigned off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (off & 0xfc));
    outl(0xcfc, v);
}

volatile uint32_t nr_irq;
__asm__(".text\n"
        "isr:\n\t" "lock incl nr_irq(%rip)\n\t"
        "push %rax\n\t" "movl $0xfee000b0, %eax\n\t" "movl $0, (%rax)\n\t" "pop %rax\n\t"
        "iretq\n");
void isr(void);
static uint64_t idt[256 * 2] __attribute__((aligned(16)));

static void setup_interrupts(void)
{
    uint64_t a = (uint64_t)isr;
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    idt[VEC * 2] = (a & 0xffff) | (uint64_t)cs << 16 | 0x8eull << 40 | ((a >> 16) & 0xffff) << 48;
    idt[VEC * 2 + 1] = a >> 32;
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" :: "m"(d));
    mmio_write32(LAPIC + 0xf0, 0x1ff);
    mmio_write32(LAPIC + 0x80, 0);
    __asm__ volatile("sti");
}

static bool find_device(void)
{
    for (unsigned slot = 0; slot < 32; slot++) {
        devfn = slot << 3;
        if (cfg_read(0) == 0x56781234)
            return true;
    }
    return false;
}

/* Keep in step with the runner's expected server log (tests/integration/guests.sh). */
static bool widths(void)
{
    mmio_write8(regs + 0, 0x11);
    mmio_write16(regs + 2, 0x2233);
    mmio_write32(regs + 4, 0x44556677);
    mmio_write64(regs + 0, 0x8899aabbccddeeffull);
    uint8_t b = mmio_read8(regs + 1);
    uint16_t w = mmio_read16(regs + 2);
    uint32_t l = mmio_read32(regs + 4);
    uint64_t q = mmio_read64(regs + 0);
    uint32_t id = mmio_read32(regs + 8);
    if (b != 0xee || w != 0xccdd || l != 0x8899aabb || q != 0x8899aabbccddeeffull ||
        id != 0x56535255) {
        guest_printf("vfio_user: widths read %x %x %x %lx %x\n", b, w, l, (unsigned long)q, id);
        return false;
    }
    return true;
}

static bool vtd_wait(uint64_t reg, uint64_t bit, bool set, bool wide)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 1000000000ull;) {
        uint64_t v = wide ? mmio_read64(VTD + reg) : mmio_read32(VTD + reg);
        if (!!(v & bit) == set)
            return true;
    }
    guest_printf("vfio_user: VT-d register 0x%lx stuck\n", (unsigned long)reg);
    return false;
}

/* IOVA 0..16K -> BUF; caching mode: the IOTLB flush after creating the
 * entries is what tells the unit (and so the device) about them. */
static bool vtd_enable(void)
{
    memset((void *)ROOT, 0, 0x6000);
    *(volatile uint64_t *)ROOT = CTX | 1;
    volatile uint64_t *ce = (volatile uint64_t *)(CTX + 16ull * devfn);
    ce[1] = 2 | 1ull << 8;
    ce[0] = PML4 | 1;
    *(volatile uint64_t *)PML4 = PDPT | 3;
    *(volatile uint64_t *)PDPT = PD | 3;
    *(volatile uint64_t *)PD = PT | 3;
    for (unsigned i = 0; i < 4; i++)
        ((volatile uint64_t *)PT)[i] = (BUF + 0x1000ull * i) | 3;
    mmio_write64(VTD + 0x20, ROOT);
    mmio_write32(VTD + 0x18, 1u << 30);
    if (!vtd_wait(0x1c, 1u << 30, true, false))
        return false;
    mmio_write64(VTD + 0x28, 1ull << 63 | 1ull << 61);
    if (!vtd_wait(0x28, 1ull << 63, false, true))
        return false;
    mmio_write32(VTD + 0x18, 1u << 31);
    if (!vtd_wait(0x1c, 1u << 31, true, false))
        return false;
    uint64_t iro = (mmio_read64(VTD + 0x10) >> 8 & 0x3ff) * 16;
    mmio_write64(VTD + iro + 8, 1ull << 63 | 1ull << 60);     /* global IOTLB flush */
    return vtd_wait(iro + 8, 1ull << 63, false, true);
}

static uint32_t dma(uint64_t addr)
{
    mmio_write64(regs + 0x10, addr);
    mmio_write32(regs + 0x18, 64);
    mmio_write32(regs + 0x1c, 1);
    return mmio_read32(regs + 0x20);
}

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    struct hvm_start_info *si = info;
    const char *cmdline = si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
    bool iommu = cmdline_ulong(cmdline, "iommu", 0), kill = cmdline_ulong(cmdline, "kill", 0);
    if (!find_device())
        guest_fail(2, "vfio_user: no 1234:5678 on bus 0");
    bar = cfg_read(0x10) & ~0xfull;
    regs = bar + 0x1000;
    cfg_write(0x04, 0x6);                                   /* memory, bus master */
    guest_printf("vfio_user: device at %x, BAR0 %lx\n", devfn, (unsigned long)bar);
    if (!widths())
        return 3;
    mmio_write64(bar + 0x18, 0x0123456789abcdefull);
    if (mmio_read64(bar + 0x18) != 0x0123456789abcdefull)
        guest_fail(4, "vfio_user: data page");
    /* MSI-X entry 0 -> VEC on APIC 0, unmasked; enable */
    setup_interrupts();
    mmio_write32(bar + 0x4000, LAPIC);
    mmio_write32(bar + 0x4004, 0);
    mmio_write32(bar + 0x4008, VEC);
    mmio_write32(bar + 0x400c, 0);
    cfg_write(0x40, cfg_read(0x40) | 0x80000000u);
    mmio_write32(regs + 0x24, 0);
    for (uint64_t t0 = rdtsc(); nr_irq < 1 && rdtsc() - t0 < 2000000000ull;)
        cpu_relax();
    if (nr_irq < 1)
        guest_fail(5, "vfio_user: no MSI-X interrupt");
    puts("vfio_user: MSI-X ok\n");
    for (unsigned i = 0; i < 64; i += 8)
        mmio_write64(bar + i, 0xd0d0d0d000000000ull | i);
    if (iommu && !vtd_enable())
        return 6;
    if (dma(iommu ? 0 : BUF) != 0 || *(volatile uint64_t *)(BUF + 56) != 0xd0d0d0d000000038ull)
        guest_fail(7, "vfio_user: DMA into the guest buffer failed");
    puts("vfio_user: DMA ok\n");
    if (iommu) {
        if (dma(0x100000) != 1)
            guest_fail(8, "vfio_user: DMA to an unmapped IOVA succeeded");
        puts("vfio_user: DMA to an unmapped IOVA fails\n");
    }
    if (kill) {
        puts("vfio_user: kill the server now\n");
        for (uint64_t t0 = rdtsc(); mmio_read32(regs + 8) != 0xffffffffu;)
            if (rdtsc() - t0 > 20000000000ull)
                guest_fail(9, "vfio_user: device still answers");
        puts("vfio_user: device gone, reads all-ones\n");
    }
    puts("vfio_user: ok\n");
    return 0;
}
