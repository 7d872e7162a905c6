/* Boot CPU state: the flat GDT, identity page tables for 64-bit entry, segment
 * and control registers, and the per-vCPU FPU and MSR defaults.
 *
 * GDT at LAYOUT_GDT: 0x08 32-bit code, 0x10 64-bit code, 0x18 data, all flat.
 * 32-bit entries (PVH, multiboot) get CS 0x08 and DS/ES/SS 0x18; 64-bit entries
 * CS 0x10 and 0x18, which are the __BOOT_CS and __BOOT_DS the Linux 64-bit boot
 * protocol asks for. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vmm/layout.h"
#include "vmm/vcpu.h"

#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_PRESENT (1ull << 0)
#define PTE_WRITE   (1ull << 1)
#define PTE_LARGE   (1ull << 7)
#define PAGE_SIZE_4K 0x1000ull
#define PAGE_SIZE_2M 0x200000ull
#define NR_PDS 4   /* one page directory per GiB */

#define MSR_IA32_MISC_ENABLE      0x1a0
#define MISC_ENABLE_FAST_STRING   (1ull << 0)
#define MSR_MTRR_DEF_TYPE         0x2ff
#define MTRR_DEF_TYPE_ENABLE      (1ull << 11)
#define MTRR_TYPE_WRBACK          6ull

static int boot_fail(const struct vcpu *v, const char *what)
{
    log_error("vCPU %u: %s failed: %s", v->id, what, strerror(errno));
    return EXIT_HOST_ERROR;
}

int x86_boot_setup_vcpu(struct vcpu *v)
{
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
    if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
        return boot_fail(v, "KVM_SET_FPU");

    /* What firmware would have set: fast strings, and MTRRs on with write-back
     * as the default type (otherwise a guest may treat all RAM as uncached). */
    static const struct { uint32_t index; uint64_t value; } msrs[] = {
        { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
        { MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRBACK },
    };
    for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
        struct {
            struct kvm_msrs hdr;
            struct kvm_msr_entry entry;
        } one = { .hdr.nmsrs = 1, .entry = { .index = msrs[i].index, .data = msrs[i].value } };
        /* Not fatal: a KVM without the MSR just leaves the guest without it. */
        if (ioctl(v->fd, KVM_SET_MSRS, &one) != 1)
            log_debug("vCPU %u: KVM refused MSR 0x%x", v->id, msrs[i].index);
    }
    return 0;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64)
{
    return (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
        .present = 1, .dpl = 0, .db = !code64, .s = 1, .l = code64, .g = 1,
    };
}

static int write_gdt(struct vm *vm, uint64_t gpa)
{
    static const uint64_t gdt[] = {
        0,
        0x00cf9b000000ffffull,  /* SEL_CODE32: execute/read, D=1, 4 GiB */
        0x00af9b000000ffffull,  /* SEL_CODE64: execute/read, L=1 */
        0x00cf93000000ffffull,  /* SEL_DATA: read/write, B=1, 4 GiB */
    };
    void *p = vm_guest_ram(vm, gpa, sizeof(gdt));
    if (!p)
        return -1;
    memcpy(p, gdt, sizeof(gdt));
    return 0;
}

/* PML4 -> one PDPT -> four PDs of 2 MiB pages: the first 4 GiB, identity. */
static int write_page_tables(struct vm *vm)
{
    uint64_t *pml4 = vm_guest_ram(vm, LAYOUT_PML4, PAGE_SIZE_4K);
    uint64_t *pdpt = vm_guest_ram(vm, LAYOUT_PDPT, PAGE_SIZE_4K);
    uint64_t *pd = vm_guest_ram(vm, LAYOUT_PD, NR_PDS * PAGE_SIZE_4K);
    if (!pml4 || !pdpt || !pd)
        return -1;
    memset(pml4, 0, PAGE_SIZE_4K);
    memset(pdpt, 0, PAGE_SIZE_4K);
    pml4[0] = LAYOUT_PDPT | PTE_PRESENT | PTE_WRITE;
    for (unsigned i = 0; i < NR_PDS; i++)
        pdpt[i] = (LAYOUT_PD + i * PAGE_SIZE_4K) | PTE_PRESENT | PTE_WRITE;
    for (unsigned i = 0; i < NR_PDS * 512; i++)
        pd[i] = i * PAGE_SIZE_2M | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
    return 0;
}

