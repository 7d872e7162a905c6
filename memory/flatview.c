/* Rendering the region tree into flat views, publishing them with RCU, and telling
 * listeners the difference between the old and the new view. */
#include "memory/memory-internal.h"

#include <glib.h>
#include <string.h>
#include "util/rcu.h"

#include "util/log.h"

/* Signed so that an alias origin below zero (target offset > alias address) is
 * representable; wide so that an end of 2^64 is. */
typedef __int128 addr128;

/* Deeper nesting than this is a construction bug (e.g. an alias cycle). */
#define RENDER_MAX_DEPTH 32

/* The public FlatView plus what RCU needs to free it later. */
typedef struct FlatViewBox {
    FlatView fv;
    struct rcu_head rcu;
} FlatViewBox;

typedef struct AddressSpaceBox {
    AddressSpace as;
    struct rcu_head rcu;
} AddressSpaceBox;

static AddressSpace *address_spaces; /* BQL */

/* ---- building a view ------------------------------------------------------------ */
typedef struct ViewBuilder {
    FlatRange *r;
    unsigned nr, cap;
} ViewBuilder;

static addr128 range_end(const FlatRange *fr)
{
    return (addr128)fr->addr + fr->size;
}

/* First range ending above `addr`: ends are sorted because ranges do not overlap.
 * Plain 64-bit arithmetic suffices: every range ends within the root, whose size is
 * at most UINT64_MAX. */
