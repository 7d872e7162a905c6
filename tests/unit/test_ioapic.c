/* The userspace IOAPIC (devices/ioapic.c) on a fake VM: register file, edge and
 * level delivery, remote IRR and EOI, masking, remappable-format entries. MSIs
 * are captured with vm->msi_hook; lines are driven with vm_set_irq_line, as
 * device models do. */
#include <string.h>

#include "devices/device.h"
#include "devices/ioapic.h"
#include "tests/unit/fake_intremap.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "vmm/irq.h"

#define MAX_MSIS 16

struct ioapic_test {
    struct fake_vm f;            /* first: the MSI hook gets back to the test */
    struct fake_intremap ir;
    MSIMessage msi[MAX_MSIS];
    unsigned nr_msi;
};

static void capture_msi(struct vm *vm, const MSIMessage *msg)
{
    struct ioapic_test *t = (struct ioapic_test *)vm;
    if (t->nr_msi < MAX_MSIS)
        t->msi[t->nr_msi] = *msg;
    t->nr_msi++;
}

static bool setup(struct ioapic_test *t)
{
    memset(t, 0, sizeof(*t));
    fake_vm_init(&t->f);
    t->f.cfg.irqchip = IRQCHIP_SPLIT;
    t->f.vm.nr_vcpus = 3;
    t->f.vm.irq_hook = NULL;     /* lines go to the IOAPIC, as in split mode */
    t->f.vm.msi_hook = capture_msi;
    return ioapic_create(&t->f.vm) != NULL && t->f.vm.ioapic != NULL;
}

static void teardown(struct ioapic_test *t)
{
    vm_devices_destroy(&t->f.vm);
    CHECK(t->f.vm.ioapic == NULL);
    irq_routes_free(&t->f.vm);
    fake_vm_destroy(&t->f);
}

static void wr(struct ioapic_test *t, unsigned off, uint32_t v)
{
    CHECK_EQ(address_space_stl_le(t->f.vm.as_mem, IOAPIC_BASE + off, v), MEMTX_OK);
}

static uint32_t rd(struct ioapic_test *t, unsigned off)
{
    MemTxResult res;
    uint32_t v = address_space_ldl_le(t->f.vm.as_mem, IOAPIC_BASE + off, &res);
    CHECK_EQ(res, MEMTX_OK);
    return v;
}

static uint32_t reg_read(struct ioapic_test *t, uint8_t reg)
{
    wr(t, 0x00, reg);
    return rd(t, 0x10);
}

static void reg_write(struct ioapic_test *t, uint8_t reg, uint32_t v)
{
    wr(t, 0x00, reg);
    wr(t, 0x10, v);
}

/* High half first, as Linux does, so the entry is complete when unmasked. */
static void set_rte(struct ioapic_test *t, unsigned pin, uint64_t rte)
{
    reg_write(t, (uint8_t)(0x11 + 2 * pin), (uint32_t)(rte >> 32));
    reg_write(t, (uint8_t)(0x10 + 2 * pin), (uint32_t)rte);
}

static uint64_t get_rte(struct ioapic_test *t, unsigned pin)
{
    return reg_read(t, (uint8_t)(0x10 + 2 * pin)) |
           (uint64_t)reg_read(t, (uint8_t)(0x11 + 2 * pin)) << 32;
}

#define LEVEL      (1ull << 15)
#define MASKED     (1ull << 16)
#define REMOTE_IRR (1ull << 14)
#define LOGICAL    (1ull << 11)
#define DEST(d)    ((uint64_t)(d) << 56)

TEST(ioapic_register_file)
{
    struct ioapic_test t;
    REQUIRE(setup(&t));
    CHECK_EQ(reg_read(&t, 0x00), 3u << 24);               /* id = nr_vcpus (MADT) */
    CHECK_EQ(reg_read(&t, 0x01), 0x00170020u);            /* 24 pins, version 0x20 */
    CHECK_EQ(reg_read(&t, 0x02), 3u << 24);
    CHECK_EQ(rd(&t, 0x00), 0x02u);                        /* IOREGSEL reads back */
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++)
        CHECK_EQ(get_rte(&t, pin), MASKED);
    /* id is writable; version is not */
    reg_write(&t, 0x00, 0x07000000);
    CHECK_EQ(reg_read(&t, 0x00), 0x07000000u);
    reg_write(&t, 0x01, 0);
    CHECK_EQ(reg_read(&t, 0x01), 0x00170020u);
    /* delivery status and remote IRR are read-only */
    set_rte(&t, 5, DEST(0xab) | MASKED | REMOTE_IRR | (1ull << 12) | LEVEL | 0x61);
    CHECK_EQ(get_rte(&t, 5), DEST(0xab) | MASKED | LEVEL | 0x61);
    /* out of range: reads 0, writes ignored; the last entry is 0x3e/0x3f */
    CHECK_EQ(reg_read(&t, 0x40), 0u);
    reg_write(&t, 0x40, 0x1234);
    set_rte(&t, 23, DEST(1) | 0x77);
    CHECK_EQ(get_rte(&t, 23), DEST(1) | 0x77);
    /* a byte write to IOREGSEL (widened by the memory core) */
    CHECK_EQ(address_space_stb(t.f.vm.as_mem, IOAPIC_BASE, 0x01), MEMTX_OK);
    CHECK_EQ(rd(&t, 0x10), 0x00170020u);
    CHECK_EQ(t.nr_msi, 0u);
    /* reset masks everything again */
    vm_devices_reset(&t.f.vm);
    CHECK_EQ(get_rte(&t, 23), MASKED);
    CHECK_EQ(reg_read(&t, 0x00), 3u << 24);
    teardown(&t);
}

