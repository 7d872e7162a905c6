/* Virtio MSI-X vectors as irqfds (virtio/irqfd.c), without KVM: the route
 * table is kept as with KVM, so the tests check which message each vector's
 * route holds, when the eventfd is signalled instead of the big-lock path,
 * and that masking, the function mask, bus mastering, interrupt remapping and
 * unrealize do what they must. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/fake_intremap.h"
#include "tests/unit/harness.h"
#include "tests/unit/virtio_driver.h"
#include "vmm/irq.h"

#define F(bit) (1ull << (bit))

static char src_path[64];

static bool setup(Drv *v)
{
    memset(v, 0, sizeof(*v));
    snprintf(src_path, sizeof(src_path), "/tmp/minivmm-irqfd-%d", (int)getpid());
    FILE *fp = fopen(src_path, "w");
    if (!fp)
        return false;
    for (int i = 0; i < 4096; i++)
        fputc(i & 0xff, fp);
    fclose(fp);
    if (!pci_vm_init(&v->f) || irq_routes_init(&v->f.vm) || virtio_rng_init(&v->f.vm, src_path, false))
        return false;
    if (!drv_attach(v))
        return false;
    v->vdev->use_irqfds = true;   /* what a VM with KVM has */
    return true;
}

static void teardown(Drv *v)
{
    vm_devices_destroy(v->vm);
    irq_routes_free(v->vm);
    pci_vm_destroy(&v->f);
    unlink(src_path);
}

static void msix_entry(Drv *v, unsigned vec, uint64_t addr, uint32_t data, uint32_t ctrl)
{
    uint64_t e = v->bar + VIRTIO_PCI_MSIX_OFF + 16 * vec;
    mmio_write64(v->vm, e, addr);
    address_space_write(v->vm->as_mem, e + 8, &data, 4);
    address_space_write(v->vm->as_mem, e + 12, &ctrl, 4);
}

static void msix_mask(Drv *v, unsigned vec, bool masked)
{
    uint32_t ctrl = masked;
    address_space_write(v->vm->as_mem, v->bar + VIRTIO_PCI_MSIX_OFF + 16 * vec + 12, &ctrl, 4);
}

