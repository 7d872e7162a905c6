/* The DMA layer and config-space exits, measured without KVM (callgrind counts
 * the instructions inside each bench_*_loop; tests/bench/run.sh divides):
 *  - a 4-byte ldl_le_pci_dma through an IOMMU region, translation cache hit;
 *  - the same with a miss every time (two pages on one cache slot), through a
 *    trivial fake IOMMU translate (the model's page walk comes on top);
 *  - a 64 KiB pci_dma_read from RAM through the IOMMU, beside memcpy;
 *  - a config-space read exit (0xCFC, CONFIG_ADDRESS set). */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "iommu/iommu.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static AddressSpace *target;

static IOMMUTLBEntry identity(MemoryRegion *mr, hwaddr addr, IOMMUAccessFlags access,
                              bool record_fault)
{
    (void)mr, (void)access, (void)record_fault;
    return (IOMMUTLBEntry){ .target_as = target, .iova = addr & ~0xfffull,
                            .translated_addr = addr & ~0xfffull, .addr_mask = 0xfff,
                            .perm = IOMMU_RW };
}

static const IOMMURegionOps identity_ops = { .translate = identity };
static MemoryRegion *iommu_mr;

static MemoryRegion *dma_region(void *opaque, uint16_t rid)
{
    (void)opaque, (void)rid;
    return iommu_mr;
}

__attribute__((noinline)) static uint32_t bench_dma_hit_loop(PCIDevice *d, long n)
{
    uint32_t sum = 0, v;
    for (long i = 0; i < n; i++) {
        ldl_le_pci_dma(d, 0x10000, &v);
        sum += v;
    }
    return sum;
}

__attribute__((noinline)) static uint32_t bench_dma_miss_loop(PCIDevice *d, long n)
{
    uint32_t sum = 0, v;
    for (long i = 0; i < n; i++) {
        ldl_le_pci_dma(d, 0x10000 + (uint64_t)(i & 1) * 0x10000, &v);
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
    target = vm.as_mem;
    iommu_mr = memory_region_new_iommu("bench-iommu", UINT64_MAX, &identity_ops, NULL);
    pci_bus_set_iommu(pci_root_bus(&vm), dma_region, NULL);
    if (dma_testdev_init(&vm))
        return 1;
    PCIDevice *d = pci_bus_device(pci_root_bus(&vm), PCI_DEVFN(1, 0));
    pci_config_write(d, PCI_COMMAND, PCI_COMMAND_MASTER, 2);

    if (argc > 2 && !strcmp(argv[2], "time")) {
        time_copies(d, vm_guest_ram(&vm, 0x100000, sizeof(buf)));
        return 0;
    }
    uint32_t sum = bench_dma_hit_loop(d, n);
    sum += bench_dma_miss_loop(d, n);
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
    free(run);
    vm_devices_destroy(&vm);
    memory_region_unref(iommu_mr);
    devices_cleanup();
    vm_destroy(&vm);
    return err || id != 0x7e5d1234 ? 1 : 0;
}
