/* `--dump-pci`: every function like `lspci -v`, with names from pci.ids (libpci). */
#include <inttypes.h>
#include <stdio.h>

#include "pci/pci-internal.h"
#include "vmm/vm.h"

/* pci/names.c (the one file that sees libpci's header). */
enum { NAME_VENDOR, NAME_DEVICE, NAME_CLASS };
void *pci_names_open(void);
void pci_names_close(void *h);
const char *pci_names_lookup(void *h, char *buf, int size, int kind, unsigned a, unsigned b);

static const char *cap_name(uint8_t id)
{
    switch (id) {
    case PCI_CAP_ID_PM: return "Power Management";
    case PCI_CAP_ID_MSI: return "MSI";
    case PCI_CAP_ID_VNDR: return "Vendor Specific";
    case PCI_CAP_ID_EXP: return "Express";
    case PCI_CAP_ID_MSIX: return "MSI-X";
    }
    return "?";
}

static const char *ext_cap_name(uint16_t id)
{
    switch (id) {
    case PCI_EXT_CAP_ID_ERR: return "Advanced Error Reporting";
    case PCI_EXT_CAP_ID_DSN: return "Device Serial Number";
    case PCI_EXT_CAP_ID_ATS: return "Address Translation Service";
    }
    return "?";
}

static void dump_bar(FILE *out, const PCIDevice *d, unsigned n)
{
    const PCIBar *b = &d->bars[n];
    uint32_t lo = pci_get_long(d->config + PCI_BASE_ADDRESS_0 + 4 * n);
    const char *state = b->mapped_addr == PCI_BAR_UNMAPPED ? " [disabled]" : "";
    if (b->type == PCI_BAR_IO) {
        fprintf(out, "\tRegion %u: I/O ports at %04x [size=%" PRIu64 "]%s\n", n,
                (unsigned)(lo & PCI_BASE_ADDRESS_IO_MASK), b->size, state);
        return;
    }
    uint64_t addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
    if (b->type == PCI_BAR_MEM64)
        addr |= (uint64_t)pci_get_long(d->config + PCI_BASE_ADDRESS_0 + 4 * n + 4) << 32;
    uint64_t size = b->size;
    const char *unit = "";
    if (size >= (1u << 20) && !(size & ((1u << 20) - 1))) {
        size >>= 20;
        unit = "M";
    } else if (size >= 1024 && !(size & 1023)) {
        size >>= 10;
        unit = "K";
    }
    fprintf(out, "\tRegion %u: Memory at %" PRIx64 " (%s, %sprefetchable) [size=%" PRIu64 "%s]%s\n",
            n, addr, b->type == PCI_BAR_MEM64 ? "64-bit" : "32-bit",
            b->prefetchable ? "" : "non-", size, unit, state);
}

static void dump_caps(FILE *out, const PCIDevice *d)
{
    uint8_t off = d->config[PCI_CAPABILITY_LIST];
    for (unsigned n = 0; off && n < 48; n++, off = d->config[off + 1]) {
        uint8_t id = d->config[off];
        fprintf(out, "\tCapabilities: [%02x] %s", off, cap_name(id));
        if (id == PCI_CAP_ID_MSI) {
            uint16_t c = pci_get_word(d->config + off + PCI_MSI_FLAGS);
            fprintf(out, ": Enable%c Count=%u/%u Maskable%c 64bit%c",
                    c & PCI_MSI_FLAGS_ENABLE ? '+' : '-', 1u << ((c & PCI_MSI_FLAGS_QSIZE) >> 4),
                    1u << ((c & PCI_MSI_FLAGS_QMASK) >> 1), c & PCI_MSI_FLAGS_MASKBIT ? '+' : '-',
                    c & PCI_MSI_FLAGS_64BIT ? '+' : '-');
        } else if (id == PCI_CAP_ID_MSIX) {
            uint16_t c = pci_get_word(d->config + off + PCI_MSIX_FLAGS);
            uint32_t t = pci_get_long(d->config + off + PCI_MSIX_TABLE);
            uint32_t p = pci_get_long(d->config + off + PCI_MSIX_PBA);
            fprintf(out, ": Enable%c Count=%u Masked%c Vector table: BAR=%u offset=%08x PBA: BAR=%u offset=%08x",
                    c & PCI_MSIX_FLAGS_ENABLE ? '+' : '-', (c & PCI_MSIX_FLAGS_QSIZE) + 1u,
                    c & PCI_MSIX_FLAGS_MASKALL ? '+' : '-', t & 7, t & ~7u, p & 7, p & ~7u);
        } else if (id == PCI_CAP_ID_EXP) {
            uint16_t f = pci_get_word(d->config + off + PCI_EXP_FLAGS);
            fprintf(out, " (v%u) %s", f & PCI_EXP_FLAGS_VERS,
                    ((f & PCI_EXP_FLAGS_TYPE) >> 4) == PCI_EXP_TYPE_RC_END
                        ? "Root Complex Integrated Endpoint" : "Endpoint");
        }
        fputc('\n', out);
    }
    if (d->config_size < PCIE_CONFIG_SPACE_SIZE || !d->last_ext_cap)
        return;
    uint16_t e = PCI_CONFIG_SPACE_SIZE;
    for (unsigned n = 0; e && n < 960; n++) {
        uint32_t h = pci_get_long(d->config + e);
        fprintf(out, "\tCapabilities: [%03x v%u] %s\n", e, (h >> 16) & 0xf,
                ext_cap_name((uint16_t)h));
        e = (uint16_t)(h >> 20);
    }
}