static void msix_ctrl(Drv *v, uint16_t flags)
{
    cf8_write(v->vm, v->devfn, pci_find_capability(v->d, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS,
              flags, 2);
}

/* The eventfd's count (consumed), 0 when nothing was signalled. */
static uint64_t irqfd_count(Drv *v, unsigned vec)
{
    eventfd_t n = 0;
    if (eventfd_read(v->vdev->irqfd[vec].fd, &n) < 0 && errno == EAGAIN)
        return 0;
    return n;
}

static bool ready(Drv *v, unsigned vec)
{
    return __atomic_load_n(&v->vdev->irqfd[vec].ready, __ATOMIC_ACQUIRE);
}

static int route(Drv *v, unsigned vec, MSIMessage *out)
{
    return irq_route_lookup(v->vm, v->vdev->irqfd[vec].gsi, out);
}

/* One entropy request at avail slot idx of the 8-entry queue 0. */
static void request(Drv *v, uint16_t idx)
{
    split_desc(v->ram, VQ_DESC, idx % 8, VQ_BUF + 0x100 * (idx % 8), 16, VRING_DESC_F_WRITE, 0);
    split_publish(v->ram, 8, idx, idx % 8);
    drv_kick_and_run(v);
}

static bool pba_bit(Drv *v, unsigned vec)
{
    return drv_mmio_read(v, VIRTIO_PCI_PBA_OFF, 4) >> vec & 1;
}

TEST(virtio_irqfd_route_follows_table_and_masks)
{
    Drv v;
    REQUIRE(setup(&v));
    MSIMessage m;
    msix_entry(&v, 0, 0xfee00000, 0x40, 1);
    msix_entry(&v, 1, 0xfee01000, 0x41, 1);
    msix_ctrl(&v, PCI_MSIX_FLAGS_ENABLE);
    /* Masked vectors get no route yet: the driver is still writing them. */
    CHECK_EQ(v.vdev->irqfd[0].gsi, -1);
    CHECK_EQ(v.vdev->irqfd[1].gsi, -1);
    CHECK(!ready(&v, 1));
    msix_mask(&v, 1, false);
    REQUIRE(v.vdev->irqfd[1].gsi >= IRQ_IOAPIC_PINS);
    REQUIRE((route(&v, 1, &m)) == (1));
    CHECK_EQ(m.address, 0xfee01000);
    CHECK_EQ(m.data, 0x41);
    CHECK(ready(&v, 1));
    CHECK_EQ(v.vdev->irqfd[0].gsi, -1);

    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_set_common(&v, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    drv_start(&v, 8, 1);
    request(&v, 0);
    CHECK_EQ(irqfd_count(&v, 1), 1);   /* the eventfd, not the locked path */
    CHECK_EQ(nr_msis, 0);

    /* The guest moves the vector while it is unmasked: one new route, one commit. */
    unsigned commits = irq_routes_commits(v.vm);
    int gsi = v.vdev->irqfd[1].gsi;
    uint32_t data = 0x42;
    address_space_write(v.vm->as_mem, v.bar + VIRTIO_PCI_MSIX_OFF + 16 + 8, &data, 4);
    CHECK_EQ(v.vdev->irqfd[1].gsi, gsi);
    REQUIRE((route(&v, 1, &m)) == (1));
    CHECK_EQ(m.data, 0x42);
    CHECK_EQ(irq_routes_commits(v.vm), commits + 1);
    /* Rewriting the same entry (an unmask, say) costs no KVM_SET_GSI_ROUTING. */
    msix_mask(&v, 1, false);
    CHECK_EQ(irq_routes_commits(v.vm), commits + 1);

    /* Masked: the pending bit, no eventfd; the unmask delivers it. */
    msix_mask(&v, 1, true);
    CHECK(!ready(&v, 1));
    request(&v, 1);
    CHECK_EQ(irqfd_count(&v, 1), 0);
    CHECK_EQ(nr_msis, 0);
    CHECK(pba_bit(&v, 1));
    msix_mask(&v, 1, false);
    CHECK(!pba_bit(&v, 1));
    REQUIRE((nr_msis) == (1));
    CHECK_EQ(msis[0].data, 0x42);
    CHECK(ready(&v, 1));

    /* The function mask holds every vector back the same way. */
    msix_ctrl(&v, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    CHECK(!ready(&v, 1));
    request(&v, 2);
    CHECK_EQ(irqfd_count(&v, 1), 0);
    CHECK(pba_bit(&v, 1));
    msix_ctrl(&v, PCI_MSIX_FLAGS_ENABLE);
    CHECK_EQ(nr_msis, 2);
    CHECK(ready(&v, 1));
    request(&v, 3);
    CHECK_EQ(irqfd_count(&v, 1), 1);

    /* A hostile ring: the config vector, still masked, goes pending. */
    put16(v.ram, VQ_AVAIL + 2, 4 + 9);
    drv_kick_and_run(&v);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    CHECK(pba_bit(&v, 0));
    CHECK_EQ(irqfd_count(&v, 0), 0);

    /* Bus mastering off: no MSI may leave the function. */
    cf8_write(v.vm, v.devfn, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK(!ready(&v, 1));
    cf8_write(v.vm, v.devfn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    CHECK(ready(&v, 1));
    /* MSI-X off: back to INTx and the ISR. */
    msix_ctrl(&v, 0);
    CHECK(!ready(&v, 1));
    teardown(&v);
}

TEST(virtio_irqfd_routes_through_interrupt_remapping)
{
    Drv v;
    REQUIRE(setup(&v));
    struct fake_intremap ir;
    fake_ir_init(&ir);
    fake_ir_set(&ir, 5, 2, 0x61);
    v.vm->intremap = &ir.ir;
    MSIMessage m;
    msix_entry(&v, 1, fake_ir_address(5), 0, 0);
    msix_entry(&v, 0, fake_ir_address(6), 0, 0);   /* no interrupt entry yet */
    msix_ctrl(&v, PCI_MSIX_FLAGS_ENABLE);
    REQUIRE((route(&v, 1, &m)) == (1));
    CHECK_EQ(m.address, 0xfee02000);
    CHECK_EQ(m.data, 0x61);
    CHECK_EQ(ir.last_rid, pci_requester_id(v.d));
    CHECK(ready(&v, 1));
    /* Blocked by remapping: the locked path, where the fault is recorded. */
    CHECK_EQ(route(&v, 0, &m), 0);
    CHECK(!ready(&v, 0));
    virtio_raise_irq(v.vdev, 0, VIRTIO_ISR_CONFIG);
    CHECK_EQ(irqfd_count(&v, 0), 0);
    CHECK_EQ(nr_msis, 0);
    /* The guest retargets the interrupt entry and invalidates its cache. */
    fake_ir_set(&ir, 5, 3, 0x62);
    vm_intremap_changed(v.vm);
    REQUIRE((route(&v, 1, &m)) == (1));
    CHECK_EQ(m.address, 0xfee03000);
    CHECK_EQ(m.data, 0x62);
    virtio_raise_irq(v.vdev, 1, VIRTIO_ISR_QUEUE);
    CHECK_EQ(irqfd_count(&v, 1), 1);
    v.vm->intremap = NULL;
    teardown(&v);
}

TEST(virtio_irqfd_unrealize_drops_routes)
{
    Drv v;
    REQUIRE(setup(&v));
    msix_entry(&v, 0, 0xfee00000, 0x30, 0);
    msix_entry(&v, 1, 0xfee00000, 0x31, 0);
    msix_ctrl(&v, PCI_MSIX_FLAGS_ENABLE);
    int g0 = v.vdev->irqfd[0].gsi, g1 = v.vdev->irqfd[1].gsi;
    REQUIRE(g0 >= IRQ_IOAPIC_PINS && g1 >= IRQ_IOAPIC_PINS && g0 != g1);
    MSIMessage m;
    vm_devices_destroy(v.vm);
    CHECK_EQ(irq_route_lookup(v.vm, g0, &m), -1);
    CHECK_EQ(irq_route_lookup(v.vm, g1, &m), -1);
    teardown(&v);
}


