/* The virtio-pci modern transport (virtio 1.2 §4.1): vendor capabilities in
 * config space pointing into BAR 4, which holds the common configuration,
 * the ISR, the device configuration, the notify registers (4 bytes apart) and
 * the MSI-X table and PBA (one vector per queue plus one for config changes).
 * Virtio 1.x only: VERSION_1 must be accepted before FEATURES_OK sticks.
 *
 * ACCESS_PLATFORM: every ring and buffer access goes through the device's
 * DMA address space, which is behind the VT-d unit whenever one exists. A
 * device with iommu=on offers ACCESS_PLATFORM and refuses FEATURES_OK when the
 * driver does not accept it, because our DMA layer has no untranslated path to
 * give a driver that would hand us guest-physical addresses (QEMU bypasses the
 * IOMMU for such a device instead). Without an IOMMU the feature is not offered
 * and addresses are guest-physical.
 *
 * Threads and locks: virtio/virtio.h. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define PCI_VENDOR_ID_REDHAT_QUMRANET 0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE     0x1040
#define VIRTIO_PCI_CAP_LEN            16
#define VIRTIO_PCI_NOTIFY_CAP_LEN     20
#define VIRTIO_PCI_CFG_CAP_LEN        20

enum { REG_COMMON, REG_ISR, REG_DEVICE, REG_NOTIFY };

bool virtio_has_feature(const VirtIODevice *vdev, unsigned bit)
{
    return vdev->guest_features >> bit & 1;
}

/* ---- interrupts ------------------------------------------------------------------------ */
void virtio_raise_irq(VirtIODevice *vdev, uint16_t vector, uint8_t isr_bit)
{
    if (virtio_irqfd_signal(vdev, vector))
        return;
    bool took = !memory_bql_locked();
    if (took)
        memory_bql_lock();
    if (pci_msix_enabled(&vdev->pci)) {
        if (vector != VIRTIO_NO_VECTOR)
            pci_notify(&vdev->pci, vector);
    } else {
        __atomic_or_fetch(&vdev->isr, isr_bit, __ATOMIC_SEQ_CST);
        pci_set_irq(&vdev->pci, true);
    }
    if (took)
        memory_bql_unlock();
}

void virtio_error(VirtIODevice *vdev, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_guest_error("%s: %s; device needs reset", vdev->pci.dev.id, msg);
    pthread_mutex_lock(&vdev->lock);
    bool first = !(vdev->status & VIRTIO_STATUS_NEEDS_RESET);
    vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
    vdev->config_generation++;
    uint16_t vector = vdev->config_vector;
    pthread_mutex_unlock(&vdev->lock);
    if (first)
        virtio_raise_irq(vdev, vector, VIRTIO_ISR_CONFIG);
}

/* ---- the I/O thread's work --------------------------------------------------------------- */
/* The registers' part of a reset (vdev->lock held). */
static void reset_registers(VirtIODevice *vdev)
{
    vdev->guest_features = 0;
    vdev->dfselect = vdev->gfselect = 0;
    vdev->queue_sel = 0;
    vdev->config_vector = VIRTIO_NO_VECTOR;
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        vdev->qcfg[q].size = vdev->ops->queue_size;
        vdev->qcfg[q].vector = VIRTIO_NO_VECTOR;
        vdev->qcfg[q].enabled = false;
        vdev->qcfg[q].desc = vdev->qcfg[q].driver = vdev->qcfg[q].device = 0;
    }
    vdev->running = false;
    vdev->status = 0;
}

static void do_reset(VirtIODevice *vdev)
{
    if (vdev->ops->reset)
        vdev->ops->reset(vdev);
    pthread_mutex_lock(&vdev->lock);
    reset_registers(vdev);
    __atomic_store_n(&vdev->reset_pending, false, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&vdev->lock);
}

