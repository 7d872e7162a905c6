/* virtio-net's device model per 1514-byte Ethernet frame, transmit and
 * receive, without KVM: a fake VM with RAM and the PCI host, the tap backend
 * (virtio/net_tap.c, IFF_VNET_HDR framing) on one end of a SOCK_SEQPACKET
 * socketpair, which keeps a tap's one-frame-per-read/write boundaries, and a
 * driver with 256-entry split rings, EVENT_IDX, MRG_RXBUF and MSI-X as irqfds.
 * The bench plays the wire on the other end, outside the counted functions.
 *   tx: the driver publishes one chain (header + frame, one descriptor, as
 *       Linux sends a linear frame) and the I/O thread's pass runs
 *       (virtio_device_run): pop, copy through the DMA layer, write() to the
 *       tap, used entry, interrupt.
 *   rx: the driver has posted a 2 KiB buffer, a frame waits on the tap and the
 *       I/O thread's wake-up runs (backend_poll + backend_ready): read() from
 *       the tap (and the one that finds it empty), pop, copy into the buffer
 *       through the DMA layer, used entry, interrupt.
 * Usage: bench_net N tx|rx. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/virtio_driver.h"
#include "virtio/net.h"
#include "vmm/irq.h"

#define QSIZE     256
#define RX_Q      0
#define TX_Q      1
/* The receive ring is at VQ_DESC/VQ_AVAIL/VQ_USED (pages 0x10-0x12); the rest
 * is placed on other entries of the DMA layer's 16-entry direct-mapped cache
 * (indexed by page number), as bench_virtio.c does. */
#define TX_DESC   0x43000ull
#define TX_AVAIL  0x44000ull
#define TX_USED   0x45000ull
#define TX_BUF    0x56000ull
#define RX_BUF    0x67000ull
#define RX_BUFS   4          /* 2 KiB each: pages 0x67-0x68 */
#define RX_BUF_LEN 2048
#define FRAME     (VIRTIO_NET_HDR_LEN + 1514)

static void queue(Drv *v, unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_MSIX, q + 1, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)desc, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)avail, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)used, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

