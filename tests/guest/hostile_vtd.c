/* hostile_vtd: attacks on the VT-d unit (run with --iommu --edu --test-device dma).
 *  1. fault storm: 2000 test-device loads and 300 edu copies from unmapped
 *     IOVAs. The 8 fault records fill, then FSTS.PFO (overflow) as hardware
 *     does; a mapped DMA still works meanwhile; once the guest clears the
 *     records and PFO the next fault is recorded again, at record 0.
 *  2. tables that loop: a PML4 entry pointing back at its own table (the walk
 *     ends at the 4th level on the table page itself, as on hardware), a root
 *     entry pointing at the root table (context not present), a context entry
 *     whose page-table pointer is its own context table.
 *  3. tables in MMIO: root table in the unit's own registers, context table
 *     at the LAPIC, PML4 at the IOAPIC: each DMA faults (reasons 8, 9, 7).
 *  4. leaf entries at MMIO: the test device's own BAR (refused), the unit's
 *     own registers (no deadlock), the invalidation queue in MMIO (IQE).
 *  5. the invalidation queue's wait status aimed at the unit's own IQT,
 *     moving the tail on each time (a queue feeding itself)
 *  6. all-ones into every register at 4 and 8 bytes, DMA and an interrupt
 *     against that state, then every enable turned off again
 *  7. tables restored: DMA works again, FSTS clean.
 * Prints "hostile_vtd: ok" and exits 0. */
#include "hostile.h"
#include "vtd.h"

#define TABLES   0x300000ull
#define QUEUE    0x310000ull
#define RAM_RW   0x400000ull
#define IOVA_RW  0x10000ull
#define DID      1
#define STORM_TDEV 2000
#define STORM_EDU  300

static uint64_t frcd_base(void)
{
    return VTD_BASE + ((vtd_read64(VTD_CAP) >> 24) & 0x3ff) * 16;
}

static unsigned nr_frcd(void) { return (unsigned)((vtd_read64(VTD_CAP) >> 40) & 0xff) + 1; }

/* Clears every fault record and FSTS's write-1-to-clear bits. */
static void faults_clear(void)
{
    for (unsigned i = 0; i < nr_frcd(); i++)
        mmio_write32(frcd_base() + 16 * i + 12, 1u << 31);
    mmio_write32(VTD_BASE + VTD_FSTS, 0x7f);
}

/* The DMA faults with `reason` in the primary record (then cleared). */
static void expect_fault(const char *what, uint32_t st, uint8_t reason)
{
    struct vtd_fault f = { 0 };
    if (st != ST_IOMMU)
        guest_fail(10, "%s: status %u, want an IOMMU fault", what, st);
    if (!vtd_fault_take(&f) || f.reason != reason || f.sid != (uint16_t)tdev)
        guest_fail(10, "%s: fault reason %u sid %x (want %u)", what, f.reason, f.sid, reason);
    faults_clear();
    guest_printf("hostile_vtd: %s: fault reason %u\n", what, reason);
}

static void tables(void)
{
    vtd_tables_init(TABLES);
    vtd_context(TABLES, (unsigned)edu, DID);
    vtd_context(TABLES, (unsigned)tdev, DID);
    *vtd_pte(TABLES, IOVA_RW) = RAM_RW | VTD_PTE_R | VTD_PTE_W;
}

static void flush(void)
{
    mmio_write64(VTD_BASE + VTD_CCMD, 1ull << 63 | 1ull << 61);
    if (!vtd_wait(VTD_CCMD, 1ull << 63, false, true) || !vtd_iotlb_invalidate(1, 0, 0))
        guest_fail(3, "flush did not complete");
}

/* A new root table address, latched, and everything cached dropped. */
static void set_root(uint64_t root)
{
    mmio_write64(VTD_BASE + VTD_RTADDR, root);
    if (!vtd_command(VTD_SRTP, true))
        guest_fail(3, "SRTP did not complete");
    flush();
}

