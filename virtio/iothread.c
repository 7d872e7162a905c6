/* A virtio device's I/O thread and its KVM ioeventfds.
 *
 * Each queue's notify register (BAR 4 + VIRTIO_PCI_NOTIFY_OFF + 4 * q) is an
 * ioeventfd: KVM signals the queue's eventfd on the guest's 2-byte write
 * without leaving the kernel, and the I/O thread wakes. A memory listener
 * follows the BAR wherever the guest maps it (region_add/region_del of the
 * notify region), so a moved BAR never leaves an eventfd on an old address.
 * Other widths, and the PCI-config-access path, exit to us and signal the
 * same eventfd (virtio_queue_kick).
 *
 * The thread waits on every queue's eventfd and the control eventfd (reset,
 * stop) with poll, drains them, and runs virtio_device_run. A device with a
 * host-side backend (console input, a network backend) adds the backend's fds
 * and timeout to the same poll and is called after each wake-up. */
#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vmm/seccomp.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

static void set_ioeventfds(VirtIODevice *vdev, const MemoryRegionSection *s, bool assign)
{
    struct vm *vm = vdev->pci.dev.vm;
    for (unsigned q = 0; q < vdev->ops->nr_queues; q++) {
        hwaddr off = (hwaddr)q * VIRTIO_PCI_NOTIFY_MULT;
        if (off < s->offset_within_region || off + 2 > s->offset_within_region + s->size)
            continue;
        struct kvm_ioeventfd e = {
            .addr = s->offset_within_address_space + (off - s->offset_within_region),
            .len = 2,
            .fd = vdev->qcfg[q].kick_fd,
            .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
        };
        if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &e) < 0)
            log_warn("%s: KVM_IOEVENTFD %s for queue %u at 0x%llx: %s (notifies exit instead)",
                     vdev->pci.dev.id, assign ? "assign" : "deassign", q,
                     (unsigned long long)e.addr, strerror(errno));
    }
}

static void notify_region_add(MemoryListener *l, const MemoryRegionSection *s)
{
    VirtIODevice *vdev = (VirtIODevice *)((char *)l - offsetof(VirtIODevice, ioeventfd_listener));
    if (s->mr == vdev->regions[3])
        set_ioeventfds(vdev, s, true);
}

static void notify_region_del(MemoryListener *l, const MemoryRegionSection *s)
{
    VirtIODevice *vdev = (VirtIODevice *)((char *)l - offsetof(VirtIODevice, ioeventfd_listener));
    if (s->mr == vdev->regions[3])
        set_ioeventfds(vdev, s, false);
}

int virtio_ioeventfds_init(VirtIODevice *vdev)
{
    vdev->ioeventfd_listener.region_add = notify_region_add;
    vdev->ioeventfd_listener.region_del = notify_region_del;
    memory_listener_register(&vdev->ioeventfd_listener, vdev->pci.dev.vm->as_mem);
    vdev->ioeventfds_registered = true;
    return 0;
}

void virtio_ioeventfds_uninit(VirtIODevice *vdev)
{
    if (vdev->ioeventfds_registered)
        memory_listener_unregister(&vdev->ioeventfd_listener);
    vdev->ioeventfds_registered = false;
}

static void *iothread_main(void *opaque)
{
    VirtIODevice *vdev = opaque;
    seccomp_apply_thread(SECCOMP_THREAD_VIRTIO_IO, vdev->pci.dev.id);
    const VirtIODeviceOps *ops = vdev->ops;
    unsigned n = ops->nr_queues;
    struct pollfd fds[VIRTIO_MAX_QUEUES + 1 + VIRTIO_MAX_BACKEND_FDS];
    for (unsigned q = 0; q < n; q++)
        fds[q] = (struct pollfd){ .fd = vdev->qcfg[q].kick_fd, .events = POLLIN };
    fds[n] = (struct pollfd){ .fd = vdev->ctl_fd, .events = POLLIN };
    while (!__atomic_load_n(&vdev->stop, __ATOMIC_ACQUIRE)) {
        int timeout = -1, extra = 0;
        if (ops->backend_poll)
            extra = ops->backend_poll(vdev, fds + n + 1, VIRTIO_MAX_BACKEND_FDS, &timeout);
        if (poll(fds, n + 1 + (unsigned)extra, timeout) < 0 && errno != EINTR) {
            log_error("%s: poll: %s", vdev->pci.dev.id, strerror(errno));
            break;
        }
        eventfd_t v;
        for (unsigned i = 0; i <= n; i++)
            if (fds[i].revents & POLLIN)
                eventfd_read(fds[i].fd, &v);
        if (__atomic_load_n(&vdev->stop, __ATOMIC_ACQUIRE))
            break;
        virtio_device_run(vdev);
        if (ops->backend_ready)
            ops->backend_ready(vdev, fds + n + 1, extra);
    }
    return NULL;
}

int virtio_start_iothread(VirtIODevice *vdev)
{
    int r = pthread_create(&vdev->thread, NULL, iothread_main, vdev);
    if (r) {
        log_error("%s: cannot start its I/O thread: %s", vdev->pci.dev.id, strerror(r));
        return -1;
    }
    vdev->thread_started = true;
    return 0;
}

void virtio_stop_iothread(VirtIODevice *vdev)
{
    if (!vdev->thread_started)
        return;
    __atomic_store_n(&vdev->stop, true, __ATOMIC_RELEASE);
    eventfd_write(vdev->ctl_fd, 1);
    pthread_join(vdev->thread, NULL);
    vdev->thread_started = false;
}
