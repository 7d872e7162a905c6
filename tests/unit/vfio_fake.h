/* A VFIO backend in memory for unit tests of the PCI model: a config space,
 * one BAR region backed by a buffer (its sparse areas mmap-able, the rest
 * logged access by access), interrupts and DMA mappings recorded. */
#ifndef MINIVMM_TEST_VFIO_FAKE_H
#define MINIVMM_TEST_VFIO_FAKE_H

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/vfio/vfio.h"

#define FAKE_MAX_LOG 64
#define FAKE_MAX_MAPS 64

typedef struct FakeVFIO {
    VFIOBackend be;
    uint8_t config[256];
    uint8_t config_written[256];        /* bytes the model forwarded */
    VFIORegionInfo bar0;
    uint8_t *bar0_mem;                  /* bar0.size bytes, mmap'd (page-aligned) */
    struct { uint64_t off; unsigned len; bool write; } log[FAKE_MAX_LOG];
    unsigned nr_log;
    struct { uint64_t iova, size; int fd; uint64_t fd_offset; bool writable; } maps[FAKE_MAX_MAPS];
    unsigned nr_maps, nr_map_calls, nr_unmap_calls;
    unsigned irq_index_set[4], irq_count_set[4], nr_unmask;
    bool destroyed;
} FakeVFIO;

static FakeVFIO *fake(VFIOBackend *b) { return (FakeVFIO *)b; }

static int fk_device_info(VFIOBackend *b, unsigned *r, unsigned *i)
{
    (void)b;
    *r = VFIO_PCI_NUM_REGIONS;
    *i = VFIO_PCI_NUM_IRQS;
    return 0;
}

static int fk_region_info(VFIOBackend *b, unsigned index, VFIORegionInfo *out)
{
    memset(out, 0, sizeof(*out));
    if (index == 0)
        *out = fake(b)->bar0;
    else if (index == VFIO_PCI_CONFIG_REGION_INDEX)
        out->size = 256;
    return 0;
}

static int fk_rw(VFIOBackend *b, unsigned index, uint64_t off, void *buf, unsigned len, bool w)
{
    FakeVFIO *f = fake(b);
    if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
        if (off + len > 256)
            return -EINVAL;
        if (w) {
            memcpy(f->config + off, buf, len);
            memset(f->config_written + off, 1, len);
        } else {
            memcpy(buf, f->config + off, len);
        }
        return 0;
    }
    if (index != 0 || off + len > f->bar0.size)
        return -EINVAL;
    if (f->nr_log < FAKE_MAX_LOG)
        f->log[f->nr_log++] = (typeof(f->log[0])){ off, len, w };
    if (w)
        memcpy(f->bar0_mem + off, buf, len);
    else
        memcpy(buf, f->bar0_mem + off, len);
    return 0;
}

static int fk_read(VFIOBackend *b, unsigned i, uint64_t off, void *buf, unsigned len)
{
    return fk_rw(b, i, off, buf, len, false);
}

static int fk_write(VFIOBackend *b, unsigned i, uint64_t off, const void *buf, unsigned len)
{
    return fk_rw(b, i, off, (void *)buf, len, true);
}

/* A second mapping of the same pages, as an mmap of a device fd would be. */
static void *fk_mmap(VFIOBackend *b, unsigned index, unsigned area)
{
    FakeVFIO *f = fake(b);
    if (index != 0 || area >= f->bar0.nr_areas)
        return NULL;
    return mremap(f->bar0_mem + f->bar0.areas[area].offset, 0, f->bar0.areas[area].size,
                  MREMAP_MAYMOVE);
}

static int fk_irq_info(VFIOBackend *b, unsigned index, uint32_t *count, uint32_t *flags)
{
    (void)b;
    *count = index == VFIO_PCI_MSIX_IRQ_INDEX ? 8 : 1;
    *flags = VFIO_IRQ_INFO_EVENTFD;
    return 0;
}

