#!/usr/bin/env bash
# The command line: --version, --help, each kind of bad input (exit status 2 with
# exactly one "minivmm: error:" line naming the problem, nothing on stdout),
# --dump-mtree, and a host without /dev/kvm (simulated in a private mount
# namespace when we may create one). Usage: tests/integration/cli.sh BUILD
set -u
build=$1
minivmm=$build/minivmm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# run ARGS...: leaves the status in $status, stdout/stderr in $work/out, $work/err.
run() {
    timeout 20 "$minivmm" "$@" </dev/null >"$work/out" 2>"$work/err"
    status=$?
}

# "minivmm VERSION", plus " (git REV)" naming this checkout's revision when
# the binary was built from one (the Makefile passes git describe).
check_version() {
    run --version
    local want="minivmm 0.1.0" rev repo
    repo=$(cd "$(dirname "$0")/../.." && pwd)
    if [ "$(git -C "$repo" rev-parse --show-toplevel 2>/dev/null)" = "$repo" ] &&
        rev=$(git -C "$repo" describe --always 2>/dev/null); then
        want="$want (git $rev"
    fi
    [ "$status" = 0 ] && case $(cat "$work/out") in "$want" | "$want)" | "$want-dirty)") true ;; *) false ;; esac ||
        { not_ok version "status $status, stdout '$(head -c 200 "$work/out")', want '$want...'"; return; }
    ok version
}

check_help() {
    run --help
    [ "$status" = 0 ] || { not_ok help "status $status"; return; }
    local want
    for want in --kernel --initramfs --cmdline "--cpus boot=N" "--memory size=SIZE" --serial \
        "--serial-port N,MODE" \
        --cpu-features --disk --rng --console --net --dump-mtree --test-device --debug-exit-port --version "Exit statuses" \
        "0  the guest powered off" "2  bad option" "4  the guest asked for a reset" \
        "6  the guest crashed" "8  host failure" "(V << 1) | 1"; do
        grep -qF -- "$want" "$work/out" || { not_ok help "no '$want' in --help"; return; }
    done
    ok help
}

# bad NAME NEEDLE ARGS...: status 2, one error line containing NEEDLE, no other
# error line and nothing on stdout.
bad() {
    local name=$1 needle=$2; shift 2
    run "$@"
    local errors
    errors=$(grep -c '^minivmm: error: ' "$work/err")
    if [ "$status" != 2 ]; then
        not_ok "$name" "status $status, want 2 (stderr: $(head -c 300 "$work/err"))"
    elif [ "$errors" != 1 ]; then
        not_ok "$name" "$errors error lines, want 1: $(head -c 300 "$work/err")"
    elif ! grep '^minivmm: error: ' "$work/err" | grep -qF -- "$needle"; then
        not_ok "$name" "the error does not name '$needle': $(cat "$work/err")"
    elif [ -s "$work/out" ]; then
        not_ok "$name" "stdout not empty: $(head -c 200 "$work/out")"
    else
        ok "$name"
    fi
}

kernel=$work/kernel.bin
printf 'not a kernel, just bytes\n' >"$kernel"

