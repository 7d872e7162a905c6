/* GSI routes and irqfds (vmm/irq.h).
 *
 * KVM takes the routing table only as a whole (KVM_SET_GSI_ROUTING), so we keep
 * every route here and hand KVM the complete table after each change. Each
 * route keeps the message as written (and its requester) beside the message
 * after interrupt remapping, so a retranslation needs nothing from the device. */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

/* KVM's default routes in kernel mode: GSI 0..15 to the PIC and IOAPIC pins of
 * the same number, GSI 16..23 to the IOAPIC. */
#define NR_PIC_GSIS       16
#define NR_KERNEL_DEFAULT (IRQ_IOAPIC_PINS + NR_PIC_GSIS)

struct irq_route {
    bool used;
    bool active;            /* remapping let it through: `out` is in KVM's table */
    uint16_t rid;
    MSIMessage msg;         /* as the device (or the IOAPIC) wrote it */
    MSIMessage out;         /* after interrupt remapping */
};

struct irq_routes {
    struct vm *vm;
    /* Interrupt remapping changed (an interrupt-entry-cache invalidation, IR on
     * or off): every route is translated anew. */
    IntRemapNotifier remap_changed;
    pthread_mutex_t lock;
    unsigned commits;
    struct irq_route gsi[IRQ_MAX_GSI];
};

static void routes_remap_changed(IntRemapNotifier *n)
{
    struct irq_routes *rt =
        (struct irq_routes *)(void *)((char *)n - offsetof(struct irq_routes, remap_changed));
    irq_routes_retranslate(rt->vm);
}

int irq_routes_init(struct vm *vm)
{
    if (vm->irq_routes)
        return 0;
    struct irq_routes *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        log_error("out of memory for the GSI route table");
        return -1;
    }
    pthread_mutex_init(&rt->lock, NULL);
    rt->vm = vm;
    rt->remap_changed.changed = routes_remap_changed;
    vm_intremap_add_notifier(vm, &rt->remap_changed);
    vm->irq_routes = rt;
    return 0;
}

void irq_routes_free(struct vm *vm)
{
    if (!vm->irq_routes)
        return;
    vm_intremap_remove_notifier(vm, &vm->irq_routes->remap_changed);
    pthread_mutex_destroy(&vm->irq_routes->lock);
    free(vm->irq_routes);
    vm->irq_routes = NULL;
}

static bool split_mode(const struct vm *vm)
{
    return vm->cfg && vm->cfg->irqchip == IRQCHIP_SPLIT;
}

/* Sets r->out and r->active from r->msg; true when either changed. */
static bool translate(struct vm *vm, struct irq_route *r)
{
    MSIMessage out = r->msg;
    bool active = true;
    InterruptRemapper *ir = __atomic_load_n(&vm->intremap, __ATOMIC_ACQUIRE);
    if (ir)
        active = ir->remap(ir, r->rid, &r->msg, &out) == 0;
    if (!active)
        out = (MSIMessage){ 0 };
    bool changed = active != r->active || out.address != r->out.address ||
                   out.data != r->out.data;
    r->active = active;
    r->out = out;
    return changed;
}

static void add_irqchip_entry(struct kvm_irq_routing_entry *e, unsigned gsi, unsigned chip,
                              unsigned pin)
{
    e->gsi = gsi;
    e->type = KVM_IRQ_ROUTING_IRQCHIP;
    e->u.irqchip.irqchip = chip;
    e->u.irqchip.pin = pin;
}

