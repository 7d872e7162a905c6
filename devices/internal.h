/* Helpers shared by the device models in devices/ (not part of their API). */
#ifndef MINIVMM_DEVICES_INTERNAL_H
#define MINIVMM_DEVICES_INTERNAL_H

#include "memory/memory.h"

/* Maps `mr` at `addr` in `container` (taking the big lock if needed, as every
 * tree change does) and drops the caller's reference: the container keeps its
 * own. */
void devices_map_region(MemoryRegion *container, hwaddr addr, MemoryRegion *mr);

/* stdin, when it is a terminal, in raw mode for the serial console; restored
 * by terminal_restore, at exit and on fatal signals. */
void terminal_enter_raw_mode(void);
void terminal_restore(void);

/* Per-device parts of devices_cleanup(); each is safe to call when its device
 * was never initialised. */
void serial_cleanup(void);
void testdev_cleanup(void);

#endif
