/* The DMA layer: every width and byte order against RAM and against a
 * recording MMIO region, bus mastering off, DMA into the device's own BAR,
 * translation through a fake IOMMU region with its cache and notifiers, and
 * mappings with their invalidation. */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "tests/unit/fake_iommu.h"
#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"

#define TDEV PCI_DEVFN(1, 0)

static PCIDevice *setup(struct fake_vm *f)
{
    if (!pci_vm_init(f) || dma_testdev_init(&f->vm) != 0)
        return NULL;
    cf8_write(&f->vm, TDEV, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
    return pci_bus_device(pci_root_bus(&f->vm), TDEV);
}

/* ---- a recording MMIO region ---- */
typedef struct Rec {
    hwaddr addr[16];
    unsigned size[16];
    uint64_t val[16];
    bool write[16];
    unsigned n;
} Rec;

static MemTxResult rec_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    Rec *r = opaque;
    if (r->n < 16) {
        r->addr[r->n] = addr, r->size[r->n] = size, r->write[r->n] = false;
        r->val[r->n++] = 0;
    }
    *data = size == 8 ? 0x0807060504030201ull
                      : 0x0807060504030201ull & ((1ull << (8 * size)) - 1);
    return MEMTX_OK;
}

static MemTxResult rec_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    Rec *r = opaque;
    if (r->n < 16) {
        r->addr[r->n] = addr, r->size[r->n] = size, r->write[r->n] = true;
        r->val[r->n++] = data;
    }
    return MEMTX_OK;
}

static const MemoryRegionOps rec_ops = {
    .read = rec_read, .write = rec_write,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* A recording region at guest-physical `at`. */
static void add_rec(struct fake_vm *f, hwaddr at, Rec *rec)
{
    MemoryRegion *mr = memory_region_new_io("rec", 0x1000, &rec_ops, rec);
    memory_region_add_subregion(f->vm.sysmem, at, mr);
    memory_region_unref(mr);
}

TEST(dma_widths_and_byte_orders_on_ram)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x10000);
    REQUIRE(ram);
    const uint8_t pat[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
    memcpy(ram + 0x1000, pat, 8);
    uint8_t b;
    uint16_t w;
    uint32_t l;
    uint64_t q;
    CHECK_EQ(ldub_pci_dma(d, 0x1001, &b), MEMTX_OK);
    CHECK_EQ(b, 0x22);
    CHECK_EQ(lduw_le_pci_dma(d, 0x1000, &w), MEMTX_OK);
    CHECK_EQ(w, 0x2211);
    CHECK_EQ(lduw_be_pci_dma(d, 0x1000, &w), MEMTX_OK);
    CHECK_EQ(w, 0x1122);
    CHECK_EQ(ldl_le_pci_dma(d, 0x1000, &l), MEMTX_OK);
    CHECK_EQ(l, 0x44332211);
    CHECK_EQ(ldl_be_pci_dma(d, 0x1000, &l), MEMTX_OK);
    CHECK_EQ(l, 0x11223344);
    CHECK_EQ(ldq_le_pci_dma(d, 0x1000, &q), MEMTX_OK);
    CHECK_EQ(q, 0x8877665544332211ull);
    CHECK_EQ(ldq_be_pci_dma(d, 0x1000, &q), MEMTX_OK);
    CHECK_EQ(q, 0x1122334455667788ull);
    CHECK_EQ(ldl_le_pci_dma(d, 0x1003, &l), MEMTX_OK);       /* unaligned */
    CHECK_EQ(l, 0x77665544);
    CHECK_EQ(ldq_le_pci_dma(d, 0x1ffc, &q), MEMTX_OK);       /* across a page */
    CHECK_EQ(q, (uint64_t)ram[0x2003] << 56 | (uint64_t)ram[0x1ffc]);
    CHECK_EQ(stb_pci_dma(d, 0x3000, 0xaa), MEMTX_OK);
    CHECK_EQ(ram[0x3000], 0xaa);
    CHECK_EQ(stw_le_pci_dma(d, 0x3002, 0xbbcc), MEMTX_OK);
    CHECK(ram[0x3002] == 0xcc && ram[0x3003] == 0xbb);
    CHECK_EQ(stw_be_pci_dma(d, 0x3002, 0xbbcc), MEMTX_OK);
    CHECK(ram[0x3002] == 0xbb && ram[0x3003] == 0xcc);
    CHECK_EQ(stl_le_pci_dma(d, 0x3004, 0x01020304), MEMTX_OK);
    CHECK(ram[0x3004] == 4 && ram[0x3007] == 1);
    CHECK_EQ(stl_be_pci_dma(d, 0x3004, 0x01020304), MEMTX_OK);
    CHECK(ram[0x3004] == 1 && ram[0x3007] == 4);
    CHECK_EQ(stq_le_pci_dma(d, 0x3008, 0x0102030405060708ull), MEMTX_OK);
    CHECK(ram[0x3008] == 8 && ram[0x300f] == 1);
    CHECK_EQ(stq_be_pci_dma(d, 0x3008, 0x0102030405060708ull), MEMTX_OK);
    CHECK(ram[0x3008] == 1 && ram[0x300f] == 8);
    /* A copy across pages, and beyond RAM: decode error, 0xff filled. */
    uint8_t buf[0x2000];
    memset(ram + 0x4800, 0x5a, 0x2000);
    CHECK_EQ(pci_dma_read(d, 0x4800, buf, sizeof(buf)), MEMTX_OK);
    CHECK(buf[0] == 0x5a && buf[0x1fff] == 0x5a);
    CHECK_EQ(ldl_le_pci_dma(d, 64 << 20, &l), MEMTX_DECODE_ERROR);
    CHECK_EQ(l, 0xffffffff);
    CHECK_EQ(stl_le_pci_dma(d, (64 << 20) - 2, 0x11223344), MEMTX_DECODE_ERROR);
    CHECK_EQ(ram[(64 << 20) - 2 - 0], 0x44);   /* the part in RAM was written */
    pci_vm_destroy(&f);
}

