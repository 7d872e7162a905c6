/* MSI routes and irqfds (vmm/irq_routes.c) without KVM: the bookkeeping, the
 * translation through interrupt remapping, retranslation after the guest
 * changed its interrupt remapping table, masking of blocked routes. */
#include <string.h>

#include "tests/unit/fake_intremap.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "vmm/irq.h"

struct routes_test {
    struct fake_vm f;
    struct fake_intremap ir;
};

static bool setup(struct routes_test *t, enum irqchip_mode mode)
{
    fake_vm_init(&t->f);
    t->f.cfg.irqchip = mode;
    fake_ir_init(&t->ir);
    return irq_routes_init(&t->f.vm) == 0;
}

static void teardown(struct routes_test *t)
{
    irq_routes_free(&t->f.vm);
    fake_vm_destroy(&t->f);
}

static MSIMessage compat_msg(uint8_t dest, uint8_t vector)
{
    return (MSIMessage){ 0xfee00000u | (uint32_t)dest << 12, vector };
}

TEST(routes_add_update_delete)
{
    struct routes_test t;
    REQUIRE(setup(&t, IRQCHIP_KERNEL));
    struct vm *vm = &t.f.vm;
    MSIMessage a = compat_msg(0, 0x40), b = compat_msg(1, 0x41), out;
    int g0 = irq_msi_route_add(vm, &a, 0x0008);
    int g1 = irq_msi_route_add(vm, &b, 0x0010);
    CHECK_EQ(g0, 24);                       /* 0..23 are the IOAPIC's */
    CHECK_EQ(g1, 25);
    CHECK_EQ(irq_route_lookup(vm, g0, &out), 1);
    CHECK_EQ(out.address, a.address);
    CHECK_EQ(out.data, a.data);
    CHECK_EQ(irq_routes_commits(vm), 2u);
    /* an update with the same message hands KVM nothing new */
    CHECK_EQ(irq_msi_route_update(vm, g0, &a, 0x0008), 0);
    CHECK_EQ(irq_routes_commits(vm), 2u);
    CHECK_EQ(irq_msi_route_update(vm, g0, &b, 0x0008), 0);
    CHECK_EQ(irq_routes_commits(vm), 3u);
    CHECK_EQ(irq_route_lookup(vm, g0, &out), 1);
    CHECK_EQ(out.data, 0x41u);
    /* delete frees the GSI for the next add */
    CHECK_EQ(irq_msi_route_del(vm, g0), 0);
    CHECK_EQ(irq_route_lookup(vm, g0, &out), -1);
    CHECK_EQ(irq_msi_route_add(vm, &a, 0x0008), g0);
    /* not MSI routes: IOAPIC pins, unused and out-of-range GSIs */
    CHECK_EQ(irq_msi_route_update(vm, 3, &a, 0), -1);
    CHECK_EQ(irq_msi_route_del(vm, 3), -1);
    CHECK_EQ(irq_msi_route_del(vm, 900), -1);
    CHECK_EQ(irq_msi_route_del(vm, IRQ_MAX_GSI), -1);
    CHECK_EQ(irq_msi_route_del(vm, -1), -1);
    CHECK_EQ(irq_route_lookup(vm, IRQ_MAX_GSI, &out), -1);
    teardown(&t);
}

TEST(routes_table_full)
{
    struct routes_test t;
    REQUIRE(setup(&t, IRQCHIP_KERNEL));
    MSIMessage a = compat_msg(0, 0x40);
    int last = -1, n = 0;
    for (int gsi; (gsi = irq_msi_route_add(&t.f.vm, &a, 0)) >= 0; n++)
        last = gsi;
    CHECK_EQ(n, IRQ_MAX_GSI - IRQ_IOAPIC_PINS);
    CHECK_EQ(last, IRQ_MAX_GSI - 1);
    CHECK_EQ(irq_msi_route_del(&t.f.vm, 500), 0);
    CHECK_EQ(irq_msi_route_add(&t.f.vm, &a, 0), 500);
    teardown(&t);
}

/* Routes are translated when added and again when the remapper says its
 * entries changed (vm_intremap_changed -> irq_routes_retranslate): until
 * then KVM keeps the old translation. A blocked route is masked, and comes
 * back once its entry is valid again. */
