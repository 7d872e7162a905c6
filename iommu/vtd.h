/* The emulated Intel VT-d DMA and interrupt remapping unit (--iommu).
 *
 * One remapping unit covers every PCI function. Its registers sit at
 * VTD_BASE (4 KiB); the ACPI DMAR table (vmm/acpi.c) announces it. Each PCI
 * function's DMA address space reaches the unit through its own IOMMU region
 * (iommu/iommu.h), made on demand by vtd_dma_region for the requester id
 * (bus << 8 | devfn): the PCI bus calls it through pci_bus_set_iommu.
 * With interrupt remapping offered and enabled by the guest, the unit
 * installs vm->intremap; MSIs then go through its interrupt remapping table. */
#ifndef MINIVMM_VTD_H
#define MINIVMM_VTD_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

#define VTD_BASE        0xfed90000ull
#define VTD_MMIO_SIZE   0x1000ull
/* The userspace IOAPIC's requester id (bus 0xf0, device 0x1f, function 0), as
 * the DMAR table's device scope names it; its MSIs carry this source id. */
#define VTD_IOAPIC_SID  0xf0f8

struct vm;
typedef struct VTDState VTDState;

typedef struct VTDConfig {
    bool caching_mode;   /* CAP.CM: the guest invalidates after making entries too */
    bool intremap;       /* ECAP.IR (and EIM): interrupt remapping offered */
} VTDConfig;

/* Creates the unit (a device instance "vtd") and maps its registers on
 * vm->sysmem; NULL after one error line. Freed by vm_devices_destroy. */
VTDState *vtd_create(struct vm *vm, const VTDConfig *cfg);
/* The IOMMU region for requester `rid`, made on first use and kept by the
 * unit (callers take their own reference if they keep it). Big lock held. */
MemoryRegion *vtd_dma_region(void *vtd, uint16_t rid);

/* The unit's state for the control socket's `iommu` command. */
typedef struct VTDInfo {
    bool translation;        /* GSTS.TES */
    bool intremap;           /* GSTS.IRES */
    bool queued_inval;       /* GSTS.QIES */
    uint64_t root_table;     /* RTADDR in use (latched by SRTP) */
    uint64_t iotlb_hits, iotlb_misses;
    uint64_t faults;         /* every fault recorded or not (overflow) */
    uint32_t fault_status;   /* FSTS */
} VTDInfo;
void vtd_get_info(VTDState *s, VTDInfo *info);

#endif