TEST(dma_widths_and_byte_orders_on_mmio)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    Rec rec = { 0 };
    add_rec(&f, 0xd0000000, &rec);
    uint16_t w;
    uint32_t l;
    uint64_t q;
    CHECK_EQ(stw_be_pci_dma(d, 0xd0000010, 0x1234), MEMTX_OK);
    CHECK_EQ(stl_le_pci_dma(d, 0xd0000020, 0xdeadbeef), MEMTX_OK);
    CHECK_EQ(stq_be_pci_dma(d, 0xd0000028, 0x0102030405060708ull), MEMTX_OK);
    CHECK_EQ(stb_pci_dma(d, 0xd0000031, 0x99), MEMTX_OK);
    REQUIRE(rec.n == 4);
    CHECK(rec.write[0] && rec.addr[0] == 0x10 && rec.size[0] == 2 && rec.val[0] == 0x3412);
    CHECK(rec.addr[1] == 0x20 && rec.size[1] == 4 && rec.val[1] == 0xdeadbeef);
    CHECK(rec.addr[2] == 0x28 && rec.size[2] == 8 && rec.val[2] == 0x0807060504030201ull);
    CHECK(rec.addr[3] == 0x31 && rec.size[3] == 1 && rec.val[3] == 0x99);
    rec.n = 0;
    CHECK_EQ(ldq_le_pci_dma(d, 0xd0000040, &q), MEMTX_OK);
    CHECK_EQ(q, 0x0807060504030201ull);
    CHECK_EQ(ldq_be_pci_dma(d, 0xd0000040, &q), MEMTX_OK);
    CHECK_EQ(q, 0x0102030405060708ull);
    CHECK_EQ(ldl_be_pci_dma(d, 0xd0000044, &l), MEMTX_OK);
    CHECK_EQ(lduw_le_pci_dma(d, 0xd0000046, &w), MEMTX_OK);
    REQUIRE(rec.n == 4);
    CHECK(!rec.write[0] && rec.size[0] == 8 && rec.size[2] == 4 && rec.size[3] == 2);
    pci_vm_destroy(&f);
}

/* Every accessor against the recording region: one device access of the
 * value's width, the bytes in the order the name says. */
