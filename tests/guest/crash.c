/* crash: ud2 with an empty IDT. #UD cannot be delivered -> #GP -> double fault
 * -> triple fault: minivmm must exit with status 6 (guest crash) and print a
 * crash report naming RIP and the instruction bytes (0f 0b). */
#include "guest.h"

int guest_main(void *info, unsigned long magic)
{
    (void)info;
    (void)magic;
    puts("crash: ud2 with no IDT\n");
    load_empty_idt();
    __asm__ volatile(".globl crash_ud2\n"
                     "crash_ud2:\n\t"
                     "ud2" ::: "memory");
    puts("crash: still running after ud2\n");
    return 0x7f;
}
