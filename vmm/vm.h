/* The virtual machine: KVM handles, address spaces, vCPUs, configuration. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

/* Exit statuses of the minivmm process (documented in --help). The debug-exit
 * device yields odd statuses, (value << 1) | 1, so ours are even. */
enum {
    EXIT_POWEROFF = 0,     /* guest powered off */
    EXIT_USAGE = 2,        /* bad option or file */
    EXIT_REBOOT = 4,       /* guest asked for a reset (reboot, or panic with panic=-1) */
    EXIT_GUEST_CRASH = 6,  /* triple fault, internal error, failed entry */
    EXIT_HOST_ERROR = 8,   /* host failure: no /dev/kvm, ioctl failed, out of memory */
    EXIT_SIGNAL = 10,      /* stopped by SIGTERM, SIGINT or SIGHUP */
    EXIT_SECCOMP = 12,     /* a thread made a system call its seccomp filter forbids */
};

enum serial_mode { SERIAL_TTY, SERIAL_FILE, SERIAL_OFF };
/* kernel: KVM's PIC, IOAPIC and PIT; split: local APICs in KVM, the IOAPIC ours
 * (devices/ioapic.c), whose interrupts are MSIs that interrupt remapping can see. */
/* IRQCHIP_DEFAULT only while parsing: options_parse resolves it. */
enum irqchip_mode { IRQCHIP_DEFAULT, IRQCHIP_KERNEL, IRQCHIP_SPLIT };

#define VM_SERIAL_PORTS 4       /* COM1-COM4 */
struct serial_port_config {
    bool present;
    enum serial_mode mode;
    const char *path;           /* SERIAL_FILE */
};

struct vm_config {
    const char *kernel;
    const char *initramfs;
    const char *cmdline;        /* never NULL after parsing ("" when not given) */
    unsigned nr_cpus;
    uint64_t mem_size;
    enum serial_mode serial;    /* COM1 (always present) */
    const char *serial_path;
    struct serial_port_config more_serial[VM_SERIAL_PORTS - 1]; /* COM2-COM4 (--serial-port) */
    const char *cpu_features;   /* NULL: host-compatibility defaults only */
    bool dump_mtree;
    bool dump_pci;              /* --dump-pci: list the PCI functions and exit */
    unsigned nr_edu;            /* --edu, repeatable */
    bool dma_testdev;           /* --test-device dma: our DMA test PCI function */
    const char *test_device;    /* --test-device log=PATH: the integration test device */
    bool pc_testdev;            /* --test-device pc: QEMU's pc-testdev */
    bool pci_testdev;           /* --test-device pci: QEMU's pci-testdev */
    uint16_t debug_exit_port;   /* 0xf4 */
    /* --iommu [caching-mode=on|off][,intremap=on|off]: the VT-d unit */
    bool iommu;
    bool iommu_caching_mode;    /* default off */
    bool iommu_intremap;        /* default on */
    enum irqchip_mode irqchip;  /* --irqchip; default split with --iommu intremap=on,
                                   else kernel */
    /* virtio devices: the option values as given (virtio/options.h parses them) */
#define MAX_DISKS 8
    const char *disks[MAX_DISKS];   /* --disk path=...,... */
    unsigned nr_disks;
    const char *rng;                /* --rng [src=PATH]: "" or the value; NULL = none */
    /* assigned devices (devices/vfio/vfio.h parses them): the values as given */
#define MAX_VFIO_DEVICES 8
    const char *vfio_devices[MAX_VFIO_DEVICES];      /* --device path=... */
    unsigned nr_vfio_devices;
    const char *vfio_user_devices[MAX_VFIO_DEVICES]; /* --user-device socket=... */
    unsigned nr_vfio_user_devices;
    int seccomp;                /* --seccomp: enum seccomp_mode (vmm/seccomp.h) */
    const char *api_socket;     /* --api-socket path=PATH, or NULL */
    const char *console;            /* --console MODE; NULL = none */
    bool console_tty;               /* --console tty (the terminal is taken) */
#define MAX_NETS 4
    const char *nets[MAX_NETS];     /* --net user|tap=IFNAME,... */
    unsigned nr_nets;
};

struct vm;
struct kvm_cpuid2;
struct kvm_memory_listener;
struct boot_regs;
struct Device;
struct MSIMessage;
struct InterruptRemapper;
struct IOAPIC;
struct irq_routes;
struct PCIBus;

struct vcpu {
    struct vm *vm;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool in_run;                /* inside KVM_RUN; protected by vm->pause_lock */
    bool thread_started;        /* main thread only: joined by vm_wait_for_exit */
};

struct vm {
    int kvm_fd;
    int vm_fd;
    int run_size;
    const struct vm_config *cfg;

    MemoryRegion *sysmem;       /* root of as_mem */
    MemoryRegion *sysio;        /* root of as_io (64 KiB of ports) */
    AddressSpace *as_mem;
    AddressSpace *as_io;
    MemoryRegion *ram;          /* all guest RAM, one memfd */
    uint64_t ram_size;
    uint64_t ram_below_4g;      /* mapped at 0; the rest at 4 GiB */

    unsigned nr_vcpus;
    struct vcpu *vcpus;

    bool has_kvm;               /* false for --dump-mtree: the tree without /dev/kvm */
    struct kvm_cpuid2 *cpuid;   /* the CPUID policy; each vCPU gets a copy with its topology */
    struct kvm_memory_listener *kvm_memory; /* keeps KVM memslots in step with as_mem */

    /* pausing vCPUs around memslot changes that cannot be atomic */
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_cond;
    unsigned pause_depth;

    /* exit: the first request wins */
    pthread_mutex_t exit_lock;
    bool exit_requested;
    int exit_status;
    /* Posted with every exit request and by the stop-signal handler (sem_post
     * is async-signal-safe, a condition variable is not): vm_wait_for_exit. */
    sem_t exit_sem;
    volatile sig_atomic_t stop_signal;  /* SIGTERM/SIGINT/SIGHUP received */

    /* Device instances (devices/device.h), in creation order. */
    struct Device *devices;
    /* Interrupt remapping, installed by an IOMMU model that offers it (atomic). */
    struct InterruptRemapper *intremap;
    /* Told when remapped messages may have changed (iommu/iommu.h); big lock. */
    struct IntRemapNotifier *intremap_notifiers;
    /* Split irqchip: the userspace IOAPIC that vm_set_irq_line drives. */
    struct IOAPIC *ioapic;
    /* GSI routes: MSI routes for irqfds and the IOAPIC's pins (vmm/irq.h). */
    struct irq_routes *irq_routes;
    /* The PCI host's root bus (pci/pci.h), NULL without one. */
    struct PCIBus *pci;

    /* Unit tests drive devices on a VM without KVM: when set, vm_set_irq_line
     * calls this instead of KVM_IRQ_LINE, and vm_send_msi this instead of
     * KVM_SIGNAL_MSI (with the message after interrupt remapping). */
    void (*irq_hook)(struct vm *vm, unsigned gsi, bool level);
    void (*msi_hook)(struct vm *vm, const struct MSIMessage *msg);
};

/* Builds the machine: KVM VM (unless cfg->dump_mtree), in-kernel irqchip and PIT
 * (split mode: only the local APICs),
 * guest RAM, the address spaces, vCPUs. Returns 0 or an exit status after
 * printing one error line. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* Sets up the boot CPU from `regs` and starts one thread per vCPU. On failure
 * it requests the exit itself, so vm_wait_for_exit always follows. */
int vm_start_vcpus(struct vm *vm, const struct boot_regs *regs);
/* Waits for an exit request (a stop signal is one, EXIT_SIGNAL), joins the
 * vCPU threads; returns the exit status. */
int vm_wait_for_exit(struct vm *vm);
/* False when a vCPU thread did not stop within vm_wait_for_exit's time limit
 * (stuck in a device or the kernel): it may still use the address spaces, RAM
 * and devices, so the VM must not be torn down; the caller exits instead. */
bool vm_vcpus_stopped(const struct vm *vm);
/* Destroys the devices (vm_devices_destroy), then releases what vm_create
 * made (vCPU threads must have stopped). */
void vm_destroy(struct vm *vm);

/* Ask the VM to stop with `status` (first request wins); kicks every vCPU. */
void vm_request_exit(struct vm *vm, int status);
/* Level of an IOAPIC/PIC input: vm->irq_hook when set, else the userspace
 * IOAPIC in split mode, else KVM_IRQ_LINE. Any thread. */
int vm_set_irq_line(struct vm *vm, unsigned gsi, bool level);
/* Host pointer to guest RAM [gpa, gpa+len), or NULL if not entirely RAM. For
 * loaders and table builders, before vCPUs run. */
void *vm_guest_ram(struct vm *vm, uint64_t gpa, uint64_t len);

/* Stop every vCPU outside KVM_RUN (the caller's own vCPU excepted) until resume. */
void vm_pause_vcpus(struct vm *vm);
void vm_resume_vcpus(struct vm *vm);

#endif
