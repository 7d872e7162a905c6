/* virtio-blk (virtio 1.2 §5.2) on a raw image: read, write, flush
 * (fdatasync), get-id, discard (punch a hole) and write-zeroes.
 *
 * Requests run on the device's I/O thread, one at a time, with preadv/pwritev
 * straight on the guest's pages through the DMA layer (pci_dma_file_rw: every
 * page translated, the IOMMU in charge of every byte) and a bounce buffer for
 * what is not RAM: the thread already exists for the ring walk, and a reset
 * then finds nothing in flight. io_uring would overlap requests
 * (worth it for deep queues on fast disks) at the price of tracking in-flight
 * buffers across resets and IOMMU unmaps; not measured here yet.
 *
 * The image is locked with an open-file-description lock (F_OFD_SETLK, as
 * QEMU): shared for read-only users, exclusive for a writer, so two VMMs
 * cannot open one image read-write. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/bytes.h"
#include "util/log.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define VIRTIO_ID_BLOCK           2
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2

#define SECTOR_SIZE      512u
#define BLK_ID_BYTES     20
#define BLK_CONFIG_SIZE  60
#define BLK_BOUNCE       (128u * 1024)
#define BLK_SEG_MAX      126      /* data segments per request we advertise */
#define BLK_DISCARD_SEGS 1
#define BLK_MAX_DISCARD  (UINT32_MAX / SECTOR_SIZE)

typedef struct VirtIOBlk {
    VirtIODevice vdev;       /* first */
    char *path;
    bool readonly;
    int fd;
    uint64_t sectors;
    uint8_t config[BLK_CONFIG_SIZE];
    uint8_t *bounce;
} VirtIOBlk;

static bool range_ok(VirtIOBlk *s, uint64_t sector, uint64_t bytes)
{
    uint64_t n = (bytes + SECTOR_SIZE - 1) / SECTOR_SIZE;
    return sector <= s->sectors && n <= s->sectors - sector;
}

/* Moves `len` bytes between the image at `pos` and the request's buffers at
 * `off` (in: image -> guest). 0, -1 on an I/O error, -2 on a DMA error. */
static int blk_rw(VirtIOBlk *s, VirtQueue *vq, const VirtQueueElement *e, uint64_t off,
                  uint64_t pos, uint64_t len, bool to_guest)
{
    /* Straight between the image and guest RAM; what is not RAM (rare: a
     * buffer in MMIO was refused at pop, so only a topology change since)
     * goes through the bounce buffer below. */
    MemTxResult res;
    int64_t n = pci_dma_file_rw(vq->dma, s->fd, (int64_t)pos,
                                &e->seg[to_guest ? e->nr_out : 0],
                                to_guest ? e->nr_in : e->nr_out, off, len,
                                to_guest ? DMA_DIRECTION_FROM_DEVICE : DMA_DIRECTION_TO_DEVICE,
                                &res);
    if (n < 0)
        return -1;
    if (res != MEMTX_OK)
        return -2;
    off += (uint64_t)n;
    pos += (uint64_t)n;
    len -= (uint64_t)n;
    while (len) {
        size_t chunk = len < BLK_BOUNCE ? (size_t)len : BLK_BOUNCE;
        if (to_guest) {
            ssize_t n = pread(s->fd, s->bounce, chunk, (off_t)pos);
            if (n != (ssize_t)chunk)
                return -1;
            if (virtqueue_write_in(vq, e, off, s->bounce, chunk) != (int64_t)chunk)
                return -2;
        } else {
            if (virtqueue_read_out(vq, e, off, s->bounce, chunk) != (int64_t)chunk)
                return -2;
            if (pwrite(s->fd, s->bounce, chunk, (off_t)pos) != (ssize_t)chunk)
                return -1;
        }
        off += chunk;
        pos += chunk;
        len -= chunk;
    }
    return 0;
}