/* The queues as the driver set them up, checked once at DRIVER_OK. */
static bool start_queues(VirtIODevice *vdev)
{
    bool packed = virtio_has_feature(vdev, VIRTIO_F_RING_PACKED);
    for (unsigned q = 0; q < vdev->ops->nr_queues; q++) {
        const typeof(vdev->qcfg[0]) *c = &vdev->qcfg[q];
        VirtQueue *vq = &vdev->vq[q];
        memset(vq, 0, sizeof(*vq));
        if (!c->enabled)
            continue;
        if ((c->desc & 15) || (c->driver & (packed ? 3 : 1)) || (c->device & 3))
            return false;
        virtqueue_init(vq, &vdev->pci, vdev->pci.dev.id, c->size, packed,
                       virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX),
                       virtio_has_feature(vdev, VIRTIO_F_INDIRECT_DESC), c->desc, c->driver,
                       c->device);
    }
    return true;
}

static void process_queue(VirtIODevice *vdev, unsigned q)
{
    VirtQueue *vq = &vdev->vq[q];
    if (!vq->size || vq->broken)
        return;
    for (;;) {
        virtqueue_disable_notification(vq);
        int r = vdev->ops->handle_queue(vdev, q);
        if (r < 0 || vq->broken)
            break;
        /* A receive queue keeps its buffers until data comes: not drained. */
        if (!virtqueue_enable_notification(vq) || r == VIRTIO_QUEUE_KEEPS_BUFFERS)
            break;
    }
    /* A device's own complaint went through virtio_error already; a ring's
     * is reported here. */
    if (vq->broken) {
        virtio_error(vdev, "queue %u: %s", q, vq->error);
        return;
    }
    virtio_queue_notify(vdev, q);
}

void virtio_queue_notify(VirtIODevice *vdev, unsigned q)
{
    pthread_mutex_lock(&vdev->lock);
    bool needs_reset = vdev->status & VIRTIO_STATUS_NEEDS_RESET;
    uint16_t vector = vdev->qcfg[q].vector;
    pthread_mutex_unlock(&vdev->lock);
    if (!needs_reset && virtqueue_should_notify(&vdev->vq[q]))
        virtio_raise_irq(vdev, vector, VIRTIO_ISR_QUEUE);
}

