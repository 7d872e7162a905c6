/* Virtio 1.x over PCI (modern transport only) and its virtqueues.
 *
 * A device model's struct starts with a VirtIODevice (which starts with its
 * PCIDevice); its realize fills in what the transport needs and calls
 * virtio_pci_realize; its unrealize calls virtio_pci_unrealize.
 *
 * Threads and locks (README "Virtio"):
 *   - vCPU threads (big lock held, from MMIO/config dispatch) serve the common,
 *     ISR, device-config and notify registers. They take vdev->lock for short
 *     sections that never touch guest memory and never wait for the I/O thread.
 *   - one I/O thread per device (virtio_device_run in a loop) walks the rings
 *     and does the device's work (disk I/O, reading the entropy source) without
 *     the big lock and without vdev->lock while it touches guest memory; it takes
 *     the big lock only to raise an interrupt (virtio_raise_irq), holding no
 *     other lock then. Lock order: big lock -> vdev->lock.
 *   - a driver reset (status 0) is carried out by the I/O thread between
 *     requests, so nothing is in flight when the queues are dropped; until then
 *     the status register still reads non-zero (drivers poll it for 0).
 * Unit tests run without the thread and call virtio_device_run themselves.
 */
#ifndef MINIVMM_VIRTIO_H
#define MINIVMM_VIRTIO_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/dma.h"
#include "pci/pci.h"

/* Device status (virtio 1.2 §2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE  0x01
#define VIRTIO_STATUS_DRIVER       0x02
#define VIRTIO_STATUS_DRIVER_OK    0x04
#define VIRTIO_STATUS_FEATURES_OK  0x08
#define VIRTIO_STATUS_NEEDS_RESET  0x40
#define VIRTIO_STATUS_FAILED       0x80

/* Reserved feature bits (§6) */
#define VIRTIO_F_INDIRECT_DESC     28
#define VIRTIO_F_EVENT_IDX         29
#define VIRTIO_F_VERSION_1         32
#define VIRTIO_F_ACCESS_PLATFORM   33
#define VIRTIO_F_RING_PACKED       34

/* ISR bits (§4.1.4.5) */
#define VIRTIO_ISR_QUEUE           0x1
#define VIRTIO_ISR_CONFIG          0x2

#define VIRTIO_NO_VECTOR           0xffff
#define VIRTIO_QUEUE_KEEPS_BUFFERS 1   /* handle_queue: see VirtIODeviceOps */
#define VIRTIO_MAX_QUEUES          8
#define VIRTIO_MAX_BACKEND_FDS     64   /* backend_poll's fds at most */
#define VIRTQ_MAX_SIZE             1024   /* the largest queue a device offers */
/* Descriptors one element may carry (direct + indirect): longer is hostile. */
#define VIRTQ_MAX_CHAIN            1024

/* Split-ring descriptor flags (§2.7.5) */
#define VRING_DESC_F_NEXT          1
#define VRING_DESC_F_WRITE         2
#define VRING_DESC_F_INDIRECT      4
/* Packed-ring flags (§2.8) */
#define VRING_PACKED_DESC_F_AVAIL  (1u << 7)
#define VRING_PACKED_DESC_F_USED   (1u << 15)
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1
#define VRING_PACKED_EVENT_FLAG_ENABLE  0
#define VRING_PACKED_EVENT_FLAG_DISABLE 1
#define VRING_PACKED_EVENT_FLAG_DESC    2

/* One buffer of a chain: {addr, len}, as the DMA layer's file I/O takes it. */
typedef PCIDMASeg VirtQueueSeg;

/* One popped request: its device-readable then its device-writable buffers. */
typedef struct VirtQueueElement {
    uint16_t id;             /* split: head index; packed: buffer id */
    uint16_t ndescs;         /* packed: ring slots the chain used */
    unsigned nr_out, nr_in;  /* out = device-readable, in = device-writable */
    uint64_t out_len, in_len;
    VirtQueueSeg seg[VIRTQ_MAX_CHAIN]; /* out segments first, then in */
} VirtQueueElement;

/* A queue's ring state, walked through the DMA layer of `dma`. The transport
 * fills size/addresses/flags when the driver enables it; the rest is the
 * device's shadow of the ring. Only the I/O thread touches a running queue. */
