#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/loader/: small loader inputs (fuzz_loader.c's format:
a 4-byte header, the kernel, the initramfs) from a real vmlinux and bzImage,
shrunk to a few KiB, and synthesized multiboot kernels.
usage: make_loader_seeds.py VMLINUX BZIMAGE OUTDIR"""
import struct
import sys

vmlinux, bzimage, out = sys.argv[1], sys.argv[2], sys.argv[3]


def seed(name, kernel, initrd=b"", layout=2, cmdline17=2):
    head = bytes([layout | (4 if initrd else 0) | cmdline17 << 3])
    with open(f"{out}/{name}", "wb") as f:
        f.write(head + struct.pack("<I", len(initrd))[:3] + kernel + initrd)


def shrink_elf64(raw, keep_note):
    """vmlinux's ELF and program headers, segments cut to 0x100 file bytes at
    2, 3, 4... MiB, the PVH note (pointing into the first segment) kept."""
    phoff, phentsize, phnum = struct.unpack_from("<Q", raw, 32)[0], raw[54], raw[56]
    ehdr = bytearray(raw[:64])
    phdrs, data, load = [], bytearray(), 0
    base = 64 + phnum * phentsize
    for i in range(phnum):
        ph = list(struct.unpack_from("<IIQQQQQQ", raw, phoff + i * phentsize))
        if ph[0] == 1:  # PT_LOAD
            chunk = raw[ph[2]:ph[2] + 0x100]
            ph[2], ph[4], ph[5], ph[6] = base + len(data), (2 + load) << 20, 0x100, 0x200
            load += 1
        elif ph[0] == 4 and keep_note:  # PT_NOTE
            chunk = bytearray(raw[ph[2]:ph[2] + ph[5]])
            pos = 0
            while pos + 12 <= len(chunk):
                nsz, dsz, typ = struct.unpack_from("<III", chunk, pos)
                desc = pos + 12 + (nsz + 3 & ~3)
                if typ == 0x12:  # XEN_ELFNOTE_PHYS32_ENTRY
                    struct.pack_into("<I", chunk, desc, (2 << 20) + 0x10)
                pos = desc + (dsz + 3 & ~3)
            ph[2], ph[3], ph[4] = base + len(data), 0, 0
        else:
            continue
        data += chunk
        phdrs.append(struct.pack("<IIQQQQQQ", *ph))
    struct.pack_into("<Q", ehdr, 24, (2 << 20) + 0x20)  # e_entry
    struct.pack_into("<Q", ehdr, 32, 64)
    ehdr[56] = len(phdrs)
    ehdr = bytes(ehdr[:56]) + struct.pack("<H", len(phdrs)) + bytes(ehdr[58:])
    base = 64 + len(phdrs) * phentsize
    fixed = []
    for ph in phdrs:  # offsets were computed for phnum headers
        f = list(struct.unpack("<IIQQQQQQ", ph))
        f[2] -= (phnum - len(phdrs)) * phentsize
        fixed.append(struct.pack("<IIQQQQQQ", *f))
    return ehdr + b"".join(fixed) + data


def multiboot_elf32():
    """An i386 ET_EXEC with one segment at 1 MiB holding the multiboot header."""
    mb = struct.pack("<III", 0x1BADB002, 3, (-(0x1BADB002 + 3)) & 0xffffffff)
    ehdr = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack(
        "<HHIIIIIHHHHHH", 2, 3, 1, 0x100000, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0x100, 0x100000, 0x100000, 0x40, 0x1000, 5, 0x1000)
    body = ehdr + phdr
    return body + bytes(0x100 - len(body)) + mb + bytes(0x40 - len(mb))


def multiboot_kludge():
    """An a.out-kludge image: the header names load, bss and entry addresses."""
    flags = 0x10003
    hdr = struct.pack("<IIIIIIII", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff,
                      0x100000, 0x100000, 0x101000, 0x102000, 0x100020)
    return hdr + bytes(0x1000 - len(hdr))


raw = open(vmlinux, "rb").read()
seed("vmlinux_pvh", shrink_elf64(raw, True), b"070701" + bytes(0x70))
seed("vmlinux_elf64", shrink_elf64(raw, False))
seed("vmlinux_truncated", raw[:0x1000], layout=1)
bz = open(bzimage, "rb").read()
setup = (bz[0x1f1] or 4) + 1
seed("bzimage_head", bz[:setup * 512 + 0x800], b"initrd" * 20, layout=3)
seed("multiboot_low_ram", multiboot_elf32(), layout=0)
seed("multiboot_elf32", multiboot_elf32(), b"module" * 10, layout=1, cmdline17=1)
seed("multiboot_kludge", multiboot_kludge(), layout=1)
