/* A fake interrupt-remapping model for unit tests: remappable-format messages
 * (address bit 4) are looked up by handle in a small table; compatibility
 * format passes through unchanged. Records the requester of each call. */
#ifndef MINIVMM_TEST_FAKE_INTREMAP_H
#define MINIVMM_TEST_FAKE_INTREMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"

#define FAKE_IR_HANDLES 0x10000

struct fake_intremap {
    InterruptRemapper ir;        /* first: remap() gets back to the fake from it */
    bool present[FAKE_IR_HANDLES];
    MSIMessage entry[FAKE_IR_HANDLES];
    uint16_t last_rid;
    unsigned calls;
};

/* The handle of a remappable-format MSI address: bits 5..19 are handle 14..0,
 * bit 2 handle 15 (VT-d). */
static inline unsigned fake_ir_handle(uint64_t address)
{
    return (unsigned)((address >> 5) & 0x7fff) | (unsigned)((address >> 2) & 1) << 15;
}

static inline int fake_ir_remap(InterruptRemapper *ir, uint16_t rid, const MSIMessage *in,
                                MSIMessage *out)
{
    struct fake_intremap *f = (struct fake_intremap *)ir;
    f->last_rid = rid;
    f->calls++;
    if (!(in->address & (1u << 4))) {
        *out = *in;
        return 0;
    }
    unsigned h = fake_ir_handle(in->address);
    if (!f->present[h])
        return -1;
    *out = f->entry[h];
    return 0;
}

static inline void fake_ir_init(struct fake_intremap *f)
{
    *f = (struct fake_intremap){ .ir = { .remap = fake_ir_remap } };
}

static inline void fake_ir_set(struct fake_intremap *f, unsigned handle, uint8_t dest,
                               uint8_t vector)
{
    f->present[handle] = true;
    f->entry[handle] = (MSIMessage){ 0xfee00000u | (uint32_t)dest << 12, vector };
}

/* A remappable-format MSI address for `handle` (no subhandle). */
static inline uint64_t fake_ir_address(unsigned handle)
{
    return 0xfee00000u | 1u << 4 | (uint64_t)(handle & 0x7fff) << 5 |
           (uint64_t)((handle >> 15) & 1) << 2;
}

#endif
