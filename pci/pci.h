/* PCI: the host bridge, buses, functions, config space, BARs and interrupts.
 *
 * The picture (README "PCI"):
 *   - one PCIe host (pci/host.c) with root bus 0; config space through ports
 *     0xCF8/0xCFC and the ECAM window at LAYOUT_PCI_ECAM (ACPI MCFG); both
 *     reach pci_config_read/write of the addressed function;
 *   - a function is a device instance (devices/device.h) whose struct starts
 *     with a PCIDevice; its realize calls pci_device_init, registers BARs and
 *     capabilities, and its unrealize calls pci_device_uninit;
 *   - BARs are the model's regions, mapped into vm->sysmem / vm->sysio only while
 *     the command register enables decode; a move is one memory transaction;
 *   - interrupts: pci_set_irq (INTx, level, GSI 16 + (slot + pin) % 8),
 *     pci_notify (one MSI or MSI-X vector, or INTx when neither is enabled:
 *     edge-raise as a pulse is not PCI, so a model using INTx keeps its level
 *     with pci_set_irq). Delivery goes through vm_send_msi (vmm/irq.h).
 *   - DMA: pci/dma.h.
 *
 * Threading: config accesses, BAR and command changes run with the big lock
 * held (they come from vCPU exits through MMIO/PIO dispatch, which takes it).
 * pci_set_irq and pci_notify may be called from any thread holding the big
 * lock (models' I/O threads take it around them).
 */
#ifndef MINIVMM_PCI_H
#define MINIVMM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "iommu/iommu.h"   /* MSIMessage */
#include "memory/memory.h"
#include <linux/pci_regs.h> /* PCI_COMMAND, PCI_CAP_ID_MSI, ... */

struct vm;
typedef struct PCIBus PCIBus;
typedef struct PCIDevice PCIDevice;
typedef struct PCIDMAState PCIDMAState;

#define PCI_DEVFN(slot, fn)   ((uint8_t)(((slot) << 3) | (fn)))
#define PCI_SLOT(devfn)       (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn)       ((devfn) & 7)
#define PCI_NR_DEVFN          256
#define PCI_NUM_BARS          6
#define PCI_CONFIG_SPACE_SIZE 256
#define PCIE_CONFIG_SPACE_SIZE 4096
#define PCI_BAR_UNMAPPED      UINT64_MAX
/* First GSI of the INTx lines: INTA-D of slot s go to 16 + (s + pin) % 8. */
#define PCI_INTX_GSI_BASE     16
#define PCI_INTX_NR_GSIS      8

typedef enum PCIBarType {
    PCI_BAR_NONE = 0,
    PCI_BAR_IO,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64,           /* takes two BAR slots: n and n + 1 */
} PCIBarType;

typedef struct PCIBar {
    PCIBarType type;
    bool prefetchable;
    uint64_t size;           /* power of two; 0 = unused */
    MemoryRegion *mr;        /* the model's region (referenced while registered) */
    uint64_t mapped_addr;    /* where it is mapped now, or PCI_BAR_UNMAPPED */
} PCIBar;

/* Optional per-class hooks: a model overrides config-space accesses it must
 * see (e.g. a register with side effects). They receive aligned accesses of
 * 1, 2 or 4 bytes inside the function's config space; call
 * pci_default_config_read/write for the standard behaviour. */
