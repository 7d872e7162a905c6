/* QEMU's pc-testdev (hw/misc/pc-testdev.c), so test kernels written for it
 * (kvm-unit-tests and the like) run unchanged; the register map is in
 * devices/platform.h. Enabled by --test-device pc. */
#include <string.h>
#include <sys/mman.h>

#include "devices/device.h"
#include "devices/internal.h"
#include "devices/platform.h"
#include "util/bytes.h"
#include "util/log.h"

#define HOST_PAGE_SIZE 4096u

typedef struct PCTestdevState {
    Device dev;
    uint32_t data;                          /* the scratch register (big lock) */
    uint8_t iomem[PC_TESTDEV_IOMEM_SIZE];   /* the scratch memory (big lock) */
    DeviceMappings maps;
} PCTestdevState;

/* The scratch register, an access of `size` bytes at byte `addr` of it. */
static MemTxResult data_read(void *opaque, hwaddr addr, uint64_t *val, unsigned size)
{
    PCTestdevState *s = opaque;
    unsigned shift = (addr & 3) * 8;
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    *val = (s->data >> shift) & mask;
    return MEMTX_OK;
}

static MemTxResult data_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    PCTestdevState *s = opaque;
    unsigned shift = (addr & 3) * 8;
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    s->data = (s->data & ~(mask << shift)) | (((uint32_t)val & mask) << shift);
    return MEMTX_OK;
}

static const MemoryRegionOps data_ops = {
    .read = data_read,
    .write = data_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* The same register, served one byte at a time (the core splits wider accesses). */
static const MemoryRegionOps data_byte_ops = {
    .read = data_read,
    .write = data_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

/* Drops the host's mapping of one guest page, so KVM faults it in again; the
 * page's contents stay (guest RAM is a shared memfd mapping). */
static MemTxResult flush_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    PCTestdevState *s = opaque;
    (void)addr, (void)size;
    uint64_t page = val & ~(uint64_t)(HOST_PAGE_SIZE - 1);
    void *host = vm_guest_ram(s->dev.vm, page, HOST_PAGE_SIZE);
    if (!host) {
        log_guest_error("pc-testdev: flush of 0x%llx: not guest RAM, ignored",
                        (unsigned long long)page);
        return MEMTX_OK;
    }
    madvise(host, HOST_PAGE_SIZE, MADV_DONTNEED);
    return MEMTX_OK;
}

static const MemoryRegionOps flush_ops = {
    .write = flush_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static MemTxResult irq_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    PCTestdevState *s = opaque;
    (void)size;
    vm_set_irq_line(s->dev.vm, (unsigned)addr, val != 0);
    return MEMTX_OK;
}

static const MemoryRegionOps irq_ops = {
    .write = irq_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static MemTxResult iomem_read(void *opaque, hwaddr addr, uint64_t *val, unsigned size)
{
    PCTestdevState *s = opaque;
    *val = get_le(s->iomem + addr, size);
    return MEMTX_OK;
}

static MemTxResult iomem_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    PCTestdevState *s = opaque;
    put_le(s->iomem + addr, val, size);
    return MEMTX_OK;
}

static const MemoryRegionOps iomem_ops = {
    .read = iomem_read,
    .write = iomem_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

static void pc_testdev_reset(Device *dev)
{
    PCTestdevState *s = DEVICE_CAST(PCTestdevState, dev);
    s->data = 0;
    memset(s->iomem, 0, sizeof(s->iomem));
}

static const struct {
    const char *name;
    bool io;
    hwaddr addr;
    uint64_t size;
    const MemoryRegionOps *ops;
} pc_testdev_map[] = {
    { "pc-testdev-ioport", true, PC_TESTDEV_PORT_DATA, 4, &data_ops },
    { "pc-testdev-flush-page", true, PC_TESTDEV_PORT_FLUSH, 4, &flush_ops },
    { "pc-testdev-ioport-byte", true, PC_TESTDEV_PORT_DATA_BYTE, 4, &data_byte_ops },
    { "pc-testdev-irq-line", true, PC_TESTDEV_PORT_IRQ, PC_TESTDEV_NR_IRQS, &irq_ops },
    { "pc-testdev-iomem", false, PC_TESTDEV_IOMEM, PC_TESTDEV_IOMEM_SIZE, &iomem_ops },
};
_Static_assert(sizeof(pc_testdev_map) / sizeof(pc_testdev_map[0]) <= DEVICE_MAX_MAPPINGS,
               "one mapping per map entry");

static MemoryRegion *container_of_entry(struct vm *vm, unsigned i)
{
    return pc_testdev_map[i].io ? vm->sysio : vm->sysmem;
}

static int pc_testdev_realize(Device *dev)
{
    PCTestdevState *s = DEVICE_CAST(PCTestdevState, dev);
    pc_testdev_reset(dev);
    for (unsigned i = 0; i < sizeof(pc_testdev_map) / sizeof(pc_testdev_map[0]); i++) {
        MemoryRegion *mr = memory_region_new_io(pc_testdev_map[i].name, pc_testdev_map[i].size,
                                                pc_testdev_map[i].ops, s);
        if (devices_map_region(dev, &s->maps, container_of_entry(dev->vm, i),
                               pc_testdev_map[i].addr, mr))
            return -1;
    }
    return 0;
}

static void pc_testdev_unrealize(Device *dev)
{
    devices_unmap_all(&DEVICE_CAST(PCTestdevState, dev)->maps);
}

static const DeviceClass pc_testdev_class = {
    .name = "pc-testdev",
    .instance_size = sizeof(PCTestdevState),
    .realize = pc_testdev_realize,
    .reset = pc_testdev_reset,
    .unrealize = pc_testdev_unrealize,
};

int pc_testdev_create(struct vm *vm)
{
    Device *dev = device_new(vm, &pc_testdev_class, "pc-testdev");
    return dev ? device_realize(dev) : -1;
}
