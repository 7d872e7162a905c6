/* PCI: config space through 0xCF8/0xCFC and ECAM, masks and write-1-to-clear
 * bits, capabilities, BAR sizing and relocation, INTx, MSI and MSI-X, on a
 * fake VM driven as a vCPU would. */
#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"

#define EDU PCI_DEVFN(1, 0)
#define TDEV PCI_DEVFN(2, 0)

static bool setup(struct fake_vm *f)
{
    return pci_vm_init(f) && edu_init(&f->vm) == 0 && dma_testdev_init(&f->vm) == 0;
}

TEST(pci_enumerate_cf8_and_ecam_agree)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    CHECK_EQ(cf8_read(vm, 0, 0, 4), 0x00081b36);
    CHECK_EQ(cf8_read(vm, EDU, 0, 4), 0x11e81234);
    CHECK_EQ(cf8_read(vm, TDEV, 0, 4), 0x7e5d1234);
    CHECK_EQ(cf8_read(vm, PCI_DEVFN(3, 0), 0, 4), 0xffffffff);
    CHECK_EQ(cf8_read(vm, PCI_DEVFN(1, 1), 0, 2), 0xffff);
    for (unsigned devfn = 0; devfn < 32 * 8; devfn++)
        for (unsigned off = 0; off < 256; off += 4)
            if (cf8_read(vm, (uint8_t)devfn, off, 4) != ecam_read(vm, 0, (uint8_t)devfn, off, 4))
                test_fail_(__FILE__, __LINE__, "devfn %u off 0x%x differs", devfn, off);
    /* Byte and word reads at every offset inside 0xCFC..0xCFF. */
    CHECK_EQ(cf8_read(vm, EDU, 1, 1), 0x12);
    CHECK_EQ(cf8_read(vm, EDU, 2, 2), 0x11e8);
    CHECK_EQ(cf8_read(vm, EDU, 1, 2), 0xe812);
    CHECK_EQ(cf8_read(vm, EDU, 3, 1), 0x11);
    /* Other buses are empty; disabled CONFIG_ADDRESS reads all-ones. */
    CHECK_EQ(ecam_read(vm, 1, 0, 0, 4), 0xffffffff);
    uint32_t a = EDU << 8, v = 0;
    address_space_write(vm->as_io, 0xcf8, &a, 4);
    address_space_read(vm->as_io, 0xcfc, &v, 4);
    CHECK_EQ(v, 0xffffffff);
    /* CONFIG_ADDRESS reads back (reserved bits 0); byte accesses pass it by. */
    a = 0xffffffff;
    address_space_write(vm->as_io, 0xcf8, &a, 4);
    address_space_read(vm->as_io, 0xcf8, &v, 4);
    CHECK_EQ(v, 0x80fffffc);
    uint8_t b = 0;
    address_space_write(vm->as_io, 0xcf9, &b, 1);
    address_space_read(vm->as_io, 0xcf8, &v, 4);
    CHECK_EQ(v, 0x80fffffc);
    /* Conventional functions end at 256 bytes; PCIe functions have 4 KiB. */
    CHECK_EQ(ecam_read(vm, 0, EDU, 0x100, 4), 0xffffffff);
    CHECK_EQ(ecam_read(vm, 0, TDEV, 0x100, 4) & 0xffff, PCI_EXT_CAP_ID_DSN);
    pci_vm_destroy(&f);
}

