/* Single values through the DMA layer, in the byte order of their name. An
 * aligned value in a RAM page is one atomic host access: from the cache, or
 * after filling it here on a miss (an IOMMU refusal ends there, recorded
 * once); everything else (unaligned, MMIO) goes through pci_dma_rw. */
#include <string.h>
#include "util/rcu.h"

#include "pci/dma-internal.h"

static inline uint64_t load_atomic(const uint8_t *p, unsigned w)
{
    switch (w) {
    case 1:
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    case 2:
        return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
    case 4:
        return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
    default:
        return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
    }
}

static inline void store_atomic(uint8_t *p, uint64_t v, unsigned w)
{
    switch (w) {
    case 1:
        __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED);
        return;
    case 2:
        __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED);
        return;
    case 4:
        __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED);
        return;
    default:
        __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
        return;
    }
}

/* Memory-order bytes of a little-endian host value <-> the value in `be` order. */
static inline uint64_t swap_if(uint64_t v, unsigned w, bool be)
{
    return be && w > 1 ? __builtin_bswap64(v) >> (64 - 8 * w) : v;
}

/* An aligned value whose page the cache lacks (called inside the caller's RCU
 * read-side section, which it ends): fill the cache and access the value
 * atomically, or the generic path for what is not RAM. Out of line, so the hit
 * path stays short. */
static __attribute__((noinline, cold)) MemTxResult load_miss(PCIDevice *d, dma_addr_t addr,
                                                             unsigned w, bool be, uint64_t *val)
{
    MemTxResult r = MEMTX_OK;
    uint8_t *p = pci_dma_fill(d->dma, addr, IOMMU_RO, &r);
    if (p)
        *val = swap_if(load_atomic(p, w), w, be);
    rcu_read_unlock();
    if (p || r != MEMTX_OK) {
        if (!p)               /* refused (and recorded once): all-ones, as a read gives */
            *val = w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
        return r;
    }
    uint8_t b[8] = { 0 };
    r = pci_dma_read(d, addr, b, w);
    uint64_t v = 0;
    memcpy(&v, b, w);
    *val = swap_if(v, w, be);
    return r;
}

static __attribute__((noinline, cold)) MemTxResult store_miss(PCIDevice *d, dma_addr_t addr,
                                                              unsigned w, uint64_t v)
{
    MemTxResult r = MEMTX_OK;
    uint8_t *p = pci_dma_fill(d->dma, addr, IOMMU_WO, &r);
    if (p)
        store_atomic(p, v, w);
    rcu_read_unlock();
    if (p || r != MEMTX_OK)
        return r;
    uint8_t b[8];
    memcpy(b, &v, w);
    return pci_dma_write(d, addr, b, w);
}

static inline __attribute__((always_inline)) MemTxResult dma_load(PCIDevice *d, dma_addr_t addr, unsigned w, bool be,
                                   uint64_t *val)
{
    if (!(addr & (w - 1))) {
        rcu_read_lock();
        uint8_t *p = dma_cache_lookup(d->dma, addr, false);
        if (__builtin_expect(p != NULL, 1)) {
            *val = swap_if(load_atomic(p, w), w, be);
            rcu_read_unlock();
            return MEMTX_OK;
        }
        return load_miss(d, addr, w, be, val);
    }
    uint8_t b[8] = { 0 };
    MemTxResult r = pci_dma_read(d, addr, b, w);
    uint64_t v = 0;
    memcpy(&v, b, w);
    *val = swap_if(v, w, be);
    return r;
}

static inline __attribute__((always_inline)) MemTxResult dma_store(PCIDevice *d, dma_addr_t addr, unsigned w, bool be,
                                    uint64_t val)
{
    uint64_t v = swap_if(val, w, be);
    if (!(addr & (w - 1))) {
        rcu_read_lock();
        uint8_t *p = dma_cache_lookup(d->dma, addr, true);
        if (__builtin_expect(p != NULL, 1)) {
            store_atomic(p, v, w);
            rcu_read_unlock();
            return MEMTX_OK;
        }
        return store_miss(d, addr, w, v);
    }
    uint8_t b[8];
    memcpy(b, &v, w);
    return pci_dma_write(d, addr, b, w);
}

#define DEFINE_LD(name, type, w, be)                                           \
    MemTxResult name(PCIDevice *d, dma_addr_t addr, type *val)                 \
    {                                                                          \
        uint64_t v;                                                            \
        MemTxResult r = dma_load(d, addr, w, be, &v);                          \
        *val = (type)v;                                                        \
        return r;                                                              \
    }
#define DEFINE_ST(name, type, w, be)                                           \
    MemTxResult name(PCIDevice *d, dma_addr_t addr, type val)                  \
    {                                                                          \
        return dma_store(d, addr, w, be, val);                                 \
    }

DEFINE_LD(ldub_pci_dma, uint8_t, 1, false)
DEFINE_LD(lduw_le_pci_dma, uint16_t, 2, false)
DEFINE_LD(lduw_be_pci_dma, uint16_t, 2, true)
DEFINE_LD(ldl_le_pci_dma, uint32_t, 4, false)
DEFINE_LD(ldl_be_pci_dma, uint32_t, 4, true)
DEFINE_LD(ldq_le_pci_dma, uint64_t, 8, false)
DEFINE_LD(ldq_be_pci_dma, uint64_t, 8, true)
DEFINE_ST(stb_pci_dma, uint8_t, 1, false)
DEFINE_ST(stw_le_pci_dma, uint16_t, 2, false)
DEFINE_ST(stw_be_pci_dma, uint16_t, 2, true)
DEFINE_ST(stl_le_pci_dma, uint32_t, 4, false)
DEFINE_ST(stl_be_pci_dma, uint32_t, 4, true)
DEFINE_ST(stq_le_pci_dma, uint64_t, 8, false)
DEFINE_ST(stq_be_pci_dma, uint64_t, 8, true)
