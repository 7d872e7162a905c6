/* MSI and MSI-X: the capabilities, the MSI-X table and PBA, masking with pending
 * bits, and delivery through vm_send_msi (vmm/irq.h) with the function's
 * requester id. */
#include <glib.h>

#include "pci/dma.h"
#include "pci/pci-internal.h"
#include "util/bytes.h"
#include "util/log.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

static bool bus_master(const PCIDevice *d)
{
    return pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER;
}

/* x86 takes a write to 0xFEExxxxx as an interrupt message; an MSI address
 * anywhere else is an ordinary memory write by the function. */
static bool msi_is_interrupt(uint64_t address)
{
    return (address >> 20) == 0xfee;
}

static void send(PCIDevice *d, uint64_t address, uint32_t data)
{
    /* An MSI is a memory write by the function: no bus mastering, no message. */
    if (!bus_master(d))
        return;
    if (!msi_is_interrupt(address)) {
        /* Through the function's DMA path (its IOMMU, never its own registers). */
        if (stl_le_pci_dma(d, address, data) != MEMTX_OK)
            log_guest_error("%s: MSI write of 0x%x to 0x%llx, which is neither an "
                            "interrupt address nor memory the function may write",
                            d->dev.id, data, (unsigned long long)address);
        return;
    }
    MSIMessage m = { .address = address, .data = data };
    vm_send_msi(d->dev.vm, &m, pci_requester_id(d));
}

/* ---- MSI --------------------------------------------------------------------------------- */
static uint8_t msi_data_off(const PCIDevice *d)
{
    return d->msi.is_64bit ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
}
static uint8_t msi_mask_off(const PCIDevice *d)
{
    return d->msi.is_64bit ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
}

static uint8_t msi_cap_size(bool is_64bit, bool per_vector_mask)
{
    if (per_vector_mask)
        return is_64bit ? 24 : 20;
    return is_64bit ? 14 : 10;
}

int pci_msi_init(PCIDevice *d, unsigned nr_vectors, bool is_64bit, bool per_vector_mask)
{
    return pci_msi_init_at(d, 0, nr_vectors, is_64bit, per_vector_mask);
}

