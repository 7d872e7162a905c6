/* Crash reports: why a vCPU stopped, its registers and the code at RIP, so a
 * guest death can be diagnosed from the log alone. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <urcu-bp.h>

#include "vmm/vcpu.h"

#define NAME(x) [x] = #x
static const char *const exit_names[] = {
    NAME(KVM_EXIT_UNKNOWN),         NAME(KVM_EXIT_EXCEPTION),     NAME(KVM_EXIT_IO),
    NAME(KVM_EXIT_HYPERCALL),       NAME(KVM_EXIT_DEBUG),         NAME(KVM_EXIT_HLT),
    NAME(KVM_EXIT_MMIO),            NAME(KVM_EXIT_IRQ_WINDOW_OPEN), NAME(KVM_EXIT_SHUTDOWN),
    NAME(KVM_EXIT_FAIL_ENTRY),      NAME(KVM_EXIT_INTR),          NAME(KVM_EXIT_SET_TPR),
    NAME(KVM_EXIT_TPR_ACCESS),      NAME(KVM_EXIT_NMI),           NAME(KVM_EXIT_INTERNAL_ERROR),
    NAME(KVM_EXIT_WATCHDOG),        NAME(KVM_EXIT_SYSTEM_EVENT),  NAME(KVM_EXIT_IOAPIC_EOI),
    NAME(KVM_EXIT_HYPERV),          NAME(KVM_EXIT_X86_RDMSR),     NAME(KVM_EXIT_X86_WRMSR),
    NAME(KVM_EXIT_DIRTY_RING_FULL), NAME(KVM_EXIT_AP_RESET_HOLD), NAME(KVM_EXIT_X86_BUS_LOCK),
    NAME(KVM_EXIT_XEN),             NAME(KVM_EXIT_NOTIFY),
};
static const char *const internal_error_names[] = {
    [KVM_INTERNAL_ERROR_EMULATION] = "emulation failure",
    [KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
    [KVM_INTERNAL_ERROR_DELIVERY_EV] = "exit while delivering an event",
    [KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected hardware exit",
};
static const char *const system_event_names[] = {
    [KVM_SYSTEM_EVENT_SHUTDOWN] = "shutdown", [KVM_SYSTEM_EVENT_RESET] = "reset",
    [KVM_SYSTEM_EVENT_CRASH] = "crash",       [KVM_SYSTEM_EVENT_WAKEUP] = "wakeup",
    [KVM_SYSTEM_EVENT_SUSPEND] = "suspend",   [KVM_SYSTEM_EVENT_SEV_TERM] = "sev-term",
};
#define LOOKUP(table, i)                                                       \
    ((i) < sizeof(table) / sizeof(table[0]) && table[i] ? table[i] : "unknown")

#define CODE_BYTES 16
#define PAGE_4K 0x1000ull

/* One report at a time, so reports of vCPUs dying together do not interleave. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void print_exit(FILE *out, const struct kvm_run *run)
{
    uint32_t reason = run->exit_reason;
    fprintf(out, "minivmm:   exit reason %s (%u)\n", LOOKUP(exit_names, reason), reason);
    switch (reason) {
    case KVM_EXIT_INTERNAL_ERROR: {
        uint32_t n = run->internal.ndata;
        size_t max = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
        fprintf(out, "minivmm:   suberror %u (%s), %u data words:", run->internal.suberror,
                LOOKUP(internal_error_names, run->internal.suberror), n);
        for (uint32_t i = 0; i < n && i < max; i++)
            fprintf(out, " 0x%llx", (unsigned long long)run->internal.data[i]);
        fputc('\n', out);
        break;
    }
    case KVM_EXIT_FAIL_ENTRY:
        fprintf(out, "minivmm:   hardware_entry_failure_reason 0x%llx on host CPU %u\n",
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                run->fail_entry.cpu);
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        fprintf(out, "minivmm:   system event %s (%u)\n",
                LOOKUP(system_event_names, run->system_event.type), run->system_event.type);
        break;
    }
}

static void print_segment(FILE *out, const char *name, const struct kvm_segment *s)
{
    fprintf(out, "minivmm:   %-3s sel=0x%04x base=0x%016llx limit=0x%08x type=0x%x s=%u "
            "dpl=%u p=%u db=%u l=%u g=%u\n", name, s->selector, (unsigned long long)s->base,
            s->limit, s->type, s->s, s->dpl, s->present, s->db, s->l, s->g);
}

static void print_registers(FILE *out, const struct kvm_regs *r)
{
    fprintf(out,
            "minivmm:   rax=0x%016llx rbx=0x%016llx rcx=0x%016llx rdx=0x%016llx\n"
            "minivmm:   rsi=0x%016llx rdi=0x%016llx rbp=0x%016llx rsp=0x%016llx\n"
            "minivmm:   r8 =0x%016llx r9 =0x%016llx r10=0x%016llx r11=0x%016llx\n"
            "minivmm:   r12=0x%016llx r13=0x%016llx r14=0x%016llx r15=0x%016llx\n"
            "minivmm:   rip=0x%016llx rflags=0x%08llx\n",
            r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp, r->r8, r->r9,
            r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip, r->rflags);
}

/* Up to `len` bytes of guest RAM (or ROM) at `gpa`, never device memory: the
 * report must not call a device's read op, which may have side effects (RIP
 * in MMIO). Returns how many bytes were copied. */
