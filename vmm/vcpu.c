/* vCPU threads and the run loop.
 *
 * Stopping a vCPU (pause or exit) sets a flag, then kicks: run->immediate_exit
 * catches a vCPU about to enter KVM_RUN, SIGUSR1 one already inside (its
 * handler does nothing; the signal only makes KVM_RUN return EINTR). A vCPU
 * checks the flags and marks itself in_run under vm->pause_lock, so a kick
 * can never fall between the check and the entry. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include "devices/ioapic.h"
#include "util/log.h"
#include "vmm/cpuid.h"
#include "vmm/seccomp.h"

#define SIG_KICK SIGUSR1
/* How long vm_wait_for_exit waits for a vCPU thread stuck in a device. */
#define JOIN_TIMEOUT_SEC 2

static void kick_handler(int sig)
{
    (void)sig;
}

static bool exit_requested(struct vm *vm)
{
    return __atomic_load_n(&vm->exit_requested, __ATOMIC_ACQUIRE);
}

/* vCPUs created so far (none while the machine is being built). */
static unsigned nr_created(const struct vm *vm)
{
    return vm->vcpus ? vm->nr_vcpus : 0;
}

/* vm->pause_lock held. */
static void kick_all_locked(struct vm *vm)
{
    for (unsigned i = 0; i < nr_created(vm); i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (v->in_run) {
            v->run->immediate_exit = 1;
            pthread_kill(v->thread, SIG_KICK);
        }
    }
}

void vm_pause_vcpus(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    vm->pause_depth++;
    kick_all_locked(vm);
    /* A vCPU calling this from a device op is not in_run: it counts as paused. */
    for (;;) {
        bool running = false;
        for (unsigned i = 0; i < nr_created(vm); i++)
            running |= vm->vcpus[i].in_run;
        if (!running)
            break;
        pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
    }
    pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume_vcpus(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    if (vm->pause_depth && --vm->pause_depth == 0)
        pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
}

void vm_request_exit(struct vm *vm, int status)
{
    pthread_mutex_lock(&vm->exit_lock);
    if (!vm->exit_requested) {
        vm->exit_status = status;
        __atomic_store_n(&vm->exit_requested, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&vm->exit_lock);
    sem_post(&vm->exit_sem);

    pthread_mutex_lock(&vm->pause_lock);
    kick_all_locked(vm);
    pthread_cond_broadcast(&vm->pause_cond);   /* paused vCPUs leave too */
    pthread_mutex_unlock(&vm->pause_lock);
}

/* Waits out a pause; false when the VM is exiting. Sets in_run otherwise. */
static bool vcpu_enter_run(struct vcpu *v)
{
    struct vm *vm = v->vm;
    pthread_mutex_lock(&vm->pause_lock);
    while (vm->pause_depth && !exit_requested(vm))
        pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
    bool run = !exit_requested(vm);
    if (run) {
        v->run->immediate_exit = 0;
        v->in_run = true;
    }
    pthread_mutex_unlock(&vm->pause_lock);
    return run;
}

static void vcpu_leave_run(struct vcpu *v)
{
    struct vm *vm = v->vm;
    pthread_mutex_lock(&vm->pause_lock);
    v->in_run = false;
    if (vm->pause_depth)
        pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
}

/* String I/O (rep ins/outs) repeats the access on the same port. Out of line,
 * so the common single access stays a plain call without a loop's registers. */
static __attribute__((noinline)) void io_repeat(AddressSpace *as, uint16_t port, uint8_t *data,
                                                unsigned size, uint64_t count, bool is_write)
{
    for (uint64_t i = 0; i < count; i++, data += size)
        address_space_rw(as, port, data, size, is_write);
}

/* Failed reads need no care here: the memory core fills what failed with 0xff. */
int vcpu_handle_io(struct vm *vm, struct kvm_run *run)
{
    unsigned size = run->io.size;
    uint64_t count = run->io.count, offset = run->io.data_offset;
    if ((size != 1 && size != 2 && size != 4) || count == 0 ||
        offset > (uint64_t)vm->run_size || count * size > (uint64_t)vm->run_size - offset)
        return -1;
    uint8_t *data = (uint8_t *)run + offset;
    bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
    if (count == 1)
        address_space_rw(vm->as_io, run->io.port, data, size, is_write);
    else
        io_repeat(vm->as_io, run->io.port, data, size, count, is_write);
    return 0;
}

int vcpu_handle_mmio(struct vm *vm, struct kvm_run *run)
{
    unsigned len = run->mmio.len;
    if (len == 0 || len > sizeof(run->mmio.data))
        return -1;
    address_space_rw(vm->as_mem, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
    return 0;
}

/* Returns true when the vCPU must stop. */
static bool vcpu_stop(struct vcpu *v, const char *what, int status)
{
    if (status == EXIT_GUEST_CRASH || status == EXIT_HOST_ERROR)
        crash_report(v, what);
    vm_request_exit(v->vm, status);
    return true;
}

static bool vcpu_handle_exit(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        if (vcpu_handle_io(v->vm, run))
            return vcpu_stop(v, "malformed I/O exit", EXIT_HOST_ERROR);
        return false;
    case KVM_EXIT_MMIO:
        if (vcpu_handle_mmio(v->vm, run))
            return vcpu_stop(v, "malformed MMIO exit", EXIT_HOST_ERROR);
        return false;
    case KVM_EXIT_IOAPIC_EOI: {   /* split irqchip: a level-triggered vector's EOI */
        IOAPIC *ioapic = __atomic_load_n(&v->vm->ioapic, __ATOMIC_ACQUIRE);
        if (ioapic)
            ioapic_eoi(ioapic, run->eoi.vector);
        return false;
    }
    case KVM_EXIT_HLT:            /* only without an in-kernel LAPIC; nothing to do */
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return false;
    case KVM_EXIT_SHUTDOWN:
        return vcpu_stop(v, "triple fault", EXIT_GUEST_CRASH);
    case KVM_EXIT_SYSTEM_EVENT:
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
            return vcpu_stop(v, NULL, EXIT_POWEROFF);
        case KVM_SYSTEM_EVENT_RESET:
            return vcpu_stop(v, NULL, EXIT_REBOOT);
        case KVM_SYSTEM_EVENT_CRASH:
            return vcpu_stop(v, "guest reported a crash", EXIT_GUEST_CRASH);
        default:
            return vcpu_stop(v, "unexpected system event", EXIT_GUEST_CRASH);
        }
    case KVM_EXIT_INTERNAL_ERROR:
        return vcpu_stop(v, "KVM internal error", EXIT_GUEST_CRASH);
    case KVM_EXIT_FAIL_ENTRY:
        return vcpu_stop(v, "VM entry failed", EXIT_GUEST_CRASH);
    default:
        return vcpu_stop(v, "unexpected exit", EXIT_GUEST_CRASH);
    }
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    char name[16];
    snprintf(name, sizeof(name), "vcpu%u", v->id);
    seccomp_apply_thread(SECCOMP_THREAD_VCPU, name);
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, SIG_KICK);
    pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

    while (vcpu_enter_run(v)) {
        int r = ioctl(v->fd, KVM_RUN, 0);
        int err = errno;
        vcpu_leave_run(v);
        if (r < 0) {
            if (err == EINTR || err == EAGAIN)
                continue;
            log_error("vCPU %u: KVM_RUN failed: %s", v->id, strerror(err));
            vm_request_exit(v->vm, EXIT_HOST_ERROR);
            break;
        }
        if (vcpu_handle_exit(v))
            break;
    }
    return NULL;
}

