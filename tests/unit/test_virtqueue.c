/* Virtqueue walking against split and packed rings laid out in fake-VM RAM:
 * normal and indirect chains, event-index suppression, 16-bit wrap-around,
 * every malformed ring a hostile driver can build, and the rule that ring
 * indexes are single aligned 16-bit accesses in the right order. */
#include <stdlib.h>

#include "tests/unit/harness.h"
#include "tests/unit/virtio_util.h"

#define TDEV PCI_DEVFN(1, 0)
#define QSIZE 8

typedef struct Ctx {
    struct fake_vm f;
    PCIDevice *d;
    uint8_t *ram;
    VirtQueue vq;
    VirtQueueElement *e;
} Ctx;

static bool setup(Ctx *c, bool packed, bool event_idx)
{
    memset(c, 0, sizeof(*c));
    if (!pci_vm_init(&c->f) || dma_testdev_init(&c->f.vm) != 0)
        return false;
    cf8_write(&c->f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
    c->d = pci_bus_device(pci_root_bus(&c->f.vm), TDEV);
    c->ram = vm_guest_ram(&c->f.vm, 0, 0x100000);
    c->e = calloc(1, sizeof(*c->e));
    virtqueue_init(&c->vq, c->d, "test", QSIZE, packed, event_idx, true, VQ_DESC, VQ_AVAIL,
                   VQ_USED);
    return c->d && c->ram && c->e;
}

static void teardown(Ctx *c)
{
    free(c->e);
    pci_vm_destroy(&c->f);
}

TEST(split_chain_pop_and_push)
{
    Ctx c;
    REQUIRE(setup(&c, false, false));
    split_desc(c.ram, VQ_DESC, 3, VQ_BUF, 16, VRING_DESC_F_NEXT, 5);
    split_desc(c.ram, VQ_DESC, 5, VQ_BUF + 0x100, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    split_desc(c.ram, VQ_DESC, 1, VQ_BUF + 0x200, 1, VRING_DESC_F_WRITE, 0);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 0);          /* nothing published yet */
    split_publish(c.ram, QSIZE, 0, 3);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(c.e->id, 3);
    CHECK_EQ(c.e->nr_out, 1);
    CHECK_EQ(c.e->nr_in, 2);
    CHECK_EQ(c.e->out_len, 16);
    CHECK_EQ(c.e->in_len, 101);
    CHECK_EQ(c.e->seg[1].addr, VQ_BUF + 0x100);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 0);
    /* Copies span segments. */
    uint8_t data[101];
    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    CHECK_EQ(virtqueue_write_in(&c.vq, c.e, 0, data, sizeof(data)), 101);
    CHECK_EQ(c.ram[VQ_BUF + 0x100 + 99], 99);
    CHECK_EQ(c.ram[VQ_BUF + 0x200], 100);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 101), 0);
    CHECK_EQ(get16(c.ram, VQ_USED + 2), 1);
    CHECK_EQ(get32(c.ram, VQ_USED + 4), 3);
    CHECK_EQ(get32(c.ram, VQ_USED + 8), 101);
    CHECK(virtqueue_should_notify(&c.vq));
    CHECK(!virtqueue_should_notify(&c.vq));          /* nothing new since */
    teardown(&c);
}

