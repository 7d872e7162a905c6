/* Split virtqueues (virtio 1.2 §2.7) walked through the DMA layer.
 *
 * Every ring index, flags word and event index is one aligned 16-bit access
 * through lduw/stw_le_pci_dma, which is a single-copy-atomic host access on
 * RAM; the ordering the spec asks for comes from explicit fences around them.
 * We use these accessors rather than a pci_dma_map of the ring because they
 * run on the I/O thread without the big lock (map/unmap need it) and look the
 * translation up in the DMA layer's cache on every access: once the guest
 * unmaps a ring in the IOMMU the cache generation moves, the next access
 * translates again and faults, so the device can never write through a stale
 * pointer.
 *
 * Descriptors and buffers are checked before use (ranges, RAM, direction
 * order, chain length, indirect nesting); anything malformed breaks the queue
 * and the transport reports NEEDS_RESET. */
#include <string.h>

#include "util/bytes.h"
#include "virtio/virtio.h"

#define SPLIT_DESC_SIZE 16

int virtqueue_fail(VirtQueue *vq, const char *why)
{
    vq->broken = true;
    vq->error = why;
    return -1;
}

void virtqueue_init(VirtQueue *vq, PCIDevice *dma, const char *name, uint16_t size,
                    bool packed, bool event_idx, bool indirect, dma_addr_t desc,
                    dma_addr_t avail, dma_addr_t used)
{
    memset(vq, 0, sizeof(*vq));
    vq->dma = dma;
    vq->name = name;
    vq->size = size;
    vq->packed = packed;
    vq->event_idx = event_idx;
    vq->indirect = indirect;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    vq->avail_wrap = vq->used_wrap = true;   /* packed: both counters start at 1 */
}

void virtqueue_elem_clear(VirtQueueElement *e)
{
    e->nr_out = e->nr_in = 0;
    e->out_len = e->in_len = 0;
    e->ndescs = 1;
}

int virtqueue_add_seg(VirtQueue *vq, VirtQueueElement *e, uint64_t addr, uint32_t len,
                      bool write)
{
    if (len && addr + len - 1 < addr)
        return virtqueue_fail(vq, "buffer wraps around the address space");
    if (!write && e->nr_in)
        return virtqueue_fail(vq, "device-readable buffer after a device-writable one");
    if (e->nr_out + e->nr_in >= VIRTQ_MAX_CHAIN)
        return virtqueue_fail(vq, "more descriptors in a chain than the device takes");
    if (pci_dma_check_ram(vq->dma, addr, len,
                          write ? DMA_DIRECTION_FROM_DEVICE : DMA_DIRECTION_TO_DEVICE) != MEMTX_OK)
        return virtqueue_fail(vq, "buffer outside RAM (or not allowed by the IOMMU)");
    VirtQueueSeg *s = &e->seg[e->nr_out + e->nr_in];
    s->addr = addr;
    s->len = len;
    if (write) {
        e->nr_in++;
        e->in_len += len;
    } else {
        e->nr_out++;
        e->out_len += len;
    }
    return 0;
}

typedef struct SplitDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} SplitDesc;

static int read_desc(VirtQueue *vq, dma_addr_t table, unsigned i, SplitDesc *d)
{
    uint8_t b[SPLIT_DESC_SIZE];
    if (pci_dma_read(vq->dma, table + (dma_addr_t)i * SPLIT_DESC_SIZE, b, sizeof(b)) != MEMTX_OK)
        return virtqueue_fail(vq, "descriptor not readable");
    d->addr = get_le64(b);
    d->len = get_le32(b + 8);
    d->flags = get_le16(b + 12);
    d->next = get_le16(b + 14);
    return 0;
}

/* Where an indirect table may live: whole descriptors, in RAM, not too many. */
static int check_indirect(VirtQueue *vq, const SplitDesc *d, bool nested)
{
    if (!vq->indirect)
        return virtqueue_fail(vq, "indirect descriptor without INDIRECT_DESC");
    if (nested)
        return virtqueue_fail(vq, "indirect descriptor inside an indirect table");
    if (d->flags & VRING_DESC_F_NEXT)
        return virtqueue_fail(vq, "indirect descriptor with NEXT set");
    if (d->len == 0 || d->len % SPLIT_DESC_SIZE || d->len / SPLIT_DESC_SIZE > VIRTQ_MAX_CHAIN)
        return virtqueue_fail(vq, "bad indirect table length");
    if (pci_dma_check_ram(vq->dma, d->addr, d->len, DMA_DIRECTION_TO_DEVICE) != MEMTX_OK)
        return virtqueue_fail(vq, "indirect table outside RAM");
    return 0;
}

