/* DMA remapping: legacy-mode root table -> context table -> second-level page
 * table (spec 3.4-3.7, 9.1-9.3, 9.8), the IOTLB and context cache, and the
 * MAP/UNMAP notifications that shadowing consumers (VFIO) and mapping caches
 * rely on.
 *
 * The IOTLB is direct-mapped by (source id, 4 KiB page); a superpage entry is
 * cached under the 4 KiB page that was used and carries the superpage's range,
 * which is what invalidations compare against. A hit is read without the lock
 * under a sequence count (iotlb_seq); whoever changes entries makes the count
 * odd while it does.
 *
 * A miss walks the tables without the lock too, and keeps its result only if
 * no invalidation ran meanwhile (inval_seq): a refill takes the IOTLB's write
 * side with one compare-and-swap, checks inval_seq there and gives up rather
 * than wait. An invalidation holds the lock, makes inval_seq odd, then waits
 * for the write side (a refill holds it for a few stores), so a walk that read
 * a table before the guest changed it either lands before the flush, which
 * drops it, or sees the flush and is not kept. Context-cache fills, faults and
 * pass-through still take the lock. */
#include "iommu/vtd_internal.h"

#include <sched.h>
#include <string.h>

#include "util/rcu.h"

#include "util/log.h"
#include "vmm/vm.h"

#define CTX_LO_P       1ull
#define CTX_LO_FPD     2ull
#define CTX_LO_TT(lo)  (((lo) >> 2) & 3)
#define CTX_LO_RSVD    (0xff0ull | ~VTD_HAW_MASK)
#define CTX_HI_AW(hi)  ((unsigned)(hi) & 7)
#define CTX_HI_DID(hi) ((uint16_t)((hi) >> 8))
#define CTX_HI_RSVD    (~0xffffffull | 0x80ull)
#define ROOT_LO_RSVD   (0xffeull | ~VTD_HAW_MASK)
#define TT_SL          0
#define TT_PT          2
#define PTE_R          1ull
#define PTE_W          2ull
#define PTE_PS         (1ull << 7)
#define PTE_ADDR       (VTD_HAW_MASK & ~0xfffull)
/* Bits 62 (TM, no device TLBs here) and HAW..51 are reserved; 63 and 61:52 ignored. */
#define PTE_RSVD_HI    (0x4000000000000000ull | (0x000fffffffffffffull & ~VTD_HAW_MASK))
/* Walks visit at most this many entries (a guest can point every entry of a
 * table at the same next table, so a full walk could otherwise take ages). */
#define WALK_BUDGET    (1u << 22)

typedef struct VTDWalkFault {
    uint8_t reason;
    bool fpd;                      /* the context entry asks for no fault record */
} VTDWalkFault;

uint64_t vtd_iotlb_hash(uint16_t sid, uint64_t addr)
{
    return ((addr >> 12) ^ ((uint64_t)sid * 0x9e5u)) & (VTD_IOTLB_SIZE - 1);
}

/* Takes the IOTLB's write side: at once or false (`wait` false), or waiting
 * for the refill or invalidation that holds it. */