bool virtio_queues_live(VirtIODevice *vdev)
{
    if (__atomic_load_n(&vdev->reset_pending, __ATOMIC_ACQUIRE))
        return false;
    pthread_mutex_lock(&vdev->lock);
    bool live = vdev->running && (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
                !(vdev->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
    pthread_mutex_unlock(&vdev->lock);
    return live;
}

void virtio_device_run(VirtIODevice *vdev)
{
    if (__atomic_load_n(&vdev->reset_pending, __ATOMIC_ACQUIRE))
        do_reset(vdev);
    pthread_mutex_lock(&vdev->lock);
    uint8_t st = vdev->status;
    bool ok = (st & VIRTIO_STATUS_DRIVER_OK) &&
              !(st & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
    bool bad_rings = false;
    if (ok && !vdev->running) {
        bad_rings = !start_queues(vdev);
        vdev->running = !bad_rings;
    }
    pthread_mutex_unlock(&vdev->lock);
    if (bad_rings) {
        virtio_error(vdev, "misaligned ring address");
        return;
    }
    if (!ok)
        return;
    for (unsigned q = 0; q < vdev->ops->nr_queues; q++) {
        if (__atomic_load_n(&vdev->reset_pending, __ATOMIC_ACQUIRE))
            return;
        process_queue(vdev, q);
    }
}

void virtio_queue_kick(VirtIODevice *vdev, unsigned q)
{
    if (q < vdev->ops->nr_queues)
        eventfd_write(vdev->qcfg[q].kick_fd, 1);
}

/* ---- common configuration (vCPU, big lock held) --------------------------------------- */
static uint64_t common_read(VirtIODevice *vdev, hwaddr addr, unsigned size)
{
    unsigned sel = vdev->queue_sel;
    const typeof(vdev->qcfg[0]) *c = sel < vdev->ops->nr_queues ? &vdev->qcfg[sel] : NULL;
    switch (addr) {
    case VIRTIO_PCI_COMMON_DFSELECT: return vdev->dfselect;
    case VIRTIO_PCI_COMMON_DF:
        return vdev->dfselect < 2 ? (uint32_t)(vdev->host_features >> (32 * vdev->dfselect)) : 0;
    case VIRTIO_PCI_COMMON_GFSELECT: return vdev->gfselect;
    case VIRTIO_PCI_COMMON_GF:
        return vdev->gfselect < 2 ? (uint32_t)(vdev->guest_features >> (32 * vdev->gfselect)) : 0;
    case VIRTIO_PCI_COMMON_MSIX: return vdev->config_vector;
    case VIRTIO_PCI_COMMON_NUMQ: return vdev->ops->nr_queues;
    case VIRTIO_PCI_COMMON_STATUS:
        (void)size;
        return vdev->status;
    case VIRTIO_PCI_COMMON_CFGGENERATION: return vdev->config_generation;
    case VIRTIO_PCI_COMMON_Q_SELECT: return sel;
    case VIRTIO_PCI_COMMON_Q_SIZE: return c ? c->size : 0;
    case VIRTIO_PCI_COMMON_Q_MSIX: return c ? c->vector : VIRTIO_NO_VECTOR;
    case VIRTIO_PCI_COMMON_Q_ENABLE: return c ? c->enabled : 0;
    case VIRTIO_PCI_COMMON_Q_NOFF: return sel;
    case VIRTIO_PCI_COMMON_Q_DESCLO: return c ? (uint32_t)c->desc : 0;
    case VIRTIO_PCI_COMMON_Q_DESCHI: return c ? c->desc >> 32 : 0;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: return c ? (uint32_t)c->driver : 0;
    case VIRTIO_PCI_COMMON_Q_AVAILHI: return c ? c->driver >> 32 : 0;
    case VIRTIO_PCI_COMMON_Q_USEDLO: return c ? (uint32_t)c->device : 0;
    case VIRTIO_PCI_COMMON_Q_USEDHI: return c ? c->device >> 32 : 0;
    }
    return 0;
}

/* FEATURES_OK sticks only for a feature set we can honour. */
static bool features_acceptable(VirtIODevice *vdev)
{
    uint64_t f = vdev->guest_features;
    if (f & ~vdev->host_features)
        return false;
    if (!(f >> VIRTIO_F_VERSION_1 & 1))
        return false;
    if (vdev->iommu_platform && !(f >> VIRTIO_F_ACCESS_PLATFORM & 1))
        return false;
    return true;
}

static void write_status(VirtIODevice *vdev, uint8_t val)
{
    if (val == 0 && vdev->status == 0 && !vdev->running &&
        !__atomic_load_n(&vdev->reset_pending, __ATOMIC_ACQUIRE)) {
        /* Already reset and never started since: nothing is in flight, and
         * the register reads 0 at once, so the reset must be done now (left
         * to the I/O thread it could land after the driver's next writes). */
        reset_registers(vdev);
        return;
    }
    if (val == 0) {
        /* Carried out by the I/O thread between requests; the register reads
         * non-zero until then, which is what drivers wait on. */
        __atomic_store_n(&vdev->reset_pending, true, __ATOMIC_RELEASE);
        __atomic_store_n(&vdev->isr, 0, __ATOMIC_SEQ_CST);
        pci_set_irq(&vdev->pci, false);
        if (vdev->thread_started)
            eventfd_write(vdev->ctl_fd, 1);
        return;
    }
    if ((val & VIRTIO_STATUS_FEATURES_OK) && !(vdev->status & VIRTIO_STATUS_FEATURES_OK) &&
        !features_acceptable(vdev))
        val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    /* NEEDS_RESET is the device's to set; the driver cannot clear it. */
    val = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) | (vdev->status & VIRTIO_STATUS_NEEDS_RESET));
    bool driver_ok = (val & VIRTIO_STATUS_DRIVER_OK) && !(vdev->status & VIRTIO_STATUS_DRIVER_OK);
    vdev->status = val;
    if (driver_ok)   /* the I/O thread starts the queues; a kick may be pending already */
        for (unsigned q = 0; q < vdev->ops->nr_queues; q++)
            virtio_queue_kick(vdev, q);
}

static void common_write(VirtIODevice *vdev, hwaddr addr, uint32_t val)
{
    unsigned sel = vdev->queue_sel;
    typeof(vdev->qcfg[0]) *c = sel < vdev->ops->nr_queues ? &vdev->qcfg[sel] : NULL;
    /* Queue layout is frozen once the queue is enabled (§4.1.4.3.2). */
    bool qw = c && !c->enabled && !(vdev->status & VIRTIO_STATUS_DRIVER_OK);
    unsigned nr_vectors = vdev->ops->nr_queues + 1;
    switch (addr) {
    case VIRTIO_PCI_COMMON_DFSELECT: vdev->dfselect = val; break;
    case VIRTIO_PCI_COMMON_GFSELECT: vdev->gfselect = val; break;
    case VIRTIO_PCI_COMMON_GF:
        if (vdev->gfselect < 2 && !(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned sh = 32 * vdev->gfselect;
            vdev->guest_features = (vdev->guest_features & ~(0xffffffffull << sh)) |
                                   (uint64_t)val << sh;
        }
        break;
    case VIRTIO_PCI_COMMON_MSIX:
        vdev->config_vector = val < nr_vectors ? (uint16_t)val : VIRTIO_NO_VECTOR;
        break;
    case VIRTIO_PCI_COMMON_STATUS: write_status(vdev, (uint8_t)val); break;
    case VIRTIO_PCI_COMMON_Q_SELECT: vdev->queue_sel = (uint16_t)val; break;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        /* A power of two no larger than offered (packed rings take any size,
         * but Linux asks for the offered one). */
        if (qw && val && val <= vdev->ops->queue_size && !(val & (val - 1)))
            c->size = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        if (c)
            c->vector = val < nr_vectors ? (uint16_t)val : VIRTIO_NO_VECTOR;
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        if (qw && val == 1)
            c->enabled = true;
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO: if (qw) c->desc = (c->desc & ~0xffffffffull) | val; break;
    case VIRTIO_PCI_COMMON_Q_DESCHI: if (qw) c->desc = (uint32_t)c->desc | (uint64_t)val << 32; break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: if (qw) c->driver = (c->driver & ~0xffffffffull) | val; break;
    case VIRTIO_PCI_COMMON_Q_AVAILHI: if (qw) c->driver = (uint32_t)c->driver | (uint64_t)val << 32; break;
    case VIRTIO_PCI_COMMON_Q_USEDLO: if (qw) c->device = (c->device & ~0xffffffffull) | val; break;
    case VIRTIO_PCI_COMMON_Q_USEDHI: if (qw) c->device = (uint32_t)c->device | (uint64_t)val << 32; break;
    }
}

/* The natural width of each common register (§4.1.4.3); 0 = reserved. */
static unsigned common_width(hwaddr addr)
{
    if (addr < VIRTIO_PCI_COMMON_MSIX || (addr >= VIRTIO_PCI_COMMON_Q_DESCLO &&
                                          addr < VIRTIO_PCI_COMMON_SIZE))
        return addr % 4 ? 0 : 4;
    if (addr == VIRTIO_PCI_COMMON_STATUS || addr == VIRTIO_PCI_COMMON_CFGGENERATION)
        return 1;
    if (addr < VIRTIO_PCI_COMMON_Q_DESCLO)
        return addr % 2 ? 0 : 2;
    return 0;
}

/* One access to BAR 4's registers (the MMIO ops and the PCI-config-access
 * capability both come here). Wrong widths read 0 and ignore writes. */
static void bar_access(VirtIODevice *vdev, unsigned reg, hwaddr addr, uint64_t *val,
                       unsigned size, bool write)
{
    if (!write)
        *val = 0;
    switch (reg) {
    case REG_COMMON:
        if (common_width(addr) != size) {
            log_guest_error("%s: %u-byte access to common config 0x%x", vdev->pci.dev.id, size,
                            (unsigned)addr);
            return;
        }
        pthread_mutex_lock(&vdev->lock);
        if (write)
            common_write(vdev, addr, (uint32_t)*val);
        else
            *val = common_read(vdev, addr, size);
        pthread_mutex_unlock(&vdev->lock);
        return;
    case REG_ISR:
        if (!write && addr == 0) {   /* reading acknowledges, and lowers INTx */
            *val = __atomic_exchange_n(&vdev->isr, 0, __ATOMIC_SEQ_CST);
            pci_set_irq(&vdev->pci, false);
        }
        return;
    case REG_DEVICE:
        if (!write && addr + size <= vdev->config_len) {
            pthread_mutex_lock(&vdev->lock);
            for (unsigned i = 0; i < size; i++)
                *val |= (uint64_t)vdev->config[addr + i] << (8 * i);
            pthread_mutex_unlock(&vdev->lock);
        }
        return;   /* no writable device fields in our devices */
    case REG_NOTIFY:
        if (write && addr % VIRTIO_PCI_NOTIFY_MULT == 0)
            virtio_queue_kick(vdev, (unsigned)(addr / VIRTIO_PCI_NOTIFY_MULT));
        return;
    }
}

#define DEFINE_REG_OPS(name, reg)                                                          \
    static MemTxResult name##_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size) \
    {                                                                                      \
        bar_access(opaque, reg, addr, data, size, false);                                  \
        return MEMTX_OK;                                                                   \
    }                                                                                      \
    static MemTxResult name##_write(void *opaque, hwaddr addr, uint64_t data, unsigned size) \
    {                                                                                      \
        bar_access(opaque, reg, addr, &data, size, true);                                  \
        return MEMTX_OK;                                                                   \
    }                                                                                      \
    static const MemoryRegionOps name##_ops = {                                            \
        .read = name##_read, .write = name##_write,                                        \
        .valid = { .min_access_size = 1, .max_access_size = 4 },                           \
        .impl = { .min_access_size = 1, .max_access_size = 4 },                            \
    };
DEFINE_REG_OPS(common_reg, REG_COMMON)
DEFINE_REG_OPS(isr, REG_ISR)
DEFINE_REG_OPS(devcfg, REG_DEVICE)
DEFINE_REG_OPS(notify, REG_NOTIFY)

static const struct {
    const MemoryRegionOps *ops;
    const char *name;
    uint32_t offset, size;
    uint8_t cap_type;
} bar_layout[] = {
    [REG_COMMON] = { &common_reg_ops, "virtio common", VIRTIO_PCI_COMMON_OFF, 0x1000, VIRTIO_PCI_CAP_COMMON_CFG },
    [REG_ISR] = { &isr_ops, "virtio isr", VIRTIO_PCI_ISR_OFF, 0x1000, VIRTIO_PCI_CAP_ISR_CFG },
    [REG_DEVICE] = { &devcfg_ops, "virtio device", VIRTIO_PCI_DEVICE_OFF, 0x1000, VIRTIO_PCI_CAP_DEVICE_CFG },
    [REG_NOTIFY] = { &notify_ops, "virtio notify", VIRTIO_PCI_NOTIFY_OFF, 0x1000, VIRTIO_PCI_CAP_NOTIFY_CFG },
};

/* ---- the PCI-config-access capability (§4.1.4.9) ----------------------------------------- */
static void cfg_cap_access(VirtIODevice *vdev, bool write)
{
    uint8_t *cap = vdev->pci.config + vdev->pci_cfg_cap;
    uint32_t off = pci_get_long(cap + 8), len = pci_get_long(cap + 12);
    if (cap[4] != VIRTIO_PCI_BAR || (len != 1 && len != 2 && len != 4) || off % len) {
        log_guest_error("%s: PCI config access to BAR %u offset 0x%x length %u refused",
                        vdev->pci.dev.id, cap[4], off, len);
        return;
    }
    for (unsigned reg = 0; reg < 4; reg++) {
        uint32_t base = bar_layout[reg].offset;
        if (off < base || off - base >= bar_layout[reg].size)
            continue;
        uint64_t v = pci_get_long(cap + 16) & (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1);
        bar_access(vdev, reg, off - base, &v, len, write);
        if (!write)
            pci_set_long(cap + 16, (uint32_t)v);
        return;
    }
}

static bool touches_cfg_data(VirtIODevice *vdev, uint32_t addr, unsigned len)
{
    uint32_t data = vdev->pci_cfg_cap + 16u;
    return vdev->pci_cfg_cap && addr < data + 4 && addr + len > data;
}

static uint32_t vp_config_read(PCIDevice *d, uint32_t addr, unsigned len)
{
    VirtIODevice *vdev = (VirtIODevice *)d;
    if (touches_cfg_data(vdev, addr, len))
        cfg_cap_access(vdev, false);
    return pci_default_config_read(d, addr, len);
}

static void vp_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    VirtIODevice *vdev = (VirtIODevice *)d;
    pci_default_config_write(d, addr, val, len);
    if (touches_cfg_data(vdev, addr, len))
        cfg_cap_access(vdev, true);
}

