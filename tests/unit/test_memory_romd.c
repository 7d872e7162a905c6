/* ROM devices (romd mode, backing swaps and their lifetime under RCU), and views
 * changing under concurrent readers. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <urcu-bp.h>

#include "memory/memory.h"
#include "tests/unit/harness.h"

#define FLASH_BASE 0x100000

typedef struct Flash {
    MemoryRegion *mr;
    unsigned reads, writes;
    hwaddr last_addr;
    uint64_t last_val;
    bool leave_romd_on_write; /* like a flash chip entering command mode */
} Flash;

static MemTxResult flash_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    Flash *f = opaque;
    (void)size;
    f->reads++;
    f->last_addr = addr;
    *data = 0x5a5a5a5a5a5a5a5aull;
    return MEMTX_OK;
}

static MemTxResult flash_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    Flash *f = opaque;
    (void)size;
    f->writes++;
    f->last_addr = addr;
    f->last_val = data;
    if (f->leave_romd_on_write)
        memory_region_rom_device_set_romd(f->mr, false);
    return MEMTX_OK;
}

static const MemoryRegionOps flash_ops = {
    .read = flash_read,
    .write = flash_write,
    .valid = { 1, 8, true },
    .impl = { 1, 8, false },
};

typedef struct Machine {
    MemoryRegion *root;
    AddressSpace *as;
    Flash flash;
} Machine;

static bool machine_init(Machine *m)
{
    memset(m, 0, sizeof(*m));
    m->root = memory_region_new_container("root", 0x1000000);
    m->as = address_space_new("test", m->root);
    m->flash.mr = memory_region_new_rom_device("flash", 0x1000, &flash_ops, &m->flash);
    if (!m->flash.mr)
        return false;
    memory_region_add_subregion(m->root, FLASH_BASE, m->flash.mr);
    return true;
}

static void machine_free(Machine *m)
{
    address_space_free(m->as);
    memory_region_unref(m->flash.mr);
    memory_region_unref(m->root);
    rcu_barrier();
}

TEST(rom_device_reads_backing_in_romd_mode_and_writes_go_to_ops)
{
    Machine m;
    REQUIRE(machine_init(&m));
    uint8_t *rom = memory_region_get_ram_ptr(m.flash.mr);
    REQUIRE(rom);
    for (unsigned i = 0; i < 0x1000; i++)
        rom[i] = (uint8_t)(i ^ 0x3c);
    rcu_read_lock();
    const FlatRange *fr = flatview_lookup(address_space_get_flatview(m.as), FLASH_BASE);
    CHECK(fr && fr->host == rom && fr->readonly && fr->ram == m.flash.mr->rom_backing);
    rcu_read_unlock();
    /* Reads at any offset and width come from memory, not from the ops. */
    for (unsigned off = 0x7f9; off < 0x808; off++) {
        uint8_t buf[8];
        CHECK_EQ(address_space_read(m.as, FLASH_BASE + off, buf, 8), MEMTX_OK);
        CHECK(!memcmp(buf, rom + off, 8));
    }
    CHECK_EQ(m.flash.reads, 0);
    /* Writes reach the device and leave the memory alone. */
    CHECK_EQ(address_space_stl_le(m.as, FLASH_BASE + 0x20, 0xaabbccdd), MEMTX_OK);
    CHECK_EQ(m.flash.writes, 1);
    CHECK_EQ(m.flash.last_addr, 0x20);
    CHECK_EQ(m.flash.last_val, 0xaabbccdd);
    CHECK_EQ(rom[0x20], 0x20 ^ 0x3c);
    /* Out of romd mode, reads go to the ops too. */
    memory_region_rom_device_set_romd(m.flash.mr, false);
    rcu_read_lock();
    fr = flatview_lookup(address_space_get_flatview(m.as), FLASH_BASE);
    CHECK(fr && !fr->host && !fr->ram);
    rcu_read_unlock();
    CHECK_EQ(address_space_ldl_le(m.as, FLASH_BASE + 0x24, NULL), 0x5a5a5a5a);
    CHECK_EQ(m.flash.reads, 1);
    CHECK_EQ(m.flash.last_addr, 0x24);
    memory_region_rom_device_set_romd(m.flash.mr, true);
    CHECK_EQ(address_space_ldub(m.as, FLASH_BASE + 0x24, NULL), 0x24 ^ 0x3c);
    CHECK_EQ(m.flash.reads, 1);
    machine_free(&m);
}

TEST(device_can_leave_romd_mode_from_its_own_write)
{
    Machine m;
    REQUIRE(machine_init(&m));
    m.flash.leave_romd_on_write = true;
    /* The commit runs inside dispatch's read-side section: it must not wait for it. */
    CHECK_EQ(address_space_stb(m.as, FLASH_BASE, 0x90), MEMTX_OK);
    CHECK(!m.flash.mr->romd_mode);
    CHECK_EQ(address_space_ldub(m.as, FLASH_BASE + 1, NULL), 0x5a);
    CHECK_EQ(m.flash.reads, 1);
    machine_free(&m);
}

static int finalized;
static void count_finalize(MemoryRegion *mr)
{
    (void)mr;
    __atomic_fetch_add(&finalized, 1, __ATOMIC_SEQ_CST);
}

static MemoryRegion *new_backing(const char *text)
{
    MemoryRegion *b = memory_region_new_ram(text, 0x1000);
    if (b) {
        memcpy(b->host, text, strlen(text));
        b->on_finalize = count_finalize;
    }
    return b;
}

