/* Multiboot v1 kernels: an ELF32 (i386) file with a multiboot header in its first
 * 8 KiB, or any file whose header sets the a.out kludge (flag 16) and so gives the
 * load addresses itself. Entered in 32-bit protected mode, paging off, with
 * eax = 0x2BADB002 and ebx = the multiboot information block.
 *
 * Such kernels may load below 1 MiB (anywhere in RAM outside the BIOS area
 * 0x9fc00-0xfffff), so the boot structures this loader writes (information
 * page, command line and module string, GDT) go to their usual places in
 * vmm/layout.h only where the kernel is not, else to the lowest free spot; the
 * module goes at or above 1 MiB, above the kernel. */
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

/* Offsets in the information page; the strings have their own area. */
#define MB_MODS_OFF   0x100
#define MB_MMAP_OFF   0x200
_Static_assert(MB_MMAP_OFF + VM_MEMORY_MAP_MAX * sizeof(struct mb_mmap_entry) <=
               LOADER_PAGE_SIZE, "multiboot info fits its page");
#define MB_GDT_SIZE   32u        /* x86_boot.c's four descriptors */
/* The real-mode IVT and BIOS data area stay clear of our structures. */
#define MB_LOW_START  0x1000ull

/* Guest ranges already taken: the kernel's segments, the module, what this
 * loader placed. */
#define MB_MAX_USED   32
struct mb_used {
    uint64_t start[MB_MAX_USED], end[MB_MAX_USED];
    unsigned n;
};

static int used_add(struct mb_used *u, uint64_t start, uint64_t end, const char *path)
{
    if (u->n == MB_MAX_USED) {
        log_error("%s: more than %d multiboot segments", path, MB_MAX_USED - 4);
        return -1;
    }
    u->start[u->n] = start;
    u->end[u->n++] = end;
    return 0;
}

static bool spot_free(const struct vm *vm, const struct mb_used *u, uint64_t a, uint64_t size)
{
    if (a > vm->ram_below_4g || size > vm->ram_below_4g - a)
        return false;
    if (a < LAYOUT_HIGH_MEM && a + size > LAYOUT_EBDA)
        return false;
    for (unsigned i = 0; i < u->n; i++)
        if (a < u->end[i] && u->start[i] < a + size)
            return false;
    return true;
}

/* `dflt` when free, else the lowest free `align`ed spot (candidates: the low
 * start, 1 MiB and the end of each used range); 0 when RAM has none. */
static uint64_t place(const struct vm *vm, struct mb_used *u, uint64_t size, uint64_t align,
                      uint64_t dflt, const char *path)
{
    uint64_t best = 0;
    if (spot_free(vm, u, dflt, size)) {
        best = dflt;
    } else {
        for (unsigned i = 0; i < u->n + 2; i++) {
            uint64_t a = i < u->n ? loader_align_up(u->end[i], align)
                                  : i == u->n ? MB_LOW_START : LAYOUT_HIGH_MEM;
            if (spot_free(vm, u, a, size) && (!best || a < best))
                best = a;
        }
    }
    if (!best) {
        log_error("%s: no room in guest RAM for 0x%" PRIx64 " bytes of boot information",
                  path, size);
        return 0;
    }
    return used_add(u, best, best + size, path) < 0 ? 0 : best;
}

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
                       uint64_t header_off, uint64_t *entry, struct mb_used *used)
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
    if (loader_load_segment(vm, f, file_off, filesz, h->load_addr, memsz, true) < 0)
        return -1;
    *entry = h->entry_addr;
    return used_add(used, h->load_addr, h->load_addr + memsz, f->path);
}

static int load_elf32(struct vm *vm, const struct loader_file *f, uint64_t *entry,
                      struct mb_used *used)
{
    struct loader_elf elf;
    uint64_t end;
    if (loader_elf_read(f, ELFCLASS32, &elf) < 0)
        return -1;
    int ret = loader_elf_load(vm, f, &elf, &end, true);
    if (ret == 0)
        ret = loader_elf_check_entry(f, &elf, elf.entry, "ELF");
    for (unsigned i = 0; ret == 0 && i < elf.phnum; i++) {
        const Elf64_Phdr *ph = &elf.ph[i];
        if (ph->p_type == PT_LOAD && ph->p_memsz)
            ret = used_add(used, ph->p_paddr, ph->p_paddr + ph->p_memsz, f->path);
    }
    *entry = elf.entry;
    loader_elf_free(&elf);
    return ret;
}

/* The command line is the kernel's path, then a space and --cmdline if given (as
 * GRUB and QEMU pass it); the module's string, its path, follows it. Written
 * where place() finds room; *cmdline and *mod_string get their addresses. */