int x86_boot_setup_bsp(struct vcpu *v, const struct boot_regs *r)
{
    struct vm *vm = v->vm;
    bool long64 = r->mode == BOOT_MODE_LONG64;
    uint64_t gdt = r->gdt ? r->gdt : LAYOUT_GDT;
    if (write_gdt(vm, gdt) || (long64 && write_page_tables(vm))) {
        log_error("guest RAM too small for the boot GDT and page tables");
        return EXIT_USAGE;
    }

    struct kvm_sregs sregs;
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        return boot_fail(v, "KVM_GET_SREGS");
    struct kvm_segment data = flat_segment(SEL_DATA, 0x3, false);
    sregs.cs = long64 ? flat_segment(SEL_CODE64, 0xb, true) : flat_segment(SEL_CODE32, 0xb, false);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    /* A busy TSS and an LDT as after reset: VM entry checks them. */
    sregs.tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
    sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
    sregs.gdt = (struct kvm_dtable){ .base = gdt, .limit = 4 * 8 - 1 };
    sregs.idt = (struct kvm_dtable){ .base = 0, .limit = 0 };
    if (long64) {
        sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
        sregs.cr3 = LAYOUT_PML4;
        sregs.cr4 = CR4_PAE;
        sregs.efer = EFER_LME | EFER_LMA;
    } else {
        sregs.cr0 = CR0_PE | CR0_ET;
        sregs.cr3 = 0;
        sregs.cr4 = 0;
        sregs.efer = 0;
    }
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        return boot_fail(v, "KVM_SET_SREGS");

    struct kvm_regs regs = {
        .rip = r->rip, .rsp = r->rsp, .rax = r->rax, .rbx = r->rbx,
        .rsi = r->rsi, .rdi = r->rdi, .rflags = 0x2,   /* bit 1 is always set */
    };
    if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
        return boot_fail(v, "KVM_SET_REGS");
    return 0;
}

static struct kvm_segment real_mode_segment(uint16_t selector, uint8_t type)
{
    return (struct kvm_segment){
        .base = (uint64_t)selector << 4, .limit = 0xffff, .selector = selector,
        .type = type, .present = 1, .s = 1,
    };
}

int x86_wake_vcpu(struct vcpu *v, bool bsp, uint32_t vector)
{
    /* KVM finishes a pending port or MMIO access at the next KVM_RUN, before it
     * looks at immediate_exit: do that now, or it would land on the new state. */
    v->run->immediate_exit = 1;
    if (ioctl(v->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
        log_debug("vCPU %u: KVM_RUN to complete pending I/O before wake-up: %s", v->id,
                  strerror(errno));

    struct kvm_mp_state mp = { .mp_state = bsp ? KVM_MP_STATE_RUNNABLE
                                               : KVM_MP_STATE_INIT_RECEIVED };
    if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
        return boot_fail(v, "KVM_SET_MP_STATE");
    if (!bsp)
        return 0;

    struct kvm_sregs sregs;
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        return boot_fail(v, "KVM_GET_SREGS");
    struct kvm_segment data = real_mode_segment(0, 0x3);
    sregs.cs = real_mode_segment((uint16_t)(vector >> 4), 0xb);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
    sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
    sregs.gdt = (struct kvm_dtable){ .base = 0, .limit = 0xffff };
    sregs.idt = (struct kvm_dtable){ .base = 0, .limit = 0xffff };
    sregs.cr0 = CR0_ET;
    sregs.cr2 = sregs.cr3 = sregs.cr4 = 0;
    sregs.efer = 0;
    memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        return boot_fail(v, "KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = vector & 0xf, .rflags = 0x2 };
    if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
        return boot_fail(v, "KVM_SET_REGS");
    return 0;
}
