/* The memory core: a tree of regions rendered into flat views.
 *
 * Regions form a tree under an address space's root container. A commit renders
 * the tree into a sorted FlatView, publishes it with RCU and tells listeners the
 * difference (all deletions first, then all additions). Dispatch looks up the
 * current view without a global lock, validates each access against the
 * region's `valid` constraints and splits or widens it to what the region
 * implements (`impl`), in the region's byte order.
 *
 * Threading: tree changes (add/del subregion, enable, set_address, romd mode,
 * commit) happen with the big lock held (memory_bql_lock). Lookups and RAM
 * accesses run in RCU read-side critical sections; MMIO ops run with the big
 * lock held (taken by dispatch if the caller does not hold it already).
 */
#ifndef MINIVMM_MEMORY_H
#define MINIVMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t hwaddr;

typedef enum MemTxResult {
    MEMTX_OK = 0,
    MEMTX_DECODE_ERROR,   /* nothing at that address */
    MEMTX_ACCESS_ERROR,   /* the region refused the access (size, alignment, device) */
    MEMTX_IOMMU_FAULT,    /* an IOMMU on the way refused the translation */
} MemTxResult;

typedef enum DeviceEndian {
    DEVICE_LITTLE_ENDIAN = 0,
    DEVICE_BIG_ENDIAN,
} DeviceEndian;

typedef struct MemoryAccessConstraints {
    unsigned min_access_size; /* 0 means 1 */
    unsigned max_access_size; /* 0 means 4 */
    bool unaligned;           /* accesses not aligned to their size are allowed */
} MemoryAccessConstraints;

/* Device callbacks. `size` is 1, 2, 4 or 8 and within `impl`; `addr` is the
 * offset into the region. The value is the device's view of the bytes at
 * [addr, addr+size) interpreted in `endianness`. Returning a non-OK status
 * makes the whole guest access fail with that status.
 * An access of 1, 2, 4 or 8 bytes is validated as a whole; other lengths are cut
 * into the largest pieces `valid` allows. A unit narrower than impl.min is widened
 * to the aligned impl.min unit holding it; a widened write is a read-modify-write
 * of that unit. A missing callback fails the access with MEMTX_ACCESS_ERROR, and
 * so does an access reaching a region whose ops already run on this thread. */
typedef struct MemoryRegionOps {
    MemTxResult (*read)(void *opaque, hwaddr addr, uint64_t *data, unsigned size);
    MemTxResult (*write)(void *opaque, hwaddr addr, uint64_t data, unsigned size);
    DeviceEndian endianness;
    MemoryAccessConstraints valid; /* what the guest may do; violations: ACCESS_ERROR */
    MemoryAccessConstraints impl;  /* what the callbacks handle; the core adapts */
} MemoryRegionOps;

typedef enum MemoryRegionType {
    MR_CONTAINER,
    MR_RAM,        /* guest RAM on a memfd (or a slice given by the creator) */
    MR_MMIO,       /* ops */
    MR_RAM_DEVICE, /* host pointer to device memory: exact-width volatile accesses only */
    MR_ROM_DEVICE, /* romd mode: reads from a RAM backing (mapped read-only); writes to ops */
    MR_ALIAS,
    MR_IOMMU,      /* accesses are translated into another address space (iommu/iommu.h) */
} MemoryRegionType;

typedef struct MemoryRegion MemoryRegion;
typedef struct FlatView FlatView;
typedef struct AddressSpace AddressSpace;
struct IOMMURegionOps;
struct IOMMUNotifier;

struct MemoryRegion {
    char *name;
    MemoryRegionType type;
    uint64_t size;
    int refcount;                /* atomic */
    void (*on_finalize)(MemoryRegion *mr); /* optional, called just before it is freed */
    void *finalize_opaque;

    const MemoryRegionOps *ops;  /* MMIO, ROM device */
    void *opaque;
    /* ops' valid/impl access sizes with defaults applied, so dispatch need not
     * recompute them on every access (set by the constructors); and, as bit w,
     * the sizes w whose aligned reads/writes are valid, implemented as they are
     * and have an op: those need one op call and no further checks */
    uint8_t valid_min, valid_max, impl_min, impl_max;
    uint16_t direct_read_sizes, direct_write_sizes;

    uint8_t *host;               /* RAM, RAM_DEVICE */
    int fd;                      /* RAM: memfd (or -1) */
    uint64_t fd_offset;
    bool owns_host;              /* RAM: munmap/close on finalize */
    bool readonly;               /* RAM only: a ROM; writes are dropped */

    MemoryRegion *rom_backing;   /* ROM device: RAM region served in romd mode */
    bool romd_mode;

