/* The kernel loaders against synthesized ELF64 (with and without a PVH note),
 * multiboot (ELF32 and a.out kludge) and bzImage files, loaded into a VM built
 * from the memory core alone (no KVM). Guest memory is checked through the
 * address space, independently of the loaders' own RAM access. */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

#define MiB (1024ull * 1024)
#define FILE_MAX 0x4000

static uint8_t image[FILE_MAX] __attribute__((aligned(8)));

/* ---- a VM from the memory core (RAM, its aliases at 0 and 4 GiB), guest access ---- */

static bool vm_init(struct vm *vm, uint64_t ram_size)
{
    memset(vm, 0, sizeof(*vm));
    vm->ram_size = ram_size;
    vm->ram_below_4g = ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;
    vm->ram = memory_region_new_ram("ram", ram_size);
    if (!vm->ram)
        return false;
    memory_bql_lock();
    vm->sysmem = memory_region_new_container("system", UINT64_MAX);
    MemoryRegion *low = memory_region_new_alias("ram-below-4g", vm->ram, 0, vm->ram_below_4g);
    memory_region_add_subregion(vm->sysmem, 0, low);
    memory_region_unref(low);
    if (ram_size > vm->ram_below_4g) {
        MemoryRegion *high = memory_region_new_alias("ram-above-4g", vm->ram, vm->ram_below_4g,
                                                     ram_size - vm->ram_below_4g);
        memory_region_add_subregion(vm->sysmem, LAYOUT_4G, high);
        memory_region_unref(high);
    }
    vm->as_mem = address_space_new("memory", vm->sysmem);
    memory_bql_unlock();
    return true;
}

static void vm_fini(struct vm *vm)
{
    memory_bql_lock();
    address_space_free(vm->as_mem);
    memory_region_unref(vm->sysmem);
    memory_region_unref(vm->ram);
    memory_bql_unlock();
}

static const uint8_t *pattern(size_t len, uint8_t seed)
{
    static uint8_t buf[0x8000];
    for (size_t i = 0; i < len && i < sizeof(buf); i++)
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
    return buf;
}

static uint64_t rd(struct vm *vm, uint64_t gpa, unsigned size)
{
    uint64_t v = 0;
    address_space_read(vm->as_mem, gpa, &v, size);
    return v;
}

static bool guest_equals(struct vm *vm, uint64_t gpa, const void *data, size_t len)
{
    uint8_t *buf = malloc(len);
    address_space_read(vm->as_mem, gpa, buf, len);
    bool same = !memcmp(buf, data, len);
    free(buf);
    return same;
}

static bool guest_zero(struct vm *vm, uint64_t gpa, size_t len)
{
    static const uint8_t zeros[FILE_MAX];
    return guest_equals(vm, gpa, zeros, len);
}

static bool guest_string(struct vm *vm, uint64_t gpa, const char *s)
{
    return guest_equals(vm, gpa, s, strlen(s) + 1);
}

/* Junk where the loader must write zeros (the bss). */
static void guest_dirty(struct vm *vm, uint64_t gpa, size_t len)
{
    address_space_write(vm->as_mem, gpa, pattern(len, 0x55), len);
}

static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/minivmm-test-loader-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* Runs loader_load expecting it to fail with exactly one stderr line
 * "minivmm: error: PATH: ..." that contains `needle`. */
static bool load_fails(struct vm *vm, const struct vm_config *cfg, const char *path,
                       const char *needle)
{
    struct boot_regs regs;
    char out[2048] = "", prefix[512];
    FILE *tmp = tmpfile();
    int saved = dup(2);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    int ret = loader_load(vm, cfg, &regs);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    out[fread(out, 1, sizeof(out) - 1, tmp)] = 0;
    fclose(tmp);
    snprintf(prefix, sizeof(prefix), "minivmm: error: %s: ", path);
    char *nl = strchr(out, '\n');
    bool ok = ret == -1 && !strncmp(out, prefix, strlen(prefix)) && nl && !nl[1] &&
              strstr(out, needle);
    if (!ok)
        fprintf(stderr, "  loader_load returned %d, stderr: \"%s\" (wanted \"%s\")\n", ret,
                out, needle);
    return ok;
}

