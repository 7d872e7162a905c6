/* What the assigned device may reach by DMA.
 *
 * Without a vIOMMU the device sees guest-physical addresses: every RAM
 * section of system memory is mapped at its guest address, following memory
 * listener events (a RAM region that goes away is unmapped first).
 *
 * Behind the VT-d model (caching mode: the guest invalidates after creating
 * mappings too) the device sees IOVAs: MAP notifications map exactly the page
 * the guest mapped, UNMAP notifications drop every mapping they cover. The
 * device never reaches anything the guest did not map for it.
 *
 * `maps` records what the backend holds, so unmaps name whole mappings (the
 * kernel's type1 IOMMU refuses to split one) and nothing leaks at teardown. */
#include <errno.h>
#include <string.h>

#include "util/rcu.h"

#include "devices/vfio/vfio_internal.h"
#include "pci/dma.h"
#include "util/log.h"
#include "vmm/vm.h"

#define PAGE 4096ull

static VFIODMAMap *map_at(VFIOPCIDevice *v, unsigned i)
{
    return &g_array_index(v->maps, VFIODMAMap, i);
}

void vfio_dma_unmap_range(VFIOPCIDevice *v, uint64_t iova, uint64_t size)
{
    /* size 0: to the end of the address space (a global flush, teardown) */
    uint64_t last = size ? iova + (size - 1) : UINT64_MAX;
    if (last < iova)
        last = UINT64_MAX;
    for (unsigned i = 0; i < v->maps->len;) {
        VFIODMAMap *m = map_at(v, i);
        if (m->iova > last || m->iova + (m->size - 1) < iova) {
            i++;
            continue;
        }
        int r = v->be->ops->dma_unmap(v->be, m->iova, m->size);
        if (r && r != -EIO)
            log_warn("%s: DMA unmap 0x%llx+0x%llx: %s", v->pci.dev.id,
                     (unsigned long long)m->iova, (unsigned long long)m->size, strerror(-r));
        g_array_remove_index(v->maps, i);
    }
}

int vfio_dma_map_range(VFIOPCIDevice *v, uint64_t iova, uint64_t size, void *host, int fd,
                       uint64_t fd_offset, bool writable)
{
    if (!size || (iova | size) & (PAGE - 1) || iova + (size - 1) < iova)
        return -EINVAL;
    /* A new mapping replaces whatever was there (the guest remapped an IOVA). */
    vfio_dma_unmap_range(v, iova, size);
    int r = v->be->ops->dma_map(v->be, iova, size, host, fd, fd_offset, writable);
    if (r) {
        if (v->dma_errors++ < 8)
            log_warn("%s: DMA map 0x%llx+0x%llx: %s", v->pci.dev.id,
                     (unsigned long long)iova, (unsigned long long)size, strerror(-r));
        return r;
    }
    unsigned i = 0;
    while (i < v->maps->len && map_at(v, i)->iova < iova)
        i++;
    VFIODMAMap m = { iova, size };
    g_array_insert_val(v->maps, i, m);
    return 0;
}

/* ---- without a vIOMMU: system memory's RAM ----------------------------------------- */
static bool ram_section(const MemoryRegionSection *s, uint64_t *iova, uint64_t *size,
                        uint64_t *skip)
{
    if (s->mr->type != MR_RAM || !s->host || !s->ram)
        return false;
    uint64_t start = (s->offset_within_address_space + PAGE - 1) & ~(PAGE - 1);
    uint64_t end = (s->offset_within_address_space + s->size) & ~(PAGE - 1);
    if (end <= start)
        return false;
    *iova = start;
    *size = end - start;
    *skip = start - s->offset_within_address_space;
    return true;
}

static void region_add(MemoryListener *l, const MemoryRegionSection *s)
{
    VFIOPCIDevice *v = (VFIOPCIDevice *)((char *)l - offsetof(VFIOPCIDevice, listener));
    uint64_t iova, size, skip;
    if (!ram_section(s, &iova, &size, &skip))
        return;
    uint8_t *host = s->host + skip;
    vfio_dma_map_range(v, iova, size, host, s->ram->fd,
                       s->ram->fd_offset + (uint64_t)(host - s->ram->host), !s->readonly);
}

