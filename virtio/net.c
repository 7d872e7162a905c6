/* virtio-net (virtio 1.2 §5.1): one receive and one transmit queue, the MAC
 * and link status in the configuration, mergeable receive buffers, and the
 * offloads the backend can honour (virtio/net.h).
 *
 * Receive: a frame from the backend is written, header first, into as many
 * of the guest's receive buffers as it needs (one without MRG_RXBUF), the
 * header's num_buffers says how many, and they are handed back in one batch
 * so the driver never sees part of a frame. While the guest has posted no
 * buffers a few frames wait in a backlog (ARP and DHCP replies come before
 * Linux fills its ring); beyond that they are dropped, as a NIC would.
 * Transmit: each chain is one frame with its header; the backend gets it
 * whole. A chain without room for the header is hostile: NEEDS_RESET. */
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/net.h"
#include "vmm/vm.h"

#define VIRTIO_ID_NET            1
#define NET_RX                   0
#define NET_TX                   1
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16
#define VIRTIO_NET_S_LINK_UP     1
#define NET_CONFIG_LEN           10     /* mac, status, max_virtqueue_pairs */
#define NET_FRAME_MAX            (65535 + 14)   /* a TSO frame and its Ethernet header */
#define NET_BUF_MAX              (VIRTIO_NET_HDR_LEN + NET_FRAME_MAX)
#define NET_BACKLOG              64
#define NET_RX_MAX_BUFFERS       64     /* receive buffers one frame may span */

struct VirtIONet {
    VirtIODevice vdev;       /* first */
    NetBackend *backend;
    uint8_t config[NET_CONFIG_LEN];
    uint8_t *txbuf;
    /* Receive's own elements: a frame may arrive (slirp answering ARP) from
     * inside the backend's send, while vdev->elem holds a transmit chain. */
    VirtQueueElement *rx_first, *rx_more;
    struct {
        uint8_t *data;       /* header + frame */
        size_t len;
    } backlog[NET_BACKLOG];
    unsigned backlog_head, backlog_len;
};

static int tx_handle(VirtIONet *n, VirtQueue *vq)
{
    VirtIODevice *vdev = &n->vdev;
    VirtQueueElement *e = vdev->elem;
    int r;
    while ((r = virtqueue_pop(vq, e)) > 0) {
        if (e->out_len < VIRTIO_NET_HDR_LEN) {
            virtio_error(vdev, "transmit buffer of %llu bytes has no room for the header",
                         (unsigned long long)e->out_len);
            return -1;
        }
        if (e->out_len > NET_BUF_MAX) {
            log_guest_error("%s: %llu-byte transmit frame dropped", vdev->pci.dev.id,
                            (unsigned long long)e->out_len);
        } else if (virtqueue_read_out(vq, e, 0, n->txbuf, e->out_len) != (int64_t)e->out_len) {
            virtio_error(vdev, "transmit buffer not readable");
            return -1;
        } else if (n->backend->vnet_hdr) {
            n->backend->send(n->backend, n->txbuf, e->out_len);
        } else {
            n->backend->send(n->backend, n->txbuf + VIRTIO_NET_HDR_LEN,
                             e->out_len - VIRTIO_NET_HDR_LEN);
        }
        if (virtqueue_push(vq, e, 0) < 0)
            break;
    }
    return vq->broken ? -1 : 0;
}

enum { RX_DONE, RX_NO_ROOM, RX_FAILED };

/* Bytes [off, off + len) of header + frame into e's buffers, from their start.
 * hdr NULL: an all-zero header. One copy when the two are contiguous (a tap's
 * read buffer, the backlog). 0, or -1 on a DMA error. */
static int rx_write(VirtQueue *vq, const VirtQueueElement *e, const uint8_t *hdr,
                    const uint8_t *frame, size_t off, size_t len)
{
    static const uint8_t zero_hdr[VIRTIO_NET_HDR_LEN];
    size_t done = 0;
    if (hdr && hdr + VIRTIO_NET_HDR_LEN == frame)
        return virtqueue_write_in(vq, e, 0, hdr + off, len) == (int64_t)len ? 0 : -1;
    if (off < VIRTIO_NET_HDR_LEN) {
        done = VIRTIO_NET_HDR_LEN - off < len ? VIRTIO_NET_HDR_LEN - off : len;
        if (virtqueue_write_in(vq, e, 0, (hdr ? hdr : zero_hdr) + off, done) != (int64_t)done)
            return -1;
    }
    if (done < len && virtqueue_write_in(vq, e, done, frame + (off + done - VIRTIO_NET_HDR_LEN),
                                         len - done) != (int64_t)(len - done))
        return -1;
    return 0;
}