int pci_msi_init_at(PCIDevice *d, uint8_t cap_offset, unsigned nr_vectors, bool is_64bit,
                    bool per_vector_mask)
{
    if (nr_vectors < 1 || nr_vectors > 32 || (nr_vectors & (nr_vectors - 1))) {
        log_error("%s: %u MSI vectors", d->dev.id, nr_vectors);
        return -1;
    }
    uint8_t size = msi_cap_size(is_64bit, per_vector_mask);
    uint8_t off = pci_add_capability(d, PCI_CAP_ID_MSI, cap_offset, size);
    if (!off)
        return -1;
    d->msi = (PCIMSIState){ off, (uint8_t)nr_vectors, is_64bit, per_vector_mask };
    uint16_t ctrl = (uint16_t)((__builtin_ctz(nr_vectors)) << 1);
    if (is_64bit)
        ctrl |= PCI_MSI_FLAGS_64BIT;
    if (per_vector_mask)
        ctrl |= PCI_MSI_FLAGS_MASKBIT;
    pci_set_word(d->config + off + PCI_MSI_FLAGS, ctrl);
    pci_set_word(d->wmask + off + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    pci_set_long(d->wmask + off + PCI_MSI_ADDRESS_LO, 0xfffffffc);
    if (is_64bit)
        pci_set_long(d->wmask + off + PCI_MSI_ADDRESS_HI, 0xffffffff);
    pci_set_word(d->wmask + off + msi_data_off(d), 0xffff);
    if (per_vector_mask)
        pci_set_long(d->wmask + off + msi_mask_off(d),
                     nr_vectors == 32 ? 0xffffffff : (1u << nr_vectors) - 1);
    return 0;
}

bool pci_msi_enabled(const PCIDevice *d)
{
    return d->msi.cap &&
           (pci_get_word(d->config + d->msi.cap + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_ENABLE);
}

/* Vectors the guest enabled (Multiple Message Enable), at most what we offer. */
static unsigned msi_enabled_vectors(const PCIDevice *d)
{
    uint16_t ctrl = pci_get_word(d->config + d->msi.cap + PCI_MSI_FLAGS);
    unsigned n = 1u << ((ctrl & PCI_MSI_FLAGS_QSIZE) >> 4);
    return n < d->msi.nr_vectors ? n : d->msi.nr_vectors;
}

static void msi_send(PCIDevice *d, unsigned vector)
{
    const uint8_t *c = d->config + d->msi.cap;
    uint64_t addr = pci_get_long(c + PCI_MSI_ADDRESS_LO);
    if (d->msi.is_64bit)
        addr |= (uint64_t)pci_get_long(c + PCI_MSI_ADDRESS_HI) << 32;
    unsigned n = msi_enabled_vectors(d);
    uint32_t data = pci_get_word(c + msi_data_off(d));
    /* The function replaces the low log2(n) bits of the data with the vector. */
    data = (data & ~(n - 1)) | vector;
    send(d, addr, data);
}

static void msi_notify(PCIDevice *d, unsigned vector)
{
    if (vector >= msi_enabled_vectors(d))
        return;
    if (d->msi.per_vector_mask) {
        uint8_t *c = d->config + d->msi.cap;
        uint32_t mask = pci_get_long(c + msi_mask_off(d));
        if (mask & (1u << vector)) {
            uint8_t *p = c + msi_mask_off(d) + 4;
            pci_set_long(p, pci_get_long(p) | 1u << vector);
            return;
        }
    }
    msi_send(d, vector);
}

void pci_msi_config_written(PCIDevice *d, uint32_t addr, unsigned len, uint16_t old_ctrl)
{
    (void)addr;
    (void)len;
    (void)old_ctrl;
    pci_msi_changed(d);
    if (!pci_msi_enabled(d) || !d->msi.per_vector_mask)
        return;
    /* Unmasked vectors with their pending bit set are sent now. */
    uint8_t *c = d->config + d->msi.cap;
    uint32_t mask = pci_get_long(c + msi_mask_off(d));
    uint32_t pending = pci_get_long(c + msi_mask_off(d) + 4);
    uint32_t fire = pending & ~mask;
    if (!fire)
        return;
    pci_set_long(c + msi_mask_off(d) + 4, pending & mask);
    for (unsigned v = 0; v < 32; v++)
        if (fire & (1u << v) && v < msi_enabled_vectors(d))
            msi_send(d, v);
}

void pci_msi_reset(PCIDevice *d)
{
    if (d->msi.cap) {
        uint8_t *c = d->config + d->msi.cap;
        uint16_t ctrl = pci_get_word(c + PCI_MSI_FLAGS);
        pci_set_word(c + PCI_MSI_FLAGS, ctrl & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
        memset(c + PCI_MSI_ADDRESS_LO, 0, msi_cap_size(d->msi.is_64bit, d->msi.per_vector_mask) - 4u);
    }
    if (d->msix.cap) {
        uint8_t *c = d->config + d->msix.cap;
        pci_set_word(c + PCI_MSIX_FLAGS, pci_get_word(c + PCI_MSIX_FLAGS) &
                                             PCI_MSIX_FLAGS_QSIZE);
        memset(d->msix.table, 0, d->msix.nr_vectors * PCI_MSIX_ENTRY_SIZE);
        for (unsigned v = 0; v < d->msix.nr_vectors; v++)
            d->msix.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] = 1;
        memset(d->msix.pba, 0, (d->msix.nr_vectors + 63) / 64 * 8);
        pci_msi_changed(d);
    }
}

/* ---- MSI-X ------------------------------------------------------------------------------- */
bool pci_msix_enabled(const PCIDevice *d)
{
    return d->msix.cap &&
           (pci_get_word(d->config + d->msix.cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE);
}

static bool msix_function_masked(const PCIDevice *d)
{
    return pci_get_word(d->config + d->msix.cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL;
}

static bool msix_vector_masked(const PCIDevice *d, unsigned v)
{
    return msix_function_masked(d) ||
           (d->msix.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] & 1);
}

static MSIMessage msix_message(const PCIDevice *d, unsigned v)
{
    const uint8_t *e = d->msix.table + v * PCI_MSIX_ENTRY_SIZE;
    return (MSIMessage){ .address = pci_get_long(e + PCI_MSIX_ENTRY_LOWER_ADDR) |
                                    (uint64_t)pci_get_long(e + PCI_MSIX_ENTRY_UPPER_ADDR) << 32,
                         .data = pci_get_long(e + PCI_MSIX_ENTRY_DATA) };
}

static void msix_send(PCIDevice *d, unsigned v)
{
    MSIMessage m = msix_message(d, v);
    send(d, m.address, m.data);
}

bool pci_msix_vector_target(const PCIDevice *d, unsigned v, MSIMessage *msg)
{
    if (v >= d->msix.nr_vectors || !pci_msix_enabled(d) || msix_vector_masked(d, v) ||
        !bus_master(d))
        return false;
    *msg = msix_message(d, v);
    return msi_is_interrupt(msg->address);   /* else a memory write: pci_notify does it */
}

void pci_msi_changed(PCIDevice *d)
{
    if (d->ops && d->ops->msi_changed)
        d->ops->msi_changed(d);
}

static void msix_notify(PCIDevice *d, unsigned v)
{
    if (v >= d->msix.nr_vectors)
        return;
    if (msix_vector_masked(d, v)) {
        d->msix.pba[v / 8] |= (uint8_t)(1u << (v % 8));
        return;
    }
    msix_send(d, v);
}

/* Pending vectors that are no longer masked are delivered (and cleared). */
static void msix_fire_unmasked(PCIDevice *d)
{
    if (!pci_msix_enabled(d))
        return;
    for (unsigned v = 0; v < d->msix.nr_vectors; v++) {
        uint8_t bit = (uint8_t)(1u << (v % 8));
        if ((d->msix.pba[v / 8] & bit) && !msix_vector_masked(d, v)) {
            d->msix.pba[v / 8] &= (uint8_t)~bit;
            msix_send(d, v);
        }
    }
}

void pci_msix_config_written(PCIDevice *d, uint32_t addr, unsigned len, uint16_t old_ctrl)
{
    (void)addr;
    (void)len;
    uint16_t ctrl = pci_get_word(d->config + d->msix.cap + PCI_MSIX_FLAGS);
    if ((ctrl ^ old_ctrl) & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)) {
        msix_fire_unmasked(d);
        pci_msi_changed(d);
    }
}

static MemTxResult table_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    PCIDevice *d = opaque;
    *data = get_le(d->msix.table + addr, size);
    return MEMTX_OK;
}

static MemTxResult table_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PCIDevice *d = opaque;
    for (unsigned i = 0; i < size; i++) {
        hwaddr a = addr + i;
        uint8_t b = (uint8_t)(data >> (8 * i));
        /* Vector control: only the mask bit is writable. */
        if (a % PCI_MSIX_ENTRY_SIZE == PCI_MSIX_ENTRY_VECTOR_CTRL)
            b &= 1;
        else if (a % PCI_MSIX_ENTRY_SIZE > PCI_MSIX_ENTRY_VECTOR_CTRL)
            b = 0;
        d->msix.table[a] = b;
    }
    msix_fire_unmasked(d);
    pci_msi_changed(d);
    return MEMTX_OK;
}