static void region_del(MemoryListener *l, const MemoryRegionSection *s)
{
    VFIOPCIDevice *v = (VFIOPCIDevice *)((char *)l - offsetof(VFIOPCIDevice, listener));
    uint64_t iova, size, skip;
    if (ram_section(s, &iova, &size, &skip))
        vfio_dma_unmap_range(v, iova, size);
}

/* ---- behind the vIOMMU ------------------------------------------------------------------ */
static void iommu_notify(IOMMUNotifier *n, IOMMUNotifierFlag event, const IOMMUTLBEntry *e)
{
    VFIOPCIDevice *v = (VFIOPCIDevice *)((char *)n - offsetof(VFIOPCIDevice, iommu_notifier));
    uint64_t size = e->addr_mask + 1;
    if (event == IOMMU_NOTIFIER_UNMAP || e->perm == IOMMU_NONE) {
        vfio_dma_unmap_range(v, e->iova, size);   /* mask UINT64_MAX: size 0, all */
        return;
    }
    /* Where the guest pointed the page: only RAM can be handed to the device. */
    rcu_read_lock();
    FlatView *fv = address_space_get_flatview(e->target_as);
    const FlatRange *fr = fv ? flatview_lookup(fv, e->translated_addr) : NULL;
    bool ok = fr && fr->mr->type == MR_RAM && fr->host && fr->ram &&
              e->translated_addr - fr->addr <= fr->size - size && size <= fr->size;
    if (ok) {
        uint8_t *host = fr->host + (e->translated_addr - fr->addr);
        vfio_dma_map_range(v, e->iova, size, host, fr->ram->fd,
                           fr->ram->fd_offset + (uint64_t)(host - fr->ram->host),
                           e->perm & IOMMU_WO);
    }
    rcu_read_unlock();
    if (!ok)
        log_guest_error("%s: IOMMU mapped IOVA 0x%llx to 0x%llx, which is not RAM: not mapped",
                        v->pci.dev.id, (unsigned long long)e->iova,
                        (unsigned long long)e->translated_addr);
}

/* The device's IOMMU region: below its DMA space's bus-master alias. */
static MemoryRegion *find_iommu(MemoryRegion *mr, unsigned depth)
{
    if (!mr || depth > 8)
        return NULL;
    if (mr->type == MR_IOMMU)
        return mr;
    if (mr->type == MR_ALIAS)
        return find_iommu(mr->alias, depth + 1);
    for (unsigned i = 0; mr->type == MR_CONTAINER && i < mr->nr_subregions; i++) {
        MemoryRegion *r = find_iommu(mr->subregions[i], depth + 1);
        if (r)
            return r;
    }
    return NULL;
}

int vfio_dma_init(VFIOPCIDevice *v)
{
    v->maps = g_array_new(false, false, sizeof(VFIODMAMap));
    AddressSpace *as = pci_dma_address_space(&v->pci);
    bool took = !memory_bql_locked();
    if (took)
        memory_bql_lock();
    v->iommu_mr = as ? find_iommu(as->root, 0) : NULL;
    if (v->iommu_mr) {
        v->iommu_notifier = (IOMMUNotifier){ .notify = iommu_notify,
                                             .flags = IOMMU_NOTIFIER_MAP | IOMMU_NOTIFIER_UNMAP,
                                             .start = 0, .end = UINT64_MAX };
        memory_region_iommu_register_notifier(v->iommu_mr, &v->iommu_notifier);
        memory_region_iommu_replay(v->iommu_mr, &v->iommu_notifier);
    } else {
        v->listener = (MemoryListener){ .region_add = region_add, .region_del = region_del };
        memory_listener_register(&v->listener, v->pci.dev.vm->as_mem);
        v->listening = true;
    }
    if (took)
        memory_bql_unlock();
    return 0;
}

void vfio_dma_release(VFIOPCIDevice *v)
{
    if (!v->maps)
        return;
    bool took = !memory_bql_locked();
    if (took)
        memory_bql_lock();
    if (v->listening)
        memory_listener_unregister(&v->listener);
    if (v->iommu_mr)
        memory_region_iommu_unregister_notifier(&v->iommu_notifier);
    v->listening = false;
    v->iommu_mr = NULL;
    vfio_dma_unmap_range(v, 0, 0);
    if (took)
        memory_bql_unlock();
    g_array_free(v->maps, true);
    v->maps = NULL;
}
