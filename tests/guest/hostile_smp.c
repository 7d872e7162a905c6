/* hostile_smp: many vCPUs hammering one device (run with --cpus boot=4
 * --test-device dma --rng src=FILE, command line cpus=4; FILE starts with
 * "minivmm-rng-src:0123456789abcdef").
 * Every CPU at once, ROUNDS times: the DMA test device's registers (address,
 * width, value, command: DMA stores into its own 64-byte slot, and MSI-X
 * messages to a masked vector), its MSI-X table entry, 0xCF8/0xCFC reads of
 * its vendor/device ID (the address register is shared: any answer must be
 * the ID of some function or all-ones), and the virtio-rng queue's notify
 * register while one request is posted.
 * Afterwards, on the boot CPU alone: the request completed exactly once,
 * another one completes, and the test device's DMA works.
 * Prints "hostile_smp: ok" and exits 0. */
#include "hostile.h"
#include "tramp.h"

#define MAX_CPUS  8
#define ROUNDS    150
#define SLOTS     0x400000ull

static char ap_stacks[MAX_CPUS][4096] __attribute__((section(".stack"), aligned(16)));
static volatile uint32_t started, finished, go, bad_ids;

static void hammer(unsigned cpu)
{
    uint64_t slot = SLOTS + 64ull * cpu;
    for (unsigned i = 0; i < ROUNDS; i++) {
        mmio_write64(TDEV_BAR + TD_ADDR, slot + 8 * (i % 8));
        mmio_write32(TDEV_BAR + TD_WIDTH, 1u << (i % 4));
        mmio_write64(TDEV_BAR + TD_VALUE, (uint64_t)cpu << 32 | i);
        mmio_write32(TDEV_BAR + TD_CMD, TD_STORE);
        (void)mmio_read32(TDEV_BAR + TD_STATUS);
        mmio_write32(TDEV_MSIX + 8, 0x30 + cpu);
        mmio_write64(TDEV_BAR + TD_VALUE, 0);
        mmio_write32(TDEV_BAR + TD_CMD, TD_MSIX);
        uint32_t id = pci_cfg_read((unsigned)(i % 4) << 3, 0, 4);
        if (id != 0xffffffffu && (id & 0xffff) != 0x1b36 && (id & 0xffff) != 0x1234 &&
            (id & 0xffff) != 0x1af4)
            atomic_fetch_add32(&bad_ids, 1);
        mmio_write16(vnotify, 0);
    }
}

static __attribute__((noreturn, used)) void ap_main(void)
{
    uint32_t cpu = atomic_fetch_add32(&started, 1);
    while (!atomic_read32(&go))
        cpu_relax();
    hammer(cpu);
    atomic_fetch_add32(&finished, 1);
    halt_forever();
}

int guest_main(void *info, unsigned long magic)
{
    const struct hvm_start_info *si = info;
    (void)magic;
    const char *cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
    unsigned n = (unsigned)cmdline_ulong(cmdline, "cpus", 0);
    if (n < 2 || n > MAX_CPUS)
        guest_fail(2, "need cpus=N, 2 <= N <= %u", MAX_CPUS);
    hostile_devices();
    if (tdev < 0 || !virtio_setup())
        guest_fail(2, "need the DMA test device and virtio-rng");
    unsigned cap = pci_find_cap((unsigned)tdev, 0x11);
    mmio_write32(TDEV_MSIX, 0xfee00000u);
    mmio_write32(TDEV_MSIX + 12, 1);            /* masked: the messages only pend */
    pci_cfg_write((unsigned)tdev, cap + 2, 0x8000, 2);
    virtio_post();
    tramp_install(EFER_LME | ((uint32_t)rdmsr(EFER_MSR) & EFER_NXE), ap_stacks, 4096, ap_main);
    mmio_write32(0xfee000f0, 0x1ff);
    for (uint32_t id = 1; id < n; id++) {
        mmio_write32(0xfee00310, id << 24);
        mmio_write32(0xfee00300, 0x4500);           /* INIT */
        for (unsigned i = 0; i < 100; i++)
            cpu_relax();
        for (unsigned k = 0; k < 2; k++) {
            mmio_write32(0xfee00310, id << 24);
            mmio_write32(0xfee00300, 0x4600 | (TRAMP_BASE >> 12));   /* STARTUP */
            for (unsigned i = 0; i < 20; i++)
                cpu_relax();
        }
    }
    for (uint64_t t0 = rdtsc(); atomic_read32(&started) < n - 1;)
        if (rdtsc() - t0 > 5000000000ull)
            guest_fail(3, "%u of %u APs started", atomic_read32(&started), n - 1);
    atomic_fetch_add32(&go, 1);
    hammer(n - 1);
    for (uint64_t t0 = rdtsc(); atomic_read32(&finished) < n - 1;)
        if (rdtsc() - t0 > 10000000000ull)
            guest_fail(3, "%u of %u APs finished", atomic_read32(&finished), n - 1);
    guest_printf("hostile_smp: %u cpus x %u rounds on one device; %u odd IDs\n", n, ROUNDS,
                 bad_ids);
    if (bad_ids || !virtio_done(1, "minivmm-rng-src:"))
        guest_fail(4, "after the hammering: odd IDs %u, virtio used->idx %u", bad_ids,
                   ((volatile uint16_t *)(VRING + 0x2000))[1]);
    if (!(mmio_read32(TDEV_PBA) & 1))
        guest_fail(4, "no pending bit for the masked vector");
    virtio_post();
    mmio_write16(vnotify, 0);
    bool vio = virtio_done(2, "0123456789abcdef"), td = tdev_works(SLOTS + 0x1000);
    if (!vio || !td)
        guest_fail(5, "after the hammering: virtio %s (used->idx %u, status 0x%x), DMA %s",
                   vio ? "ok" : "broken", ((volatile uint16_t *)(VRING + 0x2000))[1],
                   mmio_read8(vcommon + 0x14), td ? "ok" : "broken");
    puts("hostile_smp: ok\n");
    return 0;
}
