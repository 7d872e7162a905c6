/* Seccomp filters per thread kind, as data (Firecracker's approach): each kind
 * has lists of system calls it may make and of the ioctl requests it may issue;
 * everything else traps. The SIGSYS handler names the thread and the call with
 * async-signal-safe writes and ends the process with EXIT_SECCOMP.
 *
 * Why each group is there:
 * - base: what glibc does behind any thread's back (malloc's mmap/madvise/brk,
 *   futexes under mutexes and condition variables, clock_gettime when the vDSO
 *   falls back, signal return) and what logging and exiting need; tgkill kicks
 *   vCPUs (vm_request_exit may run anywhere); membarrier and sched_yield are
 *   liburcu-bp's grace periods; TCSETS puts the terminal back on every way out;
 *   getpeername is GLib's g_log checking for journald on stderr.
 * - device work: threads that run device models under the big lock raise
 *   interrupts, change memory maps (memfd-backed ROM images) and may wake the
 *   guest from S3 (vCPU registers), all through the ioctls listed.
 * - per kind: what that thread's own loop does. */
#include "vmm/seccomp.h"

#include <errno.h>
#include <glib.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <urcu-bp.h>

#include "devices/devices.h"
#include "devices/vfio/vfio_sys.h"
#include "util/log.h"
#include "vmm/vm.h"

#define END (-1)

static const int base_calls[] = {
    SCMP_SYS(futex), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(mmap), SCMP_SYS(munmap),
    SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
    SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(getpid), SCMP_SYS(gettid),
    SCMP_SYS(tgkill), SCMP_SYS(sched_yield), SCMP_SYS(membarrier), SCMP_SYS(getrandom),
    SCMP_SYS(ioctl),
    /* GLib's log writer asks whether stderr is the journal's socket */
    SCMP_SYS(getpeername), END,
};
/* Device models: eventfds of I/O threads, ROM images (memfd), test-device log. */
static const int device_calls[] = {
    SCMP_SYS(read), SCMP_SYS(memfd_create), SCMP_SYS(ftruncate), SCMP_SYS(close),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek), END,
};
static const int main_calls[] = {
    /* teardown: joins, fds, final serial flush, last API replies, removing the
     * API socket */
    SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(read), SCMP_SYS(unlink),
    SCMP_SYS(sendto),
    SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(rt_sigaction), SCMP_SYS(fstat),
    SCMP_SYS(newfstatat), SCMP_SYS(lseek),
    /* Tearing down --net user with a forwarded connection still open made
     * library code (libslirp, GLib) open a file; main touches nothing the guest
     * controls by then, so this costs little. Which file is not known yet. */
    SCMP_SYS(openat), END,
};
static const int serial_io_calls[] = {
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(read), SCMP_SYS(close), END,
};
static const int rcu_calls[] = {
    SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(ppoll), END,   /* freeing RAM regions' memfds */
};
/* Kicks, control eventfds and irqfds; virtio-blk's image I/O (preadv/pwritev
 * on guest pages, pread/pwrite through its bounce buffer), flush, discard
 * and write-zeroes (fallocate); the console's terminal or file and a tap's
 * frames (read/write); libslirp's sockets for --net user, and its look at
 * /etc/resolv.conf (re-read when its mtime changes) for the DNS it forwards. */
static const int virtio_io_calls[] = {
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
    SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(fdatasync), SCMP_SYS(fallocate),
    SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
    SCMP_SYS(accept4), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
    SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
    SCMP_SYS(shutdown), SCMP_SYS(fcntl), SCMP_SYS(openat), SCMP_SYS(stat), END,
};
/* Assigned devices: the vfio-user socket's messages (with fds), the kernel
 * device's region reads and writes; a VFIO I/O thread also polls its eventfds.
 * On the vCPU threads too (every trapped BAR access goes to the backend), and
 * on main (teardown unmaps DMA and interrupts). */
static const int vfio_calls[] = {
    SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
    SCMP_SYS(pread64), SCMP_SYS(pwrite64),
    SCMP_SYS(poll), SCMP_SYS(ppoll), END,
};
static const int api_calls[] = {
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept4), SCMP_SYS(read), SCMP_SYS(recvfrom),
    SCMP_SYS(sendto), SCMP_SYS(close), SCMP_SYS(shutdown), SCMP_SYS(fcntl), END,
};
#if defined(__SANITIZE_ADDRESS__)
/* ASan and LeakSanitizer: reports (reading /proc/self/maps, symbolizing) and the
 * leak check at exit, which stops the world from a ptrace-ing clone. */
