/* PCI functions and their config space: the header, write masks, write-1-to-
 * clear bits, capability lists, and what a write to the command register
 * changes (decode, bus mastering, INTx disable). */
#include <glib.h>
#include <string.h>

#include "pci/dma.h"
#include "pci/pci-internal.h"
#include "util/bytes.h"
#include "util/log.h"
#include "vmm/vm.h"

void pci_set_byte(uint8_t *p, uint8_t v) { p[0] = v; }
void pci_set_word(uint8_t *p, uint16_t v) { put_le16(p, v); }
void pci_set_long(uint8_t *p, uint32_t v) { put_le32(p, v); }
uint16_t pci_get_word(const uint8_t *p) { return get_le16(p); }
uint32_t pci_get_long(const uint8_t *p) { return get_le32(p); }

bool pci_range_covers(uint32_t addr, unsigned len, uint32_t start, uint32_t size)
{
    return addr < start + size && start < addr + len;
}

/* Status bits the guest clears by writing 1 (error reports). */
#define STATUS_W1C (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
                    PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
                    PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)
#define COMMAND_WRITABLE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
                          PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

static void fill_header(PCIDevice *d)
{
    const PCIDeviceInfo *in = &d->info;
    uint8_t *c = d->config;
    pci_set_word(c + PCI_VENDOR_ID, in->vendor_id);
    pci_set_word(c + PCI_DEVICE_ID, in->device_id);
    c[PCI_REVISION_ID] = in->revision;
    c[PCI_CLASS_PROG] = (uint8_t)in->class_code;
    pci_set_word(c + PCI_CLASS_DEVICE, (uint16_t)(in->class_code >> 8));
    c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
    pci_set_word(c + PCI_SUBSYSTEM_VENDOR_ID, in->subsystem_vendor_id);
    pci_set_word(c + PCI_SUBSYSTEM_ID, in->subsystem_id);
    c[PCI_INTERRUPT_PIN] = in->intx_pin;
    pci_set_word(d->wmask + PCI_COMMAND, COMMAND_WRITABLE);
    pci_set_word(d->w1cmask + PCI_STATUS, STATUS_W1C);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_LATENCY_TIMER] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    memset(d->used, 1, PCI_STD_HEADER_SIZEOF);
}

/* A root-complex integrated endpoint: no link to describe. */
static int add_express_capability(PCIDevice *d)
{
    uint8_t off = pci_add_capability(d, PCI_CAP_ID_EXP, 0, PCI_CAP_EXP_ENDPOINT_SIZEOF_V2);
    if (!off)
        return -1;
    uint8_t *c = d->config + off;
    pci_set_word(c + PCI_EXP_FLAGS, 2 | (PCI_EXP_TYPE_RC_END << 4));
    pci_set_long(c + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER);  /* 128-byte payload */
    /* Device control: error reporting enables, relaxed ordering, no-snoop,
     * max payload/read request; devctl2 completion timeout. */
    pci_set_word(d->wmask + off + PCI_EXP_DEVCTL, 0x7fff & ~PCI_EXP_DEVCTL_BCR_FLR);
    pci_set_word(c + PCI_EXP_DEVCTL, 0x2810);
    pci_set_word(d->w1cmask + off + PCI_EXP_DEVSTA, 0xf);
    pci_set_word(d->wmask + off + PCI_EXP_DEVCTL2, 0x1f);
    return 0;
}

int pci_device_init(PCIDevice *d, PCIBus *bus, int devfn, const PCIDeviceInfo *info,
                    const PCIDeviceOps *ops)
{
    const char *id = d->dev.id;
    if (devfn < 0) {
        for (int slot = 0; slot < 32 && devfn < 0; slot++)
            if (!bus->devices[PCI_DEVFN(slot, 0)])
                devfn = PCI_DEVFN(slot, 0);
        if (devfn < 0) {
            log_error("%s: no free PCI slot on bus %u", id, bus->number);
            return -1;
        }
    } else if (devfn >= PCI_NR_DEVFN || bus->devices[devfn]) {
        log_error("%s: PCI devfn %d is taken or invalid", id, devfn);
        return -1;
    }
    if (info->intx_pin > 4) {
        log_error("%s: bad INTx pin %u", id, info->intx_pin);
        return -1;
    }
    d->bus = bus;
    d->devfn = (uint8_t)devfn;
    d->ops = ops;
    d->info = *info;
    d->config_size = info->express ? PCIE_CONFIG_SPACE_SIZE : PCI_CONFIG_SPACE_SIZE;
    d->config = g_malloc0(d->config_size);
    d->wmask = g_malloc0(d->config_size);
    d->w1cmask = g_malloc0(d->config_size);
    d->used = g_malloc0(d->config_size);
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        d->bars[i].mapped_addr = PCI_BAR_UNMAPPED;
    fill_header(d);
    bus->devices[devfn] = d;
    if (info->express && add_express_capability(d) < 0)
        return -1;
    return pci_dma_init(d);
}