static void storm(void)
{
    mmio_write32(TDEV_BAR + TD_WIDTH, 4);
    mmio_write32(TDEV_BAR + TD_ORDER, 0);
    unsigned bad = 0;
    for (unsigned i = 0; i < STORM_TDEV; i++) {
        mmio_write64(TDEV_BAR + TD_ADDR, 0x100000 + 0x1000ull * (i % 300));
        mmio_write32(TDEV_BAR + TD_CMD, TD_LOAD);
        bad += mmio_read32(TDEV_BAR + TD_STATUS) != ST_IOMMU;
    }
    for (unsigned i = 0; i < STORM_EDU; i++)
        if (!edu_dma(0x200000 + 0x1000ull * (i % 200), 0x40000, 64, 1))
            guest_fail(4, "edu stuck in the storm");
    uint32_t fsts = vtd_read32(VTD_FSTS);
    unsigned full = 0;
    for (unsigned i = 0; i < nr_frcd(); i++)
        full += (mmio_read32(frcd_base() + 16 * i + 12) >> 31) & 1;
    guest_printf("hostile_vtd: storm of %u faults: %u unfaulted, FSTS 0x%x, %u records full\n",
                 STORM_TDEV + STORM_EDU, bad, fsts, full);
    if (bad || !(fsts & VTD_FSTS_PFO) || !(fsts & VTD_FSTS_PPF) || full != nr_frcd())
        guest_fail(4, "fault log after the storm");
    if (mmio_read64(frcd_base()) != 0x100000)
        guest_fail(4, "record 0 holds %lx, want the first fault's page",
                   (unsigned long)mmio_read64(frcd_base()));
    uint64_t v = 0x1234;
    if (tdev_dma(TD_STORE, IOVA_RW, 8, &v) != ST_OK || *(volatile uint64_t *)RAM_RW != 0x1234)
        guest_fail(4, "mapped DMA with the fault log full");
    /* Overflowed: no new record until PFO is cleared. */
    if (tdev_dma(TD_LOAD, 0x900000, 4, &v) != ST_IOMMU || mmio_read64(frcd_base()) != 0x100000)
        guest_fail(4, "a fault recorded over a full log");
    faults_clear();
    if (vtd_read32(VTD_FSTS) & 0xff)
        guest_fail(4, "FSTS 0x%x after clearing", vtd_read32(VTD_FSTS));
    struct vtd_fault f = { 0 };
    if (tdev_dma(TD_LOAD, 0x901000, 4, &v) != ST_IOMMU || !vtd_fault_take(&f) ||
        f.addr != 0x901000)
        guest_fail(4, "the first fault after clearing: record %u addr %lx", f.index,
                   (unsigned long)f.addr);
    faults_clear();
    puts("hostile_vtd: storm: log overflowed, cleared, recording again\n");
}

static void loops(void)
{
    uint64_t pml4 = VTD_T_PML4(TABLES), v = 0;
    /* PML4[1] -> PML4: IOVA with every index 1 ends on the PML4 page. */
    vtd_q(pml4)[1] = pml4 | 3;
    flush();
    uint64_t iova = 1ull << 39 | 1ull << 30 | 1ull << 21 | 1ull << 12;
    if (tdev_dma(TD_LOAD, iova + 8, 8, &v) != ST_OK || v != (pml4 | 3))
        guest_fail(5, "self-referencing PML4: %lx", (unsigned long)v);
    vtd_q(pml4)[1] = 0;
    puts("hostile_vtd: PML4 entry pointing at its own table: the walk ends on it\n");
    /* Root entry 0 -> the root table: the context entries read are root entries. */
    vtd_q(VTD_T_ROOT(TABLES))[0] = VTD_T_ROOT(TABLES) | 1;
    flush();
    expect_fault("root entry pointing at the root table", tdev_dma(TD_LOAD, IOVA_RW, 4, &v), 2);
    vtd_q(VTD_T_ROOT(TABLES))[0] = VTD_T_CTX(TABLES) | 1;
    /* Context entry's page-table pointer = its own context table. */
    uint64_t ctx = VTD_T_CTX(TABLES);
    vtd_q(ctx + 16ull * (unsigned)tdev)[0] = ctx | 1;
    flush();
    unsigned i = (unsigned)tdev * 2;                  /* the entry's own slot, as a PTE index */
    iova = (uint64_t)i << 39 | (uint64_t)i << 30 | (uint64_t)i << 21 | (uint64_t)i << 12;
    uint32_t st = tdev_dma(TD_LOAD, iova + 16ull * (unsigned)tdev, 8, &v);
    if (st != ST_OK || v != (ctx | 1))
        guest_fail(5, "context table as its own page table: status %u value %lx", st,
                   (unsigned long)v);
    expect_fault("store through the read-only self-loop", tdev_dma(TD_STORE, iova, 8, &v), 5);
    vtd_context(TABLES, (unsigned)tdev, DID);
    flush();
    puts("hostile_vtd: context entry pointing at its own table: read-only walk, no hang\n");
}