/* Discard / write-zeroes: 16-byte segments {sector, num_sectors, flags}. */
static uint8_t blk_discard(VirtIOBlk *s, VirtQueue *vq, const VirtQueueElement *e,
                           uint64_t data_len, bool zeroes)
{
    if (s->readonly || data_len == 0 || data_len % 16 || data_len / 16 > BLK_DISCARD_SEGS)
        return VIRTIO_BLK_S_IOERR;
    uint8_t seg[16];
    if (virtqueue_read_out(vq, e, 16, seg, 16) != 16)
        return VIRTIO_BLK_S_IOERR;
    uint64_t sector = 0;
    for (int k = 7; k >= 0; k--)
        sector = sector << 8 | seg[k];
    uint32_t n = (uint32_t)seg[8] | (uint32_t)seg[9] << 8 | (uint32_t)seg[10] << 16 |
                 (uint32_t)seg[11] << 24;
    uint32_t flags = (uint32_t)seg[12] | (uint32_t)seg[13] << 8;
    if ((!zeroes && flags) || (flags & ~1u) || n > BLK_MAX_DISCARD ||
        !range_ok(s, sector, (uint64_t)n * SECTOR_SIZE))
        return VIRTIO_BLK_S_IOERR;
    int mode = zeroes ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    if (n && fallocate(s->fd, mode, (off_t)(sector * SECTOR_SIZE), (off_t)n * SECTOR_SIZE) < 0) {
        if (!zeroes)
            return VIRTIO_BLK_S_OK;   /* discard is a hint: a file system without holes is fine */
        memset(s->bounce, 0, BLK_BOUNCE);
        for (uint64_t pos = sector * SECTOR_SIZE, left = (uint64_t)n * SECTOR_SIZE; left;) {
            size_t chunk = left < BLK_BOUNCE ? (size_t)left : BLK_BOUNCE;
            if (pwrite(s->fd, s->bounce, chunk, (off_t)pos) != (ssize_t)chunk)
                return VIRTIO_BLK_S_IOERR;
            pos += chunk;
            left -= chunk;
        }
    }
    return VIRTIO_BLK_S_OK;
}

/* One request: its status, and the bytes written into its in-buffers. -1 when
 * the request itself is malformed (the device then needs a reset). */
