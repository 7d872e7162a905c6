/* bzImage kernels through the Linux x86 64-bit boot protocol (Documentation/arch/
 * x86/boot.rst): protocol 2.12 or later with XLF_KERNEL_64. The protected-mode
 * kernel is loaded at pref_address and entered in 64-bit mode at its start + 0x200,
 * rsi = the zero page (struct boot_params). The real-mode setup code never runs.
 * On this project's emulating KVM the decompressor is slow: Linux boots through
 * the vmlinux PVH entry instead (DESIGN.md §8); this path is for normal hosts. */
#include "vmm/loader-internal.h"

#include <inttypes.h>
#include <string.h>

#include "util/log.h"
#include "vmm/layout.h"

/* struct boot_params (Documentation/arch/x86/zero-page.rst). */
#define BP_SIZE              0x1000u
#define BP_ACPI_RSDP_ADDR    0x070   /* u64, read by the kernel from protocol 2.14 */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_E820_ENTRIES      0x1e8   /* u8 */
#define BP_E820_TABLE        0x2d0   /* 128 entries {u64 addr, u64 size, u32 type} */
#define BP_E820_ENTRY_SIZE   20

/* The setup header: at the same offsets in the file and in boot_params. It runs
 * from 0x1f1 to 0x202 + the byte at 0x201 (the jump's displacement). */
#define HDR_START            0x1f1
#define HDR_SETUP_SECTS      0x1f1   /* u8; 0 means 4 */
#define HDR_JUMP_DISP        0x201   /* u8 */
#define HDR_MAGIC            0x202   /* "HdrS" */
#define HDR_VERSION          0x206   /* u16 */
#define HDR_TYPE_OF_LOADER   0x210   /* u8 */
#define HDR_LOADFLAGS        0x211   /* u8 */
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c   /* highest address the initramfs may occupy */
#define HDR_RELOCATABLE      0x234   /* u8 */
#define HDR_XLOADFLAGS       0x236   /* u16, protocol 2.12 */
#define HDR_CMDLINE_SIZE     0x238   /* without the NUL, protocol 2.06 */
#define HDR_PREF_ADDRESS     0x258   /* u64, protocol 2.10 */
#define HDR_INIT_SIZE        0x260   /* u32, protocol 2.10 */
#define HDR_FIELDS_END       0x264   /* the fields this loader reads end here */
#define HDR_ROOM_END         0x290   /* boot_params has room for the header up to here */

#define LOADFLAGS_LOADED_HIGH 0x01
#define XLF_KERNEL_64         0x01
#define TYPE_OF_LOADER_UNDEFINED 0xff
#define ENTRY_64_OFFSET       0x200  /* startup_64 from the start of the kernel */

static uint16_t get16(const uint8_t *p, size_t off)
{
    uint16_t v;
    memcpy(&v, p + off, sizeof(v)); /* little-endian file on a little-endian host */
    return v;
}

static uint32_t get32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

/* Checks what the 64-bit protocol needs; returns the setup header's end or 0. */
static size_t check_header(const struct loader_file *f, const uint8_t *head, size_t head_len)
{
    if (head_len < HDR_VERSION + 2) {
        log_error("%s: truncated: the bzImage setup header", f->path);
        return 0;
    }
    uint16_t version = get16(head, HDR_VERSION);
    size_t hdr_end = HDR_MAGIC + (size_t)head[HDR_JUMP_DISP];
    const char *what = NULL;

    if (version < 0x206) {
        log_error("%s: bzImage boot protocol %u.%02u is too old (2.06 or later needed)",
                  f->path, version >> 8, version & 0xff);
        return 0;
    }
    if (hdr_end < HDR_FIELDS_END || hdr_end > head_len)
        what = "truncated: the bzImage setup header";
    else if (hdr_end > HDR_ROOM_END)
        what = "the bzImage setup header is longer than boot_params has room for";
    else if (version < 0x20c || !(get16(head, HDR_XLOADFLAGS) & XLF_KERNEL_64))
        what = "the bzImage has no 64-bit entry point (XLF_KERNEL_64, protocol 2.12)";
    else if (!(head[HDR_LOADFLAGS] & LOADFLAGS_LOADED_HIGH))
        what = "the bzImage does not load at 1 MiB (LOADED_HIGH is clear)";
    else if (!head[HDR_RELOCATABLE] && get64(head, HDR_PREF_ADDRESS) < LAYOUT_HIGH_MEM)
        what = "the bzImage is not relocatable and wants to load below 1 MiB";
    if (what) {
        log_error("%s: %s", f->path, what);
        return 0;
    }
    return hdr_end;
}

