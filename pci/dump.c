/* `--dump-pci`: every function like `lspci -v`, with names from pci.ids
 * (libpci); and pci_describe, the same facts for the control socket. */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>

#include "pci/dma-internal.h"
#include "pci/pci-internal.h"
#include "vmm/vm.h"

/* pci/names.c (the one file that sees libpci's header). */
enum { NAME_VENDOR, NAME_DEVICE, NAME_CLASS, NAME_PLAIN = 0x10 };
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

static void dump_bar(FILE *out, const PCIBarDesc *b, unsigned n)
{
    const char *state = b->enabled ? "" : " [disabled]";
    if (b->type == PCI_BAR_IO) {
        fprintf(out, "\tRegion %u: I/O ports at %04" PRIx64 " [size=%" PRIu64 "]%s\n", n,
                b->addr, b->size, state);
        return;
    }
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
            n, b->addr, b->type == PCI_BAR_MEM64 ? "64-bit" : "32-bit",
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

void pci_describe(const PCIDevice *d, PCIFunctionDesc *o)
{
    const uint8_t *c = d->config;
    *o = (PCIFunctionDesc){
        .bus = pci_bus_number(d->bus), .slot = PCI_SLOT(d->devfn), .func = PCI_FUNC(d->devfn),
        .id = d->dev.id,
        .vendor_id = pci_get_word(c + PCI_VENDOR_ID), .device_id = pci_get_word(c + PCI_DEVICE_ID),
        .subsystem_vendor_id = pci_get_word(c + PCI_SUBSYSTEM_VENDOR_ID),
        .subsystem_id = pci_get_word(c + PCI_SUBSYSTEM_ID),
        .class_code = pci_get_long(c + PCI_CLASS_REVISION) >> 8, .revision = c[PCI_REVISION_ID],
        .express = d->info.express, .command = pci_get_word(c + PCI_COMMAND),
        .intx_pin = d->info.intx_pin, .irq_mode = irq_mode(d),
        .behind_iommu = d->dma && d->dma->target && d->dma->target->type == MR_IOMMU,
        .names = d->names,
    };
    if (o->intx_pin)
        o->intx_gsi = pci_intx_gsi(d->devfn, o->intx_pin);
    if (d->msi.cap) {
        uint16_t f = pci_get_word(c + d->msi.cap + PCI_MSI_FLAGS);
        o->msi = true;
        o->msi_enabled = f & PCI_MSI_FLAGS_ENABLE;
        o->msi_64bit = f & PCI_MSI_FLAGS_64BIT;
        o->msi_maskable = f & PCI_MSI_FLAGS_MASKBIT;
        o->msi_vectors = 1u << ((f & PCI_MSI_FLAGS_QSIZE) >> 4);
        o->msi_max_vectors = 1u << ((f & PCI_MSI_FLAGS_QMASK) >> 1);
    }
    if (d->msix.cap) {
        uint16_t f = pci_get_word(c + d->msix.cap + PCI_MSIX_FLAGS);
        o->msix = true;
        o->msix_enabled = f & PCI_MSIX_FLAGS_ENABLE;
        o->msix_masked = f & PCI_MSIX_FLAGS_MASKALL;
        o->msix_vectors = (f & PCI_MSIX_FLAGS_QSIZE) + 1u;
    }
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        const PCIBar *b = &d->bars[n];
        PCIBarDesc *bd = &o->bars[n];
        if (!b->type)
            continue;
        uint32_t lo = pci_get_long(c + PCI_BASE_ADDRESS_0 + 4 * n);
        bd->type = b->type;
        bd->prefetchable = b->prefetchable;
        bd->size = b->size;
        bd->enabled = b->mapped_addr != PCI_BAR_UNMAPPED;
        if (b->type == PCI_BAR_IO) {
            bd->addr = lo & PCI_BASE_ADDRESS_IO_MASK;
        } else {
            bd->addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
            if (b->type == PCI_BAR_MEM64 && n + 1 < PCI_NUM_BARS)
                bd->addr |= (uint64_t)pci_get_long(c + PCI_BASE_ADDRESS_0 + 4 * n + 4) << 32;
        }
    }
}

/* ---- names ---- */
static char *lookup_dup(void *h, int kind, unsigned a, unsigned b)
{
    char buf[256];
    return g_strdup(pci_names_lookup(h, buf, sizeof(buf), kind | NAME_PLAIN, a, b));
}

static void resolve_one(PCIDevice *d, void *opaque)
{
    if (d->names)
        return;
    PCIFunctionDesc o;
    pci_describe(d, &o);
    PCINames *n = g_new0(PCINames, 1);
    n->vendor = lookup_dup(opaque, NAME_VENDOR, o.vendor_id, 0);
    n->device = lookup_dup(opaque, NAME_DEVICE, o.vendor_id, o.device_id);
    if (o.subsystem_vendor_id)
        n->subsystem_vendor = lookup_dup(opaque, NAME_VENDOR, o.subsystem_vendor_id, 0);
    n->class_name = lookup_dup(opaque, NAME_CLASS, o.class_code >> 8, 0);
    d->names = n;
}

void pci_resolve_names(struct vm *vm)
{
    PCIBus *bus = pci_root_bus(vm);
    if (!bus)
        return;
    void *h = pci_names_open();
    pci_bus_foreach(bus, resolve_one, h);
    pci_names_close(h);
}

void pci_names_free(PCIDevice *d)
{
    if (!d->names)
        return;
    g_free(d->names->vendor);
    g_free(d->names->device);
    g_free(d->names->subsystem_vendor);
    g_free(d->names->class_name);
    g_free(d->names);
    d->names = NULL;
}

/* ---- the listing ---- */
typedef struct DumpCtx {
    FILE *out;
    void *names;
} DumpCtx;

static void dump_one(PCIDevice *d, void *opaque)
{
    DumpCtx *c = opaque;
    FILE *out = c->out;
    char cls[128], vd[256], sub[256];
    PCIFunctionDesc o;
    pci_describe(d, &o);
    fprintf(out, "%02x:%02x.%u %s: %s (rev %02x) (%s)\n", o.bus, o.slot, o.func,
            pci_names_lookup(c->names, cls, sizeof(cls), NAME_CLASS, o.class_code >> 8, 0),
            pci_names_lookup(c->names, vd, sizeof(vd), NAME_DEVICE, o.vendor_id, o.device_id),
            o.revision, o.id);
    if (o.subsystem_vendor_id)
        fprintf(out, "\tSubsystem: %s, device %04x\n",
                pci_names_lookup(c->names, sub, sizeof(sub), NAME_VENDOR, o.subsystem_vendor_id, 0),
                o.subsystem_id);
    fprintf(out, "\tFlags: %sI/O%c Memory%c BusMaster%c", o.express ? "PCIe, " : "",
            o.command & PCI_COMMAND_IO ? '+' : '-', o.command & PCI_COMMAND_MEMORY ? '+' : '-',
            o.command & PCI_COMMAND_MASTER ? '+' : '-');
    if (o.intx_pin)
        fprintf(out, ", INT%c -> GSI %u", 'A' + o.intx_pin - 1, o.intx_gsi);
    fprintf(out, "\n\tInterrupt mode: %s\n", o.irq_mode);
    for (unsigned n = 0; n < PCI_NUM_BARS; n++)
        if (o.bars[n].type)
            dump_bar(out, &o.bars[n], n);
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
