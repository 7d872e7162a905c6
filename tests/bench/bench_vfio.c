/* VFIO costs, measured without KVM (callgrind counts the VMM's instructions in
 * each bench_*_loop; the test server runs in a child process, not counted):
 *  - a trapped 4-byte BAR read over the vfio-user socket (dispatch, the model,
 *    the client's message round trip; the kernel's socket work is not counted);
 *  - shadowing one IOMMU MAP notification (and its UNMAP) into DMA_MAP/UNMAP
 *    messages with the guest RAM's fd.
 * `time` as second argument prints wall-clock ns per operation instead. */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "devices/devices.h"
#include "devices/vfio/vfio.h"
#include "iommu/iommu.h"
#include "pci/dma.h"
#include "tests/vfio_user_server/server.c"
#include "vmm/irq.h"
#include "vmm/vm.h"

static IOMMUTLBEntry none(MemoryRegion *mr, hwaddr a, IOMMUAccessFlags acc, bool rec)
{
    (void)mr, (void)a, (void)acc, (void)rec;
    return (IOMMUTLBEntry){ .perm = IOMMU_NONE };
}
static const IOMMURegionOps none_ops = { .translate = none };
static MemoryRegion *iommu_mr;
static MemoryRegion *dma_region(void *opaque, uint16_t rid)
{
    (void)opaque, (void)rid;
    return iommu_mr;
}

__attribute__((noinline)) static uint32_t bench_vfu_bar_loop(AddressSpace *as, uint64_t a, long n)
{
    uint32_t sum = 0;
    MemTxResult r;
    for (long i = 0; i < n; i++)
        sum += address_space_ldl_le(as, a, &r);
    return sum;
}

__attribute__((noinline)) static void bench_iommu_map_loop(struct vm *vm, long n)
{
    memory_bql_lock();
    for (long i = 0; i < n; i++) {
        IOMMUTLBEntry e = { .target_as = vm->as_mem, .iova = 0x10000, .translated_addr = 0x200000,
                            .addr_mask = 0xfff, .perm = IOMMU_RW };
        memory_region_iommu_notify(iommu_mr, IOMMU_NOTIFIER_MAP, &e);
        e.perm = IOMMU_NONE;
        memory_region_iommu_notify(iommu_mr, IOMMU_NOTIFIER_UNMAP, &e);
    }
    memory_bql_unlock();
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    bool timing = argc > 2 && !strcmp(argv[2], "time");
    struct vm_config cfg = {
        .cmdline = "", .nr_cpus = 1, .mem_size = 64ull << 20, .serial = SERIAL_OFF,
        .dump_mtree = true, .debug_exit_port = 0xf4, .iommu = true, .iommu_caching_mode = true,
    };
    struct vm vm;
    int sv[2];
    if (vm_create(&vm, &cfg) || pci_host_init(&vm) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        _exit(test_server_serve(sv[1], NULL, VFU_MAJOR) ? 1 : 0);
    }
    close(sv[1]);
    iommu_mr = memory_region_new_iommu("bench-iommu", UINT64_MAX, &none_ops, NULL);
    pci_bus_set_iommu(pci_root_bus(&vm), dma_region, NULL);
    VFIOBackend *be = vfio_user_connect_fd(sv[0], "bench");
    if (!be || vfio_pci_create(&vm, be, "vfu0"))
        return 1;
    PCIDevice *d = (PCIDevice *)vm_find_device(&vm, "vfu0");
    pci_config_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    uint64_t reg = pci_bar_address(d, 0) + 0x1008;
    if (timing) {
        double t0 = now_ns();
        uint32_t sum = bench_vfu_bar_loop(vm.as_mem, reg, n);
        double t1 = now_ns();
        bench_iommu_map_loop(&vm, n);
        double t2 = now_ns();
        printf("bar_read_ns %.0f map_unmap_ns %.0f (sum 0x%x)\n", (t1 - t0) / n, (t2 - t1) / n,
               sum);
    } else {
        uint32_t sum = bench_vfu_bar_loop(vm.as_mem, reg, n);
        bench_iommu_map_loop(&vm, n);
        printf("%ld repetitions; sum 0x%x\n", n, sum);
    }
    vm_devices_destroy(&vm);
    memory_region_unref(iommu_mr);
    waitpid(pid, NULL, 0);
    vm_destroy(&vm);
    return 0;
}
