/* VT-d translation from several threads while the guest remaps and
 * invalidates (IOTLB misses walk and refill without the unit's lock), and the
 * IOTLB's per-domain index that domain and page-selective invalidations use. */
#include <pthread.h>
#include <sched.h>

#include "iommu/vtd_internal.h"
#include "tests/unit/vtd_util.h"

#define DEV     0x08                /* 00:01.0 */
#define DEV2    0x10                /* 00:02.0 */
#define DID     5
/* Two pages on one IOTLB slot: used alternately, every translation misses. */
#define IOVA_X  0x1000ull
#define IOVA_Y  0x401000ull
#define PA_Y    0x3ff000ull
#define PA_V(v) (0x1000000ull + (uint64_t)(v) * 0x1000)
#define RACERS  3

typedef struct Racer {
    struct vtd_test *t;
    MemoryRegion *mr;               /* made before the racers start (see vtd_dma_region) */
    unsigned done;                  /* remaps whose invalidation completed (main) */
    bool stop;
    unsigned long translations[RACERS];
    unsigned long stale, wrong;
} Racer;

typedef struct RacerArg {
    Racer *r;
    unsigned id;
} RacerArg;

static void *racer(void *opaque)
{
    RacerArg *a = opaque;
    Racer *r = a->r;
    MemoryRegion *mr = r->mr;
    for (unsigned long i = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++) {
        unsigned done = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
        bool x = i & 1;
        IOMMUTLBEntry e = mr->iommu_ops->translate(mr, x ? IOVA_X : IOVA_Y, IOMMU_RO, true);
        if (!(e.perm & IOMMU_RO))
            __atomic_fetch_add(&r->wrong, 1, __ATOMIC_RELAXED);
        else if (x && e.translated_addr < PA_V(done))
            __atomic_fetch_add(&r->stale, 1, __ATOMIC_RELAXED);   /* older than done */
        else if (!x && e.translated_addr != PA_Y)
            __atomic_fetch_add(&r->wrong, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&r->translations[a->id], r->translations[a->id] + 1,
                         __ATOMIC_RELEASE);
        if ((i & 31) == 31)
            sched_yield();          /* 3 racers on a few shared cores: let main run */
    }
    return NULL;
}

static unsigned long total(Racer *r)
{
    unsigned long n = 0;
    for (unsigned i = 0; i < RACERS; i++)
        n += __atomic_load_n(&r->translations[i], __ATOMIC_ACQUIRE);
    return n;
}

/* Remap IOVA_X to PA_V(v) in `top`, or in the other table with the context
 * entry switched to it; then invalidate as `kind` says, by register or (qi)
 * by queued invalidation. */
static void remap_and_invalidate(struct vtd_test *t, uint64_t tops[2], unsigned *cur, unsigned v,
                                 unsigned kind, bool qi)
{
    if (kind == 3) {
        *cur ^= 1;
        map(t, tops[*cur], 4, IOVA_X, PA_V(v), 1, 1);
        set_context(t, DEV, tops[*cur], 4, DID, 0);
        if (qi) {
            qi_submit(t, 1 | 3 << 4 | (uint64_t)DEV << 32, 0);
        } else {
            wr(t, R_CCMD, 1ull << 63 | 3ull << 61 | (uint64_t)DEV << 16, 8);
        }
        kind = 1;                   /* then the domain's IOTLB entries */
    } else {
        map(t, tops[*cur], 4, IOVA_X, PA_V(v), 1, 1);
    }
    static const uint64_t gran[3] = { 3, 2, 1 };   /* page, domain, global */
    if (qi) {
        qi_submit(t, 2 | gran[kind] << 4 | DID << 16, IOVA_X);
        CHECK(qi_wait(t, v));
    } else {
        wr(t, R_IVA, IOVA_X, 8);
        wr(t, R_IOTLB, 1ull << 63 | gran[kind] << 60 | (uint64_t)DID << 32, 8);
    }
}

