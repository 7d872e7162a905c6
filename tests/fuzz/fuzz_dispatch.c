/* libFuzzer target: memory dispatch and access splitting. The input builds a
 * region tree (containers with priorities, RAM, ROM, MMIO with fuzzer-chosen
 * valid/impl sizes, unaligned flags and byte order, device memory at odd host
 * offsets, ROM devices, aliases), then drives accesses of any address and
 * length through the address space, interleaved with tree changes.
 *
 * Every MMIO device here behaves like memory (its ops read and write a byte
 * array in the declared byte order; a ROM device's ops use its RAM backing), so
 * whatever dispatch splits, widens or swaps, the guest must see memory. Checked,
 * abort() on violation:
 *  - each callback's size is 1, 2, 4 or 8, within impl, aligned to itself
 *    unless impl.unaligned, and [addr, addr+size) lies inside the region;
 *  - a 1/2/4/8-byte access inside one ops range: invalid size or alignment
 *    (valid) or a missing op fails with no callback; a valid one that impl
 *    covers as it is is exactly one callback at that offset and size;
 *  - an access that succeeds read the bytes the regions hold (looked up per
 *    byte in the flat view), and a write left them there (but for ROMs and
 *    write-only devices, see byte_home);
 *  - reads of unassigned bytes fail and give 0xff.
 * Input: a header byte (region count), 9 bytes per region, then 8-byte ops. */
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "memory/memory.h"
#include "util/rcu.h"

#define MAX_REGIONS 16
#define MAX_OPS 256
#define MAX_LEN 72
/* Fuzzer-chosen addresses are 16-bit offsets from one of these. */
static const hwaddr bases[2] = { 0, UINT64_MAX - 0xffff };

struct dev {
    MemoryRegion *mr;
    MemoryRegionOps ops;
    uint8_t *regs;          /* MMIO: the bytes; ROM device: its backing RAM */
    uint64_t size;
    unsigned calls;         /* callbacks during the current access */
    unsigned last_addr, last_size;
};

static struct dev devs[MAX_REGIONS];
static MemoryRegion *regions[MAX_REGIONS];
static void *ram_dev_bufs[MAX_REGIONS];
static unsigned nr_regions;

/* FUZZ_TRACE=1 in the environment prints the tree and each access (triage). */
static bool trace;

static void check(bool ok, const char *what)
{
    if (!ok) {
        /* to the report stream, which libFuzzer keeps when -close_fd_mask=2
         * silences the code's own logging */
        char line[160];
        snprintf(line, sizeof(line), "fuzz_dispatch: invariant violated: %s", what);
        __sanitizer_report_error_summary(line);
        abort();
    }
}

/* The core's documented defaults: 0 means 1 (min) or 4 (max). */
static unsigned size_or(unsigned v, unsigned dflt)
{
    return v ? v : dflt;
}

static void check_callback(struct dev *d, hwaddr addr, unsigned size)
{
    const MemoryAccessConstraints *impl = &d->ops.impl;
    check(size == 1 || size == 2 || size == 4 || size == 8, "callback size not 1/2/4/8");
    check(size >= size_or(impl->min_access_size, 1) &&
              size <= size_or(impl->max_access_size, 4), "callback size outside impl");
    check(impl->unaligned || !(addr & (size - 1)), "unaligned callback without impl.unaligned");
    check(addr < d->size && size <= d->size - addr, "callback outside the region");
    d->calls++;
    d->last_addr = (unsigned)addr;
    d->last_size = size;
}

static MemTxResult dev_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    struct dev *d = opaque;
    check_callback(d, addr, size);
    uint64_t v = 0;
    bool be = d->ops.endianness == DEVICE_BIG_ENDIAN;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)d->regs[addr + i] << (8 * (be ? size - 1 - i : i));
    *data = v;
    return MEMTX_OK;
}

static MemTxResult dev_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    struct dev *d = opaque;
    check_callback(d, addr, size);
    bool be = d->ops.endianness == DEVICE_BIG_ENDIAN;
    for (unsigned i = 0; i < size; i++)
        d->regs[addr + i] = (uint8_t)(data >> (8 * (be ? size - 1 - i : i)));
    return MEMTX_OK;
}

static uint64_t take(const uint8_t **p, const uint8_t *end, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n && *p < end; i++, (*p)++)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