check_bad_options() {
    bad unknown_option "--bogus" --kernel "$kernel" --bogus
    bad unknown_option_eq "--frob" --kernel "$kernel" --frob=1
    bad missing_value "--cmdline" --kernel "$kernel" --cmdline
    bad missing_value_before_option "--kernel" --kernel --cpus boot=1
    bad flag_with_value "--dump-mtree" --dump-mtree=yes
    bad positional_argument "vmlinux" --kernel "$kernel" vmlinux
    bad bad_cpu_count "'x'" --kernel "$kernel" --cpus boot=x
    bad cpu_count_range "'65'" --kernel "$kernel" --cpus boot=65
    bad bad_sub_key "'foo'" --kernel "$kernel" --cpus foo=2
    bad bad_memory_key "'sz'" --kernel "$kernel" --memory sz=1G
    bad bad_size "'3Q'" --kernel "$kernel" --memory size=3Q
    bad size_too_small "'1M'" --kernel "$kernel" --memory size=1M
    bad size_unaligned "'5000'" --kernel "$kernel" --memory size=5000
    bad bad_serial "'com1'" --kernel "$kernel" --serial com1
    bad bad_port "'70000'" --kernel "$kernel" --debug-exit-port 70000
    bad bad_cpu_feature "'avx9'" --kernel "$kernel" --cpu-features=-cx16,+avx9
    bad bad_test_device "'file'" --kernel "$kernel" --test-device file=/tmp/x
    bad test_device_twice "--test-device pci given twice" --kernel "$kernel" --test-device pci \
        --test-device dma --test-device pci
    bad missing_kernel "--kernel" --cpus boot=1
    bad unreadable_kernel "$work/nonexistent" --kernel "$work/nonexistent"
    bad unreadable_initramfs "$work/no-initrd" --kernel "$kernel" --initramfs "$work/no-initrd"
    # A FIFO nobody writes to: refused at once, not waited on.
    mkfifo "$work/fifo"
    bad fifo_kernel "$work/fifo" --kernel "$work/fifo"
    bad fifo_initramfs "$work/fifo" --kernel "$kernel" --initramfs "$work/fifo"
    bad option_given_twice "--serial given twice" --kernel "$kernel" --serial off --serial tty
    bad serial_port_twice "COM3 given twice" --kernel "$kernel" --serial-port 3,off \
        --serial-port 3,off
    # Devices on one port: debug-exit inside COM1's, or on a COM2 asked for.
    bad port_clash_com1 "0x3f8" --dump-mtree --debug-exit-port 0x3f8
    bad port_clash_com2 "serial-com2" --dump-mtree --serial-port 2,off --debug-exit-port 0x2fc
    bad serial_file_unwritable "$work/no-dir/serial.log" --dump-mtree \
        --serial "file=$work/no-dir/serial.log"
}

check_bad_kernel() {
    if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        skip bad_kernel_format "/dev/kvm not available"
        return
    fi
    bad bad_kernel_format "$kernel" --kernel "$kernel" --serial off
}

check_dump_mtree() {
    run --dump-mtree --memory size=5G --serial-port 2,off --serial-port 4,off
    if [ "$status" != 0 ]; then
        not_ok dump_mtree "status $status: $(head -c 300 "$work/err")"
        return
    fi
    local want
    for want in "address-space: memory" "address-space: io" ram-below-4g ram-above-4g serial-com1 \
        serial-com2 serial-com4 "FlatView"; do
        grep -qF -- "$want" "$work/out" || { not_ok dump_mtree "no '$want' in the dump"; return; }
    done
    ok dump_mtree
}

# --dump-pci: the host bridge, two edu devices, the DMA test device and QEMU's
# pci-testdev, with names from pci.ids, BARs and capabilities, like lspci -v.
check_dump_pci() {
    run --dump-pci --edu --edu --test-device dma --test-device pci
    if [ "$status" != 0 ]; then
        not_ok dump_pci "status $status: $(head -c 300 "$work/err")"
        return
    fi
    local want
    for want in "00:00.0 Host bridge [0600]: Red Hat, Inc. QEMU PCIe Host bridge [1b36:0008]" \
        "00:01.0 Unclassified device [00ff]: " "[1234:11e8] (rev 10) (edu0)" "(edu1)" \
        "Region 0: Memory at c0000000 (32-bit, non-prefetchable) [size=1M] [disabled]" \
        "Capabilities: [40] MSI: Enable- Count=1/1 Maskable- 64bit+" \
        "Device [1234:7e5d] (rev 00) (dma-testdev0)" "INTA -> GSI 19" "Capabilities: [100 v1] Device Serial Number" \
        "MSI-X: Enable- Count=4 Masked- Vector table: BAR=0 offset=00000800" \
        "Red Hat, Inc. QEMU PCI Test Device [1b36:0005] (rev 00) (pci-testdev0)" \
        "Region 1: I/O ports at 1100 [size=256] [disabled]"; do
        grep -qF -- "$want" "$work/out" || { not_ok dump_pci "no '$want' in the listing"; return; }
    done
    [ "$(grep -c '^00:' "$work/out")" = 5 ] || { not_ok dump_pci "not 5 functions"; return; }
    ok dump_pci
}

