/* virtio-net's device half (virtio/net.c) and its backends (net_slirp.c:
 * user-mode networking; net_tap.c: a TUN/TAP interface). Everything here runs
 * on the device's I/O thread: the backend's fds are polled there
 * (VirtIODeviceOps.backend_poll/ready), frames from the guest reach the
 * backend from the transmit queue's handler, and frames for the guest are
 * handed to virtio_net_receive. */
#ifndef MINIVMM_VIRTIO_NET_H
#define MINIVMM_VIRTIO_NET_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/options.h"
#include "virtio/virtio.h"

/* struct virtio_net_hdr_v1 (§5.1.6): with VERSION_1 every frame has it. */
#define VIRTIO_NET_HDR_LEN     12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1

typedef struct VirtIONet VirtIONet;
typedef struct NetBackend NetBackend;

struct NetBackend {
    /* The backend takes and gives frames with the 12-byte header (tap with
     * IFF_VNET_HDR) rather than bare Ethernet frames (slirp). */
    bool vnet_hdr;
    uint64_t features;       /* offload feature bits the backend can honour */
    int (*poll)(NetBackend *b, struct pollfd *fds, int max, int *timeout_ms);
    void (*ready)(NetBackend *b, struct pollfd *fds, int n);
    /* A frame from the guest (with the header when vnet_hdr). */
    void (*send)(NetBackend *b, const uint8_t *frame, size_t len);
    void (*free)(NetBackend *b);
    VirtIONet *net;          /* set by the device */
};

/* A frame for the guest: header (NULL: none, all zero) and Ethernet frame.
 * Queued (a few) while the guest has no receive buffers, dropped beyond. */
void virtio_net_receive(VirtIONet *n, const uint8_t *hdr, const uint8_t *frame, size_t len);
/* Whether virtio_net_receive would take a frame now (for backends that can
 * leave frames in the host's queue instead, like a tap). */
bool virtio_net_can_receive(VirtIONet *n);

/* Backends: NULL after one error line naming the problem. */
NetBackend *net_slirp_new(const VirtioNetOptions *o);
NetBackend *net_tap_new(const VirtioNetOptions *o);
/* The tap backend on an open fd that behaves as a tap with IFF_VNET_HDR (one
 * frame, header first, per read and per write; non-blocking): what
 * net_tap_new builds on, and a socketpair for tests/bench/bench_net.c. Takes
 * the fd (closed on failure too); `name` for log lines. */
NetBackend *net_tap_new_fd(int fd, const char *name);
/* virtio-net on a backend the caller made (the device takes it); 0 or -1. */
int virtio_net_init_backend(struct vm *vm, NetBackend *b, const VirtioNetOptions *o, bool iommu);

#endif
