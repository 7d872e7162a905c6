/* `info mtree`-style dump of region trees and flat views, for debugging and tests. */
#include "memory/memory-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <urcu-bp.h>

#define MTREE_MAX_DEPTH 32

/* Inclusive end of [start, start+size), as QEMU prints it; an empty region shows
 * its start. Wraps at 2^64 like the addresses themselves. */
static uint64_t last_byte(uint64_t start, uint64_t size)
{
    return size ? start + (size - 1) : start;
}

/* What an alias ultimately shows, for its kind column. */
static const MemoryRegion *alias_leaf(const MemoryRegion *mr)
{
    for (unsigned depth = 0; mr->type == MR_ALIAS && mr->alias && depth < MTREE_MAX_DEPTH; depth++)
        mr = mr->alias;
    return mr;
}

static void print_region(FILE *out, const MemoryRegion *mr, uint64_t start, unsigned depth)
{
    if (depth > MTREE_MAX_DEPTH)
        return;
    fprintf(out, "%*s%016" PRIx64 "-%016" PRIx64 " (prio %d, %s%s%s): ", 2 + 2 * depth, "",
            start, last_byte(start, mr->size), mr->priority,
            memory_region_kind_name(alias_leaf(mr)),
            mr->type == MR_ROM_DEVICE && mr->romd_mode ? ", romd" : "",
            mr->enabled ? "" : ", disabled");
    if (mr->type == MR_ALIAS) {
        fprintf(out, "alias %s @%s %016" PRIx64 "-%016" PRIx64 "\n", mr->name,
                mr->alias ? mr->alias->name : "(none)", mr->alias_offset,
                last_byte(mr->alias_offset, mr->size));
        return;
    }
    fprintf(out, "%s\n", mr->name);
    if (!mr->nr_subregions)
        return;
    /* Children by address for reading; the insertion sort is stable, so among equal
     * addresses the rendering order (highest priority first) is kept. */
    MemoryRegion **subs = malloc(mr->nr_subregions * sizeof(*subs));
    if (!subs)
        return;
    for (unsigned i = 0; i < mr->nr_subregions; i++) {
        MemoryRegion *cur = mr->subregions[i];
        unsigned j = i;
        while (j > 0 && subs[j - 1]->addr > cur->addr) {
            subs[j] = subs[j - 1];
            j--;
        }
        subs[j] = cur;
    }
    for (unsigned i = 0; i < mr->nr_subregions; i++)
        print_region(out, subs[i], start + subs[i]->addr, depth + 1);
    free(subs);
}

static void print_flatview(FILE *out, const AddressSpace *as, const FlatView *fv)
{
    fprintf(out, "FlatView (%s):\n", as->name);
    for (unsigned i = 0; fv && i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];
        fprintf(out, "  %016" PRIx64 "-%016" PRIx64 " %s @%016" PRIx64 " %s%s\n", fr->addr,
                last_byte(fr->addr, fr->size), fr->mr->name, fr->offset_in_region,
                memory_region_kind_name(fr->mr), fr->readonly ? " ro" : "");
    }
}

void memory_dump_regions(void *out_file, AddressSpace *const *spaces, unsigned nr_spaces)
{
    FILE *out = out_file;
    for (unsigned i = 0; i < nr_spaces; i++) {
        AddressSpace *as = spaces[i];
        fprintf(out, "address-space: %s\n", as->name);
        if (as->root)
            print_region(out, as->root, 0, 0);
        fputc('\n', out);
    }
}

void memory_dump_mtree(void *out_file, AddressSpace *const *spaces, unsigned nr_spaces)
{
    memory_dump_regions(out_file, spaces, nr_spaces);
    memory_dump_flatviews(out_file, spaces, nr_spaces);
}

void memory_dump_flatviews(void *out_file, AddressSpace *const *spaces, unsigned nr_spaces)
{
    FILE *out = out_file;
    rcu_read_lock();
    for (unsigned i = 0; i < nr_spaces; i++) {
        print_flatview(out, spaces[i], rcu_dereference(spaces[i]->current));
        fputc('\n', out);
    }
    rcu_read_unlock();
}
