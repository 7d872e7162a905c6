/* Dispatch to ops-backed regions: validation, splitting and widening to `impl`,
 * byte order, unassigned addresses, errors, re-entrancy, the big lock. */
#include <string.h>
#include <urcu-bp.h>

#include "memory/memory.h"
#include "tests/unit/harness.h"

#define DEV_BASE 0x1000
#define DEV_SIZE 0x20

typedef struct Call {
    bool write;
    hwaddr addr;
    unsigned size;
    uint64_t val;
} Call;

/* A device whose registers are plain bytes (in memory order), recording each call. */
typedef struct RecDev {
    uint8_t mem[DEV_SIZE];
    Call calls[64];
    unsigned n;
    DeviceEndian endian;
    MemTxResult fail;          /* returned by every op when not OK */
    bool bql_held_in_op;
    AddressSpace *reenter_as;  /* when set, a read op also reads its own region */
    MemTxResult reenter_result;
} RecDev;

static uint64_t encode(const uint8_t *b, unsigned size, DeviceEndian e)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * (e == DEVICE_BIG_ENDIAN ? size - 1 - i : i));
    return v;
}

static void record(RecDev *d, bool write, hwaddr addr, unsigned size, uint64_t val)
{
    d->bql_held_in_op = memory_bql_locked();
    if (d->n < 64)
        d->calls[d->n++] = (Call){ write, addr, size, val };
}

static MemTxResult rec_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    RecDev *d = opaque;
    *data = addr + size <= DEV_SIZE ? encode(d->mem + addr, size, d->endian) : 0;
    record(d, false, addr, size, *data);
    if (d->reenter_as) {
        uint8_t b;
        d->reenter_result = address_space_read(d->reenter_as, DEV_BASE, &b, 1);
    }
    return d->fail;
}

static MemTxResult rec_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    RecDev *d = opaque;
    record(d, true, addr, size, data);
    for (unsigned i = 0; i < size && addr + i < DEV_SIZE; i++)
        d->mem[addr + i] =
            (uint8_t)(data >> (8 * (d->endian == DEVICE_BIG_ENDIAN ? size - 1 - i : i)));
    return d->fail;
}

typedef struct Bench {
    MemoryRegion *root, *dev;
    AddressSpace *as;
    MemoryRegionOps ops;
    RecDev rec;
} Bench;

/* The ops are fixed once the region exists (the core caches what they allow). */
static void bench_init_ops(Bench *b, MemoryRegionOps ops)
{
    memset(b, 0, sizeof(*b));
    b->ops = ops;
    b->rec.endian = ops.endianness;
    b->root = memory_region_new_container("root", 0x10000);
    b->as = address_space_new("test", b->root);
    b->dev = memory_region_new_io("rec", DEV_SIZE, &b->ops, &b->rec);
    memory_region_add_subregion(b->root, DEV_BASE, b->dev);
}

static void bench_init(Bench *b, DeviceEndian e, MemoryAccessConstraints valid,
                       MemoryAccessConstraints impl)
{
    bench_init_ops(b, (MemoryRegionOps){ rec_read, rec_write, e, valid, impl });
}

static void bench_fill(Bench *b)
{
    for (unsigned i = 0; i < DEV_SIZE; i++)
        b->rec.mem[i] = (uint8_t)(0xa0 + i);
    b->rec.n = 0;
}

static void bench_free(Bench *b)
{
    address_space_free(b->as);
    memory_region_unref(b->dev);
    memory_region_unref(b->root);
}

/* ---- the model: which units a device with impl [min, max] must see -----------------
 * Top-down over aligned blocks, unlike the core's greedy walk: a block inside the
 * access is one unit; a partly covered block of impl.min is a widened unit;
 * otherwise halve it. */
typedef struct Unit {
    unsigned addr, size;
    bool partial;
} Unit;

static void model_block(unsigned base, unsigned size, unsigned min, unsigned a, unsigned e,
                        Unit *out, unsigned *n)
{
    if (base >= e || base + size <= a)
        return;
    if (base >= a && base + size <= e) {
        out[(*n)++] = (Unit){ base, size, false };
    } else if (size <= min) {
        out[(*n)++] = (Unit){ base, size, true };
    } else {
        model_block(base, size / 2, min, a, e, out, n);
        model_block(base + size / 2, size / 2, min, a, e, out, n);
    }
}