static int write_strings(struct vm *vm, const struct vm_config *cfg, struct mb_used *used,
                         uint64_t *cmdline_gpa, uint64_t *mod_string)
{
    char *s;
    int len = asprintf(&s, "%s%s%s%c%s", cfg->kernel, cfg->cmdline[0] ? " " : "",
                       cfg->cmdline, '\0', cfg->initramfs ? cfg->initramfs : "");
    if (len < 0) {
        log_error("%s: out of memory for the command line", cfg->kernel);
        return -1;
    }
    size_t cmd_size = strlen(s) + 1, size = (size_t)len + 1;
    if (size > LAYOUT_CMDLINE_MAX) {
        log_error("%s: the command line and the initramfs path together exceed %llu bytes",
                  cfg->kernel, LAYOUT_CMDLINE_MAX);
        free(s);
        return -1;
    }
    *cmdline_gpa = place(vm, used, size, 16, LAYOUT_CMDLINE, cfg->kernel);
    if (*cmdline_gpa)
        memcpy(loader_low_ptr(vm, *cmdline_gpa, size), s, size);
    free(s);
    *mod_string = *cmdline_gpa + cmd_size;
    return *cmdline_gpa ? 0 : -1;
}

static void write_info(struct vm *vm, uint64_t info_gpa, const struct loaded_initramfs *initrd,
                       uint64_t cmdline, uint64_t mod_string)
{
    struct mem_map_entry map[VM_MEMORY_MAP_MAX];
    struct mb_mmap_entry mmap[VM_MEMORY_MAP_MAX];
    unsigned n = vm_memory_map(vm, map, VM_MEMORY_MAP_MAX);
    for (unsigned i = 0; i < n; i++)
        mmap[i] = (struct mb_mmap_entry){ 20, map[i].addr, map[i].size, map[i].type };

    /* Every address here is below 4 GiB (place() and the initramfs stay under
     * ram_below_4g): they fit the 32-bit fields. */
    struct mb_info info = {
        .flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP,
        .mem_lower = LAYOUT_EBDA / 1024,
        .mem_upper = (uint32_t)((vm->ram_below_4g - LAYOUT_HIGH_MEM) / 1024),
        .cmdline = (uint32_t)cmdline,
        .mmap_length = n * sizeof(mmap[0]),
        .mmap_addr = (uint32_t)(info_gpa + MB_MMAP_OFF),
    };
    memset(loader_low_ptr(vm, info_gpa, LOADER_PAGE_SIZE), 0, LOADER_PAGE_SIZE);
    if (initrd->present) {
        struct mb_module mod = {
            .mod_start = (uint32_t)initrd->addr,
            .mod_end = (uint32_t)(initrd->addr + initrd->size),
            .string = (uint32_t)mod_string,
        };
        info.mods_count = 1;
        info.mods_addr = (uint32_t)(info_gpa + MB_MODS_OFF);
        memcpy(loader_low_ptr(vm, info.mods_addr, sizeof(mod)), &mod, sizeof(mod));
    }
    memcpy(loader_low_ptr(vm, info_gpa, sizeof(info)), &info, sizeof(info));
    memcpy(loader_low_ptr(vm, info.mmap_addr, sizeof(mmap[0]) * n), mmap, sizeof(mmap[0]) * n);
}

int loader_load_multiboot(struct vm *vm, const struct vm_config *cfg,
                          const struct loader_file *f, const uint8_t *head,
                          size_t head_len, struct boot_regs *regs)
{
    struct mb_header h = { 0 };
    struct loaded_initramfs initrd;
    struct mb_used used = { .n = 0 };
    uint64_t entry, cmdline = 0, mod_string = 0;
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
        if (load_kludge(vm, f, &h, (uint64_t)off, &entry, &used) < 0)
            return -1;
    } else if (!loader_is_elf(head, head_len, ELFCLASS32)) {
        log_error("%s: a multiboot kernel that is neither ELF32 nor uses the a.out kludge",
                  f->path);
        return -1;
    } else if (load_elf32(vm, f, &entry, &used) < 0) {
        return -1;
    }

    /* The module goes right above the kernel, as QEMU and GRUB place it, and
     * never below 1 MiB, where it would not fit for long. */
    uint64_t kernel_end = LAYOUT_HIGH_MEM;
    for (unsigned i = 0; i < used.n; i++)
        kernel_end = used.end[i] > kernel_end ? used.end[i] : kernel_end;
    if (loader_load_initramfs(vm, cfg->initramfs, kernel_end, vm->ram_below_4g, false,
                              &initrd) < 0 ||
        (initrd.present &&
         used_add(&used, initrd.addr, initrd.addr + initrd.size, f->path) < 0))
        return -1;
    uint64_t info = place(vm, &used, LOADER_PAGE_SIZE, LOADER_PAGE_SIZE, LAYOUT_BOOT_INFO,
                          f->path);
    uint64_t gdt = info ? place(vm, &used, MB_GDT_SIZE, 8, LAYOUT_GDT, f->path) : 0;
    if (!gdt || write_strings(vm, cfg, &used, &cmdline, &mod_string) < 0)
        return -1;
    write_info(vm, info, &initrd, cmdline, mod_string);

    regs->mode = BOOT_MODE_PROTECTED32;
    regs->rip = entry;
    regs->rax = MB_BOOTLOADER_MAGIC;
    regs->rbx = info;
    regs->gdt = gdt;
    return 0;
}