static const char *irq_mode(const PCIDevice *d)
{
    if (pci_msix_enabled(d))
        return "MSI-X";
    if (pci_msi_enabled(d))
        return "MSI";
    if (d->info.intx_pin)
        return pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE ? "none (INTx disabled)"
                                                                              : "INTx";
    return "none";
}

typedef struct DumpCtx {
    FILE *out;
    void *names;
} DumpCtx;

static void dump_one(PCIDevice *d, void *opaque)
{
    DumpCtx *c = opaque;
    FILE *out = c->out;
    char cls[128], vd[256], sub[256];
    uint16_t class = pci_get_word(d->config + PCI_CLASS_DEVICE);
    uint16_t vendor = pci_get_word(d->config + PCI_VENDOR_ID);
    uint16_t device = pci_get_word(d->config + PCI_DEVICE_ID);
    uint16_t svendor = pci_get_word(d->config + PCI_SUBSYSTEM_VENDOR_ID);
    uint16_t sdevice = pci_get_word(d->config + PCI_SUBSYSTEM_ID);
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    fprintf(out, "%02x:%02x.%u %s: %s (rev %02x) (%s)\n",
            pci_bus_number(d->bus), PCI_SLOT(d->devfn), PCI_FUNC(d->devfn),
            pci_names_lookup(c->names, cls, sizeof(cls), NAME_CLASS, class, 0),
            pci_names_lookup(c->names, vd, sizeof(vd), NAME_DEVICE, vendor, device),
            d->config[PCI_REVISION_ID], d->dev.id);
    if (svendor)
        fprintf(out, "\tSubsystem: %s, device %04x\n",
                pci_names_lookup(c->names, sub, sizeof(sub), NAME_VENDOR, svendor, 0), sdevice);
    fprintf(out, "\tFlags: %sI/O%c Memory%c BusMaster%c", d->info.express ? "PCIe, " : "",
            cmd & PCI_COMMAND_IO ? '+' : '-', cmd & PCI_COMMAND_MEMORY ? '+' : '-',
            cmd & PCI_COMMAND_MASTER ? '+' : '-');
    if (d->info.intx_pin)
        fprintf(out, ", INT%c -> GSI %u", 'A' + d->info.intx_pin - 1,
                pci_intx_gsi(d->devfn, d->info.intx_pin));
    fprintf(out, "\n\tInterrupt mode: %s\n", irq_mode(d));
    for (unsigned n = 0; n < PCI_NUM_BARS; n++)
        if (d->bars[n].type)
            dump_bar(out, d, n);
    dump_caps(out, d);
    fputc('\n', out);
}

void pci_dump(struct vm *vm, void *out)
{
    PCIBus *bus = pci_root_bus(vm);
    if (!bus) {
        fprintf(out, "no PCI host\n");
        return;
    }
    DumpCtx c = { out, pci_names_open() };
    pci_bus_foreach(bus, dump_one, &c);
    pci_names_close(c.names);
}
