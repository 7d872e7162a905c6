/* Shared 32-bit -> 64-bit switch for the PVH and multiboot entries.
 *
 * Jump to long32_enter in 32-bit protected mode (flat segments, paging off)
 * with esi = boot info pointer and edi = magic to pass on. It zeroes .bss,
 * builds identity page tables for the first 4 GiB (2 MiB pages) in .bss,
 * enables PAE, EFER.LME and paging, loads a 64-bit GDT, far-jumps to 64-bit
 * code and calls guest_main(info, magic); its return value goes to guest_exit.
 * The same view of memory as minivmm's 64-bit entry (so the test device's MMIO
 * and the LAPIC are reachable); filling the 2048 entries costs ~10 ms on an
 * emulating host. */
#define EFER_MSR  0xc0000080
#define EFER_LME  0x100
#define CR4_PAE   0x20
#define CR0_PE    0x1
#define CR0_PG    0x80000000
#define PTE_P_W   0x3
#define PDE_LARGE 0x83          /* present, writable, 2 MiB page */

    .section .text, "ax"
    .code32
    .globl long32_enter
long32_enter:
__code32_start_long32:
    cli
    cld
    movl $__stack_top, %esp
    /* .bss (the page tables live there) */
    movl %edi, %edx
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl %edx, %edi
    /* PML4[0] -> PDPT, PDPT[i] -> PD i (i < 4), PD entry j = j * 2 MiB */
    movl $long32_pdpt + PTE_P_W, long32_pml4
    movl $long32_pd + PTE_P_W, long32_pdpt
    movl $long32_pd + 0x1000 + PTE_P_W, long32_pdpt + 8
    movl $long32_pd + 0x2000 + PTE_P_W, long32_pdpt + 16
    movl $long32_pd + 0x3000 + PTE_P_W, long32_pdpt + 24
    movl $long32_pd, %ebx
    movl $PDE_LARGE, %eax
    movl $2048, %ecx
1:  movl %eax, (%ebx)
    addl $0x200000, %eax
    addl $8, %ebx
    decl %ecx
    jnz 1b
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $long32_pml4, %eax
    movl %eax, %cr3
    movl $EFER_MSR, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    lgdt long32_gdt_desc
    movl %cr0, %eax
    orl $(CR0_PG | CR0_PE), %eax
    movl %eax, %cr0
    ljmp $0x08, $long32_64
__code32_end_long32:

    .code64
long32_64:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl %esi, %esi             /* zero-extend info */
    movl %edi, %eax
    movq %rsi, %rdi             /* guest_main(info, magic) */
    movq %rax, %rsi
    call guest_main
    movl %eax, %edi
    call guest_exit
2:  cli
    hlt
    jmp 2b

    .section .rodata, "a"
    .balign 8
long32_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
long32_gdt_end:
long32_gdt_desc:
    .word long32_gdt_end - long32_gdt - 1
    .quad long32_gdt

    .section .bss, "aw", @nobits
    .balign 4096
long32_pml4: .skip 4096
long32_pdpt: .skip 4096
long32_pd:   .skip 4 * 4096
