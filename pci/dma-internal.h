/* Private to the DMA layer's files: the per-function state and the translation
 * cache's inline read side. */
#ifndef MINIVMM_PCI_DMA_INTERNAL_H
#define MINIVMM_PCI_DMA_INTERNAL_H

#include "util/rcu.h"

#include "iommu/iommu.h"
#include "pci/dma.h"

#define DMA_PAGE_SHIFT 12
#define DMA_PAGE_SIZE  (1ull << DMA_PAGE_SHIFT)
#define DMA_CACHE_SIZE 16     /* direct-mapped by IOVA page */

/* One IOVA page known to be RAM. key[0] / key[1]: the page number
 * (iova >> DMA_PAGE_SHIFT) when reads / writes are allowed, else DMA_KEY_NONE
 * (never a page number: IOVAs have 64 bits). Read under a seqcount (seq odd while a writer
 * changes the entry); a writer makes it odd with a compare-and-swap, which also
 * keeps other writers out. Invalidation bumps gen, then clears every entry
 * (waiting for a writer that holds one), and a fill whose translation began
 * before the bump is dropped, so readers need not look at gen. */
#define DMA_KEY_NONE UINT64_MAX
typedef struct DMACacheEntry {
    unsigned seq;
    uint64_t key[2];
    uint8_t *host;            /* host address of the page */
} DMACacheEntry;

typedef struct PCIDMAMapping PCIDMAMapping;

struct PCIDMAState {
    PCIDevice *dev;
    MemoryRegion *root, *bus_master_mr, *target;
    MemoryRegion *msi_mr;     /* the interrupt window 0xFEExxxxx: writes are MSIs */
    AddressSpace *as;
    uint64_t gen;             /* bumped by every invalidation, atomically */
    DMACacheEntry cache[DMA_CACHE_SIZE];
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

/* Host address of `iova` when its page is cached for writes (`write`) or reads,
 * else NULL. RCU read lock held: it keeps the RAM alive. */
static inline __attribute__((always_inline)) uint8_t *
dma_cache_lookup(PCIDMAState *s, uint64_t iova, bool write)
{
    DMACacheEntry *e = &s->cache[dma_cache_index(iova)];
    unsigned seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    uint64_t key = __atomic_load_n(&e->key[write], __ATOMIC_RELAXED);
    uint8_t *host = __atomic_load_n(&e->host, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    unsigned seq2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
    if (__builtin_expect((key ^ (iova >> DMA_PAGE_SHIFT)) | (seq ^ seq2) | (seq & 1), 0))
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
