/* 64-bit entry (minivmm's ELF entry without a PVH note): long mode, the first
 * 4 GiB identity-mapped by the VMM's tables, rsi = hvm_start_info.
 * Sets our own stack, zeroes .bss, calls guest_main(info, 0) and exits with
 * its return value through debug-exit. */
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    cli
    cld
    movl $__stack_top, %esp
    movq %rsi, %r12
    xorl %eax, %eax
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $3, %ecx
    rep stosq
    movq %r12, %rdi
    xorl %esi, %esi
    call guest_main
    movl %eax, %edi
    call guest_exit
1:  cli
    hlt
    jmp 1b