    MemoryRegion *alias;         /* ALIAS target and offset into it */
    hwaddr alias_offset;

    const struct IOMMURegionOps *iommu_ops;      /* IOMMU; `opaque` is the model's */
    struct IOMMUNotifier *iommu_notifiers;       /* big lock */

    /* The device whose registers these are (PCI: its BARs). A DMA by that
     * device (memory_dma_owner_set) reaching them is refused. */
    void *owner;

    /* position in the tree */
    MemoryRegion *container;
    hwaddr addr;
    int priority;
    bool enabled;
    MemoryRegion **subregions;   /* sorted: highest priority first, then last added first */
    unsigned nr_subregions;
};

/* ---- construction and lifetime -------------------------------------------------
 * Every constructor returns a region with one reference, owned by the caller.
 * memory_region_add_subregion takes its own reference. */
MemoryRegion *memory_region_new_container(const char *name, uint64_t size);
/* RAM on a fresh memfd; NULL (and errno) on failure. */
MemoryRegion *memory_region_new_ram(const char *name, uint64_t size);
/* A read-only RAM (ROM): reads from memory, writes ignored. */
MemoryRegion *memory_region_new_rom(const char *name, uint64_t size);
/* `ops` must stay unchanged while the region exists: the core caches what it allows. */
MemoryRegion *memory_region_new_io(const char *name, uint64_t size,
                                   const MemoryRegionOps *ops, void *opaque);
/* `host` stays owned by the caller and must outlive the region. */
MemoryRegion *memory_region_new_ram_device(const char *name, uint64_t size, void *host);
/* A ROM device with a fresh RAM backing of `size`, starting in romd mode. */
MemoryRegion *memory_region_new_rom_device(const char *name, uint64_t size,
                                           const MemoryRegionOps *ops, void *opaque);
MemoryRegion *memory_region_new_alias(const char *name, MemoryRegion *target,
                                      hwaddr offset, uint64_t size);

void memory_region_ref(MemoryRegion *mr);
void memory_region_unref(MemoryRegion *mr);

/* ---- the tree (big lock held; changes are applied at the outermost commit) ------ */
void memory_region_add_subregion(MemoryRegion *container, hwaddr addr, MemoryRegion *sub);
void memory_region_add_subregion_overlap(MemoryRegion *container, hwaddr addr,
                                         MemoryRegion *sub, int priority);
void memory_region_del_subregion(MemoryRegion *container, MemoryRegion *sub);
void memory_region_set_enabled(MemoryRegion *mr, bool enabled);
void memory_region_set_address(MemoryRegion *mr, hwaddr addr);
void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset);

/* ROM device: romd mode on = reads from the backing RAM (KVM maps it read-only),
 * off = reads and writes both go to ops. */
void memory_region_rom_device_set_romd(MemoryRegion *mr, bool romd);
/* Hand over a new RAM backing (takes a reference to `backing`). The previous one
 * is released once no flat view or reader still refers to it. */
void memory_region_rom_device_set_backing(MemoryRegion *mr, MemoryRegion *backing);
/* Host pointer of a RAM, ROM, RAM_DEVICE region or a ROM device's backing. */
void *memory_region_get_ram_ptr(MemoryRegion *mr);

void memory_region_transaction_begin(void);
void memory_region_transaction_commit(void);

/* ---- address spaces, flat views, listeners ------------------------------------- */
typedef struct FlatRange {
    hwaddr addr;                /* start in the address space */
    uint64_t size;
    MemoryRegion *mr;           /* leaf region (never a container or alias); referenced */
    hwaddr offset_in_region;    /* offset of `addr` into mr */
    uint8_t *host;              /* non-NULL when reads are served from memory:
                                   RAM, ROM, RAM_DEVICE, ROM device in romd mode */
    MemoryRegion *ram;          /* region owning `host` (referenced), else NULL */
    bool readonly;              /* writes must not reach `host` */
} FlatRange;

struct FlatView {
    FlatRange *ranges;          /* sorted by addr, non-overlapping */
    unsigned nr;
    unsigned mru;               /* index of the range last found (a hint; relaxed atomic) */
};

typedef struct MemoryRegionSection {
    MemoryRegion *mr;
    MemoryRegion *ram;
    uint8_t *host;               /* host address of offset_within_address_space, or NULL */
    hwaddr offset_within_region;
    hwaddr offset_within_address_space;
    uint64_t size;
    bool readonly;
} MemoryRegionSection;

/* Callbacks run with the big lock held, after the new view is published; the
 * sections' regions stay valid for the duration of the call. */
