/* QEMU's pci-testdev (devices/pci_testdev.c) on a fake VM without KVM: every
 * notify reaches the device (no ioeventfd), so counts come from its own
 * matching; headers (wider reads decoded bytewise), both BARs, and the
 * reset. The KVM ioeventfd path is tests/guest/pcitestdev.c. */
#include <stdio.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"

#define DEV      PCI_DEVFN(1, 0)
#define MEM_BAR  0xd0000000u
#define IO_BAR   0xc000u

static bool setup(struct fake_vm *f)
{
    if (!pci_vm_init(f) || pci_testdev_init(&f->vm) != 0)
        return false;
    cf8_write(&f->vm, DEV, PCI_BASE_ADDRESS_0, MEM_BAR, 4);
    cf8_write(&f->vm, DEV, PCI_BASE_ADDRESS_1, IO_BAR, 4);
    cf8_write(&f->vm, DEV, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
    return true;
}

static uint64_t rd(struct vm *vm, unsigned bar, unsigned off, unsigned size)
{
    uint64_t v = 0;
    address_space_read(bar ? vm->as_io : vm->as_mem, (bar ? IO_BAR : MEM_BAR) + off, &v, size);
    return v;
}

static void wr(struct vm *vm, unsigned bar, unsigned off, uint64_t v, unsigned size)
{
    address_space_write(bar ? vm->as_io : vm->as_mem, (bar ? IO_BAR : MEM_BAR) + off, &v, size);
}

TEST(pci_testdev_identity_and_bars)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    CHECK_EQ(cf8_read(&f.vm, DEV, 0, 4), 0x00051b36);
    CHECK_EQ(cf8_read(&f.vm, DEV, PCI_INTERRUPT_PIN, 1), 0);
    cf8_write(&f.vm, DEV, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    CHECK_EQ(cf8_read(&f.vm, DEV, PCI_BASE_ADDRESS_0, 4), 0xfffff000);
    cf8_write(&f.vm, DEV, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
    CHECK_EQ(cf8_read(&f.vm, DEV, PCI_BASE_ADDRESS_1, 4), 0xffffff01);
    /* No test selected: everything reads 0. */
    cf8_write(&f.vm, DEV, PCI_BASE_ADDRESS_0, MEM_BAR, 4);
    CHECK_EQ(rd(&f.vm, 0, 0, 4), 0);
    pci_vm_destroy(&f);
}

TEST(pci_testdev_headers_and_counts)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    for (unsigned bar = 0; bar < 2; bar++) {
        for (unsigned kind = 0; kind < 3; kind++) {
            unsigned nr = bar * 3 + kind, off = (bar ? 0x80 : 0x800) + nr;
            uint8_t data = kind == 1 ? 0xce : 0xfa;
            wr(vm, bar, 0, kind, 1);
            CHECK_EQ(rd(vm, bar, 0, 2), 1u << 8 | nr);          /* test, width */
            CHECK_EQ(rd(vm, bar, 4, 4), off);
            CHECK_EQ(rd(vm, bar, 8, 4), data);
            CHECK_EQ(rd(vm, bar, 12, 4), 0);
            char name[32] = { 0 };
            for (unsigned i = 0; i < sizeof(name) - 1; i++)
                name[i] = (char)rd(vm, bar, 16 + i, 1);
            const char *kinds[] = { "no-eventfd", "wildcard-eventfd", "datamatch-eventfd" };
            char want[32];
            snprintf(want, sizeof(want), "%s-%s", bar ? "portio" : "mmio", kinds[kind]);
            CHECK(!strcmp(name, want));
            for (unsigned i = 0; i < 7; i++)
                wr(vm, bar, off, data, 1);
            wr(vm, bar, off, 0x11, 1);                           /* counts for wildcard only */
            wr(vm, bar, off + 1, data, 1);                       /* not the notify offset */
            CHECK_EQ(rd(vm, bar, 12, 4), kind == 1 ? 8u : 7u);
            wr(vm, bar, 0, kind, 4);                             /* restart: count 0 */
            CHECK_EQ(rd(vm, bar, 12, 4), 0);
        }
    }
    /* A notify on the other BAR's offset does not count for this one. */
    wr(vm, 0, 0, 1, 1);
    wr(vm, 1, 0x80 + 4, 0xce, 1);
    CHECK_EQ(rd(vm, 0, 12, 4), 0);
    wr(vm, 0, 0, 7, 1);                                          /* none */
    CHECK_EQ(rd(vm, 0, 0, 8), 0);
    wr(vm, 0, 0, 2, 1);
    vm_devices_reset(vm);                                        /* stops the test */
    cf8_write(vm, DEV, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(rd(vm, 0, 0, 4), 0);
    pci_vm_destroy(&f);
}
