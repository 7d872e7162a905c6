/* ELF reading for both classes (the multiboot loader uses the ELF32 side) and
 * 64-bit ELF kernels (ELFCLASS64, EM_X86_64, ET_EXEC).
 *
 * With a Xen PVH note (Linux's vmlinux) the kernel is entered through the x86/HVM
 * direct boot ABI: 32-bit protected mode, paging off, ebx = hvm_start_info. This is
 * how Linux boots here (DESIGN.md §8): no real-mode setup, no decompressor.
 * Without the note (our freestanding test guests) the kernel is entered in 64-bit
 * mode at e_entry with the first 4 GiB identity mapped, rsi = the same
 * hvm_start_info (memory map, command line, initramfs), rdi = 0, and rsp = 0: the
 * guest sets up its own stack. */
#include "vmm/loader-internal.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/layout.h"

/* From Xen's public headers (elfnote.h, arch-x86/hvm/start_info.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;      /* version 1 and later */
    uint32_t memmap_entries;
    uint32_t reserved;
};
struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_table_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info ABI size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry ABI size");

/* Inside the LAYOUT_BOOT_INFO page: the start info, the memmap right after it,
 * then the module list. */
#define MEMMAP_GPA  (LAYOUT_BOOT_INFO + sizeof(struct hvm_start_info))
#define MODLIST_GPA (MEMMAP_GPA + VM_MEMORY_MAP_MAX * sizeof(struct hvm_memmap_table_entry))
_Static_assert(MODLIST_GPA + sizeof(struct hvm_modlist_entry) <=
               LAYOUT_BOOT_INFO + LOADER_PAGE_SIZE, "start info fits its page");

static void widen_phdr(Elf64_Phdr *out, const Elf32_Phdr *in)
{
    *out = (Elf64_Phdr){
        .p_type = in->p_type, .p_flags = in->p_flags, .p_offset = in->p_offset,
        .p_vaddr = in->p_vaddr, .p_paddr = in->p_paddr, .p_filesz = in->p_filesz,
        .p_memsz = in->p_memsz, .p_align = in->p_align,
    };
}

int loader_elf_read(const struct loader_file *f, unsigned char elf_class,
                    struct loader_elf *elf)
{
    bool is64 = elf_class == ELFCLASS64;
    union {
        Elf32_Ehdr e32;
        Elf64_Ehdr e64;
    } eh;
    size_t phent = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    const char *what = NULL;

    *elf = (struct loader_elf){ 0 };
    if (loader_file_read(f, 0, &eh, is64 ? sizeof(eh.e64) : sizeof(eh.e32), "ELF header") < 0)
        return -1;
    /* e_ident, e_type and e_machine sit at the same offsets in both classes. */
    uint64_t phoff = is64 ? eh.e64.e_phoff : eh.e32.e_phoff;
    unsigned phentsize = is64 ? eh.e64.e_phentsize : eh.e32.e_phentsize;
    unsigned phnum = is64 ? eh.e64.e_phnum : eh.e32.e_phnum;
    if (eh.e32.e_ident[EI_DATA] != ELFDATA2LSB)
        what = "not little-endian";
    else if (eh.e32.e_machine != (is64 ? EM_X86_64 : EM_386))
        what = is64 ? "not an x86-64 ELF (e_machine)" : "not an i386 ELF (e_machine)";
    else if (eh.e32.e_type != ET_EXEC)
        what = "not an executable ELF (e_type is not ET_EXEC)";
    else if (phentsize != phent)
        what = "unexpected program header size (e_phentsize)";
    else if (phnum == 0)
        what = "no program headers";
    if (what) {
        log_error("%s: %s", f->path, what);
        return -1;
    }

    void *raw = malloc(phnum * phent);
    elf->ph = is64 ? raw : malloc(phnum * sizeof(Elf64_Phdr));
    if (!raw || !elf->ph) {
        log_error("%s: out of memory for the program headers", f->path);
        goto fail;
    }
    if (loader_file_read(f, phoff, raw, phnum * phent, "program headers") < 0)
        goto fail;
    if (!is64) {
        for (unsigned i = 0; i < phnum; i++)
            widen_phdr(&elf->ph[i], (const Elf32_Phdr *)raw + i);
        free(raw);
    }
    elf->phnum = phnum;
    elf->entry = is64 ? eh.e64.e_entry : eh.e32.e_entry;
    return 0;
fail:
    if (raw != elf->ph)
        free(raw);
    loader_elf_free(elf);
    return -1;
}

