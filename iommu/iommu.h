/* The generic IOMMU: a memory region whose accesses are translated.
 *
 * A device's DMA address space (pci/dma.h) has, below its bus-master alias, an
 * IOMMU region made for that requester by the IOMMU model (one region per
 * requester id, as each device has its own translation). An access that reaches
 * an IOMMU region is translated page by page: translate() says where the page
 * holding the address lands (target address space + address), how large the
 * page is and what it allows; the access then continues in the target space.
 * A permission the entry does not grant fails the access with
 * MEMTX_IOMMU_FAULT, and the model records the fault as its hardware would.
 *
 * Notifiers let consumers shadow or cache translations: VFIO mirrors MAP
 * events into the host IOMMU; the DMA layer's mapping cache and virtio's ring
 * mappings drop what an UNMAP event covers. A model sends UNMAP for every
 * range the guest invalidates (whether or not it was mapped before) and, in
 * caching mode, MAP for entries the guest created and then invalidated.
 */
#ifndef MINIVMM_IOMMU_H
#define MINIVMM_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

typedef enum IOMMUAccessFlags {
    IOMMU_NONE = 0,
    IOMMU_RO = 1,          /* device reads (DMA from memory) */
    IOMMU_WO = 2,          /* device writes */
    IOMMU_RW = 3,
} IOMMUAccessFlags;

typedef struct IOMMUTLBEntry {
    AddressSpace *target_as;   /* where translated_addr lives (system memory) */
    hwaddr iova;               /* first address of the page: iova & ~addr_mask */
    hwaddr translated_addr;    /* where iova lands in target_as */
    hwaddr addr_mask;          /* page size - 1: 0xfff, 0x1fffff, 0x3fffffff, ... */
    IOMMUAccessFlags perm;     /* what the entry allows; IOMMU_NONE = not mapped */
} IOMMUTLBEntry;

typedef struct IOMMURegionOps {
    /* The translation of the page holding `addr` for an access of kind `access`
     * (IOMMU_RO or IOMMU_WO). A missing, bad or too narrow entry comes back with
     * perm lacking `access`; when `record_fault` the model records the fault
     * (fault registers, fault event) as its hardware would. A lookup that must
     * not leave traces (a debugger, a mapping replay) passes false. Runs on any
     * thread; the model locks its own state. */
    IOMMUTLBEntry (*translate)(MemoryRegion *iommu, hwaddr addr, IOMMUAccessFlags access,
                               bool record_fault);
    /* Optional: call n->notify with a MAP event for each mapping that exists
     * now in [n->start, n->end] (a late VFIO listener catching up). */
    void (*replay)(MemoryRegion *iommu, struct IOMMUNotifier *n);
} IOMMURegionOps;

typedef enum IOMMUNotifierFlag {
    IOMMU_NOTIFIER_UNMAP = 1,  /* a range was invalidated: drop what you hold */
    IOMMU_NOTIFIER_MAP = 2,    /* a new mapping exists (caching mode only) */
} IOMMUNotifierFlag;

typedef struct IOMMUNotifier IOMMUNotifier;
struct IOMMUNotifier {
    /* event is one flag; for UNMAP, entry->perm is IOMMU_NONE and
     * [iova, iova + addr_mask] the invalidated range (may be huge: a global
     * flush is iova 0, addr_mask UINT64_MAX). Runs with the big lock held. */
    void (*notify)(IOMMUNotifier *n, IOMMUNotifierFlag event, const IOMMUTLBEntry *entry);
    unsigned flags;            /* the events wanted */
    hwaddr start, end;         /* the IOVA range of interest, inclusive */
    /* private */
    MemoryRegion *iommu;
    IOMMUNotifier *next;
};

/* A new IOMMU region of `size` (usually UINT64_MAX). One reference. */
MemoryRegion *memory_region_new_iommu(const char *name, uint64_t size,
                                      const IOMMURegionOps *ops, void *opaque);
/* Big lock held (notifiers run under it). */
void memory_region_iommu_register_notifier(MemoryRegion *iommu, IOMMUNotifier *n);
void memory_region_iommu_unregister_notifier(IOMMUNotifier *n);
/* For models: tell every notifier of `iommu` whose flags and range match. */
void memory_region_iommu_notify(MemoryRegion *iommu, IOMMUNotifierFlag event,
                                const IOMMUTLBEntry *entry);
/* Replays existing mappings to `n` (nothing if the model has no replay). */
void memory_region_iommu_replay(MemoryRegion *iommu, IOMMUNotifier *n);

/* ---- interrupts ------------------------------------------------------------------
 * An MSI as written by a device: the address/data pair of the MSI capability, an
 * MSI-X table entry or the IOAPIC's redirection entry. */
typedef struct MSIMessage {
    uint64_t address;
    uint32_t data;
} MSIMessage;

/* An IOMMU that remaps interrupts installs one of these in vm->intremap. */
typedef struct InterruptRemapper InterruptRemapper;
struct InterruptRemapper {
    /* `in`, written by requester `rid`, as the message to deliver (compatibility
     * format). 0, or -1 when the interrupt is blocked (the model records the
     * fault). Runs on any thread. */
    int (*remap)(InterruptRemapper *ir, uint16_t rid, const MSIMessage *in, MSIMessage *out);
    void *opaque;
};

/* Anything that keeps a remapped message (irqfd MSI routes) registers one of
 * these on the VM: it is told whenever what remap() returns may have changed
 * (remapping turned on or off, the guest invalidated the interrupt entry
 * cache) and must then translate its messages again. Big lock held for
 * registration and calls; `changed` must not register or unregister. */
typedef struct IntRemapNotifier IntRemapNotifier;
struct IntRemapNotifier {
    void (*changed)(IntRemapNotifier *n);
    IntRemapNotifier *next;    /* private */
};
struct vm;
void vm_intremap_add_notifier(struct vm *vm, IntRemapNotifier *n);
void vm_intremap_remove_notifier(struct vm *vm, IntRemapNotifier *n);
/* For IOMMU models: call every notifier. */
void vm_intremap_changed(struct vm *vm);

#endif
