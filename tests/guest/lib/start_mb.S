/* Multiboot v1 entry: header (magic, flags, checksum) first in the image; the
 * loader enters e_entry (_start) in 32-bit protected mode, paging off, with
 * eax = 0x2BADB002 and ebx = multiboot info. guest_main(info, eax) then runs in
 * long mode (long32.S). The program is linked as ELF64 and converted to ELF32
 * for the loader (objcopy -O elf32-i386; see guest.mk). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003         /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text.start, "ax"
    .code32
    .globl _start
_start:
__code32_start_mb:
    movl %ebx, %esi
    movl %eax, %edi
    jmp long32_enter
__code32_end_mb:
