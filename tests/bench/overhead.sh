#!/usr/bin/env bash
# Memory overhead (part of `make bench`): the VMM's own resident memory after a
# Linux boot with a virtio-blk disk and a virtio-net device on user-mode
# networking, beside QEMU microvm's (pcie=on, for virtio-pci) for the same guest
# and devices (target <= 5 MiB, as Firecracker's). usage: tests/bench/overhead.sh BUILD
#
# Method: boot the test image to its interactive shell (no minivmm.check=, so
# /init waits), give it 2 s to settle, then read /proc/PID/smaps. Every mapping
# at least as large as guest RAM is guest RAM (minivmm's memfd, QEMU's
# anonymous block); the rest is the VMM. Reported per VMM: Private_Dirty beyond
# guest RAM (memory only this VMM uses: heap, stacks, written data: the number
# held to the target), Rss beyond guest RAM (adds the shared libraries' resident
# pages), and how much guest RAM the boot touched. Kernel-side memory (KVM's
# page tables, vCPU state) is not in smaps and is left out for both.
set -u
build=$1
mem_mib=256
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
# a 64 MiB raw image per VMM (sparse: the guest only probes it)
truncate -s 64M "$work/minivmm.img" "$work/qemu.img"
vmlinux=$build/image/vmlinux initramfs=$build/image/initramfs.cpio
cmdline="console=ttyS0 panic=-1 $(guest-images/host-compat-cmdline)"

# smaps_split PID: "private_dirty_kib rss_kib guest_rss_kib"
smaps_split() {
    awk -v ram_kib=$((mem_mib * 1024)) '
        function flush() {
            if (!have) return
            if (size >= ram_kib) guest += rss; else { vrss += rss; vpd += pd }
            have = 0
        }
        /^[0-9a-f]+-[0-9a-f]+ / { flush(); have = 1; size = rss = pd = 0; next }
        /^Size:/ { size = $2 }
        /^Rss:/ { rss = $2 }
        /^Private_Dirty:/ { pd = $2 }
        END { flush(); print vpd + 0, vrss + 0, guest + 0 }' "/proc/$1/smaps"
}

# measure NAME COMMAND...: runs it (serial on stdout), waits for the shell, samples.
measure() {
    local name=$1; shift
    "$@" </dev/null >"$work/$name.serial" 2>"$work/$name.err" &
    pid=$!
    local i
    for i in $(seq 1200); do
        grep -aq "starting a shell" "$work/$name.serial" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    sleep 2
    if kill -0 "$pid" 2>/dev/null && grep -aq "starting a shell" "$work/$name.serial"; then
        read -r pd rss guest < <(smaps_split "$pid")
        printf '  %-8s %10.1f MiB %10.1f MiB %10.1f MiB\n' "$name" \
            "$(awk -v k="$pd" 'BEGIN { print k / 1024 }')" \
            "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
            "$(awk -v k="$guest" 'BEGIN { print k / 1024 }')"
        grep -aq "virtio_blk.*\[vda\]" "$work/$name.serial" ||
            echo "  $name: the guest's log shows no vda: the disk was not probed"
    else
        echo "  $name: the guest did not reach its shell"
        tail -n 5 "$work/$name.serial" "$work/$name.err" | sed "s/^/  $name| /"
    fi
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
}

echo "== memory beyond guest RAM after a Linux boot with a disk and user networking"
echo "   ($mem_mib MiB guest, 2 vCPUs, virtio-blk + virtio-net; target <= 5 MiB private)"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -r "$vmlinux" ]; then
    echo "  SKIP: /dev/kvm or the guest image (make guest-images) not available"; exit 0
fi
printf '  %-8s %14s %14s %14s\n' "" "private dirty" "rss" "guest touched"
measure minivmm "$build/minivmm" --kernel "$vmlinux" --initramfs "$initramfs" --cpus boot=2 \
    --memory size=${mem_mib}M --disk "path=$work/minivmm.img" --net user --cmdline "$cmdline"
if command -v qemu-system-x86_64 >/dev/null; then
    qemu_cpu=host
    [ -d /sys/module/kvm_pvm ] && qemu_cpu=host,-cx16,+xsaveerptr,-arch-capabilities
    measure qemu qemu-system-x86_64 \
        -M microvm,x-option-roms=off,rtc=off,pit=on,pic=on,isa-serial=on,pcie=on \
        -enable-kvm -cpu "$qemu_cpu" -m ${mem_mib}M -smp 2 -nodefaults -no-user-config \
        -display none -monitor none -serial stdio -no-reboot -kernel "$vmlinux" \
        -initrd "$initramfs" -append "$cmdline" \
        -drive "file=$work/qemu.img,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0 \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0
else
    echo "  qemu-system-x86_64 missing (scripts/install-deps.sh installs it)"
fi