static unsigned find_index(const FlatRange *r, unsigned nr, uint64_t addr)
{
    unsigned lo = 0, hi = nr;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (r[mid].addr + r[mid].size > addr)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

unsigned flatview_find_index(const FlatView *fv, hwaddr addr)
{
    return find_index(fv->ranges, fv->nr, addr);
}

/* How a leaf's bytes are served: from host memory (and which) or by ops. */
typedef struct LeafBacking {
    uint8_t *host;        /* host address of the leaf's offset 0, or NULL */
    MemoryRegion *ram;
    bool readonly;
} LeafBacking;

static void builder_insert(ViewBuilder *b, unsigned at, const FlatRange *fr)
{
    if (b->nr == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->r = g_renew(FlatRange, b->r, b->cap);
    }
    memmove(&b->r[at + 1], &b->r[at], (b->nr - at) * sizeof(FlatRange));
    b->r[at] = *fr;
    b->nr++;
}

/* Put the parts of [start, end) of leaf `mr` (whose offset 0 sits at `origin`) that
 * no earlier, higher-priority range covers into the view. */
static void insert_gaps(ViewBuilder *b, MemoryRegion *mr, addr128 origin, addr128 start,
                        addr128 end, const LeafBacking *lb)
{
    unsigned i = find_index(b->r, b->nr, (uint64_t)start);
    addr128 pos = start;
    while (pos < end) {
        if (i < b->nr && b->r[i].addr <= pos) {
            pos = range_end(&b->r[i]);
            i++;
            continue;
        }
        addr128 gap_end = end;
        if (i < b->nr && b->r[i].addr < gap_end)
            gap_end = b->r[i].addr;
        uint64_t offset = (uint64_t)(pos - origin);
        FlatRange fr = {
            .addr = (hwaddr)pos,
            .size = (uint64_t)(gap_end - pos),
            .mr = mr,
            .offset_in_region = offset,
            .host = lb->host ? lb->host + offset : NULL,
            .ram = lb->ram,
            .readonly = lb->readonly,
        };
        builder_insert(b, i, &fr);
        i++;
        pos = gap_end;
    }
}

static void render_leaf(ViewBuilder *b, MemoryRegion *mr, addr128 origin, addr128 start,
                        addr128 end)
{
    LeafBacking lb = { NULL, NULL, false };
    switch (mr->type) {
    case MR_RAM:
    case MR_RAM_DEVICE:
        if (mr->host)
            lb = (LeafBacking){ mr->host, mr, mr->type == MR_RAM && mr->readonly };
        break;
    case MR_ROM_DEVICE:
        if (mr->romd_mode && mr->rom_backing && mr->rom_backing->host) {
            /* A backing shorter than the device leaves its tail to the ops. */
            MemoryRegion *rom = mr->rom_backing;
            addr128 rom_end = origin + rom->size;
            LeafBacking romd = { rom->host, rom, true };
            if (start < rom_end)
                insert_gaps(b, mr, origin, start, end < rom_end ? end : rom_end, &romd);
            if (end > rom_end)
                insert_gaps(b, mr, origin, start > rom_end ? start : rom_end, end, &lb);
            return;
        }
        break;
    default:
        break;
    }
    insert_gaps(b, mr, origin, start, end, &lb);
}

/* Render `mr`, whose offset 0 sits at `origin`, clipped to [clip_start, clip_end). */
static void render(ViewBuilder *b, MemoryRegion *mr, addr128 origin, addr128 clip_start,
                   addr128 clip_end, unsigned depth)
{
    if (!mr->enabled)
        return;
    if (depth > RENDER_MAX_DEPTH) {
        log_error("memory: region tree too deep at '%s' (alias cycle?)", mr->name);
        return;
    }
    addr128 start = origin > clip_start ? origin : clip_start;
    addr128 end = origin + mr->size < clip_end ? origin + mr->size : clip_end;
    if (start >= end)
        return;
    switch (mr->type) {
    case MR_ALIAS:
        if (mr->alias)
            render(b, mr->alias, origin - (addr128)mr->alias_offset, start, end, depth + 1);
        return;
    case MR_CONTAINER:
        /* Highest priority first: each child fills only what is still uncovered. */
        for (unsigned i = 0; i < mr->nr_subregions; i++) {
            MemoryRegion *sub = mr->subregions[i];
            render(b, sub, origin + sub->addr, start, end, depth + 1);
        }
        return;
    default:
        render_leaf(b, mr, origin, start, end);
    }
}

static bool can_merge(const FlatRange *a, const FlatRange *b)
{
    if (range_end(a) != b->addr || a->mr != b->mr || a->ram != b->ram ||
        a->readonly != b->readonly || a->offset_in_region + a->size != b->offset_in_region)
        return false;
    if (!a->host)
        return !b->host;
    return b->host == a->host + a->size;
}

static FlatView *flatview_new(FlatRange *ranges, unsigned nr)
{
    FlatViewBox *box = g_new0(FlatViewBox, 1);
    box->fv.ranges = ranges;
    box->fv.nr = nr;
    for (unsigned i = 0; i < nr; i++) {
        memory_region_ref(ranges[i].mr);
        memory_region_ref(ranges[i].ram);
    }
    return &box->fv;
}

static FlatView *render_address_space(AddressSpace *as)
{
    ViewBuilder b = { 0 };
    if (as->root)
        render(&b, as->root, 0, 0, (addr128)as->root->size, 0);
    unsigned out = 0;
    for (unsigned i = 0; i < b.nr; i++) {
        if (out && can_merge(&b.r[out - 1], &b.r[i]))
            b.r[out - 1].size += b.r[i].size;
        else
            b.r[out++] = b.r[i];
    }
    if (out == 0) {
        g_free(b.r);
        b.r = NULL;
    }
    return flatview_new(b.r, out);
}

static void flatview_free_now(FlatView *fv)
{
    for (unsigned i = 0; i < fv->nr; i++) {
        memory_region_unref(fv->ranges[i].mr);
        memory_region_unref(fv->ranges[i].ram);
    }
    g_free(fv->ranges);
    g_free(caa_container_of(fv, FlatViewBox, fv));
}

static void flatview_free_rcu(struct rcu_head *head)
{
    flatview_free_now(&caa_container_of(head, FlatViewBox, rcu)->fv);
}

/* Never synchronize here: commits can run inside a read-side section (a device
 * switching modes from its own MMIO handler). */
static void flatview_release(FlatView *fv)
{
    if (fv)
        call_rcu(&caa_container_of(fv, FlatViewBox, fv)->rcu, flatview_free_rcu);
}

/* ---- differences and listeners ---------------------------------------------------- */
static bool range_equal(const FlatRange *a, const FlatRange *b)
{
    return a->addr == b->addr && a->size == b->size && a->mr == b->mr &&
           a->offset_in_region == b->offset_in_region && a->host == b->host &&
           a->ram == b->ram && a->readonly == b->readonly;
}

static bool flatview_equal(const FlatView *a, const FlatView *b)
{
    if (a->nr != b->nr)
        return false;
    for (unsigned i = 0; i < a->nr; i++)
        if (!range_equal(&a->ranges[i], &b->ranges[i]))
            return false;
    return true;
}

static MemoryRegionSection section_of(const FlatRange *fr)
{
    return (MemoryRegionSection){
        .mr = fr->mr,
        .ram = fr->ram,
        .host = fr->host,
        .offset_within_region = fr->offset_in_region,
        .offset_within_address_space = fr->addr,
        .size = fr->size,
        .readonly = fr->readonly,
    };
}

/* Calls `l`'s region_del for ranges of `old` missing in `new` (adding == false), or
 * region_add for ranges of `new` missing in `old` (adding == true), in address order.
 * Both views are sorted and non-overlapping, so one merge walk finds them. */
static void diff_pass(MemoryListener *l, const FlatView *old, const FlatView *new, bool adding)
{
    unsigned i = 0, j = 0;
    while (i < old->nr || j < new->nr) {
        const FlatRange *o = i < old->nr ? &old->ranges[i] : NULL;
        const FlatRange *n = j < new->nr ? &new->ranges[j] : NULL;
        if (o && n && range_equal(o, n)) {
            i++;
            j++;
        } else if (o && (!n || o->addr <= n->addr)) {
            if (!adding && l->region_del) {
                MemoryRegionSection s = section_of(o);
                l->region_del(l, &s);
            }
            i++;
        } else {
            if (adding && l->region_add) {
                MemoryRegionSection s = section_of(n);
                l->region_add(l, &s);
            }
            j++;
        }
    }
}

static void listener_update(MemoryListener *l, const FlatView *old, const FlatView *new)
{
    if (l->begin)
        l->begin(l);
    diff_pass(l, old, new, false);
    diff_pass(l, old, new, true);
    if (l->commit)
        l->commit(l);
}

static const FlatView empty_view;

/* The new view is published before listeners run: dispatch follows the tree at
 * once, while listeners (KVM slots, DMA maps) converge to it; the old view stays
 * alive until they are done and readers have left. */
static void address_space_update(AddressSpace *as)
{
    FlatView *new = render_address_space(as);
    FlatView *old = as->current;
    if (old && flatview_equal(old, new)) {
        flatview_free_now(new);
        return;
    }
    rcu_assign_pointer(as->current, new);
    for (MemoryListener *l = as->listeners; l; l = l->next)
        listener_update(l, old ? old : &empty_view, new);
    flatview_release(old);
}

void address_spaces_update_all(void)
{
    for (AddressSpace *as = address_spaces; as; as = as->next)
        address_space_update(as);
}

/* ---- address spaces ------------------------------------------------------------------ */
AddressSpace *address_space_new(const char *name, MemoryRegion *root)
{
    AddressSpaceBox *box = g_new0(AddressSpaceBox, 1);
    AddressSpace *as = &box->as;
    as->name = g_strdup(name ? name : "");
    memory_region_ref(root);
    as->root = root;
    memory_region_transaction_begin();
    AddressSpace **tail = &address_spaces;
    while (*tail)
        tail = &(*tail)->next;
    *tail = as;
    address_space_update(as);
    memory_region_transaction_commit();
    return as;
}

static void address_space_free_rcu(struct rcu_head *head)
{
    AddressSpaceBox *box = caa_container_of(head, AddressSpaceBox, rcu);
    g_free(box->as.name);
    g_free(box);
}

void address_space_free(AddressSpace *as)
{
    if (!as)
        return;
    memory_region_transaction_begin();
    while (as->listeners)
        memory_listener_unregister(as->listeners);
    for (AddressSpace **p = &address_spaces; *p; p = &(*p)->next) {
        if (*p == as) {
            *p = as->next;
            break;
        }
    }
    FlatView *old = as->current;
    rcu_assign_pointer(as->current, NULL);
    flatview_release(old);
    /* Dropped here, under the lock: a dying root detaches its children. */
    memory_region_unref(as->root);
    as->root = NULL;
    memory_region_transaction_commit();
    call_rcu(&caa_container_of(as, AddressSpaceBox, as)->rcu, address_space_free_rcu);
}

FlatView *address_space_get_flatview(AddressSpace *as)
{
    return rcu_dereference(as->current);
}

const FlatRange *flatview_lookup(const FlatView *fv, hwaddr addr)
{
    if (!fv)
        return NULL;
    /* Exits tend to hit the same device again (a driver polling a status register):
     * try the range found last before searching. */
    unsigned i = __atomic_load_n(&fv->mru, __ATOMIC_RELAXED);
    if (i < fv->nr && addr - fv->ranges[i].addr < fv->ranges[i].size)
        return &fv->ranges[i];
    i = find_index(fv->ranges, fv->nr, addr);
    if (i < fv->nr && fv->ranges[i].addr <= addr) {
        __atomic_store_n((unsigned *)&fv->mru, i, __ATOMIC_RELAXED);
        return &fv->ranges[i];
    }
    return NULL;
}

/* ---- listeners ------------------------------------------------------------------------ */
void memory_listener_register(MemoryListener *l, AddressSpace *as)
{
    memory_region_transaction_begin();
    if (l->as) {
        log_error("memory: listener registered twice");
    } else {
        l->as = as;
        l->next = NULL;
        MemoryListener **tail = &as->listeners;
        while (*tail)
            tail = &(*tail)->next;
        *tail = l;
        listener_update(l, &empty_view, as->current ? as->current : &empty_view);
    }
    memory_region_transaction_commit();
}

void memory_listener_unregister(MemoryListener *l)
{
    AddressSpace *as = l->as;
    if (!as)
        return;
    memory_region_transaction_begin();
    for (MemoryListener **p = &as->listeners; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    listener_update(l, as->current ? as->current : &empty_view, &empty_view);
    l->as = NULL;
    l->next = NULL;
    memory_region_transaction_commit();
}
