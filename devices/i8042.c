/* The part of the i8042 keyboard controller a PC guest uses to reset itself:
 * a "pulse output lines" command that pulses bit 0 (the CPU reset line), e.g.
 * 0xfe written to the command port, ends the VM with EXIT_REBOOT. There is no
 * keyboard behind it: the output buffer stays empty and other commands and
 * data are accepted and ignored. */
#include "devices/devices.h"
#include "devices/internal.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64

/* Status register bits. */
#define STATUS_SYSTEM   0x04   /* self-test passed since power-on */
#define STATUS_CMD_LAST 0x08   /* the last write went to the command port */
#define STATUS_UNLOCKED 0x10   /* keyboard not inhibited */

/* 0xf0..0xff pulse output lines 0..3 low for each clear bit in 0..3. */
#define CMD_PULSE_MASK  0xf0
#define CMD_PULSE_RESET 0x01   /* bit clear: pulse the reset line */

struct i8042 {
    Device dev;
    bool cmd_last;
    DeviceMappings maps;
};

static MemTxResult i8042_data_read(void *opaque, hwaddr addr, uint64_t *data,
                                   unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    *data = 0;   /* nothing was ever put in the output buffer */
    return MEMTX_OK;
}

static MemTxResult i8042_data_write(void *opaque, hwaddr addr, uint64_t data,
                                    unsigned size)
{
    struct i8042 *k = opaque;
    (void)addr;
    (void)data;
    (void)size;
    k->cmd_last = false;
    return MEMTX_OK;
}

static MemTxResult i8042_status_read(void *opaque, hwaddr addr, uint64_t *data,
                                     unsigned size)
{
    const struct i8042 *k = opaque;
    (void)addr;
    (void)size;
    /* Input and output buffers always empty: guests polling before a command
     * (Linux's kb_wait) never wait. */
    *data = STATUS_SYSTEM | STATUS_UNLOCKED | (k->cmd_last ? STATUS_CMD_LAST : 0);
    return MEMTX_OK;
}

static MemTxResult i8042_cmd_write(void *opaque, hwaddr addr, uint64_t data,
                                   unsigned size)
{
    struct i8042 *k = opaque;
    (void)addr;
    (void)size;
    k->cmd_last = true;
    if ((data & CMD_PULSE_MASK) == CMD_PULSE_MASK && !(data & CMD_PULSE_RESET))
        vm_request_exit(k->dev.vm, EXIT_REBOOT);
    return MEMTX_OK;
}

/* One-byte registers; wider guest accesses are split by the bus, as on ISA. */
static const MemoryRegionOps i8042_data_ops = {
    .read = i8042_data_read,
    .write = i8042_data_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static const MemoryRegionOps i8042_cmd_ops = {
    .read = i8042_status_read,
    .write = i8042_cmd_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static void i8042_reset(Device *dev)
{
    DEVICE_CAST(struct i8042, dev)->cmd_last = false;
}

static int i8042_realize(Device *dev)
{
    struct i8042 *k = DEVICE_CAST(struct i8042, dev);
    i8042_reset(dev);
    MemoryRegion *io = dev->vm->sysio;
    if (devices_map_region(dev, &k->maps, io, I8042_DATA_PORT,
                           memory_region_new_io("i8042-data", 1, &i8042_data_ops, k)))
        return -1;
    return devices_map_region(dev, &k->maps, io, I8042_CMD_PORT,
                              memory_region_new_io("i8042-cmd", 1, &i8042_cmd_ops, k));
}

static void i8042_unrealize(Device *dev)
{
    devices_unmap_all(&DEVICE_CAST(struct i8042, dev)->maps);
}

static const DeviceClass i8042_class = {
    .name = "i8042",
    .instance_size = sizeof(struct i8042),
    .realize = i8042_realize,
    .reset = i8042_reset,
    .unrealize = i8042_unrealize,
};

Device *i8042_new(struct vm *vm)
{
    return device_new(vm, &i8042_class, NULL);
}
