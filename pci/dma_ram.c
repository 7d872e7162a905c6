/* pci_dma_check_ram (pci/dma.h): whether a DMA range lands entirely in RAM the
 * IOMMU allows, without touching it. For models that must refuse buffers in
 * MMIO before using them (virtio: a descriptor pointing at a BAR). */
#include "pci/dma-internal.h"

MemTxResult pci_dma_check_ram(PCIDevice *d, dma_addr_t addr, dma_addr_t len, DMADirection dir)
{
    if (!d->dma)
        return MEMTX_DECODE_ERROR;
    if (len == 0)
        return MEMTX_OK;
    if (addr + len - 1 < addr)
        return MEMTX_DECODE_ERROR;
    IOMMUAccessFlags need = dir == DMA_DIRECTION_FROM_DEVICE ? IOMMU_WO : IOMMU_RO;
    dma_addr_t last = (addr + len - 1) & ~(DMA_PAGE_SIZE - 1);
    MemTxResult res = MEMTX_OK;
    rcu_read_lock();
    for (dma_addr_t page = addr & ~(DMA_PAGE_SIZE - 1);; page += DMA_PAGE_SIZE) {
        /* A cached page is RAM with that permission (the cache holds nothing
         * else); a miss translates and caches it for the access that follows
         * the check (a virtio buffer is checked, then copied). */
        MemTxResult r = MEMTX_OK;
        if (!dma_cache_lookup(d->dma, page, need == IOMMU_WO) &&
            !pci_dma_fill(d->dma, page, need, &r)) {
            res = r == MEMTX_IOMMU_FAULT ? r : MEMTX_ACCESS_ERROR;
            break;
        }
        if (page == last)
            break;
    }
    rcu_read_unlock();
    return res;
}
