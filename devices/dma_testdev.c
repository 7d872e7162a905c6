/* dma-testdev: a PCIe function of our own that lets tests prove the DMA layer
 * from a guest: one DMA load or store of a chosen width and byte order, with
 * the MemTxResult readable afterwards; plus MSI-X vectors and INTx on demand.
 * `--test-device dma`. Vendor 0x1234 (as edu and QEMU's other emulated-only
 * devices), device 0x7e5d (ours: "test DMA"; not in pci.ids). QEMU's
 * pci-testdev (1b36:0005) is devices/pci_testdev.c.
 *
 * BAR 0 (64-bit memory, 4 KiB):
 *   0x00 R  id 0x31544d44 ("DMT1")      0x08 RW DMA address (64)
 *   0x10 RW width 1/2/4/8               0x14 RW byte order (0 little, 1 big)
 *   0x18 RW value (64)                  0x20 W  command: 1 load into value,
 *        2 store value, 3 raise vector `value`, 4 INTx level `value & 1`
 *   0x28 R  status: MemTxResult of the last DMA (0 ok, 1 decode error,
 *        2 access error, 3 IOMMU fault)
 *   0x800 MSI-X table (4 vectors), 0xc00 PBA
 * BAR 2 (I/O, 16 ports): 0x00 R id, as BAR 0's. */
#include "devices/devices.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "util/log.h"

#define TESTDEV_ID        0x31544d44u
#define DMA_TESTDEV_VENDOR 0x1234
#define DMA_TESTDEV_DEVICE 0x7e5d
#define TESTDEV_BAR_SIZE  0x1000
#define TESTDEV_MSIX      4

typedef struct DMATestDev {
    PCIDevice pci;
    uint64_t addr, value;
    uint32_t width, big_endian, status;
} DMATestDev;

static MemTxResult do_load(DMATestDev *s)
{
    PCIDevice *d = &s->pci;
    bool be = s->big_endian;
    MemTxResult r = MEMTX_ACCESS_ERROR;
    uint8_t b;
    uint16_t w;
    uint32_t l;
    uint64_t q;
    switch (s->width) {
    case 1: r = ldub_pci_dma(d, s->addr, &b); s->value = b; break;
    case 2: r = be ? lduw_be_pci_dma(d, s->addr, &w) : lduw_le_pci_dma(d, s->addr, &w); s->value = w; break;
    case 4: r = be ? ldl_be_pci_dma(d, s->addr, &l) : ldl_le_pci_dma(d, s->addr, &l); s->value = l; break;
    case 8: r = be ? ldq_be_pci_dma(d, s->addr, &q) : ldq_le_pci_dma(d, s->addr, &q); s->value = q; break;
    }
    return r;
}

static MemTxResult do_store(DMATestDev *s)
{
    PCIDevice *d = &s->pci;
    bool be = s->big_endian;
    uint64_t v = s->value;
    switch (s->width) {
    case 1: return stb_pci_dma(d, s->addr, (uint8_t)v);
    case 2: return be ? stw_be_pci_dma(d, s->addr, (uint16_t)v) : stw_le_pci_dma(d, s->addr, (uint16_t)v);
    case 4: return be ? stl_be_pci_dma(d, s->addr, (uint32_t)v) : stl_le_pci_dma(d, s->addr, (uint32_t)v);
    case 8: return be ? stq_be_pci_dma(d, s->addr, v) : stq_le_pci_dma(d, s->addr, v);
    }
    return MEMTX_ACCESS_ERROR;
}

static MemTxResult regs_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    DMATestDev *s = opaque;
    (void)size;
    switch (addr) {
    case 0x00: *data = TESTDEV_ID; break;
    case 0x08: *data = s->addr; break;
    case 0x10: *data = s->width; break;
    case 0x14: *data = s->big_endian; break;
    case 0x18: *data = s->value; break;
    case 0x28: *data = s->status; break;
    default: *data = 0; break;
    }
    return MEMTX_OK;
}

