/* The vfio-user client and the VFIO PCI model end to end against our test
 * server (tests/vfio_user_server/server.c) running in a thread on a
 * socketpair: IDs, layered BARs, exact widths, MSI-X through eventfds, DMA
 * into guest RAM, a server that goes away, a server of another version. */
#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/rcu.h"

#include "devices/vfio/vfio_internal.h"
#include "vmm/irq.h"
#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"
#include "tests/vfio_user_server/server.c"

struct srv {
    int fds[2];
    pthread_t thread;
    FILE *log;
    uint16_t major;
};

static void *srv_main(void *opaque)
{
    struct srv *s = opaque;
    test_server_serve(s->fds[1], s->log, s->major);
    close(s->fds[1]);
    return NULL;
}

static bool srv_start(struct srv *s, uint16_t major)
{
    s->major = major;
    s->log = tmpfile();
    return s->log && !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->fds) &&
           !pthread_create(&s->thread, NULL, srv_main, s);
}

struct rig {
    struct fake_vm f;
    struct srv s;
    PCIDevice *d;
    uint64_t bar;
};

static bool rig_up(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    if (!pci_vm_init(&r->f) || irq_routes_init(&r->f.vm) || !srv_start(&r->s, VFU_MAJOR))
        return false;
    VFIOBackend *be = vfio_user_connect_fd(r->s.fds[0], "test-socket");
    if (!be || vfio_pci_create(&r->f.vm, be, "vfu0"))
        return false;
    r->d = (PCIDevice *)vm_find_device(&r->f.vm, "vfu0");
    cf8_write(&r->f.vm, r->d->devfn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    r->bar = pci_bar_address(r->d, 0);
    return r->bar != PCI_BAR_UNMAPPED;
}

static void rig_down(struct rig *r)
{
    pci_vm_destroy(&r->f);   /* closes the client's socket: the server ends */
    irq_routes_free(&r->f.vm);
    pthread_join(r->s.thread, NULL);
    fclose(r->s.log);
}

TEST(ids_and_bar_seen_through_config_space)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    uint8_t dfn = r.d->devfn;
    CHECK_EQ(cf8_read(&r.f.vm, dfn, PCI_VENDOR_ID, 4), 0x56781234);
    CHECK_EQ(cf8_read(&r.f.vm, dfn, PCI_CLASS_REVISION, 4), 0xff000001);
    CHECK_EQ(cf8_read(&r.f.vm, dfn, PCI_INTERRUPT_PIN, 1), 1);
    /* BAR sizing is ours: all-ones reads back the size mask. */
    uint32_t old = cf8_read(&r.f.vm, dfn, PCI_BASE_ADDRESS_0, 4);
    cf8_write(&r.f.vm, dfn, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    CHECK_EQ(cf8_read(&r.f.vm, dfn, PCI_BASE_ADDRESS_0, 4), 0xffff8000);
    cf8_write(&r.f.vm, dfn, PCI_BASE_ADDRESS_0, old, 4);
    /* The capability list is the device's, the MSI-X body ours. */
    CHECK_EQ(cf8_read(&r.f.vm, dfn, PCI_CAPABILITY_LIST, 1), 0x40);
    CHECK_EQ(cf8_read(&r.f.vm, dfn, 0x40, 4), 0x00030011);
    /* The expansion ROM is absent. */
    cf8_write(&r.f.vm, dfn, PCI_ROM_ADDRESS, 0xfffff800, 4);
    CHECK_EQ(cf8_read(&r.f.vm, dfn, PCI_ROM_ADDRESS, 4), 0);
    rig_down(&r);
}

/* After flattening: the data page and the page-aligned tail are device
 * memory; the registers, the MSI-X table and PBA and the sub-page pieces of
 * the second area are where the layering puts them. */
TEST(bar_layers_flatten_around_msix)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    struct { uint64_t off; MemoryRegionType type; const char *suffix; } want[] = {
        { 0x0000, MR_RAM_DEVICE, "mmap@0x0" }, { 0x1000, MR_MMIO, "bar0 io" },
        { 0x4000, MR_MMIO, "msix-table" },     { 0x4040, MR_RAM_DEVICE, "mmap@0x4000" },
        { 0x4800, MR_MMIO, "msix-pba" },       { 0x4808, MR_RAM_DEVICE, "mmap@0x4000" },
        { 0x7ff8, MR_RAM_DEVICE, "mmap@0x4000" },
    };
    rcu_read_lock();
    FlatView *fv = address_space_get_flatview(r.f.vm.as_mem);
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const FlatRange *fr = flatview_lookup(fv, r.bar + want[i].off);
        REQUIRE(fr);
        CHECK_EQ(fr->mr->type, want[i].type);
        CHECK(g_str_has_suffix(fr->mr->name, want[i].suffix));
    }
    const FlatRange *tail = flatview_lookup(fv, r.bar + 0x4808);
    CHECK_EQ(tail->addr, r.bar + 0x4808);
    CHECK_EQ(tail->addr + tail->size, r.bar + 0x8000);
    rcu_read_unlock();
    /* The mtree dump shows the layers and their priorities. */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    AddressSpace *as[] = { r.f.vm.as_mem };
    memory_dump_mtree(out, as, 1);
    fclose(out);
    CHECK(strstr(buf, "vfu0 bar0 io"));
    CHECK(strstr(buf, "vfu0 bar0 mmap@0x4000"));
    free(buf);
    rig_down(&r);
}

