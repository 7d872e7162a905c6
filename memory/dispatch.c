/* Dispatch: serve an access from the current flat view. Host-backed ranges are
 * read and written in place; ops-backed ranges get the access validated against
 * `valid`, then split or widened to `impl` in the device's byte order. */
#include "memory/memory-internal.h"

#include <inttypes.h>
#include <string.h>

#include "iommu/iommu.h"
#include "util/log.h"
#include "util/rcu.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "minivmm targets little-endian x86 hosts");

/* Regions whose ops run on this thread, innermost last. A device reaching its own
 * region again (DMA into its own MMIO) is refused instead of recursing; the depth
 * cap also stops ping-pong between devices. */
#define OPS_NEST_MAX 8
static __thread const MemoryRegion *ops_running[OPS_NEST_MAX];
static __thread unsigned ops_depth;
/* The device doing DMA on this thread (memory_dma_owner_set), or NULL. */
static __thread void *dma_owner;
/* IOMMU translations in progress on this thread: an IOMMU whose target space
 * leads to another IOMMU nests; a cycle stops here. */
#define IOMMU_NEST_MAX 4
static __thread unsigned iommu_depth;

void *memory_dma_owner_set(void *owner)
{
    void *old = dma_owner;
    dma_owner = owner;
    return old;
}

static bool is_pow2(uint64_t n)
{
    return n && !(n & (n - 1));
}

/* Largest power of two <= n (n >= 1). */
static uint64_t pow2_floor(uint64_t n)
{
    return 1ull << (63 - __builtin_clzll(n));
}

/* Constraint sizes with defaults applied, limited to 1..8 and powers of two. */
static unsigned constraint_size(unsigned v, unsigned dflt)
{
    if (v == 0)
        v = dflt;
    if (v > 8)
        v = 8;
    return (unsigned)pow2_floor(v);
}

typedef struct SizeRange {
    unsigned min, max;
} SizeRange;

static SizeRange size_range(const MemoryAccessConstraints *c)
{
    SizeRange s = { constraint_size(c->min_access_size, 1), constraint_size(c->max_access_size, 4) };
    if (s.max < s.min)
        s.max = s.min;
    return s;
}

void memory_region_set_access_sizes(MemoryRegion *mr)
{
    SizeRange valid = size_range(&mr->ops->valid), impl = size_range(&mr->ops->impl);
    mr->valid_min = (uint8_t)valid.min;
    mr->valid_max = (uint8_t)valid.max;
    mr->impl_min = (uint8_t)impl.min;
    mr->impl_max = (uint8_t)impl.max;
    mr->direct_read_sizes = mr->direct_write_sizes = 0;
    for (unsigned w = 1; w <= 8; w <<= 1) {
        if (w < valid.min || w > valid.max || w < impl.min || w > impl.max)
            continue;
        if (mr->ops->read)
            mr->direct_read_sizes |= (uint16_t)(1u << w);
        if (mr->ops->write)
            mr->direct_write_sizes |= (uint16_t)(1u << w);
    }
}

/* Unit value <-> bytes in memory order: little-endian puts byte i at bits 8i. */
static uint64_t unit_from_bytes(const uint8_t *p, unsigned w, bool big_endian)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * (big_endian ? w - 1 - i : i));
    return v;
}

static uint8_t unit_byte(uint64_t v, unsigned i, unsigned w, bool big_endian)
{
    return (uint8_t)(v >> (8 * (big_endian ? w - 1 - i : i)));
}

static MemTxResult unit_read(const MemoryRegion *mr, hwaddr addr, unsigned w, uint64_t *v)
{
    *v = 0;
    MemTxResult r = mr->ops->read(mr->opaque, addr, v, w);
    if (w < 8)
        *v &= (1ull << (8 * w)) - 1;
    return r;
}

/* One validated access of `len` (1, 2, 4 or 8) bytes at region offset `off`, carried
 * out as units the ops implement. A unit narrower than impl.min is widened to an
 * impl.min unit containing it (aligned unless impl.unaligned); writes to a widened
 * unit are read-modify-write, so the bytes outside the access keep the value the
 * device reports for them. */
