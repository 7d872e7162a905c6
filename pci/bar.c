/* BARs: registration with a firmware-assigned address, sizing through the write
 * masks, mapping into system memory / I/O while decode is enabled; and the INTx
 * line. */
#include <inttypes.h>

#include "pci/pci-internal.h"
#include "util/log.h"
#include "vmm/vm.h"

static bool is_pow2(uint64_t n)
{
    return n && !(n & (n - 1));
}

/* DMA by this function into any of these regions is refused (DESIGN §2 rule 6). */
static void set_owner(MemoryRegion *mr, void *owner)
{
    mr->owner = owner;
    for (unsigned i = 0; i < mr->nr_subregions; i++)
        set_owner(mr->subregions[i], owner);
}

static uint64_t window_alloc(PCIWindow *w, uint64_t size)
{
    uint64_t a = (w->next + size - 1) & ~(size - 1);
    if (!w->size || a < w->next || a + size > w->base + w->size || a + size < a)
        return 0;
    w->next = a + size;
    return a;
}

static uint32_t bar_offset(unsigned n)
{
    return PCI_BASE_ADDRESS_0 + 4 * n;
}

int pci_register_bar(PCIDevice *d, unsigned n, PCIBarType type, bool prefetchable,
                     MemoryRegion *mr)
{
    uint64_t size = mr->size;
    bool io = type == PCI_BAR_IO, is64 = type == PCI_BAR_MEM64;
    if (n >= PCI_NUM_BARS || (is64 && n + 1 >= PCI_NUM_BARS) || d->bars[n].type ||
        (is64 && d->bars[n + 1].type) || type == PCI_BAR_NONE) {
        log_error("%s: BAR %u cannot be registered", d->dev.id, n);
        return -1;
    }
    if (!is_pow2(size) || size < (io ? 4u : 16u) || (io && size > 0x100) ||
        (type == PCI_BAR_MEM32 && size > 0x80000000ull)) {
        log_error("%s: BAR %u size 0x%" PRIx64 " is not valid", d->dev.id, n, size);
        return -1;
    }
    PCIBar *b = &d->bars[n];
    b->type = type;
    b->prefetchable = prefetchable && !io;
    b->size = size;
    b->mr = mr;
    memory_region_ref(mr);
    set_owner(mr, d);

    uint32_t flags = io ? PCI_BASE_ADDRESS_SPACE_IO : PCI_BASE_ADDRESS_SPACE_MEMORY;
    if (is64)
        flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
    if (b->prefetchable)
        flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
    uint64_t mask = ~(size - 1);
    /* Firmware's job on real machines: an address the guest may keep. */
    PCIWindow *w = io ? &d->bus->io : is64 ? &d->bus->mmio64 : &d->bus->mmio32;
    uint64_t addr = window_alloc(w, size);
    if (!addr && is64)
        addr = window_alloc(&d->bus->mmio32, size);
    uint32_t off = bar_offset(n);
    pci_set_long(d->config + off, (uint32_t)addr | flags);
    pci_set_long(d->wmask + off, (uint32_t)mask & (io ? ~3u : ~0xfu));
    if (is64) {
        pci_set_long(d->config + off + 4, (uint32_t)(addr >> 32));
        pci_set_long(d->wmask + off + 4, (uint32_t)(mask >> 32));
    }
    return 0;
}