/* MSI-X entries 1 (receive) and 2 (transmit), then MSI-X on: irqfd mode. */
static void msix_on(Drv *v)
{
    for (unsigned vec = 1; vec <= 2; vec++) {
        uint64_t e = v->bar + VIRTIO_PCI_MSIX_OFF + 16 * vec;
        uint64_t addr = 0xfee00000;
        uint32_t data = 0x40 + vec, ctrl = 0;
        address_space_write(v->vm->as_mem, e, &addr, 8);
        address_space_write(v->vm->as_mem, e + 8, &data, 4);
        address_space_write(v->vm->as_mem, e + 12, &ctrl, 4);
    }
    uint8_t cap = pci_find_capability(v->d, PCI_CAP_ID_MSIX);
    cf8_write(v->vm, v->devfn, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
}

__attribute__((noinline)) static void bench_net_tx(VirtIODevice *vdev)
{
    virtio_device_run(vdev);
}

__attribute__((noinline)) static void bench_net_rx(VirtIODevice *vdev)
{
    struct pollfd fds[VIRTIO_MAX_BACKEND_FDS];
    int timeout = -1;
    int nfds = vdev->ops->backend_poll(vdev, fds, VIRTIO_MAX_BACKEND_FDS, &timeout);
    for (int i = 0; i < nfds; i++)
        fds[i].revents = POLLIN;   /* the frame is there: what poll would say */
    vdev->ops->backend_ready(vdev, fds, nfds);
}

static uint8_t frame_byte(long i, unsigned k)
{
    return (uint8_t)(i * 7 + k);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    bool tx = argc > 2 && !strcmp(argv[2], "tx");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;
    static Drv v;
    VirtioNetOptions o = { .kind = VIRTIO_NET_TAP, .iommu = -1 };
    NetBackend *b = net_tap_new_fd(sv[0], "bench");
    if (!b || !pci_vm_init(&v.f) || irq_routes_init(&v.f.vm) ||
        virtio_net_init_backend(&v.f.vm, b, &o, false) || !drv_attach(&v))
        return 1;
    v.vdev->use_irqfds = true;
    msix_on(&v);
    drv_negotiate(&v, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX |
                      1ull << 15 /* MRG_RXBUF */ | 1ull << 5 /* MAC */ | 1ull << 16 /* STATUS */);
    uint8_t *ram = v.ram;
    memset(ram + VQ_DESC, 0, 0x3000);
    memset(ram + TX_DESC, 0, 0x3000);
    queue(&v, RX_Q, VQ_DESC, VQ_AVAIL, VQ_USED);
    queue(&v, TX_Q, TX_DESC, TX_AVAIL, TX_USED);
    uint8_t st = (uint8_t)drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1);
    drv_set_common(&v, VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_STATUS_DRIVER_OK, 1);
    virtio_device_run(v.vdev);   /* the I/O thread's first pass starts the queues */
    eventfd_t signals = 0;       /* ... and may interrupt once: not a frame's */
    eventfd_read(v.vdev->irqfd[tx ? 2 : 1].fd, &signals);
    static uint8_t wire[FRAME + 1];
    long bad = 0;
    for (long i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)i;
        unsigned d = (unsigned)(i % QSIZE);
        if (tx) {
            memset(ram + TX_BUF, 0, VIRTIO_NET_HDR_LEN);
            for (unsigned k = VIRTIO_NET_HDR_LEN; k < FRAME; k++)
                ram[TX_BUF + k] = frame_byte(i, k);
            split_desc(ram, TX_DESC, d, TX_BUF, FRAME, 0, 0);
            put16(ram, TX_AVAIL + 4 + 2 * QSIZE, idx);   /* used_event: every frame */
            put16(ram, TX_AVAIL + 4 + 2 * d, (uint16_t)d);
            put16(ram, TX_AVAIL + 2, (uint16_t)(idx + 1));
            bench_net_tx(v.vdev);
            ssize_t got = read(sv[1], wire, sizeof(wire));
            bad += got != FRAME || wire[FRAME - 1] != frame_byte(i, FRAME - 1);
        } else {
            split_desc(ram, VQ_DESC, d, RX_BUF + RX_BUF_LEN * (dma_addr_t)(i % RX_BUFS), RX_BUF_LEN,
                       VRING_DESC_F_WRITE, 0);
            put16(ram, VQ_AVAIL + 4 + 2 * QSIZE, idx);
            split_publish(ram, QSIZE, idx, (uint16_t)d);
            memset(wire, 0, VIRTIO_NET_HDR_LEN);
            for (unsigned k = VIRTIO_NET_HDR_LEN; k < FRAME; k++)
                wire[k] = frame_byte(i, k);
            if (write(sv[1], wire, FRAME) != FRAME)
                return 1;
            bench_net_rx(v.vdev);
            const uint8_t *got = ram + RX_BUF + RX_BUF_LEN * (i % RX_BUFS);
            bad += get32(ram, VQ_USED + 4 + 8 * d + 4) != FRAME || got[10] != 1 ||
                   got[FRAME - 1] != frame_byte(i, FRAME - 1);
        }
    }
    uint16_t used = get16(ram, tx ? TX_USED + 2 : VQ_USED + 2);
    signals = 0;
    eventfd_read(v.vdev->irqfd[tx ? 2 : 1].fd, &signals);
    vm_devices_destroy(&v.f.vm);
    irq_routes_free(&v.f.vm);
    pci_vm_destroy(&v.f);
    close(sv[1]);
    if (used != (uint16_t)n || signals != (eventfd_t)n || bad) {
        fprintf(stderr, "bench_net %s: used %u interrupts %llu wrong frames %ld for %ld\n",
                tx ? "tx" : "rx", used, (unsigned long long)signals, bad, n);
        return 1;
    }
    printf("%ld frames %s\n", n, tx ? "sent" : "received");
    return 0;
}