TEST(vtd_concurrent_translate_sees_every_invalidation)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t tops[2] = { new_table(&t), new_table(&t) };
    unsigned cur = 0;
    for (unsigned i = 0; i < 2; i++) {
        map(&t, tops[i], 4, IOVA_X, PA_V(0), 1, 1);
        map(&t, tops[i], 4, IOVA_Y, PA_Y, 1, 1);
    }
    set_context(&t, DEV, tops[0], 4, DID, 0);
    gcmd(&t, G_TE, true);
    Racer r = { .t = &t, .mr = vtd_dma_region(t.s, DEV) };
    RacerArg args[RACERS];
    pthread_t th[RACERS];
    for (unsigned i = 0; i < RACERS; i++) {
        args[i] = (RacerArg){ .r = &r, .id = i };
        REQUIRE(pthread_create(&th[i], NULL, racer, &args[i]) == 0);
    }
    const unsigned rounds = 800;
    for (unsigned v = 1; v <= rounds; v++) {
        bool qi = v > rounds / 2;
        if (v == rounds / 2 + 1)
            qi_enable(&t);
        remap_and_invalidate(&t, tops, &cur, v, v % 4, qi);
        __atomic_store_n(&r.done, v, __ATOMIC_RELEASE);
        /* Let the racers translate in every round. */
        unsigned long before = total(&r);
        while (total(&r) < before + 2 * RACERS)
            sched_yield();
    }
    __atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    printf("  %lu translations, %llu IOTLB misses\n", total(&r),
           (unsigned long long)__atomic_load_n(&t.s->iotlb_misses, __ATOMIC_RELAXED));
    CHECK(total(&r) >= 2ul * RACERS * rounds);
    CHECK_EQ(r.stale, 0);
    CHECK_EQ(r.wrong, 0);
    CHECK_EQ(rd(&t, R_FSTS, 4), 0);                        /* no fault on the way */
    CHECK_EQ(frcd_reason(&t, 0), 0);
    vt_teardown(&t);
}

/* The rule the unlocked miss path rests on, one step at a time: a walk's
 * result is kept only if no invalidation (IOTLB or context cache, by register
 * or queue) ran since the walk began. A fake translation stands for a walk that
 * read the tables before the guest changed them: if it were kept, the next
 * translation would hit it. */
TEST(vtd_refill_after_an_invalidation_is_dropped)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = new_table(&t);
    set_context(&t, DEV, top, 4, DID, 0);
    gcmd(&t, G_TE, true);
    map(&t, top, 4, 0x1000, 0x300000, 3, 1);
    const uint64_t fake = 0x777000;
    /* No invalidation in between: kept, and hit. */
    unsigned inval = vtd_inval_snapshot(t.s);
    CHECK(vtd_iotlb_refill(t.s, inval, DEV, DID, 0x1000, fake, 0xfff, IOMMU_RW));
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, fake);
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);
    /* An invalidation since the snapshot, of any kind and even of another
     * page or domain: not kept. */
    for (unsigned kind = 0; kind < 6; kind++) {
        wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
        inval = vtd_inval_snapshot(t.s);
        CHECK_EQ(inval & 1, 0);
        switch (kind) {
        case 0: wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8); break;
        case 1: wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | (uint64_t)(DID + 1) << 32, 8); break;
        case 2:
            wr(&t, R_IVA, 0x5000, 8);
            wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | (uint64_t)DID << 32, 8);
            break;
        case 3: wr(&t, R_CCMD, 1ull << 63 | 3ull << 61 | (uint64_t)(DEV + 1) << 16, 8); break;
        case 4: wr(&t, R_CCMD, 1ull << 63 | 1ull << 61, 8); break;
        case 5:
            qi_enable(&t);
            qi_submit(&t, 2 | 3 << 4 | (DID + 1) << 16, 0x9000);
            CHECK(qi_wait(&t, 1));
            gcmd(&t, G_QIE, false);
            break;
        }
        CHECK(!vtd_iotlb_refill(t.s, inval, DEV, DID, 0x1000, fake, 0xfff, IOMMU_RW));
        CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);
    }
    vt_teardown(&t);
}

