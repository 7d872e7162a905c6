/* Private interfaces between the memory core's files. Not for device code. */
#ifndef MINIVMM_MEMORY_INTERNAL_H
#define MINIVMM_MEMORY_INTERNAL_H

#include <string.h>

#include "memory/memory.h"

/* The host-order value of the `w` (1, 2, 4, 8) bytes at `b` (memory order), and
 * back; constant-size copies compile to single moves. */
static inline uint64_t host_value(const uint8_t *b, unsigned w)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    switch (w) {
    case 2:
        memcpy(&v16, b, 2);
        return v16;
    case 4:
        memcpy(&v32, b, 4);
        return v32;
    case 8:
        memcpy(&v64, b, 8);
        return v64;
    }
    return b[0];
}

static inline void host_bytes(uint8_t *b, uint64_t v, unsigned w)
{
    uint16_t v16 = (uint16_t)v;
    uint32_t v32 = (uint32_t)v;
    switch (w) {
    case 2:
        memcpy(b, &v16, 2);
        return;
    case 4:
        memcpy(b, &v32, 4);
        return;
    case 8:
        memcpy(b, &v, 8);
        return;
    }
    b[0] = (uint8_t)v;
}

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
