/* What the device models share: mapping their registers (with the clash
 * check), and creating the machine's devices from its configuration. */
#include "devices/devices.h"

#include <inttypes.h>

#include "devices/internal.h"
#include "util/log.h"
#include "vmm/acpi.h"

/* The last byte of a region at `addr` (sizes of UINT64_MAX mean 2^64). */
static hwaddr last_byte(hwaddr addr, uint64_t size)
{
    return addr + (size == UINT64_MAX ? size : size - 1);
}

int devices_map_region(Device *dev, DeviceMappings *maps, MemoryRegion *container,
                       hwaddr addr, MemoryRegion *mr)
{
    if (!mr) {
        log_error("%s: cannot create its registers", dev->id);
        return -1;
    }
    if (maps->nr == DEVICE_MAX_MAPPINGS) {
        log_error("%s: more than %u register blocks", dev->id, DEVICE_MAX_MAPPINGS);
        memory_region_unref(mr);
        return -1;
    }
    memory_region_transaction_begin();
    hwaddr last = last_byte(addr, mr->size);
    for (unsigned i = 0; i < container->nr_subregions; i++) {
        const MemoryRegion *other = container->subregions[i];
        hwaddr other_last = last_byte(other->addr, other->size);
        if (other->size && mr->size && addr <= other_last && other->addr <= last) {
            log_error("%s: %s 0x%" PRIx64 "-0x%" PRIx64 " clash with '%s' at 0x%" PRIx64
                      "-0x%" PRIx64, dev->id,
                      container == dev->vm->sysio ? "ports" : "addresses", addr, last,
                      other->name, other->addr, other_last);
            memory_region_transaction_commit();
            memory_region_unref(mr);
            return -1;
        }
    }
    memory_region_add_subregion(container, addr, mr);
    memory_region_transaction_commit();
    maps->mr[maps->nr++] = mr;
    return 0;
}

void devices_unmap_all(DeviceMappings *maps)
{
    memory_region_transaction_begin();
    for (unsigned i = 0; i < maps->nr; i++)
        if (maps->mr[i]->container)
            memory_region_del_subregion(maps->mr[i]->container, maps->mr[i]);
    memory_region_transaction_commit();
    for (unsigned i = 0; i < maps->nr; i++)
        memory_region_unref(maps->mr[i]);
    maps->nr = 0;
}

static int add(Device *dev)
{
    return dev && device_realize(dev) == 0 ? 0 : -1;
}

int devices_create(struct vm *vm, const struct vm_config *cfg)
{
    if (add(serial_new(vm, 1, cfg->serial, cfg->serial_path)))
        return -1;
    for (unsigned i = 0; i < VM_SERIAL_PORTS - 1; i++) {
        const struct serial_port_config *p = &cfg->more_serial[i];
        if (p->present && add(serial_new(vm, i + 2, p->mode, p->path)))
            return -1;
    }
    if (add(debug_exit_new(vm, cfg->debug_exit_port)) || add(i8042_new(vm)) ||
        acpi_pm_init(vm))
        return -1;
    if (cfg->test_device && add(testdev_new(vm, cfg->test_device)))
        return -1;
    return 0;
}
