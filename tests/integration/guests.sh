#!/usr/bin/env bash
# Boots each guest test program (tests/guest/, built into BUILD/guest/) in
# minivmm on KVM and checks its exit status, serial output and test-device log.
# usage: tests/integration/guests.sh BUILD
# Prints "ok NAME (T s)" / "not ok NAME: reason" per test and closes with
# "N passed, N failed, N skipped". Without a usable /dev/kvm every test is skipped.
# env: GUEST_TIMEOUT  seconds each guest may run (default 30)
#      GUEST_KEEP=1   keep the work directory with every run's files
set -u
build=${1:-build}
vmm=$build/minivmm
gdir=$build/guest
tmo=${GUEST_TIMEOUT:-30}

TESTS=(hello widths romexec memsize_pvh_64M memsize_pvh_200M memsize_mb_64M memsize_mb_200M
       smp_2 smp_4 smp_timeout smp_flood_crash smp_stall_crash crash badinsn mmioexec
       ioapic_split ioapic_kernel)
TESTS+=(rtc rtcirq pmtimer s3 pctestdev memlow)
TESTS+=(pci)
TESTS+=(virtio virtio_split virtio_iommu)
TESTS+=(vfio_user vfio_user_iommu vfio_user_kill)
TESTS+=(vtd pcitestdev blkflush)

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_all_without_kvm "KVM guest tests" "${#TESTS[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-guests.XXXXXX")
if [ "${GUEST_KEEP:-0}" = 1 ]; then echo "# work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

# Filled by run_guest for the checks.
status= serial= tdlog= errf= secs=

# run_guest TEST ELF [minivmm options...]: runs under `timeout`, stdin closed.
run_guest() {
    local t=$1 elf=$2; shift 2
    serial=$work/$t.serial tdlog=$work/$t.log errf=$work/$t.stderr
    : >"$serial"; : >"$tdlog"
    local t0 t1
    t0=$(date +%s%N)
    timeout -k 5 "$tmo" "$vmm" --kernel "$elf" --serial "file=$serial" \
        --test-device "log=$tdlog" "$@" </dev/null >"$work/$t.stdout" 2>"$errf"
    status=$?
    t1=$(date +%s%N)
    secs=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e9 }')
}

use_guest_reporting

# Status check shared by all: the debug-exit value v gives (v << 1) | 1.
status_is() {  # WANT -> sets why
    [ "$status" -eq "$1" ] && return 0
    case $status in
    124 | 137) why="timed out after ${tmo} s" ;;
    *) why="exit status $status, expected $1" ;;
    esac
    if [ $((status & 1)) = 1 ] && [ "$status" -lt 124 ]; then
        why="$why (guest exit code $(((status - 1) >> 1)))"
    fi
    return 1
}

# Runs check function check_T after run_guest; it sets `why` on failure.
finish() {  # TEST
    local t=$1
    why=
    if "check_$t"; then ok "$t"; else not_ok "$t" "${why:-check failed}"; fi
}

prereq() {  # TEST ELF: false (and a failure) if something to run is missing
    secs= errf= serial=
    if [ ! -x "$vmm" ]; then
        not_ok "$1" "$vmm not built"; return 1
    fi
    if [ ! -f "$2" ]; then
        not_ok "$1" "$2 not built (make guests)"; return 1
    fi
}