typedef struct VirtQueue {
    PCIDevice *dma;          /* whose DMA address space the ring lives in */
    const char *name;        /* for log lines: "<dev> queue <n>" */
    uint16_t size;
    bool packed, event_idx, indirect;
    dma_addr_t desc, avail, used;  /* packed: descriptor ring, driver area, device area */
    /* split */
    uint16_t last_avail;     /* next avail ring slot to read */
    uint16_t used_idx;       /* next used->idx value */
    uint16_t signalled_used; /* used_idx at the last interrupt */
    bool signalled_valid;
    /* packed */
    uint16_t next_avail;     /* next descriptor slot to read */
    bool avail_wrap;         /* driver wrap counter expected at next_avail */
    uint16_t next_used;      /* next slot to write a used descriptor */
    bool used_wrap;
    uint16_t signalled_slot; /* next_used at the last interrupt */
    bool broken;             /* malformed ring seen: nothing more until reset */
    const char *error;       /* why it broke (a static string) */
} VirtQueue;

/* Sets up the ring shadow for a freshly enabled queue. */
void virtqueue_init(VirtQueue *vq, PCIDevice *dma, const char *name, uint16_t size,
                    bool packed, bool event_idx, bool indirect, dma_addr_t desc,
                    dma_addr_t avail, dma_addr_t used);
/* The next available request: 1 got one in *e, 0 ring empty (*e untouched), -1 the ring is
 * malformed (vq->broken set, vq->error says why; the caller reports it). Reads
 * the available index with acquire ordering before any descriptor. */
int virtqueue_pop(VirtQueue *vq, VirtQueueElement *e);
/* Returns `e` to the driver with `len` bytes written into its in-buffers:
 * the used element, then (release) the index/flags. 0, or -1 when the ring
 * could not be written (vq->broken). */
int virtqueue_push(VirtQueue *vq, const VirtQueueElement *e, uint32_t len);
/* Several popped buffers returned at once (mergeable receive buffers): the
 * driver sees all of them or none. 0 or -1 (vq->broken). */
typedef struct VirtQueueUsed {
    uint16_t id, ndescs;     /* from the element */
    uint32_t len;            /* bytes written into it */
} VirtQueueUsed;
int virtqueue_push_batch(VirtQueue *vq, const VirtQueueUsed *u, unsigned n);
/* Driver notifications off (while the device drains the ring) or on; turning
 * them on is followed by a full barrier and returns true when the ring has
 * requests again (the caller then keeps draining). */
void virtqueue_disable_notification(VirtQueue *vq);
bool virtqueue_enable_notification(VirtQueue *vq);
/* Whether the driver wants an interrupt for what was pushed since the last
 * one (event index or NO_INTERRUPT flag); records that it was sent. */
bool virtqueue_should_notify(VirtQueue *vq);
/* Copies between an element's segments and a host buffer, through the DMA
 * layer. Return the bytes moved, or -1 on a DMA error. */
int64_t virtqueue_read_out(VirtQueue *vq, const VirtQueueElement *e, uint64_t off,
                           void *buf, uint64_t len);
int64_t virtqueue_write_in(VirtQueue *vq, const VirtQueueElement *e, uint64_t off,
                           const void *buf, uint64_t len);

/* virtio/packed.c: the packed-ring halves of pop/push/notification. */
int virtqueue_packed_pop(VirtQueue *vq, VirtQueueElement *e);
int virtqueue_packed_push(VirtQueue *vq, const VirtQueueElement *e, uint32_t len);
int virtqueue_packed_push_batch(VirtQueue *vq, const VirtQueueUsed *u, unsigned n);
void virtqueue_packed_set_notification(VirtQueue *vq, bool enable);
bool virtqueue_packed_should_notify(VirtQueue *vq);
bool virtqueue_packed_has_work(VirtQueue *vq);
/* Shared with packed.c: one descriptor's checks; 0 or -1 (vq->broken). */
int virtqueue_add_seg(VirtQueue *vq, VirtQueueElement *e, uint64_t addr, uint32_t len,
                      bool write);
int virtqueue_fail(VirtQueue *vq, const char *why);
void virtqueue_elem_clear(VirtQueueElement *e);

/* ---- devices over the PCI transport ------------------------------------------------ */
typedef struct VirtIODevice VirtIODevice;

typedef struct VirtIODeviceOps {
    uint16_t device_id;          /* virtio device id: 2 block, 4 entropy */
    uint32_t pci_class;
    unsigned nr_queues;
    uint16_t queue_size;
    uint64_t features;           /* device-specific bits offered */
    /* I/O thread: drain queue q (virtqueue_pop ... virtqueue_push). Return 0
     * when drained, VIRTIO_QUEUE_KEEPS_BUFFERS when buffers stay in the ring
     * until the backend has data for them (receive queues), -1 after
     * virtio_error to stop. */
    int (*handle_queue)(VirtIODevice *vdev, unsigned q);
    /* I/O thread, on reset (optional). */
    void (*reset)(VirtIODevice *vdev);
    /* A host-side backend served by the I/O thread (optional, both or
     * neither): backend_poll adds up to `max` fds to wait on and may lower
     * *timeout_ms (-1 = none); backend_ready runs after every wake-up, with
     * those fds' revents, to move data between the backend and the queues
     * (check virtio_queues_live first). */
    int (*backend_poll)(VirtIODevice *vdev, struct pollfd *fds, int max, int *timeout_ms);
    void (*backend_ready)(VirtIODevice *vdev, struct pollfd *fds, int n);
} VirtIODeviceOps;

struct VirtIODevice {
    PCIDevice pci;               /* first */
    const VirtIODeviceOps *ops;
    bool realized;               /* virtio_pci_realize ran (its fds are set) */
    bool iommu_platform;         /* offer ACCESS_PLATFORM (device behind the IOMMU) */
    uint8_t *config;             /* device-specific config, little-endian */
    uint32_t config_len;

    pthread_mutex_t lock;        /* the fields below; never held across DMA */
    uint64_t host_features, guest_features;
    uint32_t dfselect, gfselect;
    uint8_t status;
    bool reset_pending;          /* status 0 written; the I/O thread resets */
    uint8_t config_generation;
    uint8_t isr;                 /* atomic: set by the I/O thread, cleared by reads */
    uint16_t config_vector, queue_sel;
    struct {
        uint16_t size, vector;
        bool enabled;
        uint64_t desc, driver, device;
        int kick_fd;             /* eventfd: notify register writes (ioeventfd) */
    } qcfg[VIRTIO_MAX_QUEUES];
    VirtQueue vq[VIRTIO_MAX_QUEUES];  /* the running queues: I/O thread only */
    bool running;                /* vq[] set up from qcfg (I/O thread) */
    VirtQueueElement *elem;      /* scratch for handle_queue (I/O thread) */

    uint8_t pci_cfg_cap;         /* offset of the PCI-config-access capability */
    MemoryRegion *bar;
    MemoryRegion *regions[4];    /* common, isr, device, notify */
    MemoryListener ioeventfd_listener;
    bool ioeventfds_registered;
    uint64_t ioeventfd_base;

    /* MSI-X vectors as irqfds (virtio/irqfd.c): vector v's eventfd is bound
     * to an MSI route holding its table entry; `ready` (atomic) says the
     * vector is unmasked with its route programmed, so the I/O thread may
     * signal the eventfd instead of taking the big lock. */
    bool use_irqfds;             /* on with KVM; unit tests turn it on */
    struct {
        int fd, gsi;             /* -1 until first unmasked */
        bool ready;
    } irqfd[VIRTIO_MAX_QUEUES + 1];

    int ctl_fd;                  /* eventfd: reset request or stop */
    pthread_t thread;
    bool thread_started, stop;
};


/* After the model set vdev->ops, config, config_len and iommu_platform. 0 or -1. */
int virtio_pci_realize(VirtIODevice *vdev);
void virtio_pci_unrealize(VirtIODevice *vdev);
/* virtio/iothread.c: the device's I/O thread (on a VM with KVM) and the KVM
 * ioeventfds on its notify registers, kept in step with where BAR 4 is mapped.
 * 0 or -1; the stop/uninit halves are safe on what never started. */
int virtio_start_iothread(VirtIODevice *vdev);
void virtio_stop_iothread(VirtIODevice *vdev);
int virtio_ioeventfds_init(VirtIODevice *vdev);
void virtio_ioeventfds_uninit(VirtIODevice *vdev);
/* virtio/irqfd.c. init: one eventfd per vector (0 or -1); update: the
 * PCIDeviceOps.msi_changed hook (big lock held), (re)programs the unmasked
 * vectors' routes; signal: the lock-free delivery of `vector`, false when
 * the caller must go the slow way (masked: pending bit; MSI-X off: INTx). */
