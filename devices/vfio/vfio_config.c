/* An assigned device's config space: reads come from the device, except the
 * registers we virtualize (our copy in pci->config, with the PCI layer's
 * write masks): the header's command register, BARs, expansion ROM (absent:
 * reads 0), interrupt line, and the bodies of the MSI and MSI-X capabilities,
 * which pci/msi.c emulates at the device's own offsets. Writes go through the
 * PCI layer (masks, BAR mapping, bus mastering, MSI state) and, for the bytes
 * we do not virtualize and for the command register, on to the device. */
#include <string.h>

#include "devices/vfio/vfio_internal.h"
#include "util/log.h"

static uint32_t dev_read(VFIOPCIDevice *v, uint32_t addr, unsigned len)
{
    uint32_t val = 0;
    if (v->be->ops->region_read(v->be, VFIO_PCI_CONFIG_REGION_INDEX, addr, &val, len))
        return len == 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
    return val;
}

static void dev_write(VFIOPCIDevice *v, uint32_t addr, uint32_t val, unsigned len)
{
    if (v->be->ops->region_write(v->be, VFIO_PCI_CONFIG_REGION_INDEX, addr, &val, len))
        log_guest_error("%s: config write at 0x%x failed", v->pci.dev.id, addr);
}

static uint32_t config_read(PCIDevice *d, uint32_t addr, unsigned len)
{
    VFIOPCIDevice *v = (VFIOPCIDevice *)d;
    bool any_dev = false;
    for (unsigned i = 0; i < len; i++)
        any_dev |= !v->emulated[addr + i];
    uint32_t dev = any_dev ? dev_read(v, addr, len) : 0;
    uint32_t ours = pci_default_config_read(d, addr, len), val = 0;
    for (unsigned i = 0; i < len; i++) {
        uint32_t src = v->emulated[addr + i] ? ours : dev;
        val |= src & (0xffu << (8 * i));
    }
    return val;
}

/* The command register is ours for reads but the device needs to see it too
 * (decode, bus mastering, INTx disable). */
static bool forwarded(const VFIOPCIDevice *v, uint32_t a)
{
    return !v->emulated[a] || a == PCI_COMMAND || a == PCI_COMMAND + 1;
}

static void config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    VFIOPCIDevice *v = (VFIOPCIDevice *)d;
    uint16_t old_cmd = pci_get_word(d->config + PCI_COMMAND);
    /* Bytes the device owns have wmask 0 in our copy: this changes only ours. */
    pci_default_config_write(d, addr, val, len);
    /* MSIs are memory writes: irqfds may deliver only while bus mastering is on. */
    if ((old_cmd ^ pci_get_word(d->config + PCI_COMMAND)) & PCI_COMMAND_MASTER)
        vfio_msi_changed(d);
    unsigned nfwd = 0;
    for (unsigned i = 0; i < len; i++)
        nfwd += forwarded(v, addr + i);
    if (nfwd == len) {
        dev_write(v, addr, val, len);
        return;
    }
    for (unsigned i = 0; i < len; i++)
        if (forwarded(v, addr + i))
            dev_write(v, addr + i, (val >> (8 * i)) & 0xff, 1);
}

const PCIDeviceOps vfio_pci_ops = {
    .config_read = config_read,
    .config_write = config_write,
    .msi_changed = vfio_msi_changed,
};

static void set_emulated(VFIOPCIDevice *v, unsigned off, unsigned len)
{
    memset(v->emulated + off, 1, len);
}

/* MSI and MSI-X from the device's capabilities, emulated where they are. */
static int init_msi(VFIOPCIDevice *v, const uint8_t *raw)
{
    PCIDevice *d = &v->pci;
    uint8_t off = raw[PCI_CAPABILITY_LIST] & ~3u;
    for (unsigned n = 0; off >= PCI_STD_HEADER_SIZEOF && n < 48; n++) {
        uint8_t id = raw[off];
        if (id == PCI_CAP_ID_MSI) {
            uint16_t flags = pci_get_word(raw + off + PCI_MSI_FLAGS);
            bool is64 = flags & PCI_MSI_FLAGS_64BIT, mask = flags & PCI_MSI_FLAGS_MASKBIT;
            unsigned nr = 1u << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
            unsigned size = mask ? (is64 ? 24 : 20) : (is64 ? 14 : 10);
            if (nr > 32 || off + size > PCI_CONFIG_SPACE_SIZE ||
                pci_msi_init_at(d, off, nr, is64, mask))
                return -1;
            set_emulated(v, off + 2, size - 2);
        } else if (id == PCI_CAP_ID_MSIX) {
            uint16_t flags = pci_get_word(raw + off + PCI_MSIX_FLAGS);
            uint32_t table = pci_get_long(raw + off + PCI_MSIX_TABLE);
            uint32_t pba = pci_get_long(raw + off + PCI_MSIX_PBA);
            if (off + PCI_CAP_MSIX_SIZEOF > PCI_CONFIG_SPACE_SIZE ||
                pci_msix_init_at(d, off, (flags & PCI_MSIX_FLAGS_QSIZE) + 1u,
                                 table & PCI_MSIX_TABLE_BIR, table & PCI_MSIX_TABLE_OFFSET,
                                 pba & PCI_MSIX_PBA_BIR, pba & PCI_MSIX_PBA_OFFSET))
                return -1;
            set_emulated(v, off + 2, PCI_CAP_MSIX_SIZEOF - 2);
        }
        off = raw[off + 1] & ~3u;
    }
    /* The capability builder linked our copies; the guest walks the device's list. */
    d->config[PCI_CAPABILITY_LIST] = raw[PCI_CAPABILITY_LIST];
    return 0;
}

int vfio_config_init(VFIOPCIDevice *v, const uint8_t *raw)
{
    /* The whole header is ours but the status register, whose bits (interrupt
     * status, capability list, errors) are the device's. */
    set_emulated(v, 0, PCI_STD_HEADER_SIZEOF);
    v->emulated[PCI_STATUS] = v->emulated[PCI_STATUS + 1] = 0;
    v->emulated[PCI_INTERRUPT_PIN] = 1;
    if (init_msi(v, raw))
        return -1;
    return 0;
}
