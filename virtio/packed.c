/* Packed virtqueues (virtio 1.2 §2.8): one descriptor ring both sides write,
 * availability told by the AVAIL/USED flag bits against wrap counters.
 * Flags and event words are single aligned 16-bit accesses, as in the split
 * ring (virtio/virtqueue.c says why through the DMA accessors): the flags are
 * read (acquire) before the rest of a descriptor and written (release) after
 * the used descriptor's id and length. */
#include "virtio/virtio.h"

#define PACKED_DESC_SIZE 16

typedef struct PackedDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t id, flags;
} PackedDesc;

static bool desc_is_avail(uint16_t flags, bool wrap)
{
    bool avail = flags & VRING_PACKED_DESC_F_AVAIL, used = flags & VRING_PACKED_DESC_F_USED;
    return avail == wrap && used != wrap;
}

static int read_flags(VirtQueue *vq, unsigned i, uint16_t *flags)
{
    if (lduw_le_pci_dma(vq->dma, vq->desc + (dma_addr_t)i * PACKED_DESC_SIZE + 14, flags) !=
        MEMTX_OK)
        return virtqueue_fail(vq, "descriptor flags not readable");
    return 0;
}

/* The body of a descriptor whose flags were already read (and acquired). */
static int read_body(VirtQueue *vq, dma_addr_t table, unsigned i, PackedDesc *d)
{
    dma_addr_t a = table + (dma_addr_t)i * PACKED_DESC_SIZE;
    uint32_t len;
    uint16_t id;
    if (ldq_le_pci_dma(vq->dma, a, &d->addr) != MEMTX_OK ||
        ldl_le_pci_dma(vq->dma, a + 8, &len) != MEMTX_OK ||
        lduw_le_pci_dma(vq->dma, a + 12, &id) != MEMTX_OK)
        return virtqueue_fail(vq, "descriptor not readable");
    d->len = len;
    d->id = id;
    return 0;
}

static int walk_indirect(VirtQueue *vq, const PackedDesc *d, VirtQueueElement *e)
{
    if (!vq->indirect)
        return virtqueue_fail(vq, "indirect descriptor without INDIRECT_DESC");
    if (d->flags & VRING_DESC_F_NEXT)
        return virtqueue_fail(vq, "indirect descriptor with NEXT set");
    if (d->len == 0 || d->len % PACKED_DESC_SIZE || d->len / PACKED_DESC_SIZE > VIRTQ_MAX_CHAIN)
        return virtqueue_fail(vq, "bad indirect table length");
    if (pci_dma_check_ram(vq->dma, d->addr, d->len, DMA_DIRECTION_TO_DEVICE) != MEMTX_OK)
        return virtqueue_fail(vq, "indirect table outside RAM");
    for (unsigned k = 0; k < d->len / PACKED_DESC_SIZE; k++) {
        PackedDesc in;
        if (read_body(vq, d->addr, k, &in) < 0 ||
            lduw_le_pci_dma(vq->dma, d->addr + (dma_addr_t)k * PACKED_DESC_SIZE + 14,
                            &in.flags) != MEMTX_OK)
            return virtqueue_fail(vq, "indirect descriptor not readable");
        if (in.flags & VRING_DESC_F_INDIRECT)
            return virtqueue_fail(vq, "indirect descriptor inside an indirect table");
        if (virtqueue_add_seg(vq, e, in.addr, in.len, in.flags & VRING_DESC_F_WRITE) < 0)
            return -1;
    }
    return 0;
}

int virtqueue_packed_pop(VirtQueue *vq, VirtQueueElement *e)
{
    unsigned i = vq->next_avail;
    bool wrap = vq->avail_wrap;
    PackedDesc d;
    if (read_flags(vq, i, &d.flags) < 0)
        return -1;
    if (!desc_is_avail(d.flags, wrap))
        return 0;
    /* The descriptor's body was written before its flags. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    virtqueue_elem_clear(e);
    unsigned n = 0;
    for (;;) {
        if (read_body(vq, vq->desc, i, &d) < 0)
            return -1;
        n++;
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (n > 1)
                return virtqueue_fail(vq, "indirect descriptor inside a chain");
            if (walk_indirect(vq, &d, e) < 0)
                return -1;
            break;
        }
        if (virtqueue_add_seg(vq, e, d.addr, d.len, d.flags & VRING_DESC_F_WRITE) < 0)
            return -1;
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (n >= vq->size)
            return virtqueue_fail(vq, "descriptor chain longer than the queue");
        if (++i == vq->size) {
            i = 0;
            wrap = !wrap;
        }
        if (read_flags(vq, i, &d.flags) < 0)
            return -1;
        if (!desc_is_avail(d.flags, wrap))
            return virtqueue_fail(vq, "chain continues into a descriptor not made available");
    }
    e->id = d.id;   /* the buffer id is in the chain's last descriptor */
    e->ndescs = (uint16_t)n;
    vq->next_avail = (uint16_t)(vq->next_avail + n);
    if (vq->next_avail >= vq->size) {
        vq->next_avail = (uint16_t)(vq->next_avail - vq->size);
        vq->avail_wrap = !vq->avail_wrap;
    }
    return 1;
}

