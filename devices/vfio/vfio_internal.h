/* Private to devices/vfio/: the PCI model's state shared by its files. */
#ifndef MINIVMM_VFIO_INTERNAL_H
#define MINIVMM_VFIO_INTERNAL_H

#include <glib.h>
#include <pthread.h>

#include "devices/vfio/vfio.h"
#include "iommu/iommu.h"
#include "pci/pci.h"

typedef struct VFIOBar {
    VFIORegionInfo info;
    MemoryRegion *container;    /* what the PCI layer maps */
    MemoryRegion *io;           /* slow path: every access to the backend */
    MemoryRegion *mmap_mr[VFIO_MAX_AREAS];
    struct VFIOPCIDevice *dev;
    unsigned index;
} VFIOBar;

typedef struct VFIOVector {
    int efd;                    /* the backend signals it */
    int gsi;                    /* MSI route, -1 none */
    bool on_irqfd;              /* KVM delivers it without us */
} VFIOVector;

/* One DMA mapping handed to the backend. */
typedef struct VFIODMAMap {
    uint64_t iova, size;
} VFIODMAMap;

typedef struct VFIOPCIDevice {
    PCIDevice pci;
    VFIOBackend *be;
    PCIBus *dev_bus;            /* where realize plugs it */
    unsigned nr_regions, nr_irqs;
    VFIOBar bars[PCI_NUM_BARS];
    /* config space: bytes whose reads come from our copy (1) or the device (0) */
    uint8_t emulated[PCI_CONFIG_SPACE_SIZE];

    /* interrupts */
    unsigned irq_index;         /* VFIO_PCI_MSIX/MSI_IRQ_INDEX in use, or INTX */
    unsigned nr_vectors;        /* eventfds handed to the backend for irq_index */
    VFIOVector *vectors;        /* [VFIO_MAX_IRQ_VECTORS] */
    int intx_efd;
    bool intx_asserted;
    int ctl_efd;                /* wakes the I/O thread: the poll set changed, or stop */
    pthread_t thread;
    bool thread_started, stop;

    /* DMA */
    MemoryListener listener;    /* no vIOMMU: system memory's RAM */
    bool listening;
    IOMMUNotifier iommu_notifier; /* behind the vIOMMU */
    MemoryRegion *iommu_mr;
    GArray *maps;               /* VFIODMAMap, sorted by iova */
    unsigned dma_errors;
} VFIOPCIDevice;

/* vfio_bar.c */
int vfio_bars_init(VFIOPCIDevice *v, const uint8_t *raw);
void vfio_bars_release(VFIOPCIDevice *v);
/* Lower INTx and unmask it at the device: what an EOI would do (called on
 * BAR accesses, as the guest's handler touches the device). */
void vfio_intx_eoi(VFIOPCIDevice *v);

/* vfio_config.c */
int vfio_config_init(VFIOPCIDevice *v, const uint8_t *raw);
extern const PCIDeviceOps vfio_pci_ops;

/* vfio_irq.c */
int vfio_irq_init(VFIOPCIDevice *v);
void vfio_irq_release(VFIOPCIDevice *v);
void vfio_msi_changed(PCIDevice *d);

/* vfio_dma.c: mapping bookkeeping, from listener or IOMMU notifications */
int vfio_dma_init(VFIOPCIDevice *v);
void vfio_dma_release(VFIOPCIDevice *v);
int vfio_dma_map_range(VFIOPCIDevice *v, uint64_t iova, uint64_t size, void *host, int fd,
                       uint64_t fd_offset, bool writable);
void vfio_dma_unmap_range(VFIOPCIDevice *v, uint64_t iova, uint64_t size);

#endif