TEST(ioapic_edge_delivery_and_mask)
{
    struct ioapic_test t;
    REQUIRE(setup(&t));
    set_rte(&t, 4, DEST(1) | 0x31);                        /* fixed, physical, edge */
    CHECK_EQ(vm_set_irq_line(&t.f.vm, 4, true), 0);
    REQUIRE(t.nr_msi == 1);
    CHECK_EQ(t.msi[0].address, 0xfee01000u);
    CHECK_EQ(t.msi[0].data, 0x31u);
    vm_set_irq_line(&t.f.vm, 4, true);                     /* no edge: nothing */
    CHECK_EQ(t.nr_msi, 1u);
    vm_set_irq_line(&t.f.vm, 4, false);
    vm_set_irq_line(&t.f.vm, 4, true);
    CHECK_EQ(t.nr_msi, 2u);
    CHECK_EQ(get_rte(&t, 4) & REMOTE_IRR, 0u);             /* edge: no remote IRR */
    /* a masked edge is lost, also when unmasked later */
    vm_set_irq_line(&t.f.vm, 4, false);
    set_rte(&t, 4, DEST(1) | MASKED | 0x31);
    vm_set_irq_line(&t.f.vm, 4, true);
    set_rte(&t, 4, DEST(1) | 0x31);
    CHECK_EQ(t.nr_msi, 2u);
    /* lowest priority, logical destination 0x0f */
    vm_set_irq_line(&t.f.vm, 4, false);
    set_rte(&t, 4, DEST(0x0f) | LOGICAL | 1ull << 8 | 0x32);
    vm_set_irq_line(&t.f.vm, 4, true);
    REQUIRE(t.nr_msi == 3);
    CHECK_EQ(t.msi[2].address, 0xfee0f004u);
    CHECK_EQ(t.msi[2].data, 0x132u);
    /* ExtINT (there is no PIC) and lines that do not exist deliver nothing */
    set_rte(&t, 6, 7ull << 8 | 0x33);
    vm_set_irq_line(&t.f.vm, 6, true);
    CHECK_EQ(t.nr_msi, 3u);
    CHECK_EQ(vm_set_irq_line(&t.f.vm, 24, true), -1);
    teardown(&t);
}

TEST(ioapic_level_remote_irr_and_eoi)
{
    struct ioapic_test t;
    REQUIRE(setup(&t));
    set_rte(&t, 9, DEST(2) | LEVEL | 0x42);
    vm_set_irq_line(&t.f.vm, 9, true);
    REQUIRE(t.nr_msi == 1);
    CHECK_EQ(t.msi[0].address, 0xfee02000u);
    CHECK_EQ(t.msi[0].data, 0x8042u);                      /* trigger mode: level */
    CHECK(get_rte(&t, 9) & REMOTE_IRR);
    /* while remote IRR is set nothing more is sent */
    vm_set_irq_line(&t.f.vm, 9, true);
    CHECK_EQ(t.nr_msi, 1u);
    /* an EOI for another vector changes nothing */
    ioapic_eoi(t.f.vm.ioapic, 0x43);
    CHECK_EQ(t.nr_msi, 1u);
    CHECK(get_rte(&t, 9) & REMOTE_IRR);
    /* EOI with the line still asserted: delivered again (KVM_EXIT_IOAPIC_EOI) */
    ioapic_eoi(t.f.vm.ioapic, 0x42);
    CHECK_EQ(t.nr_msi, 2u);
    CHECK(get_rte(&t, 9) & REMOTE_IRR);
    /* the same through the EOI register */
    wr(&t, 0x40, 0x42);
    CHECK_EQ(t.nr_msi, 3u);
    /* line lowered, then EOI: remote IRR clears, nothing is sent */
    vm_set_irq_line(&t.f.vm, 9, false);
    ioapic_eoi(t.f.vm.ioapic, 0x42);
    CHECK_EQ(t.nr_msi, 3u);
    CHECK_EQ(get_rte(&t, 9) & REMOTE_IRR, 0u);
    /* asserted again: delivered at once */
    vm_set_irq_line(&t.f.vm, 9, true);
    CHECK_EQ(t.nr_msi, 4u);
    /* switching the entry to edge clears a stuck remote IRR (older Linux's EOI) */
    set_rte(&t, 9, DEST(2) | MASKED | 0x42);
    CHECK_EQ(get_rte(&t, 9) & REMOTE_IRR, 0u);
    /* masked level line: held; unmasking delivers it */
    set_rte(&t, 9, DEST(2) | MASKED | LEVEL | 0x42);
    CHECK_EQ(t.nr_msi, 4u);
    set_rte(&t, 9, DEST(2) | LEVEL | 0x42);
    CHECK_EQ(t.nr_msi, 5u);
    CHECK(get_rte(&t, 9) & REMOTE_IRR);
    teardown(&t);
}

