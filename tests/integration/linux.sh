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
ns=
trap 'rm -rf "$work"; [ -z "$ns" ] || ip netns del "$ns" 2>/dev/null' EXIT
passed=0 failed=0 skipped=0
vmm_args=() nsexec=()
ok()      { echo "ok $1"; passed=$((passed + 1)); }
not_ok()  { echo "not ok $1"; failed=$((failed + 1)); }
# shellcheck source=disk-lib.sh
. "$(dirname "$0")/disk-lib.sh"

# The number of checks below (tap included), reported as skipped when they cannot run.
nr_checks=30
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
need_e2fsprogs

# boot NAME KERNEL TIMEOUT CMDLINE-EXTRA...: boots once; leaves serial output in
# $work/NAME.serial, stderr in $work/NAME.err, the exit status in $status and the
# elapsed seconds in $elapsed.
boot() {
    local name=$1 kernel=$2 limit=$3; shift 3
    local start=$SECONDS
    "${nsexec[@]}" timeout --kill-after=10 "$limit" "$minivmm" --kernel "$kernel" --initramfs "$initramfs" \
        ${irqchip:+--irqchip "$irqchip"} --cpus boot=2 --memory size=256M --serial "file=$work/$name.serial" --edu --test-device dma "${vmm_args[@]}" \
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

# uptimes NAME: the guest's uptime when /init started and when its checks were done.
uptimes() {
    local s=$work/$1.serial
    echo "init at $(grep -a -m1 '^MINIVMM-BOOT' "$s" | tr -d '\r' | sed 's/.*uptime=//')s," \
        "checks done at $(grep -a -m1 '^MINIVMM-DONE' "$s" | tr -d '\r' | sed 's/.*uptime=//')s of uptime"
}

show_tail() {
    echo "  --- last serial lines of $1:"; tail -n 15 "$work/$1.serial" 2>/dev/null | sed 's/^/  | /'
    echo "  --- stderr:"; tail -n 15 "$work/$1.err" | sed 's/^/  | /'
}

token=tok$$x$RANDOM
# The main boot also carries two virtio-blk disks: an ext4 image holding a
# file of the host's, which the guest checks, adding one of its own that the
# host checks after the boot (the bzImage boot does the same on a fresh image,
# without the IOMMU), and a read-only raw image that starts with a marker and
# must stay unchanged; a virtio-rng it reads /dev/hwrng from, a
# virtio-console whose hvc0 line must land in the --console file, QEMU's
# pci-testdev (enumerated only), the vfio-user test server's device
# (registers accessed from the guest), and the VT-d unit in caching mode with
# interrupt remapping (so the split irqchip): DMA and interrupts of every
# device go through it.
mkdir -p "$work/ext4"
head -c 307200 /dev/urandom >"$work/ext4/hostfile"
ext4hash=$(sha256sum "$work/ext4/hostfile" | cut -d' ' -f1)
make_ext4_image "$work/main.ext4" "$work/ext4"
make_ext4_image "$work/bzimage.ext4" "$work/ext4"
blkmagic=MINIVMM-DISK-$RANDOM$RANDOM
ro_sha=$(make_raw_image "$work/ro.img" "$blkmagic")
# --net user: the guest fetches netfile from an HTTP server on the host's
# 127.0.0.1 (as 10.0.2.2) and checks its hash; hostfwd: a poller here fetches
# the guest's token through the forwarded port and then offers hostfwd-ok,
# which the guest waits for.
# --net tap: the main boot runs in a network namespace made here, with a tap at
# 192.168.77.1 that the guest's eth1 fetches the same file through; where
# namespaces or taps are not permitted, that part is skipped, loudly.
ns=minivmm-$$-$RANDOM bind=127.0.0.1 tap_args=() tap_check=
if ip netns add "$ns" 2>/dev/null &&
   ip netns exec "$ns" ip tuntap add dev mvtap0 mode tap 2>/dev/null &&
   ip -n "$ns" addr add 192.168.77.1/24 dev mvtap0 && ip -n "$ns" link set mvtap0 up &&
   ip -n "$ns" link set lo up; then
    nsexec=(ip netns exec "$ns")
    bind=0.0.0.0   # inside the namespace: its loopback (slirp) and the tap
    tap_args=(--net tap=mvtap0,mac=52:54:00:00:77:02)
    tap_check=,tap
else
    ip netns del "$ns" 2>/dev/null
    ns=
    echo "SKIP: --net tap: cannot create a network namespace with a tap here (needs CAP_NET_ADMIN)"
    skipped=$((skipped + 1))
fi
mkdir -p "$work/www"
head -c 200000 /dev/urandom >"$work/www/netfile"
nethash=$(sha256sum "$work/www/netfile" | cut -d' ' -f1)
"${nsexec[@]}" python3 -u -m http.server 0 --bind "$bind" --directory "$work/www" >"$work/http.log" 2>&1 &
http_pid=$!
netport=
for _ in $(seq 50); do
    netport=$(sed -nE 's/^Serving HTTP on [0-9.]+ port ([0-9]+).*/\1/p' "$work/http.log")
    [ -n "$netport" ] && break
    sleep 0.1
done
fwdport=$("${nsexec[@]}" python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${nsexec[@]}" python3 - "$fwdport" "$token" "$work/www/hostfwd-ok" <<'PY' &
import sys, time, urllib.request
port, token, mark = sys.argv[1], sys.argv[2], sys.argv[3]
for _ in range(600):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/token", timeout=2).read().decode().strip()
        if body == token:
            open(mark, "w").write("ok\n")
            break
    except Exception:
        pass
    time.sleep(1)
PY
poller_pid=$!
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
vmm_args=(--disk "path=$work/main.ext4,id=ext4" --disk "path=$work/ro.img,readonly=on,id=ro" --rng --iommu caching-mode=on --test-device pci
          --user-device "socket=$vfu_sock" --console "file=$work/hvc0.out"
          --net "user,hostfwd=tcp:$fwdport-:8080" "${tap_args[@]}")
boot main "$vmlinux" 600 "intel_iommu=on minivmm.check=cpus,memory,cmdline,acpi,rtc,pci,rng,ext4,rodisk,iommu,vfio,console,net$tap_check minivmm.netport=$netport minivmm.nethash=$nethash minivmm.hostfwd=1 minivmm.cpus=2 minivmm.mem=256 minivmm.token=$token minivmm.time=$(date +%s) minivmm.blkmagic=$blkmagic minivmm.ext4hash=$ext4hash"
# The HTTP server stays up, in the namespace if any, for the bzImage boot.
main_nsexec=("${nsexec[@]}")
vmm_args=() nsexec=()
kill "$poller_pid" 2>/dev/null
wait "$poller_pid" 2>/dev/null
{ kill "$vfu_pid"; wait "$vfu_pid"; } 2>/dev/null
echo "  boot took ${elapsed}s ($(uptimes main))"
result() { grep -a "^MINIVMM-CHECK $1 " "$work/${2:-main}.serial" | tr -d '\r' | tail -n 1; }
# report_checks BOOT PREFIX CHECK...: one test per guest check, from its result line.
report_checks() {
    local boot=$1 prefix=$2 check line; shift 2
    for check; do
        line=$(result "$check" "$boot")
        case "$line" in
            "MINIVMM-CHECK $check PASS"*) ok "$prefix$check (${line#"MINIVMM-CHECK $check PASS "})" ;;
            "") not_ok "$prefix$check: no result line" ;;
            *) not_ok "$prefix$check: $line" ;;
        esac
    done
}
if grep -aq '^MINIVMM-BOOT' "$work/main.serial"; then
    ok "boot-to-init ($(grep -a -m1 '^MINIVMM-BOOT' "$work/main.serial" | tr -d '\r'))"