static const unsigned sizes[8] = { 0, 1, 2, 4, 8, 1, 2, 4 };

/* min/max from 3 bits each, min <= max (the documented contract). */
static MemoryAccessConstraints constraints(unsigned b, bool unaligned)
{
    unsigned lo = sizes[b & 7], hi = sizes[(b >> 3) & 7];
    if (size_or(lo, 1) > size_or(hi, 4)) {
        unsigned t = lo;
        lo = hi;
        hi = t;
        if (size_or(lo, 1) > size_or(hi, 4))
            lo = 0;
    }
    return (MemoryAccessConstraints){ lo, hi, unaligned };
}

static struct dev *dev_of(const MemoryRegion *mr)
{
    for (unsigned i = 0; i < nr_regions; i++)
        if (devs[i].mr == mr)
            return &devs[i];
    return NULL;
}

/* Region bytes: [0] kind (bits 0-6 % 7: type; 0x80 round size; 0x08 at the top
 * of the space; 0x10 bigger container / alias offset), [1..2] size, [3] parent
 * or alias target, [4..5] address, [6] valid sizes (bits 0-5), priority (6-7),
 * [7] impl sizes, [8] flags: bits 0-1 a missing op, 2 impl.unaligned,
 * 3 valid.unaligned, 4 big-endian, 5-7 device memory's host misalignment;
 * an alias takes one more byte, its offset. */
static void build(AddressSpace *as, const uint8_t **p, const uint8_t *end)
{
    MemoryRegion *root = as->root;
    unsigned n = (unsigned)take(p, end, 1) % MAX_REGIONS + 1;
    for (unsigned i = 0; i < n; i++) {
        unsigned kind = (unsigned)take(p, end, 1);
        uint64_t size = (take(p, end, 2) & 0x1fff) + 1;
        unsigned parent = (unsigned)take(p, end, 1);
        hwaddr addr = take(p, end, 2);
        unsigned vb = (unsigned)take(p, end, 1), ib = (unsigned)take(p, end, 1);
        unsigned flags = (unsigned)take(p, end, 1);
        struct dev *d = &devs[nr_regions];
        MemoryRegion *mr = NULL;
        memset(d, 0, sizeof(*d));
        if (kind & 0x80)  /* a round size, so impl.min rarely refuses it */
            size = (size + 7) & ~7ull;
        d->ops = (MemoryRegionOps){
            .read = (flags & 3) == 1 ? NULL : dev_read,
            .write = (flags & 3) == 2 ? NULL : dev_write,
            .endianness = flags & 0x10 ? DEVICE_BIG_ENDIAN : DEVICE_LITTLE_ENDIAN,
            .valid = constraints(vb, flags & 8),
            .impl = constraints(ib, flags & 4),
        };
        d->size = size;
        switch (kind % 7) {
        case 0:
            mr = memory_region_new_container("container", size << (kind & 0x10 ? 4 : 0));
            break;
        case 1:
            mr = memory_region_new_ram("ram", size);
            break;
        case 2:
            mr = memory_region_new_rom("rom", size);
            break;
        case 3:
            d->regs = g_malloc0(size);
            mr = memory_region_new_io("mmio", size, &d->ops, d);
            break;
        case 4: {
            /* device memory at a host offset that is 0..7 past 8-byte alignment */
            uint8_t *buf = g_malloc0(size + 8);
            ram_dev_bufs[nr_regions] = buf;
            mr = memory_region_new_ram_device("ram_device", size, buf + (flags >> 5));
            break;
        }
        case 5:
            mr = memory_region_new_rom_device("rom_device", size, &d->ops, d);
            if (mr)
                d->regs = memory_region_get_ram_ptr(mr);
            break;
        case 6:
            if (nr_regions)
                mr = memory_region_new_alias("alias", regions[parent % nr_regions],
                                             take(p, end, 1) << (kind & 0x10 ? 8 : 0), size);
            break;
        }
        if (!mr) {
            g_free(d->regs);
            g_free(ram_dev_bufs[nr_regions]);
            ram_dev_bufs[nr_regions] = NULL;
            continue;
        }
        if (kind % 7 != 3 && kind % 7 != 5)
            d->regs = NULL;
        d->mr = mr;
        /* The parent: the root or an earlier container. */
        MemoryRegion *container = root;
        unsigned pick = parent % (nr_regions + 1);
        if (pick < nr_regions && regions[pick]->type == MR_CONTAINER)
            container = regions[pick];
        if (container == root)
            addr += bases[(kind >> 3) & 1];
        if (vb & 0xc0)
            memory_region_add_subregion_overlap(container, addr, mr, (int)(vb >> 6) - 2);
        else
            memory_region_add_subregion(container, addr, mr);
        regions[nr_regions++] = mr;
    }
}

