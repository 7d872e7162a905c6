/* hostile_msix: MSI-X abuse on the DMA test device (--test-device dma --rng; 4
 * vectors, table at BAR 0 + 0x800, PBA at + 0xc00).
 *  1. writes and reads of every width (1, 2, 4, 8) at every offset of the
 *     table and a little beyond it (accesses that straddle the table's end
 *     included), with garbage addresses and data; PBA writes of every width
 *     (the PBA stays as it was: read-only)
 *  2. every vector fired with that garbage, and vectors beyond the table;
 *     a vector aimed at RAM (not 0xFEExxxxx) writes its data there, as a
 *     memory write by the function, and raises no interrupt
 *  3. a mask/unmask storm on a pending vector: exactly one interrupt per
 *     message; the same with the function mask and with MSI-X enable
 *  4. virtio-rng (--rng): MSI-X toggled 4400 times (a KVM route and irqfd
 *     behind its queue vector each time), its vector re-targeted, masked and
 *     unmasked; then a request: exactly one interrupt
 *  5. a clean vector delivers exactly one interrupt; DMA still works.
 * Prints "hostile_msix: ok" and exits 0. */
#include "hostile.h"
#include "pcplat.h"

#define RAM       0x400000ull
#define VEC       0x41
#define STORM     300

volatile uint32_t nr_irq, nr_stray;
__asm__(".text\n"
        "isr_vec:\n\t"   "lock incl nr_irq(%rip)\n\t"   "jmp 1f\n"
        "isr_stray:\n\t" "lock incl nr_stray(%rip)\n"
        "1:\n\t" "push %rax\n\t" "movl $0xfee000b0, %eax\n\t" "movl $0, (%rax)\n\t"
        "pop %rax\n\t" "iretq\n");
void isr_vec(void), isr_stray(void);

static unsigned cap;

static void notify(uint64_t v)
{
    mmio_write64(TDEV_BAR + TD_VALUE, v);
    mmio_write32(TDEV_BAR + TD_CMD, TD_MSIX);
}

/* Interrupts on for ~10 ms of TSC, so pending ones arrive. */
static void settle(void)
{
    sti();
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 30000000ull;)
        cpu_relax();
    cli();
}

static void entry(unsigned v, uint32_t addr, uint32_t data, uint32_t ctrl)
{
    uint64_t e = TDEV_MSIX + 16ull * v;
    mmio_write32(e, addr);
    mmio_write32(e + 4, 0);
    mmio_write32(e + 8, data);
    mmio_write32(e + 12, ctrl);
}

static void ctrl(uint16_t flags) { pci_cfg_write((unsigned)tdev, cap + 2, flags, 2); }

static void every_width(uint64_t base, unsigned from, unsigned to, uint8_t fill)
{
    uint64_t pat = 0x0101010101010101ull * fill;
    for (unsigned off = from; off < to; off++) {
        uint64_t a = base + off;
        mmio_write8(a, (uint8_t)pat);
        (void)mmio_read8(a);
        mmio_write16(a, (uint16_t)pat);
        (void)mmio_read16(a);
        mmio_write32(a, (uint32_t)pat);
        (void)mmio_read32(a);
        mmio_write64(a, pat);
        (void)mmio_read64(a);
    }
}

static void garbage(void)
{
    ctrl(0x8000);                                   /* MSI-X on, function unmasked */
    /* 0x20 bytes: vector 0x20, fixed delivery, a destination nobody has. */
    every_width(TDEV_MSIX, 0, 16 * TDEV_NR_MSIX + 8, 0x20);
    every_width(TDEV_MSIX, 0x3f0, 0x400, 0x20);     /* between table and PBA */
    uint32_t pba = mmio_read32(TDEV_PBA);
    every_width(TDEV_PBA, 0, 16, 0xff);
    every_width(TDEV_PBA, 0x3f0, 0x400, 0xff);      /* the end of the BAR */
    if (mmio_read32(TDEV_PBA) != pba)
        guest_fail(3, "PBA written: %x -> %x", pba, mmio_read32(TDEV_PBA));
    for (unsigned v = 0; v < TDEV_NR_MSIX; v++)
        guest_printf("hostile_msix: entry %u: %08x %08x %08x ctrl %08x\n", v,
                     mmio_read32(TDEV_MSIX + 16 * v), mmio_read32(TDEV_MSIX + 16 * v + 4),
                     mmio_read32(TDEV_MSIX + 16 * v + 8), mmio_read32(TDEV_MSIX + 16 * v + 12));
    static const uint64_t vectors[] = { 0, 1, 2, 3, 4, 5, 63, 64, 2048, 0xffffffffull, ~0ull };
    for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        notify(vectors[i]);
    settle();
    /* Garbage addresses: high bits, not the interrupt window, the window's end. */
    static const uint32_t addrs[] = { 0x00001000, 0xfedff000, 0xfeeff00c, 0xffffffff };
    for (unsigned i = 0; i < 4; i++) {
        entry(i, addrs[i], 0x20, 0);
        mmio_write32(TDEV_MSIX + 16 * i + 4, 0xffffffffu >> i);
        notify(i);
    }
    settle();
    volatile uint32_t *mark = (volatile uint32_t *)(RAM + 0x800);
    *mark = 0;
    unsigned stray = nr_stray;
    entry(0, (uint32_t)(RAM + 0x800), 0x5a5a1234u, 0);
    notify(0);
    settle();
    if (*mark != 0x5a5a1234u || nr_stray != stray)
        guest_fail(3, "MSI-X to RAM: wrote %x (want 5a5a1234), %u interrupts", *mark,
                   nr_stray - stray);
    puts("hostile_msix: a vector aimed at RAM wrote its data there\n");
    guest_printf("hostile_msix: garbage sent; %u stray interrupts\n", nr_stray);
}