static bool iotlb_write_begin(VTDState *s, bool wait)
{
    for (unsigned tries = 0;; tries++) {
        unsigned seq = __atomic_load_n(&s->iotlb_seq, __ATOMIC_RELAXED);
        if (!(seq & 1) && __atomic_compare_exchange_n(&s->iotlb_seq, &seq, seq + 1, false,
                                                      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            /* Entry stores stay after the odd count (readers' side: vtd_translate). */
            __atomic_thread_fence(__ATOMIC_RELEASE);
            return true;
        }
        if (!wait)
            return false;
        /* The holder may have been preempted in its few stores. */
        if (tries >= 64)
            sched_yield();
        else
            __builtin_ia32_pause();
    }
}

static void iotlb_write_end(VTDState *s)
{
    __atomic_store_n(&s->iotlb_seq, s->iotlb_seq + 1, __ATOMIC_RELEASE);
}

/* An invalidation (lock held, so one at a time): walks without the lock that
 * overlap it are not kept. */
static void inval_begin(VTDState *s)
{
    __atomic_store_n(&s->inval_seq, s->inval_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void inval_end(VTDState *s)
{
    __atomic_store_n(&s->inval_seq, s->inval_seq + 1, __ATOMIC_RELEASE);
}

/* ---- context entries ---- */
/* The context entry of `rid` from the tables, into the cache (lock held). */
static __attribute__((noinline)) bool context_fill(VTDState *s, VTDAddressSpace *as,
                                                   VTDWalkFault *f)
{
    uint64_t rt = s->rtaddr_latched, root, a, lo, hi;
    if (!(s->gsts & VTD_GCMD_SRTP) || (rt & 0xc00)) {
        f->reason = VTD_FR_ROOT_ACCESS;   /* no root table, or scalable mode asked */
        return false;
    }
    a = (rt & ~0xfffull) + (uint64_t)(as->rid >> 8) * 16;
    if (!vtd_load_table(s, a, &root, 1)) {
        f->reason = VTD_FR_ROOT_ACCESS;
        return false;
    }
    if (!(root & 1)) {
        f->reason = VTD_FR_ROOT_NP;
        return false;
    }
    if (root & ROOT_LO_RSVD) {
        f->reason = VTD_FR_ROOT_RSVD;
        return false;
    }
    a = (root & ~0xfffull) + (uint64_t)(as->rid & 0xff) * 16;
    uint64_t ctx[2];
    if (!vtd_load_table(s, a, ctx, 2)) {
        f->reason = VTD_FR_CTX_ACCESS;
        return false;
    }
    lo = ctx[0], hi = ctx[1];
    if (!(lo & CTX_LO_P)) {
        f->reason = VTD_FR_CTX_NP;
        return false;
    }
    f->fpd = lo & CTX_LO_FPD;
    if ((lo & CTX_LO_RSVD) || (hi & CTX_HI_RSVD)) {
        f->reason = VTD_FR_CTX_RSVD;
        return false;
    }
    unsigned tt = CTX_LO_TT(lo), aw = CTX_HI_AW(hi);
    if (tt != TT_SL && !(tt == TT_PT && (s->ecap & VTD_ECAP_PT))) {
        f->reason = VTD_FR_CTX_TT;
        return false;
    }
    if (tt == TT_SL && aw != 1 && aw != 2) {
        f->reason = VTD_FR_CTX_INVALID;   /* not in SAGAW */
        return false;
    }
    __atomic_store_n(&as->ctx_lo, lo, __ATOMIC_RELAXED);
    __atomic_store_n(&as->ctx_hi, hi, __ATOMIC_RELAXED);
    __atomic_store_n(&as->ctx_gen, s->ctx_gen, __ATOMIC_RELEASE);
    return true;
}

/* The context entry of `rid` (lock held), from the cache or the tables. */
static bool context_get(VTDState *s, VTDAddressSpace *as, uint64_t *lo, uint64_t *hi,
                        VTDWalkFault *f)
{
    if (as->ctx_gen != s->ctx_gen && !context_fill(s, as, f))
        return false;
    *lo = as->ctx_lo, *hi = as->ctx_hi;
    return true;
}

void vtd_ctx_flush(VTDState *s, int gran, uint16_t did, uint16_t sid, unsigned fm)
{
    inval_begin(s);
    if (gran == 1) {
        __atomic_store_n(&s->ctx_gen, s->ctx_gen + 1 ? s->ctx_gen + 1 : 1, __ATOMIC_RELAXED);
        inval_end(s);
        return;
    }
    /* FM masks the low bits of the function number (0: none, 1: bit 2, 2: bits
     * 2:1, 3: bits 2:0). */
    uint16_t sid_mask = (uint16_t)~(fm ? (((1u << fm) - 1) << (3 - fm)) & 7 : 0);
    for (unsigned b = 0; b < 256; b++) {
        for (unsigned d = 0; s->spaces[b] && d < 256; d++) {
            VTDAddressSpace *as = s->spaces[b][d];
            if (!as || as->ctx_gen != s->ctx_gen)
                continue;
            if ((gran == 2 && CTX_HI_DID(as->ctx_hi) == did) ||
                (gran == 3 && ((as->rid ^ sid) & sid_mask) == 0))
                __atomic_store_n(&as->ctx_gen, 0, __ATOMIC_RELAXED);
        }
    }
    inval_end(s);
}

/* ---- second-level walk ---- */
static uint64_t pte_rsvd(unsigned level, bool leaf)
{
    static const uint64_t low[2][5] = {
        /* non-leaf */ { 0, 0x800, 0x800, 0x800, 0x880 },
        /* leaf     */ { 0, 0x800, 0x1ff800, 0x3ffff800, 0x880 },
    };
    return PTE_RSVD_HI | low[leaf][level];
}

/* What a walk found: the translated (super)page, its size - 1 and what every
 * level together allows. */
typedef struct VTDLeaf {
    uint64_t xlat, mask;
    unsigned perm;
} VTDLeaf;

/* Walks `iova` from `table` with `levels` levels in the view `fv` (inside an
 * RCU read-side section; it reads guest memory only, so the lock is not
 * needed): 0 with `*leaf` filled in, or the fault reason. Inlined at both
 * callers: a call costs about 30 of a walk's 150 instructions. */
static inline __attribute__((always_inline)) uint8_t
sl_walk(const FlatView *fv, uint64_t table, unsigned levels, uint64_t iova, VTDLeaf *leaf,
        bool is_write)
{
    uint64_t perm = IOMMU_RW;
    FlatViewRAMCursor c = { 0 };
    for (unsigned level = levels;; level--) {
        unsigned shift = 3 + 9 * level;
        uint64_t pte;
        if (!flatview_ldq_le_ram_cursor(fv, &c, table + ((iova >> shift) & 0x1ff) * 8, &pte))
            return VTD_FR_PAGING_ACCESS;
        perm &= pte;
        if (!(perm & IOMMU_RW))
            return is_write ? VTD_FR_WRITE : VTD_FR_READ;
        /* PS at level 4 is reserved: pte_rsvd(4, true) has that bit. */
        bool is_leaf = level == 1 || (pte & PTE_PS);
        if (pte & pte_rsvd(level, is_leaf))
            return VTD_FR_PAGING_RSVD;
        if (is_leaf) {
            leaf->mask = (1ull << shift) - 1;
            leaf->xlat = pte & PTE_ADDR & ~leaf->mask;
            leaf->perm = (unsigned)perm & IOMMU_RW;
            return 0;
        }
        table = pte & PTE_ADDR;
    }
}

static unsigned ctx_levels(uint64_t hi)
{
    return CTX_HI_AW(hi) + 2;
}

/* Puts a walk's result in its slot (IOTLB write side held). */
static inline void iotlb_store(VTDState *s, uint16_t sid, uint16_t did, uint64_t iova,
                        const VTDLeaf *e)
{
    unsigned slot = (unsigned)vtd_iotlb_hash(sid, iova);
    VTDIOTLBEntry *t = &s->iotlb[slot];
    __atomic_store_n(&t->page, (iova & ~0xfffull) | 1, __ATOMIC_RELAXED);
    __atomic_store_n(&t->data, e->xlat | (uint64_t)sid << 48 | e->perm, __ATOMIC_RELAXED);
    __atomic_store_n(&t->mask, e->mask, __ATOMIC_RELAXED);
    t->did = did;
    /* The bit under the slot's previous domain stays: flushes drop stale bits. */
    s->did_slots[did & 0xff][slot / 64] |= 1ull << (slot % 64);
}

/* vtd_iotlb_refill, inlined into the miss path (a call costs 30 instructions there). */
static inline __attribute__((always_inline)) bool
iotlb_refill(VTDState *s, unsigned inval, uint16_t sid, uint16_t did, uint64_t iova,
             uint64_t xlat, uint64_t mask, unsigned perm)
{
    /* Another refill holding the write side: keep the result, skip the refill. */
    bool took = iotlb_write_begin(s, false);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    bool kept = __atomic_load_n(&s->inval_seq, __ATOMIC_RELAXED) == inval;
    if (took) {
        if (kept)
            iotlb_store(s, sid, did, iova, &(VTDLeaf){ .xlat = xlat, .mask = mask, .perm = perm });
        iotlb_write_end(s);
    }
    return kept;
}

bool vtd_iotlb_refill(VTDState *s, unsigned inval, uint16_t sid, uint16_t did, uint64_t iova,
                      uint64_t xlat, uint64_t mask, unsigned perm)
{
    return iotlb_refill(s, inval, sid, did, iova, xlat, mask, perm);
}

void vtd_iotlb_flush(VTDState *s, int gran, uint16_t did, uint64_t addr, unsigned am)
{
    uint64_t first = addr & ~((4096ull << am) - 1), last = first + (4096ull << am) - 1;
    inval_begin(s);
    iotlb_write_begin(s, true);
    if (gran == 1) {
        for (unsigned i = 0; i < VTD_IOTLB_SIZE; i++)
            __atomic_store_n(&s->iotlb[i].page, 0, __ATOMIC_RELAXED);
        memset(s->did_slots, 0, sizeof(s->did_slots));
    } else {
        /* Only the slots of the domain (ids above ND share a list, hence the compare). */
        uint64_t *bits = s->did_slots[did & 0xff];
        for (unsigned w = 0; w < VTD_IOTLB_SIZE / 64; w++) {
            for (uint64_t left = bits[w]; left; left &= left - 1) {
                unsigned slot = w * 64 + (unsigned)__builtin_ctzll(left);
                VTDIOTLBEntry *t = &s->iotlb[slot];
                uint64_t lo = (t->page & ~1ull) & ~t->mask, hi = lo + t->mask;
                bool in_range = gran != 3 || (lo <= last && hi >= first);
                if (t->page && t->did == did && in_range)
                    __atomic_store_n(&t->page, 0, __ATOMIC_RELAXED);
                else if (t->page && (t->did & 0xff) == (did & 0xff))
                    continue;                        /* an entry this list must keep */
                bits[w] &= ~(1ull << (slot % 64));   /* dropped, or a stale mark */
            }
        }
    }
    iotlb_write_end(s);
    inval_end(s);
}

/* Records a translation fault (lock held) and drops the lock. */
static __attribute__((noinline, cold)) void fault_unlock(VTDState *s, uint16_t rid, uint64_t iova,
                                                          uint8_t reason, bool is_write)
{
    VTDMsi msi = { 0 };
    vtd_record_fault(s, rid, iova, reason, is_write, &msi);
    pthread_mutex_unlock(&s->lock);
    vtd_send_event(s, &msi);
}

/* An IOTLB miss without the lock (see the top of the file): true with `*leaf`
 * when the walk's result holds and grants `access`; false leaves the miss to
 * the locked path (no cached context, pass-through, a fault, or an
 * invalidation meanwhile). */
static bool translate_unlocked(VTDState *s, VTDAddressSpace *as, hwaddr iova,
                               IOMMUAccessFlags access, VTDLeaf *leaf)
{
    unsigned inval = vtd_inval_snapshot(s);
    if ((inval & 1) || __atomic_load_n(&as->ctx_gen, __ATOMIC_ACQUIRE) !=
                           __atomic_load_n(&s->ctx_gen, __ATOMIC_RELAXED))
        return false;
    uint64_t lo = __atomic_load_n(&as->ctx_lo, __ATOMIC_RELAXED);
    uint64_t hi = __atomic_load_n(&as->ctx_hi, __ATOMIC_RELAXED);
    unsigned levels = ctx_levels(hi);
    if (CTX_LO_TT(lo) != TT_SL || (iova >> (12 + 9 * levels)))
        return false;
    rcu_read_lock();
    uint8_t reason = sl_walk(rcu_dereference(s->as_mem->current), lo & PTE_ADDR, levels,
                             iova, leaf, access & IOMMU_WO);
    rcu_read_unlock();
    if (reason || (leaf->perm & access) != access)
        return false;
    return iotlb_refill(s, inval, as->rid, CTX_HI_DID(hi), iova, leaf->xlat, leaf->mask,
                        leaf->perm);
}

/* An IOTLB miss. Out of line, so the hit path stays short; cold next to hits
 * (and GCC's compact code for it also runs fewer instructions). */
__attribute__((noinline)) static IOMMUTLBEntry translate_slow(MemoryRegion *mr, hwaddr iova,
                                                              IOMMUAccessFlags access,
                                                              bool record_fault)
{
    VTDAddressSpace *as = mr->opaque;
    VTDState *s = as->s;
    __atomic_fetch_add(&s->iotlb_misses, 1, __ATOMIC_RELAXED);
    /* Translation off, or pass-through: system memory as it is. */
    const VTDLeaf identity = { .xlat = iova & ~0xfffull, .mask = 0xfff, .perm = IOMMU_RW };
    VTDLeaf leaf = identity;
    if (!__atomic_load_n(&s->te, __ATOMIC_ACQUIRE) ||
        translate_unlocked(s, as, iova, access, &leaf))
        goto out;
    leaf = identity;
    VTDWalkFault f = { 0 };
    bool is_write = access & IOMMU_WO;
    pthread_mutex_lock(&s->lock);
    if (!s->te) {
        /* Turned off since the first look. */
    } else if (as->ctx_gen != s->ctx_gen && !context_fill(s, as, &f)) {
        leaf = (VTDLeaf){ .xlat = 0, .mask = 0xfff, .perm = IOMMU_NONE };
    } else {
        uint64_t lo = as->ctx_lo, hi = as->ctx_hi;
        unsigned levels = ctx_levels(hi);
        f.fpd = lo & CTX_LO_FPD;
        if (CTX_LO_TT(lo) == TT_PT) {
            /* leaf: identity, as set above */
        } else if (iova >> (12 + 9 * levels)) {
            f.reason = VTD_FR_ADDR_BEYOND_AW;
        } else {
            rcu_read_lock();
            f.reason = sl_walk(rcu_dereference(s->as_mem->current), lo & PTE_ADDR, levels,
                               iova, &leaf, is_write);
            rcu_read_unlock();
        }
        if (!f.reason) {
            /* No invalidation can run (the lock): only a refill may hold the write side. */
            iotlb_write_begin(s, true);
            iotlb_store(s, as->rid, CTX_HI_DID(hi), iova, &leaf);
            iotlb_write_end(s);
            /* The entry, as it is, tells the caller what it lacks. */
            if ((leaf.perm & access) != access)
                f.reason = is_write ? VTD_FR_WRITE : VTD_FR_READ;
        } else {
            leaf = (VTDLeaf){ .xlat = 0, .mask = 0xfff, .perm = IOMMU_NONE };
        }
    }
    if (__builtin_expect(f.reason && record_fault && !f.fpd, 0))
        fault_unlock(s, as->rid, iova, f.reason, is_write);
    else
        pthread_mutex_unlock(&s->lock);
out:
    return (IOMMUTLBEntry){ .target_as = s->as_mem, .iova = iova & ~leaf.mask,
                            .translated_addr = leaf.xlat, .addr_mask = leaf.mask,
                            .perm = (IOMMUAccessFlags)leaf.perm };
}

static IOMMUTLBEntry vtd_translate(MemoryRegion *mr, hwaddr iova, IOMMUAccessFlags access,
                                   bool record_fault)
{
    VTDAddressSpace *as = mr->opaque;
    VTDState *s = as->s;
    uint16_t rid = as->rid;
    unsigned seq = __atomic_load_n(&s->iotlb_seq, __ATOMIC_ACQUIRE);
    const VTDIOTLBEntry *t = &s->iotlb[vtd_iotlb_hash(rid, iova)];
    if (__atomic_load_n(&t->page, __ATOMIC_RELAXED) == ((iova & ~0xfffull) | 1)) {
        uint64_t data = __atomic_load_n(&t->data, __ATOMIC_RELAXED);
        uint64_t mask = __atomic_load_n(&t->mask, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        /* This requester's entry, granting `access`: one compare. */
        uint64_t want = (uint64_t)rid << 48 | access;
        if ((data & (0xffffull << 48 | access)) == want && !(seq & 1) &&
            __atomic_load_n(&s->iotlb_seq, __ATOMIC_RELAXED) == seq) {
            __atomic_fetch_add(&s->iotlb_hits, 1, __ATOMIC_RELAXED);
            return (IOMMUTLBEntry){ .target_as = s->as_mem, .iova = iova & ~mask,
                                    .translated_addr = data & PTE_ADDR, .addr_mask = mask,
                                    .perm = (IOMMUAccessFlags)(data & IOMMU_RW) };
        }
    }
    return translate_slow(mr, iova, access, record_fault);
}

/* ---- walking every mapping (caching-mode MAP, replay) ---- */
typedef struct VTDWalk {
    VTDState *s;
    MemoryRegion *mr;
    IOMMUNotifier *only;           /* replay: this notifier; else every MAP notifier */
    uint64_t first, last;
    unsigned budget;
} VTDWalk;

static void walk_emit(VTDWalk *w, const IOMMUTLBEntry *e)
{
    if (w->only) {
        if (e->iova <= w->only->end && e->iova + e->addr_mask >= w->only->start)
            w->only->notify(w->only, IOMMU_NOTIFIER_MAP, e);
    } else {
        memory_region_iommu_notify(w->mr, IOMMU_NOTIFIER_MAP, e);
    }
}

/* Table reads need no unit lock (they touch guest memory only): notifiers
 * are called without it. */
static void walk_level(VTDWalk *w, uint64_t table, unsigned level, uint64_t base,
                       unsigned perm)
{
    unsigned shift = 12 + 9 * (level - 1);
    for (unsigned i = 0; i < 512 && w->budget; i++) {
        w->budget--;
        uint64_t va = base + ((uint64_t)i << shift), end = va + (1ull << shift) - 1;
        if (end < w->first || va > w->last)
            continue;
        uint64_t pte;
        if (!vtd_load_table(w->s, table + i * 8ull, &pte, 1))
            continue;
        unsigned p = perm & (unsigned)(pte & 3);
        if (!p)
            continue;
        bool leaf = level == 1 || ((pte & PTE_PS) && level <= 3);
        if (pte & pte_rsvd(level, leaf))
            continue;
        if (leaf) {
            IOMMUTLBEntry e = { .target_as = w->s->dev.vm->as_mem, .iova = va,
                                .translated_addr = pte & PTE_ADDR & ~((1ull << shift) - 1),
                                .addr_mask = (1ull << shift) - 1,
                                .perm = (IOMMUAccessFlags)p };
            walk_emit(w, &e);
        } else {
            walk_level(w, pte & PTE_ADDR, level - 1, va, p);
        }
    }
}

/* MAP events for what `as` maps in [first, last] (big lock held, unit lock not). */
static void walk_space(VTDAddressSpace *as, IOMMUNotifier *only, uint64_t first, uint64_t last,
                       int did_filter)
{
    VTDState *s = as->s;
    uint64_t lo, hi;
    VTDWalkFault f;
    pthread_mutex_lock(&s->lock);
    bool te = s->te, ok = te && context_get(s, as, &lo, &hi, &f);
    pthread_mutex_unlock(&s->lock);
    if (!ok || (did_filter >= 0 && CTX_HI_DID(hi) != did_filter))
        return;
    VTDWalk w = { .s = s, .mr = as->mr, .only = only, .first = first, .last = last,
                  .budget = WALK_BUDGET };
    if (CTX_LO_TT(lo) == TT_PT) {
        /* Pass-through: the whole guest-physical space, as one identity range. */
        IOMMUTLBEntry e = { .target_as = s->dev.vm->as_mem, .iova = 0, .translated_addr = 0,
                            .addr_mask = VTD_HAW_MASK, .perm = IOMMU_RW };
        walk_emit(&w, &e);
        return;
    }
    walk_level(&w, lo & PTE_ADDR, ctx_levels(hi), 0, IOMMU_RW);
    if (!w.budget)
        log_guest_error("vtd: page-table walk of %s stopped after %u entries",
                        as->mr->name, WALK_BUDGET);
}

static void vtd_replay(MemoryRegion *mr, IOMMUNotifier *n)
{
    VTDAddressSpace *as = mr->opaque;
    walk_space(as, n, n->start, n->end, -1);
}

const IOMMURegionOps vtd_iommu_ops = {
    .translate = vtd_translate,
    .replay = vtd_replay,
};

/* ---- notifications ---- */
static bool has_notifier(const VTDAddressSpace *as, unsigned flag)
{
    for (IOMMUNotifier *n = as->mr->iommu_notifiers; n; n = n->next)
        if (n->flags & flag)
            return true;
    return false;
}

/* The domain `as` is in now, or -1 (no valid context entry). */
static int space_domain(VTDAddressSpace *as)
{
    uint64_t lo, hi;
    VTDWalkFault f;
    pthread_mutex_lock(&as->s->lock);
    bool ok = context_get(as->s, as, &lo, &hi, &f);
    pthread_mutex_unlock(&as->s->lock);
    return ok ? CTX_HI_DID(hi) : -1;
}

static void notify_space(VTDAddressSpace *as, int did, uint64_t first, uint64_t last)
{
    if (!as->mr->iommu_notifiers)
        return;
    int cur = did >= 0 ? space_domain(as) : -1;
    /* A space whose context is gone may still have held the domain's
     * mappings: it gets the UNMAP too. */
    if (did >= 0 && cur >= 0 && cur != did)
        return;
    uint64_t mask = last - first;
    IOMMUTLBEntry e = { .target_as = as->s->dev.vm->as_mem, .iova = first,
                        .translated_addr = 0, .addr_mask = mask, .perm = IOMMU_NONE };
    memory_region_iommu_notify(as->mr, IOMMU_NOTIFIER_UNMAP, &e);
    if ((as->s->cap & VTD_CAP_CM) && has_notifier(as, IOMMU_NOTIFIER_MAP))
        walk_space(as, NULL, first, last, did);
}

static void notify_all(VTDState *s, int did, uint16_t sid, uint16_t sid_mask, uint64_t first,
                       uint64_t last)
{
    for (unsigned b = 0; b < 256; b++)
        for (unsigned d = 0; s->spaces[b] && d < 256; d++)
            if (s->spaces[b][d] && ((s->spaces[b][d]->rid ^ sid) & sid_mask) == 0)
                notify_space(s->spaces[b][d], did, first, last);
}

void vtd_notify_iotlb(VTDState *s, int gran, uint16_t did, uint64_t addr, unsigned am)
{
    if (gran == 1) {
        notify_all(s, -1, 0, 0, 0, UINT64_MAX);
    } else if (gran == 2) {
        notify_all(s, did, 0, 0, 0, UINT64_MAX);
    } else {
        uint64_t size = 4096ull << am, first = addr & ~(size - 1);
        notify_all(s, did, 0, 0, first, first + size - 1);
    }
}

void vtd_notify_context(VTDState *s, int gran, uint16_t did, uint16_t sid, unsigned fm)
{
    uint16_t sid_mask = (uint16_t)~(fm ? (((1u << fm) - 1) << (3 - fm)) & 7 : 0);
    if (gran == 1)
        notify_all(s, -1, 0, 0, 0, UINT64_MAX);
    else if (gran == 2)
        notify_all(s, did, 0, 0, 0, UINT64_MAX);
    else
        notify_all(s, -1, sid, sid_mask, 0, UINT64_MAX);
}

void vtd_notify_unmap_all(VTDState *s)
{
    notify_all(s, -1, 0, 0, 0, UINT64_MAX);
}
