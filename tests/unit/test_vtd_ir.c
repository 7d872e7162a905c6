/* VT-d fault recording (overflow, event masking) and interrupt remapping
 * (IRTE translation, faults, source-id validation, compatibility format, the
 * interrupt entry cache invalidation listeners). */
#include "tests/unit/vtd_util.h"

#include "vmm/irq.h"

#define DEV 0x08

TEST(vtd_fault_overflow_and_event)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    gcmd(&t, G_TE, true);                                /* no context entries: faults */
    wr(&t, R_FEDATA, 0x55, 4);
    wr(&t, R_FEADDR, 0xfee01000, 4);
    wr(&t, R_FECTL, 0, 4);
    for (unsigned i = 0; i < 10; i++)
        xlate(&t, (uint16_t)(DEV + i % 8), 0x1000ull * i, IOMMU_RO);
    /* 8 records, then overflow; one event, for the first */
    for (unsigned i = 0; i < 8; i++) {
        CHECK_EQ(frcd_reason(&t, i), 2);
        CHECK_EQ(rd(&t, R_FRCD + 16 * i, 8), 0x1000ull * i);
    }
    CHECK_EQ(rd(&t, R_FSTS, 4), 0x3);                    /* PPF, PFO, FRI 0 */
    CHECK_EQ(t.nr_msis, 1);
    CHECK_EQ(t.msis[0].address, 0xfee01000);
    CHECK_EQ(t.msis[0].data, 0x55);
    /* freeing a record does not resume logging while PFO is set */
    wr(&t, R_FRCD + 12, 1u << 31, 4);
    xlate(&t, DEV, 0x20000, IOMMU_RO);
    CHECK_EQ(frcd_reason(&t, 0), 0);
    wr(&t, R_FSTS, 1, 4);                                /* PFO cleared */
    xlate(&t, DEV, 0x20000, IOMMU_RO);
    CHECK_EQ(frcd_reason(&t, 0), 2);
    CHECK_EQ(t.nr_msis, 1);                              /* PPF was still set */
    clear_faults(&t);
    CHECK_EQ(rd(&t, R_FSTS, 4), 0);
    /* masked: IP, then the event on unmask */
    wr(&t, R_FECTL, 1u << 31, 4);
    xlate(&t, DEV, 0x30000, IOMMU_WO);
    CHECK_EQ(t.nr_msis, 1);
    CHECK_EQ(rd(&t, R_FECTL, 4), 3u << 30);
    CHECK_EQ((rd(&t, R_FSTS, 4) >> 8) & 0xff, 1);        /* FRI: the next record */
    wr(&t, R_FECTL, 0, 4);
    CHECK_EQ(t.nr_msis, 2);
    CHECK_EQ(rd(&t, R_FECTL, 4), 0);
    /* masked and serviced before unmasking: nothing sent */
    clear_faults(&t);
    wr(&t, R_FECTL, 1u << 31, 4);
    xlate(&t, DEV, 0x40000, IOMMU_WO);
    clear_faults(&t);
    CHECK_EQ(rd(&t, R_FECTL, 4), 1u << 31);
    wr(&t, R_FECTL, 0, 4);
    CHECK_EQ(t.nr_msis, 2);
    vt_teardown(&t);
}

/* IRTE `index`: vector, destination, source-id check (svt/sq/sid). */
static void set_irte(struct vtd_test *t, unsigned index, uint8_t vector, uint32_t dest,
                     unsigned svt, unsigned sq, uint16_t sid, bool level)
{
    uint64_t lo = 1 | (level ? 1u << 4 : 0) | (uint64_t)vector << 16 | (uint64_t)dest << 32;
    uint64_t hi = (uint64_t)svt << 18 | (uint64_t)sq << 16 | sid;
    ram_q(t, T_IRT + index * 16ull + 8, hi);
    ram_q(t, T_IRT + index * 16ull, lo);
}

/* A remappable-format MSI for `index` (handle only, no subhandle). */
static MSIMessage remappable(unsigned index)
{
    return (MSIMessage){ .address = 0xfee00000ull | (index & 0x7fff) << 5 | 1u << 4 |
                                    ((index >> 15) & 1) << 2,
                         .data = 0 };
}

static unsigned changes;
static void count_change(IntRemapNotifier *n)
{
    (void)n;
    changes++;
}

static void ir_enable(struct vtd_test *t, bool eime)
{
    wr(t, R_IRTA, T_IRT | (eime ? 1u << 11 : 0) | 7, 8);  /* 256 entries */
    gcmd(t, G_SIRTP, true);
    gcmd(t, G_IRE, true);
}

