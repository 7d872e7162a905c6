/* The VM: /dev/kvm, the KVM VM with its in-kernel irqchip and PIT (or, with
 * --irqchip split, only the local APICs), guest RAM and the two address spaces. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/ioapic.h"
#include "util/log.h"
#include "vmm/cpuid.h"
#include "vmm/irq.h"
#include "vmm/kvm_memory.h"
#include "vmm/layout.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* KVM on Intel needs three pages for the real-mode TSS and one for the identity
 * page table of unrestricted-guest-less hosts; both sit in the MMIO hole just
 * below the BIOS area, where no device or RAM lives. */
#define KVM_TSS_ADDR          0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

static int kvm_fail(const char *what)
{
    log_error("%s failed: %s", what, strerror(errno));
    return EXIT_HOST_ERROR;
}

static int kvm_open_vm(struct vm *vm)
{
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        log_error("cannot open /dev/kvm: %s (is KVM enabled and accessible to this user?)",
                  strerror(errno));
        return EXIT_HOST_ERROR;
    }
    int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        log_error("/dev/kvm has API version %d, minivmm needs %d", version, KVM_API_VERSION);
        return EXIT_HOST_ERROR;
    }
    static const struct { int cap; const char *name; } needed[] = {
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
        { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
        { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
        { KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
        { KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
        { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
    };
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
            log_error("/dev/kvm lacks %s, which minivmm needs", needed[i].name);
            return EXIT_HOST_ERROR;
        }
    }
    int max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max_vcpus > 0 && vm->nr_vcpus > (unsigned)max_vcpus) {
        log_error("this host's KVM allows at most %d vCPUs, %u were asked for", max_vcpus,
                  vm->nr_vcpus);
        return EXIT_USAGE;
    }
    vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->run_size < (int)sizeof(struct kvm_run))
        return kvm_fail("KVM_GET_VCPU_MMAP_SIZE");

    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return kvm_fail("KVM_CREATE_VM");
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
        return kvm_fail("KVM_SET_TSS_ADDR");
    uint64_t identity_map = KVM_IDENTITY_MAP_ADDR;
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
        ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0)
        return kvm_fail("KVM_SET_IDENTITY_MAP_ADDR");
    if (vm->cfg->irqchip == IRQCHIP_SPLIT &&
        ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0) {
        log_error("/dev/kvm lacks KVM_CAP_SPLIT_IRQCHIP, which --irqchip split needs");
        return EXIT_HOST_ERROR;
    }
    vm->has_kvm = true;
    return 0;
}

/* After guest RAM's memslot: KVM installs the first memslot quickly, but every
 * memslot change after the irqchip exists waits for an SRCU grace period (about
 * 4 ms on the kvm_pvm host), which would delay the guest's first instruction. */
