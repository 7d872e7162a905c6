/* Rendering region trees into flat views, listener differences, and the mtree dump. */
#include <stdlib.h>
#include <string.h>
#include <urcu-bp.h>

#include "memory/memory.h"
#include "tests/unit/harness.h"

static const MemoryRegionOps dummy_ops; /* rendering never calls ops */

typedef struct Expect {
    hwaddr addr;
    uint64_t size;
    MemoryRegion *mr;
    hwaddr offset;
} Expect;

#define CHECK_VIEW(as, ...)                                                    \
    do {                                                                       \
        const Expect e_[] = { __VA_ARGS__ };                                   \
        check_view(as, e_, sizeof(e_) / sizeof(e_[0]), __LINE__);             \
    } while (0)

static void check_view(AddressSpace *as, const Expect *e, unsigned n, int line)
{
    rcu_read_lock();
    const FlatView *fv = address_space_get_flatview(as);
    if (fv->nr != n)
        test_fail_(__FILE__, line, "view has %u ranges, expected %u", fv->nr, n);
    for (unsigned i = 0; i < n && i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];
        if (fr->addr != e[i].addr || fr->size != e[i].size || fr->mr != e[i].mr ||
            fr->offset_in_region != e[i].offset)
            test_fail_(__FILE__, line,
                       "range %u: %#" PRIx64 "+%#" PRIx64 " %s @%#" PRIx64
                       ", expected %#" PRIx64 "+%#" PRIx64 " %s @%#" PRIx64,
                       i, fr->addr, fr->size, fr->mr->name, fr->offset_in_region,
                       e[i].addr, e[i].size, e[i].mr->name, e[i].offset);
    }
    rcu_read_unlock();
}

static MemoryRegion *io(const char *name, uint64_t size)
{
    return memory_region_new_io(name, size, &dummy_ops, NULL);
}

/* Adds `sub` to `c` and drops the caller's reference: the tree owns it now. */
static MemoryRegion *put(MemoryRegion *c, hwaddr addr, MemoryRegion *sub, int prio)
{
    memory_region_add_subregion_overlap(c, addr, sub, prio);
    memory_region_unref(sub);
    return sub;
}

static void finish(AddressSpace *as, MemoryRegion *root)
{
    address_space_free(as);
    memory_region_unref(root);
}

TEST(higher_priority_wins)
{
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x4000), 0);
    MemoryRegion *dev = put(root, 0x1000, io("dev", 0x1000), 1);
    CHECK_VIEW(as, { 0, 0x1000, ram, 0 }, { 0x1000, 0x1000, dev, 0 },
               { 0x2000, 0x2000, ram, 0x2000 });
    MemoryRegion *low = put(root, 0x3800, io("low", 0x1000), -1);
    CHECK_VIEW(as, { 0, 0x1000, ram, 0 }, { 0x1000, 0x1000, dev, 0 },
               { 0x2000, 0x2000, ram, 0x2000 }, { 0x4000, 0x800, low, 0x800 });
    finish(as, root);
}

TEST(equal_priority_later_added_wins)
{
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *a = put(root, 0, io("a", 0x2000), 0);
    MemoryRegion *b = put(root, 0x1000, io("b", 0x2000), 0);
    CHECK_VIEW(as, { 0, 0x1000, a, 0 }, { 0x1000, 0x2000, b, 0 });
    /* Re-adding `a` makes it the newest. */
    memory_region_ref(a);
    memory_region_del_subregion(root, a);
    put(root, 0, a, 0);
    CHECK_VIEW(as, { 0, 0x2000, a, 0 }, { 0x2000, 0x1000, b, 0x1000 });
    finish(as, root);
}

