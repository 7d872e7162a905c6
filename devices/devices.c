/* What the device models share: mapping their registers and the common
 * teardown. */
#include "devices/devices.h"
#include "devices/internal.h"

void devices_map_region(MemoryRegion *container, hwaddr addr, MemoryRegion *mr)
{
    memory_region_add_subregion(container, addr, mr);
    memory_region_unref(mr);
}

void devices_cleanup(void)
{
    serial_cleanup();
    testdev_cleanup();
}