# ---------------------------------------------------------------- vfio_user
# tests/guest/vfio_user.c with tests/vfio_user_server: the server's log must
# hold exactly the guest's register accesses, width by width, in order.
vfu_server=$build/tests/vfio-user-test-server
vfu_start() {  # TEST: starts the server on $work/TEST.sock, logging to $work/TEST.vfu
    vfu_sock=$work/$1.sock vfu_log=$work/$1.vfu
    "$vfu_server" --socket "$vfu_sock" --log "$vfu_log" 2>"$work/$1.server.stderr" &
    vfu_pid=$!
    for _ in $(seq 50); do [ -S "$vfu_sock" ] && break; sleep 0.1; done
}
vfu_stop() { { kill "$vfu_pid"; wait "$vfu_pid"; } 2>/dev/null; }
# The register accesses the guest makes (tests/guest/vfio_user.c), as the
# server logs them; guest-images/init makes the same ones.
vfu_widths_log=$(cat tests/vfio_user_server/widths.log)
check_vfio_user() {
    status_is 1 || return 1
    has_line "$serial" "vfio_user: MSI-X ok" || { why="no MSI-X line"; return 1; }
    has_line "$serial" "vfio_user: DMA ok" || { why="no DMA line"; return 1; }
    has_line "$serial" "vfio_user: ok" || { why="no 'vfio_user: ok' line"; return 1; }
    [ "$(head -n 9 "$vfu_log")" = "$vfu_widths_log" ] ||
        { why="server log differs from the guest's accesses: $(head -n 9 "$vfu_log" | tr '\n' '|')"; return 1; }
}
check_vfio_user_iommu() {
    check_vfio_user || return 1
    has_line "$serial" "vfio_user: DMA to an unmapped IOVA fails" || { why="no unmapped-IOVA line"; return 1; }
}
check_vfio_user_kill() {
    check_vfio_user || return 1
    has_line "$serial" "vfio_user: device gone, reads all-ones" || { why="no all-ones line"; return 1; }
    grep -q "the device is gone" "$errf" || { why="no 'device is gone' error"; return 1; }
}
# The guest asks for the kill on its serial line; minivmm must keep running.
run_vfio_user_kill() {
    local t=$1 t0 vm
    serial=$work/$t.serial tdlog=$work/$t.log errf=$work/$t.stderr
    : >"$serial"; : >"$tdlog"
    t0=$(date +%s%N)
    timeout -k 5 "$tmo" "$vmm" --kernel "$gdir/vfio_user.elf" --serial "file=$serial" \
        --cpus boot=1 --memory size=64M --user-device "socket=$vfu_sock" \
        --cmdline "kill=1" </dev/null >"$work/$t.stdout" 2>"$errf" &
    vm=$!
    for _ in $(seq 200); do
        grep -q "kill the server now" "$serial" 2>/dev/null && break
        sleep 0.1
    done
    { kill -9 "$vfu_pid"; wait "$vfu_pid"; } 2>/dev/null
    wait "$vm"
    status=$?
    secs=$(awk -v d=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.2f", d / 1e9 }')
}

# ---------------------------------------------------------------- hello
check_hello() {
    status_is 1 || return 1
    has_line "$serial" "hello from minivmm guest" || { why="no 'hello from minivmm guest' line on the serial port"; return 1; }
}

# ---------------------------------------------------------------- virtio
# tests/guest/virtio.c: a request, nine malformed requests (each NEEDS_RESET,
# then reset and served again); with the VT-d unit: requests through it, then the
# rings unmapped must fault instead of being written.
check_virtio() {
    status_is 1 || return 1
    has_line "$serial" "virtio: ok" || { why="no 'virtio: ok' line"; return 1; }
    has_line "$serial" "virtio: msix ok" || { why="no 'virtio: msix ok' line (MSI-X vectors, irqfds)"; return 1; }
    has_line "$serial" "virtio: 9 malformed requests, each NEEDS_RESET, served after reset" ||
        { why="not every malformed request ended in NEEDS_RESET and a served request after reset"; return 1; }
    grep -q "needs reset" "$errf" || { why="no rate-limited NEEDS_RESET log line"; return 1; }
}
check_virtio_split() { check_virtio; }
check_virtio_iommu() {
    status_is 1 || return 1
    has_line "$serial" "virtio: iommu fault after unmap ok" || { why="no 'virtio: iommu fault after unmap ok' line"; return 1; }
    grep -q "vtd: fault" "$errf" || { why="no VT-d fault logged"; return 1; }
}

# ---------------------------------------------------------------- widths
# The expected log, from the access sequence documented in tests/guest/widths.c
# and the device protocol in devices/testdev.h (pattern byte (off & 0xff) ^ 0xa5,
# little-endian; written byte i = (size << 4) | ((off + i) & 0xf)).
widths_expected() {
    local size base a off i w r
    echo "mark 0x1"
    for size in 1 2 4 8; do
        for base in 0 248; do
            for a in 0 1 2 3 4 5 6 7; do
                off=$((base + a)) w=0 r=0
                for ((i = 0; i < size; i++)); do
                    w=$((w | (((size << 4) | ((off + i) & 15)) << (8 * i))))
                    r=$((r | ((((off + i) & 255) ^ 0xa5) << (8 * i))))
                done
                printf 'mmio write off=0x%x size=%d val=0x%x\n' "$off" "$size" "$w"
                printf 'mmio read off=0x%x size=%d val=0x%x\n' "$off" "$size" "$r"
            done
        done
    done
    echo "mark 0x2"
    for size in 1 2 4; do
        for ((a = 0; a + size <= 8; a++)); do
            w=0 r=0
            for ((i = 0; i < size; i++)); do
                w=$((w | (((size << 4) | ((a + i) & 15)) << (8 * i))))
                r=$((r | ((((a + i) & 255) ^ 0xa5) << (8 * i))))
            done
            printf 'pio write port=0x%x size=%d val=0x%x\n' $((0xe00 + a)) "$size" "$w"
            printf 'pio read port=0x%x size=%d val=0x%x\n' $((0xe00 + a)) "$size" "$r"
        done
    done
    echo "mark 0x3"
}
check_widths() {
    status_is 1 || return 1
    widths_expected >"$work/widths.expected"
    if ! diff -u "$work/widths.expected" "$tdlog" >"$work/widths.diff"; then
        why="test-device log differs from the expected sequence:
$(head -n 20 "$work/widths.diff" | sed 's/^/  | /')"
        return 1
    fi
    has_line "$serial" "widths: ok" || { why="no 'widths: ok' line"; return 1; }
}

# ---------------------------------------------------------------- romexec
# ROM reads in romd mode and ROM execution never reach the device: only the
# writes in romd mode and every access with romd off are logged; the control
# commands are not logged (devices/testdev.h).
check_romexec() {
    status_is 1 || return 1
    cat >"$work/romexec.expected" <<'EOT'
mark 0x1
mark 0x2
rom write off=0x20 size=1 val=0x7f
mark 0x3
rom read off=0x0 size=4 val=0x5a5a5a5a
rom read off=0x21 size=1 val=0x5a
rom write off=0x40 size=2 val=0xbeef
mark 0x4
mark 0x5
mark 0x6
EOT
    if ! diff -u "$work/romexec.expected" "$tdlog" >"$work/romexec.diff"; then
        why="test-device log differs from the expected sequence:
$(head -n 20 "$work/romexec.diff" | sed 's/^/  | /')"
        return 1
    fi
    has_line "$serial" "romexec: phase 5: ROM image 2 returned 0x$(printf '%x' $((0x524f4d30 + 2)))" ||
        { why="no line showing the swapped ROM image's result"; return 1; }
    has_line "$serial" "romexec: ok" || { why="no 'romexec: ok' line"; return 1; }
}

# ---------------------------------------------------------------- memsize
# RAM in minivmm's memory map: all of it but the EBDA/BIOS hole 0x9fc00..0x100000.
memsize_mode= memsize_bytes= memsize_args= memsize_elf=
check_memsize() {
    status_is 1 || return 1
    local kib=$(((memsize_bytes - 0x60400) / 1024))
    has_line "$serial" "boot: $memsize_mode" || { why="no 'boot: $memsize_mode' line"; return 1; }
    has_line "$serial" "memory: $kib KiB" ||
        { why="expected 'memory: $kib KiB', got '$(grep '^memory:' "$serial")'"; return 1; }
    local want="$memsize_args"
    if [ "$memsize_mode" = multiboot ]; then
        want="$memsize_elf $memsize_args"   # multiboot: "FILE ARGS"
        local mb="mem_lower: 639 KiB mem_upper: $((memsize_bytes / 1024 - 1024)) KiB"
        has_line "$serial" "$mb" ||
            { why="expected '$mb', got '$(grep '^mem_lower' "$serial")'"; return 1; }
    fi
    has_line "$serial" "cmdline: $want" ||
        { why="expected 'cmdline: $want', got '$(grep '^cmdline' "$serial")'"; return 1; }
}
for t in memsize_pvh_64M memsize_pvh_200M memsize_mb_64M memsize_mb_200M; do
    eval "check_$t() { check_memsize; }"
done

# ---------------------------------------------------------------- smp
smp_n=
check_smp() {
    status_is 1 || return 1
    local id
    for ((id = 1; id < smp_n; id++)); do
        [ "$(grep -cxF "cpu $id online" "$serial")" = 1 ] ||
            { why="expected one 'cpu $id online' line"; return 1; }
    done
    # the N-1 AP lines and "all N cpus online"
    [ "$(grep -c ' online$' "$serial")" = "$smp_n" ] ||
        { why="unexpected 'online' lines"; return 1; }
    has_line "$serial" "all $smp_n cpus online" || { why="no 'all $smp_n cpus online' line"; return 1; }
}
check_smp_2() { check_smp; }
check_smp_4() { check_smp; }
# One vCPU but cpus=2: the STARTUP IPIs reach nobody; the guest's bounded wait
# must end it with exit code 2 (status 5) within a few seconds.
check_smp_timeout() {
    status_is 5 || return 1
    has_line "$serial" "smp: timeout: 1 of 2 cpus online" || { why="no timeout line"; return 1; }
}

# Output to a pipe nobody reads while vCPU 0 prints more than the pipe and the
# UART's ring hold; vCPU 1 then crashes the guest. Nothing may block: status 6
# within FLOOD_LIMIT seconds, and the lost output is reported.
FLOOD_LIMIT=20
run_flood_crash() {  # TEST
    local t=$1 fifo=$work/$1.fifo reader
    serial=$work/$t.serial tdlog=$work/$t.log errf=$work/$t.stderr
    : >"$serial"; : >"$tdlog"
    mkfifo "$fifo"
    sleep $((FLOOD_LIMIT + 10)) <"$fifo" &
    reader=$!
    local t0 t1
    t0=$(date +%s%N)
    timeout -k 5 "$FLOOD_LIMIT" "$vmm" --kernel "$gdir/smp.elf" --cpus boot=2 --memory size=64M \
        --cmdline "cpus=2 flood=1" --serial tty --test-device "log=$tdlog" \
        </dev/null >"$fifo" 2>"$errf"
    status=$?
    t1=$(date +%s%N)
    kill "$reader" 2>/dev/null
    wait "$reader" 2>/dev/null
    secs=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e9 }')
}
check_smp_flood_crash() {
    status_is 6 || return 1
    grep -q 'guest crash: vCPU 1' "$errf" || { why="no crash report for vCPU 1"; return 1; }
    grep -q 'bytes of guest output dropped' "$errf" ||
        { why="no report of the dropped output"; return 1; }
}