/* Hands KVM the whole table (rt->lock held). 0 or -1. */
static int commit_locked(struct vm *vm, struct irq_routes *rt)
{
    rt->commits++;
    if (!vm->has_kvm)
        return 0;
    size_t n = 0, max = NR_KERNEL_DEFAULT + IRQ_MAX_GSI;
    struct kvm_irq_routing *t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
    if (!t) {
        log_error("out of memory for the GSI routing table");
        return -1;
    }
    if (!split_mode(vm)) {
        for (unsigned gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
            add_irqchip_entry(&t->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
            if (gsi < NR_PIC_GSIS)
                add_irqchip_entry(&t->entries[n++], gsi,
                                  gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                                  gsi % 8);
        }
    }
    for (unsigned gsi = 0; gsi < IRQ_MAX_GSI; gsi++) {
        const struct irq_route *r = &rt->gsi[gsi];
        if (!r->used || !r->active)
            continue;
        struct kvm_irq_routing_entry *e = &t->entries[n++];
        e->gsi = gsi;
        e->type = KVM_IRQ_ROUTING_MSI;
        e->u.msi.address_lo = (uint32_t)r->out.address;
        e->u.msi.address_hi = (uint32_t)(r->out.address >> 32);
        e->u.msi.data = r->out.data;
    }
    t->nr = (uint32_t)n;
    int ret = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t);
    free(t);
    if (ret < 0) {
        log_error("KVM_SET_GSI_ROUTING (%zu routes) failed: %s", n, strerror(errno));
        return -1;
    }
    return 0;
}

static struct irq_routes *routes(struct vm *vm)
{
    if (!vm->irq_routes)
        log_error("GSI routes used before irq_routes_init");
    return vm->irq_routes;
}

/* A GSI of the MSI-route range that is in use (rt->lock held). */
/* The routes, locked, when gsi is an MSI route; otherwise NULL, logged as a
 * failed `what` ("update", "delete"). */
static struct irq_routes *lock_msi_route(struct vm *vm, int gsi, const char *what)
{
    struct irq_routes *rt = routes(vm);
    if (!rt)
        return NULL;
    pthread_mutex_lock(&rt->lock);
    if (gsi >= IRQ_IOAPIC_PINS && gsi < IRQ_MAX_GSI && rt->gsi[gsi].used)
        return rt;
    pthread_mutex_unlock(&rt->lock);
    log_error("MSI route %s: GSI %d is not an MSI route", what, gsi);
    return NULL;
}

int irq_msi_route_add(struct vm *vm, const MSIMessage *msg, uint16_t rid)
{
    struct irq_routes *rt = routes(vm);
    if (!rt)
        return -1;
    pthread_mutex_lock(&rt->lock);
    int gsi = IRQ_IOAPIC_PINS;
    while (gsi < IRQ_MAX_GSI && rt->gsi[gsi].used)
        gsi++;
    if (gsi == IRQ_MAX_GSI) {
        pthread_mutex_unlock(&rt->lock);
        log_error("no free GSI for an MSI route (all %d in use)", IRQ_MAX_GSI);
        return -1;
    }
    struct irq_route *r = &rt->gsi[gsi];
    *r = (struct irq_route){ .used = true, .rid = rid, .msg = *msg };
    translate(vm, r);
    if (commit_locked(vm, rt) < 0) {
        *r = (struct irq_route){ 0 };
        gsi = -1;
    }
    pthread_mutex_unlock(&rt->lock);
    return gsi;
}

int irq_msi_route_update(struct vm *vm, int gsi, const MSIMessage *msg, uint16_t rid)
{
    struct irq_routes *rt = lock_msi_route(vm, gsi, "update");
    if (!rt)
        return -1;
    struct irq_route *r = &rt->gsi[gsi];
    r->msg = *msg;
    r->rid = rid;
    int ret = translate(vm, r) ? commit_locked(vm, rt) : 0;
    pthread_mutex_unlock(&rt->lock);
    return ret;
}

int irq_msi_route_del(struct vm *vm, int gsi)
{
    struct irq_routes *rt = lock_msi_route(vm, gsi, "delete");
    if (!rt)
        return -1;
    bool was_active = rt->gsi[gsi].active;
    rt->gsi[gsi] = (struct irq_route){ 0 };
    int ret = was_active ? commit_locked(vm, rt) : 0;
    pthread_mutex_unlock(&rt->lock);
    return ret;
}

