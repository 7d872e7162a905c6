/* pcitestdev: QEMU's pci-testdev (1b36:0005, --test-device pci), every test of
 * both BARs, as kvm-unit-tests' pci test drives it and more:
 *  - selecting test N (byte write to offset 0) shows its header: test number,
 *    width 1, notify offset (BAR size / 2 + number, read as one 4-byte
 *    access the device takes bytewise), data byte, count 0, name; bytes past
 *    the name read 0
 *  - 16 writes of the data byte at the notify offset count 16 (for the
 *    eventfd tests they go to a KVM ioeventfd and the count includes it);
 *    writes of another byte count only for the wildcard test
 *  - selecting a test again zeroes its count; number 3 selects none (reads 0)
 *  - the memory BAR moved while the wildcard test runs: notifies at the new
 *    address count (the ioeventfd followed), at the old one nothing happens
 * Prints "pcitestdev: ok" and exits 0; a failure exits non-zero. */
#include "pcidev.h"

#define MEM_BAR   0xd0000000u
#define MEM_BAR2  0xd0100000u
#define IO_BAR    0xc000u

static unsigned devfn;
static uint64_t mem_base = MEM_BAR;

static uint8_t rd8(unsigned bar, unsigned off)
{
    return bar ? inb((uint16_t)(IO_BAR + off)) : mmio_read8(mem_base + off);
}

static uint32_t rd32(unsigned bar, unsigned off)
{
    return bar ? inl((uint16_t)(IO_BAR + off)) : mmio_read32(mem_base + off);
}

static void wr8(unsigned bar, unsigned off, uint8_t v)
{
    if (bar)
        outb((uint16_t)(IO_BAR + off), v);
    else
        mmio_write8(mem_base + off, v);
}

static void check_test(unsigned bar, unsigned kind)
{
    static const char *const kinds[] = { "no-eventfd", "wildcard-eventfd", "datamatch-eventfd" };
    unsigned nr = bar * 3 + kind, size = bar ? 0x100 : 0x1000;
    uint8_t data = kind == 1 ? 0xce : 0xfa;
    char name[40];
    wr8(bar, 0, (uint8_t)kind);
    uint32_t off = rd32(bar, 4);
    if (rd8(bar, 0) != nr || rd8(bar, 1) != 1 || off != size / 2 + nr || rd32(bar, 8) != data ||
        rd32(bar, 12) != 0)
        guest_fail(3, "test %u header: test %u width %u offset %x data %x count %u", nr,
                   rd8(bar, 0), rd8(bar, 1), off, rd32(bar, 8), rd32(bar, 12));
    unsigned n = 0;
    for (; n < sizeof(name) - 1 && (name[n] = (char)rd8(bar, 16 + n)); n++)
        ;
    name[n] = 0;
    const char *type = bar ? "portio" : "mmio";
    unsigned tlen = bar ? 6 : 4;
    if (strncmp(name, type, tlen) || name[tlen] != '-' ||
        strncmp(name + tlen + 1, kinds[kind], 20) ||
        rd8(bar, 16 + n + 1) != 0 || rd8(bar, 0x7f) != 0)
        guest_fail(3, "test %u name '%s', want '%s-%s'", nr, name, type, kinds[kind]);
    for (unsigned i = 0; i < 16; i++)
        wr8(bar, off, data);
    if (rd32(bar, 12) != 16)
        guest_fail(4, "%s: 16 notifies counted %u", name, rd32(bar, 12));
    for (unsigned i = 0; i < 5; i++)
        wr8(bar, off, 0x11);
    unsigned want_count = kind == 1 ? 21 : 16;
    if (rd32(bar, 12) != want_count)
        guest_fail(4, "%s: after 5 other bytes count %u, want %u", name, rd32(bar, 12), want_count);
    wr8(bar, 0, (uint8_t)kind);
    if (rd32(bar, 12) != 0)
        guest_fail(4, "%s: restarted with count %u", name, rd32(bar, 12));
    guest_printf("pcitestdev: %s ok\n", name);
}

static void moved_bar(void)
{
    wr8(0, 0, 1);                                   /* mmio-wildcard-eventfd */
    uint32_t off = rd32(0, 4);
    pci_cfg_write(devfn, 0x10, MEM_BAR2, 4);
    uint64_t old = mem_base;
    mem_base = MEM_BAR2;
    mmio_write8(old + off, 0xce);
    for (unsigned i = 0; i < 3; i++)
        wr8(0, off, 0xce);
    if (rd32(0, 12) != 3 || mmio_read32(old) != 0xffffffffu)
        guest_fail(5, "moved BAR: count %u, old address reads %x", rd32(0, 12), mmio_read32(old));
    wr8(0, 0, 3);                                   /* no test */
    if (rd32(0, 0) != 0 || rd32(0, 12) != 0)
        guest_fail(5, "no test selected but reads %x", rd32(0, 0));
    puts("pcitestdev: BAR moved, notifies follow\n");
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    int d = pci_find(0x00051b36u);
    if (d < 0)
        guest_fail(2, "no 1b36:0005 on bus 0");
    devfn = (unsigned)d;
    if (pci_cfg_read(devfn, 0x3d, 1) != 0 || pci_cfg_read(devfn, 8, 4) >> 8 != 0x00ff00)
        guest_fail(2, "interrupt pin %u class %x", pci_cfg_read(devfn, 0x3d, 1),
                   pci_cfg_read(devfn, 8, 4) >> 8);
    pci_cfg_write(devfn, 0x10, MEM_BAR, 4);
    pci_cfg_write(devfn, 0x14, IO_BAR, 4);
    pci_cfg_write(devfn, 4, 0x3, 2);                /* I/O and memory decode */
    for (unsigned bar = 0; bar < 2; bar++)
        for (unsigned kind = 0; kind < 3; kind++)
            check_test(bar, kind);
    moved_bar();
    puts("pcitestdev: ok\n");
    return 0;
}