static void mmio_tables(void)
{
    uint64_t v = 0;
    set_root(VTD_BASE);
    expect_fault("root table in the unit's registers", tdev_dma(TD_LOAD, IOVA_RW, 4, &v), 8);
    set_root(VTD_T_ROOT(TABLES));
    vtd_q(VTD_T_ROOT(TABLES))[0] = 0xfee00000ull | 1;
    flush();
    expect_fault("context table at the LAPIC", tdev_dma(TD_LOAD, IOVA_RW, 4, &v), 9);
    vtd_q(VTD_T_ROOT(TABLES))[0] = VTD_T_CTX(TABLES) | 1;
    vtd_q(VTD_T_CTX(TABLES) + 16ull * (unsigned)tdev)[0] = 0xfec00000ull | 1;
    flush();
    expect_fault("PML4 at the IOAPIC", tdev_dma(TD_LOAD, IOVA_RW, 4, &v), 7);
    vtd_context(TABLES, (unsigned)tdev, DID);
    flush();
}

/* Leaf entries mapping device memory: the DMA reaches MMIO, is refused where
 * it must be, and nothing deadlocks. */
static void mmio_leaves(void)
{
    uint64_t v = 0;
    *vtd_pte(TABLES, 0x20000) = TDEV_BAR | 3;
    *vtd_pte(TABLES, 0x21000) = VTD_BASE | 3;
    *vtd_pte(TABLES, 0x22000) = EDU_BAR | 3;
    flush();
    uint32_t own = tdev_dma(TD_LOAD, 0x20000 + TD_STATUS, 4, &v);
    uint32_t own_w = tdev_dma(TD_STORE, 0x20000 + TD_CMD, 4, &v);
    if (own == ST_OK || own_w == ST_OK)
        guest_fail(6, "DMA into the device's own BAR through the IOMMU: %u %u", own, own_w);
    uint32_t unit = tdev_dma(TD_LOAD, 0x21000 + VTD_GSTS, 4, &v);
    guest_printf("hostile_vtd: own BAR: load %u store %u; unit registers: load %u (0x%lx)\n",
                 own, own_w, unit, (unsigned long)v);
    /* GCMD written by DMA (the enables as they are): no deadlock. */
    v = vtd_read32(VTD_GSTS) & (VTD_TE | VTD_QIE | VTD_IRE | VTD_CFI);
    uint32_t gcmd = tdev_dma(TD_STORE, 0x21000 + VTD_GCMD, 4, &v);
    uint32_t peer = tdev_dma(TD_LOAD, 0x22000, 4, &v);
    guest_printf("hostile_vtd: GCMD by DMA: %u; edu's BAR by DMA: status %u value 0x%lx\n", gcmd,
                 peer, (unsigned long)v);
    faults_clear();
    /* The invalidation queue in MMIO (the LAPIC page): an error, no hang. */
    mmio_write64(VTD_BASE + VTD_IQT, 0);
    mmio_write64(VTD_BASE + VTD_IQA, 0xfee00000ull);
    if (!vtd_command(VTD_QIE, true))
        guest_fail(6, "QIE");
    mmio_write64(VTD_BASE + VTD_IQT, 1 << 4);
    for (unsigned i = 0; i < 1000 && !(vtd_read32(VTD_FSTS) & VTD_FSTS_IQE); i++)
        cpu_relax();
    guest_printf("hostile_vtd: queue in MMIO: FSTS 0x%x IQH 0x%lx\n", vtd_read32(VTD_FSTS),
                 (unsigned long)vtd_read64(VTD_IQH));
    if (!vtd_command(VTD_QIE, false))
        guest_fail(6, "QIE off");
    faults_clear();
    if (!vtd_qi_enable(QUEUE))
        guest_fail(6, "queue on again");
    vtd_qi_iotlb(1, 0, 0);
    if (!vtd_qi_sync())
        guest_fail(6, "queue after the MMIO queue");
    if (!vtd_command(VTD_QIE, false))
        guest_fail(6, "QIE off");
}