static MemTxResult access_units(const MemoryRegion *mr, hwaddr off, uint8_t *buf,
                                unsigned len, bool is_write)
{
    const MemoryRegionOps *ops = mr->ops;
    SizeRange impl = { mr->impl_min, mr->impl_max };
    bool be = ops->endianness == DEVICE_BIG_ENDIAN;
    hwaddr pos = off, end = off + len;
    while (pos < end) {
        unsigned w = (unsigned)pow2_floor(end - pos < impl.max ? end - pos : impl.max);
        hwaddr base = pos;
        if (!ops->impl.unaligned)
            while (pos & (w - 1))
                w >>= 1;
        if (w < impl.min) {
            w = impl.min;
            if (!ops->impl.unaligned)
                base = pos & ~(hwaddr)(w - 1);
            /* Never past the region's end: sizes are multiples of impl.min
             * (memory_region_new_io), so only an unaligned unit can reach over;
             * it moves back to end at the region's last byte. */
            hwaddr last = mr->size == UINT64_MAX ? UINT64_MAX : mr->size - 1;
            if (w - 1 > last - base)
                base = last - (w - 1);
        }
        /* Compared as distances: base + w may be 2^64 at the top of a huge region. */
        bool whole_unit = base == pos && end - base >= w;
        hwaddr chunk_end = end - base > w ? base + w : end;
        uint64_t v;
        MemTxResult r;
        if (!is_write) {
            r = unit_read(mr, base, w, &v);
            if (r != MEMTX_OK)
                return r;
            for (hwaddr a = pos; a < chunk_end; a++)
                buf[a - off] = unit_byte(v, (unsigned)(a - base), w, be);
        } else {
            if (whole_unit) {
                v = unit_from_bytes(buf + (pos - off), w, be);
            } else {
                if (ops->read) {
                    r = unit_read(mr, base, w, &v);
                    if (r != MEMTX_OK)
                        return r;
                } else {
                    v = 0;
                }
                for (hwaddr a = pos; a < chunk_end; a++) {
                    unsigned shift = 8 * (be ? w - 1 - (unsigned)(a - base) : (unsigned)(a - base));
                    v = (v & ~(0xffull << shift)) | ((uint64_t)buf[a - off] << shift);
                }
            }
            r = ops->write(mr->opaque, base, v, w);
            if (r != MEMTX_OK)
                return r;
        }
        pos = chunk_end;
    }
    return MEMTX_OK;
}

static bool access_valid(const MemoryRegionOps *ops, SizeRange valid, hwaddr off, uint64_t w)
{
    return w >= valid.min && w <= valid.max && (ops->valid.unaligned || !(off & (w - 1)));
}

/* Bytes in memory order <-> the device's value: this host is little-endian, so a
 * big-endian device sees them byte-swapped. */
static MemTxResult access_direct_op(const MemoryRegion *mr, hwaddr off, uint8_t *buf,
                                    unsigned len, bool is_write)
{
    bool be = mr->ops->endianness == DEVICE_BIG_ENDIAN;
    uint64_t v = 0;
    MemTxResult r;
    if (is_write) {
        v = host_value(buf, len);
        if (be)
            v = __builtin_bswap64(v) >> (64 - 8 * len);
        return mr->ops->write(mr->opaque, off, v, len);
    }
    r = unit_read(mr, off, len, &v);
    if (be)
        v = __builtin_bswap64(v) >> (64 - 8 * len);
    host_bytes(buf, v, len);
    return r;
}

/* The general case: validate each guest-sized piece, then split or widen it to
 * what the ops implement. */
static MemTxResult access_split(const MemoryRegion *mr, SizeRange valid, hwaddr off,
                                uint8_t *buf, uint64_t len, bool is_write)
{
    const MemoryRegionOps *ops = mr->ops;
    bool whole = len <= 8 && is_pow2(len);
    MemTxResult result = MEMTX_OK;
    for (uint64_t pos = 0; pos < len;) {
        uint64_t w = len;
        if (!whole) {
            w = pow2_floor(len - pos < valid.max ? len - pos : valid.max);
            if (!ops->valid.unaligned)
                while ((off + pos) & (w - 1))
                    w >>= 1;
        }
        MemTxResult r;
        if (access_valid(ops, valid, off + pos, w)) {
            r = access_units(mr, off + pos, buf + pos, (unsigned)w, is_write);
        } else {
            log_guest_error("%s of %s at 0x%" PRIx64 " size %u: invalid",
                            is_write ? "write" : "read", mr->name, off + pos, (unsigned)w);
            r = MEMTX_ACCESS_ERROR;
        }
        if (r != MEMTX_OK) {
            if (!is_write)
                memset(buf + pos, 0xff, w);
            if (result == MEMTX_OK)
                result = r;
        }
        pos += w;
    }
    return result;
}

/* [off, off+len) of an ops-backed region. An access of 1, 2, 4 or 8 bytes is one
 * guest access, validated as a whole; anything else (bulk copies, odd lengths) is
 * cut into the largest pieces `valid` allows, in increasing address order. */