void pci_device_uninit(PCIDevice *d)
{
    if (!d->bus)
        return;
    bool took = !memory_bql_locked();
    if (took)
        memory_bql_lock();
    if (d->intx_asserted) {
        d->intx_level = false;
        pci_update_intx(d);
    }
    pci_msix_release(d);   /* before the BARs that hold its regions */
    pci_bars_release(d);
    pci_dma_uninit(d);
    if (d->bus->devices[d->devfn] == d)
        d->bus->devices[d->devfn] = NULL;
    if (took)
        memory_bql_unlock();
    g_free(d->config);
    g_free(d->wmask);
    g_free(d->w1cmask);
    g_free(d->used);
    pci_names_free(d);
    d->config = d->wmask = d->w1cmask = d->used = NULL;
    d->bus = NULL;
}

void pci_device_reset(PCIDevice *d)
{
    if (!d->config)
        return;
    pci_set_word(d->config + PCI_COMMAND, 0);
    pci_set_word(d->config + PCI_STATUS, pci_get_word(d->config + PCI_STATUS) & ~STATUS_W1C);
    d->config[PCI_INTERRUPT_LINE] = 0;
    pci_update_mappings(d);
    pci_dma_set_bus_master(d, false);
    pci_msi_reset(d);
    d->intx_level = false;
    pci_update_intx(d);
}

/* ---- capabilities ---------------------------------------------------------------------- */
static bool range_free(const PCIDevice *d, uint32_t off, uint32_t size)
{
    if (off + size > d->config_size)
        return false;
    for (uint32_t i = off; i < off + size; i++)
        if (d->used[i])
            return false;
    return true;
}

uint8_t pci_add_capability(PCIDevice *d, uint8_t cap_id, uint8_t offset, uint8_t size)
{
    if (size < 2) {
        log_error("%s: PCI capability 0x%x of %u bytes", d->dev.id, cap_id, size);
        return 0;
    }
    if (!offset) {
        for (uint32_t o = PCI_STD_HEADER_SIZEOF; o + size <= PCI_CONFIG_SPACE_SIZE; o += 4)
            if (range_free(d, o, size)) {
                offset = (uint8_t)o;
                break;
            }
    }
    if (!offset || (offset & 3) || offset < PCI_STD_HEADER_SIZEOF ||
        offset + size > PCI_CONFIG_SPACE_SIZE || !range_free(d, offset, size)) {
        log_error("%s: PCI capability 0x%x does not fit at 0x%x", d->dev.id, cap_id, offset);
        return 0;
    }
    memset(d->used + offset, 1, size);
    d->config[offset] = cap_id;
    d->config[offset + 1] = 0;
    if (d->last_cap)
        d->config[d->last_cap + 1] = offset;
    else
        d->config[PCI_CAPABILITY_LIST] = offset;
    d->last_cap = offset;
    pci_set_word(d->config + PCI_STATUS,
                 pci_get_word(d->config + PCI_STATUS) | PCI_STATUS_CAP_LIST);
    return offset;
}