TEST(lower_region_visible_through_container_holes)
{
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x8000), 0);
    MemoryRegion *bar = put(root, 0x2000, memory_region_new_container("bar", 0x4000), 1);
    MemoryRegion *x = put(bar, 0x1000, io("x", 0x1000), 0);
    MemoryRegion *y = put(bar, 0x3000, io("y", 0x2000), 0); /* clipped to bar's end */
    CHECK_VIEW(as, { 0, 0x3000, ram, 0 }, { 0x3000, 0x1000, x, 0 },
               { 0x4000, 0x1000, ram, 0x4000 }, { 0x5000, 0x1000, y, 0 },
               { 0x6000, 0x2000, ram, 0x6000 });
    finish(as, root);
}

TEST(alias_into_container_and_partial_alias)
{
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *target = memory_region_new_container("target", 0x4000);
    MemoryRegion *r1 = put(target, 0, memory_region_new_ram("r1", 0x1000), 0);
    MemoryRegion *m = put(target, 0x2000, io("m", 0x1000), 0);
    /* Bytes 0x800..0x27ff of the target appear at 0x10000. */
    MemoryRegion *al = put(root, 0x10000, memory_region_new_alias("al", target, 0x800, 0x2000), 0);
    CHECK_VIEW(as, { 0x10000, 0x800, r1, 0x800 }, { 0x11800, 0x800, m, 0 });
    /* An alias of the alias, partial at both ends. */
    MemoryRegion *al2 = memory_region_new_alias("al2", al, 0x400, 0x1800);
    put(root, 0x20000, al2, 0);
    CHECK_VIEW(as, { 0x10000, 0x800, r1, 0x800 }, { 0x11800, 0x800, m, 0 },
               { 0x20000, 0x400, r1, 0xc00 }, { 0x21400, 0x400, m, 0 });
    memory_region_set_alias_offset(al, 0);
    CHECK_VIEW(as, { 0x10000, 0x1000, r1, 0 }, { 0x20000, 0xc00, r1, 0x400 });
    /* The target's own place in a tree does not matter to aliases. */
    put(root, 0x50000, target, 0);
    CHECK_VIEW(as, { 0x10000, 0x1000, r1, 0 }, { 0x20000, 0xc00, r1, 0x400 },
               { 0x50000, 0x1000, r1, 0 }, { 0x52000, 0x1000, m, 0 });
    finish(as, root);
}

TEST(adjacent_pieces_of_one_region_merge)
{
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = memory_region_new_ram("ram", 0x4000);
    put(root, 0x8000, memory_region_new_alias("lo", ram, 0, 0x2000), 0);
    put(root, 0xa000, memory_region_new_alias("hi", ram, 0x2000, 0x2000), 0);
    put(root, 0xc000, memory_region_new_alias("again", ram, 0x1000, 0x1000), 0);
    /* lo and hi are contiguous in both spaces; `again` is not contiguous in ram. */
    CHECK_VIEW(as, { 0x8000, 0x4000, ram, 0 }, { 0xc000, 0x1000, ram, 0x1000 });
    memory_region_unref(ram);
    finish(as, root);
}

TEST(disabled_regions_disappear_and_reappear)
{
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x4000), 0);
    MemoryRegion *dev = put(root, 0x1000, io("dev", 0x1000), 1);
    memory_region_set_enabled(dev, false);
    CHECK_VIEW(as, { 0, 0x4000, ram, 0 });
    memory_region_set_enabled(ram, false);
    rcu_read_lock();
    CHECK_EQ(address_space_get_flatview(as)->nr, 0);
    rcu_read_unlock();
    memory_region_set_enabled(dev, true);
    CHECK_VIEW(as, { 0x1000, 0x1000, dev, 0 });
    memory_region_set_enabled(ram, true);
    CHECK_VIEW(as, { 0, 0x1000, ram, 0 }, { 0x1000, 0x1000, dev, 0 },
               { 0x2000, 0x2000, ram, 0x2000 });
    finish(as, root);
}

