/* Private to the DMA layer's files: the per-function state and the translation
 * cache's inline read side. */
#ifndef MINIVMM_PCI_DMA_INTERNAL_H
#define MINIVMM_PCI_DMA_INTERNAL_H

#include <pthread.h>
#include <urcu-bp.h>

#include "iommu/iommu.h"
#include "pci/dma.h"

#define DMA_PAGE_SHIFT 12
#define DMA_PAGE_SIZE  (1ull << DMA_PAGE_SHIFT)
#define DMA_CACHE_SIZE 16     /* direct-mapped by IOVA page */

/* One IOVA page known to be RAM: valid while gen equals the state's gen. Read
 * under a seqcount (seq odd while a writer changes it). */
typedef struct DMACacheEntry {
    unsigned seq;
    uint64_t page;            /* iova >> DMA_PAGE_SHIFT */
    uint8_t *host;            /* host address of the page */
    uint64_t gen;
    IOMMUAccessFlags perm;
} DMACacheEntry;

typedef struct PCIDMAMapping PCIDMAMapping;

struct PCIDMAState {
    PCIDevice *dev;
    MemoryRegion *root, *bus_master_mr, *target;
    AddressSpace *as;
    uint64_t gen;             /* bumped by every invalidation (atomic) */
    DMACacheEntry cache[DMA_CACHE_SIZE];
    pthread_mutex_t fill_lock;
    IOMMUNotifier notifier;
    MemoryListener listener;
    PCIDMAMapping *mappings;  /* big lock */
    struct rcu_head rcu;
};

typedef enum DMAPageResult { DMA_PAGE_RAM, DMA_PAGE_OTHER, DMA_PAGE_FAULT } DMAPageResult;

static inline unsigned dma_cache_index(uint64_t iova)
{
    return (unsigned)(iova >> DMA_PAGE_SHIFT) & (DMA_CACHE_SIZE - 1);
}

/* Host address of `iova` when its page is cached for `need`, else NULL. RCU read
 * lock held: a generation check passed inside it keeps the RAM alive. */
static inline uint8_t *dma_cache_lookup(PCIDMAState *s, uint64_t iova, IOMMUAccessFlags need)
{
    DMACacheEntry *e = &s->cache[dma_cache_index(iova)];
    unsigned seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    uint64_t page = e->page, gen = e->gen;
    uint8_t *host = e->host;
    IOMMUAccessFlags perm = e->perm;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != seq || (seq & 1) ||
        page != iova >> DMA_PAGE_SHIFT || gen != __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) ||
        !(perm & need) || !host)
        return NULL;
    return host + (iova & (DMA_PAGE_SIZE - 1));
}

DMAPageResult pci_dma_translate_page(PCIDMAState *s, dma_addr_t iova, IOMMUAccessFlags need,
                                     uint8_t **host, IOMMUAccessFlags *perm);
uint8_t *pci_dma_fill(PCIDMAState *s, dma_addr_t iova, IOMMUAccessFlags need,
                      MemTxResult *res);
MemTxResult pci_dma_slow(PCIDevice *d, dma_addr_t addr, void *buf, dma_addr_t len,
                         bool is_write);
void pci_dma_invalidate(PCIDMAState *s, hwaddr first, hwaddr last);

/* dma_map.c (big lock held) */
void pci_dma_mappings_invalidate(PCIDMAState *s, hwaddr first, hwaddr last);
void pci_dma_mappings_release(PCIDMAState *s);

#endif