# vCPU 0 stuck in a device holding the big lock, vCPU 1 crashes: minivmm gives
# up on vCPU 0 after its 2 s join limit and exits with status 6 without tearing
# the VM down (which would wait for the big lock, or free what vCPU 0 uses).
check_smp_stall_crash() {
    status_is 6 || return 1
    grep -q 'without releasing the VM' "$errf" || { why="no 'without releasing' warning"; return 1; }
    awk -v s="$secs" 'BEGIN { exit !(s < 10) }' || { why="took $secs s"; return 1; }
}

# ---------------------------------------------------------------- crash, badinsn
# The report must name RIP with the address of the ud2 (symbol crash_ud2) and
# show the code there, starting with ud2's bytes 0f 0b.
check_crash() {
    status_is 6 || return 1
    local sym rip
    sym=$(nm "$gdir/crash.elf" 2>/dev/null | awk '$3 == "crash_ud2" { print $1 }')
    [ -n "$sym" ] || { why="no symbol crash_ud2 in $gdir/crash.elf"; return 1; }
    rip=$(printf '%x' $((16#$sym)))
    grep -qiE "(^|[^a-z])rip[ =:]+(0x)?0*$rip([^0-9a-f]|$)" "$errf" ||
        { why="the crash report on stderr does not give RIP = 0x$rip"; return 1; }
    grep -i 'rip' "$errf" | grep -qiE '(^|[^0-9a-f])0f 0b([^0-9a-f]|$)' ||
        { why="the crash report does not show the code at RIP (0f 0b)"; return 1; }
}
check_badinsn() { status_is 6; }
# RIP in MMIO: a crash, and the report reads no instruction bytes through the
# device (the test-device log holds the mark only).
check_mmioexec() {
    status_is 6 || return 1
    [ "$(cat "$tdlog")" = "mark 0x1" ] ||
        { why="test-device log is '$(tr '\n' ';' <"$tdlog")', want only 'mark 0x1'"; return 1; }
}

# ---------------------------------------------------------------- ioapic
# tests/guest/ioapic.c: COM1's IRQ 4 through our IOAPIC (split) and KVM's.
# On kvm_pvm hosts KVM reports a level-triggered vector's EOI when it injects
# the interrupt, so a line still asserted then is delivered once more (both
# irqchips): there, 4 level interrupts and 2 after unmasking are accepted too.
check_ioapic() {  # MODE ID VERSION EOIREG-LINE
    status_is 1 || return 1
    local extra=0
    [ -d /sys/module/kvm_pvm ] && extra=1
    has_line "$serial" "ioapic: id $2 version $3 entries 24" ||
        { why="expected 'ioapic: id $2 version $3 entries 24', got '$(grep '^ioapic:' "$serial")'"; return 1; }
    has_line "$serial" "edge: 1 interrupts" || { why="expected one edge interrupt: $(grep '^edge' "$serial")"; return 1; }
    local lv n
    lv=$(grep '^level:' "$serial")
    n=$(sed -n 's/^level: \([0-9]*\) interrupts.*/\1/p' <<<"$lv")
    { [ "$n" = 3 ] || [ "$n" = $((3 + extra)) ]; } && [[ $lv == *"remote IRR set in 3 handlers, after: 0" ]] ||
        { why="level re-delivery after EOI: '$lv'"; return 1; }
    lv=$(grep '^mask:' "$serial")
    n=$(sed -n 's/^mask: 0 while masked, \([0-9]*\) after unmasking$/\1/p' <<<"$lv")
    { [ "$n" = 1 ] || [ "$n" = $((1 + extra)) ]; } || { why="masking: '$lv'"; return 1; }
    has_line "$serial" "$4" || { why="expected '$4', got '$(grep '^eoireg' "$serial")'"; return 1; }
}
# Ours: id = the MADT's (number of vCPUs), version 0x20 with an EOI register.
check_ioapic_split() { check_ioapic split 1 0x20 "eoireg: remote IRR before 1 after 0"; }
# KVM's: id 0, version 0x11, no EOI register.
check_ioapic_kernel() { check_ioapic kernel 0 0x11 "eoireg: remote IRR before 0 after 0"; }
# ---------------------------------------------------------------- platform
# rtc: the RTC's time within 3 s of the host clock around the run; the CMOS
# memory bytes for --memory 64M (63 MiB above 1 MiB, 48 MiB above 16 MiB).
rtc_t0= rtc_t1=
check_rtc() {
    status_is 1 || return 1
    has_line "$serial" "rtc: ok" || { why="no 'rtc: ok' line"; return 1; }
    local e
    e=$(sed -n 's/^rtc: epoch=\([0-9]*\) .*/\1/p' "$serial")
    [ -n "$e" ] && [ "$e" -ge $((rtc_t0 - 3)) ] && [ "$e" -le $((rtc_t1 + 3)) ] ||
        { why="RTC epoch '${e:-none}' not within 3 s of the host's $rtc_t0..$rtc_t1"; return 1; }
    has_line "$serial" "cmos: base=640 ext=64512 high=768 above4g=0 cpus=1" ||
        { why="CMOS memory bytes: '$(grep '^cmos:' "$serial")'"; return 1; }
}
check_rtcirq() {
    status_is 1 || return 1
    has_line "$serial" "rtcirq: periodic 3 (PF each)" || { why="no periodic interrupts line"; return 1; }
    has_line "$serial" "rtcirq: ok" || { why="no 'rtcirq: ok' line"; return 1; }
}
check_pmtimer() { status_is 1 && { has_line "$serial" "pmtimer: ok" || { why="no 'pmtimer: ok' line"; false; }; }; }
check_s3() { status_is 1 && { has_line "$serial" "s3: ok" || { why="no 's3: ok' line"; false; }; }; }
check_pctestdev() { status_is 1 && { has_line "$serial" "pctestdev: ok" || { why="no 'pctestdev: ok' line"; false; }; }; }
check_memlow() {
    status_is 1 || return 1
    grep -q '^memlow: image 0x8000-' "$serial" || { why="no 'memlow: image 0x8000-...' line"; return 1; }
    has_line "$serial" "cmdline: $gdir/memlow_mb.elf low=1" ||
        { why="expected 'cmdline: $gdir/memlow_mb.elf low=1'"; return 1; }
}

# ---------------------------------------------------------------- pci
# tests/guest/pci.c with --edu --test-device dma: enumeration through 0xCF8 and
# ECAM, a moved BAR, edu DMA, the test device's DMA and bus-master fault, INTx,
# MSI and MSI-X.
check_pci() {
    status_is 1 || return 1
    local l
    for l in "pci: 00:00.0 1b36:0008 class 060000" "pci: 00:01.0 1234:11e8 class 00ff00" \
             "pci: 00:02.0 1234:7e5d class 00ff00" \
             "pci: edu BAR 0 moved from c0000000 to d0000000 (size 100000)" \
             "pci: edu DMA round trip of 100 bytes ok" \
             "pci: test device DMA ok; bus master off -> status 1" \
             "pci: INTx on GSI 17 -> vector 42" "pci: MSI -> vector 40" \
             "pci: MSI-X -> vector 41 (pending while masked)" "pci: ok"; do
        has_line "$serial" "$l" || { why="no line '$l'"; return 1; }
    done
}

# ---------------------------------------------------------------- vtd
# tests/guest/vtd.c with --iommu --edu --test-device dma: DMA through a mapped
# page, faults after unmapping with register-based and queued invalidation and
# on a read-only page (each fault record checked by the guest and logged by
# minivmm), MSI and IOAPIC interrupts through remapping entries.
check_vtd() {
    status_is 1 || return 1
    local l
    for l in "vtd: test device and edu DMA through IOVA 0x10000 -> 0x400000 ok" \
             "vtd: unmap + register invalidation: fault record 0 sid 00:02.0 addr 0x10000 reason 5 write, FSTS 0x2" \
             "vtd: unmap + queued invalidation: fault record 1 sid 00:02.0 addr 0x10000 reason 6 read, FSTS 0x102" \
             "vtd: write to a read-only mapping: fault record 2 sid 00:02.0 addr 0x11000 reason 5 write, FSTS 0x202" \
             "vtd: edu MSI through IRTE 5 -> vector 0x50" "vtd: IOAPIC pin 4 through IRTE 6 -> vector 0x51" \
             "vtd: compatibility-format MSI: fault record 3 sid 00:01.0 addr 0x0 reason 37 write, FSTS 0x302" \
             "vtd: ok"; do
        has_line "$serial" "$l" || { why="no line '$l'"; return 1; }
    done
    [ "$(grep -c 'vtd: fault reason' "$errf")" = 4 ] || { why="not 4 VT-d faults logged"; return 1; }
}

# ---------------------------------------------------------------- pcitestdev
# tests/guest/pcitestdev.c with --test-device pci: QEMU's pci-testdev, every
# test of both BARs (notify writes through KVM ioeventfds for the eventfd ones).
check_pcitestdev() {
    status_is 1 || return 1
    has_line "$serial" "pcitestdev: ok" || { why="no 'pcitestdev: ok' line"; return 1; }
}

# ---------------------------------------------------------------- blkflush
# tests/guest/blkflush.c writes a marker to sector 16 of a scratch disk,
# flushes and says so; then minivmm is killed with SIGKILL: the marker must be
# on the image, and (under strace, where there is one) the flush must have
# been an fdatasync of the image after its write, before the guest heard back.
run_blkflush() {  # TEST
    local t=$1 img=$work/$1.img token=$((RANDOM * 32768 + RANDOM + 1)) pid tracer=()
    serial=$work/$t.serial tdlog=$work/$t.log errf=$work/$t.stderr
    : >"$serial"; : >"$tdlog"
    head -c 1048576 /dev/zero >"$img"
    command -v strace >/dev/null && tracer=(strace -f -qq -e trace=pwrite64,pwritev,fdatasync -o "$work/$t.strace")
    local t0 t1
    t0=$(date +%s%N)
    "${tracer[@]}" "$vmm" --kernel "$gdir/blkflush.elf" --memory size=64M --disk "path=$img" \
        --serial "file=$serial" --cmdline "token=$token" </dev/null >"$work/$t.stdout" 2>"$errf" &
    pid=$!
    disown "$pid"   # no "Killed" notice from bash; it is meant to die so
    for _ in $(seq $((tmo * 10))); do
        grep -q "^blkflush: flushed" "$serial" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    pkill -KILL -f -- "--kernel $gdir/blkflush.elf"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    t1=$(date +%s%N)
    secs=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e9 }')
    blkflush_token=$token blkflush_img=$img
}
check_blkflush() {
    has_line "$serial" "blkflush: flushed $blkflush_token" ||
        { why="the guest never said it had flushed"; return 1; }
    local mark
    mark=$(dd if="$blkflush_img" bs=512 skip=16 count=1 2>/dev/null | head -n 1)
    [ "$mark" = "minivmm-flushed-$blkflush_token" ] ||
        { why="after SIGKILL, sector 16 holds '${mark:0:40}'"; return 1; }
    [ -s "$work/blkflush.strace" ] || return 0
    # The write, then the fdatasync of the same descriptor.
    awk '/pwrite(v|64)\(/ && /minivmm-flushed/ { split($2, a, "("); fd = a[2]; sub(",.*", "", fd) }
         fd != "" && $0 ~ "fdatasync\\(" fd "\\)" { ok = 1 } END { exit !ok }' "$work/blkflush.strace" ||
        { why="no fdatasync of the image after the marker's write (strace)"; return 1; }
}

# ---------------------------------------------------------------- run
for t in "${TESTS[@]}"; do
    case $t in
    memsize_*)
        # memsize_{pvh,mb}_SIZE
        prog=${t%_*} size=${t##*_}
        memsize_mode=$([ "$prog" = memsize_mb ] && echo multiboot || echo pvh)
        memsize_bytes=$((${size%M} << 20))
        memsize_elf=$gdir/$prog.elf
        memsize_args="console=ttyS0 test=$t"
        prereq "$t" "$memsize_elf" || continue
        run_guest "$t" "$memsize_elf" --cpus boot=1 --memory "size=$size" --cmdline "$memsize_args"
        ;;
    smp_flood_crash)
        prereq "$t" "$gdir/smp.elf" || continue
        run_flood_crash "$t"
        ;;
    blkflush)
        prereq "$t" "$gdir/blkflush.elf" || continue
        run_blkflush "$t"
        ;;
    smp_stall_crash)
        prereq "$t" "$gdir/smp.elf" || continue
        run_guest "$t" "$gdir/smp.elf" --cpus boot=2 --memory size=64M --cmdline "cpus=2 stall=1"
        ;;
    virtio | virtio_split | virtio_iommu)
        # The entropy source: 64-byte blocks starting with the marker the guest checks.
        rngsrc=$work/rngsrc
        : >"$rngsrc"
        for _ in $(seq 64); do
            printf 'minivmm-rng-src:0123456789abcdef0123456789abcdef0123456789abcdef' >>"$rngsrc"
        done
        prereq "$t" "$gdir/virtio.elf" || continue
        if [ "$t" = virtio ]; then
            run_guest "$t" "$gdir/virtio.elf" --memory size=64M --rng "src=$rngsrc"
        elif [ "$t" = virtio_split ]; then
            # MSI-X irqfds with the split irqchip (KVM's LAPICs, our IOAPIC)
            run_guest "$t" "$gdir/virtio.elf" --memory size=64M --rng "src=$rngsrc" --irqchip split
        else
            run_guest "$t" "$gdir/virtio.elf" --memory size=64M --rng "src=$rngsrc" --iommu \
                --cmdline "iommu=1"
        fi
        ;;
    smp_timeout)
        prereq "$t" "$gdir/smp.elf" || continue
        run_guest "$t" "$gdir/smp.elf" --cpus boot=1 --memory size=64M --cmdline "cpus=2"
        ;;
    ioapic_*)
        prereq "$t" "$gdir/ioapic.elf" || continue
        run_guest "$t" "$gdir/ioapic.elf" --cpus boot=1 --memory size=64M --irqchip "${t#ioapic_}"
        ;;
    vfio_user | vfio_user_iommu | vfio_user_kill)
        prereq "$t" "$gdir/vfio_user.elf" || continue
        prereq "$t" "$vfu_server" || continue
        vfu_start "$t"
        case $t in
        vfio_user) run_guest "$t" "$gdir/vfio_user.elf" --cpus boot=1 --memory size=64M \
                       --user-device "socket=$vfu_sock" ;;
        vfio_user_iommu) run_guest "$t" "$gdir/vfio_user.elf" --cpus boot=1 --memory size=64M \
                       --iommu caching-mode=on --user-device "socket=$vfu_sock" --cmdline "iommu=1" ;;
        vfio_user_kill) run_vfio_user_kill "$t" ;;
        esac
        vfu_stop
        ;;
    pci)
        prereq "$t" "$gdir/pci.elf" || continue
        run_guest "$t" "$gdir/pci.elf" --cpus boot=1 --memory size=64M --edu --test-device dma
        ;;
    vtd)
        prereq "$t" "$gdir/vtd.elf" || continue
        run_guest "$t" "$gdir/vtd.elf" --cpus boot=1 --memory size=64M --iommu --edu --test-device dma
        ;;
    pcitestdev)
        prereq "$t" "$gdir/$t.elf" || continue
        run_guest "$t" "$gdir/$t.elf" --cpus boot=1 --memory size=64M --test-device pci
        ;;
    smp_*)
        smp_n=${t#smp_}
        prereq "$t" "$gdir/smp.elf" || continue
        run_guest "$t" "$gdir/smp.elf" --cpus "boot=$smp_n" --memory size=64M --cmdline "cpus=$smp_n"
        ;;
    rtc)
        prereq "$t" "$gdir/rtc.elf" || continue
        rtc_t0=$(date +%s)
        run_guest "$t" "$gdir/rtc.elf" --cpus boot=1 --memory size=64M
        rtc_t1=$(date +%s)
        ;;
    pctestdev)
        prereq "$t" "$gdir/$t.elf" || continue
        run_guest "$t" "$gdir/$t.elf" --cpus boot=1 --memory size=64M --test-device pc
        ;;
    memlow)
        prereq "$t" "$gdir/memlow_mb.elf" || continue
        run_guest "$t" "$gdir/memlow_mb.elf" --cpus boot=1 --memory size=64M --cmdline "low=1"
        ;;
    *)
        prereq "$t" "$gdir/$t.elf" || continue
        run_guest "$t" "$gdir/$t.elf" --cpus boot=1 --memory size=64M
        ;;
    esac
    finish "$t"
done

summary