/* One frame and its header into the guest's receive buffers. */
static int rx_deliver(VirtIONet *n, const uint8_t *hdr, const uint8_t *frame, size_t len)
{
    size_t total = VIRTIO_NET_HDR_LEN + len;
    VirtIODevice *vdev = &n->vdev;
    VirtQueue *vq = &vdev->vq[NET_RX];
    bool mrg = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
    VirtQueue saved = *vq;   /* popping only moves our shadow: undone on no room */
    VirtQueueUsed used[NET_RX_MAX_BUFFERS];
    unsigned nb = 0;
    size_t off = 0;
    while (off < total) {
        VirtQueueElement *e = nb == 0 ? n->rx_first : n->rx_more;
        int r = virtqueue_pop(vq, e);
        if (r < 0) {
            virtio_error(vdev, "queue %u: %s", NET_RX, vq->error);
            return RX_FAILED;
        }
        if (r == 0 || nb == NET_RX_MAX_BUFFERS) {
            *vq = saved;
            if (nb == NET_RX_MAX_BUFFERS) {
                log_guest_error("%s: %zu-byte frame needs more than %d receive buffers; dropped",
                                vdev->pci.dev.id, total, NET_RX_MAX_BUFFERS);
                return RX_DONE;
            }
            return RX_NO_ROOM;
        }
        if (e->in_len < (nb == 0 ? VIRTIO_NET_HDR_LEN : 1)) {
            virtio_error(vdev, "receive buffer of %llu bytes", (unsigned long long)e->in_len);
            return RX_FAILED;
        }
        size_t chunk = total - off < e->in_len ? total - off : (size_t)e->in_len;
        if (!mrg && chunk < total) {
            /* Without mergeable buffers one buffer takes the frame; the
             * driver posted too small a one: the frame is lost, not cut. */
            log_guest_error("%s: %zu-byte frame does not fit a %llu-byte receive buffer",
                            vdev->pci.dev.id, total, (unsigned long long)e->in_len);
            chunk = 0;
        } else if (rx_write(vq, e, hdr, frame, off, chunk) < 0) {
            virtio_error(vdev, "receive buffer not writable");
            return RX_FAILED;
        }
        used[nb++] = (VirtQueueUsed){ e->id, e->ndescs, (uint32_t)chunk };
        off += chunk;
        if (!mrg)
            break;
    }
    uint8_t nbuf[2] = { (uint8_t)nb, (uint8_t)(nb >> 8) };
    if (used[0].len && virtqueue_write_in(vq, n->rx_first, 10, nbuf, 2) != 2) {
        virtio_error(vdev, "receive buffer not writable");
        return RX_FAILED;
    }
    if (virtqueue_push_batch(vq, used, nb) < 0) {
        virtio_error(vdev, "queue %u: %s", NET_RX, vq->error);
        return RX_FAILED;
    }
    return RX_DONE;
}

static bool rx_live(VirtIONet *n)
{
    return virtio_queues_live(&n->vdev) && n->vdev.vq[NET_RX].size && !n->vdev.vq[NET_RX].broken;
}

/* The backlog into the guest's buffers, as far as they go. */
static void rx_flush(VirtIONet *n)
{
    bool pushed = false;
    while (n->backlog_len && rx_live(n)) {
        typeof(n->backlog[0]) *b = &n->backlog[n->backlog_head];
        int r = rx_deliver(n, b->data, b->data + VIRTIO_NET_HDR_LEN,
                           b->len - VIRTIO_NET_HDR_LEN);
        if (r == RX_NO_ROOM)
            break;
        free(b->data);
        b->data = NULL;
        n->backlog_head = (n->backlog_head + 1) % NET_BACKLOG;
        n->backlog_len--;
        pushed |= r == RX_DONE;
    }
    if (pushed)
        virtio_queue_notify(&n->vdev, NET_RX);
}

bool virtio_net_can_receive(VirtIONet *n)
{
    return rx_live(n) && n->backlog_len < NET_BACKLOG;
}

void virtio_net_receive(VirtIONet *n, const uint8_t *hdr, const uint8_t *frame, size_t len)
{
    if (!rx_live(n) || len > NET_FRAME_MAX)
        return;   /* link up, but no driver: frames go nowhere */
    if (n->backlog_len == 0) {
        /* Straight into the guest's buffers; the backlog only when it has none. */
        int r = rx_deliver(n, hdr, frame, len);
        if (r == RX_DONE)
            virtio_queue_notify(&n->vdev, NET_RX);
        if (r != RX_NO_ROOM)
            return;
    }
    if (n->backlog_len == NET_BACKLOG)
        return;   /* the guest is not reading: drop, TCP resends */
    uint8_t *data = malloc(VIRTIO_NET_HDR_LEN + len);
    if (!data)
        return;
    if (hdr)
        memcpy(data, hdr, VIRTIO_NET_HDR_LEN);
    else
        memset(data, 0, VIRTIO_NET_HDR_LEN);
    memcpy(data + VIRTIO_NET_HDR_LEN, frame, len);
    unsigned tail = (n->backlog_head + n->backlog_len) % NET_BACKLOG;
    n->backlog[tail].data = data;
    n->backlog[tail].len = VIRTIO_NET_HDR_LEN + len;
    n->backlog_len++;
    if (n->backlog_len > 1)
        rx_flush(n);   /* the older frames first; the buffers may have come since */
}

