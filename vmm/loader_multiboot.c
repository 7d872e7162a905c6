/* Multiboot v1 kernels: an ELF32 (i386) file with a multiboot header in its first
 * 8 KiB, or any file whose header sets the a.out kludge (flag 16) and so gives the
 * load addresses itself. Entered in 32-bit protected mode, paging off, with
 * eax = 0x2BADB002 and ebx = the multiboot information block. */
#include "vmm/loader-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/layout.h"

#define MB_HEADER_MAGIC     0x1BADB002u
#define MB_BOOTLOADER_MAGIC 0x2BADB002u

/* Header flags 0-15 are requirements: a loader that cannot meet one must refuse
 * the kernel. We page-align modules (bit 0) and give memory information (bit 1);
 * bit 2 (a video mode) we cannot. */
#define MB_HEADER_REQUIRED    0x0000ffffu
#define MB_HEADER_SUPPORTED   0x00000003u
#define MB_HEADER_AOUT_KLUDGE 0x00010000u

#define MB_INFO_MEMORY  (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS    (1u << 3)
#define MB_INFO_MMAP    (1u << 6)

struct mb_header {
    uint32_t magic, flags, checksum;
    /* valid with MB_HEADER_AOUT_KLUDGE */
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
#define MB_HEADER_BASIC_SIZE 12u

/* The information block up to the fields we fill; the rest of its page is zero. */
struct mb_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;  /* KiB below 640 KiB; KiB from 1 MiB to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
};
struct mb_module {
    uint32_t mod_start, mod_end, string, reserved;
};
struct __attribute__((packed)) mb_mmap_entry {
    uint32_t size;                  /* of the rest of the entry: 20 */
    uint64_t base_addr, length;
    uint32_t type;
};
_Static_assert(sizeof(struct mb_info) == 52, "multiboot info layout");
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "multiboot mmap entry layout");

/* Inside the LAYOUT_BOOT_INFO page; the strings go to the command-line area. */
#define MB_INFO_GPA   LAYOUT_BOOT_INFO
#define MB_MODS_GPA   (LAYOUT_BOOT_INFO + 0x100)
#define MB_MMAP_GPA   (LAYOUT_BOOT_INFO + 0x200)
_Static_assert(MB_MMAP_GPA + VM_MEMORY_MAP_MAX * sizeof(struct mb_mmap_entry) <=
               LAYOUT_BOOT_INFO + LOADER_PAGE_SIZE, "multiboot info fits its page");

long multiboot_find_header(const uint8_t *head, size_t head_len)
{
    for (size_t off = 0; off + MB_HEADER_BASIC_SIZE <= head_len; off += 4) {
        uint32_t magic;
        memcpy(&magic, head + off, sizeof(magic));
        if (magic == MB_HEADER_MAGIC)
            return (long)off;
    }
    return -1;
}

/* The a.out kludge: the file is loaded from the header's load addresses, the file
 * offset of load_addr following from where the header itself sits. */
static int load_kludge(struct vm *vm, const struct loader_file *f, const struct mb_header *h,
                       uint64_t header_off, uint64_t *entry, uint64_t *end)
{
    const char *what = NULL;
    uint64_t filesz = 0, memsz = 0, file_off = 0;

    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > header_off)
        what = "load_addr does not fit the header's place in the file";
    else if (h->load_end_addr && h->load_end_addr < h->load_addr)
        what = "load_end_addr is below load_addr";
    if (!what) {
        file_off = header_off - (h->header_addr - h->load_addr);
        /* load_end_addr 0: load the rest of the file (file_off lies inside it). */
        filesz = h->load_end_addr ? h->load_end_addr - h->load_addr : f->size - file_off;
        memsz = filesz;
        if (h->bss_end_addr && h->bss_end_addr < h->load_addr + filesz)
            what = "bss_end_addr is below the end of the loaded part";
        else if (h->bss_end_addr)
            memsz = h->bss_end_addr - h->load_addr;
    }
    if (!what && (h->entry_addr < h->load_addr || h->entry_addr - h->load_addr >= memsz))
        what = "entry_addr is not in the loaded image";
    if (what) {
        log_error("%s: multiboot a.out kludge: %s", f->path, what);
        return -1;
    }
    if (loader_load_segment(vm, f, file_off, filesz, h->load_addr, memsz) < 0)
        return -1;
    *entry = h->entry_addr;
    *end = h->load_addr + memsz;
    return 0;
}

static int load_elf32(struct vm *vm, const struct loader_file *f, uint64_t *entry,
                      uint64_t *end)
{
    struct loader_elf elf;
    if (loader_elf_read(f, ELFCLASS32, &elf) < 0)
        return -1;
    int ret = loader_elf_load(vm, f, &elf, end);
    if (ret == 0)
        ret = loader_elf_check_entry(f, &elf, elf.entry, "ELF");
    *entry = elf.entry;
    loader_elf_free(&elf);
    return ret;
}

/* The command line is the kernel's path, then a space and --cmdline if given (as
 * GRUB and QEMU pass it); the module's string, its path, follows it. */
