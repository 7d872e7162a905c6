/* Private interfaces between the files of pci/. Not for device models. */
#ifndef MINIVMM_PCI_INTERNAL_H
#define MINIVMM_PCI_INTERNAL_H

#include "pci/pci.h"

/* Window allocator for firmware-assigned BAR addresses. */
typedef struct PCIWindow {
    uint64_t base, size, next;
} PCIWindow;

struct PCIBus {
    struct vm *vm;
    uint8_t number;
    PCIBus *parent;                    /* NULL: a root bus (bridges come later) */
    PCIDevice *devices[PCI_NR_DEVFN];
    unsigned intx_count[PCI_INTX_NR_GSIS]; /* functions asserting each GSI */
    PCIWindow io, mmio32, mmio64;
    MemoryRegion *(*iommu_fn)(void *opaque, uint16_t requester_id);
    void *iommu_opaque;
};

/* config.c */
bool pci_range_covers(uint32_t addr, unsigned len, uint32_t start, uint32_t size);

/* bar.c: (re)map every BAR after a write to the command register or a BAR. */
void pci_update_mappings(PCIDevice *d);
void pci_unmap_bars(PCIDevice *d);
void pci_bars_release(PCIDevice *d);
/* The INTx line after the model's level or the INTx disable bit changed. */
void pci_update_intx(PCIDevice *d);

/* msi.c */
void pci_msi_config_written(PCIDevice *d, uint32_t addr, unsigned len, uint16_t old_ctrl);
void pci_msix_config_written(PCIDevice *d, uint32_t addr, unsigned len, uint16_t old_ctrl);
void pci_msi_reset(PCIDevice *d);
void pci_msix_release(PCIDevice *d);
/* Tells the model's msi_changed hook, if any. */
void pci_msi_changed(PCIDevice *d);

/* dump.c: drops what pci_resolve_names gave the function. */
void pci_names_free(PCIDevice *d);

/* host.c: the bus's windows (64-bit window above RAM). */
void pci_bus_windows(const struct vm *vm, PCIWindow *io, PCIWindow *mmio32, PCIWindow *mmio64);

#endif
