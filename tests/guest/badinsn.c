/* badinsn: int3 at CPL0 with an empty IDT. On a normal KVM host that is a triple
 * fault; on kvm_pvm (DESIGN.md §8) the emulator cannot run int3 and KVM reports
 * an internal error. Both must end minivmm with status 6 (guest crash).
 * The int3 sits between __insncheck_skip_* symbols so the build's
 * forbidden-instruction check lets it through. */
#include "guest.h"

int guest_main(void *info, unsigned long magic)
{
    (void)info;
    (void)magic;
    puts("badinsn: int3 with no IDT\n");
    load_empty_idt();
    __asm__ volatile(".globl __insncheck_skip_start_int3, __insncheck_skip_end_int3\n"
                     "__insncheck_skip_start_int3:\n\t"
                     "int3\n"
                     "__insncheck_skip_end_int3:" ::: "memory");
    puts("badinsn: still running after int3\n");
    return 0x7f;
}