typedef struct MemoryListener MemoryListener;
struct MemoryListener {
    void (*begin)(MemoryListener *l);
    void (*region_del)(MemoryListener *l, const MemoryRegionSection *s);
    void (*region_add)(MemoryListener *l, const MemoryRegionSection *s);
    void (*commit)(MemoryListener *l);
    /* private */
    AddressSpace *as;
    MemoryListener *next;
};

struct AddressSpace {
    char *name;
    MemoryRegion *root;
    FlatView *current;           /* RCU-protected; read with address_space_get_flatview */
    MemoryListener *listeners;
    AddressSpace *next;
};

AddressSpace *address_space_new(const char *name, MemoryRegion *root);
void address_space_free(AddressSpace *as);
/* The first registration replays the current view as region_add calls;
 * unregistering reports it as region_del calls. */
void memory_listener_register(MemoryListener *l, AddressSpace *as);
void memory_listener_unregister(MemoryListener *l);

/* Must be called inside an RCU read-side critical section (rcu_read_lock). */
FlatView *address_space_get_flatview(AddressSpace *as);
const FlatRange *flatview_lookup(const FlatView *fv, hwaddr addr);

/* The range of `fv` holding `addr` if table walkers may read it: RAM (or ROM)
 * with a host mapping whose 8-byte entries load atomically. Inside an RCU
 * read-side section. */
static inline const FlatRange *flatview_ram_range(const FlatView *fv, hwaddr addr)
{
    /* The MRU hint first: walks keep hitting the same RAM range. */
    unsigned i = __atomic_load_n(&fv->mru, __ATOMIC_RELAXED);
    const FlatRange *fr = &fv->ranges[i];
    if (__builtin_expect(!(i < fv->nr && addr - fr->addr < fr->size), 0)) {
        fr = flatview_lookup(fv, addr);
        if (!fr)
            return NULL;
    }
    /* A RAM range placed at an odd host offset cannot give atomic loads. */
    if (fr->mr->type != MR_RAM || !fr->host || (((uintptr_t)fr->host - fr->addr) & 7))
        return NULL;
    return fr;
}

/* address_space_ldq_le_ram (below) for a walker that reads several entries in
 * a row (an IOMMU page walk) inside its own RCU read-side critical section,
 * with `fv` from address_space_get_flatview: one section for the walk instead
 * of one per entry. */
static inline bool flatview_ldq_le_ram(const FlatView *fv, hwaddr addr, uint64_t *vals,
                                       unsigned n)
{
    if ((addr & 7) || n - 1 >= 512 || !fv)
        return false;
    const FlatRange *fr = flatview_ram_range(fv, addr);
    if (!fr || 8ull * n > fr->size - (addr - fr->addr))
        return false;
    const uint64_t *p = (const uint64_t *)(fr->host + (addr - fr->addr));
    for (unsigned k = 0; k < n; k++)
        vals[k] = __atomic_load_n(&p[k], __ATOMIC_RELAXED); /* x86: little-endian */
    return true;
}

/* A page walker's memory of the RAM range its last entry came from, so that
 * the next entry in that range (the usual case: page tables sit together)
 * costs one compare instead of a lookup. Zero-initialise; it is valid for one
 * `fv` inside one RCU read-side section, and only the memory core reads it. */
typedef struct FlatViewRAMCursor {
    hwaddr addr;                /* start of the range */
    uint64_t size;              /* offsets below this start a whole entry; 0: none */
    const uint8_t *host;
} FlatViewRAMCursor;

/* The lookup half of flatview_ldq_le_ram_cursor. */
static inline bool flatview_ldq_le_ram_fill(const FlatView *fv, FlatViewRAMCursor *c,
                                            hwaddr addr, uint64_t *val)
{
    const FlatRange *fr = fv && !(addr & 7) ? flatview_ram_range(fv, addr) : NULL;
    if (!fr || fr->size < 8 || addr - fr->addr > fr->size - 8)
        return false;
    c->addr = fr->addr;
    c->size = fr->size - 7;
    c->host = fr->host;
    *val = __atomic_load_n((const uint64_t *)(fr->host + (addr - fr->addr)), __ATOMIC_RELAXED);
    return true;
}

/* One entry as flatview_ldq_le_ram(fv, addr, val, 1) reads it, through `c`. */
static inline bool flatview_ldq_le_ram_cursor(const FlatView *fv, FlatViewRAMCursor *c,
                                              hwaddr addr, uint64_t *val)
{
    if (__builtin_expect(!(addr & 7) && addr - c->addr < c->size, 1)) {
        *val = __atomic_load_n((const uint64_t *)(c->host + (addr - c->addr)),
                               __ATOMIC_RELAXED);
        return true;
    }
    return flatview_ldq_le_ram_fill(fv, c, addr, val);
}

