/* memlow: a multiboot kernel linked at 0x8000 (below 1 MiB; guest.ld with
 * GUEST_BASE), its image reaching over the default command-line area at
 * 0x20000 with 128 KiB of known data (memlow_blob.S). It checks that minivmm
 * loaded it there intact and put the multiboot information, memory map and
 * command line outside it, and prints
 *   memlow: image 0x8000-0xN info 0xI cmdline 0xC
 *   cmdline: FILE ARGS
 * Exit codes: 2 something overlaps or was overwritten, 3 bad magic. */
#include "guest.h"

#define BLOB_QUADS 16384

extern const uint64_t memlow_blob[];
extern char __image_start[], __image_end[];

static int overlaps(uintptr_t a, uintptr_t len)
{
    return a < (uintptr_t)__image_end && (uintptr_t)__image_start < a + len;
}

int guest_main(void *info, unsigned long magic)
{
    const struct multiboot_info *mb = info;
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        guest_fail(3, "magic 0x%lx", magic);
    if ((uintptr_t)__image_start != 0x8000 || (uintptr_t)&guest_main >= 0x100000)
        guest_fail(2, "not running below 1 MiB (image at %p)", __image_start);
    for (unsigned i = 0; i < BLOB_QUADS; i += 64)
        if (memlow_blob[i] != 0xb10b000000000000ull + i)
            guest_fail(2, "image data at %p overwritten: 0x%lx", &memlow_blob[i],
                       (unsigned long)memlow_blob[i]);
    const char *cmdline = (const char *)(uintptr_t)mb->cmdline;
    if (overlaps((uintptr_t)mb, sizeof(*mb)))
        guest_fail(2, "the multiboot information at %p is inside the image", mb);
    if (!(mb->flags & MULTIBOOT_INFO_CMDLINE) || overlaps(mb->cmdline, strlen(cmdline) + 1))
        guest_fail(2, "the command line at %p is inside the image", cmdline);
    if (!(mb->flags & MULTIBOOT_INFO_MMAP) || overlaps(mb->mmap_addr, mb->mmap_length))
        guest_fail(2, "the memory map at 0x%x is inside the image", mb->mmap_addr);
    guest_printf("memlow: image %p-%p info %p cmdline %p\n", __image_start, __image_end,
                 mb, cmdline);
    guest_printf("cmdline: %s\n", cmdline);
    return 0;
}