static void teardown(AddressSpace *as)
{
    memory_bql_lock();
    address_space_free(as);
    for (unsigned i = 0; i < nr_regions; i++) {
        if (regions[i]->type == MR_MMIO)
            g_free(devs[i].regs);
        memory_region_unref(regions[i]);
        g_free(ram_dev_bufs[i]);
        ram_dev_bufs[i] = NULL;
    }
    memory_bql_unlock();
    nr_regions = 0;
}

/* Where byte `a` lives: a host byte, or NULL if unassigned or not modelled.
 * *skip_write: a write need not land there: a ROM drops it, and a write-only
 * device's widened units zero the bytes around (no read to merge with), which
 * may be bytes an earlier piece of the same access wrote. */
static uint8_t *byte_home(const FlatView *fv, hwaddr a, bool *skip_write)
{
    const FlatRange *fr = fv ? flatview_lookup(fv, a) : NULL;
    *skip_write = false;
    if (!fr)
        return NULL;
    hwaddr off = fr->offset_in_region + (a - fr->addr);
    struct dev *d = dev_of(fr->mr);
    switch (fr->mr->type) {
    case MR_MMIO:
        *skip_write = d && !d->ops.read;
        return d ? d->regs + off : NULL;
    case MR_ROM_DEVICE:
        *skip_write = d && !d->ops.read;
        return (uint8_t *)memory_region_get_ram_ptr(fr->mr) + off;
    case MR_RAM:
        *skip_write = fr->mr->readonly;
        /* fall through */
    case MR_RAM_DEVICE:
        return (uint8_t *)memory_region_get_ram_ptr(fr->mr) + off;
    default:
        return NULL;
    }
}

/* A 1/2/4/8-byte access inside one ops range: when it must fail, when it is a
 * single callback. */
static void check_single(const FlatView *fv, hwaddr addr, unsigned len, bool is_write,
                         MemTxResult r)
{
    const FlatRange *fr = fv ? flatview_lookup(fv, addr) : NULL;
    if (!fr || len - 1 > fr->addr + fr->size - 1 - addr)
        return;
    bool ops_path = fr->mr->type == MR_MMIO ||
                    (fr->mr->type == MR_ROM_DEVICE && (is_write || !fr->host));
    struct dev *d = dev_of(fr->mr);
    if (!ops_path || !d)
        return;
    hwaddr off = fr->offset_in_region + (addr - fr->addr);
    const MemoryRegionOps *o = &d->ops;
    bool valid = len >= size_or(o->valid.min_access_size, 1) &&
                 len <= size_or(o->valid.max_access_size, 4) &&
                 (o->valid.unaligned || !(off & (len - 1)));
    bool have_op = is_write ? o->write != NULL : o->read != NULL;
    if (!valid || !have_op) {
        check(r == MEMTX_ACCESS_ERROR, "invalid access did not fail");
        check(d->calls == 0, "invalid access reached the device");
        return;
    }
    check(r == MEMTX_OK, "valid access failed");
    bool as_is = len >= size_or(o->impl.min_access_size, 1) &&
                 len <= size_or(o->impl.max_access_size, 4) && !(off & (len - 1));
    if (as_is)
        check(d->calls == 1 && d->last_addr == off && d->last_size == len,
              "implemented access not passed as one callback");
}