static unsigned read_ram(struct vm *vm, uint64_t gpa, uint8_t *buf, unsigned len)
{
    unsigned got = 0;
    rcu_read_lock();
    const FlatView *fv = address_space_get_flatview(vm->as_mem);
    while (got < len) {
        const FlatRange *fr = flatview_lookup(fv, gpa + got);
        if (!fr || !fr->host || fr->mr->type == MR_RAM_DEVICE)
            break;
        uint64_t off = gpa + got - fr->addr;
        uint64_t n = fr->size - off < len - got ? fr->size - off : len - got;
        memcpy(buf + got, fr->host + off, n);
        got += (unsigned)n;
    }
    rcu_read_unlock();
    return got;
}

/* The bytes at linear address `la`, page by page through the guest's own
 * translation; stops at the first page that does not translate or is not RAM. */
static unsigned read_code(const struct vcpu *v, uint64_t la, uint8_t *buf, uint64_t *gpa0)
{
    unsigned got = 0;
    while (got < CODE_BYTES) {
        struct kvm_translation t = { .linear_address = la + got };
        if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
            break;
        if (got == 0)
            *gpa0 = t.physical_address;
        uint64_t in_page = PAGE_4K - ((la + got) & (PAGE_4K - 1));
        unsigned n = CODE_BYTES - got < in_page ? CODE_BYTES - got : (unsigned)in_page;
        unsigned copied = read_ram(v->vm, t.physical_address, buf + got, n);
        got += copied;
        if (copied < n)
            break;
    }
    return got;
}

void crash_report(struct vcpu *v, const char *what)
{
    FILE *out = stderr;
    pthread_mutex_lock(&report_lock);
    fprintf(out, "minivmm: guest crash: vCPU %u: %s\n", v->id, what);
    print_exit(out, v->run);

    struct kvm_regs regs;
    struct kvm_sregs sregs;
    bool have_regs = ioctl(v->fd, KVM_GET_REGS, &regs) == 0;
    bool have_sregs = ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0;
    if (have_regs)
        print_registers(out, &regs);
    if (have_sregs) {
        print_segment(out, "cs", &sregs.cs);
        print_segment(out, "ss", &sregs.ss);
        print_segment(out, "ds", &sregs.ds);
        print_segment(out, "es", &sregs.es);
        print_segment(out, "fs", &sregs.fs);
        print_segment(out, "gs", &sregs.gs);
        print_segment(out, "tr", &sregs.tr);
        fprintf(out, "minivmm:   gdt base=0x%llx limit=0x%x  idt base=0x%llx limit=0x%x\n",
                (unsigned long long)sregs.gdt.base, sregs.gdt.limit,
                (unsigned long long)sregs.idt.base, sregs.idt.limit);
        fprintf(out, "minivmm:   cr0=0x%llx cr2=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx\n",
                (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr2,
                (unsigned long long)sregs.cr3, (unsigned long long)sregs.cr4,
                (unsigned long long)sregs.efer);
    }
    if (have_regs && have_sregs) {
        /* Outside 64-bit mode the code segment's base counts (and wraps at 4 GiB). */
        uint64_t la = sregs.cs.l ? regs.rip : (uint32_t)(sregs.cs.base + regs.rip);
        uint8_t code[CODE_BYTES];
        uint64_t gpa = UINT64_MAX;
        unsigned n = read_code(v, la, code, &gpa);
        if (n == 0 && gpa != UINT64_MAX) {
            fprintf(out, "minivmm:   code at rip (gpa 0x%llx): not RAM, not read\n",
                    (unsigned long long)gpa);
        } else if (n == 0) {
            fprintf(out, "minivmm:   code at rip: linear 0x%llx does not translate\n",
                    (unsigned long long)la);
        } else {
            fprintf(out, "minivmm:   code at rip (gpa 0x%llx):", (unsigned long long)gpa);
            for (unsigned i = 0; i < n; i++)
                fprintf(out, " %02x", code[i]);
            fputc('\n', out);
        }
    }
    fflush(out);
    pthread_mutex_unlock(&report_lock);
}