int virtio_irqfds_init(VirtIODevice *vdev);
void virtio_irqfds_uninit(VirtIODevice *vdev);
void virtio_irqfds_update(PCIDevice *d);
bool virtio_irqfd_signal(VirtIODevice *vdev, uint16_t vector);
/* One pass of the I/O thread: a pending reset, then every enabled queue. */
void virtio_device_run(VirtIODevice *vdev);
/* The I/O thread may use the queues now: the driver is done (DRIVER_OK), the
 * rings are set up and no reset or NEEDS_RESET is pending. I/O thread. */
bool virtio_queues_live(VirtIODevice *vdev);
/* After pushing to queue q outside handle_queue (backend data): the queue's
 * interrupt if the driver wants one. I/O thread. */
void virtio_queue_notify(VirtIODevice *vdev, unsigned q);
/* Queue q's notify register was written (the MMIO path; KVM's ioeventfd
 * signals the same eventfd without an exit to us). */
void virtio_queue_kick(VirtIODevice *vdev, unsigned q);
/* The guest-visible failure of a hostile ring or request: NEEDS_RESET, a
 * config-change interrupt and a rate-limited log line. I/O thread. */
void virtio_error(VirtIODevice *vdev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one place a virtio interrupt is raised: MSI-X `vector` (its irqfd when
 * ready, else through pci_notify under the big lock), or INTx with the ISR
 * bit when MSI-X is off. */
void virtio_raise_irq(VirtIODevice *vdev, uint16_t vector, uint8_t isr_bit);
/* Whether the driver accepted feature `bit`. */
bool virtio_has_feature(const VirtIODevice *vdev, unsigned bit);

/* Transport register layout in BAR 4 (virtio/pci.c), for tests and guests. */
#define VIRTIO_PCI_BAR             4
#define VIRTIO_PCI_BAR_SIZE        0x10000
#define VIRTIO_PCI_COMMON_OFF      0x0000
#define VIRTIO_PCI_ISR_OFF         0x1000
#define VIRTIO_PCI_DEVICE_OFF      0x2000
#define VIRTIO_PCI_NOTIFY_OFF      0x3000
#define VIRTIO_PCI_NOTIFY_MULT     4
#define VIRTIO_PCI_MSIX_OFF        0x4000
#define VIRTIO_PCI_PBA_OFF         0x5000

/* Common configuration registers (§4.1.4.3) */
#define VIRTIO_PCI_COMMON_DFSELECT      0x00
#define VIRTIO_PCI_COMMON_DF            0x04
#define VIRTIO_PCI_COMMON_GFSELECT      0x08
#define VIRTIO_PCI_COMMON_GF            0x0c
#define VIRTIO_PCI_COMMON_MSIX          0x10
#define VIRTIO_PCI_COMMON_NUMQ          0x12
#define VIRTIO_PCI_COMMON_STATUS        0x14
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15
#define VIRTIO_PCI_COMMON_Q_SELECT      0x16
#define VIRTIO_PCI_COMMON_Q_SIZE        0x18
#define VIRTIO_PCI_COMMON_Q_MSIX        0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE      0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF        0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO      0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI      0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO     0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI     0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO      0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI      0x34
#define VIRTIO_PCI_COMMON_SIZE          0x38

/* Capability types (§4.1.4) */
#define VIRTIO_PCI_CAP_COMMON_CFG  1
#define VIRTIO_PCI_CAP_NOTIFY_CFG  2
#define VIRTIO_PCI_CAP_ISR_CFG     3
#define VIRTIO_PCI_CAP_DEVICE_CFG  4
#define VIRTIO_PCI_CAP_PCI_CFG     5

/* Devices (virtio/rng.c, virtio/blk.c, virtio/console.c); 0 or -1 after one error line. */
struct vm;
int virtio_rng_init(struct vm *vm, const char *src, bool iommu);
int virtio_blk_init(struct vm *vm, const char *path, bool readonly, bool iommu, const char *id);
/* virtio/console.c: output to `path`, or the terminal (stdout, input from a
 * terminal stdin) when NULL. */
int virtio_console_init(struct vm *vm, const char *path, bool iommu);
/* virtio/net.c: a virtio-net with the backend `o` names (virtio/options.h). */
struct VirtioNetOptions;
int virtio_net_init(struct vm *vm, const struct VirtioNetOptions *o, bool iommu);

#endif
