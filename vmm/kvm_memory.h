/* Keeps KVM's memslots in step with the memory address space's flat view. */
#ifndef MINIVMM_KVM_MEMORY_H
#define MINIVMM_KVM_MEMORY_H

#include "vmm/vm.h"

/* Registers the listener on vm->as_mem (the current view is mapped at once).
 * Returns 0, or -1 after printing an error line. */
int kvm_memory_listener_init(struct vm *vm);
/* How many memslots are mapped now (for tests and diagnostics). */
unsigned kvm_memory_slots_used(const struct vm *vm);
/* Unregisters it (deleting its slots) and frees it. */
void kvm_memory_listener_free(struct vm *vm);

#endif