typedef struct PCIDeviceOps {
    uint32_t (*config_read)(PCIDevice *d, uint32_t addr, unsigned len);
    void (*config_write)(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
    /* Optional: something that decides where an MSI or MSI-X vector goes, or
     * whether it goes, changed: the MSI capability, an MSI-X table entry, the
     * enable or function-mask bit, bus mastering, a reset. For models that
     * deliver vectors themselves (irqfds on MSI routes: virtio, VFIO);
     * pci_msix_vector_target says the current MSI-X state. Runs after pci/msi.c
     * has applied the change, big lock held. */
    void (*msi_changed)(PCIDevice *d);
} PCIDeviceOps;

/* What the model puts in its header. */
typedef struct PCIDeviceInfo {
    uint16_t vendor_id, device_id;
    uint16_t subsystem_vendor_id, subsystem_id;
    uint32_t class_code;     /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    uint8_t intx_pin;        /* 0 none, 1 INTA ... 4 INTD */
    bool express;            /* PCIe endpoint: 4 KiB config space, PCIe capability */
} PCIDeviceInfo;

typedef struct PCIMSIState {
    uint8_t cap;             /* offset of the MSI capability, 0 = none */
    uint8_t nr_vectors;      /* 1, 2, 4, 8, 16 or 32 */
    bool is_64bit, per_vector_mask;
} PCIMSIState;

typedef struct PCIMSIXState {
    uint8_t cap;             /* offset of the MSI-X capability, 0 = none */
    uint16_t nr_vectors;
    MemoryRegion *table_mr, *pba_mr;   /* subregions of the BAR(s) holding them */
    uint8_t *table;          /* nr_vectors * 16 bytes, little-endian */
    uint8_t *pba;            /* pending bits */
} PCIMSIXState;

struct PCIDevice {
    Device dev;              /* first: a PCI function is a device instance */
    PCIBus *bus;
    uint8_t devfn;
    const PCIDeviceOps *ops; /* may be NULL */
    PCIDeviceInfo info;

    uint32_t config_size;    /* 256 or 4096 */
    uint8_t *config;         /* the registers */
    uint8_t *wmask;          /* bits the guest may write */
    uint8_t *w1cmask;        /* bits a guest write of 1 clears */
    uint8_t *used;           /* capability bytes taken (for the builder's checks) */
    uint8_t last_cap;        /* the PCI capability list's tail, 0 = empty */
    uint16_t last_ext_cap;   /* the extended list's tail, 0 = none yet */

    PCIBar bars[PCI_NUM_BARS];
    PCIMSIState msi;
    PCIMSIXState msix;
    bool intx_level;         /* what the model asserts (pci_set_irq) */
    bool intx_asserted;      /* what the line carries (level && !INTx disable) */

    PCIDMAState *dma;        /* pci/dma.h */
    struct PCINames *names;  /* from pci.ids, once pci_resolve_names ran; else NULL */
};

/* ---- the host and its bus ---------------------------------------------------------- */
/* Creates the host bridge: bus 0, config ports, ECAM, the host bridge function
 * at 00.0. Sets vm->pci. 0 or -1 (one error line). */
int pci_host_init(struct vm *vm);
/* The host bridge's windows for BARs (what the ACPI _CRS announces). The 64-bit
 * window starts at the first 1 GiB boundary above RAM. */
typedef struct PCIHostWindows {
    uint64_t io_base, io_size, mmio32_base, mmio32_size, mmio64_base, mmio64_size;
} PCIHostWindows;
void pci_host_windows(const struct vm *vm, PCIHostWindows *w);
/* The VM's root bus (NULL when there is no PCI host). */
PCIBus *pci_root_bus(struct vm *vm);
/* The function at devfn of `bus`, or NULL. */
PCIDevice *pci_bus_device(PCIBus *bus, uint8_t devfn);
uint8_t pci_bus_number(const PCIBus *bus);
/* Config access to bus/devfn as the host bridge does it (`addr` < 4096, len 1/2/4,
 * aligned). A missing function reads all-ones and ignores writes. */
uint32_t pci_bus_config_read(PCIBus *bus, uint8_t bus_nr, uint8_t devfn, uint32_t addr,
                             unsigned len);
void pci_bus_config_write(PCIBus *bus, uint8_t bus_nr, uint8_t devfn, uint32_t addr,
                          uint32_t val, unsigned len);
/* Calls fn for each function in devfn order. */
void pci_bus_foreach(PCIBus *bus, void (*fn)(PCIDevice *d, void *opaque), void *opaque);

/* ---- functions ------------------------------------------------------------------------ */
/* From the model's realize: allocates config space, fills the header and plugs
 * the function into `bus` at `devfn` (-1: the first free slot's function 0).
 * Also creates the DMA address space (pci/dma.h), so call pci_bus_set_iommu
 * before. 0, or -1 with one error line. */
int pci_device_init(PCIDevice *d, PCIBus *bus, int devfn, const PCIDeviceInfo *info,
                    const PCIDeviceOps *ops);
/* From the model's unrealize: unmaps BARs, drops the line, unplugs. Safe on a
 * half-initialised or zeroed PCIDevice. */
void pci_device_uninit(PCIDevice *d);
/* Power-on state of the standard registers (command 0, BARs at 0 but the
 * firmware-assigned address kept, MSI/MSI-X off, line low). */
void pci_device_reset(PCIDevice *d);

/* Registers `mr` as BAR n (takes a reference). Sizes are powers of two,
 * >= 16 bytes for memory and >= 4 for I/O; the region's size is the BAR's.
 * The BAR gets a firmware-assigned address from the host's windows; it is
 * mapped once the guest enables decode in the command register. 0 or -1. */
int pci_register_bar(PCIDevice *d, unsigned n, PCIBarType type, bool prefetchable,
                     MemoryRegion *mr);
/* The BAR's current guest address, or PCI_BAR_UNMAPPED. */
uint64_t pci_bar_address(const PCIDevice *d, unsigned n);

/* ---- config space ---------------------------------------------------------------------- */
uint32_t pci_config_read(PCIDevice *d, uint32_t addr, unsigned len);
void pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
uint32_t pci_default_config_read(PCIDevice *d, uint32_t addr, unsigned len);
void pci_default_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);

