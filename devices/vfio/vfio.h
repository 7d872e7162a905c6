/* VFIO device assignment: one PCI device model (vfio_pci.c and friends) over
 * two backends that reach the real device:
 *   - the kernel's VFIO (vfio_kernel.c): --device path=/sys/bus/pci/devices/...
 *   - a vfio-user server over a UNIX socket (vfio_user.c): --user-device socket=PATH
 *
 * The model sees a backend only through VFIOBackendOps: regions (with their
 * sparse mmap-able areas), region reads/writes of an exact width, mmap of an
 * area, interrupts as eventfds, DMA map/unmap of guest RAM, reset. PCI config
 * space is region VFIO_PCI_CONFIG_REGION_INDEX, as in the kernel's interface.
 *
 * BAR picture (DESIGN §6), one container per BAR:
 *   "<id> bar N"            container
 *     ├─ "<id> bar N msix-table/pba"  priority 1: emulated (pci/msi.c)
 *     ├─ "<id> bar N mmap@OFF"        priority 0: ram_device, one per sparse area
 *     └─ "<id> bar N io"              priority -1: every access forwarded to the
 *                                     backend with its exact width
 */
#ifndef MINIVMM_VFIO_H
#define MINIVMM_VFIO_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

struct vm;

#define VFIO_MAX_AREAS   8      /* sparse mmap areas per region we use */
#define VFIO_MAX_REGIONS 16
#define VFIO_MAX_IRQ_VECTORS 2048

typedef struct VFIOArea {
    uint64_t offset, size;      /* inside the region; page-aligned */
} VFIOArea;

typedef struct VFIORegionInfo {
    uint64_t size;
    uint32_t flags;             /* VFIO_REGION_INFO_FLAG_READ / WRITE / MMAP */
    unsigned nr_areas;          /* mmap-able parts (the whole region without a
                                   sparse capability when MMAP is set) */
    VFIOArea areas[VFIO_MAX_AREAS];
} VFIORegionInfo;

typedef struct VFIOBackend VFIOBackend;

/* Every call returns 0 or -errno (-EIO: the backend is gone). */
typedef struct VFIOBackendOps {
    const char *kind;           /* "vfio", "vfio-user": for messages */
    int (*device_info)(VFIOBackend *b, unsigned *nr_regions, unsigned *nr_irqs);
    int (*region_info)(VFIOBackend *b, unsigned index, VFIORegionInfo *out);
    /* One access of `len` bytes (1, 2, 4 or 8 for BARs; up to 4096 for config). */
    int (*region_read)(VFIOBackend *b, unsigned index, uint64_t off, void *buf, unsigned len);
    int (*region_write)(VFIOBackend *b, unsigned index, uint64_t off, const void *buf,
                        unsigned len);
    /* A mapping of area `area` of region `index` (NULL and errno on failure). */
    void *(*region_mmap)(VFIOBackend *b, unsigned index, unsigned area);
    int (*irq_info)(VFIOBackend *b, unsigned index, uint32_t *count, uint32_t *flags);
    /* Trigger eventfds for vectors [start, start + count) of irq `index`;
     * fds[i] < 0 detaches vector start + i; count 0 disables the index. */
    int (*irq_set)(VFIOBackend *b, unsigned index, unsigned start, unsigned count,
                   const int *fds);
    int (*irq_unmask)(VFIOBackend *b, unsigned index);   /* INTx after an EOI */
    /* Guest RAM at `host` (also `fd` at `fd_offset`) visible to the device at `iova`. */
    int (*dma_map)(VFIOBackend *b, uint64_t iova, uint64_t size, void *host, int fd,
                   uint64_t fd_offset, bool writable);
    int (*dma_unmap)(VFIOBackend *b, uint64_t iova, uint64_t size);
    int (*reset)(VFIOBackend *b);
    void (*destroy)(VFIOBackend *b);
} VFIOBackendOps;

struct VFIOBackend {
    const VFIOBackendOps *ops;
    char *name;                 /* what the user named: the sysfs path or socket */
};

/* Creates the PCI function for `be` on vm's root bus, takes ownership of `be`
 * (destroyed with the device, or here on failure). `id` NULL: "vfio<n>".
 * 0, or -1 after one error line naming the device. */
int vfio_pci_create(struct vm *vm, VFIOBackend *be, const char *id);

/* --dump-mtree: each assigned device's BAR layers (`out` is a FILE *). */
void vfio_dump_bars(struct vm *vm, void *out);

/* The backends. NULL after one error line naming `path` (bad input). */
VFIOBackend *vfio_user_connect(const char *socket_path);
VFIOBackend *vfio_kernel_open(const char *sysfs_path);
/* The vfio-user client on a connected socket (takes it; tests use socketpairs). */
VFIOBackend *vfio_user_connect_fd(int sock, const char *name);

/* --device / --user-device values: "path=..." / "socket=..." [,id=NAME].
 * 0, or -1 with the reason in err. */
typedef struct VFIOOptions {
    char path[256];
    char id[32];
} VFIOOptions;
int vfio_parse_device(const char *opt, const char *key, const char *value, VFIOOptions *o,
                      char *err, size_t errlen);

#endif