TEST(swapped_backing_lives_while_referenced)
{
    Machine m;
    REQUIRE(machine_init(&m));
    finalized = 0;
    MemoryRegion *first = new_backing("first");
    REQUIRE(first);
    memory_region_rom_device_set_backing(m.flash.mr, first);
    char buf[8] = { 0 };
    CHECK_EQ(address_space_read(m.as, FLASH_BASE, buf, 5), MEMTX_OK);
    CHECK(!memcmp(buf, "first", 5));

    /* We hold `first`; a reader holds a view that maps it. */
    rcu_read_lock();
    FlatView *before = address_space_get_flatview(m.as);
    MemoryRegion *second = new_backing("second");
    REQUIRE(second);
    memory_region_rom_device_set_backing(m.flash.mr, second);
    memory_region_unref(second);
    CHECK_EQ(address_space_read(m.as, FLASH_BASE, buf, 6), MEMTX_OK);
    CHECK(!memcmp(buf, "second", 6));
    const FlatRange *old = flatview_lookup(before, FLASH_BASE);
    CHECK(old && old->ram == first && !memcmp(old->host, "first", 5));
    rcu_read_unlock();
    rcu_barrier();
    CHECK_EQ(finalized, 0); /* the view is gone, but our reference remains */
    CHECK_EQ(first->refcount, 1);
    memory_region_unref(first);
    CHECK_EQ(finalized, 1);

    /* Without our reference, the reader alone keeps `second` alive. */
    MemoryRegion *third = new_backing("third");
    REQUIRE(third);
    rcu_read_lock();
    before = address_space_get_flatview(m.as);
    memory_region_rom_device_set_backing(m.flash.mr, third);
    memory_region_unref(third);
    usleep(20000); /* give the RCU thread every chance to (wrongly) free it */
    old = flatview_lookup(before, FLASH_BASE);
    CHECK_EQ(__atomic_load_n(&finalized, __ATOMIC_SEQ_CST), 1);
    CHECK(old && !memcmp(old->host, "second", 6));
    rcu_read_unlock();
    rcu_barrier();
    CHECK_EQ(finalized, 2);
    CHECK_EQ(address_space_read(m.as, FLASH_BASE, buf, 5), MEMTX_OK);
    CHECK(!memcmp(buf, "third", 5));
    machine_free(&m);
    CHECK_EQ(finalized, 3);
}

TEST(short_backing_leaves_the_tail_to_the_ops)
{
    Machine m;
    REQUIRE(machine_init(&m));
    MemoryRegion *half = memory_region_new_ram("half", 0x800);
    REQUIRE(half);
    memset(half->host, 0x11, 0x800);
    memory_region_rom_device_set_backing(m.flash.mr, half);
    memory_region_unref(half);
    uint8_t buf[4];
    CHECK_EQ(address_space_read(m.as, FLASH_BASE + 0x7fe, buf, 4), MEMTX_OK);
    CHECK(buf[0] == 0x11 && buf[1] == 0x11 && buf[2] == 0x5a && buf[3] == 0x5a);
    CHECK_EQ(m.flash.reads, 1);
    CHECK_EQ(m.flash.last_addr, 0x800);
    machine_free(&m);
}

/* ---- views changing under a reader -------------------------------------------------- */
typedef struct Race {
    AddressSpace *as;
    bool stop;
    unsigned long reads, bad; /* reads: atomic, the writer watches it */
} Race;

static void *race_reader(void *opaque)
{
    Race *r = opaque;
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        uint32_t v;
        /* Always RAM: the fixed mapping must read the pattern every time. */
        MemTxResult res = address_space_read(r->as, 0x1004, &v, 4);
        if (res != MEMTX_OK || v != 0x04030201)
            r->bad++;
        /* RAM through a moving alias, or a hole: either the pattern or all-ones,
         * matching the status. */
        res = address_space_read(r->as, 0x20004, &v, 4);
        if (!(res == MEMTX_OK && v == 0x04030201) &&
            !(res == MEMTX_DECODE_ERROR && v == 0xffffffff))
            r->bad++;
        __atomic_fetch_add(&r->reads, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

TEST(views_change_under_a_concurrent_reader)
{
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = memory_region_new_ram("ram", 0x2000);
    REQUIRE(ram);
    for (unsigned i = 0; i < 0x2000; i += 4)
        memcpy(ram->host + i, "\x01\x02\x03\x04", 4);
    memory_region_add_subregion(root, 0, ram);
    MemoryRegion *alias = memory_region_new_alias("window", ram, 0x1000, 0x1000);
    memory_region_add_subregion(root, 0x20000, alias);
    Race race = { .as = as };
    pthread_t t;
    REQUIRE(!pthread_create(&t, NULL, race_reader, &race));
    /* Enough changes, and enough reads overlapping them. */
    for (unsigned i = 0; i < 20000 || (__atomic_load_n(&race.reads, __ATOMIC_RELAXED) < 20000 &&
                                       i < 2000000); i++) {
        memory_region_transaction_begin();
        memory_region_set_address(alias, (i & 1) ? 0x20000 : 0x40000);
        memory_region_set_alias_offset(alias, (i & 2) ? 0 : 0x1000);
        memory_region_transaction_commit();
        if (i % 3 == 0)
            memory_region_set_enabled(alias, i % 2);
    }
    __atomic_store_n(&race.stop, true, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    CHECK(race.reads > 0);
    CHECK_EQ(race.bad, 0);
    address_space_free(as);
    memory_region_unref(alias);
    memory_region_unref(ram);
    memory_region_unref(root);
    rcu_barrier();
}