TEST(split_indirect_table)
{
    Ctx c;
    REQUIRE(setup(&c, false, false));
    split_desc(c.ram, VQ_IND, 0, VQ_BUF, 16, VRING_DESC_F_NEXT, 2);
    split_desc(c.ram, VQ_IND, 2, VQ_BUF + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    split_desc(c.ram, VQ_IND, 1, VQ_BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
    split_desc(c.ram, VQ_DESC, 0, VQ_IND, 3 * 16, VRING_DESC_F_INDIRECT, 0);
    split_publish(c.ram, QSIZE, 0, 0);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(c.e->nr_out, 1);
    CHECK_EQ(c.e->nr_in, 2);
    CHECK_EQ(c.e->in_len, 513);
    teardown(&c);
}

TEST(split_event_idx_suppresses_interrupts_and_kicks)
{
    Ctx c;
    REQUIRE(setup(&c, false, true));
    for (uint16_t i = 0; i < 3; i++) {
        split_desc(c.ram, VQ_DESC, i, VQ_BUF + 0x100 * i, 8, VRING_DESC_F_WRITE, 0);
        split_publish(c.ram, QSIZE, i, i);
    }
    /* The driver wants an interrupt only once used->idx passes 2. */
    put16(c.ram, VQ_AVAIL + 4 + 2 * QSIZE, 2);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);
    CHECK(virtqueue_should_notify(&c.vq));           /* the first one always goes */
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);      /* used->idx 2: not past 2 */
    CHECK(!virtqueue_should_notify(&c.vq));
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);      /* used->idx 3: passes 2 */
    CHECK(virtqueue_should_notify(&c.vq));
    /* Re-enabling notifications publishes avail_event and reports the ring empty. */
    CHECK(!virtqueue_enable_notification(&c.vq));
    CHECK_EQ(get16(c.ram, VQ_USED + 4 + 8 * QSIZE), 3);
    split_desc(c.ram, VQ_DESC, 3, VQ_BUF, 8, VRING_DESC_F_WRITE, 0);
    split_publish(c.ram, QSIZE, 3, 3);
    CHECK(virtqueue_enable_notification(&c.vq));     /* the re-check sees the new one */
    teardown(&c);
}

TEST(split_no_interrupt_flag_and_no_notify_flag)
{
    Ctx c;
    REQUIRE(setup(&c, false, false));
    split_desc(c.ram, VQ_DESC, 0, VQ_BUF, 8, VRING_DESC_F_WRITE, 0);
    split_publish(c.ram, QSIZE, 0, 0);
    virtqueue_disable_notification(&c.vq);
    CHECK_EQ(get16(c.ram, VQ_USED), VRING_USED_F_NO_NOTIFY);
    put16(c.ram, VQ_AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 8), 0);
    CHECK(!virtqueue_should_notify(&c.vq));
    CHECK(!virtqueue_enable_notification(&c.vq));
    CHECK_EQ(get16(c.ram, VQ_USED), 0);
    teardown(&c);
}

TEST(split_index_wraps_at_16_bits)
{
    Ctx c;
    REQUIRE(setup(&c, false, false));
    c.vq.last_avail = c.vq.used_idx = 0xfffe;
    put16(c.ram, VQ_USED + 2, 0xfffe);
    for (uint16_t k = 0; k < 3; k++) {
        uint16_t idx = (uint16_t)(0xfffe + k);
        split_desc(c.ram, VQ_DESC, k, VQ_BUF, 4, VRING_DESC_F_WRITE, 0);
        split_publish(c.ram, QSIZE, idx, k);
    }
    CHECK_EQ(get16(c.ram, VQ_AVAIL + 2), 1);
    for (uint16_t k = 0; k < 3; k++) {
        CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
        CHECK_EQ(c.e->id, k);
        CHECK_EQ(virtqueue_push(&c.vq, c.e, 4), 0);
    }
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 0);
    CHECK_EQ(get16(c.ram, VQ_USED + 2), 1);
    CHECK_EQ(get32(c.ram, VQ_USED + 4 + 8 * (0xffff % QSIZE)), 1);
    teardown(&c);
}

/* One hostile ring: builds it, pops, expects the queue broken with `why`. */
typedef void BuildFn(uint8_t *ram);

static void expect_broken(BuildFn *build, bool indirect_ok, const char *why)
{
    Ctx c;
    REQUIRE(setup(&c, false, false));
    c.vq.indirect = indirect_ok;
    build(c.ram);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), -1);
    CHECK(c.vq.broken);
    if (!c.vq.error || !strstr(c.vq.error, why))
        test_fail_(__FILE__, __LINE__, "expected '%s', got '%s'", why,
                   c.vq.error ? c.vq.error : "(none)");
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), -1);        /* stays broken */
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), -1);
    teardown(&c);
}

