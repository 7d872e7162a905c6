/* vtd: the VT-d unit from a guest (run with --iommu --edu --test-device dma;
 * --iommu brings interrupt remapping and the split irqchip).
 *  1. tables: root -> context (edu and the DMA test device, domain 1) ->
 *     4 levels; IOVA 0x10000 -> 0x400000 read-write, 0x11000 -> 0x401000
 *     read-only; translation on
 *  2. the test device stores and loads through the mapping, edu DMAs a
 *     buffer in and out through it; the data is checked in RAM
 *  3. unmap + page-selective IOTLB invalidation through the registers: the
 *     next store faults (status 3), RAM untouched, and the fault record names
 *     the device's requester id, the page, "write", reason 5, FSTS.PPF
 *  4. mapped again, used, unmapped + domain-selective invalidation through the
 *     invalidation queue (with a wait descriptor): the next load faults, reason 6
 *  5. a store to the read-only page faults (reason 5); a load from it works
 *  6. interrupt remapping: IRTA table, entry cache invalidated, IRE on; edu's
 *     MSI in remappable format with handle 5 arrives at IRTE 5's vector; COM1's
 *     IRQ 4 through the IOAPIC in remappable format (handle 6) at IRTE 6's;
 *     a compatibility-format MSI is blocked with fault reason 0x25
 * Prints "vtd: ok" and exits 0; a failure prints why and exits non-zero. */
#include "pcidev.h"
#include "pcplat.h"
#include "vtd.h"

#define TABLES   0x300000ull
#define QUEUE    0x310000ull
#define IRT      0x311000ull
#define RAM_RW   0x400000ull
#define RAM_RO   0x401000ull
#define IOVA_RW  0x10000ull
#define IOVA_RO  0x11000ull
#define EDU_BAR  0xd0000000u
#define TDEV_BAR 0xd1000000u
#define VEC_MSI  0x50
#define VEC_UART 0x51
#define DID      1
#define MSIX_REMAPPED_HANDLE 5
#define IOAPIC_HANDLE 6

static unsigned edu, tdev;
volatile uint32_t nr_msi, nr_uart;

__asm__(".text\n"
        "isr_msi:\n\t" "lock incl nr_msi(%rip)\n\t" "jmp 1f\n"
        "isr_uart:\n\t" "lock incl nr_uart(%rip)\n\t"
        "push %rax\n\t" "push %rdx\n\t" "movw $0x3f9, %dx\n\t" "xorl %eax, %eax\n\t"
        "outb %al, %dx\n\t"                       /* IER = 0: the line goes low */
        "pop %rdx\n\t" "pop %rax\n"
        "1:\n\t" "push %rax\n\t" "movl $0xfee000b0, %eax\n\t" "movl $0, (%rax)\n\t"
        "pop %rax\n\t" "iretq\n");
void isr_msi(void), isr_uart(void);

static int wait_count(volatile uint32_t *counter, uint32_t want)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 500000000ull && *counter < want;)
        cpu_relax();
    return *counter >= want;
}

/* One DMA by the test device: command 1 load, 2 store; returns its status. */
static uint32_t tdev_dma(unsigned cmd, uint64_t addr, unsigned width, uint64_t *value)
{
    mmio_write64(TDEV_BAR + 0x08, addr);
    mmio_write32(TDEV_BAR + 0x10, width);
    mmio_write32(TDEV_BAR + 0x14, 0);
    if (cmd == 2)
        mmio_write64(TDEV_BAR + 0x18, *value);
    mmio_write32(TDEV_BAR + 0x20, cmd);
    if (cmd == 1)
        *value = mmio_read64(TDEV_BAR + 0x18);
    return mmio_read32(TDEV_BAR + 0x28);
}

static void edu_dma(uint64_t src, uint64_t dst, uint64_t len, uint64_t cmd)
{
    mmio_write64(EDU_BAR + 0x80, src);
    mmio_write64(EDU_BAR + 0x88, dst);
    mmio_write64(EDU_BAR + 0x90, len);
    mmio_write64(EDU_BAR + 0x98, cmd);
    while (mmio_read64(EDU_BAR + 0x98) & 1)
        cpu_relax();
}

