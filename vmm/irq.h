/* Interrupt delivery for device models: one call raises an interrupt; models
 * never touch KVM themselves.
 *
 * - INTx and ISA lines: vm_set_irq_line (vmm/vm.h) sets an IOAPIC/PIC input's
 *   level; a level-triggered line held high is delivered again after the
 *   guest's EOI.
 * - MSI / MSI-X: vm_send_msi delivers one message written by requester `rid`
 *   (PCI bus << 8 | devfn), through interrupt remapping when an IOMMU installed
 *   vm->intremap, then to KVM (KVM_SIGNAL_MSI), or to vm->msi_hook in unit
 *   tests. */
#ifndef MINIVMM_IRQ_H
#define MINIVMM_IRQ_H

#include "iommu/iommu.h"
#include "vmm/vm.h"

/* 0 delivered; -1 blocked by interrupt remapping or refused by KVM. */
int vm_send_msi(struct vm *vm, const MSIMessage *msg, uint16_t rid);
/* An interrupt that interrupt remapping never sees: the IOMMU's own fault and
 * invalidation-completion events (VT-d spec 5.1.6). */
int vm_send_msi_unremapped(struct vm *vm, const MSIMessage *msg);

#endif
