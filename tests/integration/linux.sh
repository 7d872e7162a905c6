#!/usr/bin/env bash
# Boots the test Linux image (guest-images/) with minivmm and checks, from inside the
# guest, what the init script reports. One boot does all checks (a boot costs about a
# minute on an emulating host); a second, deliberately panicking boot must be caught
# as a failure with the panic named. Usage: tests/integration/linux.sh BUILD
set -u
build=$1
minivmm=$build/minivmm
vmlinux=$build/image/vmlinux
bzimage=$build/image/bzImage
initramfs=$build/image/initramfs.cpio
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=0
vmm_args=()
ok()      { echo "ok $1"; passed=$((passed + 1)); }
not_ok()  { echo "not ok $1"; failed=$((failed + 1)); }

# The number of checks below, reported as skipped when they cannot run.
nr_checks=17
# The sanitizer pass (make test-sanitize) sets this: the boots test the guest
# side far more than minivmm's code, and `make test` has just run them.
if [ -n "${MINIVMM_SKIP_LINUX:-}" ]; then
    echo "not run: MINIVMM_SKIP_LINUX is set (the Linux boots run once, in make test)"
    echo "0 passed, 0 failed, 0 skipped"; exit 0
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm not available — Linux boot tests not run"
    echo "0 passed, 0 failed, $nr_checks skipped"; exit 0
fi
if [ ! -r "$vmlinux" ] || [ ! -r "$bzimage" ] || [ ! -r "$initramfs" ]; then
    echo "not ok guest-image: $vmlinux, $bzimage or $initramfs missing (make guest-images)"
    echo "0 passed, 1 failed"; exit 1
fi

# boot NAME KERNEL TIMEOUT CMDLINE-EXTRA...: boots once; leaves serial output in
# $work/NAME.serial, stderr in $work/NAME.err, the exit status in $status and the
# elapsed seconds in $elapsed.
boot() {
    local name=$1 kernel=$2 limit=$3; shift 3
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$minivmm" --kernel "$kernel" --initramfs "$initramfs" \
        --cpus boot=2 --memory size=256M --serial "file=$work/$name.serial" --edu --test-device dma "${vmm_args[@]}" \
        --cmdline "console=ttyS0 panic=-1 $(guest-images/host-compat-cmdline) $*" \
        </dev/null >"$work/$name.out" 2>"$work/$name.err"
    status=$?
    elapsed=$((SECONDS - start))
}

# explain_failure NAME: one line saying why a boot went wrong, from its output.
explain_failure() {
    local s=$work/$1.serial
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then echo "timed out"; return; fi
    if grep -q 'Kernel panic' "$s" 2>/dev/null; then
        echo "kernel panic: $(grep -m1 'Kernel panic' "$s" | tr -d '\r')"; return
    fi
    if grep -q 'minivmm: error' "$work/$1.err"; then
        echo "$(grep -m1 'minivmm: error' "$work/$1.err")"; return
    fi
    echo "exit status $status; last serial line: $(tail -n 1 "$s" 2>/dev/null | tr -d '\r')"
}

show_tail() {
    echo "  --- last serial lines of $1:"; tail -n 15 "$work/$1.serial" 2>/dev/null | sed 's/^/  | /'
    echo "  --- stderr:"; tail -n 15 "$work/$1.err" | sed 's/^/  | /'
}

token=tok$$x$RANDOM
# The main boot also carries a virtio-blk disk with a marker the guest reads
# from /dev/vda, a virtio-rng it reads /dev/hwrng from, QEMU's pci-testdev
# (enumerated only), the vfio-user test server's device (registers accessed
# from the guest), and the VT-d unit in caching mode with interrupt remapping
# (so the split irqchip): DMA and interrupts of every device above go through it.
blkmagic=MINIVMM-DISK-$RANDOM$RANDOM
{ printf '%s' "$blkmagic"; head -c 1048576 /dev/zero; } >"$work/disk.img"
# The vfio-user test server's device, behind the VT-d unit (which then needs
# caching mode: Linux must invalidate after creating mappings, too).
vfu_server=$build/tests/vfio-user-test-server vfu_sock=$work/vfu.sock vfu_log=$work/vfu.log
if [ ! -x "$vfu_server" ]; then
    echo "not ok vfio-user-server: $vfu_server missing (make test builds it)"
    echo "0 passed, 1 failed"; exit 1
