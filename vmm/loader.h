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
    uint64_t gdt;           /* where the boot GDT goes; 0: LAYOUT_GDT */
};

/* An e820-style entry of the machine's memory map. */
enum { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3 };
struct mem_map_entry {
    uint64_t addr, size;
    uint32_t type;
};
/* The machine's memory map from vm->ram_size; returns the number of entries
 * written (at most `max`; VM_MEMORY_MAP_MAX always suffices). */
#define VM_MEMORY_MAP_MAX 5
unsigned vm_memory_map(const struct vm *vm, struct mem_map_entry *out, unsigned max);

/* Detects the kernel's format and loads it, the initramfs and the command line.
 * On bad input prints one error line naming the file and returns -1.
 * Entry state by format (registers not named are 0; rsp 0 means the kernel sets
 * up its own stack):
 *  - ELF64 with a Xen PVH note (Linux vmlinux): PROTECTED32 at the note's entry,
 *    rbx = LAYOUT_BOOT_INFO (struct hvm_start_info, version 1). CS must be a flat
 *    32-bit code segment, DS/ES/SS flat 32-bit data (selectors unspecified).
 *  - ELF64 without the note: LONG64 at e_entry, rsi = LAYOUT_BOOT_INFO (the same
 *    hvm_start_info: memory map, command line, initramfs), rdi = 0.
 *  - multiboot v1: PROTECTED32, rax = 0x2BADB002, rbx = LAYOUT_BOOT_INFO (the
 *    multiboot information block); flat 32-bit segments as for PVH.
 *  - bzImage: LONG64 at the kernel's start + 0x200, rsi = LAYOUT_ZERO_PAGE. The
 *    64-bit boot protocol needs CS = __BOOT_CS (0x10) and DS/ES/SS = __BOOT_DS
 *    (0x18) in a GDT with 4 GiB flat descriptors, interrupts off. */
int loader_load(struct vm *vm, const struct vm_config *cfg, struct boot_regs *regs);

#endif
