/* Instructions per VT-d translate(): an IOTLB hit, and a miss that walks a
 * 4-level table (two pages whose IOTLB slots collide, used alternately, so
 * every lookup misses and refills). The machine is built as for --dump-mtree;
 * the unit is programmed through its registers and the tables written into
 * guest RAM. tests/bench/run.sh runs this under callgrind and divides the
 * instructions inside bench_vtd_*_loop by the repetitions. */
#include <stdio.h>
#include <stdlib.h>

#include "iommu/iommu.h"
#include "iommu/vtd.h"
#include "vmm/vm.h"

#define ROOT  0x100000ull
#define CTX   0x101000ull
#define PT    0x102000ull    /* 4 levels: PT, PT+0x1000, PT+0x2000, PT+0x3000 */
#define DEVFN 0x08
/* Same IOTLB slot (the slot comes from the page number modulo the table size). */
#define IOVA_A 0x0000ull
#define IOVA_B 0x400000ull

static void reg(struct vm *vm, unsigned off, uint64_t v, unsigned size)
{
    address_space_write(vm->as_mem, VTD_BASE + off, &v, size);
}

__attribute__((noinline)) static unsigned bench_vtd_hit_loop(MemoryRegion *mr, long n)
{
    unsigned perm = 0;
    for (long i = 0; i < n; i++)
        perm |= mr->iommu_ops->translate(mr, IOVA_A + 0x10, 1, true).perm;
    return perm;
}

__attribute__((noinline)) static unsigned bench_vtd_miss_loop(MemoryRegion *mr, long n)
{
    unsigned perm = 0;
    for (long i = 0; i < n; i++)
        perm |= mr->iommu_ops->translate(mr, (i & 1) ? IOVA_B : IOVA_A, 1, true).perm;
    return perm;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    struct vm_config cfg = {
        .cmdline = "", .nr_cpus = 1, .mem_size = 64ull << 20,
        .serial = SERIAL_OFF, .dump_mtree = true, .debug_exit_port = 0xf4,
    };
    struct vm vm;
    if (vm_create(&vm, &cfg))
        return 1;
    VTDState *s = vtd_create(&vm, &(VTDConfig){ .intremap = true });
    if (!s)
        return 1;
    AddressSpace *as = vm.as_mem;
    address_space_stq_le(as, ROOT, CTX | 1);
    address_space_stq_le(as, CTX + DEVFN * 16 + 8, 1 << 8 | 2);   /* domain 1, 4 levels */
    address_space_stq_le(as, CTX + DEVFN * 16, PT | 1);
    address_space_stq_le(as, PT, (PT + 0x1000) | 3);
    address_space_stq_le(as, PT + 0x1000, (PT + 0x2000) | 3);
    address_space_stq_le(as, PT + 0x2000, (PT + 0x3000) | 3);
    address_space_stq_le(as, PT + 0x2000 + 2 * 8, (PT + 0x4000) | 3);
    address_space_stq_le(as, PT + 0x3000, 0x300000 | 3);
    address_space_stq_le(as, PT + 0x4000, 0x301000 | 3);
    reg(&vm, 0x20, ROOT, 8);
    reg(&vm, 0x18, 1u << 30, 4);              /* SRTP */
    reg(&vm, 0x18, 1u << 31, 4);              /* TE */
    MemoryRegion *mr = vtd_dma_region(s, DEVFN);
    unsigned perm = bench_vtd_hit_loop(mr, n) & bench_vtd_miss_loop(mr, n);
    printf("%ld repetitions each; permissions 0x%x\n", n, perm);
    vm_destroy(&vm);
    return perm == 3 ? 0 : 1;
}
