/* The virtio-pci modern transport, driven as a guest driver would (config
 * space, BAR 4 registers, rings in fake-VM RAM) with virtio-rng reading a
 * file of known bytes: capabilities, feature negotiation (VERSION_1 and
 * ACCESS_PLATFORM), INTx through the ISR, MSI-X vectors, NEEDS_RESET on a
 * hostile ring, reset, and the PCI-config-access capability. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/fake_iommu.h"
#include "tests/unit/harness.h"
#include "tests/unit/virtio_driver.h"

#define F(bit) (1ull << (bit))

static char src_path[64];

static bool setup_rng(Drv *v, bool iommu)
{
    memset(v, 0, sizeof(*v));
    snprintf(src_path, sizeof(src_path), "/tmp/minivmm-rng-%d", (int)getpid());
    FILE *fp = fopen(src_path, "w");
    if (!fp)
        return false;
    for (int i = 0; i < 4096; i++)
        fputc((i * 7 + 3) & 0xff, fp);
    fclose(fp);
    if (!pci_vm_init(&v->f) || virtio_rng_init(&v->f.vm, src_path, iommu) != 0)
        return false;
    return drv_attach(v);
}

static void teardown(Drv *v)
{
    pci_vm_destroy(&v->f);
    unlink(src_path);
}

/* One 32-byte entropy request at avail slot `idx`. */
static void rng_request(Drv *v, uint16_t idx)
{
    split_desc(v->ram, VQ_DESC, idx % 8, VQ_BUF + 0x100 * (idx % 8), 32, VRING_DESC_F_WRITE, 0);
    split_publish(v->ram, 8, idx, idx % 8);
}

TEST(virtio_pci_capabilities_and_ids)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    CHECK_EQ(cf8_read(v.vm, v.devfn, PCI_VENDOR_ID, 2), 0x1af4);
    CHECK_EQ(cf8_read(v.vm, v.devfn, PCI_DEVICE_ID, 2), 0x1044);
    CHECK_EQ(cf8_read(v.vm, v.devfn, PCI_REVISION_ID, 1), 1);
    for (unsigned t = VIRTIO_PCI_CAP_COMMON_CFG; t <= VIRTIO_PCI_CAP_PCI_CFG; t++) {
        if (t == VIRTIO_PCI_CAP_DEVICE_CFG)
            continue;   /* virtio-rng has no device configuration */
        REQUIRE(v.cap[t]);
    }
    CHECK(!v.cap[VIRTIO_PCI_CAP_DEVICE_CFG]);
    CHECK_EQ(cf8_read(v.vm, v.devfn, v.cap[1] + 4u, 1), VIRTIO_PCI_BAR);
    CHECK_EQ(cf8_read(v.vm, v.devfn, v.cap[1] + 8u, 4), VIRTIO_PCI_COMMON_OFF);
    CHECK_EQ(cf8_read(v.vm, v.devfn, v.cap[1] + 12u, 4), VIRTIO_PCI_COMMON_SIZE);
    CHECK_EQ(cf8_read(v.vm, v.devfn, v.cap[2] + 8u, 4), VIRTIO_PCI_NOTIFY_OFF);
    CHECK_EQ(cf8_read(v.vm, v.devfn, v.cap[2] + 16u, 4), VIRTIO_PCI_NOTIFY_MULT);
    CHECK_EQ(cf8_read(v.vm, v.devfn, v.cap[3] + 8u, 4), VIRTIO_PCI_ISR_OFF);
    CHECK(pci_find_capability(v.d, PCI_CAP_ID_MSIX));
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    /* A wrong-width access to a common register reads 0 and changes nothing. */
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_SELECT, 0x12345678, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    teardown(&v);
}

TEST(virtio_pci_feature_negotiation)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    uint64_t df = drv_device_features(&v);
    CHECK(df & F(VIRTIO_F_VERSION_1));
    CHECK(df & F(VIRTIO_F_INDIRECT_DESC));
    CHECK(df & F(VIRTIO_F_EVENT_IDX));
    CHECK(df & F(VIRTIO_F_RING_PACKED));
    CHECK(!(df & F(VIRTIO_F_ACCESS_PLATFORM)));
    /* Legacy (no VERSION_1) is refused: FEATURES_OK does not stick. */
    CHECK(!(drv_negotiate(&v, F(VIRTIO_F_EVENT_IDX)) & VIRTIO_STATUS_FEATURES_OK));
    /* A feature the device never offered is refused. */
    CHECK(!(drv_negotiate(&v, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM)) &
            VIRTIO_STATUS_FEATURES_OK));
    CHECK(drv_negotiate(&v, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX)) &
          VIRTIO_STATUS_FEATURES_OK);
    CHECK(virtio_has_feature(v.vdev, VIRTIO_F_EVENT_IDX));
    /* Features are frozen after FEATURES_OK. */
    drv_set_common(&v, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    drv_set_common(&v, VIRTIO_PCI_COMMON_GF, 0, 4);
    CHECK(virtio_has_feature(v.vdev, VIRTIO_F_EVENT_IDX));
    teardown(&v);

    /* Behind the IOMMU: ACCESS_PLATFORM offered, and required. */
    REQUIRE(setup_rng(&v, true));
    CHECK(drv_device_features(&v) & F(VIRTIO_F_ACCESS_PLATFORM));
    CHECK(!(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK));
    CHECK(drv_negotiate(&v, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM)) &
          VIRTIO_STATUS_FEATURES_OK);
    teardown(&v);
}

