/* hostile_cfg: all-ones into every configuration register of every function
 * on bus 0 (run with --edu --test-device dma --rng; more devices welcome).
 *  1. 0xCF8/0xCFC: 1-, 2- and 4-byte all-ones writes at every offset of the
 *     legacy 256 bytes; CONFIG_ADDRESS garbage (all-ones: bus 255, register
 *     0xfc) with accesses of every width at 0xCFC..0xCFF
 *  2. ECAM: all-ones into every dword of the 4 KiB of each present function,
 *     and into absent slots and the last bus
 *  3. the bus still enumerates with the same IDs; BARs restored and MSI/MSI-X
 *     off, edu and the DMA test device serve DMA, virtio-rng negotiates
 *     features again.
 * Prints "hostile_cfg: ok" and exits 0. */
#include "hostile.h"

#define RAM 0x400000ull
#define MAX_FN 32

static struct { unsigned devfn; uint32_t id; uint32_t bars[7]; } fn[MAX_FN];
static unsigned nr_fn;

static void cfg_ones(unsigned devfn)
{
    for (unsigned off = 0; off < 256; off++) {
        pci_cfg_write(devfn, off, 0xff, 1);
        if (!(off & 1))
            pci_cfg_write(devfn, off, 0xffff, 2);
        if (!(off & 3))
            pci_cfg_write(devfn, off, 0xffffffffu, 4);
    }
}

static void ecam_ones(unsigned bus, unsigned devfn, unsigned from, unsigned to)
{
    uint64_t base = LAYOUT_PCI_ECAM + ((uint64_t)bus << 20) + ((uint64_t)devfn << 12);
    for (unsigned off = from; off < to; off += 4)
        mmio_write32(base + off, 0xffffffffu);
}

static void address_garbage(void)
{
    static const uint32_t addrs[] = { 0xffffffffu, 0x7fffffffu, 0x80ffff03u, 0x8000f800u };
    for (unsigned i = 0; i < 4; i++) {
        outl(0xcf8, addrs[i]);
        for (unsigned p = 0; p < 4; p++) {
            outb((uint16_t)(0xcfc + p), 0xff);
            (void)inb((uint16_t)(0xcfc + p));
        }
        outw(0xcfc, 0xffff);
        outw(0xcfe, 0xffff);
        (void)inw(0xcfe);
        outl(0xcfc, 0xffffffffu);
        if (inl(0xcfc) != 0xffffffffu && (addrs[i] >> 31))
            guest_fail(3, "CONFIG_ADDRESS %x: a function answers", addrs[i]);
    }
    /* Unaligned and odd-width CONFIG_ADDRESS accesses. */
    outw(0xcf8, 0xffff);
    outb(0xcfb, 0xff);
    (void)inw(0xcfa);
    outl(0xcf8, 0);
}

static void enumerate(bool first)
{
    unsigned n = 0;
    for (unsigned slot = 0; slot < 32; slot++) {
        unsigned devfn = slot << 3;
        uint32_t id = pci_cfg_read(devfn, 0, 4);
        if (id == 0xffffffffu)
            continue;
        if (pci_ecam_read(devfn, 0) != id)
            guest_fail(4, "slot %u: ECAM and 0xCF8 differ", slot);
        if (first) {
            fn[n].devfn = devfn, fn[n].id = id;
            for (unsigned b = 0; b < 6; b++)
                fn[n].bars[b] = pci_cfg_read(devfn, 0x10 + 4 * b, 4);
            fn[n].bars[6] = pci_cfg_read(devfn, 0x30, 4);
        } else if (n >= nr_fn || fn[n].devfn != devfn || fn[n].id != id) {
            guest_fail(4, "after the attack: slot %u id %x", slot, id);
        }
        n++;
    }
    if (first)
        nr_fn = n;
    else if (n != nr_fn)
        guest_fail(4, "%u functions after the attack, %u before", n, nr_fn);
}

static void restore(void)
{
    for (unsigned i = 0; i < nr_fn; i++) {
        unsigned d = fn[i].devfn;
        pci_cfg_write(d, 4, 0, 2);
        for (unsigned b = 0; b < 6; b++)
            pci_cfg_write(d, 0x10 + 4 * b, fn[i].bars[b], 4);
        pci_cfg_write(d, 0x30, fn[i].bars[6], 4);
        unsigned msi = pci_find_cap(d, 0x05), msix = pci_find_cap(d, 0x11);
        if (msi)
            pci_cfg_write(d, msi + 2, 0, 2);
        if (msix)
            pci_cfg_write(d, msix + 2, 0, 2);
        pci_cfg_write(d, 4, 0x7, 2);
    }
}

/* virtio-rng: reset, ACKNOWLEDGE | DRIVER, VERSION_1, FEATURES_OK accepted. */
static bool virtio_negotiates(void)
{
    int d = pci_find(0x10441af4u);
    if (d < 0)
        return false;
    unsigned f = (unsigned)d;
    for (unsigned c = pci_cfg_read(f, 0x34, 1); c; c = pci_cfg_read(f, c + 1, 1)) {
        if (pci_cfg_read(f, c, 1) != 0x09 || pci_cfg_read(f, c + 3, 1) != 1)
            continue;
        /* The 64-bit BAR below 4 GiB, where our page tables reach. */
        unsigned bar = pci_cfg_read(f, c + 4, 1);
        pci_cfg_write(f, 0x10 + 4 * bar, 0xc0000000u, 4);
        pci_cfg_write(f, 0x14 + 4 * bar, 0, 4);
        uint64_t common = 0xc0000000u + pci_cfg_read(f, c + 8, 4);
        mmio_write8(common + 0x14, 0);
        for (unsigned i = 0; i < 100000 && mmio_read8(common + 0x14); i++)
            cpu_relax();
        mmio_write8(common + 0x14, 3);
        mmio_write32(common + 0x08, 1);
        mmio_write32(common + 0x0c, 1);
        mmio_write8(common + 0x14, 0xb);
        bool ok = mmio_read8(common + 0x14) == 0xb && mmio_read16(common + 0x12) == 1;
        mmio_write8(common + 0x14, 0);
        return ok;
    }
    return false;
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    enumerate(true);
    guest_printf("hostile_cfg: %u functions on bus 0\n", nr_fn);
    for (unsigned i = 0; i < nr_fn; i++)
        cfg_ones(fn[i].devfn);
    address_garbage();
    for (unsigned i = 0; i < nr_fn; i++)
        ecam_ones(0, fn[i].devfn, 0, 0x1000);
    ecam_ones(0, 31 << 3, 0, 0x100);
    ecam_ones(0, 0xff, 0xf00, 0x1000);
    ecam_ones(255, 0xff, 0xf00, 0x1000);
    puts("hostile_cfg: all-ones written through 0xCF8/0xCFC and ECAM\n");
    enumerate(false);
    restore();
    hostile_devices();
    if (edu < 0 || tdev < 0)
        guest_fail(5, "edu or the test device gone");
    if (!tdev_works(RAM) || !edu_works(RAM + 0x1000, RAM + 0x2000, 128, 0))
        guest_fail(5, "DMA after the attack");
    if (!virtio_negotiates())
        guest_fail(5, "virtio-rng does not negotiate after the attack");
    puts("hostile_cfg: bus enumerates, edu, test device and virtio-rng work\n");
    puts("hostile_cfg: ok\n");
    return 0;
}