# In a private mount namespace with an empty /dev: --dump-mtree still works,
# anything else fails with one error line naming /dev/kvm and status 8.
check_without_kvm() {
    if ! unshare -m true 2>/dev/null; then
        skip dump_mtree_without_kvm "cannot create a mount namespace to hide /dev/kvm"
        skip no_kvm_error "cannot create a mount namespace to hide /dev/kvm"
        return
    fi
    local hide='mount -t tmpfs none /dev && ln -s /proc/self/fd /dev/fd && exec "$@"'
    unshare -m sh -c "$hide" sh "$minivmm" --dump-mtree </dev/null >"$work/out" 2>"$work/err"
    status=$?
    if [ "$status" = 0 ] && grep -qF ram-below-4g "$work/out"; then
        ok dump_mtree_without_kvm
    else
        not_ok dump_mtree_without_kvm "status $status: $(head -c 300 "$work/err")"
    fi
    unshare -m sh -c "$hide" sh "$minivmm" --kernel "$kernel" </dev/null >"$work/out" 2>"$work/err"
    status=$?
    if [ "$status" = 8 ] && [ "$(grep -c '^minivmm: error: ' "$work/err")" = 1 ] &&
        grep -q '^minivmm: error: .*/dev/kvm' "$work/err"; then
        ok no_kvm_error
    else
        not_ok no_kvm_error "status $status (want 8): $(head -c 300 "$work/err")"
    fi
}

# --disk / --rng: bad input is found before the guest starts (--dump-pci creates
# the devices without needing /dev/kvm).
check_bad_virtio() {
    local img=$work/disk.img
    head -c 65536 /dev/zero >"$img"
    bad disk_missing "path=$work/nonexistent" --dump-pci --disk "path=$work/nonexistent"
    bad disk_directory "path=$work" --dump-pci --disk "path=$work"
    bad disk_unknown_key "'size'" --dump-pci --disk "path=$img,size=1G"
    bad disk_no_path "path=FILE is required" --dump-pci --disk readonly=on
    bad disk_bad_bool "'yes'" --dump-pci --disk "path=$img,readonly=yes"
    bad disk_iommu_off_with_iommu "iommu=off" --dump-pci --iommu --disk "path=$img,iommu=off"
    bad rng_missing "src=$work/nonexistent" --dump-pci --rng "src=$work/nonexistent"
    bad rng_unknown_key "'file'" --dump-pci --rng "file=/dev/urandom"
    bad console_bad_mode "'pty'" --dump-pci --console pty
    bad net_unknown_key "'vlan'" --dump-pci --net user,vlan=2
    bad net_bad_mac "'52:54:00:zz:00:01'" --dump-pci --net user,mac=52:54:00:zz:00:01
    bad net_multicast_mac "multicast" --dump-pci --net user,mac=01:00:5e:00:00:01
    bad net_bad_hostfwd "'tcp:22'" --dump-pci --net user,hostfwd=tcp:22
    bad net_no_such_tap "tap=minivmmnotap0" --dump-pci --net tap=minivmmnotap0
    bad net_bad_kind "'bridge'" --dump-pci --net bridge
    bad console_tty_taken "--console tty" --dump-pci --console tty
    bad console_file_dir "file=$work" --dump-pci --serial off --console "file=$work"
    # A second VMM on an image another one holds (the smp guest waits ~2 s for a
    # CPU that never comes, holding the lock meanwhile).
    local holder=$build/guest/smp.elf
    if [ ! -r /dev/kvm ] || [ ! -f "$holder" ]; then
        skip disk_locked "needs /dev/kvm and $holder"
        return
    fi
    "$minivmm" --kernel "$holder" --cpus boot=1 --cmdline cpus=2 --serial off \
        --disk "path=$img" </dev/null >/dev/null 2>&1 &
    local pid=$!
    sleep 0.5
    bad disk_locked "is locked by another process" --dump-pci --disk "path=$img,readonly=on"
    wait "$pid"
}

