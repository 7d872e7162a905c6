/* Helpers shared by the device models in devices/ (not part of their API). */
#ifndef MINIVMM_DEVICES_INTERNAL_H
#define MINIVMM_DEVICES_INTERNAL_H

#include "devices/device.h"
#include "memory/memory.h"

/* The register blocks a device mapped at fixed addresses, removed again by
 * devices_unmap_all (from its unrealize). */
#define DEVICE_MAX_MAPPINGS 8
typedef struct DeviceMappings {
    MemoryRegion *mr[DEVICE_MAX_MAPPINGS];
    unsigned nr;
} DeviceMappings;

/* Maps `mr` at `addr` in `container` (taking the big lock if needed, as every
 * tree change does); `maps` takes over the caller's reference. Every fixed-
 * address device maps through here, so every one gets the clash check: a block
 * overlapping a region already in `container` (another device's port, RAM) is
 * refused with one error naming both, and -1. PCI BARs, which the guest
 * places, go through the memory core directly. */
int devices_map_region(Device *dev, DeviceMappings *maps, MemoryRegion *container,
                       hwaddr addr, MemoryRegion *mr);
/* Unmaps and drops every region in `maps` (one re-render). */
void devices_unmap_all(DeviceMappings *maps);

/* stdin, when it is a terminal, in raw mode for the serial console; restored
 * by terminal_restore (devices.h), at exit and on fatal signals. */
void terminal_enter_raw_mode(void);

#endif