int irq_ioapic_route_set(struct vm *vm, unsigned pin, const MSIMessage *msg)
{
    struct irq_routes *rt = routes(vm);
    if (!rt || pin >= IRQ_IOAPIC_PINS)
        return -1;
    pthread_mutex_lock(&rt->lock);
    struct irq_route *r = &rt->gsi[pin];
    int ret = 0;
    if (!r->used || r->msg.address != msg->address || r->msg.data != msg->data) {
        bool was_used = r->used;
        r->used = true;
        r->rid = IRQ_IOAPIC_RID;
        r->msg = *msg;
        if (translate(vm, r) || !was_used)
            ret = commit_locked(vm, rt);
    }
    pthread_mutex_unlock(&rt->lock);
    return ret;
}

void irq_routes_retranslate(struct vm *vm)
{
    struct irq_routes *rt = routes(vm);
    if (!rt)
        return;
    pthread_mutex_lock(&rt->lock);
    bool changed = false;
    for (unsigned gsi = 0; gsi < IRQ_MAX_GSI; gsi++)
        if (rt->gsi[gsi].used)
            changed |= translate(vm, &rt->gsi[gsi]);
    if (changed)
        commit_locked(vm, rt);
    pthread_mutex_unlock(&rt->lock);
}

int irq_route_lookup(struct vm *vm, int gsi, MSIMessage *out)
{
    struct irq_routes *rt = vm->irq_routes;
    if (!rt || gsi < 0 || gsi >= IRQ_MAX_GSI)
        return -1;
    pthread_mutex_lock(&rt->lock);
    const struct irq_route *r = &rt->gsi[gsi];
    int ret = !r->used ? -1 : r->active ? 1 : 0;
    if (ret == 1)
        *out = r->out;
    pthread_mutex_unlock(&rt->lock);
    return ret;
}

unsigned irq_routes_commits(struct vm *vm)
{
    struct irq_routes *rt = vm->irq_routes;
    if (!rt)
        return 0;
    pthread_mutex_lock(&rt->lock);
    unsigned n = rt->commits;
    pthread_mutex_unlock(&rt->lock);
    return n;
}

/* KVM_IRQFD. Split mode: GSIs 0..23 are the IOAPIC's and would bypass its
 * remote IRR, and KVM resamples only for its own IOAPIC; both are refused. */
static int irqfd(struct vm *vm, int gsi, int eventfd, int resample_fd, bool assign)
{
    if (gsi < 0 || gsi >= IRQ_MAX_GSI || eventfd < 0) {
        log_error("irqfd: bad GSI %d or eventfd %d", gsi, eventfd);
        return -1;
    }
    if (assign && split_mode(vm) && (gsi < IRQ_IOAPIC_PINS || resample_fd >= 0)) {
        log_error("irqfd: GSI %d%s with --irqchip split: IOAPIC lines go through "
                  "vm_set_irq_line", gsi, resample_fd >= 0 ? " with resampling" : "");
        return -1;
    }
    if (!vm->has_kvm)
        return 0;
    struct kvm_irqfd req = { .fd = (uint32_t)eventfd, .gsi = (uint32_t)gsi };
    if (!assign)
        req.flags = KVM_IRQFD_FLAG_DEASSIGN;
    else if (resample_fd >= 0) {
        req.flags = KVM_IRQFD_FLAG_RESAMPLE;
        req.resamplefd = (uint32_t)resample_fd;
    }
    if (ioctl(vm->vm_fd, KVM_IRQFD, &req) < 0) {
        log_error("KVM_IRQFD (%s GSI %d) failed: %s", assign ? "assign" : "deassign", gsi,
                  strerror(errno));
        return -1;
    }
    return 0;
}

int irq_irqfd_assign(struct vm *vm, int gsi, int eventfd, int resample_fd)
{
    return irqfd(vm, gsi, eventfd, resample_fd, true);
}

int irq_irqfd_deassign(struct vm *vm, int gsi, int eventfd)
{
    return irqfd(vm, gsi, eventfd, -1, false);
}
