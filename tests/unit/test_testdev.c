/* The integration test device, debug-exit and the i8042 reset, driven through
 * the address spaces as a vCPU would, on a fake VM (no KVM). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/testdev.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"

struct td_test {
    struct fake_vm f;
    char path[64];
    char log[4096];
};

static bool setup(struct td_test *t)
{
    fake_vm_init(&t->f);
    strcpy(t->path, "/tmp/minivmm-test-testdev-XXXXXX");
    int fd = mkstemp(t->path);
    if (fd < 0)
        return false;
    close(fd);
    char spec[80];
    snprintf(spec, sizeof(spec), "log=%s", t->path);
    Device *td = testdev_new(&t->f.vm, spec);
    return td && device_realize(td) == 0;
}

/* The whole log so far. */
static const char *log_text(struct td_test *t)
{
    int fd = open(t->path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, t->log, sizeof(t->log) - 1) : -1;
    if (fd >= 0)
        close(fd);
    t->log[n > 0 ? n : 0] = '\0';
    return t->log;
}

static void teardown(struct td_test *t)
{
    fake_vm_destroy(&t->f);
    unlink(t->path);
}

#define CHECK_LOG(t, expected)                                                 \
    do {                                                                       \
        const char *log_ = log_text(t);                                        \
        if (strcmp(log_, expected))                                            \
            test_fail_(__FILE__, __LINE__, "log is\n%s\nexpected\n%s", log_, expected); \
    } while (0)

TEST(testdev_mmio_widths)
{
    struct td_test t;
    REQUIRE(setup(&t));
    AddressSpace *as = t.f.vm.as_mem;
    const hwaddr base = LAYOUT_TESTDEV_MMIO;
    MemTxResult res;
    CHECK_EQ(address_space_ldub(as, base + 0x10, &res), 0xb5);
    CHECK_EQ(res, MEMTX_OK);
    CHECK_EQ(address_space_lduw_le(as, base + 0x2, &res), 0xa6a7);
    CHECK_EQ(address_space_ldl_le(as, base + 0x3, &res), 0xa3a0a1a6);   /* unaligned */
    CHECK_EQ(address_space_ldq_le(as, base + 0x100, &res), 0xa2a3a0a1a6a7a4a5ull);
    CHECK_EQ(address_space_stb(as, base + 0xfff, 0x7f), MEMTX_OK);
    CHECK_EQ(address_space_stw_le(as, base + 0x20, 0x1234), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, base + 0x10, 0x11223344), MEMTX_OK);
    CHECK_EQ(address_space_stq_le(as, base + 0x9, 0x0102030405060708ull), MEMTX_OK);
    CHECK_LOG(&t, "mmio read off=0x10 size=1 val=0xb5\n"
                  "mmio read off=0x2 size=2 val=0xa6a7\n"
                  "mmio read off=0x3 size=4 val=0xa3a0a1a6\n"
                  "mmio read off=0x100 size=8 val=0xa2a3a0a1a6a7a4a5\n"
                  "mmio write off=0xfff size=1 val=0x7f\n"
                  "mmio write off=0x20 size=2 val=0x1234\n"
                  "mmio write off=0x10 size=4 val=0x11223344\n"
                  "mmio write off=0x9 size=8 val=0x102030405060708\n");
    teardown(&t);
}