static int fk_irq_set(VFIOBackend *b, unsigned index, unsigned start, unsigned count,
                      const int *fds)
{
    (void)fds;
    if (index < 4) {
        fake(b)->irq_index_set[index]++;
        fake(b)->irq_count_set[index] = start + count;
    }
    return 0;
}

static int fk_irq_unmask(VFIOBackend *b, unsigned index)
{
    if (index == VFIO_PCI_INTX_IRQ_INDEX)
        fake(b)->nr_unmask++;
    return 0;
}

static int fk_dma_map(VFIOBackend *b, uint64_t iova, uint64_t size, void *host, int fd,
                      uint64_t fd_offset, bool writable)
{
    (void)host;
    FakeVFIO *f = fake(b);
    f->nr_map_calls++;
    if (f->nr_maps == FAKE_MAX_MAPS)
        return -ENOSPC;
    f->maps[f->nr_maps++] = (typeof(f->maps[0])){ iova, size, fd, fd_offset, writable };
    return 0;
}

static int fk_dma_unmap(VFIOBackend *b, uint64_t iova, uint64_t size)
{
    FakeVFIO *f = fake(b);
    f->nr_unmap_calls++;
    for (unsigned i = 0; i < f->nr_maps; i++)
        if (f->maps[i].iova == iova && f->maps[i].size == size) {
            f->maps[i] = f->maps[--f->nr_maps];
            return 0;
        }
    return -ENOENT;   /* the model must name whole mappings */
}

static int fk_reset(VFIOBackend *b)
{
    (void)b;
    return 0;
}

static void fk_destroy(VFIOBackend *b)
{
    fake(b)->destroyed = true;
}

static const VFIOBackendOps fake_vfio_ops = {
    .kind = "fake", .device_info = fk_device_info, .region_info = fk_region_info,
    .region_read = fk_read, .region_write = fk_write, .region_mmap = fk_mmap,
    .irq_info = fk_irq_info, .irq_set = fk_irq_set, .irq_unmask = fk_irq_unmask,
    .dma_map = fk_dma_map, .dma_unmap = fk_dma_unmap, .reset = fk_reset,
    .destroy = fk_destroy,
};

/* 1af4:0001-like header, BAR0 64-bit prefetchable memory of `size` with
 * the given sparse areas, MSI at 0x50 (64-bit, 4 vectors, masks) and MSI-X
 * (8 vectors, table at BAR0+table_off, PBA at BAR0+pba_off) at 0x70. */
static inline void fake_vfio_init(FakeVFIO *f, uint64_t size, const VFIOArea *areas,
                                  unsigned nr_areas, uint32_t table_off, uint32_t pba_off)
{
    memset(f, 0, sizeof(*f));
    f->be.ops = &fake_vfio_ops;
    f->be.name = (char *)"fake";
    uint8_t *c = f->config;
    c[0] = 0xf4, c[1] = 0x1a, c[2] = 0x34, c[3] = 0x12;
    c[6] = 0x10;                              /* capability list */
    c[8] = 2, c[11] = 0x02;                   /* class 02 (network), rev 2 */
    c[0x10] = 0x0c;                           /* 64-bit prefetchable */
    c[0x34] = 0x50;
    c[0x3d] = 1;
    c[0x50] = PCI_CAP_ID_MSI, c[0x51] = 0x70;
    c[0x52] = (2 << 1) | 0x80, c[0x53] = 0x01; /* 4 vectors, 64-bit, maskable */
    c[0x70] = PCI_CAP_ID_MSIX, c[0x71] = 0x90;
    c[0x72] = 7;
    memcpy(c + 0x74, &table_off, 4);
    memcpy(c + 0x78, &pba_off, 4);
    c[0x90] = PCI_CAP_ID_PM, c[0x91] = 0, c[0x92] = 0x03;
    f->bar0.size = size;
    f->bar0.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                    (nr_areas ? VFIO_REGION_INFO_FLAG_MMAP : 0);
    f->bar0.nr_areas = nr_areas;
    memcpy(f->bar0.areas, areas, nr_areas * sizeof(*areas));
    f->bar0_mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}

#endif