static MemTxResult regs_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    DMATestDev *s = opaque;
    switch (addr) {
    case 0x08: s->addr = size == 8 ? val : (s->addr & ~0xffffffffull) | (uint32_t)val; break;
    case 0x0c: s->addr = (s->addr & 0xffffffffull) | val << 32; break;
    case 0x10: s->width = (uint32_t)val; break;
    case 0x14: s->big_endian = val & 1; break;
    case 0x18: s->value = size == 8 ? val : (s->value & ~0xffffffffull) | (uint32_t)val; break;
    case 0x1c: s->value = (s->value & 0xffffffffull) | val << 32; break;
    case 0x20:
        switch (val) {
        case 1: s->status = do_load(s); break;
        case 2: s->status = do_store(s); break;
        case 3: pci_notify(&s->pci, (unsigned)s->value); break;
        case 4: pci_set_irq(&s->pci, s->value & 1); break;
        default: log_guest_error("%s: unknown command %#x", s->pci.dev.id, (unsigned)val);
        }
        break;
    }
    return MEMTX_OK;
}

static const MemoryRegionOps regs_ops = {
    .read = regs_read,
    .write = regs_write,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 8 },
};

static MemTxResult io_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    (void)opaque;
    *data = addr == 0 && size == 4 ? TESTDEV_ID : 0;
    return MEMTX_OK;
}

static MemTxResult io_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    (void)opaque, (void)addr, (void)val, (void)size;
    return MEMTX_OK;
}

static const MemoryRegionOps io_ops = {
    .read = io_read,
    .write = io_write,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static int testdev_realize(Device *dev)
{
    DMATestDev *s = DEVICE_CAST(DMATestDev, dev);
    PCIBus *bus = pci_root_bus(dev->vm);
    if (!bus) {
        log_error("%s: no PCI bus", dev->id);
        return -1;
    }
    const PCIDeviceInfo info = {
        .vendor_id = DMA_TESTDEV_VENDOR, .device_id = DMA_TESTDEV_DEVICE,
        .subsystem_vendor_id = 0x1af4, .subsystem_id = 0x1100,
        .class_code = 0x00ff00, .intx_pin = 1, .express = true,
    };
    if (pci_device_init(&s->pci, bus, -1, &info, NULL) < 0)
        return -1;
    s->width = 4;
    MemoryRegion *bar0 = memory_region_new_container(dev->id, TESTDEV_BAR_SIZE);
    MemoryRegion *regs = memory_region_new_io("dma-testdev regs", 0x800, &regs_ops, s);
    memory_region_add_subregion(bar0, 0, regs);
    memory_region_unref(regs);
    MemoryRegion *io = memory_region_new_io("dma-testdev io", 16, &io_ops, s);
    int r = pci_register_bar(&s->pci, 0, PCI_BAR_MEM64, false, bar0);
    if (!r)
        r = pci_register_bar(&s->pci, 2, PCI_BAR_IO, false, io);
    memory_region_unref(bar0);
    memory_region_unref(io);
    if (r < 0 || pci_msix_init(&s->pci, TESTDEV_MSIX, 0, 0x800, 0, 0xc00) < 0)
        return -1;
    /* An extended capability, so the PCIe list is not empty (device serial number). */
    uint16_t dsn = pcie_add_ext_capability(&s->pci, PCI_EXT_CAP_ID_DSN, 1, 0, 12);
    if (!dsn)
        return -1;
    pci_set_long(s->pci.config + dsn + 4, 0x4d564d4d);   /* "MMVM" */
    return 0;
}

static void testdev_reset(Device *dev)
{
    DMATestDev *s = DEVICE_CAST(DMATestDev, dev);
    s->addr = s->value = 0;
    s->width = 4;
    s->big_endian = s->status = 0;
    pci_device_reset(&s->pci);
}

static void testdev_unrealize(Device *dev)
{
    pci_device_uninit(&DEVICE_CAST(DMATestDev, dev)->pci);
}

static const DeviceClass dma_testdev_class = {
    .name = "dma-testdev",
    .instance_size = sizeof(DMATestDev),
    .realize = testdev_realize,
    .reset = testdev_reset,
    .unrealize = testdev_unrealize,
};

int dma_testdev_init(struct vm *vm)
{
    Device *dev = device_new(vm, &dma_testdev_class, NULL);
    return dev ? device_realize(dev) : -1;
}
