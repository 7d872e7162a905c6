/* An assigned device's BARs, built as layers (vfio.h's picture): a container
 * per BAR; beneath, the slow path that forwards every access with its exact
 * width; above it, ram_device regions for the sparse mmap-able areas; the
 * emulated MSI-X table and PBA (pci/msi.c) above those. Flattening then cuts
 * the mapped areas around the MSI-X pages: page-aligned pieces become KVM
 * memslots, sub-page pieces trap and dispatch serves them with exact widths
 * (DESIGN §2 rule 4). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/vfio/vfio_internal.h"
#include "util/log.h"
#include "vmm/vm.h"

static uint64_t ones(unsigned size)
{
    return size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

static MemTxResult bar_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    VFIOBar *bar = opaque;
    VFIOPCIDevice *v = bar->dev;
    uint64_t val = 0;
    vfio_intx_eoi(v);
    /* A device that is gone reads as all-ones, like a surprise-removed one. */
    if (v->be->ops->region_read(v->be, bar->index, addr, &val, size)) {
        log_guest_error("%s: BAR %u read at 0x%llx (%u bytes) failed: all-ones",
                        v->pci.dev.id, bar->index, (unsigned long long)addr, size);
        val = ones(size);
    }
    *data = val & ones(size);
    return MEMTX_OK;
}

static MemTxResult bar_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    VFIOBar *bar = opaque;
    VFIOPCIDevice *v = bar->dev;
    vfio_intx_eoi(v);
    if (v->be->ops->region_write(v->be, bar->index, addr, &data, size))
        log_guest_error("%s: BAR %u write at 0x%llx (%u bytes) failed: dropped",
                        v->pci.dev.id, bar->index, (unsigned long long)addr, size);
    return MEMTX_OK;
}

/* The device decides what widths mean; we pass each one through unchanged. */
static const MemoryRegionOps bar_mem_ops = {
    .read = bar_read,
    .write = bar_write,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};
static const MemoryRegionOps bar_io_ops = {
    .read = bar_read,
    .write = bar_write,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* The mapping lives as long as the region: a flat view may still use it
 * after the BAR is gone, until its readers are done. */
static void unmap_area(MemoryRegion *mr)
{
    munmap(mr->host, mr->size);
}

static void map_areas(VFIOPCIDevice *v, VFIOBar *bar)
{
    for (unsigned a = 0; a < bar->info.nr_areas; a++) {
        const VFIOArea *area = &bar->info.areas[a];
        void *host = v->be->ops->region_mmap(v->be, bar->index, a);
        if (!host) {
            /* Still correct through the slow path, only slower. */
            log_warn("%s: cannot mmap BAR %u at 0x%llx: %s (trapped instead)", v->pci.dev.id,
                     bar->index, (unsigned long long)area->offset, strerror(errno));
            continue;
        }
        char *name = g_strdup_printf("%s bar%u mmap@0x%llx", v->pci.dev.id, bar->index,
                                     (unsigned long long)area->offset);
        bar->mmap_mr[a] = memory_region_new_ram_device(name, area->size, host);
        bar->mmap_mr[a]->owner = &v->pci;
        bar->mmap_mr[a]->on_finalize = unmap_area;
        g_free(name);
        memory_region_add_subregion_overlap(bar->container, area->offset, bar->mmap_mr[a], 0);
    }
}

int vfio_bars_init(VFIOPCIDevice *v, const uint8_t *raw)
{
    PCIDevice *d = &v->pci;
    for (unsigned i = 0; i < PCI_NUM_BARS && i < v->nr_regions; i++) {
        VFIOBar *bar = &v->bars[i];
        bar->dev = v;
        bar->index = i;
        if (v->be->ops->region_info(v->be, i, &bar->info)) {
            log_error("%s: cannot read BAR %u's region info", d->dev.id, i);
            return -1;
        }
        uint32_t reg = pci_get_long(raw + PCI_BASE_ADDRESS_0 + 4 * i);
        bool io = reg & PCI_BASE_ADDRESS_SPACE_IO;
        bool mem64 = !io && (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
        uint64_t size = bar->info.size;
        if (size) {
            if ((size & (size - 1)) || size < (io ? 4 : 16) || (io && size > 256) ||
                (mem64 && i == PCI_NUM_BARS - 1)) {
                log_error("%s: BAR %u has an impossible size 0x%llx", d->dev.id, i,
                          (unsigned long long)size);
                return -1;
            }
            char *name = g_strdup_printf("%s bar%u", d->dev.id, i);
            bar->container = memory_region_new_container(name, size);
            g_free(name);
            name = g_strdup_printf("%s bar%u io", d->dev.id, i);
            bar->io = memory_region_new_io(name, size, io ? &bar_io_ops : &bar_mem_ops, bar);
            g_free(name);
            bar->io->owner = bar->container->owner = d;
            memory_region_add_subregion_overlap(bar->container, 0, bar->io, -1);
            if (!io)
                map_areas(v, bar);
            if (pci_register_bar(d, i, io ? PCI_BAR_IO : mem64 ? PCI_BAR_MEM64 : PCI_BAR_MEM32,
                                 !io && (reg & PCI_BASE_ADDRESS_MEM_PREFETCH), bar->container))
                return -1;
        }
        if (mem64)
            i++;   /* the upper half is this BAR's */
    }
    return 0;
}

void vfio_bars_release(VFIOPCIDevice *v)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        VFIOBar *bar = &v->bars[i];
        for (unsigned a = 0; a < VFIO_MAX_AREAS; a++) {
            if (bar->mmap_mr[a]) {
                memory_region_del_subregion(bar->container, bar->mmap_mr[a]);
                memory_region_unref(bar->mmap_mr[a]);
            }
        }
        if (bar->io) {
            memory_region_del_subregion(bar->container, bar->io);
            memory_region_unref(bar->io);
        }
        if (bar->container)
            memory_region_unref(bar->container);
        memset(bar, 0, sizeof(*bar));
    }
}
