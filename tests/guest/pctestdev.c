/* pctestdev: every register of QEMU's pc-testdev (--test-device pc), as
 * kvm-unit-tests use them: the scratch register at 0xe0 (any width) and 0xe8
 * (bytewise), the flush port 0xe4, the IRQ lines at 0x2000 + n (here GSI 10
 * through the IOAPIC to vector 0x41, raised twice), and the 64 KiB scratch
 * memory at 0xff000000. Prints "pctestdev: ok". Exit code 2 on a mismatch. */
#include "pcplat.h"

#define DATA      0xe0
#define FLUSH     0xe4
#define DATA_BYTE 0xe8
#define IRQ_PORT  0x2000
#define IOMEM     0xff000000ul
#define IRQ_GSI   10
#define IRQ_VEC   0x41

static volatile unsigned irqs;
static uint64_t flush_page[512] __attribute__((aligned(4096)));

__attribute__((interrupt)) static void testdev_isr(struct interrupt_frame *f)
{
    (void)f;
    irqs = irqs + 1;
    lapic_eoi();
}

#define EXPECT(what, got, want)                                                        \
    do {                                                                               \
        unsigned long g_ = (got), w_ = (want);                                         \
        if (g_ != w_)                                                                  \
            guest_fail(2, "%s: 0x%lx, want 0x%lx", what, g_, w_);                      \
    } while (0)

static void wait_irq(unsigned n)
{
    sti();
    for (unsigned i = 0; i < 100000 && irqs < n; i++)
        cpu_relax();
    cli();
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    outl(DATA, 0x11223344);
    EXPECT("0xe0 dword", inl(DATA), 0x11223344);
    EXPECT("0xe2 byte", inb(DATA + 2), 0x22);
    EXPECT("0xe2 word", inw(DATA + 2), 0x1122);
    outb(DATA + 1, 0xab);
    EXPECT("0xe8 dword after a byte write", inl(DATA_BYTE), 0x1122ab44);
    outw(DATA_BYTE + 2, 0x5566);
    EXPECT("0xe0 dword after 0xea word", inl(DATA), 0x5566ab44);
    EXPECT("0xeb byte", inb(DATA_BYTE + 3), 0x55);

    for (unsigned i = 0; i < 512; i++)
        flush_page[i] = 0xf1f1f1f100000000ull | i;
    outl(FLUSH, (uint32_t)(uintptr_t)flush_page);
    for (unsigned i = 0; i < 512; i += 64)
        EXPECT("page after flush", flush_page[i], 0xf1f1f1f100000000ull | i);

    mmio_write32(IOMEM + 0x10, 0xcafef00d);
    EXPECT("iomem dword", mmio_read32(IOMEM + 0x10), 0xcafef00d);
    EXPECT("iomem byte", mmio_read8(IOMEM + 0x11), 0xf0);
    mmio_write16(IOMEM + 0xfffe, 0xbeef);
    EXPECT("iomem last word", mmio_read16(IOMEM + 0xfffe), 0xbeef);
    EXPECT("iomem untouched", mmio_read32(IOMEM + 0x100), 0);

    idt_set(IRQ_VEC, testdev_isr);
    lapic_enable();
    ioapic_route(IRQ_GSI, IRQ_VEC);
    outb(IRQ_PORT + IRQ_GSI, 1);
    wait_irq(1);
    outb(IRQ_PORT + IRQ_GSI, 0);
    EXPECT("interrupts after raising the line", irqs, 1);
    outb(IRQ_PORT + IRQ_GSI, 1);
    wait_irq(2);
    outb(IRQ_PORT + IRQ_GSI, 0);
    EXPECT("interrupts after raising it again", irqs, 2);
    puts("pctestdev: ok\n");
    return 0;
}