static void write_e820(struct vm *vm, uint8_t *bp)
{
    struct mem_map_entry map[VM_MEMORY_MAP_MAX];
    unsigned n = vm_memory_map(vm, map, VM_MEMORY_MAP_MAX);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;
        put64(e, 0, map[i].addr);
        put64(e, 8, map[i].size);
        put32(e, 16, map[i].type);
    }
    bp[BP_E820_ENTRIES] = (uint8_t)n;
}

int loader_load_bzimage(struct vm *vm, const struct vm_config *cfg,
                        const struct loader_file *f, const uint8_t *head,
                        size_t head_len, struct boot_regs *regs)
{
    size_t hdr_end = check_header(f, head, head_len);
    if (!hdr_end)
        return -1;

    unsigned setup_sects = head[HDR_SETUP_SECTS] ? head[HDR_SETUP_SECTS] : 4;
    uint64_t kernel_off = (setup_sects + 1) * 512ull;
    if (kernel_off >= f->size) {
        log_error("%s: truncated: no protected-mode kernel after the %u setup sectors",
                  f->path, setup_sects);
        return -1;
    }
    uint64_t kernel_size = f->size - kernel_off;
    uint64_t pref = get64(head, HDR_PREF_ADDRESS);
    uint64_t load = pref >= LAYOUT_HIGH_MEM ? pref : LAYOUT_HIGH_MEM;
    /* init_size: what the kernel needs from its load address while it decompresses
     * and starts; the initramfs must stay clear of it. */
    uint64_t footprint = get32(head, HDR_INIT_SIZE);
    if (footprint < kernel_size)
        footprint = kernel_size;
    if (load > vm->ram_below_4g || footprint > vm->ram_below_4g - load) {
        log_error("%s: the kernel needs 0x%" PRIx64 " bytes at 0x%" PRIx64
                  " but guest RAM below 4 GiB ends at 0x%" PRIx64,
                  f->path, footprint, load, vm->ram_below_4g);
        return -1;
    }
    if (loader_load_segment(vm, f, kernel_off, kernel_size, load, kernel_size, false) < 0 ||
        loader_write_cmdline(vm, f->path, cfg->cmdline, get32(head, HDR_CMDLINE_SIZE)) < 0)
        return -1;

    struct loaded_initramfs initrd;
    uint64_t initrd_end_max = (uint64_t)get32(head, HDR_INITRD_ADDR_MAX) + 1;
    if (loader_load_initramfs(vm, cfg->initramfs, load + footprint, initrd_end_max, true,
                              &initrd) < 0)
        return -1;

    uint8_t *bp = loader_low_ptr(vm, LAYOUT_ZERO_PAGE, BP_SIZE);
    memset(bp, 0, BP_SIZE);
    memcpy(bp + HDR_START, head + HDR_START, hdr_end - HDR_START);
    bp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_UNDEFINED;
    put32(bp, HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE); /* ext_cmd_line_ptr stays 0 */
    put32(bp, HDR_RAMDISK_IMAGE, (uint32_t)initrd.addr);
    put32(bp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd.addr >> 32));
    put32(bp, HDR_RAMDISK_SIZE, (uint32_t)initrd.size);
    put32(bp, BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd.size >> 32));
    if (get16(head, HDR_VERSION) >= 0x20e)
        put64(bp, BP_ACPI_RSDP_ADDR, loader_rsdp_addr(vm));
    write_e820(vm, bp);

    regs->mode = BOOT_MODE_LONG64;
    regs->rip = load + ENTRY_64_OFFSET;
    regs->rsi = LAYOUT_ZERO_PAGE;
    return 0;
}