/* Loads the first `len` bytes of `image` as the kernel, expecting load_fails. */
static bool image_fails(struct vm *vm, size_t len, const char *cmdline, const char *needle)
{
    char *kernel = write_temp(image, len);
    struct vm_config cfg = { .kernel = kernel, .cmdline = cmdline };
    bool ok = load_fails(vm, &cfg, kernel, needle);
    remove_temp(kernel);
    return ok;
}

/* ---- files ------------------------------------------------------------------------ */

struct seg {
    uint64_t paddr;
    uint32_t filesz;
    uint64_t memsz;
    const uint8_t *data;
};

static void put(size_t off, uint64_t value, size_t size)
{
    memcpy(image + off, &value, size); /* little-endian, like the formats */
}

/* e_ident, e_type, e_machine, e_version: at the same offsets in both classes. */
static void elf_start(unsigned char elf_class, uint16_t machine)
{
    Elf32_Ehdr *eh = (Elf32_Ehdr *)image;
    memset(image, 0, sizeof(image));
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = elf_class;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = machine;
    eh->e_version = EV_CURRENT;
}

/* Header, program headers (PT_NOTE first if there are notes), notes, segment data. */
static size_t build_elf64(uint64_t entry, const struct seg *segs, unsigned nsegs,
                          const void *notes, size_t notes_len)
{
    unsigned nph = nsegs + (notes_len ? 1 : 0);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
    Elf64_Phdr *ph = (Elf64_Phdr *)(image + sizeof(*eh));
    size_t off = sizeof(*eh) + nph * sizeof(*ph);

    elf_start(ELFCLASS64, EM_X86_64);
    eh->e_entry = entry;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(*ph);
    eh->e_phnum = (Elf64_Half)nph;
    if (notes_len) {
        *ph++ = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = notes_len,
                              .p_align = 4 };
        memcpy(image + off, notes, notes_len);
        off += notes_len;
    }
    for (unsigned i = 0; i < nsegs; i++) {
        off = (off + 15) & ~15ul;
        *ph++ = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = off,
                              .p_vaddr = 0xffffffff80000000ull + segs[i].paddr,
                              .p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
                              .p_memsz = segs[i].memsz, .p_align = 16 };
        memcpy(image + off, segs[i].data, segs[i].filesz);
        off += segs[i].filesz;
    }
    return off;
}

/* An ELF32 (i386) with one PT_LOAD whose data starts with a multiboot header. */
static size_t build_multiboot_elf(uint32_t mb_flags, uint32_t checksum_error,
                                  const struct seg *seg, uint32_t entry)
{
    Elf32_Ehdr *eh = (Elf32_Ehdr *)image;
    Elf32_Phdr *ph = (Elf32_Phdr *)(image + sizeof(*eh));
    size_t off = 0x60;
    uint32_t header[3] = { 0x1BADB002, mb_flags, -(0x1BADB002 + mb_flags) + checksum_error };

    elf_start(ELFCLASS32, EM_386);
    eh->e_entry = entry;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(*ph);
    eh->e_phnum = 1;
    *ph = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = off, .p_vaddr = seg->paddr,
                        .p_paddr = seg->paddr, .p_filesz = seg->filesz,
                        .p_memsz = (uint32_t)seg->memsz, .p_flags = PF_R | PF_X,
                        .p_align = 16 };
    memcpy(image + off, seg->data, seg->filesz);
    memcpy(image + off, header, sizeof(header));
    return off + seg->filesz;
}

/* A bzImage: one setup sector after the boot sector, then the payload. */
static size_t build_bzimage(uint16_t version, uint32_t cmdline_size, uint32_t initrd_addr_max,
                            const uint8_t *payload, size_t payload_len)
{
    memset(image, 0, sizeof(image));
    image[0x1f1] = 1;                               /* setup_sects */
    image[0x201] = 0x66;                            /* the header ends at 0x202 + this */
    memcpy(image + 0x202, "HdrS", 4);
    put(0x206, version, 2);
    image[0x211] = 0x01;                            /* loadflags: LOADED_HIGH */
    put(0x22c, initrd_addr_max, 4);
    image[0x234] = 1;                               /* relocatable_kernel */
    image[0x236] = 1;                               /* xloadflags: XLF_KERNEL_64 */
    put(0x238, cmdline_size, 4);
    put(0x258, 0x1000000, 8);                       /* pref_address */
    put(0x260, 0x400000, 4);                        /* init_size */
    memcpy(image + 1024, payload, payload_len);
    return 1024 + payload_len;
}

