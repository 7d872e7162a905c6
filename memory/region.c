/* Memory regions: construction, reference counting, the tree, transactions and
 * the big lock. */
#include "memory/memory-internal.h"

#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iommu/iommu.h"
#include "util/log.h"

/* ---- the big lock ---------------------------------------------------------------
 * One per process, shared by every VM in it (like QEMU's BQL), on purpose: the
 * memory core's transactions re-render every address space at the outermost
 * commit, and regions may be referenced from several trees, so tree changes
 * must be serialised process-wide anyway; device ops run under it so a model
 * needs no locking of its own. It guards state, but holds none of any device:
 * that lives in the device instances (devices/device.h).
 * A per-thread flag, so code can ask "do I hold it?" and take the lock only when it
 * does not (dispatch from a vCPU thread vs. from a device op), and a futex lock
 * (0 free, 1 held, 2 held with waiters) rather than a pthread mutex: it is taken
 * on every MMIO and port exit, and this costs a third of the instructions. */
static int bql_state;
static __thread bool bql_held;

static void bql_futex(int op, int val)
{
    syscall(SYS_futex, &bql_state, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void memory_bql_lock(void)
{
    if (bql_held) {
        /* Would deadlock silently; callers check memory_bql_locked() first. */
        log_error("memory: big lock taken twice by one thread");
        abort();
    }
    int c = 0;
    if (!__atomic_compare_exchange_n(&bql_state, &c, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        if (c != 2)
            c = __atomic_exchange_n(&bql_state, 2, __ATOMIC_ACQUIRE);
        while (c != 0) {
            bql_futex(FUTEX_WAIT, 2);
            c = __atomic_exchange_n(&bql_state, 2, __ATOMIC_ACQUIRE);
        }
    }
    bql_held = true;
}

void memory_bql_unlock(void)
{
    bql_held = false;
    if (__atomic_exchange_n(&bql_state, 0, __ATOMIC_RELEASE) == 2)
        bql_futex(FUTEX_WAKE, 1);
}

bool memory_bql_locked(void)
{
    return bql_held;
}

/* ---- transactions (BQL held) ------------------------------------------------------ */
static unsigned transaction_depth;
static bool update_pending;
/* Set when the outermost begin took the big lock for its caller: commit drops it. */
static __thread bool bql_taken_by_transaction;

/* Records that the tree changed; the outermost commit re-renders every space. */
static void memory_region_mark_changed(void)
{
    update_pending = true;
}

void memory_region_transaction_begin(void)
{
    if (!bql_held) {
        memory_bql_lock();
        bql_taken_by_transaction = true;
    }
    transaction_depth++;
}

void memory_region_transaction_commit(void)
{
    if (!bql_held || transaction_depth == 0) {
        log_error("memory: transaction commit without begin");
        return;
    }
    if (--transaction_depth == 0) {
        /* Listeners may change the tree again; stay "inside a transaction" while
         * rendering so that such changes are folded into another pass here. */
        while (update_pending) {
            update_pending = false;
            transaction_depth++;
            address_spaces_update_all();
            transaction_depth--;
        }
        if (bql_taken_by_transaction) {
            bql_taken_by_transaction = false;
            memory_bql_unlock();
        }
    }
}

/* ---- construction ------------------------------------------------------------------ */
static MemoryRegion *region_new(const char *name, MemoryRegionType type, uint64_t size)
{
    MemoryRegion *mr = g_new0(MemoryRegion, 1);
    mr->name = g_strdup(name ? name : "");
    mr->type = type;
    mr->size = size;
    mr->refcount = 1;
    mr->fd = -1;
    mr->enabled = true;
    return mr;
}

MemoryRegion *memory_region_new_container(const char *name, uint64_t size)
{
    return region_new(name, MR_CONTAINER, size);
}

MemoryRegion *memory_region_new_ram(const char *name, uint64_t size)
{
    if (size == 0 || size > (uint64_t)SIZE_MAX) {
        errno = EINVAL;
        return NULL;
    }
    /* memfd names are limited to 249 bytes; the name only helps debugging. */
    char *memfd_name = g_strndup(name ? name : "ram", 200);
    int fd = memfd_create(memfd_name, MFD_CLOEXEC);
    g_free(memfd_name);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)size) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    void *host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (host == MAP_FAILED) {
        int err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    MemoryRegion *mr = region_new(name, MR_RAM, size);
    mr->host = host;
    mr->fd = fd;
    mr->owns_host = true;
    return mr;
}

MemoryRegion *memory_region_new_rom(const char *name, uint64_t size)
{
    MemoryRegion *mr = memory_region_new_ram(name, size);
    if (mr)
        mr->readonly = true;
    return mr;
}

/* A unit widened to impl.min must stay inside the region (dispatch.c). */
static bool ops_fit_size(const char *name, uint64_t size, const MemoryRegion *mr)
{
    /* UINT64_MAX stands for 2^64 (memory.h). */
    if ((size == UINT64_MAX ? 0 : size) % mr->impl_min == 0)
        return true;
    log_error("memory: region '%s' of %" PRIu64 " bytes is not a multiple of its "
              "%u-byte minimum implemented access", name ? name : "", size, mr->impl_min);
    return false;
}

MemoryRegion *memory_region_new_io(const char *name, uint64_t size,
                                   const MemoryRegionOps *ops, void *opaque)
{
    MemoryRegion *mr = region_new(name, MR_MMIO, size);
    mr->ops = ops;
    mr->opaque = opaque;
    memory_region_set_access_sizes(mr);
    if (!ops_fit_size(name, size, mr)) {
        memory_region_unref(mr);
        return NULL;
    }
    return mr;
}

MemoryRegion *memory_region_new_ram_device(const char *name, uint64_t size, void *host)
{
    MemoryRegion *mr = region_new(name, MR_RAM_DEVICE, size);
    mr->host = host;
    return mr;
}

MemoryRegion *memory_region_new_rom_device(const char *name, uint64_t size,
                                           const MemoryRegionOps *ops, void *opaque)
{
    char *backing_name = g_strdup_printf("%s.rom", name ? name : "");
    MemoryRegion *backing = memory_region_new_ram(backing_name, size);
    g_free(backing_name);
    if (!backing)
        return NULL;
    MemoryRegion *mr = region_new(name, MR_ROM_DEVICE, size);
    mr->ops = ops;
    mr->opaque = opaque;
    memory_region_set_access_sizes(mr);
    mr->rom_backing = backing; /* the constructor's reference passes to mr */
    if (!ops_fit_size(name, size, mr)) {
        memory_region_unref(mr);
        return NULL;
    }
    mr->romd_mode = true;
    return mr;
}

MemoryRegion *memory_region_new_alias(const char *name, MemoryRegion *target,
                                      hwaddr offset, uint64_t size)
{
    MemoryRegion *mr = region_new(name, MR_ALIAS, size);
    if (target)
        memory_region_ref(target);
    mr->alias = target;
    mr->alias_offset = offset;
    return mr;
}

MemoryRegion *memory_region_new_iommu(const char *name, uint64_t size,
                                      const IOMMURegionOps *ops, void *opaque)
{
    MemoryRegion *mr = region_new(name, MR_IOMMU, size);
    mr->iommu_ops = ops;
    mr->opaque = opaque;
    return mr;
}

/* ---- lifetime ------------------------------------------------------------------------ */
static void region_finalize(MemoryRegion *mr)
{
    if (mr->on_finalize)
        mr->on_finalize(mr);
    /* Nothing else references a dead container, so its children are detached
     * without a re-render: none of them can be visible through it. */
    for (unsigned i = 0; i < mr->nr_subregions; i++) {
        MemoryRegion *sub = mr->subregions[i];
        sub->container = NULL;
        memory_region_unref(sub);
    }
    g_free(mr->subregions);
    if (mr->alias)
        memory_region_unref(mr->alias);
    if (mr->rom_backing)
        memory_region_unref(mr->rom_backing);
    if (mr->owns_host && mr->host)
        munmap(mr->host, mr->size);
    if (mr->fd >= 0)
        close(mr->fd);
    g_free(mr->name);
    g_free(mr);
}

void memory_region_ref(MemoryRegion *mr)
{
    if (mr)
        __atomic_fetch_add(&mr->refcount, 1, __ATOMIC_RELAXED);
}

void memory_region_unref(MemoryRegion *mr)
{
    if (!mr)
        return;
    int old = __atomic_fetch_sub(&mr->refcount, 1, __ATOMIC_ACQ_REL);
    if (old == 1)
        region_finalize(mr);
    else if (old <= 0)
        log_error("memory: region '%s' unreferenced too often", mr->name);
}

/* ---- the tree ------------------------------------------------------------------------ */
/* Whether `from` reaches `to` through subregions and alias targets. Each region
 * is visited once, so a tree with shared parts costs its size, not its paths. */
static bool region_reaches(MemoryRegion *from, const MemoryRegion *to, GHashTable *seen)
{
    if (from == to)
        return true;
    if (!g_hash_table_add(seen, from))
        return false;
    if (from->alias && region_reaches(from->alias, to, seen))
        return true;
    for (unsigned i = 0; i < from->nr_subregions; i++)
        if (region_reaches(from->subregions[i], to, seen))
            return true;
    return false;
}

/* Adding `sub` to `container` closes a cycle when `sub` already reaches it (an
 * alias of the container, or of one of its ancestors' contents). Refused at
 * once: rendering a container that holds two aliases of itself would walk
 * 2^depth paths before any depth cap stopped it. */
static bool closes_cycle(MemoryRegion *container, MemoryRegion *sub)
{
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    bool cycle = region_reaches(sub, container, seen);
    g_hash_table_destroy(seen);
    return cycle;
}

static void add_subregion(MemoryRegion *container, hwaddr addr, MemoryRegion *sub,
                          int priority)
{
    if (!container || !sub || container->type != MR_CONTAINER || sub == container) {
        log_error("memory: bad add_subregion of '%s'", sub ? sub->name : "(null)");
        return;
    }
    memory_region_transaction_begin();
    if (sub->container) {
        log_error("memory: region '%s' is already in '%s'", sub->name, sub->container->name);
        memory_region_transaction_commit();
        return;
    }
    if (closes_cycle(container, sub)) {
        log_error("memory: adding '%s' to '%s' would make a cycle", sub->name,
                  container->name);
        memory_region_transaction_commit();
        return;
    }
    memory_region_ref(sub);
    sub->container = container;
    sub->addr = addr;
    sub->priority = priority;
    /* Highest priority first; among equals the newest first, since it wins. */
    unsigned pos = 0;
    while (pos < container->nr_subregions && container->subregions[pos]->priority > priority)
        pos++;
    container->subregions = g_renew(MemoryRegion *, container->subregions,
                                    container->nr_subregions + 1);
    memmove(&container->subregions[pos + 1], &container->subregions[pos],
            (container->nr_subregions - pos) * sizeof(MemoryRegion *));
    container->subregions[pos] = sub;
    container->nr_subregions++;
    memory_region_mark_changed();
    memory_region_transaction_commit();
}

void memory_region_add_subregion(MemoryRegion *container, hwaddr addr, MemoryRegion *sub)
{
    add_subregion(container, addr, sub, 0);
}

void memory_region_add_subregion_overlap(MemoryRegion *container, hwaddr addr,
                                         MemoryRegion *sub, int priority)
{
    add_subregion(container, addr, sub, priority);
}

void memory_region_del_subregion(MemoryRegion *container, MemoryRegion *sub)
{
    if (!container || !sub)
        return;
    memory_region_transaction_begin();
    unsigned i = 0;
    while (i < container->nr_subregions && container->subregions[i] != sub)
        i++;
    if (i == container->nr_subregions || sub->container != container) {
        log_error("memory: '%s' is not a subregion of '%s'", sub->name, container->name);
        memory_region_transaction_commit();
        return;
    }
    memmove(&container->subregions[i], &container->subregions[i + 1],
            (container->nr_subregions - i - 1) * sizeof(MemoryRegion *));
    container->nr_subregions--;
    sub->container = NULL;
    memory_region_mark_changed();
    memory_region_transaction_commit();
    memory_region_unref(sub);
}

void memory_region_set_enabled(MemoryRegion *mr, bool enabled)
{
    memory_region_transaction_begin();
    if (mr->enabled != enabled) {
        mr->enabled = enabled;
        memory_region_mark_changed();
    }
    memory_region_transaction_commit();
}

void memory_region_set_address(MemoryRegion *mr, hwaddr addr)
{
    memory_region_transaction_begin();
    if (mr->addr != addr) {
        mr->addr = addr;
        memory_region_mark_changed();
    }
    memory_region_transaction_commit();
}

void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset)
{
    memory_region_transaction_begin();
    if (mr->type == MR_ALIAS && mr->alias_offset != offset) {
        mr->alias_offset = offset;
        memory_region_mark_changed();
    }
    memory_region_transaction_commit();
}

void memory_region_rom_device_set_romd(MemoryRegion *mr, bool romd)
{
    if (mr->type != MR_ROM_DEVICE)
        return;
    memory_region_transaction_begin();
    if (mr->romd_mode != romd) {
        mr->romd_mode = romd;
        memory_region_mark_changed();
    }
    memory_region_transaction_commit();
}

void memory_region_rom_device_set_backing(MemoryRegion *mr, MemoryRegion *backing)
{
    if (mr->type != MR_ROM_DEVICE || !backing || backing->type != MR_RAM) {
        log_error("memory: bad ROM backing for '%s'", mr->name);
        return;
    }
    memory_region_transaction_begin();
    memory_region_ref(backing);
    MemoryRegion *old = mr->rom_backing;
    mr->rom_backing = backing;
    memory_region_mark_changed();
    memory_region_transaction_commit();
    /* The old flat view still holds its own reference until readers are done. */
    memory_region_unref(old);
}

void *memory_region_get_ram_ptr(MemoryRegion *mr)
{
    hwaddr offset = 0;
    /* Bounded: alias chains are short, and a cycle must not hang us. */
    for (unsigned depth = 0; mr && depth < 16; depth++) {
        switch (mr->type) {
        case MR_RAM:
        case MR_RAM_DEVICE:
            return mr->host ? mr->host + offset : NULL;
        case MR_ROM_DEVICE:
            return mr->rom_backing && mr->rom_backing->host
                       ? mr->rom_backing->host + offset : NULL;
        case MR_ALIAS:
            offset += mr->alias_offset;
            mr = mr->alias;
            break;
        default:
            return NULL;
        }
    }
    return NULL;
}

const char *memory_region_kind_name(const MemoryRegion *mr)
{
    switch (mr->type) {
    case MR_CONTAINER:
        return "container";
    case MR_RAM:
        return mr->readonly ? "rom" : "ram";
    case MR_MMIO:
        return "i/o";
    case MR_RAM_DEVICE:
        return "ram-device";
    case MR_ROM_DEVICE:
        return "rom-device";
    case MR_ALIAS:
        return "alias";
    case MR_IOMMU:
        return "iommu";
    }
    return "?";
}
