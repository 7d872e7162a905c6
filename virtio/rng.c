/* virtio-rng (virtio 1.2 §5.4): one request queue; each request is a
 * device-writable buffer the device fills from the entropy source (default
 * /dev/urandom) on its I/O thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define VIRTIO_ID_RNG   4
#define RNG_CHUNK       4096   /* bytes filled per request at most */

typedef struct VirtIORng {
    VirtIODevice vdev;       /* first */
    char *src;
    int fd;
} VirtIORng;

static int rng_handle_queue(VirtIODevice *vdev, unsigned q)
{
    VirtIORng *s = (VirtIORng *)vdev;
    VirtQueue *vq = &vdev->vq[q];
    VirtQueueElement *e = vdev->elem;
    uint8_t buf[RNG_CHUNK];
    int r;
    while ((r = virtqueue_pop(vq, e)) > 0) {
        if (e->nr_in == 0) {
            virtio_error(vdev, "entropy request without a device-writable buffer");
            return -1;
        }
        uint64_t want = e->in_len < sizeof(buf) ? e->in_len : sizeof(buf);
        ssize_t got = want ? read(s->fd, buf, want) : 0;
        if (got < 0) {
            log_guest_error("%s: reading %s: %s", vdev->pci.dev.id, s->src, strerror(errno));
            got = 0;
        }
        if (virtqueue_write_in(vq, e, 0, buf, (uint64_t)got) != got) {
            virtio_error(vdev, "entropy buffer not writable");
            return -1;
        }
        if (virtqueue_push(vq, e, (uint32_t)got) < 0)
            break;
    }
    return vq->broken ? -1 : 0;
}

static const VirtIODeviceOps rng_ops = {
    .device_id = VIRTIO_ID_RNG,
    .pci_class = 0x00ff00,
    .nr_queues = 1,
    .queue_size = 256,
    .handle_queue = rng_handle_queue,
};

static int rng_realize(Device *dev)
{
    VirtIORng *s = DEVICE_CAST(VirtIORng, dev);
    s->vdev.ops = &rng_ops;
    s->fd = open(s->src, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        log_error("--rng: cannot open src=%s: %s", s->src, strerror(errno));
        return -1;
    }
    return virtio_pci_realize(&s->vdev);
}

static void rng_unrealize(Device *dev)
{
    VirtIORng *s = DEVICE_CAST(VirtIORng, dev);
    virtio_pci_unrealize(&s->vdev);
    if (s->fd >= 0)
        close(s->fd);
    free(s->src);
}

static const DeviceClass rng_class = {
    .name = "virtio-rng",
    .instance_size = sizeof(VirtIORng),
    .realize = rng_realize,
    .unrealize = rng_unrealize,
};

int virtio_rng_init(struct vm *vm, const char *src, bool iommu)
{
    Device *dev = device_new(vm, &rng_class, NULL);
    if (!dev)
        return -1;
    VirtIORng *s = DEVICE_CAST(VirtIORng, dev);
    s->fd = -1;
    s->src = strdup(src ? src : "/dev/urandom");
    s->vdev.iommu_platform = iommu;
    return device_realize(dev);
}
