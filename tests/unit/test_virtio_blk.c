/* virtio-blk on a raw image in /tmp: reads and writes land on the right
 * sectors, flush, get-id, discard and write-zeroes, ranges checked against
 * the image, read-only images refuse writes, wrong-direction buffers need a
 * reset, the image lock keeps a second writer out, and scattered buffers. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "tests/unit/virtio_driver.h"

#define IMG_SECTORS 128
#define HDR   (VQ_BUF)
#define DATA  (VQ_BUF + 0x1000)
#define STAT  (VQ_BUF + 0x3000)

static char img[64];

static bool make_image(void)
{
    snprintf(img, sizeof(img), "/tmp/minivmm-blk-%d.img", (int)getpid());
    FILE *fp = fopen(img, "w");
    if (!fp)
        return false;
    for (int s = 0; s < IMG_SECTORS; s++)
        for (int i = 0; i < 512; i++)
            fputc(s, fp);
    return fclose(fp) == 0;
}

static bool setup_blk(Drv *v, bool readonly)
{
    memset(v, 0, sizeof(*v));
    if (!make_image() || !pci_vm_init(&v->f) ||
        virtio_blk_init(&v->f.vm, img, readonly, false, "disk0") != 0 || !drv_attach(v))
        return false;
    if (!(drv_negotiate(v, 1ull << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK))
        return false;
    drv_start(v, 8, VIRTIO_NO_VECTOR);
    return true;
}

static void teardown(Drv *v)
{
    pci_vm_destroy(&v->f);
    unlink(img);
}

static uint16_t next_idx;

/* One request: header, an optional data buffer of `len` bytes (device-
 * writable when `data_in`), status. Returns the status byte; *used_len the
 * length the device reported. */
static int blk_req(Drv *v, uint32_t type, uint64_t sector, uint32_t len, bool data_in,
                   uint32_t *used_len)
{
    put32(v->ram, HDR, type);
    put32(v->ram, HDR + 4, 0);
    put64(v->ram, HDR + 8, sector);
    v->ram[STAT] = 0xee;
    unsigned n = 0;
    split_desc(v->ram, VQ_DESC, n, HDR, 16, VRING_DESC_F_NEXT, (uint16_t)(n + 1)), n++;
    if (len)
        split_desc(v->ram, VQ_DESC, n, DATA, len,
                   VRING_DESC_F_NEXT | (data_in ? VRING_DESC_F_WRITE : 0), (uint16_t)(n + 1)), n++;
    split_desc(v->ram, VQ_DESC, n, STAT, 1, VRING_DESC_F_WRITE, 0);
    split_publish(v->ram, 8, next_idx, 0);
    next_idx++;
    drv_kick_and_run(v);
    if (get16(v->ram, VQ_USED + 2) != next_idx)
        return -1;
    if (used_len)
        *used_len = get32(v->ram, VQ_USED + 4 + 8 * ((next_idx - 1) % 8) + 4);
    return v->ram[STAT];
}

static int file_byte(off_t off)
{
    int fd = open(img, O_RDONLY);
    uint8_t b = 0;
    ssize_t r = pread(fd, &b, 1, off);
    close(fd);
    return r == 1 ? b : -1;
}

TEST(blk_config_read_write_flush_id)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    uint32_t lo = drv_mmio_read(&v, VIRTIO_PCI_DEVICE_OFF, 4);
    CHECK_EQ(lo, IMG_SECTORS);                               /* capacity */
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_DEVICE_OFF + 20, 4), 512);   /* blk_size */
    uint32_t used;
    CHECK_EQ(blk_req(&v, 0, 5, 1024, true, &used), 0);       /* read sectors 5-6 */
    CHECK_EQ(used, 1025);
    CHECK_EQ(v.ram[DATA], 5);
    CHECK_EQ(v.ram[DATA + 1023], 6);
    memset(v.ram + DATA, 0xab, 512);
    CHECK_EQ(blk_req(&v, 1, 9, 512, false, &used), 0);       /* write sector 9 */
    CHECK_EQ(used, 1);
    CHECK_EQ(file_byte(9 * 512), 0xab);
    CHECK_EQ(file_byte(9 * 512 + 511), 0xab);
    CHECK_EQ(file_byte(10 * 512), 10);
    CHECK_EQ(blk_req(&v, 4, 0, 0, false, NULL), 0);           /* flush */
    memset(v.ram + DATA, 0, 20);
    CHECK_EQ(blk_req(&v, 8, 0, 20, true, &used), 0);         /* get-id */
    CHECK(!memcmp(v.ram + DATA, "disk0", 6));
    CHECK_EQ(blk_req(&v, 99, 0, 0, false, NULL), 2);         /* unsupported */
    teardown(&v);
}

TEST(blk_ranges_checked_against_the_image)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    CHECK_EQ(blk_req(&v, 0, IMG_SECTORS - 1, 512, true, NULL), 0);
    CHECK_EQ(blk_req(&v, 0, IMG_SECTORS - 1, 1024, true, NULL), 1);
    CHECK_EQ(blk_req(&v, 0, UINT64_MAX, 512, true, NULL), 1);
    CHECK_EQ(blk_req(&v, 1, IMG_SECTORS, 512, false, NULL), 1);
    CHECK_EQ(blk_req(&v, 0, 0, 100, true, NULL), 1);          /* not whole sectors */
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);
    teardown(&v);
}