/* Out of line: keeps the refusals' logging off the hot path. */
static __attribute__((noinline, cold)) MemTxResult
mmio_refuse(const MemoryRegion *mr, hwaddr off, uint8_t *buf, uint64_t len, bool is_write,
            const char *why)
{
    log_guest_error("%s of %s at 0x%" PRIx64 ": %s", is_write ? "write" : "read", mr->name,
                    off, why);
    if (!is_write)
        memset(buf, 0xff, len);
    return MEMTX_ACCESS_ERROR;
}

static bool ops_reentered(const MemoryRegion *mr)
{
    bool reentered = ops_depth == OPS_NEST_MAX;
    for (unsigned i = 0; i < ops_depth; i++)
        reentered |= ops_running[i] == mr;
    return reentered;
}

static MemTxResult mmio_access(const MemoryRegion *mr, hwaddr off, uint8_t *buf,
                               uint64_t len, bool is_write)
{
    /* The common case, kept short (it is most of every MMIO and port exit): an
     * aligned access the device implements as it is, one op call. */
    unsigned direct_sizes = is_write ? mr->direct_write_sizes : mr->direct_read_sizes;
    bool direct = len <= 8 && ((direct_sizes >> len) & 1) && !(off & (len - 1));
    const MemoryRegionOps *ops = mr->ops;
    if (!direct && (!ops || (is_write ? !ops->write : !ops->read)))
        return mmio_refuse(mr, off, buf, len, is_write, "not supported");
    if (__builtin_expect(ops_depth != 0, 0) && ops_reentered(mr))
        return mmio_refuse(mr, off, buf, len, is_write, "re-entrant access refused");
    if (__builtin_expect(dma_owner != NULL, 0) && mr->owner == dma_owner)
        return mmio_refuse(mr, off, buf, len, is_write, "DMA into the device's own registers");
    bool took_bql = !memory_bql_locked();
    if (took_bql)
        memory_bql_lock();
    ops_running[ops_depth++] = mr;

    MemTxResult result;
    if (direct) {
        result = access_direct_op(mr, off, buf, (unsigned)len, is_write);
        if (__builtin_expect(result != MEMTX_OK, 0) && !is_write)
            memset(buf, 0xff, len);
    } else {
        result = access_split(mr, (SizeRange){ mr->valid_min, mr->valid_max }, off, buf,
                              len, is_write);
    }
    ops_depth--;
    if (took_bql)
        memory_bql_unlock();
    return result;
}

/* Aligned 1/2/4/8-byte RAM accesses are single-copy atomic (a vCPU may be reading
 * the same word); longer writes go forward without splitting aligned units. */
static void ram_access(uint8_t *p, uint8_t *buf, uint64_t len, bool is_write)
{
    if (is_pow2(len) && len <= 8 && !((uintptr_t)p & (len - 1))) {
        uint8_t v8;
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;
        switch (len) {
        case 1:
            if (is_write) {
                __atomic_store_n(p, buf[0], __ATOMIC_RELAXED);
            } else {
                v8 = __atomic_load_n(p, __ATOMIC_RELAXED);
                buf[0] = v8;
            }
            return;
        case 2:
            if (is_write) {
                memcpy(&v16, buf, 2);
                __atomic_store_n((uint16_t *)p, v16, __ATOMIC_RELAXED);
            } else {
                v16 = __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED);
                memcpy(buf, &v16, 2);
            }
            return;
        case 4:
            if (is_write) {
                memcpy(&v32, buf, 4);
                __atomic_store_n((uint32_t *)p, v32, __ATOMIC_RELAXED);
            } else {
                v32 = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
                memcpy(buf, &v32, 4);
            }
            return;
        default:
            if (is_write) {
                memcpy(&v64, buf, 8);
                __atomic_store_n((uint64_t *)p, v64, __ATOMIC_RELAXED);
            } else {
                v64 = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
                memcpy(buf, &v64, 8);
            }
            return;
        }
    }
    if (is_write)
        memory_copy_ordered(p, buf, len);
    else
        memcpy(buf, p, len);
}

/* An access reaching an IOMMU region: translated page by page, each piece
 * continuing in the entry's target space. A piece the entry does not allow
 * fails with MEMTX_IOMMU_FAULT (reads of it fill 0xff); the rest goes on. */
