/* virtio-console (virtio 1.2 §5.3) with one port (no MULTIPORT): queue 0
 * receives (host -> guest), queue 1 transmits. Linux names it hvc0.
 *
 * Output goes to the terminal (stdout) or a file, written on the device's I/O
 * thread, so a slow terminal holds up the guest's console writes, never a
 * vCPU. Input, in tty mode with stdin a terminal, is read on the same thread
 * (cooked mode: lines go to the guest at Enter, and Ctrl-C still ends
 * minivmm; the serial console is where the raw terminal lives) into a small
 * buffer that fills the guest's receive buffers as it posts them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/options.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define VIRTIO_ID_CONSOLE  3
#define CONSOLE_RX         0
#define CONSOLE_TX         1
#define CONSOLE_CONFIG     12     /* cols, rows, max_nr_ports, emerg_wr */
#define CONSOLE_IN_BUF     4096
#define CONSOLE_OUT_CHUNK  4096

typedef struct VirtIOConsole {
    VirtIODevice vdev;       /* first */
    char *path;              /* file mode */
    int out_fd;
    bool out_fd_owned;
    bool input;              /* stdin is read (tty mode on a terminal) */
    uint8_t config[CONSOLE_CONFIG];
    uint8_t in[CONSOLE_IN_BUF];
    size_t in_len;           /* I/O thread only */
} VirtIOConsole;

static void write_all(VirtIOConsole *s, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(s->out_fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("%s: output dropped: %s", s->vdev.pci.dev.id, strerror(errno));
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

static int console_tx(VirtIOConsole *s, VirtQueue *vq)
{
    VirtQueueElement *e = s->vdev.elem;
    uint8_t buf[CONSOLE_OUT_CHUNK];
    int r;
    while ((r = virtqueue_pop(vq, e)) > 0) {
        for (uint64_t off = 0; off < e->out_len;) {
            uint64_t want = e->out_len - off < sizeof(buf) ? e->out_len - off : sizeof(buf);
            int64_t got = virtqueue_read_out(vq, e, off, buf, want);
            if (got <= 0) {
                virtio_error(&s->vdev, "console output buffer not readable");
                return -1;
            }
            if (s->out_fd >= 0)
                write_all(s, buf, (size_t)got);
            off += (uint64_t)got;
        }
        if (virtqueue_push(vq, e, 0) < 0)
            break;
    }
    return vq->broken ? -1 : 0;
}

/* Buffered input into the guest's receive buffers, one buffer per pop. */
static int console_rx(VirtIOConsole *s, VirtQueue *vq)
{
    VirtQueueElement *e = s->vdev.elem;
    while (s->in_len) {
        int r = virtqueue_pop(vq, e);
        if (r <= 0)
            break;
        if (e->nr_in == 0) {
            virtio_error(&s->vdev, "console receive buffer without a device-writable part");
            return -1;
        }
        size_t n = s->in_len < e->in_len ? s->in_len : (size_t)e->in_len;
        if (virtqueue_write_in(vq, e, 0, s->in, n) != (int64_t)n) {
            virtio_error(&s->vdev, "console receive buffer not writable");
            return -1;
        }
        memmove(s->in, s->in + n, s->in_len - n);
        s->in_len -= n;
        if (virtqueue_push(vq, e, (uint32_t)n) < 0)
            break;
    }
    return vq->broken ? -1 : 0;
}

static int console_handle_queue(VirtIODevice *vdev, unsigned q)
{
    VirtIOConsole *s = (VirtIOConsole *)vdev;
    if (q == CONSOLE_TX)
        return console_tx(s, &vdev->vq[q]);
    return console_rx(s, &vdev->vq[q]) < 0 ? -1 : VIRTIO_QUEUE_KEEPS_BUFFERS;
}

static int console_backend_poll(VirtIODevice *vdev, struct pollfd *fds, int max, int *timeout)
{
    VirtIOConsole *s = (VirtIOConsole *)vdev;
    (void)timeout;
    if (!s->input || max < 1 || s->in_len == sizeof(s->in))
        return 0;
    fds[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
    return 1;
}

static void console_backend_ready(VirtIODevice *vdev, struct pollfd *fds, int n)
{
    VirtIOConsole *s = (VirtIOConsole *)vdev;
    if (n == 1 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t got = read(STDIN_FILENO, s->in + s->in_len, sizeof(s->in) - s->in_len);
        if (got > 0)
            s->in_len += (size_t)got;
        else if (got == 0 || errno != EINTR)
            s->input = false;   /* end of input: the guest sees no more */
    }
    if (!s->in_len || !virtio_queues_live(vdev) || !vdev->vq[CONSOLE_RX].size)
        return;
    console_rx(s, &vdev->vq[CONSOLE_RX]);
    if (vdev->vq[CONSOLE_RX].broken)
        virtio_error(vdev, "queue %u: %s", CONSOLE_RX, vdev->vq[CONSOLE_RX].error);
    else
        virtio_queue_notify(vdev, CONSOLE_RX);
}

static void console_reset(VirtIODevice *vdev)
{
    ((VirtIOConsole *)vdev)->in_len = 0;
}

static const VirtIODeviceOps console_ops = {
    .device_id = VIRTIO_ID_CONSOLE,
    .pci_class = 0x078000,   /* simple communications controller, other */
    .nr_queues = 2,
    .queue_size = 128,
    .handle_queue = console_handle_queue,
    .reset = console_reset,
    .backend_poll = console_backend_poll,
    .backend_ready = console_backend_ready,
};

static int console_realize(Device *dev)
{
    VirtIOConsole *s = DEVICE_CAST(VirtIOConsole, dev);
    s->vdev.ops = &console_ops;
    if (s->path) {
        s->out_fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (s->out_fd < 0) {
            log_error("--console: file=%s: %s", s->path, strerror(errno));
            return -1;
        }
        s->out_fd_owned = true;
    } else {
        s->out_fd = STDOUT_FILENO;
        s->input = isatty(STDIN_FILENO);
    }
    s->config[4] = 1;        /* max_nr_ports (read only with MULTIPORT) */
    s->vdev.config = s->config;
    s->vdev.config_len = sizeof(s->config);
    return virtio_pci_realize(&s->vdev);
}

static void console_unrealize(Device *dev)
{
    VirtIOConsole *s = DEVICE_CAST(VirtIOConsole, dev);
    virtio_pci_unrealize(&s->vdev);
    if (s->out_fd_owned)
        close(s->out_fd);
    free(s->path);
}

static const DeviceClass console_class = {
    .name = "virtio-console",
    .instance_size = sizeof(VirtIOConsole),
    .realize = console_realize,
    .unrealize = console_unrealize,
};

int virtio_console_init(struct vm *vm, const char *path, bool iommu)
{
    Device *dev = device_new(vm, &console_class, NULL);
    if (!dev)
        return -1;
    VirtIOConsole *s = DEVICE_CAST(VirtIOConsole, dev);
    s->out_fd = -1;
    s->path = path ? strdup(path) : NULL;
    s->vdev.iommu_platform = iommu;
    return device_realize(dev);
}