TEST(dma_every_accessor_on_mmio)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    Rec rec = { 0 };
    add_rec(&f, 0xd0000000, &rec);
    const uint64_t v = 0x1122334455667788ull;
    struct { unsigned w; bool be; } kinds[] = {
        { 1, false }, { 2, false }, { 2, true }, { 4, false }, { 4, true }, { 8, false }, { 8, true },
    };
    for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        unsigned w = kinds[k].w;
        bool be = kinds[k].be;
        uint64_t mask = w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
        /* the little-endian device sees the memory-order bytes */
        uint64_t dev = be ? __builtin_bswap64(v & mask) >> (64 - 8 * w) : v & mask;
        hwaddr a = 0xd0000000 + 8 * k;
        MemTxResult r = MEMTX_ACCESS_ERROR;
        rec.n = 0;
        switch (w * 2 + be) {
        case 2: r = stb_pci_dma(d, a, (uint8_t)v); break;
        case 4: r = stw_le_pci_dma(d, a, (uint16_t)v); break;
        case 5: r = stw_be_pci_dma(d, a, (uint16_t)v); break;
        case 8: r = stl_le_pci_dma(d, a, (uint32_t)v); break;
        case 9: r = stl_be_pci_dma(d, a, (uint32_t)v); break;
        case 16: r = stq_le_pci_dma(d, a, v); break;
        case 17: r = stq_be_pci_dma(d, a, v); break;
        }
        CHECK_EQ(r, MEMTX_OK);
        CHECK(rec.n == 1 && rec.write[0] && rec.size[0] == w && rec.addr[0] == 8 * k);
        CHECK_EQ(rec.val[0], dev);
        /* loads: the region returns 0x..0201 for the width */
        uint64_t got = 0, want = 0x0807060504030201ull & mask;
        if (be)
            want = __builtin_bswap64(want) >> (64 - 8 * w);
        uint8_t b;
        uint16_t h;
        uint32_t l;
        rec.n = 0;
        switch (w * 2 + be) {
        case 2: r = ldub_pci_dma(d, a, &b); got = b; break;
        case 4: r = lduw_le_pci_dma(d, a, &h); got = h; break;
        case 5: r = lduw_be_pci_dma(d, a, &h); got = h; break;
        case 8: r = ldl_le_pci_dma(d, a, &l); got = l; break;
        case 9: r = ldl_be_pci_dma(d, a, &l); got = l; break;
        case 16: r = ldq_le_pci_dma(d, a, &got); break;
        case 17: r = ldq_be_pci_dma(d, a, &got); break;
        }
        CHECK_EQ(r, MEMTX_OK);
        CHECK(rec.n == 1 && !rec.write[0] && rec.size[0] == w);
        CHECK_EQ(got, want);
    }
    pci_vm_destroy(&f);
}