static const PCIDeviceOps vp_pci_ops = {
    .config_read = vp_config_read,
    .config_write = vp_config_write,
    .msi_changed = virtio_irqfds_update,
};

static int add_vendor_cap(VirtIODevice *vdev, uint8_t type, uint8_t len, uint32_t offset,
                          uint32_t size)
{
    uint8_t c = pci_add_capability(&vdev->pci, PCI_CAP_ID_VNDR, 0, len);
    if (!c)
        return -1;
    uint8_t *p = vdev->pci.config + c;
    p[2] = len;
    p[3] = type;
    p[4] = VIRTIO_PCI_BAR;
    pci_set_long(p + 8, offset);
    pci_set_long(p + 12, size);
    if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
        pci_set_long(p + 16, VIRTIO_PCI_NOTIFY_MULT);
    if (type == VIRTIO_PCI_CAP_PCI_CFG) {
        /* The driver picks bar, offset, length and moves data through it. */
        p[4] = 0;
        pci_set_long(p + 8, 0);
        pci_set_long(p + 12, 0);
        vdev->pci.wmask[c + 4] = 0xff;
        memset(vdev->pci.wmask + c + 8, 0xff, 12);
        vdev->pci_cfg_cap = c;
    }
    return 0;
}

/* ---- realize ---------------------------------------------------------------------------- */
int virtio_pci_realize(VirtIODevice *vdev)
{
    Device *dev = &vdev->pci.dev;
    const VirtIODeviceOps *ops = vdev->ops;
    PCIBus *bus = pci_root_bus(dev->vm);
    vdev->realized = true;
    vdev->ctl_fd = -1;
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
        vdev->qcfg[q].kick_fd = -1;
    for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++)
        vdev->irqfd[v].fd = vdev->irqfd[v].gsi = -1;
    pthread_mutex_init(&vdev->lock, NULL);
    if (!bus) {
        log_error("%s: no PCI bus", dev->id);
        return -1;
    }
    if (ops->nr_queues == 0 || ops->nr_queues > VIRTIO_MAX_QUEUES ||
        ops->queue_size > VIRTQ_MAX_SIZE || vdev->config_len > bar_layout[REG_DEVICE].size) {
        log_error("%s: bad virtio device description", dev->id);
        return -1;
    }
    vdev->host_features = ops->features | 1ull << VIRTIO_F_VERSION_1 |
                          1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX |
                          1ull << VIRTIO_F_RING_PACKED;
    if (vdev->iommu_platform)
        vdev->host_features |= 1ull << VIRTIO_F_ACCESS_PLATFORM;
    const PCIDeviceInfo info = {
        .vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET,
        .device_id = (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + ops->device_id),
        .subsystem_vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET,
        .subsystem_id = 0x1100,
        .class_code = ops->pci_class,
        .revision = 1,   /* modern only */
        .intx_pin = 1,
    };
    if (pci_device_init(&vdev->pci, bus, -1, &info, &vp_pci_ops) < 0)
        return -1;
    vdev->bar = memory_region_new_container(dev->id, VIRTIO_PCI_BAR_SIZE);
    for (unsigned r = 0; r < 4; r++) {
        vdev->regions[r] = memory_region_new_io(bar_layout[r].name, bar_layout[r].size,
                                                bar_layout[r].ops, vdev);
        memory_region_add_subregion(vdev->bar, bar_layout[r].offset, vdev->regions[r]);
    }
    if (pci_register_bar(&vdev->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, false, vdev->bar) < 0 ||
        pci_msix_init(&vdev->pci, ops->nr_queues + 1, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_OFF,
                      VIRTIO_PCI_BAR, VIRTIO_PCI_PBA_OFF) < 0)
        return -1;
    uint32_t notify_len = ops->nr_queues * VIRTIO_PCI_NOTIFY_MULT;
    if (add_vendor_cap(vdev, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_LEN,
                       VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_SIZE) < 0 ||
        add_vendor_cap(vdev, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_LEN, VIRTIO_PCI_ISR_OFF, 1) < 0 ||
        (vdev->config_len &&
         add_vendor_cap(vdev, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_LEN,
                        VIRTIO_PCI_DEVICE_OFF, vdev->config_len) < 0) ||
        add_vendor_cap(vdev, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_CAP_LEN,
                       VIRTIO_PCI_NOTIFY_OFF, notify_len) < 0 ||
        add_vendor_cap(vdev, VIRTIO_PCI_CAP_PCI_CFG, VIRTIO_PCI_CFG_CAP_LEN, 0, 0) < 0)
        return -1;
    vdev->elem = calloc(1, sizeof(*vdev->elem));
    vdev->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (unsigned q = 0; q < ops->nr_queues; q++)
        vdev->qcfg[q].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (unsigned q = 0; q < ops->nr_queues; q++)
        if (vdev->qcfg[q].kick_fd < 0 || vdev->ctl_fd < 0 || !vdev->elem) {
            log_error("%s: eventfd: %s", dev->id, strerror(errno));
            return -1;
        }
    if (virtio_irqfds_init(vdev) < 0)
        return -1;
    vdev->use_irqfds = dev->vm->has_kvm;
    do_reset(vdev);
    if (dev->vm->has_kvm && (virtio_ioeventfds_init(vdev) < 0 || virtio_start_iothread(vdev) < 0))
        return -1;
    return 0;
}

void virtio_pci_unrealize(VirtIODevice *vdev)
{
    if (!vdev->realized)
        return;   /* the model failed before virtio_pci_realize: nothing to undo */
    virtio_stop_iothread(vdev);
    virtio_ioeventfds_uninit(vdev);
    virtio_irqfds_uninit(vdev);
    pci_device_uninit(&vdev->pci);
    for (unsigned r = 0; r < 4; r++)
        if (vdev->regions[r]) {
            memory_region_del_subregion(vdev->bar, vdev->regions[r]);
            memory_region_unref(vdev->regions[r]);
        }
    if (vdev->bar)
        memory_region_unref(vdev->bar);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
        if (vdev->qcfg[q].kick_fd >= 0)
            close(vdev->qcfg[q].kick_fd);
    if (vdev->ctl_fd >= 0)
        close(vdev->ctl_fd);
    free(vdev->elem);
    pthread_mutex_destroy(&vdev->lock);
}