/* A PVH note, preceded by another Xen note the loader must skip. */
static size_t pvh_notes(uint8_t *buf, uint32_t entry)
{
    uint32_t xen;
    memcpy(&xen, "Xen", 4);
    /* {namesz, descsz, type, name, desc}: XEN_ELFNOTE_ENTRY with an 8-byte desc,
     * then XEN_ELFNOTE_PHYS32_ENTRY. */
    uint32_t words[] = { 4, 8, 1, xen, 0x81000000, 0xffffffff, 4, 4, 18, xen, entry };
    memcpy(buf, words, sizeof(words));
    return sizeof(words);
}

/* Checks the 64 MiB VM's memory map (low RAM, BIOS area, RAM from 1 MiB) at `gpa`
 * as three {u64 addr, u64 size, u32 type} entries `stride` bytes apart. */
static bool is_map64(struct vm *vm, uint64_t gpa, unsigned stride)
{
    static const uint64_t map[3][3] = {
        { 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 }, { 0x100000, 63 * MiB, 1 },
    };
    for (unsigned i = 0; i < 3; i++, gpa += stride)
        if (rd(vm, gpa, 8) != map[i][0] || rd(vm, gpa + 8, 8) != map[i][1] ||
            rd(vm, gpa + 16, 4) != map[i][2])
            return false;
    return true;
}

/* ---- tests ----------------------------------------------------------------------- */

TEST(memory_map)
{
    struct vm vm = { .ram_size = 5 * 1024 * MiB, .ram_below_4g = LAYOUT_MMIO_HOLE };
    struct mem_map_entry map[VM_MEMORY_MAP_MAX];
    CHECK_EQ(vm_memory_map(&vm, map, VM_MEMORY_MAP_MAX), 4);
    CHECK(map[0].addr == 0 && map[0].size == LAYOUT_EBDA && map[0].type == E820_RAM);
    CHECK(map[1].addr == LAYOUT_EBDA && map[1].size == MiB - LAYOUT_EBDA &&
          map[1].type == E820_RESERVED);
    CHECK(map[2].addr == MiB && map[2].size == LAYOUT_MMIO_HOLE - MiB && map[2].type == E820_RAM);
    CHECK(map[3].addr == LAYOUT_4G && map[3].size == 2 * 1024 * MiB && map[3].type == E820_RAM);
    CHECK_EQ(vm_memory_map(&vm, map, 2), 2);
}