static const int sanitizer_calls[] = {
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(read), SCMP_SYS(close), SCMP_SYS(readlink),
    SCMP_SYS(getdents), SCMP_SYS(getdents64), SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace),
    SCMP_SYS(wait4), SCMP_SYS(prctl), SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction),
    SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(sched_getaffinity), SCMP_SYS(fstat),
    SCMP_SYS(newfstatat), SCMP_SYS(pipe2), SCMP_SYS(kill), SCMP_SYS(getppid),
    SCMP_SYS(execve), SCMP_SYS(dup2), SCMP_SYS(getuid), SCMP_SYS(lseek), END,
};
#define SANITIZER_CALLS sanitizer_calls
#else
#define SANITIZER_CALLS NULL
#endif

#define IOCTL_END 0ul
/* tcsetattr(TCSANOW) on every way out; isatty/tcgetattr. */
static const unsigned long terminal_ioctls[] = { TCSETS, TCGETS, IOCTL_END };
static const unsigned long device_ioctls[] = {
    KVM_IRQ_LINE, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD,
    KVM_SET_USER_MEMORY_REGION, KVM_CHECK_EXTENSION,
    /* S3 wake-up (x86_wake_vcpu) */
    KVM_RUN, KVM_SET_MP_STATE, KVM_GET_SREGS, KVM_SET_SREGS, KVM_SET_REGS, IOCTL_END,
};
/* An assigned device's interrupts, reset and DMA maps (vIOMMU shadowing),
 * from the device model's register and MSI-X writes. */
static const unsigned long vfio_ioctls[] = {
    VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,
    IOMMUFD_IOAS_MAP_IOCTL, IOMMUFD_IOAS_UNMAP_IOCTL, IOCTL_END,
};
/* The crash report reads the vCPU's state and translates its RIP. */
static const unsigned long vcpu_ioctls[] = {
    KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_TRANSLATE, IOCTL_END,
};
/* Teardown deletes memslots and routes, and devices lower their INTx lines. */
static const unsigned long main_ioctls[] = {
    KVM_SET_USER_MEMORY_REGION, KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD, KVM_IRQ_LINE,
    IOCTL_END,
};

#define MAX_GROUPS 5
static const struct seccomp_table {
    const char *name;
    const int *calls[MAX_GROUPS];               /* NULL-terminated list of END-terminated lists */
    const unsigned long *ioctls[MAX_GROUPS];    /* the ioctl requests allowed */
} tables[SECCOMP_THREAD_KINDS] = {
    [SECCOMP_THREAD_MAIN] = { "main", { base_calls, main_calls, vfio_calls, SANITIZER_CALLS },
                              { terminal_ioctls, main_ioctls, vfio_ioctls } },
    [SECCOMP_THREAD_VCPU] = { "vcpu", { base_calls, device_calls, vfio_calls, SANITIZER_CALLS },
                              { terminal_ioctls, device_ioctls, vcpu_ioctls, vfio_ioctls } },
    [SECCOMP_THREAD_SERIAL_IO] = { "serial-io",
                                   { base_calls, device_calls, serial_io_calls, SANITIZER_CALLS },
                                   { terminal_ioctls, device_ioctls } },
    [SECCOMP_THREAD_RTC_TIMER] = { "rtc-timer", { base_calls, device_calls, SANITIZER_CALLS },
                                   { terminal_ioctls, device_ioctls } },
    [SECCOMP_THREAD_RCU] = { "call-rcu", { base_calls, rcu_calls, SANITIZER_CALLS },
                             { terminal_ioctls } },
    [SECCOMP_THREAD_API] = { "api", { base_calls, device_calls, api_calls, SANITIZER_CALLS },
                             { terminal_ioctls, device_ioctls } },
    [SECCOMP_THREAD_VIRTIO_IO] = { "virtio-io",
                                   { base_calls, device_calls, virtio_io_calls, SANITIZER_CALLS },
                                   { terminal_ioctls, device_ioctls } },
    [SECCOMP_THREAD_VFIO_IO] = { "vfio-io",
                                 { base_calls, device_calls, vfio_calls, SANITIZER_CALLS },
                                 { terminal_ioctls, device_ioctls, vfio_ioctls } },
};

static enum seccomp_mode mode = SECCOMP_OFF;

/* What the SIGSYS handler prints, prepared while allocating is still allowed. */
#define NR_SYSCALLS 512
#define NAME_LEN 24
static char syscall_names[NR_SYSCALLS][NAME_LEN];
static __thread const char *thread_kind_name;
static __thread char thread_name[32];

enum seccomp_mode seccomp_get_mode(void)
{
    return mode;
}

const char *seccomp_thread_kind_name(enum seccomp_thread_kind kind)
{
    return kind < SECCOMP_THREAD_KINDS ? tables[kind].name : "?";
}