static int kvm_create_irqchip(struct vm *vm)
{
    if (vm->cfg->irqchip == IRQCHIP_SPLIT) {
        /* Local APICs only; GSIs 0..23 stay for our IOAPIC's routes. No PIT:
         * KVM's needs its IOAPIC to deliver, and nothing needs one here (the
         * ACPI tables are hardware-reduced: Linux uses no PIC or PIT timer). */
        struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                      .args = { IRQ_IOAPIC_PINS } };
        if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
            return kvm_fail("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
        return 0;
    }
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return kvm_fail("KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return kvm_fail("KVM_CREATE_PIT2");
    return 0;
}

static int build_cpuid_policy(struct vm *vm)
{
    char err[256];
    vm->cpuid = cpuid_get_supported(vm->kvm_fd);
    if (!vm->cpuid)
        return kvm_fail("KVM_GET_SUPPORTED_CPUID");
    bool pvm = cpuid_host_is_kvm_pvm(cpuid_sysfs_module_dir());
    if (pvm)
        log_warn("this host's KVM is kvm_pvm: guest CPUID defaults to %s (its emulator cannot "
                 "run cmpxchg16b or the FPU fallback); --cpu-features +cx16,-xsaveerptr undoes it",
                 CPUID_KVM_PVM_DEFAULTS);
    if (cpuid_apply_policy(vm->cpuid, pvm, vm->cfg->cpu_features, err, sizeof(err))) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    return 0;
}

static void add_subregion_owned(MemoryRegion *container, hwaddr addr, MemoryRegion *sub)
{
    memory_region_add_subregion(container, addr, sub);
    memory_region_unref(sub);   /* the container holds it now */
}

static int build_memory(struct vm *vm)
{
    vm->sysmem = memory_region_new_container("system", UINT64_MAX);
    vm->sysio = memory_region_new_container("io", 0x10000);
    vm->ram = memory_region_new_ram("ram", vm->ram_size);
    if (!vm->sysmem || !vm->sysio || !vm->ram) {
        log_error("cannot allocate %llu bytes of guest RAM: %s",
                  (unsigned long long)vm->ram_size, strerror(errno));
        return EXIT_HOST_ERROR;
    }
    vm->ram_below_4g = vm->ram_size < LAYOUT_MMIO_HOLE ? vm->ram_size : LAYOUT_MMIO_HOLE;

    vm->as_mem = address_space_new("memory", vm->sysmem);
    vm->as_io = address_space_new("io", vm->sysio);
    if (vm->has_kvm && kvm_memory_listener_init(vm))
        return EXIT_HOST_ERROR;

    memory_region_transaction_begin();
    add_subregion_owned(vm->sysmem, 0,
                        memory_region_new_alias("ram-below-4g", vm->ram, 0, vm->ram_below_4g));
    if (vm->ram_size > vm->ram_below_4g)
        add_subregion_owned(vm->sysmem, LAYOUT_4G,
                            memory_region_new_alias("ram-above-4g", vm->ram, vm->ram_below_4g,
                                                    vm->ram_size - vm->ram_below_4g));
    memory_region_transaction_commit();
    /* The listener asks for an exit when KVM refuses a slot. */
    return vm->exit_requested ? vm->exit_status : 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
    *vm = (struct vm){
        .kvm_fd = -1,
        .vm_fd = -1,
        .cfg = cfg,
        .ram_size = cfg->mem_size,
        .nr_vcpus = cfg->nr_cpus,
    };
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_cond, NULL);
    pthread_mutex_init(&vm->exit_lock, NULL);
    sem_init(&vm->exit_sem, 0, 0);

    /* --dump-mtree shows the machine's tree, which needs no KVM. */
    int r;
    if (!cfg->dump_mtree && !cfg->dump_pci && (r = kvm_open_vm(vm)))
        return r;
    if ((r = build_memory(vm)))
        return r;
    if (irq_routes_init(vm) < 0)
        return EXIT_HOST_ERROR;
    if (vm->has_kvm && ((r = kvm_create_irqchip(vm)) || (r = build_cpuid_policy(vm)) ||
                        (r = vcpus_create(vm))))
        return r;
    return 0;
}

void vm_destroy(struct vm *vm)
{
    vm_devices_destroy(vm);
    vcpus_destroy(vm);
    /* Device instances only once no vCPU thread can reach them any more. */
    if (!vm->vcpus)
        vm_devices_destroy(vm);
    irq_routes_free(vm);
    kvm_memory_listener_free(vm);
    address_space_free(vm->as_mem);
    address_space_free(vm->as_io);
    vm->as_mem = vm->as_io = NULL;
    if (vm->ram)
        memory_region_unref(vm->ram);
    if (vm->sysmem)
        memory_region_unref(vm->sysmem);
    if (vm->sysio)
        memory_region_unref(vm->sysio);
    vm->ram = vm->sysmem = vm->sysio = NULL;
    free(vm->cpuid);
    vm->cpuid = NULL;
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    vm->vm_fd = vm->kvm_fd = -1;
}

int vm_set_irq_line(struct vm *vm, unsigned gsi, bool level)
{
    if (vm->irq_hook) {
        vm->irq_hook(vm, gsi, level);
        return 0;
    }
    IOAPIC *ioapic = __atomic_load_n(&vm->ioapic, __ATOMIC_ACQUIRE);
    if (ioapic)
        return ioapic_set_irq(ioapic, gsi, level);
    struct kvm_irq_level irq = { .irq = gsi, .level = level };
    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
        /* A host problem, but devices call this at the guest's pace: say it once. */
        static bool reported;
        if (!__atomic_exchange_n(&reported, true, __ATOMIC_RELAXED))
            log_error("KVM_IRQ_LINE (GSI %u) failed: %s", gsi, strerror(errno));
        return -1;
    }
    return 0;
}

void *vm_guest_ram(struct vm *vm, uint64_t gpa, uint64_t len)
{
    uint8_t *base = vm->ram ? memory_region_get_ram_ptr(vm->ram) : NULL;
    uint64_t above = vm->ram_size - vm->ram_below_4g;
    if (!base)
        return NULL;
    if (gpa <= vm->ram_below_4g && len <= vm->ram_below_4g - gpa)
        return base + gpa;
    if (gpa >= LAYOUT_4G && gpa - LAYOUT_4G <= above && len <= above - (gpa - LAYOUT_4G))
        return base + vm->ram_below_4g + (gpa - LAYOUT_4G);
    return NULL;
}