TEST(vtd_interrupt_remapping)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    IntRemapNotifier n = { .changed = count_change };
    changes = 0;
    vm_intremap_add_notifier(&t.f.vm, &n);
    MSIMessage compat = { .address = 0xfee00000, .data = 0x31 };
    CHECK_EQ(vm_send_msi(&t.f.vm, &compat, DEV), 0);      /* IR off: as it is */
    ir_enable(&t, false);
    CHECK(t.f.vm.intremap != NULL);
    CHECK(changes >= 1);
    CHECK_EQ(rd(&t, R_GSTS, 4) & (G_IRE | G_SIRTP), G_IRE | G_SIRTP);

    set_irte(&t, 3, 0x45, 1u << 8, 1, 0, DEV, true);     /* xAPIC dest 1 */
    MSIMessage m = remappable(3);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), 0);
    CHECK_EQ(t.nr_msis, 2);
    CHECK_EQ(t.msis[1].address, 0xfee01000);
    CHECK_EQ(t.msis[1].data, 0x45 | 3u << 14);           /* level, asserted */
    /* subhandle: index 1 + data 2 */
    m = (MSIMessage){ .address = 0xfee00000ull | 1 << 5 | 1 << 4 | 1 << 3, .data = 2 };
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), 0);
    CHECK_EQ(t.msis[2].data & 0xff, 0x45);
    /* source-id: another function is refused; SQ 3 ignores the function */
    m = remappable(3);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV + 1), -1);
    CHECK_EQ(frcd_reason(&t, 0), 0x26);
    CHECK_EQ(rd(&t, R_FRCD, 8), 3ull << 48);             /* the index in FI */
    set_irte(&t, 4, 0x46, 0, 1, 3, DEV, false);
    m = remappable(4);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV + 5), 0);
    CHECK_EQ(t.msis[3].data, 0x46);
    /* bus range check (SVT 2): buses 0..1 */
    set_irte(&t, 5, 0x47, 0, 2, 0, 0x0001, false);
    m = remappable(5);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, 0x0100), 0);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, 0x0200), -1);
    CHECK_EQ(frcd_reason(&t, 1), 0x26);
    /* not present, out of range, reserved bits */
    m = remappable(6);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), -1);
    CHECK_EQ(frcd_reason(&t, 2), 0x22);
    m = remappable(256);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), -1);
    CHECK_EQ(frcd_reason(&t, 3), 0x21);
    set_irte(&t, 7, 0x48, 0x12345678, 0, 0, 0, false);   /* x2APIC dest without EIME */
    m = remappable(7);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), -1);
    CHECK_EQ(frcd_reason(&t, 4), 0x24);
    /* compatibility format: blocked until CFI */
    unsigned sent = t.nr_msis;
    CHECK_EQ(vm_send_msi(&t.f.vm, &compat, DEV), -1);
    CHECK_EQ(frcd_reason(&t, 5), 0x25);
    gcmd(&t, G_CFI, true);
    CHECK_EQ(vm_send_msi(&t.f.vm, &compat, DEV), 0);
    CHECK_EQ(t.nr_msis, sent + 1);
    CHECK_EQ(t.msis[sent].data, 0x31);
    /* IRTE changes are seen at once; the IEC descriptor tells the listeners */
    clear_faults(&t);
    set_irte(&t, 3, 0x50, 0, 0, 0, 0, false);
    m = remappable(3);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), 0);
    CHECK_EQ(t.msis[sent + 1].data, 0x50);
    qi_enable(&t);
    unsigned before = changes;
    qi_submit(&t, 4, 0);                                 /* global IEC */
    qi_submit(&t, 4 | 1 << 4 | 3ull << 32, 0);           /* index 3 */
    CHECK(qi_wait(&t, 1));
    CHECK_EQ(changes, before + 2);
    /* EIME: 32-bit destinations; compatibility format always blocked */
    gcmd(&t, G_IRE, false);
    CHECK(t.f.vm.intremap == NULL);
    ir_enable(&t, true);
    set_irte(&t, 8, 0x49, 0x1234, 0, 0, 0, false);
    m = remappable(8);
    CHECK_EQ(vm_send_msi(&t.f.vm, &m, DEV), 0);
    CHECK_EQ(t.msis[sent + 2].address, 0xfee34000ull | 0x1200ull << 32);
    CHECK_EQ(vm_send_msi(&t.f.vm, &compat, DEV), -1);
    vm_intremap_remove_notifier(&t.f.vm, &n);
    vt_teardown(&t);
}

TEST(vtd_fault_events_bypass_remapping)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    ir_enable(&t, false);                                /* no CFI: compat blocked */
    wr(&t, R_FEDATA, 0x60, 4);
    wr(&t, R_FEADDR, 0xfee00000, 4);
    wr(&t, R_FECTL, 0, 4);
    gcmd(&t, G_TE, true);
    xlate(&t, DEV, 0, IOMMU_RO);
    CHECK_EQ(t.nr_msis, 1);
    CHECK_EQ(t.msis[0].data, 0x60);
    vt_teardown(&t);
}
