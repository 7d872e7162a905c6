/* Kernel loading: format detection and the helpers every format shares (safe
 * file reads, guest RAM access, initramfs placement, the command line) and the
 * machine's memory map. */
#include "vmm/loader-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/layout.h"

unsigned vm_memory_map(const struct vm *vm, struct mem_map_entry *out, unsigned max)
{
    struct mem_map_entry map[VM_MEMORY_MAP_MAX];
    unsigned n = 0;
    uint64_t below = vm->ram_below_4g;

    map[n++] = (struct mem_map_entry){ 0, below < LAYOUT_EBDA ? below : LAYOUT_EBDA, E820_RAM };
    /* EBDA, VGA hole and BIOS area; the ACPI tables live in it at LAYOUT_ACPI. */
    map[n++] = (struct mem_map_entry){ LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA,
                                       E820_RESERVED };
    if (below > LAYOUT_HIGH_MEM)
        map[n++] = (struct mem_map_entry){ LAYOUT_HIGH_MEM, below - LAYOUT_HIGH_MEM, E820_RAM };
    /* The PCI ECAM window (ACPI MCFG): Linux uses it early only when reserved here. */
    if (vm->pci)
        map[n++] = (struct mem_map_entry){ LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED };
    if (vm->ram_size > below)
        map[n++] = (struct mem_map_entry){ LAYOUT_4G, vm->ram_size - below, E820_RAM };

    if (n > max)
        n = max;
    memcpy(out, map, n * sizeof(*out));
    return n;
}

int loader_file_open(struct loader_file *f, const char *path)
{
    struct stat st;
    f->path = path;
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer before the
     * check below could refuse it. Reads of regular files ignore the flag. */
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f->fd < 0) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_error("%s: not a regular file", path);
        close(f->fd);
        return -1;
    }
    f->size = (uint64_t)st.st_size;
    return 0;
}

void loader_file_close(struct loader_file *f)
{
    close(f->fd);
    f->fd = -1;
}

int loader_file_read(const struct loader_file *f, uint64_t off, void *buf, uint64_t len,
                     const char *what)
{
    if (off > f->size || len > f->size - off) {
        log_error("%s: truncated: 0x%" PRIx64 " bytes of %s at offset 0x%" PRIx64
                  ", but the file has 0x%" PRIx64 " bytes", f->path, len, what, off, f->size);
        return -1;
    }
    uint8_t *dst = buf;
    uint64_t done = 0;
    while (done < len) {
        /* pread transfers at most ~2 GiB per call; a large initramfs takes several. */
        uint64_t chunk = len - done < (1u << 30) ? len - done : (1u << 30);
        ssize_t n = pread(f->fd, dst + done, chunk, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("%s: read failed: %s", f->path, strerror(errno));
            return -1;
        }
        if (n == 0) {
            log_error("%s: truncated: the file shrank while being read", f->path);
            return -1;
        }
        done += (uint64_t)n;
    }
    return 0;
}

void *loader_guest_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
    uint8_t *base = memory_region_get_ram_ptr(vm->ram);
    uint64_t below = vm->ram_below_4g, above = vm->ram_size - below;

    if (gpa <= below && len <= below - gpa)
        return base + gpa;
    if (gpa >= LAYOUT_4G && gpa - LAYOUT_4G <= above && len <= above - (gpa - LAYOUT_4G))
        return base + below + (gpa - LAYOUT_4G);
    return NULL;
}

void *loader_low_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
    void *p = loader_guest_ptr(vm, gpa, len);
    if (!p)
        abort(); /* a layout bug: loader_load checked the first 1 MiB is RAM */
    return p;
}

int loader_load_segment(struct vm *vm, const struct loader_file *f, uint64_t off,
                        uint64_t filesz, uint64_t gpa, uint64_t memsz, bool low_ok)
{
    if (filesz > memsz) {
        log_error("%s: segment at 0x%" PRIx64 " has more file bytes (0x%" PRIx64
                  ") than memory bytes (0x%" PRIx64 ")", f->path, gpa, filesz, memsz);
        return -1;
    }
    /* Outside the hole: entirely below its start or at or above its end. */
    bool placed = gpa >= LAYOUT_HIGH_MEM ||
                  (low_ok && gpa < LAYOUT_EBDA && memsz <= LAYOUT_EBDA - gpa);
    uint8_t *dst = placed ? loader_guest_ptr(vm, gpa, memsz) : NULL;
    if (!dst) {
        log_error("%s: segment of 0x%" PRIx64 " bytes at 0x%" PRIx64
                  " is not in guest RAM %s (RAM ends at 0x%" PRIx64 ")",
                  f->path, memsz, gpa,
                  low_ok ? "outside the BIOS area 0x9fc00-0xfffff" : "at or above 1 MiB",
                  vm->ram_below_4g);
        return -1;
    }
    if (loader_file_read(f, off, dst, filesz, "segment") < 0)
        return -1;
    memset(dst + filesz, 0, memsz - filesz);
    return 0;
}

