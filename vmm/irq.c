/* MSI delivery (vmm/irq.h). */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

int vm_send_msi(struct vm *vm, const MSIMessage *msg, uint16_t rid)
{
    MSIMessage out = *msg;
    InterruptRemapper *ir = __atomic_load_n(&vm->intremap, __ATOMIC_ACQUIRE);
    if (ir && ir->remap(ir, rid, msg, &out) < 0)
        return -1;
    return vm_send_msi_unremapped(vm, &out);
}

int vm_send_msi_unremapped(struct vm *vm, const MSIMessage *msg)
{
    MSIMessage out = *msg;
    if (vm->msi_hook) {
        vm->msi_hook(vm, &out);
        return 0;
    }
    struct kvm_msi m = {
        .address_lo = (uint32_t)out.address,
        .address_hi = (uint32_t)(out.address >> 32),
        .data = out.data,
    };
    if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0) {
        log_guest_error("KVM_SIGNAL_MSI (address 0x%llx data 0x%x) failed: %s",
                        (unsigned long long)out.address, out.data, strerror(errno));
        return -1;
    }
    return 0;
}