static unsigned model_units(unsigned min, unsigned max, unsigned a, unsigned e, Unit *out)
{
    unsigned n = 0;
    for (unsigned base = a & ~(max - 1); base < e; base += max)
        model_block(base, max, min, a, e, out, &n);
    return n;
}

static const struct {
    unsigned min, max;
} impl_shapes[] = { { 1, 1 }, { 1, 2 }, { 1, 4 }, { 1, 8 }, { 4, 4 }, { 2, 8 } };

static void check_read(Bench *b, unsigned imin, unsigned imax, unsigned off, unsigned w)
{
    bench_fill(b);
    uint8_t buf[8];
    MemTxResult r = address_space_read(b->as, DEV_BASE + off, buf, w);
    Unit u[16];
    unsigned nu = model_units(imin, imax, off, off + w, u);
    bool ok = r == MEMTX_OK && !memcmp(buf, b->rec.mem + off, w) && b->rec.n == nu;
    for (unsigned i = 0; ok && i < nu; i++) {
        const Call *c = &b->rec.calls[i];
        ok = !c->write && c->addr == u[i].addr && c->size == u[i].size &&
             c->val == encode(b->rec.mem + u[i].addr, u[i].size, b->rec.endian);
    }
    if (!ok)
        test_fail_(__FILE__, __LINE__, "read impl %u..%u %s off %u width %u: r=%d, %u calls",
                   imin, imax, b->rec.endian ? "BE" : "LE", off, w, r, b->rec.n);
}

static void check_write(Bench *b, unsigned imin, unsigned imax, unsigned off, unsigned w)
{
    bench_fill(b);
    uint8_t data[8], after[DEV_SIZE];
    for (unsigned i = 0; i < 8; i++)
        data[i] = (uint8_t)(0x11 * (i + 1));
    memcpy(after, b->rec.mem, DEV_SIZE);
    memcpy(after + off, data, w);
    MemTxResult r = address_space_write(b->as, DEV_BASE + off, data, w);
    Unit u[16];
    unsigned nu = model_units(imin, imax, off, off + w, u);
    /* Widened units are read-modify-write: a read of the unit, then its write. */
    Call want[32];
    unsigned nw = 0;
    for (unsigned i = 0; i < nu; i++) {
        uint8_t before[8];
        for (unsigned k = 0; k < u[i].size; k++)
            before[k] = (uint8_t)(0xa0 + u[i].addr + k);
        if (u[i].partial)
            want[nw++] = (Call){ false, u[i].addr, u[i].size,
                                 encode(before, u[i].size, b->rec.endian) };
        want[nw++] = (Call){ true, u[i].addr, u[i].size,
                             encode(after + u[i].addr, u[i].size, b->rec.endian) };
    }
    bool ok = r == MEMTX_OK && !memcmp(after, b->rec.mem, DEV_SIZE) && b->rec.n == nw;
    for (unsigned i = 0; ok && i < nw; i++) {
        const Call *c = &b->rec.calls[i];
        ok = c->write == want[i].write && c->addr == want[i].addr &&
             c->size == want[i].size && c->val == want[i].val;
    }
    if (!ok)
        test_fail_(__FILE__, __LINE__, "write impl %u..%u %s off %u width %u: r=%d, %u calls",
                   imin, imax, b->rec.endian ? "BE" : "LE", off, w, r, b->rec.n);
}

TEST(every_width_alignment_order_and_impl_shape)
{
    for (unsigned s = 0; s < sizeof(impl_shapes) / sizeof(impl_shapes[0]); s++) {
        for (int e = 0; e < 2; e++) {
            Bench b;
            bench_init(&b, e ? DEVICE_BIG_ENDIAN : DEVICE_LITTLE_ENDIAN,
                       (MemoryAccessConstraints){ 1, 8, true },
                       (MemoryAccessConstraints){ impl_shapes[s].min, impl_shapes[s].max, false });
            for (unsigned w = 1; w <= 8; w *= 2) {
                for (unsigned off = 0; off < 8; off++) {
                    check_read(&b, impl_shapes[s].min, impl_shapes[s].max, off, w);
                    check_write(&b, impl_shapes[s].min, impl_shapes[s].max, off, w);
                    CHECK(b.rec.bql_held_in_op);
                }
            }
            CHECK(!memory_bql_locked());
            bench_free(&b);
        }
    }
}