static int write_strings(struct vm *vm, const struct vm_config *cfg, uint64_t *mod_string)
{
    char *cmdline;
    int len = cfg->cmdline[0] ? asprintf(&cmdline, "%s %s", cfg->kernel, cfg->cmdline)
                              : asprintf(&cmdline, "%s", cfg->kernel);
    if (len < 0) {
        log_error("%s: out of memory for the command line", cfg->kernel);
        return -1;
    }
    int ret = loader_write_cmdline(vm, cfg->kernel, cmdline, LAYOUT_CMDLINE_MAX - 1);
    free(cmdline);
    if (ret < 0 || !cfg->initramfs)
        return ret;

    *mod_string = LAYOUT_CMDLINE + (uint64_t)len + 1;
    size_t path_size = strlen(cfg->initramfs) + 1;
    if (path_size > LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - *mod_string) {
        log_error("%s: the command line and the initramfs path together exceed %llu bytes",
                  cfg->kernel, LAYOUT_CMDLINE_MAX);
        return -1;
    }
    memcpy(loader_low_ptr(vm, *mod_string, path_size), cfg->initramfs, path_size);
    return 0;
}

static void write_info(struct vm *vm, const struct loaded_initramfs *initrd,
                       uint64_t mod_string)
{
    struct mem_map_entry map[VM_MEMORY_MAP_MAX];
    struct mb_mmap_entry mmap[VM_MEMORY_MAP_MAX];
    unsigned n = vm_memory_map(vm, map, VM_MEMORY_MAP_MAX);
    for (unsigned i = 0; i < n; i++)
        mmap[i] = (struct mb_mmap_entry){ 20, map[i].addr, map[i].size, map[i].type };

    struct mb_info info = {
        .flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP,
        .mem_lower = LAYOUT_EBDA / 1024,
        .mem_upper = (uint32_t)((vm->ram_below_4g - LAYOUT_HIGH_MEM) / 1024),
        .cmdline = LAYOUT_CMDLINE,
        .mmap_length = n * sizeof(mmap[0]),
        .mmap_addr = MB_MMAP_GPA,
    };
    memset(loader_low_ptr(vm, LAYOUT_BOOT_INFO, LOADER_PAGE_SIZE), 0, LOADER_PAGE_SIZE);
    if (initrd->present) {
        /* Below 4 GiB (the initramfs is placed under ram_below_4g): fits 32 bits. */
        struct mb_module mod = {
            .mod_start = (uint32_t)initrd->addr,
            .mod_end = (uint32_t)(initrd->addr + initrd->size),
            .string = (uint32_t)mod_string,
        };
        info.mods_count = 1;
        info.mods_addr = MB_MODS_GPA;
        memcpy(loader_low_ptr(vm, MB_MODS_GPA, sizeof(mod)), &mod, sizeof(mod));
    }
    memcpy(loader_low_ptr(vm, MB_INFO_GPA, sizeof(info)), &info, sizeof(info));
    memcpy(loader_low_ptr(vm, MB_MMAP_GPA, sizeof(mmap[0]) * n), mmap, sizeof(mmap[0]) * n);
}

int loader_load_multiboot(struct vm *vm, const struct vm_config *cfg,
                          const struct loader_file *f, const uint8_t *head,
                          size_t head_len, struct boot_regs *regs)
{
    struct mb_header h = { 0 };
    struct loaded_initramfs initrd;
    uint64_t entry, kernel_end, mod_string = 0;
    long off = multiboot_find_header(head, head_len);

    if (off < 0) {
        log_error("%s: an ELF32 file without a multiboot header in its first 8 KiB", f->path);
        return -1;
    }
    memcpy(&h, head + off, head_len - (size_t)off < sizeof(h) ? head_len - (size_t)off
                                                              : sizeof(h));
    if ((uint32_t)(h.magic + h.flags + h.checksum) != 0) {
        log_error("%s: the multiboot header checksum is wrong", f->path);
        return -1;
    }
    if (h.flags & MB_HEADER_REQUIRED & ~MB_HEADER_SUPPORTED) {
        log_error("%s: the multiboot header requires features this loader lacks (flags 0x%"
                  PRIx32 ")", f->path, h.flags);
        return -1;
    }
    if (h.flags & MB_HEADER_AOUT_KLUDGE) {
        if (head_len - (size_t)off < sizeof(h)) {
            log_error("%s: truncated: the multiboot header's address fields", f->path);
            return -1;
        }
        if (load_kludge(vm, f, &h, (uint64_t)off, &entry, &kernel_end) < 0)
            return -1;
    } else if (!loader_is_elf(head, head_len, ELFCLASS32)) {
        log_error("%s: a multiboot kernel that is neither ELF32 nor uses the a.out kludge",
                  f->path);
        return -1;
    } else if (load_elf32(vm, f, &entry, &kernel_end) < 0) {
        return -1;
    }

    /* The module goes right above the kernel, as QEMU and GRUB place it. */
    if (write_strings(vm, cfg, &mod_string) < 0 ||
        loader_load_initramfs(vm, cfg->initramfs, kernel_end, vm->ram_below_4g, false,
                              &initrd) < 0)
        return -1;
    write_info(vm, &initrd, mod_string);

    regs->mode = BOOT_MODE_PROTECTED32;
    regs->rip = entry;
    regs->rax = MB_BOOTLOADER_MAGIC;
    regs->rbx = MB_INFO_GPA;
    return 0;
}
