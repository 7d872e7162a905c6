/* A struct vm with nothing but the memory core under it, for unit tests of
 * device models: no KVM; the devices' IRQ line changes are recorded, and
 * vm_request_exit works as on a real VM with no vCPUs. Drive the devices with
 * address_space_read/write on vm.as_io and vm.as_mem, as the vCPU exit path
 * does. */
#ifndef MINIVMM_TEST_FAKE_VM_H
#define MINIVMM_TEST_FAKE_VM_H

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/device.h"
#include "memory/memory.h"
#include "vmm/vm.h"

#define FAKE_VM_NR_GSIS 24

struct fake_vm {
    struct vm vm;             /* first: the IRQ hook gets back to fake_vm from it */
    struct vm_config cfg;
    bool irq_level[FAKE_VM_NR_GSIS];
    unsigned irq_calls[FAKE_VM_NR_GSIS];   /* vm_set_irq_line calls per GSI */
};

static inline void fake_vm_irq_hook(struct vm *vm, unsigned gsi, bool level)
{
    struct fake_vm *f = (struct fake_vm *)vm;
    if (gsi < FAKE_VM_NR_GSIS) {
        f->irq_level[gsi] = level;
        f->irq_calls[gsi]++;
    }
}

static inline void fake_vm_init(struct fake_vm *f)
{
    memset(f, 0, sizeof(*f));
    f->cfg.cmdline = "";
    f->cfg.serial = SERIAL_OFF;
    f->cfg.debug_exit_port = 0xf4;

    struct vm *vm = &f->vm;
    vm->kvm_fd = -1;
    vm->vm_fd = -1;
    vm->cfg = &f->cfg;
    vm->irq_hook = fake_vm_irq_hook;
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_cond, NULL);
    pthread_mutex_init(&vm->exit_lock, NULL);
    sem_init(&vm->exit_sem, 0, 0);
    vm->sysmem = memory_region_new_container("system", UINT64_MAX);
    vm->sysio = memory_region_new_container("io", 0x10000);
    vm->as_mem = address_space_new("memory", vm->sysmem);
    vm->as_io = address_space_new("I/O", vm->sysio);
}

/* A fake VM with `ram_size` bytes of RAM (vm->ram) at guest address 0, as loaders
 * and table builders expect; false if the RAM could not be allocated. */
static inline bool fake_vm_init_with_ram(struct fake_vm *f, uint64_t ram_size,
                                         unsigned nr_vcpus)
{
    fake_vm_init(f);
    struct vm *vm = &f->vm;
    vm->ram_size = vm->ram_below_4g = ram_size;
    vm->nr_vcpus = nr_vcpus;
    vm->ram = memory_region_new_ram("ram", ram_size);
    if (!vm->ram)
        return false;
    MemoryRegion *low = memory_region_new_alias("ram-below-4g", vm->ram, 0, ram_size);
    memory_region_add_subregion(vm->sysmem, 0, low);
    memory_region_unref(low);
    return true;
}

/* Gives the fake VM a real KVM VM (no vCPUs, no memory yet) for tests of the
 * KVM side, such as the memslot listener. Without a usable /dev/kvm: prints a
 * skip line and returns false. fake_vm_close_kvm closes both descriptors. */
static inline bool fake_vm_open_kvm(struct fake_vm *f)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int vmfd = kvm >= 0 ? ioctl(kvm, KVM_CREATE_VM, 0) : -1;
    if (vmfd < 0) {
        printf("skip: no usable /dev/kvm, not tested\n");
        if (kvm >= 0)
            close(kvm);
        return false;
    }
    f->vm.kvm_fd = kvm;
    f->vm.vm_fd = vmfd;
    return true;
}

static inline void fake_vm_close_kvm(struct fake_vm *f)
{
    close(f->vm.vm_fd);
    close(f->vm.kvm_fd);
    f->vm.vm_fd = f->vm.kvm_fd = -1;
}

/* Destroys the VM's devices first; also drops vm->ram when a test set it. */
static inline void fake_vm_destroy(struct fake_vm *f)
{
    struct vm *vm = &f->vm;
    vm_devices_destroy(vm);
    address_space_free(vm->as_mem);
    address_space_free(vm->as_io);
    memory_region_unref(vm->sysmem);
    memory_region_unref(vm->sysio);
    if (vm->ram)
        memory_region_unref(vm->ram);
    pthread_mutex_destroy(&vm->pause_lock);
    pthread_cond_destroy(&vm->pause_cond);
    pthread_mutex_destroy(&vm->exit_lock);
    sem_destroy(&vm->exit_sem);
}

#endif
