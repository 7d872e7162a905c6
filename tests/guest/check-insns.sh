#!/usr/bin/env bash
# Fails if a guest ELF64 contains an instruction that this project's development
# host's KVM (kvm_pvm, DESIGN.md §8) cannot execute at CPL0: int3, int n,
# cmpxchg16b, XSAVE*/XRSTOR*, POPCNT, CLAC/STAC, fwait.
#
# Code is disassembled as 64-bit, except ranges between the symbols
#   __code16_start_X .. __code16_end_X   (decoded as 16-bit)
#   __code32_start_X .. __code32_end_X   (decoded as 32-bit)
#   __insncheck_skip_start_X .. __insncheck_skip_end_X  (not checked: deliberate)
# usage: check-insns.sh FILE.elf [OBJDUMP] [NM]
set -euo pipefail
shopt -s inherit_errexit
elf=$1
objdump=${2:-objdump}
nm=${3:-nm}
forbidden='(^|[[:space:]])(int3|int|popcnt[lqw]?|xsave[a-z0-9]*|xrstor[a-z0-9]*|cmpxchg16b|fwait|wait|clac|stac|fnclex|emms)([[:space:]]|$)'

# "kind start end" for every marked range.
ranges=$("$nm" "$elf" | LC_ALL=C sort | awk '
    $3 ~ /^__(code16|code32|insncheck_skip)_(start|end)_/ {
        name = $3; sub(/^__/, "", name)
        kind = name; sub(/_(start|end)_.*/, "", kind)
        id = name; sub(/^[a-z0-9_]*_(start|end)_/, "", id)
        if (name ~ /_start_/) s[kind " " id] = $1; else e[kind " " id] = $1
    }
    END { for (k in s) { split(k, p, " "); if (!(k in e)) { print "unpaired " k > "/dev/stderr"; exit 1 }
                         print p[1], s[k], e[k] } }')

# Instruction lines "addr<TAB>insn" of objdump -d output, symbol names removed.
insns() {
    "$objdump" -d -w --no-show-raw-insn "$@" "$elf" |
        awk -F'\t' '$1 ~ /^ *[0-9a-f]+:$/ { a = $1; gsub(/[ :]/, "", a); i = $2; gsub(/<[^>]*>/, "", i); print a "\t" i }'
}

bad=$(
    # 64-bit pass, minus all marked ranges
    insns | awk -F'\t' -v ranges="$ranges" -v re="$forbidden" '
        function hex(s,   i, v) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
        BEGIN { n = ranges == "" ? 0 : split(ranges, l, "\n"); for (k = 1; k <= n; k++) { split(l[k], f, " "); lo[k] = hex(f[2]); hi[k] = hex(f[3]) } }
        { a = hex($1); for (k = 1; k <= n; k++) if (a >= lo[k] && a < hi[k]) next
          if ($2 ~ re) print "  " $1 ": " $2 }'
    while read -r kind lo hi; do
        case $kind in
        code16) mode=i8086 ;;
        code32) mode=i386 ;;
        *) continue ;;
        esac
        insns -M "$mode" --start-address="0x$lo" --stop-address="0x$hi" |
            awk -F'\t' -v re="$forbidden" -v m="$mode" '$2 ~ re { print "  " $1 " (" m "): " $2 }'
    done <<<"$ranges"
)
if [ -n "$bad" ]; then
    echo "$elf: instructions the development host's KVM cannot execute at CPL0 (DESIGN.md §8):" >&2
    echo "$bad" >&2
    exit 1
fi