static void do_access(AddressSpace *as, hwaddr addr, unsigned len, bool is_write,
                      uint8_t fill)
{
    uint8_t buf[MAX_LEN];
    for (unsigned i = 0; i < len; i++)
        buf[i] = (uint8_t)(fill + 37 * i);
    for (unsigned i = 0; i < nr_regions; i++)
        devs[i].calls = 0;
    MemTxResult r = address_space_rw(as, addr, buf, len, is_write);
    if (trace) {
        fprintf(stderr, "%s 0x%llx len %u: %d:", is_write ? "write" : "read",
                (unsigned long long)addr, len, r);
        for (unsigned i = 0; i < len; i++)
            fprintf(stderr, " %02x", buf[i]);
        fprintf(stderr, "\n");
    }

    rcu_read_lock();
    const FlatView *fv = address_space_get_flatview(as);
    if (len == 1 || len == 2 || len == 4 || len == 8)
        check_single(fv, addr, len, is_write, r);
    /* Per byte, later bytes winning when aliases map two onto one home. */
    uint8_t *home[MAX_LEN];
    bool dropped[MAX_LEN], all_mapped = true;
    for (unsigned i = 0; i < len; i++) {
        hwaddr a = addr + i;
        home[i] = a < addr ? NULL : byte_home(fv, a, &dropped[i]); /* no wrap past 2^64 */
        if (!home[i] && !(fv && a >= addr && flatview_lookup(fv, a)))
            all_mapped = false;
        if (!is_write && !(fv && a >= addr && flatview_lookup(fv, a)))
            check(buf[i] == 0xff, "unassigned byte did not read as 0xff");
    }
    if (r == MEMTX_OK) {
        check(all_mapped, "an access touching unassigned bytes succeeded");
        for (unsigned i = 0; i < len; i++) {
            if (!home[i] || (is_write && dropped[i]))
                continue;
            bool later = false;
            for (unsigned j = i + 1; j < len && is_write; j++)
                later |= home[j] == home[i] && !dropped[j];
            if (!later)
                check(*home[i] == buf[i], is_write ? "written byte not where it belongs"
                                                   : "read byte differs from the region's");
        }
    }
    rcu_read_unlock();
}

/* Ops: [0] kind, [1] region / flags, [2..3] address, [4] length, [5] fill,
 * [6..7] extra. */
static void run_ops(AddressSpace *as, const uint8_t **p, const uint8_t *end)
{
    for (unsigned n = 0; n < MAX_OPS && *p < end; n++) {
        unsigned kind = (unsigned)take(p, end, 1), sel = (unsigned)take(p, end, 1);
        hwaddr addr = take(p, end, 2);
        unsigned lenb = (unsigned)take(p, end, 1), fill = (unsigned)take(p, end, 1);
        uint64_t extra = take(p, end, 2);
        MemoryRegion *mr = nr_regions ? regions[sel % nr_regions] : NULL;
        switch (kind % 8) {
        case 0: case 1: case 2: case 3: {
            static const unsigned lens[4] = { 1, 2, 4, 8 };
            unsigned len = lenb & 0x80 ? lenb % MAX_LEN + 1 : lens[lenb & 3];
            do_access(as, bases[sel >> 7] + addr, len, kind & 1, (uint8_t)fill);
            break;
        }
        case 4:
            if (mr) {
                memory_bql_lock();
                memory_region_set_enabled(mr, !mr->enabled);
                memory_bql_unlock();
            }
            break;
        case 5:
            if (mr) {
                memory_bql_lock();
                memory_region_set_address(mr, (mr->container == as->root ? bases[fill & 1] : 0) + addr);
                memory_bql_unlock();
            }
            break;
        case 6:
            if (mr && mr->type == MR_ROM_DEVICE) {
                memory_bql_lock();
                memory_region_rom_device_set_romd(mr, !mr->romd_mode);
                memory_bql_unlock();
            }
            break;
        case 7:
            if (mr) {
                memory_bql_lock();
                if (mr->type == MR_ALIAS)
                    memory_region_set_alias_offset(mr, extra);
                else if (mr->container)
                    memory_region_del_subregion(mr->container, mr);
                memory_bql_unlock();
            }
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    memory_bql_lock();
    MemoryRegion *root = memory_region_new_container("root", UINT64_MAX);
    AddressSpace *as = address_space_new("fuzz", root);
    memory_region_unref(root); /* the address space holds it */
    build(as, &p, end);
    memory_bql_unlock();
    trace = getenv("FUZZ_TRACE");
    if (trace)
        memory_dump_mtree(stderr, &as, 1);
    run_ops(as, &p, end);
    teardown(as);
    /* Old views and regions are freed after a grace period: wait for that, so
     * that every input frees what it allocated and libFuzzer does not take
     * the deferred frees for a leak (a leak check per input costs 100 times
     * the input). */
    rcu_barrier();
    return 0;
}