/* A wait descriptor whose status write lands on the unit's own IQT with a
 * tail one further each time: a queue that would feed itself forever if the
 * unit re-entered itself. */
static void queue_feeds_itself(void)
{
    if (!vtd_qi_enable(QUEUE))
        guest_fail(8, "queue on");
    for (unsigned i = 0; i < 256; i++)
        vtd_qi_put(5 | 1u << 5 | (uint64_t)(((i + 2) % 256) << 4) << 32, VTD_BASE + VTD_IQT);
    mmio_write64(VTD_BASE + VTD_IQT, 1 << 4);
    guest_printf("hostile_vtd: wait status into IQT: IQH 0x%lx IQT 0x%lx\n",
                 (unsigned long)vtd_read64(VTD_IQH), (unsigned long)vtd_read64(VTD_IQT));
    if (!vtd_command(VTD_QIE, false))
        guest_fail(8, "QIE off");
    faults_clear();
}

/* All-ones into every register at 4 and then 8 bytes (GCMD: every command
 * at once; queue, root and remapping tables at the top of the address
 * space), DMA and remapped interrupts against that, then each enable off. */
static void all_ones_registers(void)
{
    for (unsigned off = 0; off < 0x1000; off += 4)
        mmio_write32(VTD_BASE + off, 0xffffffffu);
    for (unsigned off = 0; off < 0x1000; off += 8)
        mmio_write64(VTD_BASE + off, ~0ull);
    uint64_t v = 0;
    uint32_t st = tdev_dma(TD_LOAD, IOVA_RW, 4, &v);
    edu_dma(IOVA_RW, 0x40000, 64, 1);
    mmio_write32(edu_bar + 0x60, 1);                  /* edu raises its interrupt */
    guest_printf("hostile_vtd: all-ones registers: GSTS 0x%x FSTS 0x%x, DMA status %u\n",
                 vtd_read32(VTD_GSTS), vtd_read32(VTD_FSTS), st);
    mmio_write32(edu_bar + 0x64, 1);
    static const uint32_t enables[] = { VTD_TE, VTD_QIE, VTD_IRE, VTD_CFI };
    for (unsigned i = 0; i < 4; i++)
        if (!vtd_command(enables[i], false))
            guest_fail(9, "enable 0x%x does not turn off", enables[i]);
    faults_clear();
    mmio_write32(VTD_BASE + 0x38, 1u << 31);          /* FECTL: masked */
    if (!vtd_command(VTD_TE, true))
        guest_fail(9, "TE on again");
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    hostile_devices();
    if (edu < 0 || tdev < 0)
        guest_fail(2, "need edu and the DMA test device");
    tables();
    if (!vtd_enable(TABLES))
        guest_fail(3, "translation not enabled");
    storm();
    loops();
    mmio_tables();
    mmio_leaves();
    queue_feeds_itself();
    all_ones_registers();
    tables();
    set_root(VTD_T_ROOT(TABLES));
    faults_clear();
    uint64_t v = 0x5a5a;
    if (tdev_dma(TD_STORE, IOVA_RW, 8, &v) != ST_OK || *(volatile uint64_t *)RAM_RW != 0x5a5a ||
        !edu_works(RAM_RW + 0x100, RAM_RW + 0x800, 64, IOVA_RW - RAM_RW) ||
        (vtd_read32(VTD_FSTS) & 0xff) != 0)
        guest_fail(7, "DMA after the attacks (FSTS 0x%x)", vtd_read32(VTD_FSTS));
    puts("hostile_vtd: ok\n");
    return 0;
}