TEST(sub_page_pieces_and_host_pointers)
{
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x3000), 0);
    MemoryRegion *rom = put(root, 0x8000, memory_region_new_rom("rom", 0x1000), 0);
    MemoryRegion *dev = put(root, 0x1080, io("dev", 0x100), 1);
    CHECK_VIEW(as, { 0, 0x1080, ram, 0 }, { 0x1080, 0x100, dev, 0 },
               { 0x1180, 0x1e80, ram, 0x1180 }, { 0x8000, 0x1000, rom, 0 });
    rcu_read_lock();
    const FlatView *fv = address_space_get_flatview(as);
    CHECK(fv->ranges[0].host == ram->host && fv->ranges[0].ram == ram);
    CHECK(!fv->ranges[0].readonly);
    CHECK(fv->ranges[1].host == NULL && fv->ranges[1].ram == NULL);
    CHECK(fv->ranges[2].host == ram->host + 0x1180);
    CHECK(fv->ranges[3].host == rom->host && fv->ranges[3].readonly);
    CHECK(flatview_lookup(fv, 0x117f) == &fv->ranges[1]);
    CHECK(flatview_lookup(fv, 0x1180) == &fv->ranges[2]);
    CHECK(flatview_lookup(fv, 0x3000) == NULL);
    CHECK(flatview_lookup(fv, 0x8fff) == &fv->ranges[3]);
    CHECK(flatview_lookup(fv, 0x9000) == NULL);
    rcu_read_unlock();
    finish(as, root);
}

TEST(full_64bit_root_does_not_overflow)
{
    MemoryRegion *root = memory_region_new_container("root", UINT64_MAX);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *top = put(root, 0xfffffffffffff000ull, io("top", 0x1000), 0);
    MemoryRegion *over = put(root, 0xffffffffffff0000ull, io("over", 0x20000), -1);
    CHECK_VIEW(as, { 0xffffffffffff0000ull, 0xf000, over, 0 },
               { 0xfffffffffffff000ull, 0xfff, top, 0 });
    uint8_t b[4];
    CHECK_EQ(address_space_read(as, UINT64_MAX - 1, b, 4), MEMTX_ACCESS_ERROR);
    finish(as, root);
}

/* ---- listeners ---------------------------------------------------------------------- */
typedef struct Event {
    char kind; /* b, d, a, c */
    hwaddr addr;
    uint64_t size;
    MemoryRegion *mr;
} Event;

typedef struct Recorder {
    MemoryListener l;
    Event ev[32];
    unsigned n;
} Recorder;

static void record(MemoryListener *l, char kind, const MemoryRegionSection *s)
{
    Recorder *r = (Recorder *)l;
    if (r->n < 32)
        r->ev[r->n++] = (Event){ kind, s ? s->offset_within_address_space : 0,
                                 s ? s->size : 0, s ? s->mr : NULL };
}
static void on_begin(MemoryListener *l) { record(l, 'b', NULL); }
static void on_commit(MemoryListener *l) { record(l, 'c', NULL); }
static void on_del(MemoryListener *l, const MemoryRegionSection *s) { record(l, 'd', s); }
static void on_add(MemoryListener *l, const MemoryRegionSection *s) { record(l, 'a', s); }

static void recorder_init(Recorder *r)
{
    memset(r, 0, sizeof(*r));
    r->l = (MemoryListener){ .begin = on_begin, .region_del = on_del,
                             .region_add = on_add, .commit = on_commit };
}

#define BEGIN { 'b', 0, 0, NULL }
#define COMMIT { 'c', 0, 0, NULL }
#define CHECK_EVENTS(r, ...)                                                   \
    do {                                                                       \
        const Event e_[] = { __VA_ARGS__ };                                    \
        check_events(r, e_, sizeof(e_) / sizeof(e_[0]), __LINE__);             \
    } while (0)

static void check_events(Recorder *r, const Event *e, unsigned n, int line)
{
    if (r->n != n)
        test_fail_(__FILE__, line, "%u events, expected %u", r->n, n);
    for (unsigned i = 0; i < n && i < r->n; i++) {
        const Event *g = &r->ev[i];
        if (g->kind != e[i].kind || g->addr != e[i].addr || g->size != e[i].size ||
            g->mr != e[i].mr)
            test_fail_(__FILE__, line, "event %u: %c %#" PRIx64 "+%#" PRIx64 ", expected %c %#"
                       PRIx64 "+%#" PRIx64, i, g->kind, g->addr, g->size, e[i].kind,
                       e[i].addr, e[i].size);
    }
    r->n = 0;
}