TEST(pci_config_masks_and_w1c)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    cf8_write(vm, EDU, PCI_VENDOR_ID, 0xffffffff, 4);
    CHECK_EQ(cf8_read(vm, EDU, 0, 4), 0x11e81234);
    cf8_write(vm, EDU, PCI_COMMAND, 0xffff, 2);
    CHECK_EQ(cf8_read(vm, EDU, PCI_COMMAND, 2), 0x547);
    cf8_write(vm, EDU, PCI_COMMAND, 0, 2);
    cf8_write(vm, EDU, PCI_INTERRUPT_LINE, 0xabcd, 2);
    CHECK_EQ(cf8_read(vm, EDU, PCI_INTERRUPT_LINE, 1), 0xcd);
    CHECK_EQ(cf8_read(vm, EDU, PCI_INTERRUPT_PIN, 1), 1);
    PCIDevice *d = pci_bus_device(pci_root_bus(vm), EDU);
    REQUIRE(d);
    d->config[PCI_STATUS + 1] |= PCI_STATUS_REC_MASTER_ABORT >> 8;
    cf8_write(vm, EDU, PCI_STATUS, 0, 2);
    CHECK(cf8_read(vm, EDU, PCI_STATUS, 2) & PCI_STATUS_REC_MASTER_ABORT);
    cf8_write(vm, EDU, PCI_STATUS, 0xffff, 2);
    CHECK_EQ(cf8_read(vm, EDU, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
    /* Capability lists: MSI on edu; PCIe and MSI-X on the test device. */
    uint8_t cap = (uint8_t)cf8_read(vm, EDU, PCI_CAPABILITY_LIST, 1);
    CHECK_EQ(cf8_read(vm, EDU, cap, 1), PCI_CAP_ID_MSI);
    CHECK_EQ(cf8_read(vm, EDU, cap + 1, 1), 0);
    CHECK(pci_find_capability(pci_bus_device(pci_root_bus(vm), TDEV), PCI_CAP_ID_EXP));
    CHECK(pci_find_capability(pci_bus_device(pci_root_bus(vm), TDEV), PCI_CAP_ID_MSIX));
    CHECK_EQ(cf8_read(vm, 0, PCI_CLASS_DEVICE, 2), 0x0600);
    pci_vm_destroy(&f);
}

TEST(pci_capability_builder_refuses_overlaps)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    PCIDevice *d = pci_bus_device(pci_root_bus(&f.vm), EDU);
    uint8_t msi = pci_find_capability(d, PCI_CAP_ID_MSI);
    CHECK_EQ(pci_add_capability(d, 0x09, msi, 8), 0);      /* taken */
    CHECK_EQ(pci_add_capability(d, 0x09, 0x3c, 8), 0);     /* in the header */
    CHECK_EQ(pci_add_capability(d, 0x09, 0xfc, 8), 0);     /* past the end */
    uint8_t vs = pci_add_capability(d, 0x09, 0, 8);
    CHECK(vs > msi);
    CHECK_EQ(d->config[msi + 1], vs);
    CHECK_EQ(pci_find_capability(d, 0x09), vs);
    CHECK_EQ(pcie_add_ext_capability(d, 1, 1, 0, 8), 0);    /* not PCIe */
    pci_vm_destroy(&f);
}

