/* Exact-width device memory accesses, ordered copies, and RAM served by dispatch.
 *
 * Device memory is a page mapped PROT_NONE: every access faults, the SIGSEGV handler
 * records (offset, width, direction) by decoding the faulting mov, opens the page
 * and sets the trap flag; after the one instruction the SIGTRAP handler closes the
 * page again. So the record holds every real access, with its true width, in order. */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <urcu-bp.h>

#include "memory/memory.h"
#include "tests/unit/harness.h"

#define DEV_LEN 4096
#define EFLAGS_TF 0x100

typedef struct Access {
    unsigned off, width;
    bool write;
} Access;

static uint8_t *dev;
static Access accesses[256];
static volatile unsigned nr_accesses;

/* Operand width of the mov forms compilers emit for volatile loads and stores;
 * 0 for anything else (which then fails the test's expectations). */
static unsigned decode_width(const uint8_t *ip, bool *write)
{
    unsigned opsize = 4;
    for (;; ip++) {
        if (*ip == 0x66)
            opsize = 2;
        else if ((*ip & 0xf0) == 0x40)
            opsize = (*ip & 8) ? 8 : opsize; /* REX, W selects 64-bit */
        else
            break;
    }
    *write = ip[0] == 0x88 || ip[0] == 0x89 || ip[0] == 0xc6 || ip[0] == 0xc7;
    switch (ip[0]) {
    case 0x88: case 0x8a: case 0xc6:
        return 1;
    case 0x89: case 0x8b: case 0xc7:
        return opsize;
    case 0x0f:
        if (ip[1] == 0xb6 || ip[1] == 0xbe)
            return 1;
        if (ip[1] == 0xb7 || ip[1] == 0xbf)
            return 2;
    }
    return 0;
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uint8_t *a = si->si_addr;
    if (a < dev || a >= dev + DEV_LEN) {
        signal(sig, SIG_DFL); /* a real crash: let it happen on return */
        return;
    }
    bool write = false;
    unsigned width = decode_width((const uint8_t *)uc->uc_mcontext.gregs[REG_RIP], &write);
    if (nr_accesses < 256)
        accesses[nr_accesses++] = (Access){ (unsigned)(a - dev), width, write };
    mprotect(dev, DEV_LEN, PROT_READ | PROT_WRITE);
    uc->uc_mcontext.gregs[REG_EFL] |= EFLAGS_TF;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    mprotect(dev, DEV_LEN, PROT_NONE);
    uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)EFLAGS_TF;
}