/* A few cases spelled out, so that the model itself is checked. */
TEST(explicit_splits_and_values)
{
    Bench b;
    bench_init(&b, DEVICE_BIG_ENDIAN, (MemoryAccessConstraints){ 1, 8, true },
               (MemoryAccessConstraints){ 1, 4, false });
    bench_fill(&b);
    uint8_t buf[8];
    CHECK_EQ(address_space_read(b.as, DEV_BASE + 1, buf, 8), MEMTX_OK);
    CHECK_EQ(b.rec.n, 4);
    CHECK(b.rec.calls[0].addr == 1 && b.rec.calls[0].size == 1 && b.rec.calls[0].val == 0xa1);
    CHECK(b.rec.calls[1].addr == 2 && b.rec.calls[1].size == 2 && b.rec.calls[1].val == 0xa2a3);
    CHECK(b.rec.calls[2].addr == 4 && b.rec.calls[2].size == 4 &&
          b.rec.calls[2].val == 0xa4a5a6a7);
    CHECK(b.rec.calls[3].addr == 8 && b.rec.calls[3].size == 1 && b.rec.calls[3].val == 0xa8);
    CHECK_EQ(buf[0], 0xa1);
    CHECK_EQ(buf[7], 0xa8);
    /* The name's byte order meets the device's: value 0x11223344 stored little-endian
     * puts 0x44 at the lowest address, which a big-endian device reads as 0x44332211. */
    b.rec.n = 0;
    CHECK_EQ(address_space_stl_le(b.as, DEV_BASE + 4, 0x11223344), MEMTX_OK);
    CHECK(b.rec.n == 1 && b.rec.calls[0].val == 0x44332211 && b.rec.calls[0].size == 4);
    CHECK_EQ(address_space_ldl_be(b.as, DEV_BASE + 4, NULL), 0x44332211);
    CHECK_EQ(address_space_ldl_le(b.as, DEV_BASE + 4, NULL), 0x11223344);
    /* An 8-byte load is two 4-byte units for impl max 4. */
    b.rec.n = 0;
    MemTxResult r;
    CHECK_EQ(address_space_ldq_be(b.as, DEV_BASE + 8, &r), 0xa8a9aaabacadaeafull);
    CHECK_EQ(r, MEMTX_OK);
    CHECK_EQ(b.rec.n, 2);
    bench_free(&b);

    /* impl min 4: a 2-byte write at offset 5 is a read-modify-write of [4, 8). */
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 1, 8, true },
               (MemoryAccessConstraints){ 4, 4, false });
    bench_fill(&b);
    CHECK_EQ(address_space_stw_le(b.as, DEV_BASE + 5, 0xbeef), MEMTX_OK);
    CHECK_EQ(b.rec.n, 2);
    CHECK(!b.rec.calls[0].write && b.rec.calls[0].addr == 4 && b.rec.calls[0].size == 4);
    CHECK(b.rec.calls[1].write && b.rec.calls[1].addr == 4 && b.rec.calls[1].val == 0xa7beefa4);
    b.rec.n = 0;
    CHECK_EQ(address_space_ldub(b.as, DEV_BASE + 6, NULL), 0xbe);
    CHECK(b.rec.n == 1 && b.rec.calls[0].addr == 4 && b.rec.calls[0].size == 4);
    bench_free(&b);
}