void loader_elf_free(struct loader_elf *elf)
{
    free(elf->ph);
    elf->ph = NULL;
}

int loader_elf_load(struct vm *vm, const struct loader_file *f,
                    const struct loader_elf *elf, uint64_t *end, bool low_ok)
{
    *end = 0;
    for (unsigned i = 0; i < elf->phnum; i++) {
        const Elf64_Phdr *ph = &elf->ph[i];
        if (ph->p_type != PT_LOAD || (ph->p_memsz == 0 && ph->p_filesz == 0))
            continue;
        if (loader_load_segment(vm, f, ph->p_offset, ph->p_filesz, ph->p_paddr,
                                ph->p_memsz, low_ok) < 0)
            return -1;
        if (ph->p_paddr + ph->p_memsz > *end)
            *end = ph->p_paddr + ph->p_memsz;
    }
    if (*end == 0) {
        log_error("%s: no loadable (PT_LOAD) segment", f->path);
        return -1;
    }
    return 0;
}

int loader_elf_check_entry(const struct loader_file *f, const struct loader_elf *elf,
                           uint64_t entry, const char *what)
{
    /* Below 4 GiB: reachable in 32-bit mode and through the 64-bit identity map. */
    for (unsigned i = 0; i < elf->phnum && entry < LAYOUT_4G; i++) {
        const Elf64_Phdr *ph = &elf->ph[i];
        if (ph->p_type == PT_LOAD && entry >= ph->p_paddr && entry - ph->p_paddr < ph->p_memsz)
            return 0;
    }
    log_error("%s: the %s entry point 0x%" PRIx64 " is not in a loaded segment below 4 GiB",
              f->path, what, entry);
    return -1;
}

/* Kernels carry a few KiB of notes; a bigger PT_NOTE segment is not one we boot. */
#define NOTE_SEGMENT_MAX (16u << 20)

/* Looks for the PVH entry note among the notes of one PT_NOTE segment, read
 * into memory in one go (one read per note made a huge segment take minutes).
 * Returns 1 and sets *entry if found, 0 if not, -1 on a malformed note. */
static int find_pvh_note(const struct loader_file *f, const Elf64_Phdr *ph, uint64_t *entry)
{
    /* Notes are padded to 4 bytes, or 8 in segments aligned so (as readelf does). */
    uint64_t align = ph->p_align == 8 ? 8 : 4;
    uint64_t pos = 0, len = ph->p_filesz;

    if (ph->p_offset > f->size || len > f->size - ph->p_offset) {
        log_error("%s: truncated: a PT_NOTE segment runs past the end of the file", f->path);
        return -1;
    }
    if (len > NOTE_SEGMENT_MAX) {
        log_error("%s: a PT_NOTE segment of 0x%" PRIx64 " bytes, more than the %u MiB "
                  "minivmm reads", f->path, len, NOTE_SEGMENT_MAX >> 20);
        return -1;
    }
    uint8_t *notes = malloc(len ? len : 1);
    if (!notes) {
        log_error("%s: no memory for its ELF notes", f->path);
        return -1;
    }
    int found = 0;
    if (loader_file_read(f, ph->p_offset, notes, len, "ELF notes") < 0)
        found = -1;
    while (found == 0 && len - pos >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, notes + pos, sizeof(nh));
        uint64_t name_len = loader_align_up(nh.n_namesz, align);
        uint64_t desc_len = loader_align_up(nh.n_descsz, align);
        uint64_t note_len = sizeof(nh) + name_len + desc_len;
        if (note_len > len - pos) {
            log_error("%s: an ELF note runs past the end of its PT_NOTE segment", f->path);
            found = -1;
            break;
        }
        const uint8_t *name = notes + pos + sizeof(nh), *desc = name + name_len;
        if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
            !memcmp(name, "Xen", 4)) {
            if (nh.n_descsz != 4 && nh.n_descsz != 8) {
                log_error("%s: the PVH entry note holds %" PRIu32 " bytes, expected 4 or 8",
                          f->path, nh.n_descsz);
                found = -1;
                break;
            }
            /* Little-endian guest and host: the low bytes come first. */
            uint64_t value = 0;
            memcpy(&value, desc, nh.n_descsz);
            *entry = value;
            found = 1;
        }
        pos += note_len;
    }
    free(notes);
    return found;
}