TEST(elf64_pvh)
{
    struct vm vm;
    struct boot_regs regs;
    uint8_t notes[64], code[0x200], data[0x100];
    memcpy(code, pattern(sizeof(code), 1), sizeof(code));
    memcpy(data, pattern(sizeof(data), 9), sizeof(data));
    struct seg segs[] = { { 0x100000, 0x200, 0x3000, code }, { 0x200000, 0x100, 0x100, data } };
    size_t len = build_elf64(0xffffffff81000010ull, segs, 2, notes, pvh_notes(notes, 0x100010));
    char *kernel = write_temp(image, len);
    char *initrd = write_temp(pattern(10000, 3), 10000);
    struct vm_config cfg = { .kernel = kernel, .initramfs = initrd,
                             .cmdline = "console=ttyS0 panic=-1" };
    REQUIRE(vm_init(&vm, 64 * MiB));
    address_space_write(vm.as_mem, LAYOUT_ACPI, "RSD PTR ", 8);
    guest_dirty(&vm, 0x100200, 0x2e00); /* the bss must come out zeroed */

    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    CHECK_EQ(regs.mode, BOOT_MODE_PROTECTED32);
    CHECK_EQ(regs.rip, 0x100010);
    CHECK_EQ(regs.rbx, LAYOUT_BOOT_INFO);
    CHECK(guest_equals(&vm, 0x100000, code, 0x200));
    CHECK(guest_zero(&vm, 0x100200, 0x2e00));
    CHECK(guest_equals(&vm, 0x200000, data, sizeof(data)));

    uint64_t si = LAYOUT_BOOT_INFO;
    CHECK_EQ(rd(&vm, si + 0, 4), 0x336ec578);          /* magic */
    CHECK_EQ(rd(&vm, si + 4, 4), 1);                   /* version */
    CHECK_EQ(rd(&vm, si + 8, 4), 0);                   /* flags */
    CHECK_EQ(rd(&vm, si + 12, 4), 1);                  /* nr_modules */
    CHECK_EQ(rd(&vm, si + 24, 8), LAYOUT_CMDLINE);     /* cmdline_paddr */
    CHECK_EQ(rd(&vm, si + 32, 8), LAYOUT_ACPI);        /* rsdp_paddr */
    CHECK_EQ(rd(&vm, si + 52, 4), 0);                  /* reserved */
    CHECK(guest_string(&vm, LAYOUT_CMDLINE, "console=ttyS0 panic=-1"));

    uint64_t memmap = rd(&vm, si + 40, 8);
    CHECK_EQ(rd(&vm, si + 48, 4), 3);                  /* memmap_entries */
    CHECK(memmap >= si + 56 && memmap + 3 * 24 <= si + 0x1000);
    CHECK(is_map64(&vm, memmap, 24));

    uint64_t mod = rd(&vm, si + 16, 8);                /* modlist_paddr */
    uint64_t mod_addr = rd(&vm, mod, 8), mod_size = rd(&vm, mod + 8, 8);
    CHECK(mod >= si + 56 && mod + 32 <= si + 0x1000);
    CHECK_EQ(mod_size, 10000);
    CHECK_EQ(mod_addr, (64 * MiB - 10000) & ~0xfffull); /* the highest page that fits */
    CHECK_EQ(rd(&vm, mod + 16, 8), 0);
    CHECK(guest_equals(&vm, mod_addr, pattern(10000, 3), 10000));
    vm_fini(&vm);
    remove_temp(kernel);
    remove_temp(initrd);
}

TEST(elf64_plain_entry_ram_above_4g)
{
    struct vm vm;
    struct boot_regs regs;
    uint8_t high[0x100];
    memcpy(high, pattern(sizeof(high), 12), sizeof(high));
    struct seg segs[] = { { 0x100000, 0x100, 0x100, pattern(0x100, 5) },
                          { LAYOUT_4G + 0x1000, 0x100, 0x2000, high } };
    char *kernel = write_temp(image, build_elf64(0x100000, segs, 2, NULL, 0));
    struct vm_config cfg = { .kernel = kernel, .cmdline = "" };
    REQUIRE(vm_init(&vm, LAYOUT_MMIO_HOLE + 64 * MiB)); /* 64 MiB above 4 GiB */
    guest_dirty(&vm, LAYOUT_4G + 0x1100, 0x1f00);

    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    CHECK_EQ(regs.mode, BOOT_MODE_LONG64);
    CHECK_EQ(regs.rip, 0x100000);
    CHECK_EQ(regs.rsi, LAYOUT_BOOT_INFO);
    CHECK(regs.rdi == 0 && regs.rsp == 0);
    CHECK(guest_equals(&vm, LAYOUT_4G + 0x1000, high, sizeof(high)));
    CHECK(guest_zero(&vm, LAYOUT_4G + 0x1100, 0x1f00));
    uint64_t si = LAYOUT_BOOT_INFO, memmap = rd(&vm, si + 40, 8);
    CHECK_EQ(rd(&vm, si, 4), 0x336ec578);
    CHECK_EQ(rd(&vm, si + 12, 4), 0);                  /* no modules */
    CHECK_EQ(rd(&vm, si + 16, 8), 0);
    CHECK_EQ(rd(&vm, si + 32, 8), 0);                  /* no RSDP was built */
    CHECK_EQ(rd(&vm, si + 48, 4), 4);
    CHECK_EQ(rd(&vm, memmap + 3 * 24, 8), LAYOUT_4G);
    CHECK_EQ(rd(&vm, memmap + 3 * 24 + 8, 8), 64 * MiB);
    CHECK_EQ(rd(&vm, LAYOUT_CMDLINE, 1), 0);
    vm_fini(&vm);
    remove_temp(kernel);
}