else
    not_ok "boot-to-init: $(explain_failure main)"; show_tail main
fi
report_checks main "" cpus memory cmdline acpi rtc pci rng ext4 rodisk iommu vfio console net ${tap_check:+tap}
check_ext4_image ext4 "$work/main.ext4" "$token"
check_image_unchanged rodisk-unchanged "$work/ro.img" "$ro_sha"
# The guest's register accesses (guest-images/init, VFIO_OPS past the data
# page) must reach the server exactly so: same widths, same order, nothing else.
vfu_want=$(cat tests/vfio_user_server/widths.log)
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
if [ -f "$work/www/hostfwd-ok" ] && grep -aq "^MINIVMM-CHECK net PASS.*hostfwd=ok" "$work/main.serial"; then
    ok "net-hostfwd (the host fetched the guest's token through hostfwd)"
else
    not_ok "net-hostfwd: host fetch $( [ -f "$work/www/hostfwd-ok" ] && echo ok || echo failed), guest: $(result net)"
fi
if grep -aq "^MINIVMM-HVC0 token=$token" "$work/hvc0.out" 2>/dev/null; then
    ok "console-file (the guest's hvc0 line reached --console file=)"
else
    not_ok "console-file: no 'MINIVMM-HVC0 token=$token' in the --console file"
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
# boot ran the split one, so each gets a Linux boot. Without the IOMMU, the
# same disk and network traffic as in the main boot: a fresh ext4 image and
# the HTTP fetch over --net user.
nsexec=("${main_nsexec[@]}")
vmm_args=(--disk "path=$work/bzimage.ext4,id=ext4" --net user)
boot bzimage "$bzimage" 900 "minivmm.check=cpus,cmdline,ext4,net minivmm.cpus=2 minivmm.token=bz$token minivmm.ext4hash=$ext4hash minivmm.netport=$netport minivmm.nethash=$nethash"
vmm_args=() nsexec=()
kill "$http_pid" 2>/dev/null
wait "$http_pid" 2>/dev/null
echo "  bzImage boot took ${elapsed}s ($(uptimes bzimage))"
if grep -aq "^MINIVMM-CHECK cmdline PASS.*bz$token" "$work/bzimage.serial" &&
   grep -aq '^MINIVMM-CHECK cpus PASS' "$work/bzimage.serial"; then
    ok "bzimage-boot-checks (--irqchip kernel)"
else
    not_ok "bzimage-boot-checks: $(explain_failure bzimage)"; show_tail bzimage
fi
report_checks bzimage bzimage- ext4 net
check_ext4_image bzimage-ext4 "$work/bzimage.ext4" "bz$token"
if [ "$status" -eq 0 ] && grep -aq '^MINIVMM-DONE' "$work/bzimage.serial"; then
    ok "bzimage-poweroff-status-0"
else
    not_ok "bzimage-poweroff-status-0: $(explain_failure bzimage)"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