static MemTxResult iommu_access(MemoryRegion *mr, hwaddr addr, uint8_t *buf, uint64_t len,
                                bool is_write)
{
    IOMMUAccessFlags need = is_write ? IOMMU_WO : IOMMU_RO;
    MemTxResult result = MEMTX_OK;
    if (iommu_depth >= IOMMU_NEST_MAX) {
        log_guest_error("%s: IOMMU translations nested too deep", mr->name);
        if (!is_write)
            memset(buf, 0xff, len);
        return MEMTX_ACCESS_ERROR;
    }
    iommu_depth++;
    for (uint64_t done = 0; done < len;) {
        hwaddr a = addr + done;
        IOMMUTLBEntry e = mr->iommu_ops->translate(mr, a, need, true);
        uint64_t in_page = e.addr_mask - (a & e.addr_mask) + 1;
        uint64_t chunk = in_page && in_page < len - done ? in_page : len - done;
        MemTxResult r;
        if (!(e.perm & need) || !e.target_as) {
            if (!is_write)
                memset(buf + done, 0xff, chunk);
            r = MEMTX_IOMMU_FAULT;
        } else {
            hwaddr t = (e.translated_addr & ~e.addr_mask) | (a & e.addr_mask);
            r = address_space_rw(e.target_as, t, buf + done, chunk, is_write);
        }
        if (r != MEMTX_OK && result == MEMTX_OK)
            result = r;
        done += chunk;
    }
    iommu_depth--;
    return result;
}

static MemTxResult range_access(const FlatRange *fr, uint64_t delta, uint8_t *buf,
                                uint64_t len, bool is_write)
{
    MemoryRegion *mr = fr->mr;
    if (fr->host && !(is_write && fr->readonly && mr->type == MR_ROM_DEVICE)) {
        uint8_t *p = fr->host + delta;
        if (mr->type == MR_RAM_DEVICE) {
            /* Device memory: exact-width volatile accesses, in order; never memcpy. */
            if (is_write)
                memory_copy_ordered(p, buf, len);
            else
                device_mem_read_ordered(buf, p, len);
        } else if (!(is_write && fr->readonly)) {
            ram_access(p, buf, len, is_write);
        }
        return MEMTX_OK; /* writes to a ROM are dropped without complaint */
    }
    if (mr->type == MR_MMIO || mr->type == MR_ROM_DEVICE)
        return mmio_access(mr, fr->offset_in_region + delta, buf, len, is_write);
    if (mr->type == MR_IOMMU)
        return iommu_access(mr, fr->offset_in_region + delta, buf, len, is_write);
    if (!is_write)
        memset(buf, 0xff, len);
    return MEMTX_ACCESS_ERROR;
}

static MemTxResult flatview_rw(const FlatView *fv, hwaddr addr, uint8_t *buf, size_t len,
                               bool is_write)
{
    MemTxResult result = MEMTX_OK;
    uint64_t done = 0;
    while (done < len) {
        /* Ranges end at most at UINT64_MAX, so a wrapped `pos` lands in a hole. */
        hwaddr pos = addr + done;
        uint64_t remaining = len - done;
        unsigned i = fv ? flatview_find_index(fv, pos) : 0;
        const FlatRange *fr = fv && i < fv->nr ? &fv->ranges[i] : NULL;
        uint64_t chunk;
        MemTxResult r;
        if (fr && fr->addr <= pos) {
            uint64_t left = fr->addr + fr->size - pos;
            chunk = remaining < left ? remaining : left;
            r = range_access(fr, pos - fr->addr, buf + done, chunk, is_write);
        } else {
            chunk = fr && fr->addr - pos < remaining ? fr->addr - pos : remaining;
            if (!is_write)
                memset(buf + done, 0xff, chunk);
            log_debug("unassigned %s at 0x%" PRIx64 " len %" PRIu64,
                      is_write ? "write" : "read", pos, chunk);
            r = MEMTX_DECODE_ERROR;
        }
        if (r != MEMTX_OK && result == MEMTX_OK)
            result = r;
        done += chunk;
    }
    return result;
}

MemTxResult address_space_rw(AddressSpace *as, hwaddr addr, void *buf, size_t len,
                             bool is_write)
{
    rcu_read_lock();
    const FlatView *fv = rcu_dereference(as->current);
    const FlatRange *fr = fv ? flatview_lookup(fv, addr) : NULL;
    MemTxResult r;
    /* Most accesses (every vCPU exit) lie within one range. */
    if (fr && len - 1 <= fr->addr + fr->size - 1 - addr)
        r = range_access(fr, addr - fr->addr, buf, len, is_write);
    else
        r = flatview_rw(fv, addr, buf, len, is_write);
    rcu_read_unlock();
    return r;
}

MemTxResult address_space_read(AddressSpace *as, hwaddr addr, void *buf, size_t len)
{
    return address_space_rw(as, addr, buf, len, false);
}

MemTxResult address_space_write(AddressSpace *as, hwaddr addr, const void *buf, size_t len)
{
    /* The write path never stores into `buf`. */
    return address_space_rw(as, addr, (void *)buf, len, true);
}