/* Capability list builder. `offset` 0: the first free dword-aligned offset
 * after the header (PCI) / after 0x100 (extended). Returns the offset, or 0
 * (with an error line) when it does not fit or overlaps. The caller fills the
 * body (and its wmask) after the 2-byte (PCI) / 4-byte (extended) header. */
uint8_t pci_add_capability(PCIDevice *d, uint8_t cap_id, uint8_t offset, uint8_t size);
uint16_t pcie_add_ext_capability(PCIDevice *d, uint16_t cap_id, uint8_t version,
                                 uint16_t offset, uint16_t size);
/* Offset of the first capability with that id, or 0. */
uint8_t pci_find_capability(const PCIDevice *d, uint8_t cap_id);
uint16_t pcie_find_ext_capability(const PCIDevice *d, uint16_t cap_id);

/* Little-endian config-space helpers for models (no masks applied). */
void pci_set_byte(uint8_t *p, uint8_t v);
void pci_set_word(uint8_t *p, uint16_t v);
void pci_set_long(uint8_t *p, uint32_t v);
uint16_t pci_get_word(const uint8_t *p);
uint32_t pci_get_long(const uint8_t *p);

/* ---- interrupts ------------------------------------------------------------------------ */
/* MSI capability with nr_vectors (power of two, 1-32). 0 or -1. */
int pci_msi_init(PCIDevice *d, unsigned nr_vectors, bool is_64bit, bool per_vector_mask);
/* MSI-X with the table at table_offset in BAR table_bar and the PBA at
 * pba_offset in BAR pba_bar (both 8-byte aligned, inside the BARs, which must
 * be registered first and be containers: the table and PBA are overlaid as
 * subregions above the model's own registers). 0 or -1. */
int pci_msix_init(PCIDevice *d, unsigned nr_vectors, unsigned table_bar,
                  uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset);
/* The same with the capability at `cap_offset` (a device whose capability list
 * is given: VFIO keeps the assigned device's offsets). */
int pci_msi_init_at(PCIDevice *d, uint8_t cap_offset, unsigned nr_vectors, bool is_64bit,
                    bool per_vector_mask);
