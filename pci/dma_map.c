/* Long-lived DMA mappings (pci_dma_map / pci_dma_unmap): guest RAM handed out
 * as a host pointer, or a bounce buffer when the target is not RAM; each is
 * invalidated through its callback when the IOMMU or the memory topology makes
 * it stale. Big lock held throughout. */
#include <glib.h>
#include <string.h>
#include "util/rcu.h"

#include "pci/dma-internal.h"
#include "util/log.h"

/* A bounce buffer covers at most this much; the user maps the rest next. */
#define DMA_BOUNCE_MAX 0x10000ull

struct PCIDMAMapping {
    PCIDMAMapping *next;
    uint8_t *host;
    dma_addr_t iova, len;
    DMADirection dir;
    bool bounce, stale;
    PCIDMAInvalidateFn *invalidate;
    void *opaque;
};

/* How many bytes from `addr` are RAM mapped contiguously in the host, at most
 * `len`; *host the first byte's address. 0: the first page is not RAM. */
static dma_addr_t map_ram(PCIDMAState *s, dma_addr_t addr, dma_addr_t len,
                          IOMMUAccessFlags need, uint8_t **host, MemTxResult *res)
{
    dma_addr_t done = 0;
    uint8_t *first = NULL;
    *res = MEMTX_OK;
    rcu_read_lock();
    while (done < len) {
        dma_addr_t a = addr + done;
        uint8_t *page;
        IOMMUAccessFlags perm;
        DMAPageResult r = pci_dma_translate_page(s, a, need, &page, &perm);
        if (r == DMA_PAGE_FAULT && done == 0)
            *res = MEMTX_IOMMU_FAULT;
        if (r != DMA_PAGE_RAM)
            break;
        uint8_t *p = page + (a & (DMA_PAGE_SIZE - 1));
        if (done == 0)
            first = p;
        else if (p != first + done)
            break;
        dma_addr_t chunk = DMA_PAGE_SIZE - (a & (DMA_PAGE_SIZE - 1));
        done += chunk < len - done ? chunk : len - done;
    }
    rcu_read_unlock();
    *host = first;
    return done;
}

void *pci_dma_map(PCIDevice *d, dma_addr_t addr, dma_addr_t len, DMADirection dir,
                  dma_addr_t *mapped_len, PCIDMAInvalidateFn *invalidate, void *opaque,
                  MemTxResult *res)
{
    PCIDMAState *s = d->dma;
    MemTxResult r = MEMTX_OK;
    *mapped_len = 0;
    if (!len || addr + len - 1 < addr) {
        if (res)
            *res = MEMTX_DECODE_ERROR;
        return NULL;
    }
    IOMMUAccessFlags need = dir == DMA_DIRECTION_FROM_DEVICE ? IOMMU_WO : IOMMU_RO;
    PCIDMAMapping *m = g_new0(PCIDMAMapping, 1);
    m->len = map_ram(s, addr, len, need, &m->host, &r);
    if (!m->len && r == MEMTX_OK) {
        /* Not RAM (MMIO, a hole, a ROM written to): a bounce buffer. */
        m->bounce = true;
        m->len = len < DMA_BOUNCE_MAX ? len : DMA_BOUNCE_MAX;
        m->host = g_malloc0(m->len);
        if (dir == DMA_DIRECTION_TO_DEVICE)
            r = pci_dma_read(d, addr, m->host, m->len);
    }
    if (res)
        *res = r;
    if (!m->len || r != MEMTX_OK) {
        if (m->bounce)
            g_free(m->host);
        g_free(m);
        return NULL;
    }
    m->iova = addr;
    m->dir = dir;
    m->invalidate = invalidate;
    m->opaque = opaque;
    m->next = s->mappings;
    s->mappings = m;
    *mapped_len = m->len;
    return m->host;
}

MemTxResult pci_dma_unmap(PCIDevice *d, void *host, DMADirection dir, dma_addr_t access_len)
{
    PCIDMAState *s = d->dma;
    for (PCIDMAMapping **p = &s->mappings; *p; p = &(*p)->next) {
        PCIDMAMapping *m = *p;
        if (m->host != host)
            continue;
        *p = m->next;
        MemTxResult r = MEMTX_OK;
        if (m->bounce) {
            if (dir == DMA_DIRECTION_FROM_DEVICE && !m->stale)
                r = pci_dma_write(d, m->iova, m->host,
                                  access_len < m->len ? access_len : m->len);
            g_free(m->host);
        }
        g_free(m);
        return r;
    }
    log_error("%s: unmap of a pointer that is not mapped", d->dev.id);
    return MEMTX_ACCESS_ERROR;
}

void pci_dma_mappings_invalidate(PCIDMAState *s, hwaddr first, hwaddr last)
{
    /* A callback may unmap (changing the list): start over after each. */
    bool again = true;
    while (again) {
        again = false;
        for (PCIDMAMapping *m = s->mappings; m; m = m->next) {
            if (m->stale || m->iova > last || m->iova + m->len - 1 < first)
                continue;
            m->stale = true;
            if (m->invalidate) {
                m->invalidate(m->opaque);
                again = true;
                break;
            }
        }
    }
}

void pci_dma_mappings_release(PCIDMAState *s)
{
    pci_dma_mappings_invalidate(s, 0, UINT64_MAX);
    while (s->mappings) {
        PCIDMAMapping *m = s->mappings;
        s->mappings = m->next;
        if (m->bounce)
            g_free(m->host);
        g_free(m);
    }
}
