/* The DMA layer and config-space exits, measured without KVM (callgrind counts
 * the instructions inside each bench_*_loop; tests/bench/run.sh divides):
 *  - a 4-byte ldl_le_pci_dma through the VT-d model (tables built in guest
 *    RAM, translation on), a hit in the device's DMA cache;
 *  - the same with a miss every time: two pages on one DMA-cache slot and one
 *    IOTLB slot, used alternately, so each load misses both caches and walks
 *    the 4-level table;
 *  - a DMA-cache miss that hits the IOTLB (two pages on one DMA-cache slot but
 *    different IOTLB slots): the DMA layer's own miss cost;
 *  - a 64 KiB pci_dma_read from RAM through VT-d, beside memcpy;
 *  - a config-space read exit (0xCFC, CONFIG_ADDRESS set). */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "iommu/iommu.h"
#include "iommu/vtd.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define ROOT    0x1000000ull
#define CTX     0x1001000ull
#define PML4    0x1002000ull     /* then PDPT, PD, and PTs for IOVA 0-2M and 4-6M */
#define DEVFN   PCI_DEVFN(1, 0)  /* the DMA test device */
/* Pages 0x10 and 0x410: the same DMA-cache slot (16 slots by page) and the same
 * IOTLB slot (1024, by page and source id). */
#define IOVA_A  0x10000ull
#define IOVA_B  0x410000ull
/* Page 0x20: IOVA_A's DMA-cache slot, another IOTLB slot. */
#define IOVA_C  0x20000ull

static void vtd_reg(struct vm *vm, unsigned off, uint64_t v, unsigned size)
{
    address_space_write(vm->as_mem, VTD_BASE + off, &v, size);
}

/* Domain 1, 4 levels: IOVA_A/B/C -> 0x300000/0x301000/0x302000, and the 64 KiB
 * at 0x100000 mapped onto themselves; translation on. */
static void vtd_program(struct vm *vm)
{
    AddressSpace *as = vm->as_mem;
    const uint64_t pdpt = PML4 + 0x1000, pd = PML4 + 0x2000, pt0 = PML4 + 0x3000,
                   pt2 = PML4 + 0x4000;
    address_space_stq_le(as, ROOT, CTX | 1);
    address_space_stq_le(as, CTX + DEVFN * 16 + 8, 1 << 8 | 2);
    address_space_stq_le(as, CTX + DEVFN * 16, PML4 | 1);
    address_space_stq_le(as, PML4, pdpt | 3);
    address_space_stq_le(as, pdpt, pd | 3);
    address_space_stq_le(as, pd, pt0 | 3);
    address_space_stq_le(as, pd + 2 * 8, pt2 | 3);
    address_space_stq_le(as, pt0 + (IOVA_A >> 12) * 8, 0x300000 | 3);
    address_space_stq_le(as, pt2 + ((IOVA_B >> 12) & 511) * 8, 0x301000 | 3);
    address_space_stq_le(as, pt0 + (IOVA_C >> 12) * 8, 0x302000 | 3);
    for (uint64_t a = 0x100000; a < 0x110000; a += 0x1000)
        address_space_stq_le(as, pt0 + (a >> 12) * 8, a | 3);
    vtd_reg(vm, 0x20, ROOT, 8);
    vtd_reg(vm, 0x18, 1u << 30, 4);              /* SRTP */
    vtd_reg(vm, 0x18, 1u << 31, 4);              /* TE */
}

__attribute__((noinline)) static uint32_t bench_dma_hit_loop(PCIDevice *d, long n)
{
    uint32_t sum = 0, v;
    for (long i = 0; i < n; i++) {
        ldl_le_pci_dma(d, IOVA_A, &v);
        sum += v;
    }
    return sum;
}

__attribute__((noinline)) static uint32_t bench_dma_miss_loop(PCIDevice *d, long n)
{
    uint32_t sum = 0, v;
    for (long i = 0; i < n; i++) {
        ldl_le_pci_dma(d, (i & 1) ? IOVA_B : IOVA_A, &v);
        sum += v;
    }
    return sum;
}

__attribute__((noinline)) static uint32_t bench_dma_iotlb_loop(PCIDevice *d, long n)
{
    uint32_t sum = 0, v;
    for (long i = 0; i < n; i++) {
        ldl_le_pci_dma(d, (i & 1) ? IOVA_C : IOVA_A, &v);
        sum += v;
    }
    return sum;
}