static int blk_request(VirtIOBlk *s, VirtQueue *vq, const VirtQueueElement *e, uint8_t *status,
                       uint32_t *written)
{
    VirtIODevice *vdev = &s->vdev;
    uint8_t hdr[16];
    if (e->out_len < sizeof(hdr) || e->in_len < 1) {
        virtio_error(vdev, "request without a readable header or a writable status byte");
        return -1;
    }
    if (virtqueue_read_out(vq, e, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
        virtio_error(vdev, "request header not readable");
        return -1;
    }
    /* {le32 type, le32 reserved, le64 sector} */
    uint32_t type = get_le32(hdr);
    uint64_t sector = get_le64(hdr + 8);
    uint64_t out_data = e->out_len - sizeof(hdr), in_data = e->in_len - 1;
    *written = 0;
    *status = VIRTIO_BLK_S_OK;
    int r = 0;
    switch (type) {
    case VIRTIO_BLK_T_IN:
        if (out_data) {
            virtio_error(vdev, "read request with device-readable data buffers");
            return -1;
        }
        if (in_data % SECTOR_SIZE || !range_ok(s, sector, in_data)) {
            *status = VIRTIO_BLK_S_IOERR;
            break;
        }
        r = blk_rw(s, vq, e, 0, sector * SECTOR_SIZE, in_data, true);
        *written = (uint32_t)in_data;
        break;
    case VIRTIO_BLK_T_OUT:
        if (in_data) {
            virtio_error(vdev, "write request with device-writable data buffers");
            return -1;
        }
        if (s->readonly || out_data % SECTOR_SIZE || !range_ok(s, sector, out_data)) {
            *status = VIRTIO_BLK_S_IOERR;
            break;
        }
        r = blk_rw(s, vq, e, sizeof(hdr), sector * SECTOR_SIZE, out_data, false);
        break;
    case VIRTIO_BLK_T_FLUSH:
        if (!s->readonly && fdatasync(s->fd) < 0)
            r = -1;
        break;
    case VIRTIO_BLK_T_GET_ID: {
        /* Not NUL-terminated when the name fills all 20 bytes (§5.2.6). */
        char id[BLK_ID_BYTES] = { 0 };
        size_t idlen = strlen(vdev->pci.dev.id);
        memcpy(id, vdev->pci.dev.id, idlen < sizeof(id) ? idlen : sizeof(id));
        uint64_t n = in_data < sizeof(id) ? in_data : sizeof(id);
        if (virtqueue_write_in(vq, e, 0, id, n) != (int64_t)n)
            r = -2;
        *written = (uint32_t)n;
        break;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        *status = blk_discard(s, vq, e, out_data, type == VIRTIO_BLK_T_WRITE_ZEROES);
        break;
    default:
        *status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (r == -2) {
        virtio_error(vdev, "request buffer not accessible");
        return -1;
    }
    if (r == -1) {
        log_guest_error("%s: I/O error on %s (type %u, sector %" PRIu64 "): %s",
                        vdev->pci.dev.id, s->path, type, sector, strerror(errno));
        *status = VIRTIO_BLK_S_IOERR;
        *written = 0;
    }
    return 0;
}

static int blk_handle_queue(VirtIODevice *vdev, unsigned q)
{
    VirtIOBlk *s = (VirtIOBlk *)vdev;
    VirtQueue *vq = &vdev->vq[q];
    VirtQueueElement *e = vdev->elem;
    int r;
    while ((r = virtqueue_pop(vq, e)) > 0) {
        uint8_t status;
        uint32_t written;
        if (blk_request(s, vq, e, &status, &written) < 0)
            return -1;
        /* The status byte is the last byte of the device-writable buffers. */
        if (virtqueue_write_in(vq, e, e->in_len - 1, &status, 1) != 1) {
            virtio_error(vdev, "status byte not writable");
            return -1;
        }
        if (virtqueue_push(vq, e, written + 1) < 0)
            break;
    }
    return vq->broken ? -1 : 0;
}

static const VirtIODeviceOps blk_ops = {
    .device_id = VIRTIO_ID_BLOCK,
    .pci_class = 0x018000,
    .nr_queues = 1,
    .queue_size = 256,
    .features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD |
                1ull << VIRTIO_BLK_F_WRITE_ZEROES,
    .handle_queue = blk_handle_queue,
};

/* Opens and locks the image; errors name it (the caller exits with status 2). */
static int blk_open(VirtIOBlk *s)
{
    s->fd = open(s->path, (s->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (s->fd < 0) {
        log_error("--disk: cannot open path=%s: %s", s->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_error("--disk: path=%s is not a regular file (raw image)", s->path);
        return -1;
    }
    struct flock fl = { .l_type = s->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(s->fd, F_OFD_SETLK, &fl) < 0) {
        log_error("--disk: path=%s is locked by another process (%s)", s->path, strerror(errno));
        return -1;
    }
    s->sectors = (uint64_t)st.st_size / SECTOR_SIZE;
    return 0;
}

static int blk_realize(Device *dev)
{
    VirtIOBlk *s = DEVICE_CAST(VirtIOBlk, dev);
    if (blk_open(s) < 0)
        return -1;
    s->bounce = malloc(BLK_BOUNCE);
    if (!s->bounce)
        return -1;
    put_le(s->config + 0, s->sectors, 8);
    put_le(s->config + 12, BLK_SEG_MAX, 4);
    put_le(s->config + 20, SECTOR_SIZE, 4);
    put_le(s->config + 34, 1, 2);
    put_le(s->config + 36, BLK_MAX_DISCARD, 4);
    put_le(s->config + 40, BLK_DISCARD_SEGS, 4);
    put_le(s->config + 44, 1, 4);
    put_le(s->config + 48, BLK_MAX_DISCARD, 4);
    put_le(s->config + 52, BLK_DISCARD_SEGS, 4);
    s->vdev.ops = &blk_ops;
    s->vdev.config = s->config;
    s->vdev.config_len = sizeof(s->config);
    if (s->readonly) {
        /* Same ops but RO offered: a per-instance copy of the description. */
        static const VirtIODeviceOps ro_ops = {
            .device_id = VIRTIO_ID_BLOCK, .pci_class = 0x018000, .nr_queues = 1,
            .queue_size = 256,
            .features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                        1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_RO,
            .handle_queue = blk_handle_queue,
        };
        s->vdev.ops = &ro_ops;
    }
    return virtio_pci_realize(&s->vdev);
}

static void blk_unrealize(Device *dev)
{
    VirtIOBlk *s = DEVICE_CAST(VirtIOBlk, dev);
    virtio_pci_unrealize(&s->vdev);
    if (s->fd >= 0)
        close(s->fd);   /* drops the OFD lock */
    free(s->bounce);
    free(s->path);
}

static const DeviceClass blk_class = {
    .name = "virtio-blk",
    .instance_size = sizeof(VirtIOBlk),
    .realize = blk_realize,
    .unrealize = blk_unrealize,
};

int virtio_blk_init(struct vm *vm, const char *path, bool readonly, bool iommu, const char *id)
{
    Device *dev = device_new(vm, &blk_class, id);
    if (!dev)
        return -1;
    VirtIOBlk *s = DEVICE_CAST(VirtIOBlk, dev);
    s->fd = -1;
    s->path = strdup(path);
    s->readonly = readonly;
    s->vdev.iommu_platform = iommu;
    return device_realize(dev);
}
