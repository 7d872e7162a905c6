#!/usr/bin/env bash
# Hostile guests (tests/guest/hostile_*.c): each attacks one device or the VMM
# and then checks, from inside, that the attacked device still serves.
# usage: tests/integration/hostile.sh BUILD
# Per test: exit status 1 (guest exit 0) within GUEST_TIMEOUT, the program's
# "NAME: ok" line, stderr bounded (the guest-error log is rate-limited: at
# most STDERR_MAX bytes, and per message kind no more than the limiter's
# burst per second of run time), no sanitizer report, and the test's own
# checks below. Prints "ok NAME (T s)" / "not ok NAME: reason" and closes
# with "N passed, N failed, N skipped". `make test-sanitize` runs it too.
# env: GUEST_TIMEOUT  seconds each guest may run (default 30)
#      GUEST_KEEP=1   keep the work directory with every run's files
set -u
build=${1:-build}
vmm=$build/minivmm
gdir=$build/guest
tmo=${GUEST_TIMEOUT:-30}
STDERR_MAX=16384
BURST=10   # LOG_RATELIMIT_BURST in util/log.h: lines per call site per second

TESTS=(hostile_vtd hostile_dma hostile_msix hostile_cfg hostile_reset hostile_smp)

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_all_without_kvm "hostile guest tests" "${#TESTS[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-hostile.XXXXXX")
if [ "${GUEST_KEEP:-0}" = 1 ]; then echo "# work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

# The virtio-rng source: 64-byte blocks starting with the marker the guests check.
rngsrc=$work/rngsrc
for _ in $(seq 64); do
    printf 'minivmm-rng-src:0123456789abcdef0123456789abcdef0123456789abcdef'
done >"$rngsrc"
disk=$work/disk.img
truncate -s 2M "$disk"

# VMM options per test.
declare -A OPTS=(
    [hostile_vtd]="--iommu --edu --test-device dma"
    [hostile_dma]="--edu --test-device dma"
    [hostile_msix]="--test-device dma --rng src=$rngsrc"
    [hostile_cfg]="--edu --test-device dma --rng src=$rngsrc --disk path=$disk"
    [hostile_reset]="--disk path=$disk"
    [hostile_smp]="--cpus boot=4 --cmdline cpus=4 --test-device dma --rng src=$rngsrc"
)

status='' serial='' errf='' secs=''
run() {  # TEST
    local t=$1 t0
    serial=$work/$t.serial errf=$work/$t.stderr
    : >"$serial"
    t0=$(date +%s%N)
    # shellcheck disable=SC2086 # OPTS holds several words
    timeout -k 5 "$tmo" "$vmm" --kernel "$gdir/$t.elf" --serial "file=$serial" \
        --memory size=64M --test-device "log=$work/$t.log" ${OPTS[$t]} \
        </dev/null >"$work/$t.stdout" 2>"$errf"
    status=$?
    secs=$(awk -v d=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.2f", d / 1e9 }')
}

use_guest_reporting

# What every test must show; sets why.
check_common() {  # TEST
    if [ "$status" -ne 1 ]; then
        case $status in
        124 | 137) why="timed out after ${tmo} s (a hang)" ;;
        *) why="exit status $status, want 1$( [ $((status & 1)) = 1 ] && [ "$status" -lt 124 ] &&
               echo " (guest exit code $(((status - 1) >> 1)))")" ;;
        esac
        return 1
    fi
    has_line "$serial" "$1: ok" || { why="no '$1: ok' line"; return 1; }
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$errf"; then
        why="sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error:' "$errf")"; return 1
    fi
    local size max n line
    size=$(stat -c %s "$errf")
    [ "$size" -le "$STDERR_MAX" ] || { why="stderr holds $size bytes (> $STDERR_MAX): not rate-limited"; return 1; }
    # Per message kind (the text with its numbers masked), at most the burst
    # per started second.
    max=$((BURST * (${secs%.*} + 1)))
    line=$(sed -nE 's/^minivmm: guest: //; T; s/0x[0-9a-f]+|[0-9]+/N/g; p' "$errf" |
           sort | uniq -c | sort -rn | head -n 1)
    n=$(awk '{ print $1 }' <<<"$line")
    [ -z "$n" ] || [ "$n" -le "$max" ] ||
        { why="$n log lines of one kind ('$(sed -E 's/^ *[0-9]+ //' <<<"$line")') in $secs s: over the rate limit"; return 1; }
}

