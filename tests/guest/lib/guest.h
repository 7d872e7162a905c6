/* Freestanding support library for minivmm's guest test programs (tests/guest/).
 *
 * Everything here runs at CPL0 inside the guest. On the development host's KVM
 * (kvm_pvm, see DESIGN.md §8) every guest instruction is emulated at ~1.5 µs and
 * every port/MMIO exit costs ~12 µs, so keep loops short. Never use int3/int n,
 * cmpxchg16b, XSAVE*, POPCNT, CLAC/STAC or fwait: the build checks the
 * disassembly for them (tests/guest/check-insns.sh).
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The VMM's contracts: plain #defines only, safe to include here. */
#include "vmm/layout.h"
#include "devices/testdev.h"

#define GUEST_DEBUG_EXIT_PORT 0xf4
#define GUEST_COM1            0x3f8

/* ---- port I/O ---- */
static inline void outb(uint16_t port, uint8_t v)  { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory"); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port) : "memory"); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port) : "memory"); }
static inline uint8_t inb(uint16_t port)  { uint8_t v;  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }

/* ---- MMIO: exactly one access of exactly the named width ---- */
static inline void mmio_write8(uint64_t a, uint8_t v)   { __asm__ volatile("movb %1, %0" : "=m"(*(volatile uint8_t *)a)  : "q"(v) : "memory"); }
static inline void mmio_write16(uint64_t a, uint16_t v) { __asm__ volatile("movw %1, %0" : "=m"(*(volatile uint16_t *)a) : "r"(v) : "memory"); }
static inline void mmio_write32(uint64_t a, uint32_t v) { __asm__ volatile("movl %1, %0" : "=m"(*(volatile uint32_t *)a) : "r"(v) : "memory"); }
static inline void mmio_write64(uint64_t a, uint64_t v) { __asm__ volatile("movq %1, %0" : "=m"(*(volatile uint64_t *)a) : "r"(v) : "memory"); }
static inline uint8_t mmio_read8(uint64_t a)   { uint8_t v;  __asm__ volatile("movb %1, %0" : "=q"(v) : "m"(*(volatile uint8_t *)a)  : "memory"); return v; }
static inline uint16_t mmio_read16(uint64_t a) { uint16_t v; __asm__ volatile("movw %1, %0" : "=r"(v) : "m"(*(volatile uint16_t *)a) : "memory"); return v; }
static inline uint32_t mmio_read32(uint64_t a) { uint32_t v; __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*(volatile uint32_t *)a) : "memory"); return v; }
static inline uint64_t mmio_read64(uint64_t a) { uint64_t v; __asm__ volatile("movq %1, %0" : "=r"(v) : "m"(*(volatile uint64_t *)a) : "memory"); return v; }

/* ---- CPU helpers ---- */
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
/* Atomically adds v to *p and returns the old value (lock xadd). */
static inline uint32_t atomic_fetch_add32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) :: "memory");
    return v;
}
static inline uint32_t atomic_read32(const volatile uint32_t *p) { return *p; }
static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ---- spinlock (xchg only: no cmpxchg, let alone cmpxchg16b) ---- */
typedef struct { volatile uint32_t locked; } spinlock_t;
#define SPINLOCK_INIT { 0 }
static inline void spin_lock(spinlock_t *l)
{
    for (;;) {
        uint32_t old = 1;
        __asm__ volatile("xchgl %0, %1" : "+r"(old), "+m"(l->locked) :: "memory");
        if (old == 0)
            return;
        while (l->locked)
            cpu_relax();
    }
}
static inline void spin_unlock(spinlock_t *l)
{
    __asm__ volatile("" ::: "memory");
    l->locked = 0;  /* a plain store releases on x86 */
}

/* ---- output and exit (lib/guest.c) ---- */
void serial_putc(char c);
void puts(const char *s);          /* no newline appended */
/* %s %c %d %u %x %lx %ld %lu %p %%; width/zero-padding like %08x; no floats. */
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_vprintf(const char *fmt, va_list ap);
/* Serialises whole lines of output between CPUs. */
extern spinlock_t serial_lock;
/* debug-exit: minivmm ends with status (v << 1) | 1. Never returns. */
__attribute__((noreturn)) void guest_exit(uint32_t v);
/* Loads an empty IDT, so the next exception cannot be delivered (-> triple fault). */
void load_empty_idt(void);
/* Prints "FAIL: ..." and exits with `code` (non-zero). */
__attribute__((noreturn, format(printf, 2, 3))) void guest_fail(uint32_t code, const char *fmt, ...);
/* Writes v to the test device's mark port: the log shows "mark 0xV". */
static inline void mark(uint32_t v) { outl(TESTDEV_PORT_MARK, v); }

/* ---- small string helpers ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
/* Value of "key=N" in a space-separated command line, or `dflt`. */
unsigned long cmdline_ulong(const char *cmdline, const char *key, unsigned long dflt);

/* ---- boot information ---- */
/* Xen PVH start info, as handed over by minivmm for 64-bit and PVH entry. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;     /* version >= 1 */
    uint32_t memmap_entries;   /* version >= 1 */
    uint32_t reserved;
};
struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

/* Multiboot v1 (GRUB legacy) information. */
#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_INFO_MEMORY   (1u << 0)
#define MULTIBOOT_INFO_CMDLINE  (1u << 2)
#define MULTIBOOT_INFO_MODS     (1u << 3)
#define MULTIBOOT_INFO_MMAP     (1u << 6)
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;        /* KiB */
    uint32_t mem_upper;        /* KiB */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
};
struct multiboot_mmap_entry {
    uint32_t size;             /* of the rest of the entry: 20 or more */
    uint64_t addr;
    uint64_t len;
    uint32_t type;
} __attribute__((packed));
struct multiboot_mod {
    uint32_t mod_start, mod_end, cmdline, reserved;
};

/* Each program defines this. `info` is the boot information pointer (rsi for
 * 64-bit entry, ebx for PVH and multiboot); `magic` is eax at a multiboot
 * entry and 0 otherwise. Returning from it exits with the returned value. */
int guest_main(void *info, unsigned long magic);

#endif
