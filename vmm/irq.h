/* Interrupt delivery for device models: one call raises an interrupt; models
 * never touch KVM themselves.
 *
 * - INTx and ISA lines: vm_set_irq_line (vmm/vm.h) sets an IOAPIC/PIC input's
 *   level; a level-triggered line held high is delivered again after the
 *   guest's EOI. With --irqchip split the IOAPIC is ours (devices/ioapic.h)
 *   and each of its interrupts is an MSI from requester IRQ_IOAPIC_RID.
 * - MSI / MSI-X: vm_send_msi delivers one message written by requester `rid`
 *   (PCI bus << 8 | devfn), through interrupt remapping when an IOMMU installed
 *   vm->intremap, then to KVM (KVM_SIGNAL_MSI), or to vm->msi_hook in unit
 *   tests.
 * - MSI routes + irqfds (virtio, VFIO): irq_msi_route_add gives a GSI whose
 *   route KVM delivers when an eventfd bound with irq_irqfd_assign is
 *   signalled, without a trip through minivmm. The route holds the message
 *   after interrupt remapping: translated when added or updated, and again by
 *   irq_routes_retranslate, which an interrupt-remapping model calls after the
 *   guest invalidated its interrupt entry cache. A route whose message remapping
 *   blocks is masked (left out of KVM's table: its irqfd signals go nowhere)
 *   until a retranslation succeeds.
 *
 * GSIs 0..23 belong to the IOAPIC's pins: in kernel mode KVM's own routes
 * (kept in every table minivmm hands KVM), in split mode MSI routes that the
 * IOAPIC sets from its redirection entries, so that KVM knows which vectors
 * are level-triggered and reports their EOIs (KVM_EXIT_IOAPIC_EOI).
 *
 * Without KVM (vm->has_kvm false: unit tests, --dump-mtree) every table is
 * kept and translated the same way, only never handed to KVM.
 *
 * Locking: the route table has its own lock, taken after the IOAPIC's and
 * before the remapper's (remap() runs under it): a remapping model must call
 * irq_routes_retranslate without holding its own lock.
 */
#ifndef MINIVMM_IRQ_H
#define MINIVMM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "vmm/vm.h"

#define IRQ_IOAPIC_PINS 24
/* Requester id of the IOAPIC's MSIs: bus 0xf0, device 0x1f, function 0 (the
 * DMAR table's IOAPIC device scope names it). */
#define IRQ_IOAPIC_RID  0xf0f8
/* GSIs are 0..IRQ_MAX_GSI-1 (KVM allows 4096 routes; this is plenty). */
#define IRQ_MAX_GSI     1024

/* 0 delivered; -1 blocked by interrupt remapping or refused by KVM. */
int vm_send_msi(struct vm *vm, const MSIMessage *msg, uint16_t rid);
/* An interrupt that interrupt remapping never sees: the IOMMU's own fault and
 * invalidation-completion events (VT-d spec 5.1.6). */
int vm_send_msi_unremapped(struct vm *vm, const MSIMessage *msg);

/* The route table (vm_create makes it; idempotent). 0, or -1 out of memory. */
int irq_routes_init(struct vm *vm);
void irq_routes_free(struct vm *vm);

/* A new MSI route for `msg` written by requester `rid`: its GSI (>= 24), or -1
 * when the table is full or KVM refused it (one error line). Any thread. */
int irq_msi_route_add(struct vm *vm, const MSIMessage *msg, uint16_t rid);
/* Point `gsi` at a new message (the guest reprogrammed the vector). 0 or -1. */
int irq_msi_route_update(struct vm *vm, int gsi, const MSIMessage *msg, uint16_t rid);
/* Drop the route (deassign its irqfds first). 0 or -1 (not an MSI route). */
int irq_msi_route_del(struct vm *vm, int gsi);

/* Signalling `eventfd` raises `gsi`. resample_fd >= 0 (level-triggered INTx,
 * kernel irqchip only): the line is lowered on the guest's EOI and resample_fd
 * signalled. 0, or -1 after one error line. */
int irq_irqfd_assign(struct vm *vm, int gsi, int eventfd, int resample_fd);
int irq_irqfd_deassign(struct vm *vm, int gsi, int eventfd);

/* Translate every route's message again through vm->intremap and hand KVM the
 * table if anything changed. Called by an interrupt-remapping model after the
 * guest invalidated interrupt entries, or when remapping is turned on or off. */
void irq_routes_retranslate(struct vm *vm);

/* For the IOAPIC: pin `pin`'s message (untranslated, requester IRQ_IOAPIC_RID).
 * A no-op when the message is unchanged. 0 or -1. */
int irq_ioapic_route_set(struct vm *vm, unsigned pin, const MSIMessage *msg);

/* What KVM's table holds for `gsi`: 1 a route, `out` its message after
 * remapping; 0 a route masked because remapping blocks it; -1 no route. */
int irq_route_lookup(struct vm *vm, int gsi, MSIMessage *out);
/* How many times the table was (or, without KVM, would have been) handed to
 * KVM: each KVM_SET_GSI_ROUTING costs an SRCU grace period, tests check we
 * do not issue needless ones. */
unsigned irq_routes_commits(struct vm *vm);

#endif