static void build_loop(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, VQ_BUF, 8, VRING_DESC_F_NEXT, 1);
    split_desc(ram, VQ_DESC, 1, VQ_BUF, 8, VRING_DESC_F_NEXT, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_indirect_loop(uint8_t *ram)
{
    split_desc(ram, VQ_IND, 0, VQ_BUF, 8, VRING_DESC_F_NEXT, 1);
    split_desc(ram, VQ_IND, 1, VQ_BUF, 8, VRING_DESC_F_NEXT, 0);
    split_desc(ram, VQ_DESC, 0, VQ_IND, 32, VRING_DESC_F_INDIRECT, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_nested_indirect(uint8_t *ram)
{
    split_desc(ram, VQ_IND, 0, VQ_IND, 16, VRING_DESC_F_INDIRECT, 0);
    split_desc(ram, VQ_DESC, 0, VQ_IND, 16, VRING_DESC_F_INDIRECT, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_indirect_bad_len(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, VQ_IND, 20, VRING_DESC_F_INDIRECT, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_indirect_with_next(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, VQ_IND, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_overflow(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, 0xfffffffffffff000ull, 0x2000, 0, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_outside_ram(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, 0x80000000ull, 0x100, 0, 0);   /* RAM is 64 MiB */
    split_publish(ram, QSIZE, 0, 0);
}

static void build_in_mmio(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, LAYOUT_PCI_ECAM, 4, VRING_DESC_F_WRITE, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_straddles_ram_end(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, (64ull << 20) - 8, 16, 0, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_wrong_order(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, VQ_BUF, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    split_desc(ram, VQ_DESC, 1, VQ_BUF, 8, 0, 0);
    split_publish(ram, QSIZE, 0, 0);
}

static void build_idx_jump(uint8_t *ram)
{
    put16(ram, VQ_AVAIL + 2, QSIZE + 1);
}

static void build_head_out_of_range(uint8_t *ram)
{
    split_publish(ram, QSIZE, 0, QSIZE);
}

static void build_next_out_of_range(uint8_t *ram)
{
    split_desc(ram, VQ_DESC, 0, VQ_BUF, 8, VRING_DESC_F_NEXT, QSIZE + 3);
    split_publish(ram, QSIZE, 0, 0);
}

TEST(split_hostile_rings_break_the_queue)
{
    expect_broken(build_loop, true, "loop");
    expect_broken(build_indirect_loop, true, "loop");
    expect_broken(build_nested_indirect, true, "inside an indirect");
    expect_broken(build_nested_indirect, false, "without INDIRECT_DESC");
    expect_broken(build_indirect_bad_len, true, "indirect table length");
    expect_broken(build_indirect_with_next, true, "NEXT");
    expect_broken(build_overflow, true, "wraps");
    expect_broken(build_outside_ram, true, "outside RAM");
    expect_broken(build_in_mmio, true, "outside RAM");
    expect_broken(build_straddles_ram_end, true, "outside RAM");
    expect_broken(build_wrong_order, true, "device-readable buffer after");
    expect_broken(build_idx_jump, true, "more than the queue size");
    expect_broken(build_head_out_of_range, true, "head");
    expect_broken(build_next_out_of_range, true, "out of range");
}

TEST(split_ring_behind_bus_master_off_fails)
{
    Ctx c;
    REQUIRE(setup(&c, false, false));
    split_desc(c.ram, VQ_DESC, 0, VQ_BUF, 8, 0, 0);
    split_publish(c.ram, QSIZE, 0, 0);
    cf8_write(&c.f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), -1);
    CHECK(c.vq.broken);
    teardown(&c);
}

/* ---- packed rings ---- */
/* An entry of a packed indirect table: only its WRITE/INDIRECT flags count. */
static void packed_raw(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                       uint16_t flags)
{
    put64(ram, table + 16ull * i, addr);
    put32(ram, table + 16ull * i + 8, len);
    put16(ram, table + 16ull * i + 12, 0);
    put16(ram, table + 16ull * i + 14, flags);
}

TEST(packed_chain_indirect_and_wrap)
{
    Ctx c;
    REQUIRE(setup(&c, true, false));
    /* Slots 0-1: a two-descriptor chain, id 7. */
    packed_desc(c.ram, VQ_DESC, 1, VQ_BUF + 0x100, 64, 7, VRING_DESC_F_WRITE, true);
    packed_desc(c.ram, VQ_DESC, 0, VQ_BUF, 16, 9, VRING_DESC_F_NEXT, true);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(c.e->id, 7);
    CHECK_EQ(c.e->ndescs, 2);
    CHECK_EQ(c.e->nr_out, 1);
    CHECK_EQ(c.e->nr_in, 1);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 0);
    /* Slot 2: indirect with three entries. */
    packed_raw(c.ram, VQ_IND, 0, VQ_BUF, 16, 0);
    packed_raw(c.ram, VQ_IND, 1, VQ_BUF + 0x200, 512, VRING_DESC_F_WRITE);
    packed_desc(c.ram, VQ_DESC, 2, VQ_IND, 32, 4, VRING_DESC_F_INDIRECT, true);
    VirtQueueElement *first = calloc(1, sizeof(*first));
    REQUIRE(first);
    CHECK_EQ(virtqueue_pop(&c.vq, first), 1);
    CHECK_EQ(first->id, 4);
    CHECK_EQ(first->nr_out, 1);
    CHECK_EQ(first->nr_in, 1);
    CHECK_EQ(first->in_len, 512);
    /* Used descriptors go back in order: id 7 over slot 0 (2 slots), id 4 at slot 2. */
    c.e->id = 7;
    c.e->ndescs = 2;
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 64), 0);
    CHECK_EQ(virtqueue_push(&c.vq, first, 0), 0);
    CHECK_EQ(get16(c.ram, VQ_DESC + 12), 7);
    CHECK_EQ(get32(c.ram, VQ_DESC + 8), 64);
    CHECK_EQ(get16(c.ram, VQ_DESC + 14),
             VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED | VRING_DESC_F_WRITE);
    CHECK_EQ(get16(c.ram, VQ_DESC + 32 + 12), 4);
    CHECK_EQ(c.vq.next_used, 3);
    /* Fill to the end and wrap: slots 3..7, then slot 0 with the wrap counter 0. */
    for (unsigned i = 3; i < QSIZE; i++)
        packed_desc(c.ram, VQ_DESC, i, VQ_BUF, 8, (uint16_t)i, VRING_DESC_F_WRITE, true);
    for (unsigned i = 3; i < QSIZE; i++) {
        CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
        CHECK_EQ(virtqueue_push(&c.vq, c.e, 8), 0);
    }
    CHECK_EQ(c.vq.next_avail, 0);
    CHECK(!c.vq.avail_wrap);
    CHECK(!c.vq.used_wrap);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 0);          /* slot 0 still has the old wrap */
    packed_desc(c.ram, VQ_DESC, 0, VQ_BUF, 8, 11, VRING_DESC_F_WRITE, false);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(c.e->id, 11);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 8), 0);
    CHECK_EQ(get16(c.ram, VQ_DESC + 14), VRING_DESC_F_WRITE);  /* used with wrap 0 */
    free(first);
    teardown(&c);
}

TEST(packed_event_suppression)
{
    Ctx c;
    REQUIRE(setup(&c, true, true));
    for (unsigned i = 0; i < 3; i++)
        packed_desc(c.ram, VQ_DESC, i, VQ_BUF, 8, (uint16_t)i, VRING_DESC_F_WRITE, true);
    /* Driver: interrupt when slot 2 is used (off 2, wrap 1). */
    put16(c.ram, VQ_AVAIL, 2 | 0x8000);
    put16(c.ram, VQ_AVAIL + 2, VRING_PACKED_EVENT_FLAG_DESC);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);
    CHECK(virtqueue_should_notify(&c.vq));           /* first always */
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);      /* used up to slot 1 */
    CHECK(!virtqueue_should_notify(&c.vq));
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);      /* slot 2 used */
    CHECK(virtqueue_should_notify(&c.vq));
    put16(c.ram, VQ_AVAIL + 2, VRING_PACKED_EVENT_FLAG_DISABLE);
    packed_desc(c.ram, VQ_DESC, 3, VQ_BUF, 8, 3, VRING_DESC_F_WRITE, true);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 0), 0);
    CHECK(!virtqueue_should_notify(&c.vq));
    /* Our side: disable, then enable with the event at next_avail. */
    virtqueue_disable_notification(&c.vq);
    CHECK_EQ(get16(c.ram, VQ_USED + 2), VRING_PACKED_EVENT_FLAG_DISABLE);
    CHECK(!virtqueue_enable_notification(&c.vq));
    CHECK_EQ(get16(c.ram, VQ_USED + 2), VRING_PACKED_EVENT_FLAG_DESC);
    CHECK_EQ(get16(c.ram, VQ_USED), 4 | 0x8000);
    teardown(&c);
}