static bool recorder_setup(void)
{
    if (dev)
        return true;
    void *p = mmap(NULL, DEV_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    struct sigaction sa = { .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    sa.sa_sigaction = on_trap;
    sigaction(SIGTRAP, &sa, NULL);
    dev = p;
    return true;
}

/* Device contents, read without being recorded. */
static void dev_peek(void *out, unsigned off, unsigned len)
{
    mprotect(dev, DEV_LEN, PROT_READ);
    memcpy(out, dev + off, len);
    mprotect(dev, DEV_LEN, PROT_NONE);
}

static void dev_poke(unsigned off, const void *in, unsigned len)
{
    mprotect(dev, DEV_LEN, PROT_READ | PROT_WRITE);
    memcpy(dev + off, in, len);
    mprotect(dev, DEV_LEN, PROT_NONE);
}

#define CHECK_ACCESSES(...)                                                    \
    do {                                                                       \
        const Access e_[] = { __VA_ARGS__ };                                   \
        check_accesses(e_, sizeof(e_) / sizeof(e_[0]), __LINE__);              \
    } while (0)

static void check_accesses(const Access *e, unsigned n, int line)
{
    if (nr_accesses != n)
        test_fail_(__FILE__, line, "%u accesses, expected %u", nr_accesses, n);
    for (unsigned i = 0; i < n && i < nr_accesses; i++)
        if (accesses[i].off != e[i].off || accesses[i].width != e[i].width ||
            accesses[i].write != e[i].write)
            test_fail_(__FILE__, line, "access %u: %s %u@%#x, expected %s %u@%#x", i,
                       accesses[i].write ? "W" : "R", accesses[i].width, accesses[i].off,
                       e[i].write ? "W" : "R", e[i].width, e[i].off);
    nr_accesses = 0;
}

#define W(off, w) { off, w, true }
#define R(off, w) { off, w, false }

TEST(device_mem_load_and_store_are_single_accesses)
{
    REQUIRE(recorder_setup());
    nr_accesses = 0;
    for (unsigned w = 1; w <= 8; w *= 2) {
        unsigned off = 0x40 + 8 * w;
        uint64_t v = 0x8877665544332211ull & (w == 8 ? ~0ull : (1ull << (8 * w)) - 1);
        device_mem_store(dev + off, v, w);
        CHECK_ACCESSES(W(off, w));
        CHECK_EQ(device_mem_load(dev + off, w), v);
        CHECK_ACCESSES(R(off, w));
    }
}

TEST(aligned_dispatch_to_ram_device_is_one_access_of_its_width)
{
    REQUIRE(recorder_setup());
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *bar = memory_region_new_ram_device("bar", DEV_LEN, dev);
    memory_region_add_subregion(root, 0x10000, bar);
    nr_accesses = 0;
    uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, got[8];
    for (unsigned w = 1; w <= 8; w *= 2) {
        for (unsigned off = 0x100; off < 0x100 + 32; off += w) {
            CHECK_EQ(address_space_write(as, 0x10000 + off, buf, w), MEMTX_OK);
            CHECK_ACCESSES(W(off, w));
            CHECK_EQ(address_space_read(as, 0x10000 + off, got, w), MEMTX_OK);
            CHECK_ACCESSES(R(off, w));
            CHECK(!memcmp(buf, got, w));
        }
    }
    CHECK_EQ(address_space_stl_be(as, 0x10200, 0x11223344), MEMTX_OK);
    CHECK_ACCESSES(W(0x200, 4));
    CHECK_EQ(address_space_ldq_le(as, 0x10208, NULL), 0);
    CHECK_ACCESSES(R(0x208, 8));
    CHECK_EQ(address_space_lduw_be(as, 0x10200, NULL), 0x1122);
    CHECK_ACCESSES(R(0x200, 2));
    /* Unaligned: pieces aligned on the device, in order. */
    CHECK_EQ(address_space_ldl_le(as, 0x10203, NULL), 0x44);
    CHECK_ACCESSES(R(0x203, 1), R(0x204, 2), R(0x206, 1));
    address_space_free(as);
    memory_region_unref(bar);
    memory_region_unref(root);
    rcu_barrier();
}

TEST(fifteen_byte_copies_go_forward_in_aligned_units)
{
    REQUIRE(recorder_setup());
    uint8_t src[32], got[32];
    for (unsigned i = 0; i < 32; i++)
        src[i] = (uint8_t)(0x30 + i);
    nr_accesses = 0;
    memory_copy_ordered(dev + 0x300, src, 15);
    CHECK_ACCESSES(W(0x300, 8), W(0x308, 4), W(0x30c, 2), W(0x30e, 1));
    dev_peek(got, 0x300, 15);
    CHECK(!memcmp(got, src, 15));
    memory_copy_ordered(dev + 0x401, src + 3, 15);
    CHECK_ACCESSES(W(0x401, 1), W(0x402, 2), W(0x404, 4), W(0x408, 8));
    dev_peek(got, 0x401, 15);
    CHECK(!memcmp(got, src + 3, 15));

    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *bar = memory_region_new_ram_device("bar", DEV_LEN, dev);
    memory_region_add_subregion(root, 0x10000, bar);
    CHECK_EQ(address_space_write(as, 0x10500, src + 1, 15), MEMTX_OK);
    CHECK_ACCESSES(W(0x500, 8), W(0x508, 4), W(0x50c, 2), W(0x50e, 1));
    CHECK_EQ(address_space_write(as, 0x10603, src, 15), MEMTX_OK);
    CHECK_ACCESSES(W(0x603, 1), W(0x604, 4), W(0x608, 8), W(0x610, 2));
    CHECK_EQ(address_space_read(as, 0x10603, got + 1, 15), MEMTX_OK);
    CHECK_ACCESSES(R(0x603, 1), R(0x604, 4), R(0x608, 8), R(0x610, 2));
    CHECK(!memcmp(got + 1, src, 15));
    address_space_free(as);
    memory_region_unref(bar);
    memory_region_unref(root);
    rcu_barrier();
}

/* Writes must cover each byte once, in increasing order, without splitting an
 * aligned unit; the destination must equal memmove's result. */
static void check_overlap(unsigned dst, unsigned src, unsigned len, int line)
{
    uint8_t pattern[64], want[64], got[64];
    for (unsigned i = 0; i < 64; i++)
        pattern[i] = (uint8_t)(0x80 + i);
    dev_poke(0x800, pattern, 64);
    memcpy(want, pattern, 64);
    memmove(want + dst, want + src, len);
    nr_accesses = 0;
    memory_copy_ordered(dev + 0x800 + dst, dev + 0x800 + src, len);
    unsigned next = 0x800 + dst;
    for (unsigned i = 0; i < nr_accesses; i++) {
        if (!accesses[i].write)
            continue;
        unsigned w = accesses[i].width;
        if (accesses[i].off != next || !w || (accesses[i].off & (w - 1)))
            test_fail_(__FILE__, line, "write %u: %u@%#x after %#x", i, w, accesses[i].off, next);
        next = accesses[i].off + w;
    }
    if (next != 0x800 + dst + len)
        test_fail_(__FILE__, line, "writes ended at %#x", next);
    dev_peek(got, 0x800, 64);
    if (memcmp(got, want, 64))
        test_fail_(__FILE__, line, "overlapping copy %u <- %u (%u) wrong", dst, src, len);
    nr_accesses = 0;
}

TEST(overlapping_copies_are_correct_both_ways)
{
    REQUIRE(recorder_setup());
    check_overlap(8, 0, 15, __LINE__);
    check_overlap(0, 8, 15, __LINE__);
    check_overlap(3, 0, 40, __LINE__);
    check_overlap(0, 5, 40, __LINE__);
    check_overlap(1, 0, 63, __LINE__);
    /* Plain memory, bigger than the on-stack snapshot. */
    static uint8_t a[4096], b[4096];
    for (unsigned i = 0; i < sizeof(a); i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    memory_copy_ordered(a + 13, a, 3000);
    memmove(b + 13, b, 3000);
    CHECK(!memcmp(a, b, sizeof(a)));
    memory_copy_ordered(a + 1, a + 600, 3000);
    memmove(b + 1, b + 600, 3000);
    CHECK(!memcmp(a, b, sizeof(a)));
}

TEST(ram_served_at_every_offset_around_sub_page_pieces)
{
    static const MemoryRegionOps ops = { .valid = { 1, 8, true } };
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = memory_region_new_ram("ram", 0x3000);
    MemoryRegion *hole = memory_region_new_io("hole", 0x100, &ops, NULL);
    memory_region_add_subregion(root, 0, ram);
    memory_region_add_subregion_overlap(root, 0x1080, hole, 1);
    for (unsigned i = 0; i < 0x3000; i++)
        ram->host[i] = (uint8_t)i;
    static const hwaddr spots[] = { 0x1000, 0x1077, 0x1180, 0x1181, 0x1fff - 8, 0x2ff8 };
    for (unsigned s = 0; s < sizeof(spots) / sizeof(spots[0]); s++) {
        for (unsigned w = 1; w <= 8; w *= 2) {
            for (unsigned k = 0; k < 8; k++) {
                hwaddr a = spots[s] + k;
                if (a + w > 0x3000 || (a < 0x1180 && a + w > 0x1080))
                    continue;
                uint8_t got[8], put[8];
                CHECK_EQ(address_space_read(as, a, got, w), MEMTX_OK);
                CHECK(!memcmp(got, ram->host + a, w));
                for (unsigned i = 0; i < w; i++)
                    put[i] = (uint8_t)~got[i];
                CHECK_EQ(address_space_write(as, a, put, w), MEMTX_OK);
                CHECK(!memcmp(put, ram->host + a, w));
                CHECK_EQ(address_space_write(as, a, got, w), MEMTX_OK);
            }
        }
    }
    /* The MMIO piece in between has no ops: it fails, RAM around it does not change. */
    uint8_t b = 0;
    CHECK_EQ(address_space_write(as, 0x1100, &b, 1), MEMTX_ACCESS_ERROR);
    CHECK_EQ(ram->host[0x1100], 0x00);
    /* Values and byte order through the ld/st helpers, aligned and not. */
    CHECK_EQ(address_space_stq_be(as, 0x2001, 0x0102030405060708ull), MEMTX_OK);
    CHECK(ram->host[0x2001] == 1 && ram->host[0x2008] == 8);
    CHECK_EQ(address_space_ldq_le(as, 0x2001, NULL), 0x0807060504030201ull);
    CHECK_EQ(address_space_stl_le(as, 0x2010, 0xdeadbeef), MEMTX_OK);
    CHECK(ram->host[0x2010] == 0xef && ram->host[0x2013] == 0xde);
    CHECK_EQ(address_space_ldl_be(as, 0x2010, NULL), 0xefbeadde);
    CHECK_EQ(address_space_lduw_le(as, 0x2012, NULL), 0xdead);
    CHECK_EQ(address_space_ldub(as, 0x2013, NULL), 0xde);
    address_space_free(as);
    memory_region_unref(hole);
    memory_region_unref(ram);
    memory_region_unref(root);
    rcu_barrier();
}

TEST(rom_ignores_writes)
{
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *rom = memory_region_new_rom("rom", 0x1000);
    memory_region_add_subregion(root, 0xf0000, rom);
    uint8_t *p = memory_region_get_ram_ptr(rom);
    REQUIRE(p);
    memcpy(p + 0x10, "BIOS", 4);
    CHECK_EQ(address_space_stl_le(as, 0xf0010, 0), MEMTX_OK);
    CHECK(!memcmp(p + 0x10, "BIOS", 4));
    CHECK_EQ(address_space_ldl_le(as, 0xf0010, NULL), 0x534f4942);
    address_space_free(as);
    memory_region_unref(rom);
    memory_region_unref(root);
    rcu_barrier();
}

static unsigned ram_only_mmio_calls;

static MemTxResult ram_only_mmio_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    (void)opaque, (void)addr, (void)size;
    ram_only_mmio_calls++;
    *data = 0;
    return MEMTX_OK;
}

TEST(ldq_le_ram_reads_ram_and_rom_only)
{
    static const MemoryRegionOps ops = { .read = ram_only_mmio_read, .valid = { 1, 8, true } };
    static uint64_t devmem[512] __attribute__((aligned(4096)));
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *ram = memory_region_new_ram("ram", 0x4000);
    MemoryRegion *regs = memory_region_new_io("regs", 0x100, &ops, NULL);
    MemoryRegion *rom = memory_region_new_rom("rom", 0x1000);
    MemoryRegion *romd = memory_region_new_rom_device("flash", 0x1000, &ops, NULL);
    MemoryRegion *ramdev = memory_region_new_ram_device("bar", sizeof(devmem), devmem);
    REQUIRE(ram && rom && romd);
    memory_region_add_subregion(root, 0, ram);
    memory_region_add_subregion_overlap(root, 0x1080, regs, 1);
    memory_region_add_subregion(root, 0x8000, rom);
    memory_region_add_subregion(root, 0x9000, romd);
    memory_region_add_subregion(root, 0xa000, ramdev);
    for (unsigned i = 0; i < 0x4000; i++)
        ram->host[i] = (uint8_t)i;
    uint64_t v[2] = { 0, 0 };
    CHECK(address_space_ldq_le_ram(as, 0x10, v, 1));
    CHECK_EQ(v[0], 0x1716151413121110ull);
    CHECK(address_space_ldq_le_ram(as, 0x3ff0, v, 2));
    CHECK_EQ(v[0], 0xf7f6f5f4f3f2f1f0ull);
    CHECK_EQ(v[1], 0xfffefdfcfbfaf9f8ull);
    memset(memory_region_get_ram_ptr(rom), 0x5a, 8);
    CHECK(address_space_ldq_le_ram(as, 0x8000, v, 1));
    CHECK_EQ(v[0], 0x5a5a5a5a5a5a5a5aull);
    /* Everything else fails and leaves the output alone. */
    static const struct { hwaddr addr; unsigned n; } bad[] = {
        { 0x14, 1 },        /* misaligned */
        { 0x1080, 1 },      /* MMIO */
        { 0x1078, 2 },      /* RAM, then MMIO */
        { 0x3ff8, 2 },      /* RAM, then nothing */
        { 0x9000, 1 },      /* ROM device in romd mode */
        { 0xa000, 1 },      /* device memory */
        { 0xc000, 1 },      /* unassigned */
        { 0x10, 0 },        /* nothing asked */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v[0] = v[1] = 0x1234;
        CHECK(!address_space_ldq_le_ram(as, bad[i].addr, v, bad[i].n));
        CHECK(v[0] == 0x1234 && v[1] == 0x1234);
    }
    CHECK_EQ(ram_only_mmio_calls, 0);
    address_space_free(as);
    memory_region_unref(ramdev);
    memory_region_unref(romd);
    memory_region_unref(rom);
    memory_region_unref(regs);
    memory_region_unref(ram);
    memory_region_unref(root);
    rcu_barrier();
}

TEST(ldq_le_ram_cursor_follows_the_ranges_it_reads)
{
    static const MemoryRegionOps ops = { .read = ram_only_mmio_read, .valid = { 1, 8, true } };
    MemoryRegion *root = memory_region_new_container("root", 0x100000);
    AddressSpace *as = address_space_new("test", root);
    MemoryRegion *a = memory_region_new_ram("a", 0x1000);
    /* `b` is 0x804 bytes: an entry at 0x1800 would run past it. */
    MemoryRegion *b = memory_region_new_ram("b", 0x804);
    MemoryRegion *regs = memory_region_new_io("regs", 0x100, &ops, NULL);
    REQUIRE(a && b && regs);
    memory_region_add_subregion(root, 0, a);
    memory_region_add_subregion(root, 0x1000, b);
    memory_region_add_subregion(root, 0x3000, regs);
    for (unsigned i = 0; i < 0x1000; i++)
        a->host[i] = (uint8_t)i;
    for (unsigned i = 0; i < 0x804; i++)
        b->host[i] = (uint8_t)(0x80 + i);
    unsigned mmio_calls = ram_only_mmio_calls;
    rcu_read_lock();
    const FlatView *fv = address_space_get_flatview(as);
    FlatViewRAMCursor c = { 0 };
    uint64_t v = 0;
    CHECK(flatview_ldq_le_ram_cursor(fv, &c, 0x10, &v));
    CHECK_EQ(v, 0x1716151413121110ull);
    CHECK_EQ(c.addr, 0);
    CHECK(flatview_ldq_le_ram_cursor(fv, &c, 0xff8, &v));          /* a's last entry */
    CHECK_EQ(v, 0xfffefdfcfbfaf9f8ull);
    CHECK(flatview_ldq_le_ram_cursor(fv, &c, 0x1000, &v));         /* on to b */
    CHECK_EQ(v, 0x8786858483828180ull);
    CHECK_EQ(c.addr, 0x1000);
    CHECK(flatview_ldq_le_ram_cursor(fv, &c, 0x17f8, &v));
    CHECK(flatview_ldq_le_ram_cursor(fv, &c, 0x8, &v));            /* and back to a */
    CHECK_EQ(v, 0x0f0e0d0c0b0a0908ull);
    /* What flatview_ldq_le_ram refuses, the cursor refuses too, from any state. */
    static const hwaddr bad[] = { 0x14, 0x1800, 0x3000, 0x5000, 0xffc };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        static const hwaddr from[] = { 0, 0x10, 0x1000 };      /* 0: a fresh cursor */
        for (unsigned k = 0; k < 3; k++) {
            FlatViewRAMCursor c2 = { 0 };
            if (from[k])
                CHECK(flatview_ldq_le_ram_cursor(fv, &c2, from[k], &v));
            v = 0x1234;
            CHECK(!flatview_ldq_le_ram_cursor(fv, &c2, bad[i], &v));
            CHECK_EQ(v, 0x1234);
        }
    }
    rcu_read_unlock();
    CHECK_EQ(ram_only_mmio_calls, mmio_calls);
    address_space_free(as);
    memory_region_unref(regs);
    memory_region_unref(b);
    memory_region_unref(a);
    memory_region_unref(root);
    rcu_barrier();
}
