/* Shared by the kernel loaders (vmm/loader*.c); not part of the loader contract.
 *
 * The kernel and initramfs files are untrusted input: every read goes through
 * loader_file_read, which checks it against the file size, and every guest
 * range through loader_guest_ptr, which checks it against guest RAM. Errors
 * print one line "minivmm: error: PATH: what is wrong" and return -1. */
#ifndef MINIVMM_LOADER_INTERNAL_H
#define MINIVMM_LOADER_INTERNAL_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/loader.h"

#define LOADER_PAGE_SIZE 0x1000ull
/* The loaders look for format headers in this many bytes at the file's start
 * (the multiboot v1 header must lie within them). */
#define LOADER_HEAD_SIZE 8192u

/* An open kernel or initramfs file. */
struct loader_file {
    const char *path;
    int fd;
    uint64_t size;
};

/* Opens a regular file read-only. */
int loader_file_open(struct loader_file *f, const char *path);
void loader_file_close(struct loader_file *f);
/* Reads exactly [off, off+len) of the file into buf; a range past the end of the
 * file is reported as "PATH: truncated: N bytes of <what> at offset ...". */
int loader_file_read(const struct loader_file *f, uint64_t off, void *buf, uint64_t len,
                     const char *what);

/* Host pointer to guest RAM [gpa, gpa+len), or NULL unless entirely RAM. Works
 * from vm->ram alone (no KVM), so the loaders run in unit tests. */
void *loader_guest_ptr(struct vm *vm, uint64_t gpa, uint64_t len);
/* Like loader_guest_ptr for the fixed boot structures below 1 MiB, which
 * loader_load has checked to be RAM. */
void *loader_low_ptr(struct vm *vm, uint64_t gpa, uint64_t len);

/* Loads file bytes [off, off+filesz) to guest [gpa, gpa+filesz) and zeroes the
 * rest up to memsz. The whole guest range must be RAM at or above 1 MiB, or
 * with `low_ok` (multiboot) any RAM outside the EBDA/BIOS hole
 * [LAYOUT_EBDA, LAYOUT_HIGH_MEM). */
int loader_load_segment(struct vm *vm, const struct loader_file *f, uint64_t off,
                        uint64_t filesz, uint64_t gpa, uint64_t memsz, bool low_ok);

struct loaded_initramfs {
    bool present;
    uint64_t addr, size;
};
/* Reads the initramfs at `path` (NULL: none) straight into guest RAM, page
 * aligned within [min_addr, max_end): as high as possible if `high`, else as
 * low as possible. */
int loader_load_initramfs(struct vm *vm, const char *path, uint64_t min_addr,
                          uint64_t max_end, bool high, struct loaded_initramfs *out);

/* Writes `s` and its NUL at LAYOUT_CMDLINE. `max_len` (without the NUL) is the
 * kernel's limit; LAYOUT_CMDLINE_MAX applies as well. */
int loader_write_cmdline(struct vm *vm, const char *kernel_path, const char *s,
                         uint64_t max_len);

/* LAYOUT_ACPI if the ACPI builder put an RSDP there, else 0. */
uint64_t loader_rsdp_addr(struct vm *vm);

static inline uint64_t loader_align_up(uint64_t x, uint64_t align)
{
    return (x + align - 1) & ~(align - 1);
}

/* The ELF magic and the class (ELFCLASS32/64) in a file's first bytes. */
bool loader_is_elf(const uint8_t *head, size_t len, unsigned char elf_class);

/* An executable ELF's entry and program headers (ELF32 ones widened to 64 bits). */
struct loader_elf {
    uint64_t entry;
    unsigned phnum;
    Elf64_Phdr *ph;
};
/* Reads and checks the header and program headers of a little-endian ET_EXEC
 * ELF: x86-64 for ELFCLASS64, i386 for ELFCLASS32. */
int loader_elf_read(const struct loader_file *f, unsigned char elf_class,
                    struct loader_elf *elf);
void loader_elf_free(struct loader_elf *elf);
/* Loads every PT_LOAD segment at its physical address (low_ok as for
 * loader_load_segment); *end = highest end. */
int loader_elf_load(struct vm *vm, const struct loader_file *f,
                    const struct loader_elf *elf, uint64_t *end, bool low_ok);
/* The entry point must lie in a loaded segment below 4 GiB. */
int loader_elf_check_entry(const struct loader_file *f, const struct loader_elf *elf,
                           uint64_t entry, const char *what);

/* The formats. `head` holds the file's first `head_len` bytes (at most
 * LOADER_HEAD_SIZE). */
int loader_load_elf64(struct vm *vm, const struct vm_config *cfg,
                      const struct loader_file *f, struct boot_regs *regs);
int loader_load_multiboot(struct vm *vm, const struct vm_config *cfg,
                          const struct loader_file *f, const uint8_t *head,
                          size_t head_len, struct boot_regs *regs);
int loader_load_bzimage(struct vm *vm, const struct vm_config *cfg,
                        const struct loader_file *f, const uint8_t *head,
                        size_t head_len, struct boot_regs *regs);

/* Offset of the first multiboot v1 magic in `head` (4-byte aligned), or -1. */
long multiboot_find_header(const uint8_t *head, size_t head_len);

#endif