int virtqueue_packed_push(VirtQueue *vq, const VirtQueueElement *e, uint32_t len)
{
    dma_addr_t a = vq->desc + (dma_addr_t)vq->next_used * PACKED_DESC_SIZE;
    if (stw_le_pci_dma(vq->dma, a + 12, e->id) != MEMTX_OK ||
        stl_le_pci_dma(vq->dma, a + 8, len) != MEMTX_OK)
        return virtqueue_fail(vq, "descriptor ring not writable");
    uint16_t flags = (uint16_t)(len ? VRING_DESC_F_WRITE : 0);
    if (vq->used_wrap)
        flags |= VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;
    /* id and len are visible before the flags that hand the slot back. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (stw_le_pci_dma(vq->dma, a + 14, flags) != MEMTX_OK)
        return virtqueue_fail(vq, "descriptor ring not writable");
    unsigned next = vq->next_used + (e->ndescs ? e->ndescs : 1u);
    if (next >= vq->size) {
        next -= vq->size;
        vq->used_wrap = !vq->used_wrap;
    }
    vq->next_used = (uint16_t)next;
    vq->used_idx++;   /* counts pushes, for "anything new since the last interrupt" */
    return 0;
}

/* Several used buffers handed back as one: every slot but the first, then
 * (release) the first one's flags, so the driver sees all or nothing (a
 * mergeable receive buffer set). */
int virtqueue_packed_push_batch(VirtQueue *vq, const VirtQueueUsed *u, unsigned n)
{
    unsigned slot = vq->next_used;
    bool wrap = vq->used_wrap;
    uint16_t first_flags = 0;
    for (unsigned k = 0; k < n; k++) {
        dma_addr_t a = vq->desc + (dma_addr_t)slot * PACKED_DESC_SIZE;
        uint16_t flags = (uint16_t)(u[k].len ? VRING_DESC_F_WRITE : 0);
        if (wrap)
            flags |= VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;
        if (stw_le_pci_dma(vq->dma, a + 12, u[k].id) != MEMTX_OK ||
            stl_le_pci_dma(vq->dma, a + 8, u[k].len) != MEMTX_OK)
            return virtqueue_fail(vq, "descriptor ring not writable");
        if (k == 0) {
            first_flags = flags;
        } else {
            __atomic_thread_fence(__ATOMIC_RELEASE);
            if (stw_le_pci_dma(vq->dma, a + 14, flags) != MEMTX_OK)
                return virtqueue_fail(vq, "descriptor ring not writable");
        }
        slot += u[k].ndescs ? u[k].ndescs : 1u;
        if (slot >= vq->size) {
            slot -= vq->size;
            wrap = !wrap;
        }
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (stw_le_pci_dma(vq->dma, vq->desc + (dma_addr_t)vq->next_used * PACKED_DESC_SIZE + 14,
                       first_flags) != MEMTX_OK)
        return virtqueue_fail(vq, "descriptor ring not writable");
    vq->next_used = (uint16_t)slot;
    vq->used_wrap = wrap;
    vq->used_idx = (uint16_t)(vq->used_idx + n);
    return 0;
}

void virtqueue_packed_set_notification(VirtQueue *vq, bool enable)
{
    uint16_t flags = VRING_PACKED_EVENT_FLAG_DISABLE;
    if (enable && vq->event_idx) {
        uint16_t off_wrap = (uint16_t)(vq->next_avail | (vq->avail_wrap ? 0x8000 : 0));
        if (stw_le_pci_dma(vq->dma, vq->used, off_wrap) != MEMTX_OK) {
            virtqueue_fail(vq, "device event area not writable");
            return;
        }
        __atomic_thread_fence(__ATOMIC_RELEASE);
        flags = VRING_PACKED_EVENT_FLAG_DESC;
    } else if (enable) {
        flags = VRING_PACKED_EVENT_FLAG_ENABLE;
    }
    if (stw_le_pci_dma(vq->dma, vq->used + 2, flags) != MEMTX_OK)
        virtqueue_fail(vq, "device event area not writable");
}

bool virtqueue_packed_has_work(VirtQueue *vq)
{
    uint16_t flags;
    return read_flags(vq, vq->next_avail, &flags) == 0 && desc_is_avail(flags, vq->avail_wrap);
}

bool virtqueue_packed_should_notify(VirtQueue *vq)
{
    if (vq->signalled_valid && vq->signalled_used == vq->used_idx)
        return false;
    bool valid = vq->signalled_valid;
    uint16_t old = vq->signalled_slot, new_pos = vq->next_used;
    vq->signalled_used = vq->used_idx;
    vq->signalled_slot = new_pos;
    vq->signalled_valid = true;
    /* Our descriptor flags are visible before we read the driver's wishes. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t flags, off_wrap;
    if (lduw_le_pci_dma(vq->dma, vq->avail + 2, &flags) != MEMTX_OK)
        return true;
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
        return false;
    if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx || !valid)
        return true;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (lduw_le_pci_dma(vq->dma, vq->avail, &off_wrap) != MEMTX_OK)
        return true;
    /* The event slot, unwrapped against our used wrap counter, then the split
     * ring's need-event test on slot positions (§2.8.10). Crossing the ring's
     * end between two interrupts errs towards sending one. */
    uint16_t event = off_wrap & 0x7fff;
    if ((bool)(off_wrap >> 15) != vq->used_wrap)
        event = (uint16_t)(event - vq->size);
    return (uint16_t)(new_pos - event - 1) < (uint16_t)(new_pos - old);
}
