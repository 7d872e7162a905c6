/* A fake IOMMU region for unit tests of DMA behind an IOMMU: IOVA page p is
 * guest-physical p + offset while `mapped`, read-only in [ro_start, ro_end),
 * no access otherwise. Counts translations and recorded faults; tests change
 * the fields and send the unmap notifications themselves. */
#ifndef MINIVMM_TEST_FAKE_IOMMU_H
#define MINIVMM_TEST_FAKE_IOMMU_H

#include <sched.h>

#include "iommu/iommu.h"
#include "memory/memory.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "tests/unit/fake_vm.h"

typedef struct FakeIOMMU {
    MemoryRegion *mr;
    AddressSpace *target;
    bool mapped;
    hwaddr offset, ro_start, ro_end;
    unsigned translations, faults;
    bool slow;                /* yield inside translate: widens a filler's race window */
} FakeIOMMU;

static inline IOMMUTLBEntry fake_iommu_translate(MemoryRegion *mr, hwaddr addr,
                                                 IOMMUAccessFlags access, bool record_fault)
{
    FakeIOMMU *io = mr->opaque;
    io->translations++;
    /* Atomic: a test changes the offset while another thread translates. */
    IOMMUTLBEntry e = { .target_as = io->target, .iova = addr & ~0xfffull,
                        .translated_addr = (addr & ~0xfffull) +
                                           __atomic_load_n(&io->offset, __ATOMIC_ACQUIRE),
                        .addr_mask = 0xfff, .perm = IOMMU_NONE };
    if (io->slow)
        sched_yield();
    if (io->mapped)
        e.perm = addr >= io->ro_start && addr < io->ro_end ? IOMMU_RO : IOMMU_RW;
    if (!(e.perm & access) && record_fault)
        io->faults++;
    return e;
}

static const IOMMURegionOps fake_iommu_region_ops = { .translate = fake_iommu_translate };

static inline MemoryRegion *fake_iommu_dma_region(void *opaque, uint16_t rid)
{
    (void)rid;
    return ((FakeIOMMU *)opaque)->mr;
}

/* Puts every device on the fake VM's PCI bus behind `io`, mapped read-write
 * at `offset`. The caller drops io->mr after the VM's devices are gone. */
static inline void fake_iommu_attach(FakeIOMMU *io, struct fake_vm *f, hwaddr offset)
{
    *io = (FakeIOMMU){ .target = f->vm.as_mem, .mapped = true, .offset = offset };
    io->mr = memory_region_new_iommu("fake-iommu", UINT64_MAX, &fake_iommu_region_ops, io);
    pci_bus_set_iommu(pci_root_bus(&f->vm), fake_iommu_dma_region, io);
}

#endif