TEST(virtio_rng_request_with_intx)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_start(&v, 8, VIRTIO_NO_VECTOR);
    rng_request(&v, 0);
    unsigned gsi = pci_intx_gsi(v.devfn, 1);
    CHECK(!v.f.irq_level[gsi]);
    drv_kick_and_run(&v);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 1);
    CHECK_EQ(get32(v.ram, VQ_USED + 4), 0);
    CHECK_EQ(get32(v.ram, VQ_USED + 8), 32);
    for (int i = 0; i < 32; i++)
        CHECK_EQ(v.ram[VQ_BUF + i], (i * 7 + 3) & 0xff);
    CHECK(v.f.irq_level[gsi]);
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_ISR_QUEUE);
    CHECK(!v.f.irq_level[gsi]);
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_ISR_OFF, 1), 0);   /* read clears */
    /* The next request continues in the source. */
    rng_request(&v, 1);
    drv_kick_and_run(&v);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 2);
    CHECK_EQ(v.ram[VQ_BUF + 0x100], (32 * 7 + 3) & 0xff);
    teardown(&v);
}

TEST(virtio_msix_vectors_for_queue_and_config)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    uint8_t cap = pci_find_capability(v.d, PCI_CAP_ID_MSIX);
    REQUIRE(cap);
    for (unsigned vec = 0; vec < 2; vec++) {
        uint64_t e = v.bar + VIRTIO_PCI_MSIX_OFF + 16 * vec;
        mmio_write64(v.vm, e, 0xfee00000);
        uint32_t data = 0x40 + vec, ctrl = 0;
        address_space_write(v.vm->as_mem, e + 8, &data, 4);
        address_space_write(v.vm->as_mem, e + 12, &ctrl, 4);
    }
    cf8_write(v.vm, v.devfn, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_set_common(&v, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_MSIX, 2), 0);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_MSIX, 7, 2);      /* no such vector */
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_NO_VECTOR);
    drv_start(&v, 8, 1);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_MSIX, 2), 1);
    rng_request(&v, 0);
    drv_kick_and_run(&v);
    REQUIRE(nr_msis == 1);
    CHECK_EQ(msis[0].data, 0x41);
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_ISR_OFF, 1), 0);    /* ISR unused with MSI-X */
    /* A hostile ring: NEEDS_RESET and the config vector. */
    put16(v.ram, VQ_AVAIL + 2, 1 + 9);
    drv_kick_and_run(&v);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    REQUIRE(nr_msis == 2);
    CHECK_EQ(msis[1].data, 0x40);
    teardown(&v);
}

TEST(virtio_needs_reset_then_reset_then_served_again)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_start(&v, 8, VIRTIO_NO_VECTOR);
    /* A descriptor loop. */
    split_desc(v.ram, VQ_DESC, 0, VQ_BUF, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    split_desc(v.ram, VQ_DESC, 1, VQ_BUF, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
    split_publish(v.ram, 8, 0, 0);
    drv_kick_and_run(&v);
    uint8_t st = (uint8_t)drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1);
    CHECK(st & VIRTIO_STATUS_NEEDS_RESET);
    CHECK(st & VIRTIO_STATUS_DRIVER_OK);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 0);                 /* nothing was completed */
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_ISR_CONFIG);
    /* The driver cannot clear NEEDS_RESET but by a reset. */
    drv_set_common(&v, VIRTIO_PCI_COMMON_STATUS, st & ~VIRTIO_STATUS_NEEDS_RESET, 1);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    /* Reset: the status reads non-zero until the I/O side has carried it out. */
    drv_set_common(&v, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) != 0);
    virtio_device_run(v.vdev);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    drv_set_common(&v, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_GF, 4), 0);
    /* A fresh setup is served. */
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_start(&v, 8, VIRTIO_NO_VECTOR);
    rng_request(&v, 0);
    drv_kick_and_run(&v);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 1);
    CHECK_EQ(get32(v.ram, VQ_USED + 8), 32);
    teardown(&v);
}

TEST(virtio_queue_layout_frozen_while_enabled)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 100, 2);    /* not a power of two */
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    drv_start(&v, 8, VIRTIO_NO_VECTOR);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_DESCLO, 0x50000, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_DESCLO, 4), VQ_DESC);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
    teardown(&v);
}