TEST(routes_retranslation)
{
    struct routes_test t;
    REQUIRE(setup(&t, IRQCHIP_SPLIT));
    struct vm *vm = &t.f.vm;
    fake_ir_set(&t.ir, 7, 1, 0x51);
    vm->intremap = &t.ir.ir;
    MSIMessage remappable = { fake_ir_address(7), 0 }, compat = compat_msg(2, 0x60), out;
    int g = irq_msi_route_add(vm, &remappable, 0x0318);
    int c = irq_msi_route_add(vm, &compat, 0x0320);
    REQUIRE(g >= 24 && c >= 24);
    CHECK_EQ(t.ir.last_rid, 0x0320);
    CHECK_EQ(irq_route_lookup(vm, g, &out), 1);
    CHECK_EQ(out.address, 0xfee01000u);
    CHECK_EQ(out.data, 0x51u);
    CHECK_EQ(irq_route_lookup(vm, c, &out), 1);
    CHECK_EQ(out.data, 0x60u);

    /* the guest rewrites entry 7: nothing changes before the invalidation */
    fake_ir_set(&t.ir, 7, 3, 0x52);
    CHECK_EQ(irq_route_lookup(vm, g, &out), 1);
    CHECK_EQ(out.data, 0x51u);
    unsigned commits = irq_routes_commits(vm);
    /* what the IOMMU model calls on an interrupt-entry-cache invalidation */
    vm_intremap_changed(vm);
    CHECK_EQ(irq_routes_commits(vm), commits + 1);
    CHECK_EQ(irq_route_lookup(vm, g, &out), 1);
    CHECK_EQ(out.address, 0xfee03000u);
    CHECK_EQ(out.data, 0x52u);
    /* nothing changed: no new table for KVM */
    irq_routes_retranslate(vm);
    CHECK_EQ(irq_routes_commits(vm), commits + 1);

    /* entry cleared: masked, the other route untouched */
    t.ir.present[7] = false;
    irq_routes_retranslate(vm);
    CHECK_EQ(irq_route_lookup(vm, g, &out), 0);
    CHECK_EQ(irq_route_lookup(vm, c, &out), 1);
    fake_ir_set(&t.ir, 7, 0, 0x53);
    irq_routes_retranslate(vm);
    CHECK_EQ(irq_route_lookup(vm, g, &out), 1);
    CHECK_EQ(out.data, 0x53u);

    /* a route added while blocked starts masked; update unblocks it */
    MSIMessage missing = { fake_ir_address(9), 0 };
    int m = irq_msi_route_add(vm, &missing, 0x0318);
    REQUIRE(m >= 24);
    CHECK_EQ(irq_route_lookup(vm, m, &out), 0);
    CHECK_EQ(irq_msi_route_update(vm, m, &remappable, 0x0318), 0);
    CHECK_EQ(irq_route_lookup(vm, m, &out), 1);
    CHECK_EQ(out.data, 0x53u);

    /* remapping turned off: messages are delivered as written */
    vm->intremap = NULL;
    irq_routes_retranslate(vm);
    CHECK_EQ(irq_route_lookup(vm, g, &out), 1);
    CHECK_EQ(out.address, remappable.address);
    teardown(&t);
}

/* The IOAPIC's pin routes are retranslated like the others. */
TEST(routes_ioapic_pins_retranslated)
{
    struct routes_test t;
    REQUIRE(setup(&t, IRQCHIP_SPLIT));
    struct vm *vm = &t.f.vm;
    fake_ir_set(&t.ir, 0x20, 0, 0x70);
    vm->intremap = &t.ir.ir;
    MSIMessage pin = { fake_ir_address(0x20), 0x8004 }, out;
    CHECK_EQ(irq_ioapic_route_set(vm, 4, &pin), 0);
    CHECK_EQ(t.ir.last_rid, IRQ_IOAPIC_RID);
    CHECK_EQ(irq_route_lookup(vm, 4, &out), 1);
    CHECK_EQ(out.data, 0x70u);
    fake_ir_set(&t.ir, 0x20, 0, 0x71);
    irq_routes_retranslate(vm);
    CHECK_EQ(irq_route_lookup(vm, 4, &out), 1);
    CHECK_EQ(out.data, 0x71u);
    CHECK_EQ(irq_ioapic_route_set(vm, IRQ_IOAPIC_PINS, &pin), -1);
    teardown(&t);
}

TEST(routes_irqfd_checks)
{
    struct routes_test t;
    REQUIRE(setup(&t, IRQCHIP_SPLIT));
    struct vm *vm = &t.f.vm;
    /* split: IOAPIC pins and resampling are the IOAPIC's business */
    CHECK_EQ(irq_irqfd_assign(vm, 4, 10, -1), -1);
    CHECK_EQ(irq_irqfd_assign(vm, 30, 10, 11), -1);
    CHECK_EQ(irq_irqfd_assign(vm, 30, 10, -1), 0);
    CHECK_EQ(irq_irqfd_deassign(vm, 30, 10), 0);
    CHECK_EQ(irq_irqfd_assign(vm, IRQ_MAX_GSI, 10, -1), -1);
    CHECK_EQ(irq_irqfd_assign(vm, 30, -1, -1), -1);
    teardown(&t);
    REQUIRE(setup(&t, IRQCHIP_KERNEL));
    /* kernel irqchip: INTx with resampling is KVM's */
    CHECK_EQ(irq_irqfd_assign(&t.f.vm, 4, 10, 11), 0);
    teardown(&t);
}