static int vcpu_fail(unsigned id, const char *what)
{
    log_error("vCPU %u: %s failed: %s", id, what, strerror(errno));
    return EXIT_HOST_ERROR;
}

static int vcpu_create(struct vm *vm, struct vcpu *v, unsigned id)
{
    v->vm = vm;
    v->id = id;
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0)
        return vcpu_fail(id, "KVM_CREATE_VCPU");
    v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        return vcpu_fail(id, "mmap of kvm_run");
    }
    struct kvm_cpuid2 *cpuid = cpuid_vcpu_table(vm->cpuid, id, vm->nr_vcpus);
    if (!cpuid)
        return vcpu_fail(id, "CPUID table allocation");
    int r = ioctl(v->fd, KVM_SET_CPUID2, cpuid);
    free(cpuid);
    if (r < 0)
        return vcpu_fail(id, "KVM_SET_CPUID2");
    return x86_boot_setup_vcpu(v);
}

int vcpus_create(struct vm *vm)
{
    struct sigaction sa = { .sa_handler = kick_handler, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIG_KICK, &sa, NULL);

    vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
    if (!vm->vcpus) {
        log_error("out of memory");
        return EXIT_HOST_ERROR;
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vm->vcpus[i].fd = -1;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        int r = vcpu_create(vm, &vm->vcpus[i], i);
        if (r)
            return r;
    }
    return 0;
}

int vm_start_vcpus(struct vm *vm, const struct boot_regs *regs)
{
    int r = x86_boot_setup_bsp(&vm->vcpus[0], regs);
    if (r) {
        vm_request_exit(vm, r);
        return r;
    }
    /* APs stay in KVM's wait-for-SIPI state until the guest starts them. */
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        int e = pthread_create(&v->thread, NULL, vcpu_thread, v);
        if (e) {
            log_error("cannot start the thread of vCPU %u: %s", i, strerror(e));
            vm_request_exit(vm, EXIT_HOST_ERROR);
            return EXIT_HOST_ERROR;
        }
        char name[16];
        snprintf(name, sizeof(name), "vcpu%u", i);
        pthread_setname_np(v->thread, name);
        v->thread_started = true;
    }
    return 0;
}

int vm_wait_for_exit(struct vm *vm)
{
    while (!exit_requested(vm)) {
        int sig = vm->stop_signal;
        if (sig) {
            log_warn("stopping on SIG%s", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
            vm_request_exit(vm, EXIT_SIGNAL);
            continue;
        }
        while (sem_wait(&vm->exit_sem) < 0 && errno == EINTR)
            continue;
    }
    pthread_mutex_lock(&vm->exit_lock);
    int status = vm->exit_status;
    pthread_mutex_unlock(&vm->exit_lock);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += JOIN_TIMEOUT_SEC;
    for (unsigned i = 0; i < nr_created(vm); i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (!v->thread_started)
            continue;
        int e = pthread_timedjoin_np(v->thread, NULL, &deadline);
        if (e) {
            log_warn("vCPU %u did not stop: %s", i, strerror(e));
            continue;
        }
        v->thread_started = false;
    }
    return status;
}

bool vm_vcpus_stopped(const struct vm *vm)
{
    for (unsigned i = 0; i < nr_created(vm); i++)
        if (vm->vcpus[i].thread_started)
            return false;
    return true;
}

void vcpus_destroy(struct vm *vm)
{
    if (!vm->vcpus)
        return;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (v->thread_started)
            return;   /* a thread still uses it: leave everything to process exit */
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (v->run)
            munmap(v->run, (size_t)vm->run_size);
        if (v->fd >= 0)
            close(v->fd);
    }
    free(vm->vcpus);
    vm->vcpus = NULL;
}