int loader_load_initramfs(struct vm *vm, const char *path, uint64_t min_addr,
                          uint64_t max_end, bool high, struct loaded_initramfs *out)
{
    struct loader_file f;
    *out = (struct loaded_initramfs){ 0 };
    if (!path)
        return 0;
    if (loader_file_open(&f, path) < 0)
        return -1;

    uint64_t lo = loader_align_up(min_addr, LOADER_PAGE_SIZE);
    if (max_end > vm->ram_below_4g)
        max_end = vm->ram_below_4g;
    if (lo > max_end || f.size > max_end - lo) {
        log_error("%s: the initramfs (0x%" PRIx64 " bytes) does not fit in guest RAM"
                  " between the kernel end 0x%" PRIx64 " and 0x%" PRIx64,
                  path, f.size, lo, max_end);
        loader_file_close(&f);
        return -1;
    }
    uint64_t addr = high ? (max_end - f.size) & ~(LOADER_PAGE_SIZE - 1) : lo;
    /* Straight into guest RAM: it may be hundreds of MB, so no second copy. */
    int ret = loader_file_read(&f, 0, loader_guest_ptr(vm, addr, f.size), f.size,
                               "initramfs");
    loader_file_close(&f);
    if (ret < 0)
        return -1;
    *out = (struct loaded_initramfs){ true, addr, f.size };
    return 0;
}

int loader_write_cmdline(struct vm *vm, const char *kernel_path, const char *s,
                         uint64_t max_len)
{
    size_t len = strlen(s);
    if (max_len > LAYOUT_CMDLINE_MAX - 1)
        max_len = LAYOUT_CMDLINE_MAX - 1;
    if (len > max_len) {
        log_error("%s: the command line is %zu bytes long, this kernel takes at most %" PRIu64,
                  kernel_path, len, max_len);
        return -1;
    }
    memcpy(loader_low_ptr(vm, LAYOUT_CMDLINE, len + 1), s, len + 1);
    return 0;
}

uint64_t loader_rsdp_addr(struct vm *vm)
{
    /* The ACPI tables are built before the kernel is loaded. */
    return memcmp(loader_low_ptr(vm, LAYOUT_ACPI, 8), "RSD PTR ", 8) ? 0 : LAYOUT_ACPI;
}

bool loader_is_elf(const uint8_t *head, size_t len, unsigned char elf_class)
{
    return len > EI_CLASS && !memcmp(head, ELFMAG, SELFMAG) && head[EI_CLASS] == elf_class;
}

int loader_load(struct vm *vm, const struct vm_config *cfg, struct boot_regs *regs)
{
    struct loader_file f;
    uint8_t head[LOADER_HEAD_SIZE];
    int ret;

    memset(regs, 0, sizeof(*regs));
    if (vm->ram_below_4g < LAYOUT_HIGH_MEM) {
        log_error("%s: guest RAM below 4 GiB (0x%" PRIx64 " bytes) is smaller than 1 MiB",
                  cfg->kernel, vm->ram_below_4g);
        return -1;
    }
    if (loader_file_open(&f, cfg->kernel) < 0)
        return -1;
    size_t head_len = f.size < sizeof(head) ? (size_t)f.size : sizeof(head);
    if (loader_file_read(&f, 0, head, head_len, "header") < 0) {
        loader_file_close(&f);
        return -1;
    }

    /* A multiboot header found by its magic alone (an a.out-kludge kernel that is
     * not ELF) comes last: a stray magic in a bzImage must not win. */
    if (loader_is_elf(head, head_len, ELFCLASS64))
        ret = loader_load_elf64(vm, cfg, &f, regs);
    else if (loader_is_elf(head, head_len, ELFCLASS32))
        ret = loader_load_multiboot(vm, cfg, &f, head, head_len, regs);
    else if (head_len >= 0x206 && !memcmp(head + 0x202, "HdrS", 4))
        ret = loader_load_bzimage(vm, cfg, &f, head, head_len, regs);
    else if (multiboot_find_header(head, head_len) >= 0)
        ret = loader_load_multiboot(vm, cfg, &f, head, head_len, regs);
    else {
        log_error("%s: not a kernel this loader knows (expected ELF64, multiboot ELF32"
                  " or bzImage)", cfg->kernel);
        ret = -1;
    }
    loader_file_close(&f);
    return ret;
}