check_hostile_vtd() {
    local l
    for l in "hostile_vtd: storm of 2300 faults: 0 unfaulted, FSTS 0x3, 8 records full" \
             "hostile_vtd: storm: log overflowed, cleared, recording again" \
             "hostile_vtd: root entry pointing at the root table: fault reason 2" \
             "hostile_vtd: context entry pointing at its own table: read-only walk, no hang" \
             "hostile_vtd: root table in the unit's registers: fault reason 8" \
             "hostile_vtd: context table at the LAPIC: fault reason 9" \
             "hostile_vtd: PML4 at the IOAPIC: fault reason 7" \
             "hostile_vtd: wait status into IQT: IQH 0x10 IQT 0x10"; do
        has_line "$serial" "$l" || { why="no line '$l'"; return 1; }
    done
    # Thousands of faults, a handful of lines.
    local n
    n=$(grep -c 'vtd: fault reason' "$errf")
    [ "$n" -ge 1 ] && [ "$n" -le $((BURST * (${secs%.*} + 1))) ] ||
        { why="$n VT-d fault lines for 2300+ faults"; return 1; }
}
check_hostile_dma() {
    grep -q 're-entrant access refused' "$errf" || { why="no re-entrant access logged"; return 1; }
    local l
    for l in "hostile_dma: edu DMA at its own BAR refused, edu answers" \
             "hostile_dma: store into its own MSI-X table: refused (status 2)" \
             "hostile_dma: own BAR by DMA: status 0, BAR now 0xd2000000"; do
        has_line "$serial" "$l" || { why="no line '$l'"; return 1; }
    done
}
check_hostile_msix() {
    has_line "$serial" "hostile_msix: a vector aimed at RAM wrote its data there" ||
        { why="no MSI-X memory-write line"; return 1; }
    has_line "$serial" "hostile_msix: storms: 900 interrupts for 900 messages, PBA 0" ||
        { why="no storms line"; return 1; }
    has_line "$serial" "hostile_msix: virtio MSI-X toggled 4400 times: request done, 1 interrupts" ||
        { why="no virtio route line"; return 1; }
}
check_hostile_cfg() {
    has_line "$serial" "hostile_cfg: bus enumerates, edu, test device and virtio-rng work" ||
        { why="no 'devices work' line"; return 1; }
}
check_hostile_reset() {
    local l
    for l in "hostile_reset: reset with 8 requests in flight: the device stays quiet" \
             "hostile_reset: bus mastering off with 8 requests in flight: the device stays quiet" \
             "hostile_reset: rings at c0000000 c0000100 c0000200: status 0x4f" \
             "hostile_reset: 40 resets during I/O, then the data reads back"; do
        has_line "$serial" "$l" || { why="no line '$l'"; return 1; }
    done
}
check_hostile_smp() {
    has_line "$serial" "hostile_smp: 4 cpus x 150 rounds on one device; 0 odd IDs" ||
        { why="no hammering line"; return 1; }
}

for t in "${TESTS[@]}"; do
    secs='' errf='' serial=''
    if [ ! -x "$vmm" ]; then not_ok "$t" "$vmm not built"; continue; fi
    if [ ! -f "$gdir/$t.elf" ]; then not_ok "$t" "$gdir/$t.elf not built (make guests)"; continue; fi
    run "$t"
    why=
    if check_common "$t" && "check_$t"; then ok "$t"; else not_ok "$t" "${why:-check failed}"; fi
done

summary
