/* The vfio-user client backend: VFIOBackendOps over a UNIX socket to a server
 * (QEMU docs/interop/vfio-user.rst). One request at a time under a lock, each
 * reply checked by vfio_user_proto.c before anything in it is used. A server
 * that hangs up, times out or breaks the protocol makes the backend "gone":
 * every later call fails with -EIO at once (the model then reads all-ones). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "devices/vfio/vfio_user_proto.h"
#include "devices/vfio/vfio_user_sock.h"
#include "util/log.h"

#define REPLY_TIMEOUT_S 5

typedef struct VFUClient {
    VFIOBackend be;
    int sock;
    pthread_mutex_t lock;
    uint16_t next_id;
    bool gone;
    /* per region: the fd for its mmap-able areas and where the region starts in it */
    int region_fd[VFIO_MAX_REGIONS];
    uint64_t region_fd_offset[VFIO_MAX_REGIONS];
    VFIORegionInfo regions[VFIO_MAX_REGIONS];
    uint8_t buf[VFU_MAX_MSG];
} VFUClient;

static VFUClient *client(VFIOBackend *b) { return (VFUClient *)b; }

static void mark_gone(VFUClient *c, const char *why)
{
    if (!c->gone)
        log_error("vfio-user %s: %s; the device is gone", c->be.name, why);
    c->gone = true;
}

static int send_msg(VFUClient *c, uint16_t cmd, const uint8_t *payload, size_t len,
                    const int *fds, unsigned nr_fds)
{
    uint8_t hdr[VFU_HDR_SIZE];
    vfu_put_header(hdr, &(VFUHeader){ .id = ++c->next_id, .cmd = cmd,
                                      .size = (uint32_t)(VFU_HDR_SIZE + len) });
    return vfu_send(c->sock, hdr, payload, len, fds, nr_fds);
}

/* One request and its reply. The reply's payload is at c->buf + 16, *len long.
 * A reply with the error flag returns -error (the server refused: the backend
 * stays usable); anything malformed makes the backend gone. */
static int transact(VFUClient *c, uint16_t cmd, const uint8_t *payload, size_t len,
                    const int *fds, unsigned nr_fds, size_t *reply_len, int *rfds,
                    unsigned max_rfds, unsigned *nr_rfds)
{
    unsigned dummy;
    if (!nr_rfds)
        nr_rfds = &dummy;
    *nr_rfds = 0;
    if (c->gone)
        return -EIO;
    if (send_msg(c, cmd, payload, len, fds, nr_fds)) {
        mark_gone(c, "the server hung up");
        return -EIO;
    }
    VFUHeader h;
    if (vfu_recv(c->sock, c->buf, &h, rfds, max_rfds, nr_rfds)) {
        mark_gone(c, "no reply (hung up, timed out or sent a short message)");
        return -EIO;
    }
    if (h.id != c->next_id || h.cmd != cmd ||
        (h.flags & VFU_F_TYPE_MASK) != VFU_TYPE_REPLY) {
        vfu_close_fds(rfds, *nr_rfds);
        *nr_rfds = 0;
        mark_gone(c, "a reply that does not match the request");
        return -EIO;
    }
    if (h.flags & VFU_F_ERROR) {
        vfu_close_fds(rfds, *nr_rfds);
        *nr_rfds = 0;
        return h.error && h.error < 4096 ? -(int)h.error : -EIO;
    }
    *reply_len = h.size - VFU_HDR_SIZE;
    return 0;
}

static int protocol_error(VFUClient *c, const char *what)
{
    char why[96];
    snprintf(why, sizeof(why), "malformed %s reply", what);
    mark_gone(c, why);
    return -EIO;
}

#define CALL(c, ...) ({ pthread_mutex_lock(&(c)->lock); int r_ = __VA_ARGS__; \
                        pthread_mutex_unlock(&(c)->lock); r_; })

static int do_device_info(VFUClient *c, unsigned *nr_regions, unsigned *nr_irqs)
{
    uint8_t req[16];
    size_t len;
    int r = transact(c, VFU_DEVICE_GET_INFO, req, vfu_build_index_request(req, 16, 0), NULL,
                     0, &len, NULL, 0, NULL);
    if (r)
        return r;
    if (vfu_parse_device_info(c->buf + VFU_HDR_SIZE, len, nr_regions, nr_irqs))
        return protocol_error(c, "device info");
    return 0;
}

static int u_device_info(VFIOBackend *b, unsigned *nr_regions, unsigned *nr_irqs)
{
    VFUClient *c = client(b);
    return CALL(c, do_device_info(c, nr_regions, nr_irqs));
}

static int do_region_info(VFUClient *c, unsigned index, VFIORegionInfo *out)
{
    uint8_t req[32];
    size_t len;
    int fd = -1;
    unsigned nr_fds;
    int r = transact(c, VFU_DEVICE_GET_REGION_INFO, req,
                     vfu_build_index_request(req, VFU_MAX_MSG - VFU_HDR_SIZE, index), NULL, 0,
                     &len, &fd, 1, &nr_fds);
    if (r)
        return r;
    uint64_t fd_offset;
    if (index >= VFIO_MAX_REGIONS ||
        vfu_parse_region_info(c->buf + VFU_HDR_SIZE, len, index, nr_fds, out, &fd_offset)) {
        vfu_close_fds(&fd, nr_fds);
        return protocol_error(c, "region info");
    }
    if (c->region_fd[index] >= 0)
        close(c->region_fd[index]);
    c->region_fd[index] = nr_fds ? fd : -1;
    c->region_fd_offset[index] = fd_offset;
    c->regions[index] = *out;
    return 0;
}

static int u_region_info(VFIOBackend *b, unsigned index, VFIORegionInfo *out)
{
    VFUClient *c = client(b);
    return CALL(c, do_region_info(c, index, out));
}

static int do_region_rw(VFUClient *c, unsigned index, uint64_t off, void *buf, unsigned len,
                        bool write)
{
    if (len > VFU_MAX_DATA)
        return -EINVAL;
    uint8_t req[16 + VFU_MAX_DATA];
    size_t rlen;
    int r = transact(c, write ? VFU_REGION_WRITE : VFU_REGION_READ, req,
                     vfu_build_region_access(req, index, off, len, write ? buf : NULL), NULL,
                     0, &rlen, NULL, 0, NULL);
    if (r)
        return r;
    const uint8_t *data;
    if (vfu_parse_region_reply(c->buf + VFU_HDR_SIZE, rlen, index, off, len, !write, &data))
        return protocol_error(c, "region access");
    if (!write)
        memcpy(buf, data, len);   /* a message buffer, not device memory */
    return 0;
}

static int u_region_read(VFIOBackend *b, unsigned index, uint64_t off, void *buf, unsigned len)
{
    VFUClient *c = client(b);
    return CALL(c, do_region_rw(c, index, off, buf, len, false));
}

static int u_region_write(VFIOBackend *b, unsigned index, uint64_t off, const void *buf,
                          unsigned len)
{
    VFUClient *c = client(b);
    return CALL(c, do_region_rw(c, index, off, (void *)buf, len, true));
}

static void *u_region_mmap(VFIOBackend *b, unsigned index, unsigned area)
{
    VFUClient *c = client(b);
    if (index >= VFIO_MAX_REGIONS || c->region_fd[index] < 0 ||
        area >= c->regions[index].nr_areas) {
        errno = EINVAL;
        return NULL;
    }
    const VFIOArea *a = &c->regions[index].areas[area];
    void *p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->region_fd[index],
                   (off_t)(c->region_fd_offset[index] + a->offset));
    return p == MAP_FAILED ? NULL : p;
}

static int do_simple(VFUClient *c, uint16_t cmd, const uint8_t *req, size_t len,
                     const int *fds, unsigned nr_fds)
{
    size_t rlen;
    return transact(c, cmd, req, len, fds, nr_fds, &rlen, NULL, 0, NULL);
}

static int do_irq_info(VFUClient *c, unsigned index, uint32_t *count, uint32_t *flags)
{
    uint8_t req[16];
    size_t len;
    int r = transact(c, VFU_DEVICE_GET_IRQ_INFO, req, vfu_build_index_request(req, 16, index),
                     NULL, 0, &len, NULL, 0, NULL);
    if (r)
        return r;
    if (vfu_parse_irq_info(c->buf + VFU_HDR_SIZE, len, index, count, flags))
        return protocol_error(c, "irq info");
    return 0;
}

static int u_irq_info(VFIOBackend *b, unsigned index, uint32_t *count, uint32_t *flags)
{
    VFUClient *c = client(b);
    return CALL(c, do_irq_info(c, index, count, flags));
}

static int u_irq_set(VFIOBackend *b, unsigned index, unsigned start, unsigned count,
                     const int *fds)
{
    VFUClient *c = client(b);
    uint8_t req[20];
    /* Vectors are set in batches of what one message can carry. */
    if (!count)
        return CALL(c, do_simple(c, VFU_DEVICE_SET_IRQS, req, vfu_build_irq_set(req,
                    &(VFUIrqSet){ VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                                  index, 0, 0 }), NULL, 0));
    for (unsigned i = 0; i < count;) {
        unsigned n = count - i < VFU_MAX_FDS ? count - i : VFU_MAX_FDS;
        int r = CALL(c, do_simple(c, VFU_DEVICE_SET_IRQS, req, vfu_build_irq_set(req,
                     &(VFUIrqSet){ VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                   index, start + i, n }), fds + i, n));
        if (r)
            return r;
        i += n;
    }
    return 0;
}