TEST(listener_register_replays_and_unregister_removes)
{
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x2000), 0);
    MemoryRegion *dev = put(root, 0x4000, io("dev", 0x100), 0);
    Recorder r;
    recorder_init(&r);
    memory_listener_register(&r.l, as);
    CHECK_EVENTS(&r, BEGIN, { 'a', 0, 0x2000, ram }, { 'a', 0x4000, 0x100, dev }, COMMIT);
    memory_listener_unregister(&r.l);
    CHECK_EVENTS(&r, BEGIN, { 'd', 0, 0x2000, ram }, { 'd', 0x4000, 0x100, dev }, COMMIT);
    memory_region_set_enabled(dev, false);
    CHECK_EQ(r.n, 0);
    finish(as, root);
}

TEST(listener_sees_only_the_difference_of_a_move)
{
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x2000), 0);
    MemoryRegion *bar = put(root, 0x10000, io("bar", 0x1000), 0);
    MemoryRegion *dev = put(root, 0x40000, io("dev", 0x100), 0);
    Recorder r;
    recorder_init(&r);
    memory_listener_register(&r.l, as);
    r.n = 0;
    /* Moving up: the old range is reported before the new one although the new
     * one would come first by address if they were mixed. */
    memory_region_set_address(bar, 0x30000);
    CHECK_EVENTS(&r, BEGIN, { 'd', 0x10000, 0x1000, bar }, { 'a', 0x30000, 0x1000, bar },
                 COMMIT);
    memory_region_set_address(bar, 0x8000);
    CHECK_EVENTS(&r, BEGIN, { 'd', 0x30000, 0x1000, bar }, { 'a', 0x8000, 0x1000, bar },
                 COMMIT);
    memory_region_set_address(bar, 0x8000); /* no change, no events */
    CHECK_EQ(r.n, 0);
    /* Moving over RAM splits it: the whole old RAM range goes, two pieces come. */
    memory_region_set_address(dev, 0x1000);
    CHECK_EVENTS(&r, BEGIN, { 'd', 0, 0x2000, ram }, { 'd', 0x40000, 0x100, dev },
                 { 'a', 0, 0x1000, ram }, { 'a', 0x1000, 0x100, dev },
                 { 'a', 0x1100, 0xf00, ram }, COMMIT);
    memory_listener_unregister(&r.l);
    finish(as, root);
}

TEST(listener_enable_disable_and_transactions)
{
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *a = put(root, 0x1000, io("a", 0x1000), 0);
    MemoryRegion *b = put(root, 0x3000, io("b", 0x1000), 0);
    Recorder r;
    recorder_init(&r);
    memory_listener_register(&r.l, as);
    r.n = 0;
    memory_region_set_enabled(a, false);
    CHECK_EVENTS(&r, BEGIN, { 'd', 0x1000, 0x1000, a }, COMMIT);
    memory_region_set_enabled(a, true);
    CHECK_EVENTS(&r, BEGIN, { 'a', 0x1000, 0x1000, a }, COMMIT);
    /* Several changes in one transaction: one notification with the net effect. */
    memory_region_transaction_begin();
    memory_region_set_enabled(a, false);
    memory_region_set_enabled(b, false);
    memory_region_set_enabled(a, true);
    CHECK_EQ(r.n, 0);
    memory_region_transaction_commit();
    CHECK_EVENTS(&r, BEGIN, { 'd', 0x3000, 0x1000, b }, COMMIT);
    CHECK(!memory_bql_locked());
    memory_listener_unregister(&r.l);
    finish(as, root);
}