TEST(valid_violations_fail_without_calling_the_device)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 2, 4, false },
               (MemoryAccessConstraints){ 0, 0, false });
    static const struct {
        unsigned off, size;
    } bad[] = { { 0, 8 }, { 0, 1 }, { 2, 4 }, { 1, 2 }, { 3, 1 } };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bench_fill(&b);
        uint8_t buf[8] = { 0 }, before[DEV_SIZE];
        memcpy(before, b.rec.mem, DEV_SIZE);
        CHECK_EQ(address_space_read(b.as, DEV_BASE + bad[i].off, buf, bad[i].size),
                 MEMTX_ACCESS_ERROR);
        for (unsigned k = 0; k < bad[i].size; k++)
            CHECK_EQ(buf[k], 0xff);
        CHECK_EQ(address_space_write(b.as, DEV_BASE + bad[i].off, buf, bad[i].size),
                 MEMTX_ACCESS_ERROR);
        CHECK_EQ(b.rec.n, 0);
        CHECK(!memcmp(before, b.rec.mem, DEV_SIZE));
    }
    MemTxResult r;
    CHECK_EQ(address_space_ldq_le(b.as, DEV_BASE, &r), UINT64_MAX);
    CHECK_EQ(r, MEMTX_ACCESS_ERROR);
    CHECK_EQ(address_space_ldl_le(b.as, DEV_BASE + 4, &r), 0xa7a6a5a4);
    CHECK_EQ(r, MEMTX_OK);
    bench_free(&b);
}

TEST(long_accesses_are_cut_into_valid_pieces_in_order)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 1, 4, false },
               (MemoryAccessConstraints){ 1, 4, false });
    bench_fill(&b);
    uint8_t data[11];
    for (unsigned i = 0; i < 11; i++)
        data[i] = (uint8_t)i;
    CHECK_EQ(address_space_write(b.as, DEV_BASE + 1, data, 11), MEMTX_OK);
    static const unsigned want_addr[] = { 1, 2, 4, 8 }, want_size[] = { 1, 2, 4, 4 };
    CHECK_EQ(b.rec.n, 4);
    for (unsigned i = 0; i < 4 && i < b.rec.n; i++) {
        CHECK_EQ(b.rec.calls[i].addr, want_addr[i]);
        CHECK_EQ(b.rec.calls[i].size, want_size[i]);
    }
    CHECK(!memcmp(b.rec.mem + 1, data, 11));
    CHECK_EQ(b.rec.mem[0], 0xa0);
    CHECK_EQ(b.rec.mem[12], 0xac);
    /* A 3-byte access is not one guest access: it becomes 2 + 1. */
    b.rec.n = 0;
    uint8_t buf[3];
    CHECK_EQ(address_space_read(b.as, DEV_BASE + 0x10, buf, 3), MEMTX_OK);
    CHECK(b.rec.n == 2 && b.rec.calls[0].size == 2 && b.rec.calls[1].addr == 0x12);
    CHECK(buf[0] == 0xb0 && buf[1] == 0xb1 && buf[2] == 0xb2);
    bench_free(&b);
}

TEST(accesses_spanning_ram_device_and_holes)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 1, 4, false },
               (MemoryAccessConstraints){ 1, 4, false });
    MemoryRegion *lo = memory_region_new_ram("lo", 0x1000);
    MemoryRegion *hi = memory_region_new_ram("hi", 0x1000);
    memory_region_add_subregion(b.root, 0, lo);
    memory_region_add_subregion(b.root, DEV_BASE + DEV_SIZE, hi);
    bench_fill(&b);
    memset(lo->host, 0x11, 0x1000);
    memset(hi->host, 0x22, 0x1000);
    uint8_t buf[0x30];
    CHECK_EQ(address_space_read(b.as, DEV_BASE - 8, buf, 0x30), MEMTX_OK);
    for (unsigned i = 0; i < 8; i++)
        CHECK_EQ(buf[i], 0x11);
    CHECK(!memcmp(buf + 8, b.rec.mem, DEV_SIZE));
    for (unsigned i = 8 + DEV_SIZE; i < 0x30; i++)
        CHECK_EQ(buf[i], 0x22);
    CHECK_EQ(b.rec.n, DEV_SIZE / 4);
    for (unsigned i = 1; i < b.rec.n; i++)
        CHECK(b.rec.calls[i].addr > b.rec.calls[i - 1].addr);
    /* Past `hi` lies a hole: the first failure is reported, the rest still done. */
    hwaddr hole = DEV_BASE + DEV_SIZE + 0x1000;
    memset(buf, 0x33, sizeof(buf));
    CHECK_EQ(address_space_write(b.as, hole - 4, buf, 8), MEMTX_DECODE_ERROR);
    CHECK_EQ(hi->host[0xffc], 0x33);
    CHECK_EQ(hi->host[0xfff], 0x33);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(address_space_read(b.as, hole - 2, buf, 4), MEMTX_DECODE_ERROR);
    CHECK(buf[0] == 0x33 && buf[1] == 0x33 && buf[2] == 0xff && buf[3] == 0xff);
    memory_region_unref(lo);
    memory_region_unref(hi);
    bench_free(&b);
}