TEST(dma_bus_master_off_fails_and_own_bar_is_refused)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    uint32_t l;
    CHECK_EQ(ldl_le_pci_dma(d, 0x1000, &l), MEMTX_OK);    /* cached now */
    cf8_write(&f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(ldl_le_pci_dma(d, 0x1000, &l), MEMTX_DECODE_ERROR);
    CHECK_EQ(l, 0xffffffff);
    CHECK_EQ(stl_le_pci_dma(d, 0x1000, 1), MEMTX_DECODE_ERROR);
    cf8_write(&f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    CHECK_EQ(ldl_le_pci_dma(d, 0x1000, &l), MEMTX_OK);
    /* The device's DMA into its own registers, from the guest's command. */
    uint64_t bar = pci_bar_address(d, 0);
    REQUIRE(bar != PCI_BAR_UNMAPPED);
    mmio_write64(&f.vm, bar + 0x08, bar);           /* address: the id register */
    mmio_write64(&f.vm, bar + 0x20, 1);             /* load */
    CHECK_EQ(mmio_read32(&f.vm, bar + 0x28), MEMTX_ACCESS_ERROR);
    CHECK_EQ(ldl_le_pci_dma(d, bar + 0x800, &l), MEMTX_ACCESS_ERROR);  /* its MSI-X table */
    /* From the guest: a store to RAM works, status OK. */
    mmio_write64(&f.vm, bar + 0x08, 0x2000);
    mmio_write64(&f.vm, bar + 0x18, 0xcafe);
    mmio_write64(&f.vm, bar + 0x20, 2);
    CHECK_EQ(mmio_read32(&f.vm, bar + 0x28), MEMTX_OK);
    CHECK_EQ(*(uint16_t *)vm_guest_ram(&f.vm, 0x2000, 2), 0xcafe);
    pci_vm_destroy(&f);
}

/* A device's 4-byte write into 0xFEExxxxx is an interrupt message, as on x86;
 * reads and other widths there fail, and bus mastering off stops it. */
TEST(dma_write_to_interrupt_window_is_an_msi)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    nr_msis = 0;
    CHECK_EQ(stl_le_pci_dma(d, 0xfee01000, 0x4031), MEMTX_OK);
    REQUIRE(nr_msis == 1);
    CHECK_EQ(msis[0].address, 0xfee01000);
    CHECK_EQ(msis[0].data, 0x4031);
    uint32_t l;
    CHECK(ldl_le_pci_dma(d, 0xfee00000, &l) != MEMTX_OK);
    CHECK(stw_le_pci_dma(d, 0xfee00000, 0x41) != MEMTX_OK);
    CHECK_EQ(nr_msis, 1);
    cf8_write(&f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK(stl_le_pci_dma(d, 0xfee00000, 0x41) != MEMTX_OK);
    CHECK_EQ(nr_msis, 1);
    pci_vm_destroy(&f);
}

/* ---- behind a fake IOMMU (fake_iommu.h): iova page p maps to p + 0x100000,
 * page 0x8000 read-only ---- */
static PCIDevice *setup_iommu(struct fake_vm *f, FakeIOMMU *io)
{
    if (!pci_vm_init(f))
        return NULL;
    fake_iommu_attach(io, f, 0x100000);
    io->ro_start = 0x8000;
    io->ro_end = 0x9000;
    if (dma_testdev_init(&f->vm) != 0)
        return NULL;
    cf8_write(&f->vm, TDEV, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
    return pci_bus_device(pci_root_bus(&f->vm), TDEV);
}

TEST(dma_through_iommu_cache_and_unmap)
{
    struct fake_vm f;
    FakeIOMMU io;
    PCIDevice *d = setup_iommu(&f, &io);
    REQUIRE(d);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x200000);
    ram[0x101000] = 0x42;
    uint8_t b;
    CHECK_EQ(ldub_pci_dma(d, 0x1000, &b), MEMTX_OK);
    CHECK_EQ(b, 0x42);
    unsigned t = io.translations;
    CHECK_EQ(ldub_pci_dma(d, 0x1000, &b), MEMTX_OK);     /* cache hit */
    CHECK_EQ(io.translations, t);
    /* The model changes the mapping and notifies: the cache forgets. */
    io.offset = 0x180000;
    ram[0x181000] = 0x43;
    IOMMUTLBEntry unmap = { .iova = 0x1000, .addr_mask = 0xfff, .perm = IOMMU_NONE };
    memory_bql_lock();
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    memory_bql_unlock();
    CHECK_EQ(ldub_pci_dma(d, 0x1000, &b), MEMTX_OK);
    CHECK_EQ(b, 0x43);
    /* Read-only page: reads work, writes fault (recorded once). */
    ram[0x188000] = 0x77;
    CHECK_EQ(ldub_pci_dma(d, 0x8000, &b), MEMTX_OK);
    CHECK_EQ(b, 0x77);
    unsigned faults = io.faults;
    CHECK_EQ(stb_pci_dma(d, 0x8000, 1), MEMTX_IOMMU_FAULT);
    CHECK_EQ(io.faults, faults + 1);
    CHECK_EQ(ram[0x188000], 0x77);
    /* Unmapped: a fault, 0xff filled; a bulk copy too. */
    io.mapped = false;
    memory_bql_lock();
    unmap.addr_mask = UINT64_MAX;
    unmap.iova = 0;
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    memory_bql_unlock();
    CHECK_EQ(ldub_pci_dma(d, 0x1000, &b), MEMTX_IOMMU_FAULT);
    CHECK_EQ(b, 0xff);
    uint8_t buf[0x1800];
    CHECK_EQ(pci_dma_read(d, 0x800, buf, sizeof(buf)), MEMTX_IOMMU_FAULT);
    CHECK(buf[0] == 0xff && buf[0x17ff] == 0xff);
    /* The generic path (dispatch) translates too: MMIO behind the IOMMU. */
    io.mapped = true;
    Rec rec = { 0 };
    add_rec(&f, 0xd0000000 + io.offset, &rec);
    CHECK_EQ(stl_le_pci_dma(d, 0xd0000010, 5), MEMTX_OK);
    CHECK(rec.n == 1 && rec.addr[0] == 0x10 && rec.size[0] == 4 && rec.val[0] == 5);
    pci_vm_destroy(&f);
    memory_region_unref(io.mr);
}

/* A device thread loads one IOVA while the main thread remaps it and notifies,
 * round after round: a load that begins after an invalidation has returned
 * never sees the page it replaced (each page holds the round that mapped it). */
typedef struct Racer {
    PCIDevice *d;
    unsigned round;           /* published once its invalidation has returned */
    bool stop;
    unsigned stale, loads;
} Racer;

static void *racer_loads(void *opaque)
{
    Racer *r = opaque;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        unsigned before = __atomic_load_n(&r->round, __ATOMIC_ACQUIRE);
        uint32_t v;
        if (ldl_le_pci_dma(r->d, 0x1000, &v) != MEMTX_OK || v < before)
            r->stale++;
        __atomic_fetch_add(&r->loads, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

TEST(dma_cache_never_stale_after_invalidation_returns)
{
    struct fake_vm f;
    FakeIOMMU io;
    PCIDevice *d = setup_iommu(&f, &io);
    REQUIRE(d);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x200000);
    const hwaddr offsets[2] = { 0x100000, 0x180000 };
    __atomic_store_n((uint32_t *)(ram + 0x101000), 0, __ATOMIC_RELAXED);
    Racer r = { .d = d };
    io.slow = true;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, racer_loads, &r) == 0);
    IOMMUTLBEntry unmap = { .iova = 0x1000, .addr_mask = 0xfff, .perm = IOMMU_NONE };
    for (unsigned round = 1; round <= 5000; round++) {
        hwaddr off = offsets[round & 1];
        __atomic_store_n((uint32_t *)(ram + off + 0x1000), round, __ATOMIC_RELAXED);
        __atomic_store_n(&io.offset, off, __ATOMIC_RELEASE);
        memory_bql_lock();
        memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
        memory_bql_unlock();
        __atomic_store_n(&r.round, round, __ATOMIC_RELEASE);
        /* Let the device thread load (and fill) in every round. */
        unsigned loads = __atomic_load_n(&r.loads, __ATOMIC_ACQUIRE);
        while (__atomic_load_n(&r.loads, __ATOMIC_ACQUIRE) == loads)
            sched_yield();
    }
    __atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    CHECK(r.loads >= 5000);
    CHECK_EQ(r.stale, 0);
    pci_vm_destroy(&f);
    memory_region_unref(io.mr);
}