/* iova of `sid` that lands on the IOTLB slot of (`sid0`, `iova0`), above 4 MiB. */
static uint64_t colliding_iova(uint16_t sid0, uint64_t iova0, uint16_t sid)
{
    uint64_t want = vtd_iotlb_hash(sid0, iova0);
    for (uint64_t page = 0x400; page < 0x800; page++)
        if (vtd_iotlb_hash(sid, page << 12) == want)
            return page << 12;
    return 0;
}

TEST(vtd_domain_invalidation_uses_the_domain_index)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top1 = new_table(&t), top2 = new_table(&t);
    /* Domains 1 and 0x101 share an index list (ids above ND are the guest's
     * mistake, but must not confuse invalidation); domain 2 is another. */
    set_context(&t, DEV, top1, 4, 1, 0);
    set_context(&t, DEV2, top2, 4, 0x101, 0);
    gcmd(&t, G_TE, true);
    map(&t, top1, 4, 0x1000, 0x300000, 3, 1);
    map(&t, top2, 4, 0x1000, 0x500000, 3, 1);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);
    CHECK_EQ(xlate(&t, DEV2, 0x1000, IOMMU_RO).translated_addr, 0x500000);
    map(&t, top1, 4, 0x1000, 0x310000, 3, 1);
    map(&t, top2, 4, 0x1000, 0x510000, 3, 1);
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | 1ull << 32, 8);       /* domain 1 */
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);
    CHECK_EQ(xlate(&t, DEV2, 0x1000, IOMMU_RO).translated_addr, 0x500000);   /* kept */
    wr(&t, R_IVA, 0x1000, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | 0x101ull << 32, 8);  /* page, 0x101 */
    CHECK_EQ(xlate(&t, DEV2, 0x1000, IOMMU_RO).translated_addr, 0x510000);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);

    /* DEV2 (now domain 2) takes over the slot of DEV's page: domain 1's
     * index keeps a stale mark there, which must not drop domain 2's entry. */
    set_context(&t, DEV2, top2, 4, 2, 0);
    wr(&t, R_CCMD, 1ull << 63 | 1ull << 61, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    uint64_t iova2 = colliding_iova(DEV, 0x1000, DEV2);
    REQUIRE(iova2);
    map(&t, top2, 4, iova2, 0x600000, 3, 1);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);
    CHECK_EQ(xlate(&t, DEV2, iova2, IOMMU_RO).translated_addr, 0x600000);  /* evicts */
    map(&t, top2, 4, iova2, 0x610000, 3, 1);
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | 1ull << 32, 8);
    CHECK_EQ(xlate(&t, DEV2, iova2, IOMMU_RO).translated_addr, 0x600000);  /* still cached */
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | 2ull << 32, 8);
    CHECK_EQ(xlate(&t, DEV2, iova2, IOMMU_RO).translated_addr, 0x610000);
    /* And back: DEV refills the slot; domain 2's flush leaves it, domain 1's drops it. */
    map(&t, top1, 4, 0x1000, 0x320000, 3, 1);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x320000);
    map(&t, top1, 4, 0x1000, 0x330000, 3, 1);
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | 2ull << 32, 8);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x320000);
    wr(&t, R_IVA, 0x1000, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | 1ull << 32, 8);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x330000);
    /* The index only ever holds slots with entries of its domain or stale
     * marks: after flushing every domain in use, it is empty. */
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | 1ull << 32, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | 2ull << 32, 8);
    unsigned marks = 0;
    for (unsigned d = 0; d < 256; d++)
        for (unsigned w = 0; w < VTD_IOTLB_SIZE / 64; w++)
            marks += (unsigned)__builtin_popcountll(t.s->did_slots[d][w]);
    CHECK_EQ(marks, 0);
    vt_teardown(&t);
}
