/* The PCIe host: root bus 0, the host bridge function at 00.0, config access
 * through ports 0xCF8/0xCFC and through the ECAM window (ACPI MCFG). */
#include <glib.h>

#include "pci/pci-internal.h"
#include "util/log.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

typedef struct PCIHost {
    PCIDevice pci;              /* first: the host bridge function, 00.0 */
    PCIBus bus;
    uint32_t config_address;    /* 0xCF8 */
    MemoryRegion *address_mr, *data_mr, *ecam_mr;
} PCIHost;

#define CONFIG_ADDRESS_ENABLE  0x80000000u
/* Bits 30:24 are reserved (read 0); 1:0 are always 0. */
#define CONFIG_ADDRESS_MASK    0x80fffffcu

void pci_bus_windows(const struct vm *vm, PCIWindow *io, PCIWindow *mmio32, PCIWindow *mmio64)
{
    uint64_t ram_top = LAYOUT_4G + (vm->ram_size - vm->ram_below_4g);
    uint64_t base64 = (ram_top + LAYOUT_PCI_MMIO64_ALIGN - 1) & ~(LAYOUT_PCI_MMIO64_ALIGN - 1);
    *io = (PCIWindow){ LAYOUT_PCI_IO, LAYOUT_PCI_IO_SIZE, LAYOUT_PCI_IO };
    *mmio32 = (PCIWindow){ LAYOUT_PCI_MMIO32, LAYOUT_PCI_MMIO32_SIZE, LAYOUT_PCI_MMIO32 };
    *mmio64 = (PCIWindow){ base64, LAYOUT_PCI_MMIO64_SIZE, base64 };
}

void pci_host_windows(const struct vm *vm, PCIHostWindows *w)
{
    PCIWindow io, m32, m64;
    pci_bus_windows(vm, &io, &m32, &m64);
    *w = (PCIHostWindows){ io.base, io.size, m32.base, m32.size, m64.base, m64.size };
}

PCIBus *pci_root_bus(struct vm *vm)
{
    return vm->pci;
}

PCIDevice *pci_bus_device(PCIBus *bus, uint8_t devfn)
{
    return bus->devices[devfn];
}

uint8_t pci_bus_number(const PCIBus *bus)
{
    return bus->number;
}

void pci_bus_foreach(PCIBus *bus, void (*fn)(PCIDevice *d, void *opaque), void *opaque)
{
    for (unsigned i = 0; i < PCI_NR_DEVFN; i++)
        if (bus->devices[i])
            fn(bus->devices[i], opaque);
}

static PCIDevice *config_target(PCIBus *bus, uint8_t bus_nr, uint8_t devfn)
{
    return bus_nr == bus->number ? bus->devices[devfn] : NULL;
}

/* Unaligned pieces (0xCFD with 2 bytes) become byte accesses: functions see
 * only naturally aligned ones. */
uint32_t pci_bus_config_read(PCIBus *bus, uint8_t bus_nr, uint8_t devfn, uint32_t addr,
                             unsigned len)
{
    PCIDevice *d = config_target(bus, bus_nr, devfn);
    if (!d)
        return len == 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
    if (!(addr & (len - 1)))
        return pci_config_read(d, addr, len);
    uint32_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= pci_config_read(d, addr + i, 1) << (8 * i);
    return v;
}

void pci_bus_config_write(PCIBus *bus, uint8_t bus_nr, uint8_t devfn, uint32_t addr,
                          uint32_t val, unsigned len)
{
    PCIDevice *d = config_target(bus, bus_nr, devfn);
    if (!d)
        return;
    if (!(addr & (len - 1))) {
        pci_config_write(d, addr, val, len);
        return;
    }
    for (unsigned i = 0; i < len; i++)
        pci_config_write(d, addr + i, (val >> (8 * i)) & 0xff, 1);
}

/* ---- 0xCF8: CONFIG_ADDRESS (dword accesses only; narrower ones are not ours) ---- */
static MemTxResult address_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    PCIHost *h = opaque;
    *data = size == 4 && addr == 0 ? h->config_address : (1ull << (8 * size)) - 1;
    return MEMTX_OK;
}

static MemTxResult address_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PCIHost *h = opaque;
    if (size == 4 && addr == 0)
        h->config_address = (uint32_t)data & CONFIG_ADDRESS_MASK;
    return MEMTX_OK;
}