typedef struct MapUser {
    unsigned invalidated;
} MapUser;

static void on_invalidate(void *opaque)
{
    ((MapUser *)opaque)->invalidated++;
}

TEST(dma_map_ram_bounce_and_invalidation)
{
    struct fake_vm f;
    FakeIOMMU io;
    PCIDevice *d = setup_iommu(&f, &io);
    REQUIRE(d);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x200000);
    MapUser u = { 0 };
    dma_addr_t len;
    MemTxResult r;
    memory_bql_lock();
    uint8_t *p = pci_dma_map(d, 0x2010, 0x3000, DMA_DIRECTION_FROM_DEVICE, &len, on_invalidate,
                             &u, &r);
    CHECK_EQ(r, MEMTX_OK);
    CHECK(p == ram + 0x102010);
    CHECK_EQ(len, 0x3000);
    /* An UNMAP elsewhere leaves it alone; one covering it invalidates. */
    IOMMUTLBEntry unmap = { .iova = 0x10000, .addr_mask = 0xfff };
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    CHECK_EQ(u.invalidated, 0);
    unmap.iova = 0x4000;
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    CHECK_EQ(u.invalidated, 1);
    CHECK_EQ(pci_dma_unmap(d, p, DMA_DIRECTION_FROM_DEVICE, len), MEMTX_OK);
    /* A topology change invalidates every mapping. */
    p = pci_dma_map(d, 0x5000, 0x100, DMA_DIRECTION_TO_DEVICE, &len, on_invalidate, &u, &r);
    REQUIRE(p);
    memory_bql_unlock();
    Rec other = { 0 };
    add_rec(&f, 0xd8000000, &other);
    CHECK_EQ(u.invalidated, 2);
    memory_bql_lock();
    pci_dma_unmap(d, p, DMA_DIRECTION_TO_DEVICE, 0);
    /* MMIO: a bounce buffer, written back in order at unmap. */
    Rec rec = { 0 };
    add_rec(&f, 0xd0000000 + io.offset, &rec);
    p = pci_dma_map(d, 0xd0000000, 16, DMA_DIRECTION_FROM_DEVICE, &len, on_invalidate, &u, &r);
    REQUIRE(p);
    CHECK(p < ram || p >= ram + (64 << 20));
    memset(p, 0x11, 16);
    CHECK_EQ(pci_dma_unmap(d, p, DMA_DIRECTION_FROM_DEVICE, 16), MEMTX_OK);
    CHECK(rec.n == 2 && rec.write[0] && rec.addr[0] == 0 && rec.size[0] == 8 && rec.addr[1] == 8);
    /* Unmapped IOVA: nothing to map. */
    io.mapped = false;
    unmap.iova = 0;
    unmap.addr_mask = UINT64_MAX;
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    CHECK(!pci_dma_map(d, 0x2000, 16, DMA_DIRECTION_TO_DEVICE, &len, on_invalidate, &u, &r));
    CHECK_EQ(r, MEMTX_IOMMU_FAULT);
    CHECK_EQ(len, 0);
    memory_bql_unlock();
    pci_vm_destroy(&f);
    memory_region_unref(io.mr);
}