/* ---- accesses (any thread; they take the RCU read lock themselves) ------------- */
/* `buf` holds the bytes in memory order. Unassigned addresses read as 0xff and drop
 * writes, returning MEMTX_DECODE_ERROR. An access that spans ranges is served
 * range by range; the first failure is returned, the rest still carried out. */
MemTxResult address_space_read(AddressSpace *as, hwaddr addr, void *buf, size_t len);
MemTxResult address_space_write(AddressSpace *as, hwaddr addr, const void *buf, size_t len);
MemTxResult address_space_rw(AddressSpace *as, hwaddr addr, void *buf, size_t len,
                             bool is_write);

/* One value, one access of exactly that width where the target allows it. */
uint8_t  address_space_ldub(AddressSpace *as, hwaddr addr, MemTxResult *res);
uint16_t address_space_lduw_le(AddressSpace *as, hwaddr addr, MemTxResult *res);
uint16_t address_space_lduw_be(AddressSpace *as, hwaddr addr, MemTxResult *res);
uint32_t address_space_ldl_le(AddressSpace *as, hwaddr addr, MemTxResult *res);
uint32_t address_space_ldl_be(AddressSpace *as, hwaddr addr, MemTxResult *res);
uint64_t address_space_ldq_le(AddressSpace *as, hwaddr addr, MemTxResult *res);
uint64_t address_space_ldq_be(AddressSpace *as, hwaddr addr, MemTxResult *res);
MemTxResult address_space_stb(AddressSpace *as, hwaddr addr, uint8_t val);
MemTxResult address_space_stw_le(AddressSpace *as, hwaddr addr, uint16_t val);
MemTxResult address_space_stw_be(AddressSpace *as, hwaddr addr, uint16_t val);
MemTxResult address_space_stl_le(AddressSpace *as, hwaddr addr, uint32_t val);
MemTxResult address_space_stl_be(AddressSpace *as, hwaddr addr, uint32_t val);
MemTxResult address_space_stq_le(AddressSpace *as, hwaddr addr, uint64_t val);
MemTxResult address_space_stq_be(AddressSpace *as, hwaddr addr, uint64_t val);
/* For table walkers (IOMMU page tables) that must read only guest RAM, never
 * device registers: `n` consecutive little-endian 8-byte values at `addr`
 * (8-byte aligned), each one single-copy-atomic load, all from one RAM or ROM
 * range. False, with `vals` untouched, if any byte is unassigned, MMIO, a ROM
 * device or device memory, or `addr` is misaligned. Cheaper than ldq_le: one
 * RCU section and one lookup for all `n`. */
bool address_space_ldq_le_ram(AddressSpace *as, hwaddr addr, uint64_t *vals, unsigned n);

/* ---- device memory --------------------------------------------------------------
 * Exactly one volatile load/store of `size` (1, 2, 4, 8) at `p`; `p` must be
 * aligned to `size`. */
uint64_t device_mem_load(const volatile void *p, unsigned size);
void device_mem_store(volatile void *p, uint64_t val, unsigned size);
/* Copy `len` bytes in increasing address order of `dst`; never splits a naturally
 * aligned 2/4/8-byte unit of `dst`; each destination byte written exactly once;
 * correct when the buffers overlap. Either side may be device memory. */
void memory_copy_ordered(volatile void *dst, const volatile void *src, size_t len);

/* ---- DMA re-entrancy -------------------------------------------------------------
 * While a device does DMA on this thread, accesses reaching a region whose
 * `owner` is that device fail with MEMTX_ACCESS_ERROR instead of calling into
 * it (DESIGN §2 rule 6). Returns the previous owner, to restore afterwards. */
void *memory_dma_owner_set(void *owner);

/* ---- the big lock -----------------------------------------------------------------
 * Not recursive: take it only if memory_bql_locked() is false. Never wait for RCU
 * (synchronize_rcu, rcu_barrier) while holding it or from an MMIO op: a reader
 * may be waiting for the lock inside its read-side section. */
void memory_bql_lock(void);
void memory_bql_unlock(void);
bool memory_bql_locked(void);   /* by the calling thread */

/* Debug output like QEMU's `info mtree`: the tree, then each address space's flat
 * view. Writes to `out` (a FILE *). */
void memory_dump_mtree(void *out, AddressSpace *const *spaces, unsigned nr_spaces);
/* Its two halves: the region trees (big lock held), and the flat views. */
void memory_dump_regions(void *out, AddressSpace *const *spaces, unsigned nr_spaces);
void memory_dump_flatviews(void *out, AddressSpace *const *spaces, unsigned nr_spaces);

#endif