TEST(testdev_pio_widths_and_mark)
{
    struct td_test t;
    REQUIRE(setup(&t));
    AddressSpace *as = t.f.vm.as_io;
    MemTxResult res;
    CHECK_EQ(address_space_ldub(as, LAYOUT_TESTDEV_PIO + 7, &res), 0xa2);
    CHECK_EQ(address_space_lduw_le(as, LAYOUT_TESTDEV_PIO + 2, &res), 0xa6a7);
    CHECK_EQ(address_space_ldl_le(as, LAYOUT_TESTDEV_PIO + 1, &res), 0xa1a6a7a4);
    CHECK_EQ(res, MEMTX_OK);
    CHECK_EQ(address_space_stb(as, LAYOUT_TESTDEV_PIO, 0x5), MEMTX_OK);
    CHECK_EQ(address_space_stw_le(as, LAYOUT_TESTDEV_PIO + 4, 0xbeef), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, LAYOUT_TESTDEV_PIO + 4, 0xcafef00d), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, TESTDEV_PORT_MARK, 3), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, TESTDEV_PORT_CTRL, 0x63), MEMTX_OK);
    /* The control and mark ports take 32-bit writes only. */
    CHECK_EQ(address_space_stb(as, TESTDEV_PORT_MARK, 4), MEMTX_ACCESS_ERROR);
    CHECK_LOG(&t, "pio read port=0xe07 size=1 val=0xa2\n"
                  "pio read port=0xe02 size=2 val=0xa6a7\n"
                  "pio read port=0xe01 size=4 val=0xa1a6a7a4\n"
                  "pio write port=0xe00 size=1 val=0x5\n"
                  "pio write port=0xe04 size=2 val=0xbeef\n"
                  "pio write port=0xe04 size=4 val=0xcafef00d\n"
                  "mark 0x3\n"
                  "bad command 0x63\n");
    teardown(&t);
}

static void check_rom_image(struct td_test *t, unsigned n)
{
    uint8_t code[6];
    uint8_t expect[6] = { 0xb8, 0, 0, 0, 0, 0xc3 };
    uint32_t magic = TESTDEV_ROM_MAGIC(n);
    memcpy(&expect[1], &magic, 4);   /* little-endian host */
    CHECK_EQ(address_space_read(t->f.vm.as_mem, LAYOUT_TESTDEV_ROM, code, 6), MEMTX_OK);
    CHECK(!memcmp(code, expect, 6));
    MemTxResult res;
    CHECK_EQ(address_space_ldl_le(t->f.vm.as_mem, LAYOUT_TESTDEV_ROM + 1, &res), magic);
    CHECK_EQ(address_space_ldq_le(t->f.vm.as_mem, LAYOUT_TESTDEV_ROM + 0x20, &res), 0);
}

TEST(testdev_rom_device)
{
    struct td_test t;
    REQUIRE(setup(&t));
    AddressSpace *as = t.f.vm.as_mem;
    MemTxResult res;
    check_rom_image(&t, 1);
    /* romd mode: reads come from memory and are not logged; writes go to the
     * device and leave memory alone. */
    CHECK_EQ(address_space_stb(as, LAYOUT_TESTDEV_ROM + 0x20, 0x7f), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(as, LAYOUT_TESTDEV_ROM + 1, 0xdeadbeef), MEMTX_OK);
    check_rom_image(&t, 1);

    /* romd off: reads go to the device too. */
    CHECK_EQ(address_space_stl_le(t.f.vm.as_io, TESTDEV_PORT_CTRL, TESTDEV_CMD_ROMD_OFF),
             MEMTX_OK);
    CHECK_EQ(address_space_ldl_le(as, LAYOUT_TESTDEV_ROM, &res), 0x5a5a5a5a);
    CHECK_EQ(address_space_ldub(as, LAYOUT_TESTDEV_ROM + 0xffff, &res), 0x5a);
    CHECK_EQ(address_space_stw_le(t.f.vm.as_io, TESTDEV_PORT_MARK, 1), MEMTX_ACCESS_ERROR);
    CHECK_EQ(address_space_stl_le(t.f.vm.as_io, TESTDEV_PORT_CTRL, TESTDEV_CMD_ROMD_ON),
             MEMTX_OK);
    check_rom_image(&t, 1);

    /* A new backing with image 2. */
    CHECK_EQ(address_space_stl_le(t.f.vm.as_io, TESTDEV_PORT_CTRL, TESTDEV_CMD_ROM_SWAP),
             MEMTX_OK);
    check_rom_image(&t, 2);
    CHECK_LOG(&t, "rom write off=0x20 size=1 val=0x7f\n"
                  "rom write off=0x1 size=4 val=0xdeadbeef\n"
                  "rom read off=0x0 size=4 val=0x5a5a5a5a\n"
                  "rom read off=0xffff size=1 val=0x5a\n");
    teardown(&t);
}

