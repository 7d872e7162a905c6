/* The real-mode -> long-mode trampoline (tramp.S): programs that start a CPU
 * in real mode (APs by SIPI, the boot CPU on S3 resume) link tramp.o and call
 * tramp_install() before pointing the CPU at TRAMP_BASE. */
#ifndef GUEST_TRAMP_H
#define GUEST_TRAMP_H

#include "guest.h"

#define TRAMP_BASE 0x8000ul
#define EFER_MSR   0xc0000080u
#define EFER_NXE   (1u << 11)
#define EFER_LME   (1u << 8)

extern char tramp_start[], tramp_end[];
extern char tramp_cr3[], tramp_efer[], tramp_next[], tramp_stack_size[], tramp_stacks[],
    tramp_entry[];

/* Address of a trampoline variable in the copy at TRAMP_BASE. */
#define TRAMP_VAR(type, sym) ((volatile type *)(TRAMP_BASE + ((sym) - tramp_start)))

/* Copies the trampoline to TRAMP_BASE with the current CR3. The n-th CPU to
 * enter it (from 0) ORs efer into EFER and calls entry on the stack whose top
 * is stacks + (n + 1) * stack_size. */
static inline void tramp_install(uint32_t efer, void *stacks, uint32_t stack_size,
                                 void (*entry)(void))
{
    memcpy((void *)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
    *TRAMP_VAR(uint32_t, tramp_cr3) = (uint32_t)read_cr3();
    *TRAMP_VAR(uint32_t, tramp_efer) = efer;
    *TRAMP_VAR(uint32_t, tramp_next) = 0;
    *TRAMP_VAR(uint32_t, tramp_stack_size) = stack_size;
    *TRAMP_VAR(uint64_t, tramp_stacks) = (uint64_t)(uintptr_t)stacks;
    *TRAMP_VAR(uint64_t, tramp_entry) = (uint64_t)(uintptr_t)entry;
    barrier();
}

#endif