TEST(blk_discard_and_write_zeroes)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    /* Segment {sector 20, 2 sectors, flags 0} in the data buffer (device-readable). */
    put64(v.ram, DATA, 20);
    put32(v.ram, DATA + 8, 2);
    put32(v.ram, DATA + 12, 0);
    CHECK_EQ(blk_req(&v, 13, 0, 16, false, NULL), 0);        /* write-zeroes */
    CHECK_EQ(file_byte(20 * 512), 0);
    CHECK_EQ(file_byte(22 * 512 - 1), 0);
    CHECK_EQ(file_byte(22 * 512), 22);
    put64(v.ram, DATA, 30);
    CHECK_EQ(blk_req(&v, 11, 0, 16, false, NULL), 0);        /* discard */
    put64(v.ram, DATA, IMG_SECTORS - 1);
    CHECK_EQ(blk_req(&v, 13, 0, 16, false, NULL), 1);        /* past the end */
    teardown(&v);
}

TEST(blk_readonly_refuses_writes)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, true));
    CHECK(drv_device_features(&v) & (1ull << 5));            /* VIRTIO_BLK_F_RO */
    memset(v.ram + DATA, 0xcd, 512);
    CHECK_EQ(blk_req(&v, 1, 3, 512, false, NULL), 1);
    CHECK_EQ(file_byte(3 * 512), 3);
    CHECK_EQ(blk_req(&v, 0, 3, 512, true, NULL), 0);
    CHECK_EQ(v.ram[DATA], 3);
    teardown(&v);
}

TEST(blk_wrong_direction_needs_reset)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    CHECK_EQ(blk_req(&v, 0, 0, 512, false, NULL), -1);       /* read into a readable buffer */
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    teardown(&v);
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    CHECK_EQ(blk_req(&v, 1, 0, 512, true, NULL), -1);        /* write from a writable one */
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    CHECK_EQ(file_byte(0), 0);
    teardown(&v);
}

TEST(blk_image_lock_keeps_a_second_writer_out)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    /* Another VM (another open file description) cannot take it, even read-only. */
    struct fake_vm other;
    REQUIRE(pci_vm_init(&other));
    CHECK(virtio_blk_init(&other.vm, img, false, false, NULL) != 0);
    CHECK(virtio_blk_init(&other.vm, img, true, false, NULL) != 0);
    pci_vm_destroy(&other);
    teardown(&v);
    /* Two readers may share it. */
    REQUIRE(make_image());
    struct fake_vm a, b;
    REQUIRE(pci_vm_init(&a));
    REQUIRE(pci_vm_init(&b));
    CHECK_EQ(virtio_blk_init(&a.vm, img, true, false, NULL), 0);
    CHECK_EQ(virtio_blk_init(&b.vm, img, true, false, NULL), 0);
    pci_vm_destroy(&a);
    pci_vm_destroy(&b);
    unlink(img);
}

TEST(blk_host_io_error_reaches_the_guest_as_ioerr)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    /* The image shrinks under the device: a read past its new end fails on the host. */
    REQUIRE(truncate(img, 16 * 512) == 0);
    uint32_t used = 0;
    CHECK_EQ(blk_req(&v, 0, 100, 512, true, &used), 1);
    CHECK_EQ(used, 1);
    CHECK_EQ(blk_req(&v, 0, 1, 512, true, NULL), 0);         /* the device keeps serving */
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);
    teardown(&v);
}

/* Data in two descriptors, one across a page boundary: each byte lands where
 * its descriptor says (the image is read and written straight on guest pages). */
TEST(blk_scattered_data_buffers)
{
    Drv v;
    next_idx = 0;
    REQUIRE(setup_blk(&v, false));
    for (int pass = 0; pass < 2; pass++) {
        bool in = pass == 0;
        put32(v.ram, HDR, in ? 0 : 1);
        put32(v.ram, HDR + 4, 0);
        put64(v.ram, HDR + 8, in ? 40 : 50);
        v.ram[STAT] = 0xee;
        if (!in) {
            memset(v.ram + DATA + 0xf00, 0x61, 0x200);
            memset(v.ram + DATA + 0x1800, 0x62, 0x400);
        }
        uint16_t w = in ? VRING_DESC_F_WRITE : 0;
        split_desc(v.ram, VQ_DESC, 0, HDR, 16, VRING_DESC_F_NEXT, 1);
        split_desc(v.ram, VQ_DESC, 1, DATA + 0xf00, 0x200, VRING_DESC_F_NEXT | w, 2);
        split_desc(v.ram, VQ_DESC, 2, DATA + 0x1800, 0x400, VRING_DESC_F_NEXT | w, 3);
        split_desc(v.ram, VQ_DESC, 3, STAT, 1, VRING_DESC_F_WRITE, 0);
        split_publish(v.ram, 8, next_idx, 0);
        next_idx++;
        drv_kick_and_run(&v);
        CHECK_EQ(get16(v.ram, VQ_USED + 2), next_idx);
        CHECK_EQ(v.ram[STAT], 0);
        if (in) {   /* sector 40 in the first buffer, 41-42 in the second */
            CHECK_EQ(v.ram[DATA + 0xeff], 0);
            CHECK(v.ram[DATA + 0xf00] == 40 && v.ram[DATA + 0x10ff] == 40);
            CHECK(v.ram[DATA + 0x1800] == 41 && v.ram[DATA + 0x1bff] == 42);
        }
    }
    /* Write: sector 50 from the first, 51-52 from the second, 53 untouched. */
    CHECK(file_byte(50 * 512) == 0x61 && file_byte(51 * 512 - 1) == 0x61);
    CHECK(file_byte(51 * 512) == 0x62 && file_byte(53 * 512 - 1) == 0x62);
    CHECK_EQ(file_byte(53 * 512), 53);
    teardown(&v);
}