static void storms(void)
{
    ctrl(0x8000);
    for (unsigned v = 0; v < TDEV_NR_MSIX; v++)
        entry(v, 0xfee00000u, VEC, 1);
    settle();
    nr_irq = 0;
    sti();
    for (unsigned i = 0; i < STORM; i++) {      /* per-vector mask */
        notify(1);
        mmio_write32(TDEV_MSIX + 16 + 12, 0);
        mmio_write32(TDEV_MSIX + 16 + 12, 1);
    }
    for (unsigned i = 0; i < STORM; i++) {      /* function mask */
        mmio_write32(TDEV_MSIX + 32 + 12, 0);
        ctrl(0xc000);
        notify(2);
        ctrl(0x8000);
        mmio_write32(TDEV_MSIX + 32 + 12, 1);
    }
    for (unsigned i = 0; i < STORM; i++) {      /* MSI-X enable, with an unmasked vector */
        ctrl(0x0000);
        notify(3);                              /* off: INTx instead, nothing pending */
        mmio_write32(TDEV_MSIX + 48 + 12, 0);
        ctrl(0x8000);
        notify(3);
        mmio_write32(TDEV_MSIX + 48 + 12, 1);
    }
    for (unsigned i = 0; i < 1000 && nr_irq < 3 * STORM; i++)
        cpu_relax();
    cli();
    guest_printf("hostile_msix: storms: %u interrupts for %u messages, PBA %x\n", nr_irq,
                 3 * STORM, mmio_read32(TDEV_PBA));
    if (nr_irq != 3 * STORM || mmio_read32(TDEV_PBA) != 0)
        guest_fail(4, "mask storms");
}

/* virtio-rng's queue vector (an irqfd on a KVM MSI route): MSI-X turned off
 * and on ROUTES times, each time a route and irqfd taken and given back (more
 * than KVM's 4096 routes, so a leak shows), and for the first eighth of
 * them also re-targeted, masked and unmasked. Then one request: exactly one
 * interrupt. */
#define ROUTES 4400
static void virtio_routes(void)
{
    if (!virtio_setup())
        guest_fail(6, "no virtio-rng");
    unsigned vcap = pci_find_cap((unsigned)vrng, 0x11);
    uint64_t table = 0;
    for (unsigned c = pci_cfg_read((unsigned)vrng, 0x34, 1); c;
         c = pci_cfg_read((unsigned)vrng, c + 1, 1))
        if (c == vcap) {
            unsigned bir = pci_cfg_read((unsigned)vrng, c + 4, 4);
            table = VBAR + (bir & ~7u);   /* BIR is the same BAR as the common config */
        }
    uint64_t e = table + 16;
    mmio_write32(e, 0xfee00000u);
    mmio_write32(e + 4, 0);
    mmio_write32(e + 8, VEC);
    mmio_write32(e + 12, 0);
    pci_cfg_write((unsigned)vrng, vcap + 2, 0x8000, 2);
    mmio_write16(vcommon + 0x16, 0);
    mmio_write16(vcommon + 0x1a, 1);
    for (unsigned i = 0; i < ROUTES; i++) {
        if (i < ROUTES / 8) {
            mmio_write32(e + 8, 0x30 + (i & 15));
            mmio_write32(e + 12, i & 1);
        }
        pci_cfg_write((unsigned)vrng, vcap + 2, (i & 1) ? 0x8000 : 0, 2);
    }
    mmio_write32(e + 8, VEC);
    mmio_write32(e + 12, 0);
    pci_cfg_write((unsigned)vrng, vcap + 2, 0x8000, 2);
    settle();
    nr_irq = 0;
    virtio_post();
    mmio_write16(vnotify, 0);
    bool done = virtio_done(1, "minivmm-rng-src:");
    settle();
    guest_printf("hostile_msix: virtio MSI-X toggled %u times: request %s, %u interrupts\n",
                 ROUTES, done ? "done" : "lost", nr_irq);
    if (!done || nr_irq != 1)
        guest_fail(6, "virtio after the route storm");
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    hostile_devices();
    if (tdev < 0)
        guest_fail(2, "need the DMA test device");
    cap = pci_find_cap((unsigned)tdev, 0x11);
    if (!cap)
        guest_fail(2, "no MSI-X capability");
    for (unsigned v = 0x20; v < 0x40; v++)
        idt_set(v, isr_stray);
    idt_set(VEC, isr_vec);
    lapic_enable();
    garbage();
    storms();
    virtio_routes();
    entry(0, 0xfee00000u, VEC, 0);
    nr_irq = 0;
    notify(0);
    settle();
    if (nr_irq != 1 || !tdev_works(RAM))
        guest_fail(5, "after the attacks: %u interrupts, DMA %s, PBA %x, entry %x %x %x %x, "
                   "ctrl %x",
                   nr_irq, tdev_works(RAM) ? "ok" : "broken", mmio_read32(TDEV_PBA),
                   mmio_read32(TDEV_MSIX), mmio_read32(TDEV_MSIX + 4), mmio_read32(TDEV_MSIX + 8),
                   mmio_read32(TDEV_MSIX + 12), pci_cfg_read((unsigned)tdev, cap + 2, 2));
    puts("hostile_msix: ok\n");
    return 0;
}
