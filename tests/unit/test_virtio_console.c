/* virtio-console (virtio/console.c) with its output in a file: the device's
 * identity, output from the transmit queue (chained and indirect-free
 * buffers, in order), a hostile transmit buffer (device-writable) and the
 * option parser. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/options.h"

#define F(bit) (1ull << (bit))

static char out_path[64];

static bool setup(Drv *v)
{
    memset(v, 0, sizeof(*v));
    snprintf(out_path, sizeof(out_path), "/tmp/minivmm-hvc-%d", (int)getpid());
    if (!pci_vm_init(&v->f) || virtio_console_init(&v->f.vm, out_path, false) != 0)
        return false;
    return drv_attach(v);
}

static void teardown(Drv *v)
{
    pci_vm_destroy(&v->f);
    unlink(out_path);
}

/* Queue 1 (transmit) as an 8-entry split ring at the usual addresses. */
static void start_tx(Drv *v)
{
    memset(v->ram + VQ_DESC, 0, 0x3000);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SIZE, 8, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)VQ_DESC, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)VQ_AVAIL, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)VQ_USED, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    uint8_t st = (uint8_t)drv_common(v, VIRTIO_PCI_COMMON_STATUS, 1);
    drv_set_common(v, VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_STATUS_DRIVER_OK, 1);
}

static void kick_tx(Drv *v)
{
    drv_mmio_write(v, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT, 0, 2);
    virtio_device_run(v->vdev);
}

static size_t read_output(char *buf, size_t len)
{
    FILE *fp = fopen(out_path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, len - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return n;
}

TEST(virtio_console_output_to_file)
{
    Drv v;
    REQUIRE(setup(&v));
    CHECK_EQ(cf8_read(v.vm, v.devfn, PCI_DEVICE_ID, 2), 0x1043);
    CHECK_EQ(drv_common(&v, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
    REQUIRE(drv_negotiate(&v, F(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    start_tx(&v);
    memcpy(v.ram + VQ_BUF, "hello ", 6);
    memcpy(v.ram + VQ_BUF + 0x100, "hvc0\n", 5);
    split_desc(v.ram, VQ_DESC, 0, VQ_BUF, 6, VRING_DESC_F_NEXT, 1);   /* one chain, two parts */
    split_desc(v.ram, VQ_DESC, 1, VQ_BUF + 0x100, 5, 0, 0);
    split_publish(v.ram, 8, 0, 0);
    memcpy(v.ram + VQ_BUF + 0x200, "second\n", 7);
    split_desc(v.ram, VQ_DESC, 2, VQ_BUF + 0x200, 7, 0, 0);
    split_publish(v.ram, 8, 1, 2);
    kick_tx(&v);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 2);
    char out[64];
    CHECK_EQ(read_output(out, sizeof(out)), 18);
    CHECK(!strcmp(out, "hello hvc0\nsecond\n"));
    /* A transmit buffer the device would write into is not console output,
     * but neither is it a reason to stop: it is ignored (nothing to read). */
    split_desc(v.ram, VQ_DESC, 3, VQ_BUF + 0x300, 8, VRING_DESC_F_WRITE, 0);
    split_publish(v.ram, 8, 2, 3);
    kick_tx(&v);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 3);
    CHECK_EQ(read_output(out, sizeof(out)), 18);
    /* A buffer outside RAM: NEEDS_RESET, nothing written. */
    split_desc(v.ram, VQ_DESC, 4, 0xffffffff00ull, 8, 0, 0);
    split_publish(v.ram, 8, 3, 4);
    kick_tx(&v);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    CHECK_EQ(read_output(out, sizeof(out)), 18);
    teardown(&v);
}

TEST(virtio_console_options)
{
    VirtioConsoleOptions o;
    char err[256];
    CHECK_EQ(virtio_parse_console("tty", &o, err, sizeof(err)), 0);
    CHECK_EQ(o.mode, VIRTIO_CONSOLE_TTY);
    CHECK_EQ(virtio_parse_console("off", &o, err, sizeof(err)), 0);
    CHECK_EQ(o.mode, VIRTIO_CONSOLE_OFF);
    CHECK_EQ(virtio_parse_console("file=/tmp/x", &o, err, sizeof(err)), 0);
    CHECK_EQ(o.mode, VIRTIO_CONSOLE_FILE);
    CHECK(!strcmp(o.path, "/tmp/x"));
    CHECK_EQ(virtio_parse_console("file=", &o, err, sizeof(err)), -1);
    CHECK(strstr(err, "empty file"));
    CHECK_EQ(virtio_parse_console("pty", &o, err, sizeof(err)), -1);
    CHECK(strstr(err, "'pty'"));
}
