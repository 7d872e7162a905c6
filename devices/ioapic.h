/* The IOAPIC for --irqchip split (KVM keeps only the local APICs): an 82093AA
 * register file, version 0x20 (with the EOI register), 24 pins, at the MADT's
 * address and id. Each interrupt leaves as an MSI built from the redirection
 * entry and sent with vm_send_msi as requester IRQ_IOAPIC_RID, so interrupt
 * remapping sees it; an entry in remappable format (bit 48) becomes a
 * remappable-format MSI (handle in the address), as on Intel hardware.
 *
 * Device models do not call this: vm_set_irq_line comes here in split mode. */
#ifndef MINIVMM_DEVICES_IOAPIC_H
#define MINIVMM_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

#define IOAPIC_BASE      0xfec00000ull
#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_VERSION   0x20
#define IOAPIC_NUM_PINS  24

typedef struct IOAPIC IOAPIC;

/* Creates and realizes the IOAPIC (id vm->nr_vcpus) and makes it vm->ioapic.
 * NULL after one error line. */
IOAPIC *ioapic_create(struct vm *vm);
/* Input `pin` is now at `level` (1 = asserted; polarity is not modelled, as in
 * KVM and QEMU: lines carry logical levels). Any thread. 0, or -1 for a pin
 * that does not exist. */
int ioapic_set_irq(IOAPIC *s, unsigned pin, bool level);
/* A local APIC's EOI for a level-triggered `vector` (KVM_EXIT_IOAPIC_EOI), or
 * the guest's write to the EOI register: clears remote IRR of the entries with
 * that vector and delivers again those whose line is still asserted. */
void ioapic_eoi(IOAPIC *s, uint8_t vector);

#endif