TEST(pci_bar_sizing_and_relocation)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    uint32_t orig = cf8_read(vm, EDU, PCI_BASE_ADDRESS_0, 4);
    CHECK_EQ(orig & 0xf, 0);
    CHECK(orig >= LAYOUT_PCI_MMIO32);
    cf8_write(vm, EDU, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    CHECK_EQ(cf8_read(vm, EDU, PCI_BASE_ADDRESS_0, 4), 0xfff00000);
    cf8_write(vm, EDU, PCI_BASE_ADDRESS_0, orig, 4);
    /* Decode off: nothing there. */
    CHECK_EQ(mmio_read32(vm, orig), 0xffffffff);
    cf8_write(vm, EDU, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(mmio_read32(vm, orig), 0x010000ed);
    /* Move: old address empty, new address answers. */
    cf8_write(vm, EDU, PCI_BASE_ADDRESS_0, 0xd0000000, 4);
    CHECK_EQ(mmio_read32(vm, orig), 0xffffffff);
    CHECK_EQ(mmio_read32(vm, 0xd0000000), 0x010000ed);
    CHECK_EQ(pci_bar_address(pci_bus_device(pci_root_bus(vm), EDU), 0), 0xd0000000);
    cf8_write(vm, EDU, PCI_COMMAND, 0, 2);
    CHECK_EQ(mmio_read32(vm, 0xd0000000), 0xffffffff);
    /* 64-bit BAR: sizing both halves, placed above 4 GiB. */
    cf8_write(vm, TDEV, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    cf8_write(vm, TDEV, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
    CHECK_EQ(cf8_read(vm, TDEV, PCI_BASE_ADDRESS_0, 4), 0xfffff004);
    CHECK_EQ(cf8_read(vm, TDEV, PCI_BASE_ADDRESS_1, 4), 0xffffffff);
    cf8_write(vm, TDEV, PCI_BASE_ADDRESS_0, 0x20000000, 4);
    cf8_write(vm, TDEV, PCI_BASE_ADDRESS_1, 0x10, 4);
    cf8_write(vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
    CHECK_EQ(mmio_read32(vm, 0x1020000000ull), 0x31544d44);
    /* I/O BAR: 16 ports, sized and moved. */
    cf8_write(vm, TDEV, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
    CHECK_EQ(cf8_read(vm, TDEV, PCI_BASE_ADDRESS_2, 4), 0xfffffff1);
    cf8_write(vm, TDEV, PCI_BASE_ADDRESS_2, 0x2000, 4);
    uint32_t v = 0;
    address_space_read(vm->as_io, 0x2000, &v, 4);
    CHECK_EQ(v, 0x31544d44);
    pci_vm_destroy(&f);
}

TEST(pci_intx_follows_level_and_disable)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    unsigned gsi = pci_intx_gsi(EDU, 1);
    CHECK_EQ(gsi, 17);
    uint32_t bar = cf8_read(vm, EDU, PCI_BASE_ADDRESS_0, 4);
    cf8_write(vm, EDU, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    uint32_t v = 0x5;
    address_space_write(vm->as_mem, bar + 0x60, &v, 4);
    CHECK(f.irq_level[gsi]);
    CHECK(cf8_read(vm, EDU, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    cf8_write(vm, EDU, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 2);
    CHECK(!f.irq_level[gsi]);
    CHECK(cf8_read(vm, EDU, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    cf8_write(vm, EDU, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK(f.irq_level[gsi]);
    address_space_write(vm->as_mem, bar + 0x64, &v, 4);
    CHECK(!f.irq_level[gsi]);
    CHECK(!(cf8_read(vm, EDU, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
    pci_vm_destroy(&f);
}

/* A model with 4 maskable 64-bit MSI vectors. */
typedef struct MsiDev {
    PCIDevice pci;
} MsiDev;

static int msidev_realize(Device *dev)
{
    MsiDev *s = DEVICE_CAST(MsiDev, dev);
    PCIDeviceInfo info = { .vendor_id = 0x1af4, .device_id = 0x7777, .class_code = 0xff0000 };
    if (pci_device_init(&s->pci, pci_root_bus(dev->vm), PCI_DEVFN(5, 0), &info, NULL) < 0)
        return -1;
    return pci_msi_init(&s->pci, 4, true, true);
}

static void msidev_unrealize(Device *dev)
{
    pci_device_uninit(&DEVICE_CAST(MsiDev, dev)->pci);
}

static const DeviceClass msidev_class = {
    .name = "msidev", .instance_size = sizeof(MsiDev),
    .realize = msidev_realize, .unrealize = msidev_unrealize,
};

TEST(pci_msi_vectors_masking_and_pending)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    Device *dev = device_new(vm, &msidev_class, NULL);
    REQUIRE(dev && device_realize(dev) == 0);
    PCIDevice *d = &DEVICE_CAST(MsiDev, dev)->pci;
    uint8_t devfn = PCI_DEVFN(5, 0);
    uint8_t cap = pci_find_capability(d, PCI_CAP_ID_MSI);
    REQUIRE(cap);
    CHECK_EQ(cf8_read(vm, devfn, cap + PCI_MSI_FLAGS, 2), 0x184);   /* 4 vectors, 64-bit, mask */
    cf8_write(vm, devfn, cap + PCI_MSI_ADDRESS_LO, 0xfee01000, 4);
    cf8_write(vm, devfn, cap + PCI_MSI_ADDRESS_HI, 0, 4);
    cf8_write(vm, devfn, cap + PCI_MSI_DATA_64, 0x4040, 2);
    cf8_write(vm, devfn, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | (2 << 4), 2);
    pci_notify(d, 1);
    CHECK_EQ(nr_msis, 0);          /* bus mastering off: no memory write, no MSI */
    cf8_write(vm, devfn, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    pci_notify(d, 3);
    REQUIRE(nr_msis == 1);
    CHECK_EQ(msis[0].address, 0xfee01000);
    CHECK_EQ(msis[0].data, 0x4043);
    pci_notify(d, 7);              /* beyond the enabled vectors: dropped */
    CHECK_EQ(nr_msis, 1);
    cf8_write(vm, devfn, cap + PCI_MSI_MASK_64, 0x2, 4);
    pci_notify(d, 1);
    CHECK_EQ(nr_msis, 1);
    CHECK_EQ(cf8_read(vm, devfn, cap + PCI_MSI_PENDING_64, 4), 0x2);
    cf8_write(vm, devfn, cap + PCI_MSI_PENDING_64, 0, 4);   /* read-only */
    CHECK_EQ(cf8_read(vm, devfn, cap + PCI_MSI_PENDING_64, 4), 0x2);
    cf8_write(vm, devfn, cap + PCI_MSI_MASK_64, 0, 4);
    REQUIRE(nr_msis == 2);
    CHECK_EQ(msis[1].data, 0x4041);
    CHECK_EQ(cf8_read(vm, devfn, cap + PCI_MSI_PENDING_64, 4), 0);
    pci_vm_destroy(&f);
}

TEST(pci_msix_table_masks_and_pba)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    PCIDevice *d = pci_bus_device(pci_root_bus(vm), TDEV);
    uint8_t cap = pci_find_capability(d, PCI_CAP_ID_MSIX);
    REQUIRE(cap);
    CHECK_EQ(cf8_read(vm, TDEV, cap + PCI_MSIX_FLAGS, 2), 3);
    CHECK_EQ(cf8_read(vm, TDEV, cap + PCI_MSIX_TABLE, 4), 0x800);
    CHECK_EQ(cf8_read(vm, TDEV, cap + PCI_MSIX_PBA, 4), 0xc00);
    uint64_t bar = pci_bar_address(d, 0);
    CHECK_EQ(bar, PCI_BAR_UNMAPPED);
    cf8_write(vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    bar = pci_bar_address(d, 0);
    REQUIRE(bar != PCI_BAR_UNMAPPED);
    CHECK(bar >= LAYOUT_4G);       /* the firmware put the 64-bit BAR high */
    uint64_t e2 = bar + 0x800 + 2 * 16;
    CHECK_EQ(mmio_read32(vm, e2 + 12), 1);      /* masked at reset */
    mmio_write64(vm, e2, 0xfee00000);
    uint32_t data = 0x31;
    address_space_write(vm->as_mem, e2 + 8, &data, 4);
    cf8_write(vm, TDEV, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    pci_notify(d, 2);
    CHECK_EQ(nr_msis, 0);
    CHECK_EQ(mmio_read32(vm, bar + 0xc00), 1u << 2);
    uint32_t ctrl = 0;
    address_space_write(vm->as_mem, e2 + 12, &ctrl, 4);       /* unmask: delivered */
    REQUIRE(nr_msis == 1);
    CHECK_EQ(msis[0].address, 0xfee00000);
    CHECK_EQ(msis[0].data, 0x31);
    CHECK_EQ(mmio_read32(vm, bar + 0xc00), 0);
    /* Function mask holds it pending too. */
    cf8_write(vm, TDEV, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
    pci_notify(d, 2);
    CHECK_EQ(nr_msis, 1);
    CHECK_EQ(mmio_read32(vm, bar + 0xc00), 1u << 2);
    cf8_write(vm, TDEV, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    CHECK_EQ(nr_msis, 2);
    /* The guest cannot write the PBA, nor vector-control's reserved bits. */
    uint32_t ones = 0xffffffff;
    address_space_write(vm->as_mem, bar + 0xc00, &ones, 4);
    CHECK_EQ(mmio_read32(vm, bar + 0xc00), 0);
    address_space_write(vm->as_mem, e2 + 12, &ones, 4);
    CHECK_EQ(mmio_read32(vm, e2 + 12), 1);
    pci_vm_destroy(&f);
}

/* A vector whose address is not 0xFEExxxxx is a memory write by the function
 * (through its DMA path), not an interrupt; irqfd users are told it is no
 * interrupt target. */
TEST(pci_msix_message_outside_interrupt_window_writes_memory)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    PCIDevice *d = pci_bus_device(pci_root_bus(vm), TDEV);
    uint8_t cap = pci_find_capability(d, PCI_CAP_ID_MSIX);
    REQUIRE(cap);
    cf8_write(vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    uint64_t bar = pci_bar_address(d, 0);
    REQUIRE(bar != PCI_BAR_UNMAPPED);
    uint64_t e1 = bar + 0x800 + 16;
    mmio_write64(vm, e1, 0x5000);                      /* guest RAM */
    uint32_t data = 0xc0ffee11, ctrl = 0;
    address_space_write(vm->as_mem, e1 + 8, &data, 4);
    address_space_write(vm->as_mem, e1 + 12, &ctrl, 4);
    cf8_write(vm, TDEV, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    MSIMessage m;
    CHECK(!pci_msix_vector_target(d, 1, &m));
    pci_notify(d, 1);
    CHECK_EQ(nr_msis, 0);
    CHECK_EQ(mmio_read32(vm, 0x5000), 0xc0ffee11);
    /* Aimed at the function's own MSI-X table: refused, the table unchanged. */
    mmio_write64(vm, e1, e1 + 8);
    pci_notify(d, 1);
    CHECK_EQ(nr_msis, 0);
    CHECK_EQ(mmio_read32(vm, e1 + 8), 0xc0ffee11);
    /* Back in the window: an interrupt again. */
    mmio_write64(vm, e1, 0xfee01000);
    CHECK(pci_msix_vector_target(d, 1, &m));
    pci_notify(d, 1);
    REQUIRE(nr_msis == 1);
    CHECK_EQ(msis[0].address, 0xfee01000);
    pci_vm_destroy(&f);
}

TEST(pci_edu_registers)
{
    struct fake_vm f;
    REQUIRE(setup(&f));
    struct vm *vm = &f.vm;
    uint32_t bar = cf8_read(vm, EDU, PCI_BASE_ADDRESS_0, 4);
    cf8_write(vm, EDU, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    uint32_t v = 0x12345678;
    address_space_write(vm->as_mem, bar + 4, &v, 4);
    CHECK_EQ(mmio_read32(vm, bar + 4), ~0x12345678u);
    v = 10;
    address_space_write(vm->as_mem, bar + 8, &v, 4);
    CHECK_EQ(mmio_read32(vm, bar + 8), 3628800);
    CHECK_EQ(mmio_read32(vm, bar + 0x20) & 1, 0);
    uint16_t w = 0;
    address_space_read(vm->as_mem, bar, &w, 2);   /* 2-byte reads of registers: all-ones */
    CHECK_EQ(w, 0xffff);
    pci_vm_destroy(&f);
}
