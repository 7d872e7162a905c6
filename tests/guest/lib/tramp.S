/* Real-mode -> long-mode trampoline shared by smp.c (AP start-up, SIPI vector
 * 0x08) and s3.c (the FACS waking vector): tramp_install() in tramp.h copies
 * it to TRAMP_BASE (0x8000) and fills in its data area. Position-dependent on
 * that base: every address is TR(label). Real mode -> GDT -> 32-bit protected
 * mode -> PAE, CR3 (tramp_cr3), EFER |= tramp_efer (LME, plus NXE when the
 * caller runs with it) -> paging -> 64-bit -> take a CPU index with lock xadd
 * -> that CPU's stack slot -> tramp_entry(). Kept short: real-mode code is
 * emulated slowly. */
#define TRAMP_BASE 0x8000
#define TR(x) (TRAMP_BASE + ((x) - tramp_start))
#define EFER_MSR 0xc0000080

    .section .text.tramp, "ax"
    .globl tramp_start, tramp_end
    .globl tramp_cr3, tramp_efer, tramp_next, tramp_stack_size, tramp_stacks, tramp_entry

    .code16
tramp_start:
__code16_start_tramp:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TR(tramp_gdt_desc)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $TR(tramp_pm32)
__code16_end_tramp:

    .code32
tramp_pm32:
__code32_start_tramp:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl TR(tramp_cr3), %eax
    movl %eax, %cr3
    movl $EFER_MSR, %ecx
    rdmsr
    orl TR(tramp_efer), %eax        /* LME (| NXE) */
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax           /* PG */
    movl %eax, %cr0
    ljmpl $0x18, $TR(tramp_lm64)
__code32_end_tramp:

    .code64
tramp_lm64:
    movl $1, %eax
    lock xaddl %eax, TR(tramp_next)
    incl %eax                       /* stack top of CPU number eax = base + (eax+1)*size */
    movl TR(tramp_stack_size), %ecx
    imull %ecx, %eax
    movq TR(tramp_stacks), %rsp
    addq %rax, %rsp
    movq TR(tramp_entry), %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
tramp_gdt_end:
tramp_gdt_desc:
    .word tramp_gdt_end - tramp_gdt - 1
    .long TR(tramp_gdt)
    .balign 8
tramp_cr3:        .long 0
tramp_efer:       .long 0
tramp_next:       .long 0
tramp_stack_size: .long 0
tramp_stacks:     .quad 0
tramp_entry:      .quad 0
tramp_end:
