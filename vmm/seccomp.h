/* Seccomp: one system-call filter per kind of thread (vmm/seccomp.c holds the
 * tables). Each thread calls seccomp_apply_thread(kind) first thing, before it
 * touches anything the guest controls; the main thread calls it once the
 * others are started (filters are inherited and stack, so a thread that
 * creates threads after its own filter would confine them to its own set).
 *
 * Adding a thread kind (a virtio or VFIO I/O thread): a SECCOMP_THREAD_* value,
 * a row in vmm/seccomp.c's table, and the call at the start of the thread. */
#ifndef MINIVMM_SECCOMP_H
#define MINIVMM_SECCOMP_H

enum seccomp_mode {
    SECCOMP_OFF,     /* --seccomp false; also until seccomp_setup (unit tests) */
    SECCOMP_ON,      /* a forbidden call: message naming thread and call, exit 12 */
    SECCOMP_LOG,     /* a forbidden call is allowed and logged by the kernel (audit) */
};

enum seccomp_thread_kind {
    SECCOMP_THREAD_MAIN,        /* main thread after start-up: waits, then tears down */
    SECCOMP_THREAD_VCPU,        /* KVM_RUN and the device models it calls */
    SECCOMP_THREAD_SERIAL_IO,   /* a UART's terminal/file I/O thread */
    SECCOMP_THREAD_RTC_TIMER,   /* the RTC's timer thread (also S3 wake-up) */
    SECCOMP_THREAD_RCU,         /* liburcu's call_rcu thread: frees old views and regions */
    SECCOMP_THREAD_API,         /* the control socket (--api-socket) */
    SECCOMP_THREAD_VIRTIO_IO,   /* a virtio device's queues (and its disk I/O) */
    SECCOMP_THREAD_VFIO_IO,     /* an assigned device's interrupt eventfds */
    SECCOMP_THREAD_KINDS
};

/* Chooses the mode (before any thread but main exists), installs the SIGSYS
 * handler and starts liburcu's call_rcu thread with its filter. 0, or -1 after
 * one error line. */
int seccomp_setup(enum seccomp_mode mode);
/* Confines the calling thread; `name` (may be NULL: the kind's name) is what a
 * violation message calls it. Does nothing with SECCOMP_OFF. A filter that
 * cannot be loaded ends the process (status 8): running unconfined is not an
 * option the user chose. */
void seccomp_apply_thread(enum seccomp_thread_kind kind, const char *name);
enum seccomp_mode seccomp_get_mode(void);
/* The kind's name in messages and tests ("vcpu", "serial-io", ...). */
const char *seccomp_thread_kind_name(enum seccomp_thread_kind kind);

#endif