# --device / --user-device: every bad input ends with status 2 before the guest
# starts (--dump-pci creates the devices); with the test server, --dump-mtree
# shows the BAR layers.
check_vfio() {
    local server
    server=$(dirname "$minivmm")/tests/vfio-user-test-server
    bad device_not_pci "is not a PCI device" --dump-pci --device "path=$work"
    bad device_key "unknown key 'file'" --dump-pci --device "file=/sys/bus/pci/devices/x"
    bad user_device_no_server "cannot connect" --dump-pci --user-device "socket=$work/none.sock"
    bad user_device_missing "socket= is required" --dump-pci --user-device "id=x"
    if [ ! -x "$server" ]; then
        skip vfio_user_server "$server not built"
        return
    fi
    "$server" --socket "$work/v1.sock" --major 2 & local pid=$!
    for _ in $(seq 50); do [ -S "$work/v1.sock" ] && break; sleep 0.1; done
    bad user_device_version "protocol version 2.1" --dump-pci --user-device "socket=$work/v1.sock"
    wait "$pid"
    "$server" --socket "$work/v2.sock" & pid=$!
    for _ in $(seq 50); do [ -S "$work/v2.sock" ] && break; sleep 0.1; done
    bad user_device_no_caching_mode "caching-mode=on" --dump-pci --iommu \
        --user-device "socket=$work/v2.sock"
    wait "$pid"
    "$server" --socket "$work/v3.sock" & pid=$!
    for _ in $(seq 50); do [ -S "$work/v3.sock" ] && break; sleep 0.1; done
    run --dump-mtree --user-device "socket=$work/v3.sock,id=vfu"
    wait "$pid"
    if [ "$status" = 0 ] && grep -q "prio  1, i/o): vfu msix-table" "$work/out" &&
        grep -q "prio  0, ram_device): vfu bar0 mmap@0x4000" "$work/out" &&
        grep -q "prio -1, i/o): vfu bar0 io" "$work/out" && grep -q "1234:5678" "$work/out"; then
        ok dump_mtree_vfio_layers
    else
        not_ok dump_mtree_vfio_layers "status $status: $(grep -A8 '^VFIO' "$work/out" | head -c 400)"
    fi
}

# make run's disk (guest-images/run-disk.sh) in a private cache: a 64 MiB ext4
# image, e2fsck-clean, with its README.txt; made once and then reused; and
# minivmm takes it as a --disk.
check_run_disk() {
    local script img id fsck
    script=$(dirname "$0")/../../guest-images/run-disk.sh
    img=$(MINIVMM_CACHE=$work/cache "$script" 2>"$work/err")
    [ "$img" = "$work/cache/run-disk.ext4" ] && [ "$(stat -c %s "$img" 2>/dev/null)" = 67108864 ] ||
        { not_ok run_disk_image "printed '$img', want a 64 MiB $work/cache/run-disk.ext4 ($(head -c 300 "$work/err"))"; return; }
    fsck=$(PATH=$PATH:/usr/sbin:/sbin e2fsck -fn "$img" 2>&1) ||
        { not_ok run_disk_image "e2fsck -fn: $(tail -n 3 <<<"$fsck" | tr '\n' '|')"; return; }
    PATH=$PATH:/usr/sbin:/sbin debugfs -R 'cat /README.txt' "$img" 2>/dev/null | grep -q 'the disk of `make run`' ||
        { not_ok run_disk_image "no README.txt about make run in the image"; return; }
    ok run_disk_image
    id=$(stat -c %i.%Y "$img")
    [ "$(MINIVMM_CACHE=$work/cache "$script")" = "$img" ] && [ "$(stat -c %i.%Y "$img")" = "$id" ] &&
        ok run_disk_reused || not_ok run_disk_reused "a second run made the image again"
    run --dump-pci --disk "path=$img"
    [ "$status" = 0 ] && grep -q 'block device \[1af4:1042\]' "$work/out" &&
        ok run_disk_accepted || not_ok run_disk_accepted "status $status: $(head -c 300 "$work/err")"
}

if [ ! -x "$minivmm" ]; then
    echo "not ok build: $minivmm missing"
    echo "0 passed, 1 failed"
    exit 1
fi
check_version
check_help
check_bad_options
check_bad_virtio
check_bad_kernel
check_dump_mtree
check_dump_pci
check_without_kvm
check_vfio
check_run_disk
summary