static void put(const char *s)
{
    size_t len = strlen(s);
    while (len) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void put_hex(unsigned long v)
{
    char buf[20], *p = buf + sizeof(buf);
    *--p = '\0';
    do
        *--p = "0123456789abcdef"[v & 15];
    while ((v >>= 4) && p > buf + 2);
    *--p = 'x';
    *--p = '0';
    put(p);
}

static void put_dec(long v)
{
    char buf[24], *p = buf + sizeof(buf);
    *--p = '\0';
    unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) && p > buf + 1);
    if (v < 0)
        *--p = '-';
    put(p);
}

/* Async-signal-safe only: the thread may have been inside malloc. */
static void sigsys_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    int nr = info->si_syscall;
    terminal_restore();
    put("minivmm: seccomp: the ");
    /* No kind: a thread that inherited its creator's filter without its own. */
    put(thread_kind_name ? thread_kind_name : "unregistered");
    put(" thread (");
    put(thread_name[0] ? thread_name : "?");
    put(") made a forbidden system call: ");
    put(nr >= 0 && nr < NR_SYSCALLS && syscall_names[nr][0] ? syscall_names[nr] : "?");
    put(" (");
    put_dec(nr);
    if (nr == SCMP_SYS(ioctl)) {
        /* which request: the filters allow ioctls by request number */
        put(", request ");
        put_hex((unsigned long)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSI]);
    }
    put("); exiting with status ");
    put_dec(EXIT_SECCOMP);
    put("\n");
    _exit(EXIT_SECCOMP);
}

static void apply_rcu_filter(struct rcu_head *head)
{
    free(head);
    seccomp_apply_thread(SECCOMP_THREAD_RCU, "call-rcu");
}

int seccomp_setup(enum seccomp_mode m)
{
    mode = m;
    if (m == SECCOMP_OFF)
        return 0;
    for (int nr = 0; nr < NR_SYSCALLS; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (name) {
            strncpy(syscall_names[nr], name, NAME_LEN - 1);
            free(name);
        }
    }
    /* glibc's time conversions (gmtime_r in the RTC) read the time zone file
     * on their first call: load it now, while opening files is allowed. */
    tzset();
    /* Likewise error texts: glibc's strerror and GLib's g_strerror (libslirp's
     * warnings) open the message catalogs and charset tables of the locale
     * (e.g. C.UTF-8) on first use, from whichever thread logs first. */
    (void)strerror(EINVAL);
    (void)g_strerror(EINVAL);
    struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        log_error("seccomp: cannot install the SIGSYS handler: %s", strerror(errno));
        return -1;
    }
    /* liburcu starts its call_rcu thread on first use, from whichever thread
     * that is: start it now, unconfined, and confine it from a callback it
     * runs; rcu_barrier waits until it has. */
    struct rcu_head *head = calloc(1, sizeof(*head));
    if (!head) {
        log_error("seccomp: out of memory");
        return -1;
    }
    call_rcu(head, apply_rcu_filter);
    rcu_barrier();
    return 0;
}

static int add_rules(scmp_filter_ctx ctx, const struct seccomp_table *t)
{
    for (unsigned g = 0; g < MAX_GROUPS && t->calls[g]; g++) {
        for (const int *c = t->calls[g]; *c != END; c++) {
            if (*c == SCMP_SYS(ioctl))
                continue;   /* by request number below */
            int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, *c, 0);
            if (r < 0 && r != -EEXIST)
                return r;
        }
    }
    for (unsigned g = 0; g < MAX_GROUPS && t->ioctls[g]; g++) {
        for (const unsigned long *req = t->ioctls[g]; *req != IOCTL_END; req++) {
            /* datum_b (unused by EQ) given too: clang's -Wextra wants every field */
            int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                     SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)*req, 0));
            if (r < 0 && r != -EEXIST)
                return r;
        }
    }
    return 0;
}

void seccomp_apply_thread(enum seccomp_thread_kind kind, const char *name)
{
    if (mode == SECCOMP_OFF || kind >= SECCOMP_THREAD_KINDS)
        return;
    const struct seccomp_table *t = &tables[kind];
    thread_kind_name = t->name;
    strncpy(thread_name, name ? name : t->name, sizeof(thread_name) - 1);

    scmp_filter_ctx ctx = seccomp_init(mode == SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
    int r = ctx ? add_rules(ctx, t) : -ENOMEM;
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        log_error("seccomp: cannot confine the %s thread: %s", t->name, strerror(-r));
        terminal_restore();
        _exit(EXIT_HOST_ERROR);
    }
}
