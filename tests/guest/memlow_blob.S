/* 128 KiB of known data for memlow.c, so the image at 0x8000 reaches past
 * 0x20000 (the default command-line area): quad i is 0xb10b000000000000 + i. */
    .section .data
    .balign 4096
    .globl memlow_blob
memlow_blob:
    .set i, 0
    .rept 16384
    .quad 0xb10b000000000000 + i
    .set i, i + 1
    .endr
    .globl memlow_blob_end
memlow_blob_end:
