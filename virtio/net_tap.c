/* --net tap=IFNAME: an existing TUN/TAP interface, opened with IFF_VNET_HDR so
 * frames cross with the virtio-net header and the kernel does the offloads:
 * the guest may hand us frames with a partial checksum (VIRTIO_NET_F_CSUM)
 * and TCP segments up to 64 KiB (HOST_TSO4/6, ECN), which the tap segments
 * and checksums. Guest-side offloads (GUEST_CSUM/TSO) are not offered: frames
 * for the guest come checksummed and MTU-sized, so a receive buffer of one
 * page holds any of them.
 *
 * The interface must exist (ip tuntap add ... user $USER): attaching to a
 * name that does not would create it, which is not what a typo should do.
 * Frames from the tap are read only while the guest can take them, so the
 * rest waits in the kernel's queue instead of being dropped here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/net.h"

#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define TAP_BUF                 (VIRTIO_NET_HDR_LEN + 65535 + 14)
#define TAP_READS_PER_WAKE      64

typedef struct NetTap {
    NetBackend b;            /* first */
    int fd;
    char ifname[IFNAMSIZ];
    uint8_t *buf;
} NetTap;

static int tap_poll(NetBackend *b, struct pollfd *fds, int max, int *timeout_ms)
{
    NetTap *t = (NetTap *)b;
    (void)timeout_ms;
    if (max < 1 || !virtio_net_can_receive(b->net))
        return 0;
    fds[0] = (struct pollfd){ .fd = t->fd, .events = POLLIN };
    return 1;
}

static void tap_ready(NetBackend *b, struct pollfd *fds, int n)
{
    NetTap *t = (NetTap *)b;
    if (n < 1 || !(fds[0].revents & POLLIN))
        return;
    for (int i = 0; i < TAP_READS_PER_WAKE && virtio_net_can_receive(b->net); i++) {
        ssize_t len = read(t->fd, t->buf, TAP_BUF);
        if (len < 0 && errno == EINTR)
            continue;
        if (len < 0) {
            if (errno != EAGAIN)
                log_warn("--net tap=%s: read: %s", t->ifname, strerror(errno));
            return;
        }
        if (len <= VIRTIO_NET_HDR_LEN)
            continue;
        /* No guest offloads were negotiated: no checksum or GSO hints. */
        memset(t->buf, 0, VIRTIO_NET_HDR_LEN);
        virtio_net_receive(b->net, t->buf, t->buf + VIRTIO_NET_HDR_LEN,
                           (size_t)len - VIRTIO_NET_HDR_LEN);
    }
}

static void tap_send(NetBackend *b, const uint8_t *frame, size_t len)
{
    NetTap *t = (NetTap *)b;
    ssize_t r;
    do {
        r = write(t->fd, frame, len);
    } while (r < 0 && errno == EINTR);
    /* A full tap queue (EAGAIN) drops the frame, as a busy link would. */
    if (r < 0 && errno != EAGAIN)
        log_guest_error("--net tap=%s: write of %zu bytes: %s", t->ifname, len, strerror(errno));
}

static void tap_free(NetBackend *b)
{
    NetTap *t = (NetTap *)b;
    if (t->fd >= 0)
        close(t->fd);
    free(t->buf);
    free(t);
}

NetBackend *net_tap_new_fd(int fd, const char *name)
{
    NetTap *t = calloc(1, sizeof(*t));
    if (!t || !(t->buf = malloc(TAP_BUF))) {
        log_error("--net tap=%s: out of memory", name);
        free(t);
        close(fd);
        return NULL;
    }
    t->b = (NetBackend){ .vnet_hdr = true, .poll = tap_poll, .ready = tap_ready,
                         .send = tap_send, .free = tap_free };
    snprintf(t->ifname, sizeof(t->ifname), "%s", name);
    t->fd = fd;
    t->b.features = 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_HOST_TSO4 |
                    1ull << VIRTIO_NET_F_HOST_TSO6 | 1ull << VIRTIO_NET_F_HOST_ECN;
    return &t->b;
}

NetBackend *net_tap_new(const VirtioNetOptions *o)
{
    if (!if_nametoindex(o->ifname)) {
        log_error("--net tap=%s: no such network interface (create it first: "
                  "ip tuntap add dev %s mode tap user $USER)", o->ifname, o->ifname);
        return NULL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
    memcpy(ifr.ifr_name, o->ifname, sizeof(ifr.ifr_name));
    int hdr_len = VIRTIO_NET_HDR_LEN;
    const char *what = "open /dev/net/tun";
    if (fd >= 0) {
        what = "attach (TUNSETIFF; is it a tap this user may use?)";
        if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
            what = "TUNSETVNETHDRSZ";
            if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) == 0)
                what = NULL;
        }
    }
    if (what) {
        log_error("--net tap=%s: %s: %s", o->ifname, what, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    return net_tap_new_fd(fd, o->ifname);
}
