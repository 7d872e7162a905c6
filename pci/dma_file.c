/* pci_dma_file_rw (pci/dma.h): block I/O between an image and guest RAM with
 * one preadv/pwritev on the guest's pages. The bounce-buffer copy it replaces
 * was a quarter of virtio-blk's instructions per 4 KiB read (about 1,000 of
 * 3,800), on top of the kernel's own copy into the bounce buffer. */
#include <errno.h>
#include <sys/uio.h>

#include "pci/dma-internal.h"

#define FILE_IOV_MAX   64
/* One system call moves at most this much (Linux stops a read or write at
 * 2 GiB - 4 KiB; a smaller batch keeps each RCU read-side section short). */
#define FILE_BATCH_MAX (1u << 20)

/* One preadv/pwritev of the batch; 0, or -1 with errno. */
static int file_io(int fd, int64_t pos, const struct iovec *iov, unsigned n, uint64_t bytes,
                   bool to_guest)
{
    ssize_t r = to_guest ? preadv(fd, iov, (int)n, (off_t)pos)
                         : pwritev(fd, iov, (int)n, (off_t)pos);
    if (r == (ssize_t)bytes)
        return 0;
    if (r >= 0)
        errno = EIO;   /* short: the file shrank under us, or the disk is full */
    return -1;
}

int64_t pci_dma_file_rw(PCIDevice *d, int fd, int64_t pos, const PCIDMASeg *segs, unsigned n,
                        uint64_t off, uint64_t len, DMADirection dir, MemTxResult *res)
{
    bool to_guest = dir == DMA_DIRECTION_FROM_DEVICE;
    IOMMUAccessFlags need = to_guest ? IOMMU_WO : IOMMU_RO;
    PCIDMAState *s = d->dma;
    struct iovec iov[FILE_IOV_MAX];
    unsigned niov = 0;
    uint64_t done = 0, batch = 0;
    bool stop = false;
    *res = MEMTX_OK;
    rcu_read_lock();
    for (unsigned k = 0; k < n && !stop && done + batch < len; k++) {
        if (off >= segs[k].len) {
            off -= segs[k].len;
            continue;
        }
        dma_addr_t a = segs[k].addr + off;
        uint64_t left = segs[k].len - off;
        off = 0;
        if (left > len - done - batch)
            left = len - done - batch;
        while (left) {
            uint64_t chunk = DMA_PAGE_SIZE - (a & (DMA_PAGE_SIZE - 1));
            if (chunk > left)
                chunk = left;
            uint8_t *p = dma_cache_lookup(s, a, to_guest);
            if (!p && !(p = pci_dma_fill(s, a, need, res))) {
                stop = true;   /* not RAM, or refused: end the batch here */
                break;
            }
            struct iovec *last = niov ? &iov[niov - 1] : NULL;
            if (last && (uint8_t *)last->iov_base + last->iov_len == p &&
                batch < FILE_BATCH_MAX) {
                last->iov_len += chunk;
            } else {
                if (niov == FILE_IOV_MAX || batch >= FILE_BATCH_MAX) {
                    if (file_io(fd, pos + (int64_t)done, iov, niov, batch, to_guest) < 0)
                        goto fail;
                    done += batch;
                    batch = niov = 0;
                }
                iov[niov++] = (struct iovec){ .iov_base = p, .iov_len = chunk };
            }
            batch += chunk;
            a += chunk;
            left -= chunk;
        }
    }
    if (niov && file_io(fd, pos + (int64_t)done, iov, niov, batch, to_guest) < 0)
        goto fail;
    rcu_read_unlock();
    return (int64_t)(done + batch);
fail:
    rcu_read_unlock();
    return -1;
}