TEST(multiboot_elf32)
{
    struct vm vm;
    struct boot_regs regs;
    uint8_t code[0x400];
    memcpy(code, pattern(sizeof(code), 11), sizeof(code));
    struct seg seg = { 0x100000, sizeof(code), 0x2100, code };
    size_t len = build_multiboot_elf(0x3, 0, &seg, 0x10000c);
    memcpy(code, image + 0x60, 12); /* what the loader must load: header included */
    char *kernel = write_temp(image, len);
    char *initrd = write_temp(pattern(5000, 2), 5000);
    struct vm_config cfg = { .kernel = kernel, .initramfs = initrd, .cmdline = "a b" };
    char expect_cmdline[128];
    snprintf(expect_cmdline, sizeof(expect_cmdline), "%s a b", kernel);
    REQUIRE(vm_init(&vm, 64 * MiB));
    guest_dirty(&vm, 0x100400, 0x1d00);

    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    CHECK_EQ(regs.mode, BOOT_MODE_PROTECTED32);
    CHECK_EQ(regs.rip, 0x10000c);
    CHECK_EQ(regs.rax, 0x2BADB002);
    CHECK_EQ(regs.rbx, LAYOUT_BOOT_INFO);
    CHECK(guest_equals(&vm, 0x100000, code, sizeof(code)));
    CHECK(guest_zero(&vm, 0x100400, 0x1d00));

    uint64_t mbi = regs.rbx;
    CHECK_EQ(rd(&vm, mbi, 4) & 0x4d, 0x4d);            /* MEM, CMDLINE, MODS, MMAP */
    CHECK_EQ(rd(&vm, mbi + 4, 4), 639);                /* mem_lower */
    CHECK_EQ(rd(&vm, mbi + 8, 4), 63 * 1024);          /* mem_upper */
    CHECK(guest_string(&vm, rd(&vm, mbi + 16, 4), expect_cmdline));
    CHECK_EQ(rd(&vm, mbi + 20, 4), 1);                 /* mods_count */
    uint64_t mod = rd(&vm, mbi + 24, 4);
    uint64_t start = rd(&vm, mod, 4), end = rd(&vm, mod + 4, 4);
    CHECK_EQ(start, 0x103000);                         /* the page after the kernel */
    CHECK_EQ(end - start, 5000);
    CHECK(guest_equals(&vm, start, pattern(5000, 2), 5000));
    CHECK(guest_string(&vm, rd(&vm, mod + 8, 4), initrd));
    CHECK_EQ(rd(&vm, mbi + 44, 4), 3 * 24);            /* mmap_length */
    uint64_t mmap = rd(&vm, mbi + 48, 4);
    CHECK(mmap >= LAYOUT_BOOT_INFO && mmap + 72 <= LAYOUT_BOOT_INFO + 0x1000);
    CHECK(rd(&vm, mmap, 4) == 20 && rd(&vm, mmap + 24, 4) == 20 && rd(&vm, mmap + 48, 4) == 20);
    CHECK(is_map64(&vm, mmap + 4, 24));                /* after each entry's size */
    vm_fini(&vm);
    remove_temp(kernel);
    remove_temp(initrd);
}

