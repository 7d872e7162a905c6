/* S3 resume trampoline for s3.c, copied to S3_TRAMP_BASE (0x8000), the FACS
 * waking vector: minivmm starts the boot CPU here in real mode with
 * CS:IP = 0x0800:0000, as firmware does on resume. Position-dependent on that
 * base: every address is TR(label). Real mode -> GDT -> 32-bit -> PAE, CR3
 * (saved before sleeping), EFER.LME -> paging -> 64-bit -> saved stack ->
 * s3_tramp_entry(). Kept short: real-mode code is emulated slowly. */
#define S3_TRAMP_BASE 0x8000
#define TR(x) (S3_TRAMP_BASE + ((x) - s3_tramp_start))
#define EFER_MSR 0xc0000080

    .section .text.tramp, "ax"
    .globl s3_tramp_start, s3_tramp_end, s3_tramp_cr3, s3_tramp_stack, s3_tramp_entry

    .code16
s3_tramp_start:
__code16_start_s3tramp:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TR(s3_gdt_desc)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $TR(s3_pm32)
__code16_end_s3tramp:

    .code32
s3_pm32:
__code32_start_s3tramp:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl TR(s3_tramp_cr3), %eax
    movl %eax, %cr3
    movl $EFER_MSR, %ecx
    rdmsr
    orl $0x100, %eax                /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax           /* PG */
    movl %eax, %cr0
    ljmpl $0x18, $TR(s3_lm64)
__code32_end_s3tramp:

    .code64
s3_lm64:
    movq TR(s3_tramp_stack), %rsp
    movq TR(s3_tramp_entry), %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    .balign 8
s3_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
s3_gdt_end:
s3_gdt_desc:
    .word s3_gdt_end - s3_gdt - 1
    .long TR(s3_gdt)
    .balign 8
s3_tramp_cr3:   .quad 0
s3_tramp_stack: .quad 0
s3_tramp_entry: .quad 0
s3_tramp_end:
