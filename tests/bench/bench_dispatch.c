/* The dispatch half of a port-I/O or MMIO exit, measured without KVM: the real
 * machine (RAM, legacy devices, address spaces) is built as for --dump-mtree, and
 * synthetic kvm_run exits go through vcpu_handle_io / vcpu_handle_mmio to a
 * register that does nothing, so what is counted is the VMM's own path.
 * tests/bench/run.sh runs this under callgrind and divides the instructions
 * inside bench_*_loop by the repetitions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define BENCH_PORT 0x510
#define BENCH_MMIO 0xfe000000ull

static MemTxResult scratch_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    (void)addr, (void)size;
    *data = *(uint32_t *)opaque;
    return MEMTX_OK;
}

static MemTxResult scratch_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    (void)addr, (void)size;
    *(uint32_t *)opaque = (uint32_t)data;
    return MEMTX_OK;
}

static const MemoryRegionOps scratch_ops = {
    .read = scratch_read,
    .write = scratch_write,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

static uint32_t scratch;

static void add_scratch(MemoryRegion *container, hwaddr addr, const char *name)
{
    MemoryRegion *mr = memory_region_new_io(name, 4, &scratch_ops, &scratch);
    memory_region_add_subregion(container, addr, mr);
    memory_region_unref(mr);
}

__attribute__((noinline)) static int bench_pio_loop(struct vm *vm, struct kvm_run *run, long n)
{
    int err = 0;
    for (long i = 0; i < n; i++)
        err |= vcpu_handle_io(vm, run);
    return err;
}

__attribute__((noinline)) static int bench_mmio_loop(struct vm *vm, struct kvm_run *run, long n)
{
    int err = 0;
    for (long i = 0; i < n; i++)
        err |= vcpu_handle_mmio(vm, run);
    return err;
}

/* Alternating between two devices defeats the flat view's last-range hint: the
 * cost of an exit that needs the full lookup. */
__attribute__((noinline)) static int bench_pio_alternating_loop(struct vm *vm,
                                                                struct kvm_run *run, long n)
{
    int err = 0;
    for (long i = 0; i < n; i++) {
        run->io.port = BENCH_PORT + (i & 1) * 8;
        err |= vcpu_handle_io(vm, run);
    }
    return err;
}

__attribute__((noinline)) static int bench_mmio_alternating_loop(struct vm *vm,
                                                                 struct kvm_run *run, long n)
{
    int err = 0;
    for (long i = 0; i < n; i++) {
        run->mmio.phys_addr = BENCH_MMIO + (uint64_t)(i & 1) * 0x1000;
        err |= vcpu_handle_mmio(vm, run);
    }
    return err;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    struct vm_config cfg = {
        .cmdline = "", .nr_cpus = 1, .mem_size = 256ull << 20,
        .serial = SERIAL_OFF, .dump_mtree = true, .debug_exit_port = 0xf4,
    };
    struct vm vm;
    if (vm_create(&vm, &cfg) || devices_create(&vm, &cfg))
        return 1;
    add_scratch(vm.sysio, BENCH_PORT, "bench-pio");
    add_scratch(vm.sysio, BENCH_PORT + 8, "bench-pio2");
    add_scratch(vm.sysmem, BENCH_MMIO, "bench-mmio");
    add_scratch(vm.sysmem, BENCH_MMIO + 0x1000, "bench-mmio2");

    /* No vCPU here, so no mmap'ed kvm_run: a buffer of the usual two pages. */
    vm.run_size = 8192;
    struct kvm_run *run = calloc(1, (size_t)vm.run_size);
    if (!run)
        return 1;
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = KVM_EXIT_IO_OUT;
    run->io.size = 2;
    run->io.port = BENCH_PORT;
    run->io.count = 1;
    run->io.data_offset = 4096 - 64;
    int err = bench_pio_loop(&vm, run, n);
    err |= bench_pio_alternating_loop(&vm, run, n);

    memset(run, 0, sizeof(*run));
    run->exit_reason = KVM_EXIT_MMIO;
    run->mmio.phys_addr = BENCH_MMIO;
    run->mmio.len = 4;
    run->mmio.is_write = 1;
    memcpy(run->mmio.data, "\x11\x22\x33\x44", 4);
    err |= bench_mmio_loop(&vm, run, n);
    err |= bench_mmio_alternating_loop(&vm, run, n);

    printf("%ld repetitions each; last value 0x%x\n", n, scratch);
    free(run);
    vm_destroy(&vm);
    return err ? 1 : 0;
}