static void expect_packed_broken(void (*build)(uint8_t *ram), const char *why)
{
    Ctx c;
    REQUIRE(setup(&c, true, false));
    build(c.ram);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), -1);
    if (!c.vq.error || !strstr(c.vq.error, why))
        test_fail_(__FILE__, __LINE__, "expected '%s', got '%s'", why,
                   c.vq.error ? c.vq.error : "(none)");
    teardown(&c);
}

static void packed_endless_chain(uint8_t *ram)
{
    for (unsigned i = 0; i < QSIZE; i++)
        packed_desc(ram, VQ_DESC, i, VQ_BUF, 8, 0, VRING_DESC_F_NEXT, true);
}

static void packed_nested_indirect(uint8_t *ram)
{
    packed_raw(ram, VQ_IND, 0, VQ_IND, 16, VRING_DESC_F_INDIRECT);
    packed_desc(ram, VQ_DESC, 0, VQ_IND, 16, 0, VRING_DESC_F_INDIRECT, true);
}

static void packed_chain_into_unavailable(uint8_t *ram)
{
    packed_desc(ram, VQ_DESC, 0, VQ_BUF, 8, 0, VRING_DESC_F_NEXT, true);
    packed_desc(ram, VQ_DESC, 1, VQ_BUF, 8, 0, 0, false);
}

