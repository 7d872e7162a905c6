/* libFuzzer target: the kernel loaders' file parsers (ELF64 with and without
 * the PVH note, multiboot ELF32 and a.out kludge, the bzImage setup header)
 * and initramfs placement, through loader_load as main() calls it. The input:
 *   byte 0: bits 0-1 the guest RAM layout (below), bit 2 an initramfs,
 *           bits 3-7 the command line's length / 17 (up to 527 bytes)
 *   bytes 1-3: the initramfs size (little-endian, at most the rest)
 *   the rest: the kernel file, then the initramfs file.
 * Files are memfds named by /proc/self/fd/N, so the loaders read them as
 * they read any file. Guest RAM is a fake VM's (no KVM); RAM above 4 GiB is
 * modelled by a smaller ram_below_4g (the loaders only use vm->ram).
 * Beyond crashes and sanitizer reports: a load that succeeds has its entry
 * point in guest RAM. */
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/fake_vm.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

#define MiB (1ull << 20)

/* RAM size, RAM below 4 GiB: just the 1 MiB loaders require, a little more,
 * enough for most kernels, and RAM split around the 4 GiB hole. */
static const uint64_t layouts[4][2] = {
    { 1 * MiB, 1 * MiB }, { 3 * MiB, 3 * MiB }, { 40 * MiB, 40 * MiB }, { 48 * MiB, 40 * MiB },
};
static struct fake_vm vms[4];
static int kernel_fd = -1, initrd_fd = -1;
static char kernel_path[64], initrd_path[64];

static void check(bool ok, const char *what)
{
    if (!ok) {
        /* to the report stream, which libFuzzer keeps when -close_fd_mask=2
         * silences the code's own logging */
        char line[160];
        snprintf(line, sizeof(line), "fuzz_loader: invariant violated: %s", what);
        __sanitizer_report_error_summary(line);
        abort();
    }
}

static void setup(void)
{
    for (unsigned i = 0; i < 4; i++) {
        check(fake_vm_init_with_ram(&vms[i], layouts[i][0], 1), "fake VM");
        vms[i].vm.ram_below_4g = layouts[i][1];
    }
    kernel_fd = memfd_create("kernel", MFD_CLOEXEC);
    initrd_fd = memfd_create("initramfs", MFD_CLOEXEC);
    check(kernel_fd >= 0 && initrd_fd >= 0, "memfd");
    snprintf(kernel_path, sizeof(kernel_path), "/proc/self/fd/%d", kernel_fd);
    snprintf(initrd_path, sizeof(initrd_path), "/proc/self/fd/%d", initrd_fd);
}

static void set_file(int fd, const uint8_t *data, size_t len)
{
    check(ftruncate(fd, 0) == 0, "ftruncate");
    check(len == 0 || pwrite(fd, data, len, 0) == (ssize_t)len, "pwrite");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char cmdline[32 * 17];
    if (kernel_fd < 0)
        setup();
    if (size < 4)
        return 0;
    struct vm *vm = &vms[data[0] & 3].vm;
    size_t rest = size - 4;
    size_t initrd_len = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16;
    if (!(data[0] & 4) || initrd_len > rest)
        initrd_len = 0;
    set_file(kernel_fd, data + 4, rest - initrd_len);
    set_file(initrd_fd, data + 4 + rest - initrd_len, initrd_len);
    size_t cmdline_len = (size_t)(data[0] >> 3) * 17;
    memset(cmdline, 'c', cmdline_len);
    cmdline[cmdline_len] = '\0';

    struct vm_config cfg = {
        .kernel = kernel_path,
        .initramfs = data[0] & 4 ? initrd_path : NULL,
        .cmdline = cmdline,
    };
    struct boot_regs regs;
    int r = loader_load(vm, &cfg, &regs);
    check(r == 0 || r == -1, "loader_load returned neither 0 nor -1");
    if (r == 0) {
        uint64_t rip = regs.rip;
        bool in_low = rip < vm->ram_below_4g;
        bool in_high = rip >= LAYOUT_4G && rip - LAYOUT_4G < vm->ram_size - vm->ram_below_4g;
        check(in_low || in_high, "entry point outside guest RAM");
    }
    return 0;
}
