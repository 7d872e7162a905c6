/* vCPUs: creation, the run loop and its exit handlers, boot state, crash reports. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include <linux/kvm.h>

#include "vmm/loader.h"
#include "vmm/vm.h"

/* Creates vm->nr_vcpus vCPUs with their CPUID, MSRs, FPU and LAPIC set up.
 * Returns 0 or an exit status after printing one error line. */
int vcpus_create(struct vm *vm);
/* Closes what vcpus_create opened (threads must have stopped). */
void vcpus_destroy(struct vm *vm);

/* Exit handlers, callable on a synthetic kvm_run (benchmarks): forward the
 * access to vm->as_io / vm->as_mem (a failed read gives all-ones). `run` must be
 * vm->run_size bytes (io.data_offset is checked against it). Return 0, or -1
 * when the exit data is malformed. */
int vcpu_handle_io(struct vm *vm, struct kvm_run *run);
int vcpu_handle_mmio(struct vm *vm, struct kvm_run *run);

/* x86_boot.c: the state every vCPU starts with (FPU, MSRs). */
int x86_boot_setup_vcpu(struct vcpu *vcpu);
/* x86_boot.c: the boot CPU's entry state from `regs` (writes the GDT, and page
 * tables for 64-bit entry, into guest RAM). */
int x86_boot_setup_bsp(struct vcpu *vcpu, const struct boot_regs *regs);

/* x86_boot.c: the state of a CPU woken from S3 (vCPUs stopped, not in KVM_RUN):
 * an I/O exit the vCPU still has to complete is completed first; then the boot
 * CPU (`bsp`) runs in real mode at CS:IP = (vector >> 4):(vector & 0xf), as
 * firmware jumps to the FACS waking vector, and the others wait for a SIPI. */
int x86_wake_vcpu(struct vcpu *vcpu, bool bsp, uint32_t vector);

/* crash_report.c: prints why `vcpu` stopped (`what`), its registers and the code
 * at RIP to stderr. Safe to call from several vCPU threads at once. */
void crash_report(struct vcpu *vcpu, const char *what);

#endif