static const MemoryRegionOps table_ops = {
    .read = table_read,
    .write = table_write,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 8 },
};

static MemTxResult pba_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    PCIDevice *d = opaque;
    *data = get_le(d->msix.pba + addr, size);
    return MEMTX_OK;
}

/* The PBA is read-only: writes are ignored, as the spec allows. */
static MemTxResult pba_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)data;
    (void)size;
    return MEMTX_OK;
}

static const MemoryRegionOps pba_ops = {
    .read = pba_read,
    .write = pba_write,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 8 },
};

int pci_msix_init(PCIDevice *d, unsigned nr_vectors, unsigned table_bar,
                  uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset)
{
    return pci_msix_init_at(d, 0, nr_vectors, table_bar, table_offset, pba_bar, pba_offset);
}

int pci_msix_init_at(PCIDevice *d, uint8_t cap_offset, unsigned nr_vectors,
                     unsigned table_bar, uint32_t table_offset, unsigned pba_bar,
                     uint32_t pba_offset)
{
    uint32_t table_size = nr_vectors * PCI_MSIX_ENTRY_SIZE;
    uint32_t pba_size = (nr_vectors + 63) / 64 * 8;
    if (nr_vectors < 1 || nr_vectors > 2048 || table_bar >= PCI_NUM_BARS ||
        pba_bar >= PCI_NUM_BARS || !d->bars[table_bar].mr || !d->bars[pba_bar].mr ||
        d->bars[table_bar].mr->type != MR_CONTAINER || d->bars[pba_bar].mr->type != MR_CONTAINER ||
        (table_offset & 7) || (pba_offset & 7) ||
        (uint64_t)table_offset + table_size > d->bars[table_bar].size ||
        (uint64_t)pba_offset + pba_size > d->bars[pba_bar].size) {
        log_error("%s: bad MSI-X layout", d->dev.id);
        return -1;
    }
    uint8_t off = pci_add_capability(d, PCI_CAP_ID_MSIX, cap_offset, PCI_CAP_MSIX_SIZEOF);
    if (!off)
        return -1;
    d->msix.cap = off;
    d->msix.nr_vectors = (uint16_t)nr_vectors;
    d->msix.table = g_malloc0(table_size);
    d->msix.pba = g_malloc0(pba_size);
    pci_set_word(d->config + off + PCI_MSIX_FLAGS, (uint16_t)(nr_vectors - 1));
    pci_set_word(d->wmask + off + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    pci_set_long(d->config + off + PCI_MSIX_TABLE, table_offset | table_bar);
    pci_set_long(d->config + off + PCI_MSIX_PBA, pba_offset | pba_bar);
    pci_msi_reset(d);

    char *name = g_strdup_printf("%s msix-table", d->dev.id);
    d->msix.table_mr = memory_region_new_io(name, table_size, &table_ops, d);
    g_free(name);
    name = g_strdup_printf("%s msix-pba", d->dev.id);
    d->msix.pba_mr = memory_region_new_io(name, pba_size, &pba_ops, d);
    g_free(name);
    d->msix.table_mr->owner = d->msix.pba_mr->owner = d;
    memory_region_add_subregion_overlap(d->bars[table_bar].mr, table_offset, d->msix.table_mr, 1);
    memory_region_add_subregion_overlap(d->bars[pba_bar].mr, pba_offset, d->msix.pba_mr, 1);
    return 0;
}

void pci_msix_release(PCIDevice *d)
{
    if (d->msix.table_mr) {
        if (d->msix.table_mr->container)
            memory_region_del_subregion(d->msix.table_mr->container, d->msix.table_mr);
        memory_region_unref(d->msix.table_mr);
    }
    if (d->msix.pba_mr) {
        if (d->msix.pba_mr->container)
            memory_region_del_subregion(d->msix.pba_mr->container, d->msix.pba_mr);
        memory_region_unref(d->msix.pba_mr);
    }
    g_free(d->msix.table);
    g_free(d->msix.pba);
    d->msix = (PCIMSIXState){ 0 };
}

void pci_notify(PCIDevice *d, unsigned vector)
{
    if (!d->config)
        return;
    if (pci_msix_enabled(d))
        msix_notify(d, vector);
    else if (pci_msi_enabled(d))
        msi_notify(d, vector);
}