int pci_msix_init_at(PCIDevice *d, uint8_t cap_offset, unsigned nr_vectors,
                     unsigned table_bar, uint32_t table_offset, unsigned pba_bar,
                     uint32_t pba_offset);
bool pci_msi_enabled(const PCIDevice *d);
bool pci_msix_enabled(const PCIDevice *d);
/* Raise vector `vector` as an edge: MSI-X or MSI when enabled (a masked vector
 * becomes pending and is sent on unmask); otherwise nothing (INTx is a level:
 * use pci_set_irq). Bus mastering off blocks MSI as on hardware; a message
 * whose address is not an interrupt's (0xFEExxxxx) is written to memory
 * through the function's DMA path, as hardware does. */
void pci_notify(PCIDevice *d, unsigned vector);
/* Whether MSI-X vector v would be sent now as an interrupt (MSI-X on, function
 * and vector unmasked, bus mastering on, an address in 0xFEExxxxx), and then
 * its message in *msg. Any other address makes the vector a memory write,
 * which pci_notify carries out. Big lock held. */
bool pci_msix_vector_target(const PCIDevice *d, unsigned v, MSIMessage *msg);
/* INTx level of the function's pin. The interrupt status bit follows `level`;
 * the line carries it unless INTx disable is set. */
void pci_set_irq(PCIDevice *d, bool level);
/* The GSI a slot's pin (1-4) is routed to (the ACPI _PRT says the same). */
unsigned pci_intx_gsi(uint8_t devfn, uint8_t pin);

/* ---- diagnostics ------------------------------------------------------------------------ */
/* `lspci -v`-like listing of every function (pci/dump.c); `out` is a FILE *. */
void pci_dump(struct vm *vm, void *out);

/* Names from pci.ids (libpci); NULL where pci.ids has none. */
typedef struct PCINames {
    char *vendor, *device, *subsystem_vendor, *class_name;
} PCINames;
/* Looks up every function's names now, so later readers (the control socket's
 * thread, whose seccomp filter allows no open of pci.ids) need no file: call
 * on the main thread before the filters; functions do not hot-plug. Functions
 * keep them (d->names) until pci_device_uninit. */
void pci_resolve_names(struct vm *vm);

/* What --dump-pci and the control socket's `pci` command show of a function
 * (pci_describe; big lock held). */
typedef struct PCIBarDesc {
    PCIBarType type;         /* PCI_BAR_NONE: unused, or the upper half of a 64-bit BAR */
    bool prefetchable;
    bool enabled;            /* decoded now (mapped at `addr`) */
    uint64_t addr;           /* what the BAR registers hold */
    uint64_t size;
} PCIBarDesc;

typedef struct PCIFunctionDesc {
    uint8_t bus, slot, func;
    const char *id;          /* the device instance's id */
    uint16_t vendor_id, device_id, subsystem_vendor_id, subsystem_id;
    uint32_t class_code;     /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    bool express;
    uint16_t command;
    uint8_t intx_pin;        /* 0 none, 1 INTA ... 4 INTD */
    unsigned intx_gsi;       /* when intx_pin */
    bool msi, msi_enabled, msi_64bit, msi_maskable;      /* msi: has the capability */
    unsigned msi_vectors, msi_max_vectors;               /* enabled (MME), offered (MMC) */
    bool msix, msix_enabled, msix_masked;
    unsigned msix_vectors;
    const char *irq_mode;    /* "MSI-X", "MSI", "INTx", "none (INTx disabled)" or "none" */
    bool behind_iommu;       /* DMA goes through an IOMMU region */
    PCIBarDesc bars[PCI_NUM_BARS];
    const PCINames *names;   /* NULL before pci_resolve_names */
} PCIFunctionDesc;
void pci_describe(const PCIDevice *d, PCIFunctionDesc *out);

#endif