static unsigned log_lines(FILE *log, char lines[][64], unsigned max)
{
    fflush(log);
    rewind(log);
    unsigned n = 0;
    while (n < max && fgets(lines[n], 64, log))
        lines[n][strcspn(lines[n], "\n")] = 0, n++;
    return n;
}

TEST(register_accesses_arrive_with_their_exact_width_in_order)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    AddressSpace *as = r.f.vm.as_mem;
    uint64_t regs = r.bar + 0x1000;
    MemTxResult res;
    CHECK_EQ(address_space_stq_le(as, regs, 0x1122334455667788ull), MEMTX_OK);
    CHECK_EQ(address_space_stb(as, regs + 1, 0xaa), MEMTX_OK);
    CHECK_EQ(address_space_stw_le(as, regs + 2, 0xbbcc), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, regs + 4, 0xddeeff00), MEMTX_OK);
    CHECK_EQ(address_space_ldq_le(as, regs, &res), 0xddeeff00bbccaa88ull);
    CHECK_EQ(address_space_ldl_le(as, regs + 8, &res), 0x56535255);
    CHECK_EQ(address_space_lduw_le(as, regs + 8, &res), 0x5255);
    CHECK_EQ(address_space_ldub(as, regs + 11, &res), 0x56);
    char lines[16][64];
    unsigned n = log_lines(r.s.log, lines, 16);
    const char *want[] = {
        "W 0x0 8 0x1122334455667788", "W 0x1 1 0xaa", "W 0x2 2 0xbbcc", "W 0x4 4 0xddeeff00",
        "R 0x0 8 0xddeeff00bbccaa88", "R 0x8 4 0x56535255", "R 0x8 2 0x5255", "R 0xb 1 0x56",
    };
    CHECK_EQ(n, 8);
    for (unsigned i = 0; i < n && i < 8; i++)
        if (strcmp(lines[i], want[i]))
            test_fail_(__FILE__, __LINE__, "log line %u: '%s', expected '%s'", i, lines[i],
                       want[i]);
    rig_down(&r);
}

TEST(mapped_parts_reach_the_server_memory)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    AddressSpace *as = r.f.vm.as_mem;
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x10, 0xcafef00d), MEMTX_OK);
    /* a sub-page piece beside the MSI-X table: dispatched, exact width */
    CHECK_EQ(address_space_stw_le(as, r.bar + 0x4042, 0x1234), MEMTX_OK);
    CHECK_EQ(address_space_stq_le(as, r.bar + 0x6000, 0x0102030405060708ull), MEMTX_OK);
    uint32_t v;
    memcpy(&v, test_server_bar() + 0x10, 4);
    CHECK_EQ(v, 0xcafef00d);
    uint16_t w;
    memcpy(&w, test_server_bar() + 0x4042, 2);
    CHECK_EQ(w, 0x1234);
    MemTxResult res;
    CHECK_EQ(address_space_ldq_le(as, r.bar + 0x6000, &res), 0x0102030405060708ull);
    rig_down(&r);
}

static bool wait_msis(unsigned n)
{
    for (int i = 0; i < 2000 && __atomic_load_n(&nr_msis, __ATOMIC_ACQUIRE) < n; i++)
        usleep(1000);
    return nr_msis >= n;
}

TEST(msix_vector_through_its_eventfd_with_mask_and_pending)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    struct vm *vm = &r.f.vm;
    AddressSpace *as = vm->as_mem;
    uint8_t dfn = r.d->devfn;
    /* entry 1: address/data, unmasked; MSI-X on */
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x4010, 0xfee00000), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x4018, 0x41), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x401c, 0), MEMTX_OK);
    cf8_write(vm, dfn, 0x42, PCI_MSIX_FLAGS_ENABLE, 2);
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x1024, 1), MEMTX_OK);
    REQUIRE(wait_msis(1));
    CHECK_EQ(msis[0].address, 0xfee00000);
    CHECK_EQ(msis[0].data, 0x41);
    /* the vector has an MSI route for its irqfd, holding the table's message */
    VFIOPCIDevice *v = (VFIOPCIDevice *)r.d;
    MSIMessage m;
    REQUIRE(v->vectors[1].gsi >= 0);
    CHECK_EQ(irq_route_lookup(vm, v->vectors[1].gsi, &m), 1);
    CHECK_EQ(m.data, 0x41);
    CHECK(v->vectors[0].gsi < 0);   /* entry 0 is still masked */
    /* masked: pending bit, delivered on unmask */
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x401c, 1), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x1024, 1), MEMTX_OK);
    MemTxResult res;
    for (int i = 0; i < 2000 && !(address_space_ldl_le(as, r.bar + 0x4800, &res) & 2); i++)
        usleep(1000);
    CHECK_EQ(address_space_ldl_le(as, r.bar + 0x4800, &res), 2);
    CHECK_EQ(nr_msis, 1);
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x401c, 0), MEMTX_OK);
    CHECK_EQ(nr_msis, 2);
    CHECK_EQ(address_space_ldl_le(as, r.bar + 0x4800, &res), 0);
    rig_down(&r);
}

