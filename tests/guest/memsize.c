/* memsize: the memory map and command line a 32-bit entry hands over.
 * Linked twice: memsize_pvh (PVH note, ebx = hvm_start_info) and memsize_mb
 * (multiboot v1, eax = 0x2BADB002, ebx = multiboot info). Prints
 *   boot: pvh | boot: multiboot
 *   memory: N KiB          (sum of the type-1 entries of the memory map)
 *   mem_lower: L KiB mem_upper: U KiB   (multiboot only)
 *   cmdline: ...
 * and exits 0; exits 3 on a bad magic, 4 when no memory map was given. */
#include "guest.h"

static uint64_t sum_pvh(const struct hvm_start_info *si, const char **cmdline)
{
    if (si->magic != HVM_START_MAGIC)
        guest_fail(3, "hvm_start_info magic 0x%x, want 0x%x", si->magic, HVM_START_MAGIC);
    if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
        guest_fail(4, "no memory map (version %u, memmap 0x%lx, %u entries)", si->version,
                   (unsigned long)si->memmap_paddr, si->memmap_entries);
    puts("boot: pvh\n");
    const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
    uint64_t ram = 0;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        guest_printf("map: 0x%lx+0x%lx type %u\n", (unsigned long)e[i].addr,
                     (unsigned long)e[i].size, e[i].type);
        if (e[i].type == 1)
            ram += e[i].size;
    }
    *cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
    return ram;
}

static uint64_t sum_mb(const struct multiboot_info *mb, const char **cmdline)
{
    if (!(mb->flags & MULTIBOOT_INFO_MMAP) || !mb->mmap_length)
        guest_fail(4, "no memory map (flags 0x%x)", mb->flags);
    puts("boot: multiboot\n");
    uint64_t ram = 0;
    uintptr_t p = mb->mmap_addr, end = p + mb->mmap_length;
    while (p < end) {
        const struct multiboot_mmap_entry *e = (const void *)p;
        guest_printf("map: 0x%lx+0x%lx type %u\n", (unsigned long)e->addr,
                     (unsigned long)e->len, e->type);
        if (e->type == 1)
            ram += e->len;
        if (e->size < 20)
            guest_fail(4, "bad mmap entry size %u", e->size);
        p += e->size + 4;
    }
    if (mb->flags & MULTIBOOT_INFO_MEMORY)
        guest_printf("mem_lower: %u KiB mem_upper: %u KiB\n", mb->mem_lower, mb->mem_upper);
    *cmdline = (mb->flags & MULTIBOOT_INFO_CMDLINE) && mb->cmdline
                   ? (const char *)(uintptr_t)mb->cmdline : "";
    return ram;
}

int guest_main(void *info, unsigned long magic)
{
    const char *cmdline;
    uint64_t ram;

    if (!info)
        guest_fail(3, "no boot information pointer");
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC)
        ram = sum_mb(info, &cmdline);
    else
        ram = sum_pvh(info, &cmdline);
    guest_printf("memory: %lu KiB\n", (unsigned long)(ram >> 10));
    guest_printf("cmdline: %s\n", cmdline);
    return 0;
}
