/* Virtio MSI-X vectors as irqfds: interrupts without an exit to, or a lock
 * shared with, the vCPUs.
 *
 * Each vector has an eventfd bound (KVM_IRQFD) to its own MSI route
 * (vmm/irq.h), so the I/O thread raises it with one eventfd write and KVM
 * injects it. The route is (re)programmed from the vCPU thread, under the big
 * lock, whenever pci/msi.c reports that something deciding the vector's fate
 * changed (table entry, enable, function mask, bus mastering, reset) and the
 * vector is deliverable; with interrupt remapping on, irq_routes translates
 * the message through the remapper and retranslates it on interrupt-entry
 * cache invalidations.
 *
 * A vector that is masked, or whose route remapping blocks, is not `ready`:
 * virtio_raise_irq then takes the big lock and goes through pci_notify, which
 * keeps the pending-bit semantics (and records a remapping fault) exactly as
 * without irqfds. A route stays allocated once made (at most 9 per device) and
 * is only pointed elsewhere, so an update never races an irqfd assignment. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/virtio.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

static unsigned nr_vectors(const VirtIODevice *vdev)
{
    return vdev->ops->nr_queues + 1;
}

int virtio_irqfds_init(VirtIODevice *vdev)
{
    for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++)
        vdev->irqfd[v].fd = vdev->irqfd[v].gsi = -1;
    for (unsigned v = 0; v < nr_vectors(vdev); v++) {
        vdev->irqfd[v].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vdev->irqfd[v].fd < 0) {
            log_error("%s: eventfd: %s", vdev->pci.dev.id, strerror(errno));
            return -1;
        }
    }
    return 0;
}

void virtio_irqfds_uninit(VirtIODevice *vdev)
{
    struct vm *vm = vdev->pci.dev.vm;
    for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++) {
        __atomic_store_n(&vdev->irqfd[v].ready, false, __ATOMIC_RELEASE);
        if (vdev->irqfd[v].gsi >= 0) {
            irq_irqfd_deassign(vm, vdev->irqfd[v].gsi, vdev->irqfd[v].fd);
            irq_msi_route_del(vm, vdev->irqfd[v].gsi);
        }
        if (vdev->irqfd[v].fd >= 0)
            close(vdev->irqfd[v].fd);
        vdev->irqfd[v].fd = vdev->irqfd[v].gsi = -1;
    }
}

/* Points vector v's route at `msg` (making the route and binding the irqfd
 * the first time). True when KVM now delivers the irqfd to that message. */
static bool program_route(VirtIODevice *vdev, unsigned v, const MSIMessage *msg)
{
    struct vm *vm = vdev->pci.dev.vm;
    uint16_t rid = pci_requester_id(&vdev->pci);
    int *gsi = &vdev->irqfd[v].gsi;
    if (*gsi < 0) {
        int g = irq_msi_route_add(vm, msg, rid);
        if (g < 0)
            return false;
        if (irq_irqfd_assign(vm, g, vdev->irqfd[v].fd, -1) < 0) {
            irq_msi_route_del(vm, g);
            return false;
        }
        *gsi = g;
    } else if (irq_msi_route_update(vm, *gsi, msg, rid) < 0) {
        return false;
    }
    MSIMessage out;
    return irq_route_lookup(vm, *gsi, &out) == 1;
}

void virtio_irqfds_update(PCIDevice *d)
{
    VirtIODevice *vdev = (VirtIODevice *)d;
    if (!vdev->use_irqfds || !vdev->ops)
        return;
    for (unsigned v = 0; v < nr_vectors(vdev); v++) {
        MSIMessage msg;
        bool ready = vdev->irqfd[v].fd >= 0 && pci_msix_vector_target(d, v, &msg) &&
                     program_route(vdev, v, &msg);
        __atomic_store_n(&vdev->irqfd[v].ready, ready, __ATOMIC_RELEASE);
    }
}

bool virtio_irqfd_signal(VirtIODevice *vdev, uint16_t vector)
{
    if (vector > VIRTIO_MAX_QUEUES || !__atomic_load_n(&vdev->irqfd[vector].ready,
                                                       __ATOMIC_ACQUIRE))
        return false;
    /* A full counter (2^64 - 2 unconsumed signals) cannot happen: KVM reads it
     * on every signal. */
    eventfd_write(vdev->irqfd[vector].fd, 1);
    return true;
}
