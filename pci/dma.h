/* The DMA layer: the only way device models reach guest memory.
 *
 * Each PCI function has its own DMA address space (DESIGN §3):
 *
 *   "<dev> dma" root container
 *     └─ "<dev> bus-master" alias   enabled only while the command register's
 *          │                        bus master bit is set (else: master abort,
 *          │                        MEMTX_DECODE_ERROR)
 *          └─ the IOMMU region for this requester id, when the bus has an IOMMU
 *               (pci_bus_set_iommu), which translates into ...
 *          └─ ... system memory (vm->as_mem's root)
 *
 * Every call returns a MemTxResult: MEMTX_OK, MEMTX_DECODE_ERROR (nothing
 * there, or bus mastering off), MEMTX_ACCESS_ERROR (the target refused; also a
 * device's DMA into its own BARs), MEMTX_IOMMU_FAULT (the IOMMU refused, and
 * recorded the fault). Failed reads fill 0xff. An aligned 2/4/8-byte access to
 * RAM is one single-copy-atomic host access; DMA landing on MMIO keeps its width.
 *
 * A small per-device translation cache (IOVA page -> host page + permission)
 * makes repeated accesses to RAM cheap; it is invalidated by IOMMU UNMAP
 * notifications, bus-master changes and system-memory topology changes
 * (generation counters read under RCU, so readers never lock).
 *
 * Threading: the accessors run on any thread (I/O threads included) without the
 * big lock; MMIO targets take it in dispatch. Map/unmap and the invalidate
 * callbacks run with the big lock held.
 */
#ifndef MINIVMM_PCI_DMA_H
#define MINIVMM_PCI_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory/memory.h"
#include "pci/pci.h"

typedef uint64_t dma_addr_t;

typedef enum DMADirection {
    DMA_DIRECTION_TO_DEVICE = 0,   /* the device reads guest memory */
    DMA_DIRECTION_FROM_DEVICE = 1, /* the device writes guest memory */
} DMADirection;

/* ---- the IOMMU hook ---------------------------------------------------------------- */
/* An IOMMU model (iommu/vtd.c) installs this before devices realize; each
 * device's bus-master alias then targets dma_region(opaque, requester_id), a
 * region the model owns (usually one MR_IOMMU per requester). Without it,
 * DMA goes straight to system memory. */
void pci_bus_set_iommu(PCIBus *bus,
                       MemoryRegion *(*dma_region)(void *opaque, uint16_t requester_id),
                       void *opaque);
/* bus << 8 | devfn: the requester id of the function's DMA and MSIs. */
uint16_t pci_requester_id(const PCIDevice *d);
/* The function's DMA address space (for diagnostics and the memory tree dump). */
AddressSpace *pci_dma_address_space(PCIDevice *d);

/* ---- copies --------------------------------------------------------------------------- */
MemTxResult pci_dma_rw(PCIDevice *d, dma_addr_t addr, void *buf, dma_addr_t len,
                       DMADirection dir);
MemTxResult pci_dma_read(PCIDevice *d, dma_addr_t addr, void *buf, dma_addr_t len);
MemTxResult pci_dma_write(PCIDevice *d, dma_addr_t addr, const void *buf, dma_addr_t len);

/* ---- one value, byte order in the name -------------------------------------------- */
MemTxResult ldub_pci_dma(PCIDevice *d, dma_addr_t addr, uint8_t *val);
MemTxResult lduw_le_pci_dma(PCIDevice *d, dma_addr_t addr, uint16_t *val);
MemTxResult lduw_be_pci_dma(PCIDevice *d, dma_addr_t addr, uint16_t *val);
MemTxResult ldl_le_pci_dma(PCIDevice *d, dma_addr_t addr, uint32_t *val);
MemTxResult ldl_be_pci_dma(PCIDevice *d, dma_addr_t addr, uint32_t *val);
MemTxResult ldq_le_pci_dma(PCIDevice *d, dma_addr_t addr, uint64_t *val);
MemTxResult ldq_be_pci_dma(PCIDevice *d, dma_addr_t addr, uint64_t *val);
MemTxResult stb_pci_dma(PCIDevice *d, dma_addr_t addr, uint8_t val);
MemTxResult stw_le_pci_dma(PCIDevice *d, dma_addr_t addr, uint16_t val);
MemTxResult stw_be_pci_dma(PCIDevice *d, dma_addr_t addr, uint16_t val);
MemTxResult stl_le_pci_dma(PCIDevice *d, dma_addr_t addr, uint32_t val);
MemTxResult stl_be_pci_dma(PCIDevice *d, dma_addr_t addr, uint32_t val);
MemTxResult stq_le_pci_dma(PCIDevice *d, dma_addr_t addr, uint64_t val);
MemTxResult stq_be_pci_dma(PCIDevice *d, dma_addr_t addr, uint64_t val);