static const MemoryRegionOps address_ops = {
    .read = address_read,
    .write = address_write,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* ---- 0xCFC-0xCFF: CONFIG_DATA --------------------------------------------------------- */
static MemTxResult data_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    PCIHost *h = opaque;
    uint32_t ca = h->config_address;
    if (!(ca & CONFIG_ADDRESS_ENABLE)) {
        *data = (1ull << (8 * size)) - 1;
        return MEMTX_OK;
    }
    *data = pci_bus_config_read(&h->bus, (uint8_t)(ca >> 16), (uint8_t)(ca >> 8),
                                (ca & 0xfc) + (uint32_t)addr, size);
    return MEMTX_OK;
}

static MemTxResult data_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PCIHost *h = opaque;
    uint32_t ca = h->config_address;
    if (ca & CONFIG_ADDRESS_ENABLE)
        pci_bus_config_write(&h->bus, (uint8_t)(ca >> 16), (uint8_t)(ca >> 8),
                             (ca & 0xfc) + (uint32_t)addr, (uint32_t)data, size);
    return MEMTX_OK;
}

static const MemoryRegionOps data_ops = {
    .read = data_read,
    .write = data_write,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
};

/* ---- ECAM: bus << 20 | devfn << 12 | register ------------------------------------------- */
static MemTxResult ecam_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    PCIHost *h = opaque;
    *data = pci_bus_config_read(&h->bus, (uint8_t)(addr >> 20), (uint8_t)(addr >> 12),
                                addr & 0xfff, size);
    return MEMTX_OK;
}

static MemTxResult ecam_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PCIHost *h = opaque;
    pci_bus_config_write(&h->bus, (uint8_t)(addr >> 20), (uint8_t)(addr >> 12), addr & 0xfff,
                         (uint32_t)data, size);
    return MEMTX_OK;
}

static const MemoryRegionOps ecam_ops = {
    .read = ecam_read,
    .write = ecam_write,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

static int host_realize(Device *dev)
{
    PCIHost *h = DEVICE_CAST(PCIHost, dev);
    struct vm *vm = dev->vm;
    if (vm->pci) {
        log_error("%s: the VM has a PCI host already", dev->id);
        return -1;
    }
    h->bus.vm = vm;
    pci_bus_windows(vm, &h->bus.io, &h->bus.mmio32, &h->bus.mmio64);
    const PCIDeviceInfo info = {
        .vendor_id = 0x1b36, .device_id = 0x0008,   /* QEMU PCIe host bridge IDs */
        .subsystem_vendor_id = 0x1af4, .subsystem_id = 0x1100,
        .class_code = 0x060000,
    };
    if (pci_device_init(&h->pci, &h->bus, PCI_DEVFN(0, 0), &info, NULL) < 0)
        return -1;
    vm->pci = &h->bus;
    h->address_mr = memory_region_new_io("pci-config-address", 4, &address_ops, h);
    h->data_mr = memory_region_new_io("pci-config-data", 4, &data_ops, h);
    h->ecam_mr = memory_region_new_io("pci-ecam", LAYOUT_PCI_ECAM_SIZE, &ecam_ops, h);
    memory_region_transaction_begin();
    memory_region_add_subregion(vm->sysio, LAYOUT_PCI_CONFIG_PORT, h->address_mr);
    memory_region_add_subregion(vm->sysio, LAYOUT_PCI_CONFIG_PORT + 4, h->data_mr);
    memory_region_add_subregion(vm->sysmem, LAYOUT_PCI_ECAM, h->ecam_mr);
    memory_region_transaction_commit();
    return 0;
}

static void host_reset(Device *dev)
{
    PCIHost *h = DEVICE_CAST(PCIHost, dev);
    h->config_address = 0;
    pci_device_reset(&h->pci);
}

static void host_unrealize(Device *dev)
{
    PCIHost *h = DEVICE_CAST(PCIHost, dev);
    if (dev->vm->pci == &h->bus)
        dev->vm->pci = NULL;
    memory_region_transaction_begin();
    MemoryRegion *regions[] = { h->address_mr, h->data_mr, h->ecam_mr };
    for (unsigned i = 0; i < 3; i++) {
        if (!regions[i])
            continue;
        if (regions[i]->container)
            memory_region_del_subregion(regions[i]->container, regions[i]);
        memory_region_unref(regions[i]);
    }
    memory_region_transaction_commit();
    pci_device_uninit(&h->pci);
}

static const DeviceClass pci_host_class = {
    .name = "pcihost",
    .instance_size = sizeof(PCIHost),
    .realize = host_realize,
    .reset = host_reset,
    .unrealize = host_unrealize,
};

int pci_host_init(struct vm *vm)
{
    Device *dev = device_new(vm, &pci_host_class, NULL);
    return dev ? device_realize(dev) : -1;
}