static void backlog_clear(VirtIONet *n)
{
    for (; n->backlog_len; n->backlog_len--) {
        free(n->backlog[n->backlog_head].data);
        n->backlog[n->backlog_head].data = NULL;
        n->backlog_head = (n->backlog_head + 1) % NET_BACKLOG;
    }
}

static int net_handle_queue(VirtIODevice *vdev, unsigned q)
{
    VirtIONet *n = (VirtIONet *)vdev;
    if (q == NET_TX)
        return tx_handle(n, &vdev->vq[q]);
    rx_flush(n);   /* new receive buffers */
    return vdev->vq[q].broken ? -1 : VIRTIO_QUEUE_KEEPS_BUFFERS;
}

static int net_backend_poll(VirtIODevice *vdev, struct pollfd *fds, int max, int *timeout)
{
    NetBackend *b = ((VirtIONet *)vdev)->backend;
    return b->poll(b, fds, max, timeout);
}

static void net_backend_ready(VirtIODevice *vdev, struct pollfd *fds, int nfds)
{
    VirtIONet *n = (VirtIONet *)vdev;
    n->backend->ready(n->backend, fds, nfds);
    rx_flush(n);
}

static void net_reset(VirtIODevice *vdev)
{
    backlog_clear((VirtIONet *)vdev);
}

static const VirtIODeviceOps net_ops_template = {
    .device_id = VIRTIO_ID_NET,
    .pci_class = 0x020000,   /* Ethernet controller */
    .nr_queues = 2,
    .queue_size = 256,
    .handle_queue = net_handle_queue,
    .reset = net_reset,
    .backend_poll = net_backend_poll,
    .backend_ready = net_backend_ready,
};

typedef struct VirtIONetDevice {
    VirtIONet net;           /* first */
    VirtIODeviceOps ops;     /* the template plus the backend's offloads */
    VirtioNetOptions opts;
    NetBackend *given;       /* virtio_net_init_backend's, else made from opts */
} VirtIONetDevice;

static int net_realize(Device *dev)
{
    VirtIONetDevice *s = DEVICE_CAST(VirtIONetDevice, dev);
    VirtIONet *n = &s->net;
    n->backend = s->given ? s->given
               : s->opts.kind == VIRTIO_NET_TAP ? net_tap_new(&s->opts) : net_slirp_new(&s->opts);
    s->given = NULL;
    if (!n->backend)
        return -1;
    n->backend->net = n;
    s->ops = net_ops_template;
    s->ops.features = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
                      1ull << VIRTIO_NET_F_MRG_RXBUF | n->backend->features;
    n->vdev.ops = &s->ops;
    n->txbuf = malloc(NET_BUF_MAX);
    n->rx_first = malloc(sizeof(*n->rx_first));
    n->rx_more = malloc(sizeof(*n->rx_more));
    if (!n->txbuf || !n->rx_first || !n->rx_more) {
        log_error("%s: out of memory", dev->id);
        return -1;
    }
    memcpy(n->config, s->opts.mac, 6);
    n->config[6] = VIRTIO_NET_S_LINK_UP;
    n->config[8] = 1;        /* max_virtqueue_pairs */
    n->vdev.config = n->config;
    n->vdev.config_len = sizeof(n->config);
    return virtio_pci_realize(&n->vdev);
}

static void net_unrealize(Device *dev)
{
    VirtIONetDevice *s = DEVICE_CAST(VirtIONetDevice, dev);
    VirtIONet *n = &s->net;
    virtio_pci_unrealize(&n->vdev);   /* stops the I/O thread first */
    backlog_clear(n);
    if (n->backend)
        n->backend->free(n->backend);
    free(n->txbuf);
    free(n->rx_first);
    free(n->rx_more);
}

static const DeviceClass net_class = {
    .name = "virtio-net",
    .instance_size = sizeof(VirtIONetDevice),
    .realize = net_realize,
    .unrealize = net_unrealize,
};

int virtio_net_init(struct vm *vm, const VirtioNetOptions *o, bool iommu)
{
    return virtio_net_init_backend(vm, NULL, o, iommu);
}

int virtio_net_init_backend(struct vm *vm, NetBackend *b, const VirtioNetOptions *o, bool iommu)
{
    static unsigned nr_created;
    Device *dev = device_new(vm, &net_class, NULL);
    if (!dev) {
        if (b)
            b->free(b);
        return -1;
    }
    VirtIONetDevice *s = DEVICE_CAST(VirtIONetDevice, dev);
    s->opts = *o;
    s->given = b;
    if (!o->mac_set) {   /* QEMU's default, one apart per device */
        static const uint8_t def[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
        memcpy(s->opts.mac, def, 6);
        s->opts.mac[5] = (uint8_t)(s->opts.mac[5] + nr_created);
    }
    nr_created++;
    s->net.vdev.iommu_platform = iommu;
    return device_realize(dev);
}