fi
"$vfu_server" --socket "$vfu_sock" --log "$vfu_log" 2>"$work/vfu.stderr" &
vfu_pid=$!
for _ in $(seq 50); do [ -S "$vfu_sock" ] && break; sleep 0.1; done
vmm_args=(--disk "path=$work/disk.img,id=testdisk" --rng --iommu caching-mode=on --test-device pci
          --user-device "socket=$vfu_sock")
boot main "$vmlinux" 600 "intel_iommu=on minivmm.check=cpus,memory,cmdline,acpi,rtc,pci,rng,blk,iommu,vfio minivmm.cpus=2 minivmm.mem=256 minivmm.token=$token minivmm.time=$(date +%s) minivmm.blkmagic=$blkmagic"
vmm_args=()
{ kill "$vfu_pid"; wait "$vfu_pid"; } 2>/dev/null
echo "  boot took ${elapsed}s"
result() { grep -a "^MINIVMM-CHECK $1 " "$work/main.serial" | tr -d '\r' | tail -n 1; }
if grep -aq '^MINIVMM-BOOT' "$work/main.serial"; then
    ok "boot-to-init ($(grep -a -m1 '^MINIVMM-BOOT' "$work/main.serial" | tr -d '\r'))"
else
    not_ok "boot-to-init: $(explain_failure main)"; show_tail main
fi
for check in cpus memory cmdline acpi rtc pci rng blk iommu vfio; do
    line=$(result $check)
    case "$line" in
        "MINIVMM-CHECK $check PASS"*) ok "$check (${line#MINIVMM-CHECK $check PASS })" ;;
        "") not_ok "$check: no result line" ;;
        *) not_ok "$check: $line" ;;
    esac
done
# The guest's register accesses (guest-images/init, VFIO_OPS past the data
# page) must reach the server exactly so: same widths, same order, nothing else.
vfu_want='W 0x0 1 0x11
W 0x2 2 0x2233
W 0x4 4 0x44556677
W 0x0 8 0x8899aabbccddeeff
R 0x1 1 0xee
R 0x2 2 0xccdd
R 0x4 4 0x8899aabb
R 0x0 8 0x8899aabbccddeeff
R 0x8 4 0x56535255'
if [ "$(cat "$vfu_log" 2>/dev/null)" = "$vfu_want" ]; then
    ok "vfio-user-access-log (9 accesses, widths and order as the guest made them)"
else
    not_ok "vfio-user-access-log: $(tr '\n' '|' <"$vfu_log" 2>/dev/null)"
fi
if grep -aq "^MINIVMM-CHECK cmdline PASS.*$token" "$work/main.serial"; then
    ok "cmdline-token-seen"
else
    not_ok "cmdline-token-seen: the guest did not echo $token"
fi
if [ "$status" -eq 0 ] && grep -aq '^MINIVMM-DONE' "$work/main.serial"; then
    ok "poweroff-status-0"
else
    not_ok "poweroff-status-0: $(explain_failure main)"; show_tail main
fi

# The broken boot: the guest kernel panics; the check above must call that a failure
# and say why. With panic=-1 the kernel reboots at once, which minivmm reports as
# a non-zero status.
boot panic "$vmlinux" 600 "minivmm.check=panic"
why=$(explain_failure panic)
if [ "$status" -ne 0 ] && ! grep -aq '^MINIVMM-DONE' "$work/panic.serial" && [[ $why == "kernel panic"* ]]; then
    ok "panic-detected (status $status: $why)"
else
    not_ok "panic-detected: status $status, explanation '$why'"; show_tail panic
fi

# The same kernel through the bzImage boot protocol (zero page, e820, 64-bit entry)
# instead of the PVH note; its payload is uncompressed (guest-images/kernel.config).
# This boot runs KVM's in-kernel irqchip (the default without --iommu); the main
# boot ran the split one, so each gets a Linux boot.
boot bzimage "$bzimage" 900 "minivmm.check=cpus,cmdline minivmm.cpus=2 minivmm.token=bz$token"
echo "  bzImage boot took ${elapsed}s"
if grep -aq "^MINIVMM-CHECK cmdline PASS.*bz$token" "$work/bzimage.serial" &&
   grep -aq '^MINIVMM-CHECK cpus PASS' "$work/bzimage.serial"; then
    ok "bzimage-boot-checks (--irqchip kernel)"
else
    not_ok "bzimage-boot-checks: $(explain_failure bzimage)"; show_tail bzimage
fi
if [ "$status" -eq 0 ] && grep -aq '^MINIVMM-DONE' "$work/bzimage.serial"; then
    ok "bzimage-poweroff-status-0"
else
    not_ok "bzimage-poweroff-status-0: $(explain_failure bzimage)"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
