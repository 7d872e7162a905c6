/* hostile_dma: DMA aimed at device memory (run with --edu --test-device dma,
 * no IOMMU). edu's BAR sits at 128 MiB so its 28-bit DMA reaches it.
 *  1. the test device loads and stores into its own BAR (registers, MSI-X
 *     table): refused with an access error, never re-entered
 *  2. edu copies from and into its own BAR: refused, edu still answers
 *  3. the test device reads and writes edu's BAR (peer to peer), the IOAPIC,
 *     the LAPIC window, the HPET range, unassigned space and an address that
 *     wraps at 2^64: each a status, nothing hangs
 *  4. the test device writes its own config space through ECAM by DMA: its
 *     command register (memory decode and bus mastering off mid-DMA) and its
 *     BAR (moved away while its own register write runs)
 *  5. both devices serve normal DMA afterwards.
 * Prints "hostile_dma: ok" and exits 0. */
#include "hostile.h"

#define RAM      0x400000ull
#define EDU_LOW  0x8000000u

static void expect_refused(const char *what, uint32_t st)
{
    if (st == ST_OK)
        guest_fail(3, "%s: status 0, want a refusal", what);
    guest_printf("hostile_dma: %s: refused (status %u)\n", what, st);
}

static void own_bar(void)
{
    uint64_t v = 0;
    expect_refused("load from its own status register",
                   tdev_dma(TD_LOAD, TDEV_BAR + TD_STATUS, 4, &v));
    v = TD_STORE;
    expect_refused("store of 'store' into its own command register",
                   tdev_dma(TD_STORE, TDEV_BAR + TD_CMD, 4, &v));
    v = 0xfee00000u;
    expect_refused("store into its own MSI-X table", tdev_dma(TD_STORE, TDEV_MSIX, 4, &v));
    v = ~0ull;
    expect_refused("8-byte store into its own address register",
                   tdev_dma(TD_STORE, TDEV_BAR + TD_ADDR, 8, &v));
    if (mmio_read32(TDEV_MSIX) != 0 || mmio_read64(TDEV_BAR + TD_ADDR) != TDEV_BAR + TD_ADDR)
        guest_fail(3, "own registers changed by refused DMA: table %x addr %lx",
                   mmio_read32(TDEV_MSIX), (unsigned long)mmio_read64(TDEV_BAR + TD_ADDR));
    /* edu: DMA from and to its own registers. */
    if (!edu_dma(edu_bar + 0x04, 0x40000, 8, 1) || !edu_dma(0x40000, edu_bar + 0x80, 64, 3) ||
        !edu_dma(edu_bar, 0x40000, 4096, 1))
        guest_fail(3, "edu stuck after DMA at its own BAR");
    mmio_write32(edu_bar + 4, 0x1234);
    if (mmio_read32(edu_bar) != 0x010000edu || mmio_read32(edu_bar + 4) != ~0x1234u)
        guest_fail(3, "edu after DMA at its own BAR");
    puts("hostile_dma: edu DMA at its own BAR refused, edu answers\n");
}

static void other_mmio(void)
{
    static const struct { const char *what; uint64_t addr; unsigned width; } t[] = {
        { "edu's id register (peer)", EDU_LOW, 4 },
        { "IOAPIC select", 0xfec00000ull, 4 },
        { "IOAPIC window", 0xfec00010ull, 4 },
        { "HPET", 0xfed00000ull, 8 },
        { "LAPIC window", 0xfee00000ull, 4 },
        { "unassigned space", 0xdf000000ull, 8 },
        { "the integration test device", LAYOUT_TESTDEV_MMIO, 8 },
        { "ECAM of an absent slot", LAYOUT_PCI_ECAM + (31u << 15), 4 },
        { "the end of the address space (wraps)", ~0ull - 3, 8 },
        { "beyond 52 bits", 1ull << 60, 8 },
    };
    for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint64_t v = 0;
        uint32_t ld = tdev_dma(TD_LOAD, t[i].addr, t[i].width, &v);
        uint64_t lv = v;
        /* Stores of values that do nothing harmful where they land. */
        v = t[i].addr == 0xfec00000ull ? 1 : t[i].addr == 0xfee00000ull ? 0 : lv;
        uint32_t st = tdev_dma(TD_STORE, t[i].addr, t[i].width, &v);
        guest_printf("hostile_dma: %s: load %u (0x%lx), store %u\n", t[i].what, ld,
                     (unsigned long)lv, st);
    }
    uint64_t v = 0;
    if (tdev_dma(TD_LOAD, EDU_LOW, 4, &v) != ST_OK || v != 0x010000ed)
        guest_fail(4, "peer-to-peer load of edu's id: %lx", (unsigned long)v);
    if (tdev_dma(TD_LOAD, 0xdf000000ull, 4, &v) != ST_DECODE)
        guest_fail(4, "unassigned space: want a decode error");
}

static void own_config(void)
{
    uint64_t ecam = LAYOUT_PCI_ECAM + ((uint64_t)tdev << 12), v = 0x2;
    /* Command register := bus master only: memory decode off by its own DMA. */
    uint32_t st = tdev_dma(TD_STORE, ecam + 4, 2, &v);
    uint16_t cmd = (uint16_t)pci_cfg_read((unsigned)tdev, 4, 2);
    guest_printf("hostile_dma: own command register by DMA: status %u, command now 0x%x\n", st,
                 cmd);
    pci_cfg_write((unsigned)tdev, 4, 0x6, 2);
    /* BAR 0 := somewhere else, by its own DMA, while its register write runs. */
    v = 0xd2000000u;
    tdev_dma(TD_STORE, ecam + 0x10, 4, &v);
    uint32_t bar = pci_cfg_read((unsigned)tdev, 0x10, 4) & ~0xfu;
    st = mmio_read32(bar + TD_STATUS);              /* the status register moved along */
    guest_printf("hostile_dma: own BAR by DMA: status %u, BAR now 0x%x\n", st, bar);
    if (bar != TDEV_BAR && bar != 0xd2000000u)
        guest_fail(5, "BAR 0x%x", bar);
    if (mmio_read32(bar) != 0x31544d44u)
        guest_fail(5, "the test device is not at its BAR 0x%x", bar);
    pci_cfg_write((unsigned)tdev, 0x10, TDEV_BAR, 4);
    if (mmio_read32(TDEV_BAR) != 0x31544d44u)
        guest_fail(5, "the test device is not back at its BAR");
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    edu_bar = EDU_LOW;
    hostile_devices();
    if (edu < 0 || tdev < 0)
        guest_fail(2, "need edu and the DMA test device");
    own_bar();
    other_mmio();
    own_config();
    if (!tdev_works(RAM) || !edu_works(RAM + 0x1000, RAM + 0x2000, 256, 0))
        guest_fail(6, "normal DMA after the attacks");
    puts("hostile_dma: ok\n");
    return 0;
}