TEST(virtio_misaligned_ring_needs_reset)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_SIZE, 8, 2);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)VQ_DESC + 8, 4);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)VQ_AVAIL, 4);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)VQ_USED, 4);
    drv_set_common(&v, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    drv_set_common(&v, VIRTIO_PCI_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
    virtio_device_run(v.vdev);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    teardown(&v);
}

TEST(virtio_pci_config_access_capability)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    uint8_t c = v.cap[VIRTIO_PCI_CAP_PCI_CFG];
    REQUIRE(c);
    drv_set_common(&v, VIRTIO_PCI_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
    /* Read the status register through the window. */
    cf8_write(v.vm, v.devfn, c + 4u, VIRTIO_PCI_BAR, 1);
    cf8_write(v.vm, v.devfn, c + 8u, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS, 4);
    cf8_write(v.vm, v.devfn, c + 12u, 1, 4);
    CHECK_EQ(cf8_read(v.vm, v.devfn, c + 16u, 4) & 0xff, VIRTIO_STATUS_ACKNOWLEDGE);
    /* Write queue_select through it. */
    cf8_write(v.vm, v.devfn, c + 8u, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_SELECT, 4);
    cf8_write(v.vm, v.devfn, c + 12u, 2, 4);
    cf8_write(v.vm, v.devfn, c + 16u, 3, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SELECT, 2), 3);
    /* A bad length or another BAR is refused. */
    cf8_write(v.vm, v.devfn, c + 12u, 3, 4);
    cf8_write(v.vm, v.devfn, c + 16u, 5, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SELECT, 2), 3);
    cf8_write(v.vm, v.devfn, c + 4u, 0, 1);
    cf8_write(v.vm, v.devfn, c + 12u, 2, 4);
    cf8_write(v.vm, v.devfn, c + 16u, 6, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_Q_SELECT, 2), 3);
    teardown(&v);
}

/* ---- behind an IOMMU (fake_iommu.h): IOVA x is guest-physical x + 1 MiB while mapped ---- */
TEST(virtio_rings_through_the_iommu_fault_after_unmap)
{
    Drv v;
    FakeIOMMU io;
    memset(&v, 0, sizeof(v));
    snprintf(src_path, sizeof(src_path), "/tmp/minivmm-rng-%d", (int)getpid());
    FILE *fp = fopen(src_path, "w");
    REQUIRE(fp);
    for (int i = 0; i < 256; i++)
        fputc(i, fp);
    fclose(fp);
    REQUIRE(pci_vm_init(&v.f));
    fake_iommu_attach(&io, &v.f, 0x100000);
    REQUIRE(virtio_rng_init(&v.f.vm, src_path, true) == 0);
    REQUIRE(drv_attach(&v));
    uint8_t *gpa = vm_guest_ram(v.vm, 0, 0x200000), *iova = gpa + 0x100000;
    REQUIRE(gpa);
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM)) &
            VIRTIO_STATUS_FEATURES_OK);
    drv_start(&v, 8, VIRTIO_NO_VECTOR);
    memset(iova + VQ_DESC, 0, 0x3000);
    split_desc(iova, VQ_DESC, 0, VQ_BUF, 16, VRING_DESC_F_WRITE, 0);
    split_publish(iova, 8, 0, 0);
    drv_kick_and_run(&v);
    CHECK_EQ(get16(iova, VQ_USED + 2), 1);
    CHECK_EQ(iova[VQ_BUF + 5], 5);                 /* at the translated address */
    CHECK_EQ(gpa[VQ_BUF + 5], 0);
    /* The guest unmaps the rings and invalidates: the device must fault, not write. */
    io.mapped = false;
    IOMMUTLBEntry unmap = { .iova = 0, .addr_mask = UINT64_MAX, .perm = IOMMU_NONE };
    memory_bql_lock();
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    memory_bql_unlock();
    split_desc(iova, VQ_DESC, 1, VQ_BUF + 0x100, 16, VRING_DESC_F_WRITE, 0);
    split_publish(iova, 8, 1, 1);
    drv_kick_and_run(&v);
    CHECK(io.faults > 0);
    CHECK_EQ(get16(iova, VQ_USED + 2), 1);
    CHECK_EQ(iova[VQ_BUF + 0x100 + 5], 0);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    pci_vm_destroy(&v.f);
    memory_region_unref(io.mr);
    unlink(src_path);
}

/* A reset written while the status already reads 0 is complete at once: the
 * features negotiated right after it survive the I/O thread's next pass. */
TEST(virtio_reset_from_status_zero_is_immediate)
{
    Drv v;
    REQUIRE(setup_rng(&v, false));
    drv_set_common(&v, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    virtio_device_run(v.vdev);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_FEATURES_OK);
    drv_set_common(&v, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_GF, 4), 1);
    teardown(&v);
}
