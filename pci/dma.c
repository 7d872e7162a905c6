/* The DMA layer (pci/dma.h): each function's DMA address space, the translation
 * cache, copies and single-value accesses. Mappings are in pci/dma_map.c. */
#include <glib.h>
#include <sched.h>
#include <string.h>
#include "util/rcu.h"

#include "iommu/iommu.h"
#include "pci/dma-internal.h"
#include "pci/pci-internal.h"
#include "util/log.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

uint16_t pci_requester_id(const PCIDevice *d)
{
    return (uint16_t)(pci_bus_number(d->bus) << 8 | d->devfn);
}

AddressSpace *pci_dma_address_space(PCIDevice *d)
{
    return d->dma ? d->dma->as : NULL;
}

void pci_bus_set_iommu(PCIBus *bus,
                       MemoryRegion *(*dma_region)(void *opaque, uint16_t requester_id),
                       void *opaque)
{
    bus->iommu_fn = dma_region;
    bus->iommu_opaque = opaque;
}

/* Writers of an entry exclude each other through its seq (odd while one
 * writes): a fill that finds it taken just keeps nothing. */
static bool entry_try_begin(DMACacheEntry *e)
{
    unsigned seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
    if ((seq & 1) || !__atomic_compare_exchange_n(&e->seq, &seq, seq + 1, false,
                                                  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return false;
    __atomic_thread_fence(__ATOMIC_RELEASE);   /* seq odd before the entry changes */
    return true;
}

static void entry_end(DMACacheEntry *e)
{
    __atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

/* Every cached translation (and the mappings covering [first, last]) is stale
 * from here on. */
void pci_dma_invalidate(PCIDMAState *s, hwaddr first, hwaddr last)
{
    __atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < DMA_CACHE_SIZE; i++) {
        DMACacheEntry *e = &s->cache[i];
        /* A fill holds an entry for a few stores: wait for it, then clear
         * what it may have stored. */
        while (!entry_try_begin(e))
            sched_yield();
        __atomic_store_n(&e->key[0], DMA_KEY_NONE, __ATOMIC_RELAXED);
        __atomic_store_n(&e->key[1], DMA_KEY_NONE, __ATOMIC_RELAXED);
        entry_end(e);
    }
    pci_dma_mappings_invalidate(s, first, last);
}

static void iommu_unmapped(IOMMUNotifier *n, IOMMUNotifierFlag event, const IOMMUTLBEntry *e)
{
    (void)event;
    PCIDMAState *s = caa_container_of(n, PCIDMAState, notifier);
    hwaddr first = e->iova & ~e->addr_mask;
    pci_dma_invalidate(s, first, first + e->addr_mask);
}

static void topology_changed(MemoryListener *l)
{
    PCIDMAState *s = caa_container_of(l, PCIDMAState, listener);
    pci_dma_invalidate(s, 0, UINT64_MAX);
}

/* A device's 4-byte write into 0xFEExxxxx is an interrupt message, as on x86
 * (with VT-d too: that window is not DMA-remapped, interrupt remapping sees it).
 * Reads there, and other widths, fail. */
#define MSI_WINDOW      0xfee00000ull
#define MSI_WINDOW_SIZE 0x100000ull

static MemTxResult msi_window_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    (void)size;
    PCIDMAState *s = opaque;
    MSIMessage m = { .address = MSI_WINDOW + addr, .data = (uint32_t)data };
    vm_send_msi(s->dev->dev.vm, &m, pci_requester_id(s->dev));
    return MEMTX_OK;
}

static const MemoryRegionOps msi_window_ops = {
    .write = msi_window_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

int pci_dma_init(PCIDevice *d)
{
    struct vm *vm = d->dev.vm;
    PCIDMAState *s = g_new0(PCIDMAState, 1);
    for (unsigned i = 0; i < DMA_CACHE_SIZE; i++)
        s->cache[i].key[0] = s->cache[i].key[1] = DMA_KEY_NONE;
    s->dev = d;
    d->dma = s;
    PCIBus *bus = d->bus;
    s->target = bus->iommu_fn ? bus->iommu_fn(bus->iommu_opaque, pci_requester_id(d))
                              : vm->sysmem;
    if (!s->target) {
        log_error("%s: the IOMMU gave no DMA region", d->dev.id);
        return -1;
    }
    memory_region_ref(s->target);
    char *name = g_strdup_printf("%s dma", d->dev.id);
    s->root = memory_region_new_container(name, UINT64_MAX);
    g_free(name);
    name = g_strdup_printf("%s bus-master", d->dev.id);
    s->bus_master_mr = memory_region_new_alias(name, s->target, 0, UINT64_MAX);
    g_free(name);
    memory_region_transaction_begin();
    memory_region_set_enabled(s->bus_master_mr, false);
    memory_region_add_subregion(s->root, 0, s->bus_master_mr);
    name = g_strdup_printf("%s msi", d->dev.id);
    s->msi_mr = memory_region_new_io(name, MSI_WINDOW_SIZE, &msi_window_ops, s);
    g_free(name);
    memory_region_set_enabled(s->msi_mr, false);
    memory_region_add_subregion_overlap(s->root, MSI_WINDOW, s->msi_mr, 1);
    name = g_strdup_printf("%s dma", d->dev.id);
    s->as = address_space_new(name, s->root);
    g_free(name);
    if (s->target->type == MR_IOMMU) {
        s->notifier.notify = iommu_unmapped;
        s->notifier.flags = IOMMU_NOTIFIER_UNMAP;
        s->notifier.start = 0;
        s->notifier.end = UINT64_MAX;
        memory_region_iommu_register_notifier(s->target, &s->notifier);
    }
    s->listener.commit = topology_changed;
    memory_listener_register(&s->listener, vm->as_mem);
    memory_region_transaction_commit();
    return 0;
}

static void dma_state_free(struct rcu_head *head)
{
    PCIDMAState *s = caa_container_of(head, PCIDMAState, rcu);
    g_free(s);
}

void pci_dma_uninit(PCIDevice *d)
{
    PCIDMAState *s = d->dma;
    if (!s)
        return;
    memory_region_transaction_begin();
    pci_dma_mappings_release(s);
    if (s->listener.as)
        memory_listener_unregister(&s->listener);
    memory_region_iommu_unregister_notifier(&s->notifier);
    address_space_free(s->as);
    if (s->root) {
        memory_region_del_subregion(s->root, s->bus_master_mr);
        memory_region_unref(s->bus_master_mr);
        memory_region_del_subregion(s->root, s->msi_mr);
        memory_region_unref(s->msi_mr);
        memory_region_unref(s->root);
    }
    if (s->target)
        memory_region_unref(s->target);
    memory_region_transaction_commit();
    d->dma = NULL;
    /* Readers on other threads may still look at the cache: free after them
     * (never synchronize here, the big lock may be held). */
    call_rcu(&s->rcu, dma_state_free);
}

void pci_dma_set_bus_master(PCIDevice *d, bool enabled)
{
    PCIDMAState *s = d->dma;
    if (!s)
        return;
    memory_region_transaction_begin();
    memory_region_set_enabled(s->bus_master_mr, enabled);
    memory_region_set_enabled(s->msi_mr, enabled);
    memory_region_transaction_commit();
    pci_dma_invalidate(s, 0, UINT64_MAX);
}

/* ---- translation ------------------------------------------------------------------------ */
/* The range holding `a` in `as` (RCU held): the view's last-found range checked
 * inline, the search out of line. */
static inline const FlatRange *range_at(AddressSpace *as, hwaddr a)
{
    const FlatView *fv = rcu_dereference(as->current);
    if (!fv)
        return NULL;
    unsigned i = __atomic_load_n(&fv->mru, __ATOMIC_RELAXED);
    if (i < fv->nr && a - fv->ranges[i].addr < fv->ranges[i].size)
        return &fv->ranges[i];
    return flatview_lookup(fv, a);
}

/* Where the page holding `iova` lands for an access needing `need`: RAM (the
 * host address of the page, and what it allows) or somewhere the generic path
 * must serve. An IOMMU refusal is final (and recorded once, here). RCU held. */
DMAPageResult pci_dma_translate_page(PCIDMAState *s, dma_addr_t iova, IOMMUAccessFlags need,
                                     uint8_t **host, IOMMUAccessFlags *perm)
{
    AddressSpace *as = s->as;
    hwaddr a = iova;
    IOMMUAccessFlags allowed = IOMMU_RW;
    for (unsigned depth = 0; depth < 4; depth++) {
        const FlatRange *fr = range_at(as, a);
        if (!fr)
            return DMA_PAGE_OTHER;
        MemoryRegion *mr = fr->mr;
        if (mr->type == MR_IOMMU) {
            IOMMUTLBEntry e = mr->iommu_ops->translate(mr, fr->offset_in_region + (a - fr->addr),
                                                       need, true);
            if (!(e.perm & need) || !e.target_as)
                return DMA_PAGE_FAULT;
            allowed &= e.perm;
            a = (e.translated_addr & ~e.addr_mask) | (a & e.addr_mask);
            as = e.target_as;
            continue;
        }
        hwaddr page = a & ~(hwaddr)(DMA_PAGE_SIZE - 1);
        if (mr->type != MR_RAM || !fr->host || page < fr->addr ||
            page + DMA_PAGE_SIZE - 1 > fr->addr + fr->size - 1)
            return DMA_PAGE_OTHER;
        if (fr->readonly)
            allowed &= IOMMU_RO;
        if (!(allowed & need))
            return DMA_PAGE_OTHER;   /* a write to ROM: the generic path drops it */
        *host = fr->host + (page - fr->addr);
        *perm = allowed;
        return DMA_PAGE_RAM;
    }
    return DMA_PAGE_OTHER;
}

/* Slow path of the cache: translate and remember. */
__attribute__((noinline)) uint8_t *pci_dma_fill(PCIDMAState *s, dma_addr_t iova,
                                                IOMMUAccessFlags need, MemTxResult *res)
{
    uint8_t *host = NULL;
    IOMMUAccessFlags perm = IOMMU_NONE;
    /* A bump seen here comes after the IOMMU's own flush (it notifies after),
     * so the translation sees that flush; one not seen yet is caught below. */
    uint64_t gen = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
    DMAPageResult r = pci_dma_translate_page(s, iova, need, &host, &perm);
    if (r == DMA_PAGE_FAULT) {
        *res = MEMTX_IOMMU_FAULT;
        return NULL;
    }
    *res = MEMTX_OK;
    if (r != DMA_PAGE_RAM)
        return NULL;
    uint64_t key = iova >> DMA_PAGE_SHIFT;
    DMACacheEntry *e = &s->cache[dma_cache_index(iova)];
    if (entry_try_begin(e)) {
        /* An invalidation since the translation began: use it this once, keep
         * nothing. One that cleared this entry before we took it is seen here
         * (its release of the entry is what we acquired); a later one waits for
         * us and clears what we store. */
        if (__atomic_load_n(&s->gen, __ATOMIC_RELAXED) == gen) {
            __atomic_store_n(&e->key[0], perm & IOMMU_RO ? key : DMA_KEY_NONE,
                             __ATOMIC_RELAXED);
            __atomic_store_n(&e->key[1], perm & IOMMU_WO ? key : DMA_KEY_NONE,
                             __ATOMIC_RELAXED);
            __atomic_store_n(&e->host, host, __ATOMIC_RELAXED);
        }
        entry_end(e);
    }
    return host + (iova & (DMA_PAGE_SIZE - 1));
}

/* The generic path: the device's DMA address space through dispatch, with the
 * device marked as the one doing DMA (its own registers refuse). */
MemTxResult pci_dma_slow(PCIDevice *d, dma_addr_t addr, void *buf, dma_addr_t len,
                         bool is_write)
{
    void *prev = memory_dma_owner_set(d);
    MemTxResult r = address_space_rw(d->dma->as, addr, buf, len, is_write);
    memory_dma_owner_set(prev);
    return r;
}

/* A long DMA write into guest RAM (never device memory: that goes through
 * dispatch), which vCPUs may read meanwhile: forward, and once the destination
 * is 16-byte aligned in aligned 16-byte vector stores, each of which writes two
 * aligned 8-byte units whole; x86 keeps stores in program order. Four times
 * fewer instructions than memory_copy_ordered's unit loop (a 4 KiB block read
 * was 13,900 instructions of virtio-blk's ~17,000 per request). */
static void ram_write_forward(uint8_t *p, const uint8_t *buf, size_t len)
{
#if defined(__x86_64__)
    typedef uint64_t v2u64 __attribute__((vector_size(16)));
    bool overlap = (uintptr_t)buf < (uintptr_t)p + len && (uintptr_t)p < (uintptr_t)buf + len;
    size_t head = (size_t)(-(uintptr_t)p & 15), pos;
    if (overlap || len < head + 64) {
        memory_copy_ordered(p, buf, len);
        return;
    }
    memory_copy_ordered(p, buf, head);
    for (pos = head; len - pos >= 64; pos += 64) {
        v2u64 a, b, c, d;
        memcpy(&a, buf + pos, 16);
        memcpy(&b, buf + pos + 16, 16);
        memcpy(&c, buf + pos + 32, 16);
        memcpy(&d, buf + pos + 48, 16);
        *(volatile v2u64 *)(p + pos) = a;
        *(volatile v2u64 *)(p + pos + 16) = b;
        *(volatile v2u64 *)(p + pos + 32) = c;
        *(volatile v2u64 *)(p + pos + 48) = d;
    }
    memory_copy_ordered(p + pos, buf + pos, len - pos);
#else
    memory_copy_ordered(p, buf, len);
#endif
}

/* Aligned 1/2/4/8-byte pieces are single-copy atomic (a vCPU may access the
 * same word); longer writes go forward without splitting aligned units. */
static void ram_copy(uint8_t *p, uint8_t *buf, dma_addr_t len, bool is_write)
{
    if (len <= 8 && !(len & (len - 1)) && !((uintptr_t)p & (len - 1))) {
        uint64_t v = 0;
        if (is_write) {
            memcpy(&v, buf, len);
            switch (len) {
            case 1: __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED); break;
            case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); break;
            case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); break;
            default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); break;
            }
        } else {
            switch (len) {
            case 1: v = __atomic_load_n(p, __ATOMIC_RELAXED); break;
            case 2: v = __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED); break;
            case 4: v = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED); break;
            default: v = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED); break;
            }
            memcpy(buf, &v, len);
        }
        return;
    }
    if (is_write)
        ram_write_forward(p, buf, len);
    else
        memcpy(buf, p, len);
}

