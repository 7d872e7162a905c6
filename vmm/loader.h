/* Kernel loaders. Each fills guest RAM and describes the boot CPU's entry state. */
#ifndef MINIVMM_LOADER_H
#define MINIVMM_LOADER_H

#include <stdint.h>

#include "vmm/vm.h"

enum boot_mode {
    BOOT_MODE_PROTECTED32,  /* flat 32-bit segments, paging off */
    BOOT_MODE_LONG64,       /* 64-bit, identity-mapped first 4 GiB (LAYOUT_PML4) */
};

struct boot_regs {
    enum boot_mode mode;
    uint64_t rip, rsp;
    uint64_t rax, rbx, rsi, rdi;
};

/* An e820-style entry of the machine's memory map. */
enum { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3 };
struct mem_map_entry {
    uint64_t addr, size;
    uint32_t type;
};
/* The machine's memory map from vm->ram_size; returns the number of entries. */
unsigned vm_memory_map(const struct vm *vm, struct mem_map_entry *out, unsigned max);

/* Detects the kernel's format and loads it, the initramfs and the command line.
 * On bad input prints one error line naming the file and returns -1. */
int loader_load(struct vm *vm, const struct vm_config *cfg, struct boot_regs *regs);

#endif
