#!/usr/bin/env bash
# Verifies the ELF32 made from a multiboot guest's ELF64 by objcopy: ELF32 for
# i386, same entry point, same PT_LOAD segments (addresses, sizes, flags), same
# loadable bytes, and a valid multiboot v1 header 4-byte aligned in the first
# 8 KiB of the file.  usage: check-elf32.sh IN.elf64 OUT.elf32 [READELF]
set -euo pipefail
in=$1 out=$2 readelf=${3:-readelf}
objcopy=${GUEST_OBJCOPY:-objcopy}
fail() { echo "$out: $*" >&2; exit 1; }

"$readelf" -h "$out" | grep -q 'Class: *ELF32' || fail "not ELF32"
"$readelf" -h "$out" | grep -q 'Machine: *Intel 80386' || fail "not i386"
entry() { "$readelf" -h "$1" | awk '/Entry point address/ { print $4 }' | while read -r v; do echo $((v)); done; }
[ "$(entry "$in")" = "$(entry "$out")" ] || fail "entry $(entry "$out") != $(entry "$in")"
loads() {
    "$readelf" -lW "$1" | awk '$1 == "LOAD" { print $3, $4, $5, $6, $7 }' |
        while read -r va pa fs ms fl; do echo "$((va)) $((pa)) $((fs)) $((ms)) $fl"; done
}
[ -n "$(loads "$out")" ] || fail "no PT_LOAD segment"
[ "$(loads "$in")" = "$(loads "$out")" ] || fail "PT_LOAD segments differ:
$(loads "$in")
vs
$(loads "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$objcopy" -O binary "$in" "$tmp/in.bin"
"$objcopy" -O binary "$out" "$tmp/out.bin"
cmp -s "$tmp/in.bin" "$tmp/out.bin" || fail "loadable bytes differ from $in"
# multiboot header: magic, flags, checksum at a 4-byte aligned offset < 8192
od -An -v -t u4 -w4 -N 8192 "$out" | awk '
    { w[NR - 1] = $1 }
    END { for (i = 0; i + 2 < NR; i++) if (w[i] == 464367618 && (w[i] + w[i+1] + w[i+2]) % 4294967296 == 0) exit 0; exit 1 }' ||
    fail "no valid multiboot header in the first 8 KiB"