static void packed_outside_ram(uint8_t *ram)
{
    packed_desc(ram, VQ_DESC, 0, 1ull << 40, 8, 0, 0, true);
}

static void packed_wrong_order(uint8_t *ram)
{
    packed_desc(ram, VQ_DESC, 0, VQ_BUF, 8, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, true);
    packed_desc(ram, VQ_DESC, 1, VQ_BUF, 8, 0, 0, true);
}

TEST(packed_hostile_rings_break_the_queue)
{
    expect_packed_broken(packed_endless_chain, "longer than the queue");
    expect_packed_broken(packed_nested_indirect, "inside an indirect");
    expect_packed_broken(packed_chain_into_unavailable, "not made available");
    expect_packed_broken(packed_outside_ram, "outside RAM");
    expect_packed_broken(packed_wrong_order, "device-readable buffer after");
}

/* ---- the atomic-access rule: ring words as single aligned 16-bit accesses ---- */
#define REC_BASE 0xd0000000ull
#define REC_MAX 64

typedef struct RecRing {
    uint8_t mem[0x1000];
    struct { hwaddr addr; unsigned size; bool write; } log[REC_MAX];
    unsigned n;
} RecRing;

static void rec_log(RecRing *r, hwaddr addr, unsigned size, bool write)
{
    if (r->n < REC_MAX) {
        r->log[r->n].addr = addr, r->log[r->n].size = size, r->log[r->n].write = write;
        r->n++;
    }
}

