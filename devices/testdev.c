/* The integration test device; its protocol is devices/testdev.h. It logs each
 * access the guest makes to it, one line per access, flushed at once so the
 * log is complete whenever and however minivmm ends. Control-port commands the
 * header defines are not logged (the header gives them no line); any other
 * command value is, as "bad command 0xV", since it means a broken test. */
#include "devices/testdev.h"

#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "devices/devices.h"
#include "devices/internal.h"
#include "util/log.h"

#define PATTERN_XOR   0xa5
#define ROM_OFF_BYTE  0x5a   /* every byte a romd-off read returns */

typedef struct TestDev {
    Device dev;
    char *path;
    FILE *log;
    MemoryRegion *rom;   /* held by `maps` */
    DeviceMappings maps;
} TestDev;

static void td_log(TestDev *td, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void td_log(TestDev *td, const char *fmt, ...)
{
    if (!td->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(td->log, fmt, ap);
    va_end(ap);
    fputc('\n', td->log);
    fflush(td->log);
}

/* The value of `size` pattern bytes starting at `off`, little-endian. */
static uint64_t pattern(hwaddr off, unsigned size)
{
    uint64_t val = 0;
    for (unsigned i = 0; i < size; i++)
        val |= (uint64_t)(((off + i) & 0xff) ^ PATTERN_XOR) << (8 * i);
    return val;
}

static MemTxResult mmio_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    *data = pattern(addr, size);
    td_log(opaque, "mmio read off=0x%" PRIx64 " size=%u val=0x%" PRIx64, addr, size, *data);
    return MEMTX_OK;
}

static MemTxResult mmio_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    td_log(opaque, "mmio write off=0x%" PRIx64 " size=%u val=0x%" PRIx64, addr, size, data);
    return MEMTX_OK;
}

static MemTxResult pio_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    *data = pattern(addr, size);
    td_log(opaque, "pio read port=0x%" PRIx64 " size=%u val=0x%" PRIx64,
           LAYOUT_TESTDEV_PIO + addr, size, *data);
    return MEMTX_OK;
}

static MemTxResult pio_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    td_log(opaque, "pio write port=0x%" PRIx64 " size=%u val=0x%" PRIx64,
           LAYOUT_TESTDEV_PIO + addr, size, data);
    return MEMTX_OK;
}

/* Reaches the device only with romd off; in romd mode reads come from RAM. */
static MemTxResult rom_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    *data = 0;
    for (unsigned i = 0; i < size; i++)
        *data |= (uint64_t)ROM_OFF_BYTE << (8 * i);
    td_log(opaque, "rom read off=0x%" PRIx64 " size=%u val=0x%" PRIx64, addr, size, *data);
    return MEMTX_OK;
}

static MemTxResult rom_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    td_log(opaque, "rom write off=0x%" PRIx64 " size=%u val=0x%" PRIx64, addr, size, data);
    return MEMTX_OK;
}

/* Image n: `mov eax, TESTDEV_ROM_MAGIC(n); ret` at offset 0; the rest stays
 * zero (a fresh RAM region is zero-filled). */
static void write_rom_image(uint8_t *mem, unsigned n)
{
    uint32_t magic = TESTDEV_ROM_MAGIC(n);
    mem[0] = 0xb8;
    for (unsigned i = 0; i < 4; i++)
        mem[1 + i] = (uint8_t)(magic >> (8 * i));
    mem[5] = 0xc3;
}

static void rom_swap(TestDev *td)
{
    MemoryRegion *backing = memory_region_new_ram("testdev-rom-image2", TESTDEV_ROM_SIZE);
    if (!backing) {
        log_error("test device: cannot allocate the new ROM backing: %s", strerror(errno));
        return;
    }
    write_rom_image(memory_region_get_ram_ptr(backing), 2);
    memory_region_rom_device_set_backing(td->rom, backing);
    memory_region_unref(backing);   /* the ROM device holds its own reference */
}