/* Linux with interrupt remapping: format bit 48, handle 14..0 in bits 49..63,
 * handle 15 in bit 11, the pin number as the vector, EOI through the register. */
TEST(ioapic_remappable_entry)
{
    struct ioapic_test t;
    REQUIRE(setup(&t));
    fake_ir_init(&t.ir);
    unsigned handle = 0x8000 | 0x1234;
    fake_ir_set(&t.ir, handle, 1, 0x55);
    t.f.vm.intremap = &t.ir.ir;
    uint64_t rte = 1ull << 48 | (uint64_t)(handle & 0x7fff) << 49 | LOGICAL | LEVEL | 10;
    set_rte(&t, 10, rte);
    /* the pin's route already went through the remapper */
    MSIMessage route;
    CHECK_EQ(irq_route_lookup(&t.f.vm, 10, &route), 1);
    CHECK_EQ(route.address, 0xfee01000u);
    CHECK_EQ(route.data, 0x55u);
    vm_set_irq_line(&t.f.vm, 10, true);
    REQUIRE(t.nr_msi == 1);
    CHECK_EQ(t.ir.last_rid, IRQ_IOAPIC_RID);
    CHECK_EQ(t.msi[0].address, 0xfee01000u);
    CHECK_EQ(t.msi[0].data, 0x55u);
    /* the message as the remapper saw it: the remappable format */
    MSIMessage raw = { 0 };
    t.f.vm.intremap = NULL;
    ioapic_eoi(t.f.vm.ioapic, 10);                          /* the virtual vector */
    REQUIRE(t.nr_msi == 2);
    raw = t.msi[1];
    CHECK_EQ(raw.address, fake_ir_address(handle));
    CHECK_EQ(fake_ir_handle(raw.address), handle);
    CHECK_EQ(raw.data, 0x800au);
    /* the real vector's EOI does not match the entry */
    ioapic_eoi(t.f.vm.ioapic, 0x55);
    CHECK_EQ(t.nr_msi, 2u);
    /* a blocked interrupt is not delivered and leaves remote IRR clear */
    t.f.vm.intremap = &t.ir.ir;
    t.ir.present[handle] = false;
    wr(&t, 0x40, 10);
    CHECK_EQ(t.nr_msi, 2u);
    CHECK_EQ(get_rte(&t, 10) & REMOTE_IRR, 0u);
    teardown(&t);
}

/* The pins' routes tell KVM which vectors are level-triggered: set when an
 * entry is unmasked, kept while masked, not re-sent when unchanged. */
TEST(ioapic_pin_routes)
{
    struct ioapic_test t;
    REQUIRE(setup(&t));
    MSIMessage m;
    CHECK_EQ(irq_route_lookup(&t.f.vm, 3, &m), -1);
    set_rte(&t, 3, DEST(1) | LEVEL | 0x61);
    CHECK_EQ(irq_route_lookup(&t.f.vm, 3, &m), 1);
    CHECK_EQ(m.address, 0xfee01000u);
    CHECK_EQ(m.data, 0x8061u);
    unsigned commits = irq_routes_commits(&t.f.vm);
    set_rte(&t, 3, DEST(1) | MASKED | LEVEL | 0x61);
    set_rte(&t, 3, DEST(1) | LEVEL | 0x61);
    CHECK_EQ(irq_routes_commits(&t.f.vm), commits);
    set_rte(&t, 3, DEST(1) | LEVEL | 0x62);
    CHECK_EQ(irq_routes_commits(&t.f.vm), commits + 1);
    CHECK_EQ(irq_route_lookup(&t.f.vm, 3, &m), 1);
    CHECK_EQ(m.data, 0x8062u);
    teardown(&t);
}