TEST(device_dma_into_guest_ram_through_the_shared_memfd)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    AddressSpace *as = r.f.vm.as_mem;
    uint64_t regs = r.bar + 0x1000;
    for (unsigned i = 0; i < 64; i += 8)
        address_space_stq_le(as, r.bar + i, 0x5a5a000000000000ull | i);
    address_space_stq_le(as, regs + 0x10, 0x20000);
    address_space_stl_le(as, regs + 0x18, 64);
    address_space_stl_le(as, regs + 0x1c, 1);
    MemTxResult res;
    CHECK_EQ(address_space_ldl_le(as, regs + 0x20, &res), 0);
    CHECK_EQ(address_space_ldq_le(as, 0x20000 + 8, &res), 0x5a5a000000000008ull);
    /* beyond RAM: nothing mapped there, the device's DMA fails */
    address_space_stq_le(as, regs + 0x10, 1ull << 40);
    address_space_stl_le(as, regs + 0x1c, 1);
    CHECK_EQ(address_space_ldl_le(as, regs + 0x20, &res), 1);
    rig_down(&r);
}

TEST(server_gone_reads_all_ones_and_the_vmm_keeps_running)
{
    struct rig r;
    REQUIRE(rig_up(&r));
    AddressSpace *as = r.f.vm.as_mem;
    MemTxResult res;
    CHECK_EQ(address_space_ldl_le(as, r.bar + 0x1008, &res), 0x56535255);
    shutdown(r.s.fds[1], SHUT_RDWR);
    pthread_join(r.s.thread, NULL);
    CHECK_EQ(address_space_ldl_le(as, r.bar + 0x1008, &res), 0xffffffff);
    CHECK_EQ(address_space_ldq_le(as, r.bar + 0x1000, &res), UINT64_MAX);
    CHECK_EQ(address_space_stl_le(as, r.bar + 0x1000, 1), MEMTX_OK);
    CHECK_EQ(cf8_read(&r.f.vm, r.d->devfn, PCI_STATUS, 2), 0xffff);
    pci_vm_destroy(&r.f);
    irq_routes_free(&r.f.vm);
    fclose(r.s.log);
}

TEST(server_of_another_protocol_version_is_refused)
{
    struct srv s;
    REQUIRE(srv_start(&s, 7));
    CHECK(vfio_user_connect_fd(s.fds[0], "test-socket") == NULL);
    pthread_join(s.thread, NULL);
    fclose(s.log);
}

TEST(socket_with_no_server_is_refused)
{
    CHECK(vfio_user_connect("/nonexistent/minivmm-vfio-user.sock") == NULL);
}

/* A server that answers the version properly, then lies: a device-info reply
 * shorter than its header says, then closes. The client gives up with an
 * error; nothing is created. */
static void *liar_main(void *opaque)
{
    int s = *(int *)opaque;
    uint8_t in[VFU_MAX_MSG], out[256];
    for (int step = 0; step < 2; step++) {
        VFUHeader h;
        if (recv(s, in, VFU_HDR_SIZE, MSG_WAITALL) != VFU_HDR_SIZE ||
            vfu_parse_header(in, VFU_HDR_SIZE, &h) ||
            (h.size > VFU_HDR_SIZE && recv(s, in + VFU_HDR_SIZE, h.size - VFU_HDR_SIZE,
                                           MSG_WAITALL) != (ssize_t)(h.size - VFU_HDR_SIZE)))
            break;
        size_t len = step == 0 ? vfu_build_version(out + VFU_HDR_SIZE, 200) : 4;
        /* step 1: claims 16 bytes of device info, sends 4 and hangs up */
        vfu_put_header(out, &(VFUHeader){ .id = h.id, .cmd = h.cmd, .flags = VFU_TYPE_REPLY,
                                          .size = (uint32_t)(VFU_HDR_SIZE + (step ? 16 : len)) });
        if (send(s, out, VFU_HDR_SIZE + len, MSG_NOSIGNAL) < 0)
            break;
    }
    close(s);
    return NULL;
}

TEST(lying_server_gets_an_error_not_a_crash)
{
    struct fake_vm f;
    REQUIRE(pci_vm_init(&f));
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, liar_main, &sv[1]) == 0);
    VFIOBackend *be = vfio_user_connect_fd(sv[0], "liar");
    REQUIRE(be);
    CHECK(vfio_pci_create(&f.vm, be, "liar0") != 0);
    pthread_join(t, NULL);
    pci_vm_destroy(&f);
}