static int walk_chain(VirtQueue *vq, uint16_t head, VirtQueueElement *e)
{
    dma_addr_t table = vq->desc;
    unsigned table_size = vq->size, count = 0, i = head;
    bool in_indirect = false;
    for (;;) {
        SplitDesc d;
        if (read_desc(vq, table, i, &d) < 0)
            return -1;
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (check_indirect(vq, &d, in_indirect) < 0)
                return -1;
            table = d.addr;
            table_size = d.len / SPLIT_DESC_SIZE;
            i = count = 0;
            in_indirect = true;
            continue;
        }
        /* More descriptors than the table holds can only be a loop. */
        if (++count > table_size)
            return virtqueue_fail(vq, "descriptor chain longer than its table (a loop)");
        if (virtqueue_add_seg(vq, e, d.addr, d.len, d.flags & VRING_DESC_F_WRITE) < 0)
            return -1;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return 0;
        if (d.next >= table_size)
            return virtqueue_fail(vq, "next descriptor index out of range");
        i = d.next;
    }
}

int virtqueue_pop(VirtQueue *vq, VirtQueueElement *e)
{
    if (vq->broken)
        return -1;
    if (vq->packed)
        return virtqueue_packed_pop(vq, e);
    uint16_t avail_idx, head;
    if (lduw_le_pci_dma(vq->dma, vq->avail + 2, &avail_idx) != MEMTX_OK)
        return virtqueue_fail(vq, "avail->idx not readable");
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return 0;
    if (pending > vq->size)
        return virtqueue_fail(vq, "avail->idx moved by more than the queue size");
    /* The ring entry and descriptors were written before avail->idx. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (lduw_le_pci_dma(vq->dma, vq->avail + 4 + 2 * (dma_addr_t)(vq->last_avail % vq->size),
                        &head) != MEMTX_OK)
        return virtqueue_fail(vq, "avail ring not readable");
    if (head >= vq->size)
        return virtqueue_fail(vq, "head descriptor index out of range");
    vq->last_avail++;
    virtqueue_elem_clear(e);
    e->id = head;
    return walk_chain(vq, head, e) < 0 ? -1 : 1;
}

int virtqueue_push(VirtQueue *vq, const VirtQueueElement *e, uint32_t len)
{
    if (vq->broken)
        return -1;
    if (vq->packed)
        return virtqueue_packed_push(vq, e, len);
    dma_addr_t elem = vq->used + 4 + 8 * (dma_addr_t)(vq->used_idx % vq->size);
    if (stl_le_pci_dma(vq->dma, elem, e->id) != MEMTX_OK ||
        stl_le_pci_dma(vq->dma, elem + 4, len) != MEMTX_OK)
        return virtqueue_fail(vq, "used ring not writable");
    vq->used_idx++;
    /* The element is visible before the index that publishes it. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (stw_le_pci_dma(vq->dma, vq->used + 2, vq->used_idx) != MEMTX_OK)
        return virtqueue_fail(vq, "used->idx not writable");
    return 0;
}

int virtqueue_push_batch(VirtQueue *vq, const VirtQueueUsed *u, unsigned n)
{
    if (vq->broken)
        return -1;
    if (n == 0)
        return 0;
    if (vq->packed)
        return virtqueue_packed_push_batch(vq, u, n);
    for (unsigned k = 0; k < n; k++) {
        dma_addr_t elem = vq->used + 4 + 8 * (dma_addr_t)((uint16_t)(vq->used_idx + k) % vq->size);
        if (stl_le_pci_dma(vq->dma, elem, u[k].id) != MEMTX_OK ||
            stl_le_pci_dma(vq->dma, elem + 4, u[k].len) != MEMTX_OK)
            return virtqueue_fail(vq, "used ring not writable");
    }
    vq->used_idx = (uint16_t)(vq->used_idx + n);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (stw_le_pci_dma(vq->dma, vq->used + 2, vq->used_idx) != MEMTX_OK)
        return virtqueue_fail(vq, "used->idx not writable");
    return 0;
}

void virtqueue_disable_notification(VirtQueue *vq)
{
    if (vq->broken)
        return;
    if (vq->packed) {
        virtqueue_packed_set_notification(vq, false);
        return;
    }
    /* With EVENT_IDX an avail_event left behind means "no kick until then". */
    if (!vq->event_idx && stw_le_pci_dma(vq->dma, vq->used, VRING_USED_F_NO_NOTIFY) != MEMTX_OK)
        virtqueue_fail(vq, "used->flags not writable");
}