static MemTxResult ctrl_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    TestDev *td = opaque;
    (void)addr;
    (void)size;
    switch (data) {
    case TESTDEV_CMD_ROMD_OFF:
        memory_region_rom_device_set_romd(td->rom, false);
        break;
    case TESTDEV_CMD_ROMD_ON:
        memory_region_rom_device_set_romd(td->rom, true);
        break;
    case TESTDEV_CMD_ROM_SWAP:
        rom_swap(td);
        break;
    case TESTDEV_CMD_STALL: {
        struct timespec left = { 60, 0 };
        while (nanosleep(&left, &left) < 0 && errno == EINTR)
            continue;
        break;
    }
    case TESTDEV_CMD_FORBIDDEN_SYSCALL: {
        struct utsname uts;
        uname(&uts);
        td_log(td, "syscall returned");
        break;
    }
    default:
        td_log(td, "bad command 0x%" PRIx64, data);
        break;
    }
    return MEMTX_OK;
}

static MemTxResult mark_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    (void)addr;
    (void)size;
    td_log(opaque, "mark 0x%" PRIx64, data);
    return MEMTX_OK;
}

/* The control and mark ports are write-only. */
static MemTxResult port_read_zero(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    *data = 0;
    return MEMTX_OK;
}

static const MemoryRegionOps mmio_ops = {
    .read = mmio_read,
    .write = mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
};

static const MemoryRegionOps pio_ops = {
    .read = pio_read,
    .write = pio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
};

static const MemoryRegionOps rom_ops = {
    .read = rom_read,
    .write = rom_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
};

static const MemoryRegionOps ctrl_ops = {
    .read = port_read_zero,
    .write = ctrl_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static const MemoryRegionOps mark_ops = {
    .read = port_read_zero,
    .write = mark_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static int testdev_realize(Device *dev)
{
    TestDev *td = DEVICE_CAST(TestDev, dev);
    td->log = fopen(td->path, "we");
    if (!td->log) {
        log_error("--test-device log=%s: %s", td->path, strerror(errno));
        return -1;
    }
    td->rom = memory_region_new_rom_device("testdev-rom", TESTDEV_ROM_SIZE, &rom_ops, td);
    if (!td->rom) {
        log_error("test device: cannot allocate its ROM: %s", strerror(errno));
        return -1;
    }
    write_rom_image(memory_region_get_ram_ptr(td->rom), 1);

    struct vm *vm = dev->vm;
    DeviceMappings *m = &td->maps;
    memory_region_transaction_begin();
    /* First: the ROM is handed over (to `maps`, or dropped) whatever happens. */
    int r = devices_map_region(dev, m, vm->sysmem, LAYOUT_TESTDEV_ROM, td->rom);
    if (r)
        td->rom = NULL;
    r = r ? r : devices_map_region(dev, m, vm->sysmem, LAYOUT_TESTDEV_MMIO,
                                   memory_region_new_io("testdev-mmio", TESTDEV_MMIO_SIZE,
                                                        &mmio_ops, td));
    r = r ? r : devices_map_region(dev, m, vm->sysio, LAYOUT_TESTDEV_PIO,
                                   memory_region_new_io("testdev-pio", TESTDEV_PIO_SIZE,
                                                        &pio_ops, td));
    r = r ? r : devices_map_region(dev, m, vm->sysio, TESTDEV_PORT_CTRL,
                                   memory_region_new_io("testdev-ctrl", 4, &ctrl_ops, td));
    r = r ? r : devices_map_region(dev, m, vm->sysio, TESTDEV_PORT_MARK,
                                   memory_region_new_io("testdev-mark", 4, &mark_ops, td));
    memory_region_transaction_commit();
    return r;
}

static void testdev_unrealize(Device *dev)
{
    TestDev *td = DEVICE_CAST(TestDev, dev);
    devices_unmap_all(&td->maps);
    if (td->log)
        fclose(td->log);
    td->log = NULL;
    g_free(td->path);
    td->path = NULL;
}

static const DeviceClass testdev_class = {
    .name = "testdev",
    .instance_size = sizeof(TestDev),
    .realize = testdev_realize,
    .unrealize = testdev_unrealize,
};

Device *testdev_new(struct vm *vm, const char *spec)
{
    static const char prefix[] = "log=";
    if (strncmp(spec, prefix, sizeof(prefix) - 1) || !spec[sizeof(prefix) - 1]) {
        log_error("--test-device %s: expected log=PATH", spec);
        return NULL;
    }
    Device *dev = device_new(vm, &testdev_class, NULL);
    if (dev)
        DEVICE_CAST(TestDev, dev)->path = g_strdup(spec + sizeof(prefix) - 1);
    return dev;
}