TEST(multiboot_aout_kludge)
{
    struct vm vm;
    struct boot_regs regs;
    /* A flat binary loaded at 1 MiB with its header at offset 0x10. */
    uint32_t header[8] = { 0x1BADB002, 0x10003, -(0x1BADB002u + 0x10003),
                           0x100010, 0x100000, 0, 0x102000, 0x100040 };
    memcpy(image, pattern(0x100, 4), 0x100);
    memcpy(image + 0x10, header, sizeof(header));
    char *kernel = write_temp(image, 0x100);
    struct vm_config cfg = { .kernel = kernel, .cmdline = "" };
    REQUIRE(vm_init(&vm, 64 * MiB));
    guest_dirty(&vm, 0x100100, 0x1f00);

    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    CHECK_EQ(regs.mode, BOOT_MODE_PROTECTED32);
    CHECK_EQ(regs.rip, 0x100040);
    CHECK_EQ(regs.rax, 0x2BADB002);
    CHECK(guest_equals(&vm, 0x100000, image, 0x100));
    CHECK(guest_zero(&vm, 0x100100, 0x1f00));
    CHECK(guest_string(&vm, rd(&vm, LAYOUT_BOOT_INFO + 16, 4), kernel));
    CHECK_EQ(rd(&vm, LAYOUT_BOOT_INFO + 20, 4), 0);    /* no modules */
    vm_fini(&vm);
    remove_temp(kernel);
}

TEST(bzimage)
{
    struct vm vm;
    struct boot_regs regs;
    size_t len = build_bzimage(0x020f, 0x7ff, 0x2ffffff, pattern(0x300, 6), 0x300);
    char *kernel = write_temp(image, len);
    char *initrd = write_temp(pattern(7000, 8), 7000);
    struct vm_config cfg = { .kernel = kernel, .initramfs = initrd, .cmdline = "quiet" };
    REQUIRE(vm_init(&vm, 64 * MiB));
    address_space_write(vm.as_mem, LAYOUT_ACPI, "RSD PTR ", 8);

    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    CHECK_EQ(regs.mode, BOOT_MODE_LONG64);
    CHECK_EQ(regs.rip, 0x1000200);
    CHECK_EQ(regs.rsi, LAYOUT_ZERO_PAGE);
    CHECK(guest_equals(&vm, 0x1000000, image + 1024, 0x300));

    uint64_t zp = LAYOUT_ZERO_PAGE;
    CHECK(guest_equals(&vm, zp + 0x1f1, image + 0x1f1, 0x210 - 0x1f1)); /* header copied */
    CHECK_EQ(rd(&vm, zp + 0x210, 1), 0xff);            /* type_of_loader */
    CHECK_EQ(rd(&vm, zp + 0x228, 4), LAYOUT_CMDLINE);  /* cmd_line_ptr */
    CHECK_EQ(rd(&vm, zp + 0x0c8, 4), 0);               /* ext_cmd_line_ptr */
    CHECK(guest_string(&vm, LAYOUT_CMDLINE, "quiet"));
    uint64_t rd_image = rd(&vm, zp + 0x218, 4);
    CHECK_EQ(rd(&vm, zp + 0x21c, 4), 7000);            /* ramdisk_size */
    CHECK_EQ(rd(&vm, zp + 0x0c0, 4), 0);               /* ext_ramdisk_image */
    CHECK_EQ(rd(&vm, zp + 0x0c4, 4), 0);
    CHECK_EQ(rd_image, (0x3000000 - 7000) & ~0xfffull); /* highest under initrd_addr_max */
    CHECK(rd_image >= 0x1400000);                      /* above load + init_size */
    CHECK(guest_equals(&vm, rd_image, pattern(7000, 8), 7000));
    CHECK_EQ(rd(&vm, zp + 0x070, 8), LAYOUT_ACPI);     /* acpi_rsdp_addr */
    CHECK_EQ(rd(&vm, zp + 0x1e8, 1), 3);               /* e820_entries */
    CHECK(is_map64(&vm, zp + 0x2d0, 20));              /* e820_table */
    vm_fini(&vm);
    remove_temp(kernel);
    remove_temp(initrd);
}

/* ---- bad input: one error line, -1, nothing read out of bounds -------------------- */

TEST(elf64_truncated)
{
    struct vm vm;
    uint8_t notes[64];
    struct seg seg = { 0x100000, 0x100, 0x100, pattern(0x100, 5) };
    size_t len = build_elf64(0x100000, &seg, 1, notes, pvh_notes(notes, 0x100000));
    REQUIRE(vm_init(&vm, 64 * MiB));
    /* Inside the ELF header, the program headers, the notes, the segment data. */
    size_t cuts[] = { 20, 100, 200, len - 1 };
    for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        CHECK(image_fails(&vm, cuts[i], "", "truncated"));
    vm_fini(&vm);
}

