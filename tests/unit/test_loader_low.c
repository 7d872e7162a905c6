/* Multiboot kernels that load below 1 MiB: the loader takes any segment in RAM
 * outside the BIOS area 0x9fc00-0xfffff and puts its own boot structures
 * (information page, strings, GDT) where the kernel is not. Files are a.out
 * kludge images synthesized here; guest memory is read back through the
 * address space. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

#define MiB (1024ull * 1024)
#define IMAGE_LEN 0x100

static uint8_t image[IMAGE_LEN];

/* A flat image loaded at `load`, zero-filled up to `bss_end`, entry at +0x40. */
static char *kludge_kernel(uint32_t load, uint32_t bss_end)
{
    uint32_t flags = 0x10003;
    uint32_t header[8] = { 0x1BADB002, flags, -(0x1BADB002u + flags),
                           load + 0x10, load, 0, bss_end, load + 0x40 };
    for (unsigned i = 0; i < IMAGE_LEN; i++)
        image[i] = (uint8_t)(i * 13 + 5);
    memcpy(image + 0x10, header, sizeof(header));
    char *path = strdup("/tmp/minivmm-test-loader-low-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, image, IMAGE_LEN) != IMAGE_LEN)
        abort();
    close(fd);
    return path;
}

static uint64_t rd32(struct fake_vm *f, uint64_t gpa)
{
    MemTxResult r;
    return address_space_ldl_le(f->vm.as_mem, gpa, &r);
}

static bool zero(struct fake_vm *f, uint64_t gpa, uint64_t len)
{
    uint8_t *buf = malloc(len);
    address_space_read(f->vm.as_mem, gpa, buf, len);
    bool z = true;
    for (uint64_t i = 0; i < len; i++)
        z &= buf[i] == 0;
    free(buf);
    return z;
}

static bool string_at(struct fake_vm *f, uint64_t gpa, const char *s)
{
    char buf[512] = "";
    address_space_read(f->vm.as_mem, gpa, buf, strlen(s) + 1);
    return !strcmp(buf, s);
}

static bool outside(uint64_t a, uint64_t len, uint64_t start, uint64_t end)
{
    return a + len <= start || a >= end;
}

/* Kernel at 0x5000-0x30000: over the default information page (0x6000) and
 * command line (0x20000); the GDT keeps its place at 0x500. */
TEST(kernel_at_0x5000_over_the_default_boot_info)
{
    struct fake_vm f;
    struct boot_regs regs;
    char *kernel = kludge_kernel(0x5000, 0x30000);
    struct vm_config cfg = { .kernel = kernel, .cmdline = "low=1", .initramfs = kernel };
    char cmdline[256];
    snprintf(cmdline, sizeof(cmdline), "%s low=1", kernel);
    REQUIRE(fake_vm_init_with_ram(&f, 64 * MiB, 1));
    address_space_write(f.vm.as_mem, 0x5100, "dirty", 5);

    CHECK_EQ(loader_load(&f.vm, &cfg, &regs), 0);
    CHECK_EQ(regs.rip, 0x5040);
    uint8_t back[IMAGE_LEN];
    address_space_read(f.vm.as_mem, 0x5000, back, IMAGE_LEN);
    CHECK(!memcmp(back, image, IMAGE_LEN));
    CHECK(zero(&f, 0x5000 + IMAGE_LEN, 0x30000 - 0x5000 - IMAGE_LEN));   /* bss untouched */
    uint64_t mbi = regs.rbx;
    CHECK(outside(mbi, 0x1000, 0x5000, 0x30000));
    CHECK(mbi + 0x1000 <= LAYOUT_EBDA);
    CHECK_EQ(regs.gdt, LAYOUT_GDT);
    uint64_t cmd = rd32(&f, mbi + 16);
    CHECK(outside(cmd, strlen(cmdline) + 1, 0x5000, 0x30000));
    CHECK(outside(cmd, strlen(cmdline) + 1, mbi, mbi + 0x1000));
    CHECK(string_at(&f, cmd, cmdline));
    uint64_t mod = rd32(&f, mbi + 24);
    CHECK(mod >= mbi && mod < mbi + 0x1000);
    CHECK(rd32(&f, mod) >= LAYOUT_HIGH_MEM);               /* the module above 1 MiB */
    CHECK_EQ(rd32(&f, mod + 4) - rd32(&f, mod), IMAGE_LEN);
    CHECK(string_at(&f, rd32(&f, mod + 8), kernel));
    CHECK(outside(rd32(&f, mod + 8), strlen(kernel) + 1, 0x5000, 0x30000));
    uint64_t mmap = rd32(&f, mbi + 48);
    CHECK(mmap >= mbi && mmap + 72 <= mbi + 0x1000);
    unlink(kernel);
    free(kernel);
    fake_vm_destroy(&f);
}

/* Kernel over all low RAM but its last 3 KiB: the information page moves to
 * 1 MiB, the GDT and strings into the gap. */
TEST(kernel_filling_low_memory)
{
    struct fake_vm f;
    struct boot_regs regs;
    char *kernel = kludge_kernel(0x0, 0x9f000);
    struct vm_config cfg = { .kernel = kernel, .cmdline = "" };
    REQUIRE(fake_vm_init_with_ram(&f, 64 * MiB, 1));
    CHECK_EQ(loader_load(&f.vm, &cfg, &regs), 0);
    CHECK_EQ(regs.rbx, LAYOUT_HIGH_MEM);
    CHECK(regs.gdt >= 0x9f000 && regs.gdt + 32 <= LAYOUT_EBDA);
    uint64_t cmd = rd32(&f, regs.rbx + 16);
    CHECK(cmd >= 0x9f000 && cmd + strlen(kernel) + 1 <= LAYOUT_EBDA);
    CHECK(outside(cmd, strlen(kernel) + 1, regs.gdt, regs.gdt + 32));
    CHECK(string_at(&f, cmd, kernel));
    CHECK(zero(&f, IMAGE_LEN, 0x9f000 - IMAGE_LEN));
    unlink(kernel);
    free(kernel);
    fake_vm_destroy(&f);
}

TEST(segment_over_the_bios_area_is_refused)
{
    struct fake_vm f;
    struct boot_regs regs;
    char *kernel = kludge_kernel(0x9f000, 0xa1000);
    struct vm_config cfg = { .kernel = kernel, .cmdline = "" };
    REQUIRE(fake_vm_init_with_ram(&f, 64 * MiB, 1));
    CHECK_EQ(loader_load(&f.vm, &cfg, &regs), -1);
    unlink(kernel);
    free(kernel);
    fake_vm_destroy(&f);
}