uint16_t pcie_add_ext_capability(PCIDevice *d, uint16_t cap_id, uint8_t version,
                                 uint16_t offset, uint16_t size)
{
    if (d->config_size < PCIE_CONFIG_SPACE_SIZE || size < 4) {
        log_error("%s: extended capability 0x%x needs a PCIe function", d->dev.id, cap_id);
        return 0;
    }
    if (!offset) {
        for (uint32_t o = PCI_CONFIG_SPACE_SIZE; o + size <= PCIE_CONFIG_SPACE_SIZE; o += 4)
            if (range_free(d, o, size)) {
                offset = (uint16_t)o;
                break;
            }
    }
    if (!offset || (offset & 3) || offset < PCI_CONFIG_SPACE_SIZE ||
        offset + size > PCIE_CONFIG_SPACE_SIZE || !range_free(d, offset, size)) {
        log_error("%s: extended capability 0x%x does not fit at 0x%x", d->dev.id, cap_id,
                  offset);
        return 0;
    }
    /* The list starts at 0x100: the first capability must sit there. */
    if (!d->last_ext_cap && offset != PCI_CONFIG_SPACE_SIZE) {
        log_error("%s: the first extended capability goes at 0x100", d->dev.id);
        return 0;
    }
    memset(d->used + offset, 1, size);
    pci_set_long(d->config + offset, cap_id | (uint32_t)(version & 0xf) << 16);
    if (d->last_ext_cap) {
        uint8_t *prev = d->config + d->last_ext_cap;
        pci_set_long(prev, (pci_get_long(prev) & 0xfffff) | (uint32_t)offset << 20);
    }
    d->last_ext_cap = offset;
    return offset;
}

uint8_t pci_find_capability(const PCIDevice *d, uint8_t cap_id)
{
    uint8_t off = d->config[PCI_CAPABILITY_LIST];
    for (unsigned n = 0; off && n < 48; n++, off = d->config[off + 1])
        if (d->config[off] == cap_id)
            return off;
    return 0;
}

uint16_t pcie_find_ext_capability(const PCIDevice *d, uint16_t cap_id)
{
    if (d->config_size < PCIE_CONFIG_SPACE_SIZE || !d->last_ext_cap)
        return 0;
    uint16_t off = PCI_CONFIG_SPACE_SIZE;
    for (unsigned n = 0; off && n < 960; n++) {
        uint32_t h = pci_get_long(d->config + off);
        if ((h & 0xffff) == cap_id)
            return off;
        off = (uint16_t)(h >> 20);
    }
    return 0;
}

/* ---- accesses ---------------------------------------------------------------------------- */
uint32_t pci_default_config_read(PCIDevice *d, uint32_t addr, unsigned len)
{
    uint32_t v = 0;
    memcpy(&v, d->config + addr, len);   /* little-endian host: the register's value */
    return v;
}

void pci_default_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    uint16_t old_cmd = pci_get_word(d->config + PCI_COMMAND);
    uint16_t msi_ctrl = d->msi.cap ? pci_get_word(d->config + d->msi.cap + PCI_MSI_FLAGS) : 0;
    uint16_t msix_ctrl = d->msix.cap ? pci_get_word(d->config + d->msix.cap + PCI_MSIX_FLAGS) : 0;
    for (unsigned i = 0; i < len; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i)), wm = d->wmask[addr + i];
        uint8_t *c = &d->config[addr + i];
        *c = (uint8_t)((*c & ~wm) | (b & wm));
        *c &= (uint8_t)~(b & d->w1cmask[addr + i]);
    }
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    bool bars = pci_range_covers(addr, len, PCI_BASE_ADDRESS_0, 24);
    if (bars || ((old_cmd ^ cmd) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)))
        pci_update_mappings(d);
    if ((old_cmd ^ cmd) & PCI_COMMAND_MASTER) {
        pci_dma_set_bus_master(d, cmd & PCI_COMMAND_MASTER);
        pci_msi_changed(d);
    }
    if ((old_cmd ^ cmd) & PCI_COMMAND_INTX_DISABLE)
        pci_update_intx(d);
    if (d->msi.cap && pci_range_covers(addr, len, d->msi.cap, 24))
        pci_msi_config_written(d, addr, len, msi_ctrl);
    if (d->msix.cap && pci_range_covers(addr, len, d->msix.cap, 12))
        pci_msix_config_written(d, addr, len, msix_ctrl);
}

/* Accesses from the host bridge: aligned to their size (the bridge splits the
 * rest), within config_size. */
uint32_t pci_config_read(PCIDevice *d, uint32_t addr, unsigned len)
{
    if (addr >= d->config_size || addr + len > d->config_size)
        return len == 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
    if (d->ops && d->ops->config_read)
        return d->ops->config_read(d, addr, len);
    return pci_default_config_read(d, addr, len);
}

void pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    if (addr >= d->config_size || addr + len > d->config_size)
        return;
    if (d->ops && d->ops->config_write)
        d->ops->config_write(d, addr, val, len);
    else
        pci_default_config_write(d, addr, val, len);
}