TEST(elf64_bad_segments_entry_notes)
{
    struct vm vm;
    const uint8_t *bytes = pattern(0x100, 1);
    struct { struct seg seg; uint64_t entry; const char *error; } cases[] = {
        { { 128 * MiB, 0x100, 0x100, bytes }, 128 * MiB, "not in guest RAM" },
        { { 64 * MiB - 0x80, 0x100, 0x100, bytes }, 64 * MiB, "not in guest RAM" },
        { { 0x8000, 0x100, 0x100, bytes }, 0x8000, "not in guest RAM" },  /* below 1 MiB */
        { { ~0ull - 0x10, 0x10, 0x100, bytes }, 0x100000, "not in guest RAM" },
        { { 0x100000, 0x100, 0x80, bytes }, 0x100000, "more file bytes" },
        { { 0x100000, 0x100, 0x100, bytes }, 0xffffffff81000000ull, "entry point" },
    };
    REQUIRE(vm_init(&vm, 64 * MiB));
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(image_fails(&vm, build_elf64(cases[i].entry, &cases[i].seg, 1, NULL, 0), "",
                          cases[i].error));

    uint8_t notes[64];
    size_t n = pvh_notes(notes, 0x100000);
    memcpy(notes + 24 + 4, (uint32_t[]){ 0x1000 }, 4);  /* PVH desc size past the segment */
    CHECK(image_fails(&vm, build_elf64(0x100000, &cases[5].seg, 1, notes, n), "", "PT_NOTE"));
    build_elf64(0x100000, &cases[5].seg, 1, NULL, 0);
    ((Elf64_Ehdr *)image)->e_machine = EM_AARCH64;
    CHECK(image_fails(&vm, 0x200, "", "x86-64"));
    vm_fini(&vm);
}

TEST(multiboot_and_bzimage_bad_headers)
{
    struct vm vm;
    const uint8_t *payload = pattern(0x100, 1);
    struct seg seg = { 0x100000, 0x100, 0x100, payload };
    REQUIRE(vm_init(&vm, 64 * MiB));
    CHECK(image_fails(&vm, build_multiboot_elf(0x3, 1, &seg, 0x100000), "", "checksum"));
    /* Flag 2 asks for a video mode, which this loader cannot give. */
    CHECK(image_fails(&vm, build_multiboot_elf(0x7, 0, &seg, 0x100000), "",
                      "requires features"));
    CHECK(image_fails(&vm, build_bzimage(0x0205, 0x7ff, 0x37ffffff, payload, 0x100), "",
                      "too old"));
    size_t len = build_bzimage(0x020f, 0x7ff, 0x37ffffff, payload, 0x100);
    CHECK(image_fails(&vm, 1024, "", "truncated"));   /* setup sectors only */
    image[0x236] = 0;                                  /* no XLF_KERNEL_64 */
    CHECK(image_fails(&vm, len, "", "64-bit"));
    vm_fini(&vm);

    /* pref_address 16 MiB + init_size 4 MiB do not fit a 16 MiB VM. */
    REQUIRE(vm_init(&vm, 16 * MiB));
    CHECK(image_fails(&vm, build_bzimage(0x020f, 0x7ff, 0x37ffffff, payload, 0x100), "",
                      "needs"));
    vm_fini(&vm);
}