static uint8_t buf[65536];

__attribute__((noinline)) static int bench_dma_read64k_loop(PCIDevice *d, long n)
{
    int err = 0;
    for (long i = 0; i < n; i++)
        err |= pci_dma_read(d, 0x100000, buf, sizeof(buf));
    return err;
}

__attribute__((noinline)) static void bench_memcpy64k_loop(const uint8_t *src, long n)
{
    for (long i = 0; i < n; i++) {
        memcpy(buf, src, sizeof(buf));
        __asm__ volatile("" ::: "memory");
    }
}

__attribute__((noinline)) static int bench_config_loop(struct vm *vm, struct kvm_run *run, long n)
{
    int err = 0;
    for (long i = 0; i < n; i++)
        err |= vcpu_handle_io(vm, run);
    return err;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Wall time of the 64 KiB copies (instruction counts say little about memcpy,
 * whose `rep movsb` counts as one): the best of several rounds. */
static void time_copies(PCIDevice *d, const uint8_t *src)
{
    double best_dma = 1e18, best_memcpy = 1e18;
    const int iters = 2000;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        bench_dma_read64k_loop(d, iters);
        double t1 = now_ns();
        bench_memcpy64k_loop(src, iters);
        double t2 = now_ns();
        if ((t1 - t0) / iters < best_dma)
            best_dma = (t1 - t0) / iters;
        if ((t2 - t1) / iters < best_memcpy)
            best_memcpy = (t2 - t1) / iters;
    }
    printf("dma_read64k_ns %.0f memcpy64k_ns %.0f speed_ratio %.2f\n", best_dma, best_memcpy,
           best_memcpy / best_dma);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    struct vm_config cfg = {
        .cmdline = "", .nr_cpus = 1, .mem_size = 256ull << 20,
        .serial = SERIAL_OFF, .dump_mtree = true, .debug_exit_port = 0xf4,
    };
    struct vm vm;
    if (vm_create(&vm, &cfg) || pci_host_init(&vm))
        return 1;
    VTDState *vtd = vtd_create(&vm, &(VTDConfig){ .intremap = true });
    if (!vtd)
        return 1;
    pci_bus_set_iommu(pci_root_bus(&vm), vtd_dma_region, vtd);
    if (dma_testdev_init(&vm))
        return 1;
    vtd_program(&vm);
    PCIDevice *d = pci_bus_device(pci_root_bus(&vm), PCI_DEVFN(1, 0));
    pci_config_write(d, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    address_space_stl_le(vm.as_mem, 0x300000, 0x300000);
    address_space_stl_le(vm.as_mem, 0x301000, 0x301000);
    address_space_stl_le(vm.as_mem, 0x302000, 0x302000);

    if (argc > 2 && !strcmp(argv[2], "time")) {
        time_copies(d, vm_guest_ram(&vm, 0x100000, sizeof(buf)));
        return 0;
    }
    uint32_t sum = bench_dma_hit_loop(d, n);
    sum += bench_dma_miss_loop(d, n);
    sum += bench_dma_iotlb_loop(d, n);
    int err = bench_dma_read64k_loop(d, n / 100 + 1);
    bench_memcpy64k_loop(vm_guest_ram(&vm, 0x100000, sizeof(buf)), n / 100 + 1);

    vm.run_size = 8192;
    struct kvm_run *run = calloc(1, (size_t)vm.run_size);
    if (!run)
        return 1;
    uint32_t ca = 0x80000000u | 1u << 11;
    address_space_write(vm.as_io, 0xcf8, &ca, 4);
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = KVM_EXIT_IO_IN;
    run->io.size = 4;
    run->io.port = 0xcfc;
    run->io.count = 1;
    run->io.data_offset = 4096 - 64;
    err |= bench_config_loop(&vm, run, n);
    uint32_t id;
    memcpy(&id, (uint8_t *)run + run->io.data_offset, 4);

    printf("%ld repetitions; sum 0x%x, config id 0x%08x\n", n, sum, id);
    /* Every load went through a translation: the pages hold their addresses. */
    err |= sum != (uint32_t)((uint64_t)n * 3 * 0x300000 + (uint64_t)(n / 2) * 0x3000);
    free(run);
    vm_devices_destroy(&vm);
    vm_destroy(&vm);
    return err || id != 0x7e5d1234 ? 1 : 0;
}