static MemTxResult ring_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    RecRing *r = opaque;
    rec_log(r, addr, size, false);
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)r->mem[addr + i] << (8 * i);
    *data = v;
    return MEMTX_OK;
}

static MemTxResult ring_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    RecRing *r = opaque;
    rec_log(r, addr, size, true);
    for (unsigned i = 0; i < size; i++)
        r->mem[addr + i] = (uint8_t)(data >> (8 * i));
    return MEMTX_OK;
}

static const MemoryRegionOps ring_ops = {
    .read = ring_read, .write = ring_write,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* Index of the first logged access to [addr, addr + 2) (or REC_MAX). */
static unsigned first_access(const RecRing *r, hwaddr addr, bool write)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->log[i].write == write && r->log[i].addr <= addr &&
            r->log[i].addr + r->log[i].size > addr)
            return i;
    return REC_MAX;
}

TEST(split_ring_words_are_single_aligned_16bit_accesses_in_order)
{
    Ctx c;
    REQUIRE(setup(&c, false, true));
    RecRing *rec = calloc(1, sizeof(*rec));
    REQUIRE(rec);
    MemoryRegion *mr = memory_region_new_io("rec-ring", 0x1000, &ring_ops, rec);
    memory_region_add_subregion(c.f.vm.sysmem, REC_BASE, mr);
    const hwaddr avail = 0x100, used = 0x200;
    virtqueue_init(&c.vq, c.d, "rec", QSIZE, false, true, false, VQ_DESC, REC_BASE + avail,
                   REC_BASE + used);
    split_desc(c.ram, VQ_DESC, 2, VQ_BUF, 8, VRING_DESC_F_WRITE, 0);
    put16(rec->mem, avail + 4, 2);
    put16(rec->mem, avail + 2, 1);
    CHECK_EQ(virtqueue_pop(&c.vq, c.e), 1);
    CHECK_EQ(c.e->id, 2);
    CHECK_EQ(virtqueue_push(&c.vq, c.e, 8), 0);
    CHECK(virtqueue_should_notify(&c.vq));
    CHECK(!virtqueue_enable_notification(&c.vq));
    /* Every access to an index, flags or event word is one aligned 2-byte access. */
    const hwaddr words[] = { avail + 2, avail + 4 + 2 * QSIZE, used + 2, used + 4 + 8 * QSIZE };
    for (unsigned i = 0; i < rec->n; i++)
        for (unsigned w = 0; w < 4; w++)
            if (rec->log[i].addr <= words[w] + 1 && rec->log[i].addr + rec->log[i].size > words[w]) {
                CHECK_EQ(rec->log[i].addr, words[w]);
                CHECK_EQ(rec->log[i].size, 2);
            }
    /* avail->idx is read before the ring entry it publishes ... */
    CHECK(first_access(rec, avail + 2, false) < first_access(rec, avail + 4, false));
    /* ... the used element is written before used->idx ... */
    unsigned idx_store = first_access(rec, used + 2, true);
    CHECK(idx_store < REC_MAX);
    CHECK(first_access(rec, used + 4, true) < idx_store);
    CHECK(first_access(rec, used + 8, true) < idx_store);
    CHECK_EQ(get16(rec->mem, used + 2), 1);
    /* ... and re-enabling writes avail_event, then reads avail->idx again. */
    unsigned ev = first_access(rec, used + 4 + 8 * QSIZE, true);
    CHECK(ev < REC_MAX);
    bool reread = false;
    for (unsigned i = ev + 1; i < rec->n; i++)
        reread |= !rec->log[i].write && rec->log[i].addr == avail + 2;
    CHECK(reread);
    memory_region_del_subregion(c.f.vm.sysmem, mr);
    memory_region_unref(mr);
    teardown(&c);
    free(rec);
}
