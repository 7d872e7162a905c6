/* Private interfaces between the memory core's files. Not for device code. */
#ifndef MINIVMM_MEMORY_INTERNAL_H
#define MINIVMM_MEMORY_INTERNAL_H

#include "memory/memory.h"

/* ---- region.c ---- */
/* The kind shown by the mtree dump and in flat-view lines. */
const char *memory_region_kind_name(const MemoryRegion *mr);

/* ---- flatview.c ---- */
/* Re-render every address space and tell listeners what changed (BQL held). */
void address_spaces_update_all(void);
/* Index of the first range whose end lies above `addr` (nr if none). */
unsigned flatview_find_index(const FlatView *fv, hwaddr addr);
/* Fills mr->valid_* and mr->impl_* from mr->ops. */
void memory_region_set_access_sizes(MemoryRegion *mr);

/* ---- access.c ---- */
/* Read device memory into a plain buffer in increasing address order, with units
 * aligned on the *source* (so an aligned 2/4/8-byte read is one access). */
void device_mem_read_ordered(void *dst, const volatile void *src, size_t len);

#endif