/* The address a BAR decodes now, or PCI_BAR_UNMAPPED. */
static uint64_t bar_decoded_address(const PCIDevice *d, unsigned n)
{
    const PCIBar *b = &d->bars[n];
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    uint32_t lo = pci_get_long(d->config + bar_offset(n));
    uint64_t addr, limit;
    if (b->type == PCI_BAR_IO) {
        if (!(cmd & PCI_COMMAND_IO))
            return PCI_BAR_UNMAPPED;
        addr = lo & PCI_BASE_ADDRESS_IO_MASK;
        limit = 0x10000;
    } else {
        if (!(cmd & PCI_COMMAND_MEMORY))
            return PCI_BAR_UNMAPPED;
        addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
        if (b->type == PCI_BAR_MEM64)
            addr |= (uint64_t)pci_get_long(d->config + bar_offset(n) + 4) << 32;
        limit = b->type == PCI_BAR_MEM64 ? UINT64_MAX : 0x100000000ull;
    }
    /* 0 is where an unprogrammed BAR sits; all-ones while the guest sizes it. */
    addr &= ~(b->size - 1);
    if (addr == 0 || addr > limit - b->size || addr + b->size == 0 ||
        (b->type != PCI_BAR_IO && addr + b->size > (1ull << 52)))
        return PCI_BAR_UNMAPPED;
    return addr;
}

static MemoryRegion *bar_container(PCIDevice *d, const PCIBar *b)
{
    return b->type == PCI_BAR_IO ? d->dev.vm->sysio : d->dev.vm->sysmem;
}

void pci_update_mappings(PCIDevice *d)
{
    memory_region_transaction_begin();
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        PCIBar *b = &d->bars[n];
        if (!b->type)
            continue;
        uint64_t addr = bar_decoded_address(d, n);
        if (addr == b->mapped_addr)
            continue;
        MemoryRegion *c = bar_container(d, b);
        if (b->mapped_addr != PCI_BAR_UNMAPPED)
            memory_region_del_subregion(c, b->mr);
        if (addr != PCI_BAR_UNMAPPED)
            memory_region_add_subregion_overlap(c, addr, b->mr, 1);
        b->mapped_addr = addr;
    }
    memory_region_transaction_commit();
}

void pci_unmap_bars(PCIDevice *d)
{
    memory_region_transaction_begin();
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        PCIBar *b = &d->bars[n];
        if (b->type && b->mapped_addr != PCI_BAR_UNMAPPED)
            memory_region_del_subregion(bar_container(d, b), b->mr);
        b->mapped_addr = PCI_BAR_UNMAPPED;
    }
    memory_region_transaction_commit();
}

void pci_bars_release(PCIDevice *d)
{
    pci_unmap_bars(d);
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        if (d->bars[n].mr) {
            set_owner(d->bars[n].mr, NULL);
            memory_region_unref(d->bars[n].mr);
        }
        d->bars[n] = (PCIBar){ .mapped_addr = PCI_BAR_UNMAPPED };
    }
}

uint64_t pci_bar_address(const PCIDevice *d, unsigned n)
{
    return n < PCI_NUM_BARS ? d->bars[n].mapped_addr : PCI_BAR_UNMAPPED;
}

/* ---- INTx ----------------------------------------------------------------------------- */
unsigned pci_intx_gsi(uint8_t devfn, uint8_t pin)
{
    return PCI_INTX_GSI_BASE + (PCI_SLOT(devfn) + (pin ? pin - 1u : 0u)) % PCI_INTX_NR_GSIS;
}

void pci_update_intx(PCIDevice *d)
{
    if (!d->info.intx_pin || !d->config)
        return;
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    bool assert = d->intx_level && !(cmd & PCI_COMMAND_INTX_DISABLE);
    if (assert == d->intx_asserted)
        return;
    d->intx_asserted = assert;
    unsigned gsi = pci_intx_gsi(d->devfn, d->info.intx_pin);
    unsigned *count = &d->bus->intx_count[gsi - PCI_INTX_GSI_BASE];
    bool was = *count > 0;
    *count += assert ? 1 : -1u;
    if (was != (*count > 0))
        vm_set_irq_line(d->dev.vm, gsi, *count > 0);
}

void pci_set_irq(PCIDevice *d, bool level)
{
    if (!d->config)
        return;
    d->intx_level = level;
    uint16_t st = pci_get_word(d->config + PCI_STATUS);
    st = level ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT;
    pci_set_word(d->config + PCI_STATUS, st);
    pci_update_intx(d);
}