TEST(unassigned_reads_all_ones_and_decode_error)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 0, 0, false },
               (MemoryAccessConstraints){ 0, 0, false });
    MemTxResult r;
    CHECK_EQ(address_space_ldl_le(b.as, 0x8000, &r), 0xffffffff);
    CHECK_EQ(r, MEMTX_DECODE_ERROR);
    CHECK_EQ(address_space_ldq_le(b.as, UINT64_MAX - 3, &r), UINT64_MAX);
    CHECK_EQ(r, MEMTX_DECODE_ERROR);
    CHECK_EQ(address_space_stl_le(b.as, 0x8000, 1), MEMTX_DECODE_ERROR);
    CHECK_EQ(b.rec.n, 0);
    bench_free(&b);
}

TEST(device_errors_fail_the_access)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 1, 8, false },
               (MemoryAccessConstraints){ 1, 4, false });
    b.rec.fail = MEMTX_DECODE_ERROR;
    MemTxResult r;
    CHECK_EQ(address_space_ldq_le(b.as, DEV_BASE, &r), UINT64_MAX);
    CHECK_EQ(r, MEMTX_DECODE_ERROR);
    CHECK_EQ(b.rec.n, 1); /* the first unit failed: the second is not attempted */
    b.rec.fail = MEMTX_ACCESS_ERROR;
    CHECK_EQ(address_space_stl_le(b.as, DEV_BASE, 5), MEMTX_ACCESS_ERROR);
    bench_free(&b);
}

TEST(reentrant_access_to_own_region_is_refused)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 0, 0, false },
               (MemoryAccessConstraints){ 0, 0, false });
    bench_fill(&b);
    b.rec.reenter_as = b.as;
    b.rec.reenter_result = MEMTX_OK;
    MemTxResult r;
    CHECK_EQ(address_space_ldub(b.as, DEV_BASE + 3, &r), 0xa3);
    CHECK_EQ(r, MEMTX_OK);
    CHECK_EQ(b.rec.reenter_result, MEMTX_ACCESS_ERROR);
    CHECK_EQ(b.rec.n, 1);
    bench_free(&b);
}

TEST(dispatch_keeps_a_held_big_lock)
{
    Bench b;
    bench_init(&b, DEVICE_LITTLE_ENDIAN, (MemoryAccessConstraints){ 0, 0, false },
               (MemoryAccessConstraints){ 0, 0, false });
    memory_bql_lock();
    CHECK_EQ(address_space_stb(b.as, DEV_BASE, 1), MEMTX_OK);
    CHECK(b.rec.bql_held_in_op);
    CHECK(memory_bql_locked());
    memory_bql_unlock();
    bench_free(&b);
}

TEST(io_port_space_uses_the_same_machinery)
{
    Bench b;
    memset(&b, 0, sizeof(b));
    b.ops = (MemoryRegionOps){ rec_read, rec_write, DEVICE_LITTLE_ENDIAN,
                               { 1, 4, false }, { 1, 1, false } };
    b.root = memory_region_new_container("io", 0x10000);
    b.as = address_space_new("I/O", b.root);
    b.dev = memory_region_new_io("uart", 8, &b.ops, &b.rec);
    memory_region_add_subregion(b.root, 0x3f8, b.dev);
    CHECK_EQ(address_space_stw_le(b.as, 0x3fa, 0x1234), MEMTX_OK);
    CHECK(b.rec.n == 2 && b.rec.calls[0].addr == 2 && b.rec.calls[0].val == 0x34 &&
          b.rec.calls[1].addr == 3 && b.rec.calls[1].val == 0x12);
    MemTxResult r;
    CHECK_EQ(address_space_ldub(b.as, 0x10000, &r), 0xff);
    CHECK_EQ(r, MEMTX_DECODE_ERROR);
    CHECK_EQ(address_space_ldub(b.as, 0x3ff, &r), 0);
    CHECK_EQ(r, MEMTX_OK);
    bench_free(&b);
    rcu_barrier();
}