static void expect_fault(const char *what, unsigned sid, uint64_t addr, uint8_t reason, bool read)
{
    uint32_t fsts = vtd_read32(VTD_FSTS);
    struct vtd_fault f;
    if (!vtd_fault_take(&f))
        guest_fail(10, "%s: no fault pending (FSTS 0x%x)", what, fsts);
    if (f.sid != sid || f.addr != addr || f.reason != reason || f.read != read)
        guest_fail(10, "%s: fault record %u: sid %x addr %lx reason %x %s (want %x %lx %x %s)",
                   what, f.index, f.sid, (unsigned long)f.addr, f.reason, f.read ? "read" : "write",
                   sid, (unsigned long)addr, reason, read ? "read" : "write");
    if (vtd_read32(VTD_FSTS) & (VTD_FSTS_PPF | VTD_FSTS_PFO))
        guest_fail(10, "%s: FSTS 0x%x after clearing the record", what, vtd_read32(VTD_FSTS));
    guest_printf("vtd: %s: fault record %u sid %02x:%02x.%x addr 0x%lx reason %u %s, FSTS 0x%x\n",
                 what, f.index, f.sid >> 8, (f.sid >> 3) & 0x1f, f.sid & 7,
                 (unsigned long)f.addr, f.reason, f.read ? "read" : "write", fsts);
}

static void setup(void)
{
    int e = pci_find(0x11e81234u), t = pci_find(0x7e5d1234u);
    if (e < 0 || t < 0)
        guest_fail(2, "need edu (1234:11e8) and the DMA test device (1234:7e5d)");
    edu = (unsigned)e, tdev = (unsigned)t;
    pci_cfg_write(edu, 0x10, EDU_BAR, 4);
    pci_cfg_write(edu, 4, 0x6, 2);
    pci_cfg_write(tdev, 0x10, TDEV_BAR, 4);
    pci_cfg_write(tdev, 0x14, 0, 4);
    pci_cfg_write(tdev, 4, 0x6, 2);
    uint64_t ecap = vtd_read64(VTD_ECAP);
    if (!(ecap & 2) || !(ecap & 8))
        guest_fail(2, "ECAP 0x%lx: no queued invalidation or interrupt remapping",
                   (unsigned long)ecap);
    vtd_tables_init(TABLES);
    vtd_context(TABLES, edu, DID);
    vtd_context(TABLES, tdev, DID);
    *vtd_pte(TABLES, IOVA_RW) = RAM_RW | VTD_PTE_R | VTD_PTE_W;
    *vtd_pte(TABLES, IOVA_RO) = RAM_RO | VTD_PTE_R;
    if (!vtd_enable(TABLES))
        guest_fail(3, "translation not enabled");
}

static void dma_through_mapping(void)
{
    volatile uint64_t *rw = (volatile uint64_t *)RAM_RW;
    rw[0] = 0x1122334455667788ull;
    rw[1] = 0;
    uint64_t v = 0xa5a5a5a5deadbeefull;
    if (tdev_dma(2, IOVA_RW + 8, 8, &v) != 0 || rw[1] != 0xa5a5a5a5deadbeefull)
        guest_fail(4, "store through the mapping: RAM %lx", (unsigned long)rw[1]);
    if (tdev_dma(1, IOVA_RW, 8, &v) != 0 || v != 0x1122334455667788ull)
        guest_fail(4, "load through the mapping: %lx", (unsigned long)v);
    volatile uint8_t *b = (volatile uint8_t *)RAM_RW;
    for (unsigned i = 0; i < 64; i++) {
        b[0x100 + i] = (uint8_t)(i * 3 + 7);
        b[0x200 + i] = 0;
    }
    edu_dma(IOVA_RW + 0x100, 0x40000, 64, 1);
    edu_dma(0x40000, IOVA_RW + 0x200, 64, 3);
    for (unsigned i = 0; i < 64; i++)
        if (b[0x200 + i] != (uint8_t)(i * 3 + 7))
            guest_fail(4, "edu DMA through the mapping: byte %u is %x", i, b[0x200 + i]);
    puts("vtd: test device and edu DMA through IOVA 0x10000 -> 0x400000 ok\n");
}

static void unmap_register_invalidation(void)
{
    *vtd_pte(TABLES, IOVA_RW) = 0;
    if (!vtd_iotlb_invalidate(3, DID, IOVA_RW))
        guest_fail(5, "page-selective IOTLB invalidation did not complete");
    volatile uint64_t *rw = (volatile uint64_t *)RAM_RW;
    uint64_t v = 0x5555;
    uint32_t st = tdev_dma(2, IOVA_RW + 8, 8, &v);
    if (st != 3 || rw[1] != 0xa5a5a5a5deadbeefull)
        guest_fail(5, "store after unmap: status %u, RAM %lx", st, (unsigned long)rw[1]);
    expect_fault("unmap + register invalidation", tdev, IOVA_RW, 5, false);
}