static int u_irq_unmask(VFIOBackend *b, unsigned index)
{
    VFUClient *c = client(b);
    uint8_t req[20];
    return CALL(c, do_simple(c, VFU_DEVICE_SET_IRQS, req, vfu_build_irq_set(req,
                &(VFUIrqSet){ VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index, 0,
                              1 }), NULL, 0));
}

static int u_dma_map(VFIOBackend *b, uint64_t iova, uint64_t size, void *host, int fd,
                     uint64_t fd_offset, bool writable)
{
    (void)host;   /* the server maps the fd itself */
    VFUClient *c = client(b);
    if (fd < 0)
        return -EINVAL;
    uint8_t req[32];
    VFUDMAMap m = { .flags = VFU_DMA_READ | (writable ? VFU_DMA_WRITE : 0),
                    .offset = fd_offset, .addr = iova, .size = size };
    return CALL(c, do_simple(c, VFU_DMA_MAP, req, vfu_build_dma_map(req, &m), &fd, 1));
}

static int u_dma_unmap(VFIOBackend *b, uint64_t iova, uint64_t size)
{
    VFUClient *c = client(b);
    uint8_t req[24];
    return CALL(c, do_simple(c, VFU_DMA_UNMAP, req, vfu_build_dma_unmap(req, iova, size),
                             NULL, 0));
}

static int u_reset(VFIOBackend *b)
{
    VFUClient *c = client(b);
    return CALL(c, do_simple(c, VFU_DEVICE_RESET, NULL, 0, NULL, 0));
}

static void u_destroy(VFIOBackend *b)
{
    VFUClient *c = client(b);
    vfu_close_fds(c->region_fd, VFIO_MAX_REGIONS);
    if (c->sock >= 0)
        close(c->sock);
    pthread_mutex_destroy(&c->lock);
    g_free(c->be.name);
    g_free(c);
}

static const VFIOBackendOps vfio_user_ops = {
    .kind = "vfio-user",
    .device_info = u_device_info,
    .region_info = u_region_info,
    .region_read = u_region_read,
    .region_write = u_region_write,
    .region_mmap = u_region_mmap,
    .irq_info = u_irq_info,
    .irq_set = u_irq_set,
    .irq_unmask = u_irq_unmask,
    .dma_map = u_dma_map,
    .dma_unmap = u_dma_unmap,
    .reset = u_reset,
    .destroy = u_destroy,
};

static int negotiate(VFUClient *c)
{
    uint8_t req[128];
    size_t len;
    int r = transact(c, VFU_VERSION, req, vfu_build_version(req, sizeof(req)), NULL, 0, &len,
                     NULL, 0, NULL);
    if (r) {
        log_error("vfio-user %s: no version reply (%s)", c->be.name, strerror(-r));
        return -1;
    }
    uint16_t major, minor;
    r = vfu_parse_version(c->buf + VFU_HDR_SIZE, len, &major, &minor);
    if (r == -EPROTONOSUPPORT) {
        log_error("vfio-user %s: the server speaks protocol version %u.%u, we speak %u.%u",
                  c->be.name, major, minor, VFU_MAJOR, VFU_MINOR);
        return -1;
    }
    if (r) {
        log_error("vfio-user %s: malformed version reply", c->be.name);
        return -1;
    }
    return 0;
}

VFIOBackend *vfio_user_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_error("--user-device: socket path '%s' is too long", path);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        log_error("--user-device: cannot connect to vfio-user server at '%s': %s", path,
                  strerror(errno));
        if (s >= 0)
            close(s);
        return NULL;
    }
    return vfio_user_connect_fd(s, path);
}

VFIOBackend *vfio_user_connect_fd(int s, const char *name)
{
    /* A server that stops answering must not hang a vCPU for good. */
    struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    VFUClient *c = g_new0(VFUClient, 1);
    c->be.ops = &vfio_user_ops;
    c->be.name = g_strdup(name);
    c->sock = s;
    pthread_mutex_init(&c->lock, NULL);
    for (unsigned i = 0; i < VFIO_MAX_REGIONS; i++)
        c->region_fd[i] = -1;
    if (negotiate(c)) {
        u_destroy(&c->be);
        return NULL;
    }
    return &c->be;
}
