/* isa-debug-exit, as in QEMU: a write of v to the port ends the VM, and so
 * minivmm, with status (v << 1) | 1. QEMU passes that to exit(), where only the
 * low 8 bits survive; we keep exactly those bits so vm->exit_status is the
 * status the process will report. The result is always odd, which keeps it
 * apart from minivmm's own (even) statuses. */
#include "devices/devices.h"
#include "devices/internal.h"
#include "util/log.h"

#define DEBUG_EXIT_SIZE 4

typedef struct DebugExit {
    Device dev;
    uint16_t port;
    DeviceMappings maps;
} DebugExit;

static MemTxResult debug_exit_read(void *opaque, hwaddr addr, uint64_t *data,
                                   unsigned size)
{
    (void)opaque;
    (void)addr;
    /* Nothing to read: answer like an unassigned port. */
    *data = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return MEMTX_OK;
}

static MemTxResult debug_exit_write(void *opaque, hwaddr addr, uint64_t data,
                                    unsigned size)
{
    DebugExit *d = opaque;
    (void)addr;
    (void)size;
    vm_request_exit(d->dev.vm, (int)(((data << 1) | 1) & 0xff));
    return MEMTX_OK;
}

static const MemoryRegionOps debug_exit_ops = {
    .read = debug_exit_read,
    .write = debug_exit_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

static int debug_exit_realize(Device *dev)
{
    DebugExit *d = DEVICE_CAST(DebugExit, dev);
    return devices_map_region(dev, &d->maps, dev->vm->sysio, d->port,
                              memory_region_new_io("debug-exit", DEBUG_EXIT_SIZE,
                                                   &debug_exit_ops, d));
}

static void debug_exit_unrealize(Device *dev)
{
    devices_unmap_all(&DEVICE_CAST(DebugExit, dev)->maps);
}

static const DeviceClass debug_exit_class = {
    .name = "debug-exit",
    .instance_size = sizeof(DebugExit),
    .realize = debug_exit_realize,
    .unrealize = debug_exit_unrealize,
};

Device *debug_exit_new(struct vm *vm, uint16_t port)
{
    if (port > 0x10000 - DEBUG_EXIT_SIZE) {
        log_error("debug-exit: port 0x%x does not leave room for its %u bytes",
                  port, DEBUG_EXIT_SIZE);
        return NULL;
    }
    Device *dev = device_new(vm, &debug_exit_class, NULL);
    if (dev)
        DEVICE_CAST(DebugExit, dev)->port = port;
    return dev;
}