TEST(testdev_bad_specs)
{
    struct fake_vm f;
    fake_vm_init(&f);
    CHECK(testdev_new(&f.vm, "foo") == NULL);
    CHECK(testdev_new(&f.vm, "log=") == NULL);
    CHECK(testdev_new(&f.vm, "path=/tmp/x") == NULL);
    Device *td = testdev_new(&f.vm, "log=/nonexistent-dir/log");
    REQUIRE(td);
    CHECK_EQ(device_realize(td), -1);
    /* Nothing was mapped. */
    MemTxResult res;
    CHECK_EQ(address_space_ldub(f.vm.as_io, LAYOUT_TESTDEV_PIO, &res), 0xff);
    CHECK_EQ(res, MEMTX_DECODE_ERROR);
    fake_vm_destroy(&f);
}

/* ---- debug-exit ------------------------------------------------------------ */

static int debug_exit_status(unsigned size, uint32_t value)
{
    struct fake_vm f;
    fake_vm_init(&f);
    Device *d = debug_exit_new(&f.vm, 0xf4);
    CHECK(d && device_realize(d) == 0);
    CHECK(!f.vm.exit_requested);
    uint8_t bytes[4];
    memcpy(bytes, &value, 4);
    CHECK_EQ(address_space_write(f.vm.as_io, 0xf4, bytes, size), MEMTX_OK);
    int status = f.vm.exit_requested ? f.vm.exit_status : -1;
    fake_vm_destroy(&f);
    return status;
}

TEST(debug_exit_status)
{
    CHECK_EQ(debug_exit_status(1, 0), 1);
    CHECK_EQ(debug_exit_status(1, 0x10), 0x21);
    CHECK_EQ(debug_exit_status(2, 0x3e), 0x7d);
    CHECK_EQ(debug_exit_status(4, 0x7f), 0xff);
    CHECK_EQ(debug_exit_status(4, 0x80), 0x01);       /* only 8 bits survive exit() */
    CHECK_EQ(debug_exit_status(4, 0x12345678), 0xf1);
}

TEST(debug_exit_first_request_wins_and_reads)
{
    struct fake_vm f;
    fake_vm_init(&f);
    Device *d = debug_exit_new(&f.vm, 0x501);
    REQUIRE(d && device_realize(d) == 0);
    MemTxResult res;
    CHECK_EQ(address_space_ldub(f.vm.as_io, 0x501, &res), 0xff);
    CHECK_EQ(address_space_lduw_le(f.vm.as_io, 0x501, &res), 0xffff);
    CHECK(!f.vm.exit_requested);
    address_space_stb(f.vm.as_io, 0x501, 2);
    address_space_stb(f.vm.as_io, 0x501, 3);
    CHECK_EQ(f.vm.exit_status, 5);
    CHECK(debug_exit_new(&f.vm, 0xfffe) == NULL);
    fake_vm_destroy(&f);
}

/* ---- i8042 ----------------------------------------------------------------- */

TEST(i8042_reset)
{
    struct fake_vm f;
    fake_vm_init(&f);
    Device *kbc = i8042_new(&f.vm);
    REQUIRE(kbc && device_realize(kbc) == 0);
    AddressSpace *as = f.vm.as_io;
    MemTxResult res;
    CHECK_EQ(address_space_ldub(as, 0x64, &res) & 0x03, 0);   /* both buffers empty */
    CHECK_EQ(address_space_ldub(as, 0x64, &res) & 0x04, 0x04); /* system flag */
    CHECK_EQ(address_space_ldub(as, 0x60, &res), 0);
    address_space_stb(as, 0x64, 0x20);    /* read the command byte: ignored */
    CHECK_EQ(address_space_ldub(as, 0x64, &res) & 0x08, 0x08);
    address_space_stb(as, 0x60, 0x00);
    CHECK_EQ(address_space_ldub(as, 0x64, &res) & 0x08, 0);
    address_space_stb(as, 0x64, 0xff);    /* pulse nothing */
    CHECK(!f.vm.exit_requested);
    address_space_stb(as, 0x64, 0xfe);    /* pulse the reset line */
    CHECK(f.vm.exit_requested);
    CHECK_EQ(f.vm.exit_status, EXIT_REBOOT);
    fake_vm_destroy(&f);
}