bool virtqueue_enable_notification(VirtQueue *vq)
{
    if (vq->broken)
        return false;
    if (vq->packed) {
        virtqueue_packed_set_notification(vq, true);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return virtqueue_packed_has_work(vq);
    }
    MemTxResult r = vq->event_idx
        ? stw_le_pci_dma(vq->dma, vq->used + 4 + 8 * (dma_addr_t)vq->size, vq->last_avail)
        : stw_le_pci_dma(vq->dma, vq->used, 0);
    if (r != MEMTX_OK) {
        virtqueue_fail(vq, "used ring not writable");
        return false;
    }
    /* The driver reads our flag/event after publishing avail->idx: without a
     * full barrier both sides could miss each other's store and stall. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t avail_idx;
    if (lduw_le_pci_dma(vq->dma, vq->avail + 2, &avail_idx) != MEMTX_OK) {
        virtqueue_fail(vq, "avail->idx not readable");
        return false;
    }
    return avail_idx != vq->last_avail;
}

/* vring_need_event (§2.7.10): has new_idx passed event since old? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtqueue_should_notify(VirtQueue *vq)
{
    if (vq->broken)
        return false;
    if (vq->packed)
        return virtqueue_packed_should_notify(vq);
    if (vq->signalled_valid && vq->signalled_used == vq->used_idx)
        return false;   /* nothing new since the last interrupt */
    /* Our used->idx store is visible before we read what the driver wants. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t old = vq->signalled_used, v;
    bool valid = vq->signalled_valid;
    vq->signalled_used = vq->used_idx;
    vq->signalled_valid = true;
    if (vq->event_idx) {
        if (lduw_le_pci_dma(vq->dma, vq->avail + 4 + 2 * (dma_addr_t)vq->size, &v) != MEMTX_OK)
            return true;
        return !valid || need_event(v, vq->used_idx, old);
    }
    if (lduw_le_pci_dma(vq->dma, vq->avail, &v) != MEMTX_OK)
        return true;
    return !(v & VRING_AVAIL_F_NO_INTERRUPT);
}

static int64_t copy_segs(VirtQueue *vq, const VirtQueueElement *e, bool in, uint64_t off,
                         uint8_t *buf, uint64_t len)
{
    unsigned first = in ? e->nr_out : 0, n = in ? e->nr_in : e->nr_out;
    uint64_t done = 0;
    for (unsigned k = 0; k < n && done < len; k++) {
        const VirtQueueSeg *s = &e->seg[first + k];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint64_t chunk = s->len - off;
        if (chunk > len - done)
            chunk = len - done;
        MemTxResult r = in ? pci_dma_write(vq->dma, s->addr + off, buf + done, chunk)
                           : pci_dma_read(vq->dma, s->addr + off, buf + done, chunk);
        if (r != MEMTX_OK)
            return -1;
        done += chunk;
        off = 0;
    }
    return (int64_t)done;
}

int64_t virtqueue_read_out(VirtQueue *vq, const VirtQueueElement *e, uint64_t off,
                           void *buf, uint64_t len)
{
    return copy_segs(vq, e, false, off, buf, len);
}

int64_t virtqueue_write_in(VirtQueue *vq, const VirtQueueElement *e, uint64_t off,
                           const void *buf, uint64_t len)
{
    return copy_segs(vq, e, true, off, (uint8_t *)buf, len);
}