MemTxResult pci_dma_rw(PCIDevice *d, dma_addr_t addr, void *buf, dma_addr_t len,
                       DMADirection dir)
{
    bool is_write = dir == DMA_DIRECTION_FROM_DEVICE;
    IOMMUAccessFlags need = is_write ? IOMMU_WO : IOMMU_RO;
    PCIDMAState *s = d->dma;
    uint8_t *b = buf;
    MemTxResult result = MEMTX_OK;
    rcu_read_lock();
    for (dma_addr_t done = 0; done < len;) {
        dma_addr_t a = addr + done;
        dma_addr_t chunk = DMA_PAGE_SIZE - (a & (DMA_PAGE_SIZE - 1));
        if (chunk > len - done)
            chunk = len - done;
        MemTxResult r = MEMTX_OK;
        uint8_t *p = dma_cache_lookup(s, a, is_write);
        if (!p)
            p = pci_dma_fill(s, a, need, &r);
        if (p) {
            ram_copy(p, b + done, chunk, is_write);
        } else if (r == MEMTX_OK) {
            r = pci_dma_slow(d, a, b + done, chunk, is_write);
        } else if (!is_write) {
            memset(b + done, 0xff, chunk);
        }
        if (r != MEMTX_OK && result == MEMTX_OK)
            result = r;
        done += chunk;
    }
    rcu_read_unlock();
    return result;
}

MemTxResult pci_dma_read(PCIDevice *d, dma_addr_t addr, void *buf, dma_addr_t len)
{
    return pci_dma_rw(d, addr, buf, len, DMA_DIRECTION_TO_DEVICE);
}

MemTxResult pci_dma_write(PCIDevice *d, dma_addr_t addr, const void *buf, dma_addr_t len)
{
    return pci_dma_rw(d, addr, (void *)buf, len, DMA_DIRECTION_FROM_DEVICE);
}