TEST(mtree_dump_is_readable_and_exact)
{
    MemoryRegion *root = memory_region_new_container("system", 0x100000);
    AddressSpace *as = address_space_new("memory", root);
    MemoryRegion *ram = put(root, 0, memory_region_new_ram("ram", 0x10000), 0);
    MemoryRegion *dev = put(root, 0x8000, io("dev", 0x100), 1);
    MemoryRegion *rom = memory_region_new_rom_device("flash", 0x1000, &dummy_ops, NULL);
    put(root, 0x20000, rom, 0);
    put(root, 0x30000, memory_region_new_alias("ram-hi", ram, 0x1000, 0x1000), 0);
    memory_region_set_enabled(dev, false);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f);
    memory_dump_mtree(f, &as, 1);
    fclose(f);
    const char *expected =
        "address-space: memory\n"
        "  0000000000000000-00000000000fffff (prio 0, container): system\n"
        "    0000000000000000-000000000000ffff (prio 0, ram): ram\n"
        "    0000000000008000-00000000000080ff (prio 1, i/o, disabled): dev\n"
        "    0000000000020000-0000000000020fff (prio 0, rom-device, romd): flash\n"
        "    0000000000030000-0000000000030fff (prio 0, ram): alias ram-hi @ram "
        "0000000000001000-0000000000001fff\n"
        "\n"
        "FlatView (memory):\n"
        "  0000000000000000-000000000000ffff ram @0000000000000000 ram\n"
        "  0000000000020000-0000000000020fff flash @0000000000000000 rom-device ro\n"
        "  0000000000030000-0000000000030fff ram @0000000000001000 ram\n"
        "\n";
    CHECK(text && !strcmp(text, expected));
    if (text && strcmp(text, expected))
        fprintf(stderr, "got:\n%s", text);
    free(text);
    finish(as, root);
}

static int finalized;
static void count_finalize(MemoryRegion *mr)
{
    (void)mr;
    finalized++;
}

TEST(region_lifetime_follows_references)
{
    finalized = 0;
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *dev = io("dev", 0x100);
    dev->on_finalize = count_finalize;
    put(root, 0, dev, 0);
    memory_region_ref(dev);
    memory_region_del_subregion(root, dev);
    CHECK(dev->container == NULL);
    rcu_barrier(); /* the old view's reference goes after a grace period */
    CHECK_EQ(dev->refcount, 1);
    memory_region_unref(dev);
    CHECK_EQ(finalized, 1);
    /* A container's death releases its children. */
    MemoryRegion *box = memory_region_new_container("box", 0x1000);
    MemoryRegion *child = io("child", 0x10);
    child->on_finalize = count_finalize;
    put(box, 0, child, 0);
    memory_region_unref(box);
    CHECK_EQ(finalized, 2);
    finish(as, root);
    rcu_barrier();
}

/* A container holding aliases of itself (directly, or of a container above it)
 * is refused when the alias is added: two such aliases would make rendering
 * walk 2^32 paths. Built outside any address space, so nothing renders yet. */
TEST(alias_cycles_are_refused_when_added)
{
    MemoryRegion *outer = memory_region_new_container("outer", 0x10000);
    MemoryRegion *c = memory_region_new_container("c", 0x2000);
    MemoryRegion *ram = memory_region_new_ram("ram", 0x1000);
    put(c, 0, ram, 0);
    put(outer, 0x4000, c, 0);
    put(c, 0x1000, memory_region_new_alias("self1", c, 0, 0x1000), 1);
    put(c, 0x1000, memory_region_new_alias("self2", c, 0, 0x1000), 2);
    put(c, 0x1000, memory_region_new_alias("outer-again", outer, 0, 0x1000), 3);
    REQUIRE(c->nr_subregions == 1);
    /* An alias of c elsewhere is fine, and renders. */
    MemoryRegion *root = memory_region_new_container("root", 0x10000);
    AddressSpace *as = address_space_new("test", root);
    put(root, 0, outer, 0);
    put(root, 0x8000, memory_region_new_alias("c-alias", c, 0, 0x1000), 0);
    CHECK_VIEW(as, { 0x4000, 0x1000, ram, 0 }, { 0x8000, 0x1000, ram, 0 });
    finish(as, root);
}