/* ---- instances, teardown, clashes ------------------------------------------ */

/* Two VMs with every device at once, many times over: each VM's devices act on
 * that VM only, and destroying one leaves nothing mapped behind. */
TEST(devices_on_many_vms)
{
    for (int round = 0; round < 10; round++) {
        struct td_test a, b;
        REQUIRE(setup(&a));
        REQUIRE(setup(&b));
        Device *ka = i8042_new(&a.f.vm), *db = debug_exit_new(&b.f.vm, 0xf4);
        REQUIRE(ka && device_realize(ka) == 0 && db && device_realize(db) == 0);
        CHECK_EQ(address_space_stl_le(a.f.vm.as_io, TESTDEV_PORT_MARK, 1), MEMTX_OK);
        CHECK_EQ(address_space_stl_le(b.f.vm.as_io, TESTDEV_PORT_MARK, 2), MEMTX_OK);
        CHECK_LOG(&a, "mark 0x1\n");
        CHECK_LOG(&b, "mark 0x2\n");
        address_space_stb(a.f.vm.as_io, 0x64, 0xfe);
        CHECK(a.f.vm.exit_requested && !b.f.vm.exit_requested);
        address_space_stb(b.f.vm.as_io, 0xf4, 1);
        CHECK_EQ(b.f.vm.exit_status, 3);
        /* Destroyed devices are unmapped: their ports read as unassigned. */
        vm_devices_destroy(&a.f.vm);
        MemTxResult res;
        CHECK_EQ(address_space_ldub(a.f.vm.as_io, 0x64, &res), 0xff);
        CHECK_EQ(res, MEMTX_DECODE_ERROR);
        CHECK_EQ(a.f.vm.as_io->root->nr_subregions, 0);
        CHECK_EQ(a.f.vm.as_mem->root->nr_subregions, 0);
        teardown(&a);
        teardown(&b);
    }
}

/* A device on another's port (or an address already taken) is refused with
 * one error; devices_create turns that into a failed start. */
TEST(device_port_clashes_are_refused)
{
    struct fake_vm f;
    fake_vm_init(&f);
    f.cfg.debug_exit_port = 0x3fc;          /* inside COM1's 0x3f8-0x3ff */
    CHECK_EQ(devices_create(&f.vm, &f.cfg), -1);
    fake_vm_destroy(&f);

    fake_vm_init(&f);
    f.cfg.debug_exit_port = 0x3c0;          /* the ACPI PM registers */
    CHECK_EQ(devices_create(&f.vm, &f.cfg), -1);
    fake_vm_destroy(&f);

    fake_vm_init(&f);
    Device *d1 = debug_exit_new(&f.vm, 0x500), *d2 = debug_exit_new(&f.vm, 0x502);
    REQUIRE(d1 && d2);
    CHECK_EQ(device_realize(d1), 0);
    CHECK_EQ(device_realize(d2), -1);       /* 0x502-0x505 overlaps 0x500-0x503 */
    Device *d3 = debug_exit_new(&f.vm, 0x504);
    CHECK(d3 && device_realize(d3) == 0);   /* adjacent is fine */
    fake_vm_destroy(&f);

    fake_vm_init(&f);
    CHECK_EQ(devices_create(&f.vm, &f.cfg), 0);   /* the defaults do not clash */
    CHECK(vm_find_device(&f.vm, "com1") && vm_find_device(&f.vm, "acpi-pm"));
    fake_vm_destroy(&f);
}