TEST(command_line_too_long)
{
    struct vm vm;
    struct boot_regs regs;
    struct seg seg = { 0x100000, 0x100, 0x100, pattern(0x100, 5) };
    char *long_cmdline = malloc(LAYOUT_CMDLINE_MAX + 1);
    memset(long_cmdline, 'x', LAYOUT_CMDLINE_MAX);
    long_cmdline[LAYOUT_CMDLINE_MAX] = 0;
    REQUIRE(vm_init(&vm, 64 * MiB));
    /* bzImage cmdline_size 16: 17 bytes are too many, 16 fit. */
    size_t len = build_bzimage(0x020f, 16, 0x37ffffff, pattern(0x100, 1), 0x100);
    CHECK(image_fails(&vm, len, "0123456789abcdefg", "command line"));
    char *kernel = write_temp(image, len);
    struct vm_config cfg = { .kernel = kernel, .cmdline = "0123456789abcdef" };
    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    remove_temp(kernel);

    CHECK(image_fails(&vm, build_elf64(0x100000, &seg, 1, NULL, 0), long_cmdline,
                      "command line"));
    free(long_cmdline);
    vm_fini(&vm);
}

TEST(bad_files)
{
    struct vm vm;
    struct seg seg = { 0x100000, 0x100, 0x100, pattern(0x100, 5) };
    REQUIRE(vm_init(&vm, 64 * MiB));

    memcpy(image, pattern(0x800, 1), 0x800);
    CHECK(image_fails(&vm, 0x800, "", "not a kernel this loader knows"));
    struct vm_config cfg = { .kernel = "/nonexistent/minivmm-kernel", .cmdline = "" };
    CHECK(load_fails(&vm, &cfg, cfg.kernel, "cannot open"));

    /* An initramfs bigger than the guest's RAM: the error names the initramfs. */
    char *kernel = write_temp(image, build_elf64(0x100000, &seg, 1, NULL, 0));
    char *initrd = write_temp("", 0);
    REQUIRE(truncate(initrd, 100 * MiB) == 0);         /* sparse */
    cfg = (struct vm_config){ .kernel = kernel, .initramfs = initrd, .cmdline = "" };
    CHECK(load_fails(&vm, &cfg, initrd, "does not fit"));
    remove_temp(initrd);
    remove_temp(kernel);
    vm_fini(&vm);
}

/* Every pread the loaders make (this definition takes the place of libc's). */
static unsigned long pread_calls;
ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    pread_calls++;
    return syscall(SYS_pread64, fd, buf, count, offset);
}

/* A PT_NOTE segment of 12 MiB of empty notes, the PVH note last: read in one go
 * (a read per note made a 64 MiB segment take a minute); over 16 MiB is refused. */
TEST(elf64_huge_note_segment)
{
    struct vm vm;
    struct boot_regs regs;
    uint8_t notes[64], code[0x100];
    memcpy(code, pattern(sizeof(code), 2), sizeof(code));
    struct seg seg = { 0x100000, sizeof(code), sizeof(code), code };
    size_t pvh_len = pvh_notes(notes, 0x100000);
    size_t len = build_elf64(0x100000, &seg, 1, notes, pvh_len);
    const uint64_t empty = 12 * MiB;   /* a multiple of the 12-byte empty note */
    Elf64_Phdr *note_ph = (Elf64_Phdr *)(image + sizeof(Elf64_Ehdr));
    REQUIRE(note_ph->p_type == PT_NOTE);
    note_ph->p_offset = len;
    note_ph->p_filesz = empty + pvh_len;
    char *kernel = write_temp(image, len);
    int fd = open(kernel, O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, (off_t)(len + empty)) == 0);   /* zeros: empty notes */
    REQUIRE(pwrite(fd, notes, pvh_len, (off_t)(len + empty)) == (ssize_t)pvh_len);
    close(fd);
    struct vm_config cfg = { .kernel = kernel, .cmdline = "" };
    REQUIRE(vm_init(&vm, 64 * MiB));
    pread_calls = 0;
    CHECK_EQ(loader_load(&vm, &cfg, &regs), 0);
    CHECK_EQ(regs.mode, BOOT_MODE_PROTECTED32);
    CHECK(pread_calls < 20);

    /* 17 MiB of notes: refused with one error naming PT_NOTE. */
    note_ph->p_filesz = 17 * MiB;
    fd = open(kernel, O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, image, len, 0) == (ssize_t)len);
    REQUIRE(ftruncate(fd, (off_t)(len + 17 * MiB)) == 0);
    close(fd);
    CHECK(load_fails(&vm, &cfg, kernel, "PT_NOTE"));
    vm_fini(&vm);
    remove_temp(kernel);
}