TEST(widening_at_the_top_of_a_2_64_region_terminates)
{
    Bench b;
    memset(&b, 0, sizeof(b));
    b.ops = (MemoryRegionOps){ rec_read, rec_write, DEVICE_LITTLE_ENDIAN,
                               { 1, 8, true }, { 4, 4, false } };
    b.root = memory_region_new_container("root", UINT64_MAX);
    b.as = address_space_new("test", b.root);
    b.dev = memory_region_new_io("huge", UINT64_MAX, &b.ops, &b.rec);
    memory_region_add_subregion(b.root, 0, b.dev);
    uint8_t v = 0x77;
    CHECK_EQ(address_space_write(b.as, UINT64_MAX - 1, &v, 1), MEMTX_OK);
    CHECK_EQ(b.rec.n, 2); /* read-modify-write of the last aligned unit */
    CHECK_EQ(b.rec.calls[1].addr, UINT64_MAX - 3);
    CHECK_EQ(b.rec.calls[1].val, 0x770000);
    bench_free(&b);
}

TEST(write_only_device_takes_writes_and_refuses_reads)
{
    Bench b;
    bench_init_ops(&b, (MemoryRegionOps){ NULL, rec_write, DEVICE_LITTLE_ENDIAN,
                                          { 1, 4, false }, { 4, 4, false } });
    bench_fill(&b);
    CHECK_EQ(address_space_stl_le(b.as, DEV_BASE + 4, 0x12345678), MEMTX_OK);
    CHECK(b.rec.n == 1 && b.rec.calls[0].write && b.rec.calls[0].val == 0x12345678);
    /* Widening without a read op merges the new bytes into zeros. */
    CHECK_EQ(address_space_stb(b.as, DEV_BASE + 9, 0xab), MEMTX_OK);
    CHECK(b.rec.n == 2 && b.rec.calls[1].addr == 8 && b.rec.calls[1].val == 0xab00);
    MemTxResult r;
    CHECK_EQ(address_space_ldl_le(b.as, DEV_BASE + 4, &r), 0xffffffff);
    CHECK_EQ(r, MEMTX_ACCESS_ERROR);
    CHECK_EQ(b.rec.n, 2);
    bench_free(&b);
}

/* A unit widened to impl.min never reaches past the region's end. */
TEST(widening_stays_inside_the_region)
{
    Bench b;
    memset(&b, 0, sizeof(b));
    b.ops = (MemoryRegionOps){ rec_read, rec_write, DEVICE_LITTLE_ENDIAN,
                               { 1, 4, true }, { 4, 4, true } };
    b.root = memory_region_new_container("root", 0x10000);
    b.as = address_space_new("test", b.root);
    /* 6 bytes cannot be served in 4-byte units: refused at creation. */
    CHECK(memory_region_new_io("odd", 6, &b.ops, &b.rec) == NULL);
    CHECK(memory_region_new_rom_device("odd-rom", 6, &b.ops, &b.rec) == NULL);
    /* Unaligned 4-byte units: a byte at offset 6 of 8 is read as [4, 8). */
    b.dev = memory_region_new_io("eight", 8, &b.ops, &b.rec);
    REQUIRE(b.dev);
    memory_region_add_subregion(b.root, DEV_BASE, b.dev);
    bench_fill(&b);
    MemTxResult r;
    CHECK_EQ(address_space_ldub(b.as, DEV_BASE + 6, &r), 0xa6);
    CHECK(b.rec.n == 1 && b.rec.calls[0].addr == 4 && b.rec.calls[0].size == 4);
    CHECK_EQ(address_space_stb(b.as, DEV_BASE + 7, 0x11), MEMTX_OK);
    CHECK(b.rec.n == 3 && b.rec.calls[2].addr == 4 && b.rec.calls[2].val == 0x11a6a5a4);
    bench_free(&b);
}
