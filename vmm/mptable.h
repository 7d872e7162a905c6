/* Intel MultiProcessor Specification 1.4 table.
 *
 * Linux looks for an MP floating pointer before it reads the ACPI MADT, mapping
 * and unmapping every 16 bytes of three areas below 1 MiB: under emulated guest
 * kernel code, seconds of boot when nothing is there. The table describes the
 * same machine as the MADT (which Linux prefers when both exist): one local
 * APIC per vCPU, the IOAPIC with id nr_vcpus, ISA IRQ 0 on IOAPIC pin 2.
 */
#ifndef MINIVMM_MPTABLE_H
#define MINIVMM_MPTABLE_H

#include "vmm/vm.h"

/* Writes the floating pointer at LAYOUT_MPTABLE_FLOATING and the configuration
 * table at LAYOUT_MPTABLE_CONFIG into guest RAM. Returns -1 with an error
 * logged, guest RAM untouched, if there are too many vCPUs for the area or no
 * RAM there. */
int mptable_setup(struct vm *vm);

#endif
