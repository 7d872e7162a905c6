/* PVH entry: a Xen PHYS32_ENTRY ELF note (name "Xen", type 18) names the 32-bit
 * entry point; minivmm enters it in 32-bit protected mode, paging off, with
 * ebx = hvm_start_info. guest_main(info, 0) then runs in long mode (long32.S).
 *
 * e_entry (_start) is 64-bit code that reports the note was ignored: a loader
 * that enters this file through e_entry in long mode fails loudly (exit 0x7e)
 * instead of running 32-bit code in 64-bit mode. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a", @note
    .balign 4
    .long 4                         /* namesz: "Xen\0" */
    .long 4                         /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4

    .section .text.start, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
__code32_start_pvh:
    movl %ebx, %esi
    xorl %edi, %edi
    jmp long32_enter
__code32_end_pvh:

    .code64
    .globl _start
_start:
    movl $__stack_top, %esp
    call pvh_note_ignored
1:  cli
    hlt
    jmp 1b
