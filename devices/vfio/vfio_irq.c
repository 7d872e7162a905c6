/* An assigned device's interrupts. The backend signals one eventfd per vector.
 *
 * MSI / MSI-X: while a vector is enabled and unmasked, its eventfd is an irqfd
 * on an MSI route (vmm/irq.h) holding the vector's message — after interrupt
 * remapping, which the route table redoes when the guest changes it — so KVM
 * delivers it without us. A masked vector's eventfd is read by the I/O thread,
 * which calls pci_notify: pci/msi.c sets its pending bit and sends it on unmask.
 * Without KVM (unit tests) every vector goes through the I/O thread.
 *
 * INTx: the eventfd is read by the I/O thread, which raises the level (split
 * irqchip has no resampling irqfds). The backend masks INTx when it fires; the
 * next BAR access (the guest's handler talking to the device) lowers the line
 * and unmasks it, and a device still asserting fires again. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/vfio/vfio_internal.h"
#include "pci/dma.h"
#include "util/log.h"
#include "vmm/seccomp.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

static void wake(VFIOPCIDevice *v)
{
    eventfd_write(v->ctl_efd, 1);
}

static bool bus_master(const PCIDevice *d)
{
    return pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER;
}

/* The vector's message, or false while it must not be delivered directly. */
static bool vector_message(VFIOPCIDevice *v, unsigned n, MSIMessage *m)
{
    PCIDevice *d = &v->pci;
    if (!bus_master(d))
        return false;
    if (v->irq_index == VFIO_PCI_MSIX_IRQ_INDEX) {
        const uint8_t *e = d->msix.table + n * PCI_MSIX_ENTRY_SIZE;
        if ((pci_get_word(d->config + d->msix.cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL) ||
            (e[PCI_MSIX_ENTRY_VECTOR_CTRL] & 1))
            return false;
        m->address = pci_get_long(e + PCI_MSIX_ENTRY_LOWER_ADDR) |
                     (uint64_t)pci_get_long(e + PCI_MSIX_ENTRY_UPPER_ADDR) << 32;
        m->data = pci_get_long(e + PCI_MSIX_ENTRY_DATA);
        return true;
    }
    const uint8_t *c = d->config + d->msi.cap;
    uint8_t data_off = d->msi.is_64bit ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
    if (d->msi.per_vector_mask &&
        (pci_get_long(c + (d->msi.is_64bit ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32)) & (1u << n)))
        return false;
    m->address = pci_get_long(c + PCI_MSI_ADDRESS_LO);
    if (d->msi.is_64bit)
        m->address |= (uint64_t)pci_get_long(c + PCI_MSI_ADDRESS_HI) << 32;
    m->data = (pci_get_word(c + data_off) & ~(v->nr_vectors - 1)) | n;
    return true;
}

static void detach_irqfd(VFIOPCIDevice *v, VFIOVector *vec)
{
    if (vec->on_irqfd)
        irq_irqfd_deassign(v->pci.dev.vm, vec->gsi, vec->efd);
    vec->on_irqfd = false;
}

static void release_vectors(VFIOPCIDevice *v)
{
    for (unsigned n = 0; n < v->nr_vectors; n++) {
        VFIOVector *vec = &v->vectors[n];
        detach_irqfd(v, vec);
        if (vec->gsi >= 0)
            irq_msi_route_del(v->pci.dev.vm, vec->gsi);
        vec->gsi = -1;
    }
}

static unsigned wanted_index(const PCIDevice *d, unsigned *nr)
{
    if (pci_msix_enabled(d)) {
        *nr = d->msix.nr_vectors;
        return VFIO_PCI_MSIX_IRQ_INDEX;
    }
    if (pci_msi_enabled(d)) {
        uint16_t ctrl = pci_get_word(d->config + d->msi.cap + PCI_MSI_FLAGS);
        unsigned n = 1u << ((ctrl & PCI_MSI_FLAGS_QSIZE) >> 4);
        *nr = n < d->msi.nr_vectors ? n : d->msi.nr_vectors;
        return VFIO_PCI_MSI_IRQ_INDEX;
    }
    *nr = 1;
    return VFIO_PCI_INTX_IRQ_INDEX;
}

static void switch_index(VFIOPCIDevice *v, unsigned index, unsigned nr)
{
    const VFIOBackendOps *ops = v->be->ops;
    release_vectors(v);
    ops->irq_set(v->be, v->irq_index, 0, 0, NULL);
    if (v->intx_asserted) {
        v->intx_asserted = false;
        pci_set_irq(&v->pci, false);
    }
    v->irq_index = index;
    v->nr_vectors = 0;
    int r;
    if (index == VFIO_PCI_INTX_IRQ_INDEX) {
        r = v->pci.info.intx_pin ? ops->irq_set(v->be, index, 0, 1, &v->intx_efd) : 0;
    } else {
        int fds[VFIO_MAX_IRQ_VECTORS];
        for (unsigned n = 0; n < nr; n++)
            fds[n] = v->vectors[n].efd;
        r = ops->irq_set(v->be, index, 0, nr, fds);
        if (!r)
            v->nr_vectors = nr;
    }
    if (r)
        log_guest_error("%s: the device refused interrupt mode %u (%u vectors): %s",
                        v->pci.dev.id, index, nr, strerror(-r));
}

void vfio_msi_changed(PCIDevice *d)
{
    VFIOPCIDevice *v = (VFIOPCIDevice *)d;
    struct vm *vm = d->dev.vm;
    unsigned nr, index = wanted_index(d, &nr);
    if (index != v->irq_index || (index != VFIO_PCI_INTX_IRQ_INDEX && nr != v->nr_vectors))
        switch_index(v, index, nr);
    uint16_t rid = pci_requester_id(d);
    for (unsigned n = 0; n < v->nr_vectors; n++) {
        VFIOVector *vec = &v->vectors[n];
        MSIMessage m;
        if (!vector_message(v, n, &m)) {
            detach_irqfd(v, vec);
            continue;
        }
        if (vec->gsi < 0)
            vec->gsi = irq_msi_route_add(vm, &m, rid);
        else
            irq_msi_route_update(vm, vec->gsi, &m, rid);
        if (vec->gsi >= 0 && !vec->on_irqfd && vm->has_kvm)
            vec->on_irqfd = irq_irqfd_assign(vm, vec->gsi, vec->efd, -1) == 0;
    }
    wake(v);
}

void vfio_intx_eoi(VFIOPCIDevice *v)
{
    if (!__atomic_load_n(&v->intx_asserted, __ATOMIC_RELAXED))
        return;
    v->intx_asserted = false;
    pci_set_irq(&v->pci, false);
    v->be->ops->irq_unmask(v->be, VFIO_PCI_INTX_IRQ_INDEX);
}

static void *iothread_main(void *opaque)
{
    VFIOPCIDevice *v = opaque;
    seccomp_apply_thread(SECCOMP_THREAD_VFIO_IO, v->pci.dev.id);
    struct pollfd *fds = g_new(struct pollfd, VFIO_MAX_IRQ_VECTORS + 2);
    unsigned *which = g_new(unsigned, VFIO_MAX_IRQ_VECTORS + 2);
    for (;;) {
        unsigned nfds = 0;
        memory_bql_lock();
        bool stop = v->stop;
        fds[nfds] = (struct pollfd){ .fd = v->ctl_efd, .events = POLLIN };
        which[nfds++] = UINT32_MAX;
        if (v->irq_index == VFIO_PCI_INTX_IRQ_INDEX) {
            fds[nfds] = (struct pollfd){ .fd = v->intx_efd, .events = POLLIN };
            which[nfds++] = UINT32_MAX - 1;
        }
        for (unsigned n = 0; n < v->nr_vectors; n++)
            if (!v->vectors[n].on_irqfd) {
                fds[nfds] = (struct pollfd){ .fd = v->vectors[n].efd, .events = POLLIN };
                which[nfds++] = n;
            }
        memory_bql_unlock();
        if (stop)
            break;
        if (poll(fds, nfds, -1) < 0 && errno != EINTR)
            break;
        memory_bql_lock();
        for (unsigned i = 0; i < nfds; i++) {
            eventfd_t val;
            if (!(fds[i].revents & POLLIN) || eventfd_read(fds[i].fd, &val))
                continue;
            if (which[i] == UINT32_MAX - 1) {
                if (v->irq_index == VFIO_PCI_INTX_IRQ_INDEX && !v->intx_asserted) {
                    v->intx_asserted = true;
                    pci_set_irq(&v->pci, true);
                }
            } else if (which[i] < v->nr_vectors) {
                pci_notify(&v->pci, which[i]);
            }
        }
        memory_bql_unlock();
    }
    g_free(fds);
    g_free(which);
    return NULL;
}

int vfio_irq_init(VFIOPCIDevice *v)
{
    const char *id = v->pci.dev.id;
    v->irq_index = VFIO_PCI_INTX_IRQ_INDEX;
    v->vectors = g_new0(VFIOVector, VFIO_MAX_IRQ_VECTORS);
    for (unsigned n = 0; n < VFIO_MAX_IRQ_VECTORS; n++)
        v->vectors[n] = (VFIOVector){ .efd = -1, .gsi = -1 };
    unsigned need = v->pci.msix.cap ? v->pci.msix.nr_vectors : 0;
    if (v->pci.msi.cap && v->pci.msi.nr_vectors > need)
        need = v->pci.msi.nr_vectors;
    for (unsigned n = 0; n < need; n++)
        if ((v->vectors[n].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            goto fail;
    v->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    v->ctl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (v->intx_efd < 0 || v->ctl_efd < 0)
        goto fail;
    if (v->pci.info.intx_pin &&
        v->be->ops->irq_set(v->be, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &v->intx_efd))
        log_warn("%s: the device refused its INTx eventfd", id);
    int r = pthread_create(&v->thread, NULL, iothread_main, v);
    if (r) {
        log_error("%s: cannot start its I/O thread: %s", id, strerror(r));
        return -1;
    }
    v->thread_started = true;
    return 0;
fail:
    log_error("%s: eventfd: %s", id, strerror(errno));
    return -1;
}

void vfio_irq_release(VFIOPCIDevice *v)
{
    if (v->thread_started) {
        memory_bql_lock();
        v->stop = true;
        memory_bql_unlock();
        wake(v);
        pthread_join(v->thread, NULL);
        v->thread_started = false;
    }
    if (v->vectors) {
        memory_bql_lock();
        release_vectors(v);
        memory_bql_unlock();
        for (unsigned n = 0; n < VFIO_MAX_IRQ_VECTORS; n++)
            if (v->vectors[n].efd >= 0)
                close(v->vectors[n].efd);
        g_free(v->vectors);
        v->vectors = NULL;
    }
    if (v->intx_efd > 0)
        close(v->intx_efd);
    if (v->ctl_efd > 0)
        close(v->ctl_efd);
    v->intx_efd = v->ctl_efd = -1;
}