/* MEMTX_OK when all of [addr, addr + len) is RAM the device may access for
 * `dir` (bus mastering on, the IOMMU allows it); else MEMTX_IOMMU_FAULT (recorded
 * by the IOMMU) or MEMTX_ACCESS_ERROR / MEMTX_DECODE_ERROR (MMIO, nothing there,
 * a range that wraps). Accesses nothing. Any thread. */
MemTxResult pci_dma_check_ram(PCIDevice *d, dma_addr_t addr, dma_addr_t len, DMADirection dir);

/* ---- file I/O straight between a file and guest RAM (pci/dma_file.c) ----------------
 * Moves `len` bytes between `fd` at `pos` and the guest buffers `segs[0..n)`,
 * starting `off` bytes into them: FROM_DEVICE reads the file into guest memory
 * (preadv), TO_DEVICE writes guest memory to the file (pwritev), on the guest's
 * own pages instead of through a bounce buffer. Each page is translated like
 * any DMA access (cache, IOMMU, RAM only) inside an RCU read-side section that
 * also covers the system call, so the RAM stays alive under the kernel's copy.
 * The kernel copies in no particular order inside the range: for buffers the
 * driver has handed to the device (block data), never for structures both
 * sides poll (rings: the single-value accessors). Like any DMA already under
 * way, an IOMMU unmap arriving during the call does not stop it; the next call
 * translates again and faults.
 * Returns the bytes moved: all `len`, or fewer when it stopped at a page that
 * is not RAM (*res MEMTX_OK: the caller moves the rest through pci_dma_rw,
 * which serves or refuses it) or that the IOMMU refuses (*res says so, the
 * fault recorded). -1 with errno on an I/O error (EIO for a short transfer).
 * Any thread; blocks in the system call. */
typedef struct PCIDMASeg {
    dma_addr_t addr;
    uint32_t len;
} PCIDMASeg;
int64_t pci_dma_file_rw(PCIDevice *d, int fd, int64_t pos, const PCIDMASeg *segs, unsigned n,
                        uint64_t off, uint64_t len, DMADirection dir, MemTxResult *res);

/* ---- long-lived mappings (virtio rings, block buffers) -------------------------------
 * pci_dma_map maps [addr, addr + len) for `dir` and returns a host pointer to
 * *mapped_len (<= len, > 0) bytes: guest RAM itself when the whole piece is RAM
 * the IOMMU allows (stopping at the first page that is not contiguous), else a
 * bounce buffer (read in through the DMA layer now for TO_DEVICE; written back
 * in address order by pci_dma_unmap for FROM_DEVICE). NULL when nothing can be
 * mapped (*mapped_len = 0; `*res` says why when res is non-NULL).
 *
 * `invalidate(opaque)` is called (big lock held) when the mapping goes stale:
 * an IOMMU UNMAP covering part of it, a bus-master disable, or a topology
 * change of system memory. From then on the user must not touch the pointer;
 * it still calls pci_dma_unmap (which then writes nothing back). It may call
 * pci_dma_unmap from inside the callback. `invalidate` may be NULL only for
 * short mappings released before the big lock is dropped.
 *
 * Big lock held for both calls. access_len: how much the device actually
 * wrote (FROM_DEVICE bounce write-back length). */
typedef void PCIDMAInvalidateFn(void *opaque);
void *pci_dma_map(PCIDevice *d, dma_addr_t addr, dma_addr_t len, DMADirection dir,
                  dma_addr_t *mapped_len, PCIDMAInvalidateFn *invalidate, void *opaque,
                  MemTxResult *res);
MemTxResult pci_dma_unmap(PCIDevice *d, void *host, DMADirection dir, dma_addr_t access_len);

/* ---- for pci/ internals ------------------------------------------------------------------ */
int pci_dma_init(PCIDevice *d);
void pci_dma_uninit(PCIDevice *d);
/* The command register's bus master bit changed. */
void pci_dma_set_bus_master(PCIDevice *d, bool enabled);

#endif