static void unmap_queued_invalidation(void)
{
    *vtd_pte(TABLES, IOVA_RW) = RAM_RW | VTD_PTE_R | VTD_PTE_W;
    if (!vtd_qi_enable(QUEUE))
        guest_fail(6, "queued invalidation not enabled");
    uint64_t v = 0;
    if (tdev_dma(1, IOVA_RW, 8, &v) != 0 || v != 0x1122334455667788ull)
        guest_fail(6, "load after mapping again: %lx", (unsigned long)v);
    *vtd_pte(TABLES, IOVA_RW) = 0;
    vtd_qi_iotlb(2, DID, 0);
    if (!vtd_qi_sync())
        guest_fail(6, "queued IOTLB invalidation");
    uint32_t st = tdev_dma(1, IOVA_RW + 0x10, 4, &v);
    if (st != 3)
        guest_fail(6, "load after unmap: status %u", st);
    expect_fault("unmap + queued invalidation", tdev, IOVA_RW, 6, true);
}

static void read_only_mapping(void)
{
    volatile uint64_t *ro = (volatile uint64_t *)RAM_RO;
    ro[0] = 0x0123456789abcdefull;
    uint64_t v = 0xffff;
    uint32_t st = tdev_dma(2, IOVA_RO, 8, &v);
    if (st != 3 || ro[0] != 0x0123456789abcdefull)
        guest_fail(7, "store to the read-only page: status %u, RAM %lx", st, (unsigned long)ro[0]);
    expect_fault("write to a read-only mapping", tdev, IOVA_RO, 5, false);
    if (tdev_dma(1, IOVA_RO, 8, &v) != 0 || v != 0x0123456789abcdefull)
        guest_fail(7, "load from the read-only page: %lx", (unsigned long)v);
    puts("vtd: read-only page: load ok, store faults\n");
}

static void interrupt_remapping(void)
{
    idt_set(VEC_MSI, isr_msi);
    idt_set(VEC_UART, isr_uart);
    lapic_enable();
    sti();
    memset((void *)IRT, 0, 0x1000);
    vtd_irte(IRT, MSIX_REMAPPED_HANDLE, VEC_MSI, 0, (uint16_t)edu);
    vtd_irte(IRT, IOAPIC_HANDLE, VEC_UART, 0, 0xf0f8);          /* the IOAPIC's source id */
    if (!vtd_ir_enable(IRT))
        guest_fail(8, "interrupt remapping not enabled");
    /* edu's MSI: remappable format, handle 5, data 0 (no subhandle). */
    unsigned msi = pci_find_cap(edu, 0x05);
    pci_cfg_write(edu, msi + 4, vtd_msi_remappable(MSIX_REMAPPED_HANDLE), 4);
    pci_cfg_write(edu, msi + 8, 0, 4);
    pci_cfg_write(edu, msi + 12, 0, 2);
    pci_cfg_write(edu, msi + 2, 1, 2);
    mmio_write32(EDU_BAR + 0x60, 1);
    if (!wait_count(&nr_msi, 1))
        guest_fail(8, "no remapped MSI at vector 0x%x", VEC_MSI);
    mmio_write32(EDU_BAR + 0x64, 1);
    guest_printf("vtd: edu MSI through IRTE %u -> vector 0x%x\n", MSIX_REMAPPED_HANDLE, VEC_MSI);
    /* COM1's IRQ 4: IOAPIC entry in remappable format (bit 48; handle bits
     * 14:0 in 63:49), edge; the vector field only matches EOIs (Linux puts
     * the pin there), so the interrupt arriving at VEC_UART proves the IRTE. */
    uint64_t rte = 4 | 1ull << 48 | (uint64_t)IOAPIC_HANDLE << 49;
    ioapic_set_rte(4, rte);
    outb(GUEST_COM1 + 1, 0x02);                                 /* IER: THR empty */
    if (!wait_count(&nr_uart, 1))
        guest_fail(8, "no remapped IOAPIC interrupt at vector 0x%x", VEC_UART);
    guest_printf("vtd: IOAPIC pin 4 through IRTE %u -> vector 0x%x\n", IOAPIC_HANDLE, VEC_UART);
    /* A compatibility-format MSI with IR on (and CFI off) is blocked. */
    pci_cfg_write(edu, msi + 4, 0xfee00000u, 4);
    pci_cfg_write(edu, msi + 12, VEC_MSI, 2);
    mmio_write32(EDU_BAR + 0x60, 1);
    if (wait_count(&nr_msi, 2))
        guest_fail(9, "compatibility-format MSI delivered with remapping on");
    expect_fault("compatibility-format MSI", edu, 0, 0x25, false);
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    setup();
    dma_through_mapping();
    unmap_register_invalidation();
    unmap_queued_invalidation();
    read_only_mapping();
    interrupt_remapping();
    puts("vtd: ok\n");
    return 0;
}
