/* The generic IOMMU region: construction and notifiers (iommu/iommu.h). The
 * translation itself happens in memory/dispatch.c, which calls the model. */
#include "iommu/iommu.h"

#include "util/log.h"
#include "vmm/vm.h"

void memory_region_iommu_register_notifier(MemoryRegion *iommu, IOMMUNotifier *n)
{
    if (iommu->type != MR_IOMMU || n->iommu) {
        log_error("iommu: bad notifier registration on '%s'", iommu->name);
        return;
    }
    n->iommu = iommu;
    n->next = iommu->iommu_notifiers;
    iommu->iommu_notifiers = n;
}

void memory_region_iommu_unregister_notifier(IOMMUNotifier *n)
{
    if (!n->iommu)
        return;
    for (IOMMUNotifier **p = &n->iommu->iommu_notifiers; *p; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            break;
        }
    }
    n->iommu = NULL;
    n->next = NULL;
}

void memory_region_iommu_notify(MemoryRegion *iommu, IOMMUNotifierFlag event,
                                const IOMMUTLBEntry *entry)
{
    hwaddr first = entry->iova & ~entry->addr_mask;
    hwaddr last = first + entry->addr_mask;
    IOMMUNotifier *next;
    /* A notifier may unregister itself from its callback. */
    for (IOMMUNotifier *n = iommu->iommu_notifiers; n; n = next) {
        next = n->next;
        if ((n->flags & event) && first <= n->end && last >= n->start)
            n->notify(n, event, entry);
    }
}

void memory_region_iommu_replay(MemoryRegion *iommu, IOMMUNotifier *n)
{
    if (iommu->type == MR_IOMMU && iommu->iommu_ops->replay)
        iommu->iommu_ops->replay(iommu, n);
}

void vm_intremap_add_notifier(struct vm *vm, IntRemapNotifier *n)
{
    n->next = vm->intremap_notifiers;
    vm->intremap_notifiers = n;
}

void vm_intremap_remove_notifier(struct vm *vm, IntRemapNotifier *n)
{
    for (IntRemapNotifier **p = &vm->intremap_notifiers; *p; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            break;
        }
    }
    n->next = NULL;
}

void vm_intremap_changed(struct vm *vm)
{
    for (IntRemapNotifier *n = vm->intremap_notifiers; n; n = n->next)
        n->changed(n);
}