static int find_pvh_entry(const struct loader_file *f, const struct loader_elf *elf,
                          uint64_t *entry)
{
    for (unsigned i = 0; i < elf->phnum; i++) {
        if (elf->ph[i].p_type != PT_NOTE)
            continue;
        int found = find_pvh_note(f, &elf->ph[i], entry);
        if (found)
            return found;
    }
    return 0;
}

static void write_start_info(struct vm *vm, const struct loaded_initramfs *initrd)
{
    struct mem_map_entry map[VM_MEMORY_MAP_MAX];
    struct hvm_memmap_table_entry memmap[VM_MEMORY_MAP_MAX];
    unsigned n = vm_memory_map(vm, map, VM_MEMORY_MAP_MAX);
    for (unsigned i = 0; i < n; i++)
        memmap[i] = (struct hvm_memmap_table_entry){ map[i].addr, map[i].size, map[i].type, 0 };

    struct hvm_start_info si = {
        .magic = HVM_START_MAGIC,
        .version = 1,
        .cmdline_paddr = LAYOUT_CMDLINE,
        .rsdp_paddr = loader_rsdp_addr(vm),
        .memmap_paddr = MEMMAP_GPA,
        .memmap_entries = n,
    };
    memset(loader_low_ptr(vm, LAYOUT_BOOT_INFO, LOADER_PAGE_SIZE), 0, LOADER_PAGE_SIZE);
    if (initrd->present) {
        struct hvm_modlist_entry mod = { .paddr = initrd->addr, .size = initrd->size };
        si.nr_modules = 1;
        si.modlist_paddr = MODLIST_GPA;
        memcpy(loader_low_ptr(vm, MODLIST_GPA, sizeof(mod)), &mod, sizeof(mod));
    }
    memcpy(loader_low_ptr(vm, LAYOUT_BOOT_INFO, sizeof(si)), &si, sizeof(si));
    memcpy(loader_low_ptr(vm, MEMMAP_GPA, n * sizeof(memmap[0])), memmap, n * sizeof(memmap[0]));
}

int loader_load_elf64(struct vm *vm, const struct vm_config *cfg,
                      const struct loader_file *f, struct boot_regs *regs)
{
    struct loader_elf elf;
    struct loaded_initramfs initrd;
    uint64_t kernel_end, entry;
    int pvh = 0;

    if (loader_elf_read(f, ELFCLASS64, &elf) < 0)
        return -1;
    entry = elf.entry;
    if (loader_elf_load(vm, f, &elf, &kernel_end, false) < 0 ||
        (pvh = find_pvh_entry(f, &elf, &entry)) < 0 ||
        loader_elf_check_entry(f, &elf, entry, pvh ? "PVH" : "ELF") < 0 ||
        loader_write_cmdline(vm, f->path, cfg->cmdline, LAYOUT_CMDLINE_MAX - 1) < 0 ||
        loader_load_initramfs(vm, cfg->initramfs, kernel_end, vm->ram_below_4g, true,
                              &initrd) < 0) {
        loader_elf_free(&elf);
        return -1;
    }
    loader_elf_free(&elf);
    write_start_info(vm, &initrd);

    regs->rip = entry;
    if (pvh) {
        regs->mode = BOOT_MODE_PROTECTED32;
        regs->rbx = LAYOUT_BOOT_INFO;
    } else {
        regs->mode = BOOT_MODE_LONG64;
        regs->rsi = LAYOUT_BOOT_INFO;
    }
    return 0;
}
