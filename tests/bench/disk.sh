#!/usr/bin/env bash
# Guest dd throughput on a virtio-blk raw image (part of `make bench`), minivmm
# beside QEMU for the same vmlinux, initramfs and image, then the same with the
# IOMMU on. usage: tests/bench/disk.sh BUILD
#
# The guest's /init (check "dd", guest-images/init) reads the image's first N
# MiB with O_DIRECT 1 MiB requests, then copies them to the next N MiB (O_DIRECT
# both ways: the guest kernel copies no data), and prints
# "MINIVMM-BENCH dd read=R MB/s write=W MB/s" (each the best of 3 runs; write =
# copy time - read time, both less a process start). Here the copy is also
# checked on the host.
# Both VMMs use the host's page cache (minivmm pread/pwrite, QEMU's default
# cache=writeback), so the image is in memory: what is measured is the request
# path, guest kernel and VMM. QEMU gets a PCI bus from `-M microvm,pcie=on`
# without the IOMMU and from q35 (booted by qboot, not SeaBIOS) with it.
set -u
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vmlinux=$build/image/vmlinux initramfs=$build/image/initramfs.cpio
base="console=ttyS0 panic=-1 $(guest-images/host-compat-cmdline)"
mib=64 iommu_mib=16 # each boot with its dd: 1-3 minutes on the emulating host

echo "== virtio-blk: guest dd throughput, minivmm beside QEMU (same kernel, initramfs and raw image;"
echo "   1 MiB O_DIRECT requests; ratio minivmm/QEMU, goal >= 1.0)"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -r "$vmlinux" ]; then
    echo "  SKIP: /dev/kvm or the guest image (make guest-images) not available"; exit 0
fi
if [ -d /sys/module/kvm_pvm ]; then
    echo "   This host's KVM emulates guest kernel code (~1.5 us/instruction, DESIGN.md §8): the"
    echo "   guest block layer dominates, so absolute numbers are this host's, not a disk's. Each is the"
    echo "   best of 3 runs in one boot; boots on this shared machine still vary by tens of percent."
fi
head -c $((2 * (mib > iommu_mib ? mib : iommu_mib)))M /dev/urandom >"$work/template.img"

# run_dd NAME MIB TIMEOUT COMMAND... (COMMAND ends with the kernel command line's
# check options appended by the caller): prints "read write" in MB/s or "? ?".
run_dd() {
    local name=$1 size=$2 limit=$3; shift 3
    head -c $((2 * size))M "$work/template.img" >"$work/$name.img"
    timeout "$limit" "$@" </dev/null >"$work/$name.serial" 2>"$work/$name.err"
    local line
    line=$(grep -a "^MINIVMM-BENCH dd " "$work/$name.serial" | tr -d '\r')
    if [ -z "$line" ]; then
        echo "? ?"
        { echo "  $name: no MINIVMM-BENCH line; the end of its output:"
          tail -n 6 "$work/$name.serial" "$work/$name.err" | sed "s/^/  $name| /"; } >>"$work/notes"
        return
    fi
    if ! cmp -s <(head -c $((size))M "$work/$name.img") \
        <(tail -c +$((size * 1048576 + 1)) "$work/$name.img" | head -c $((size))M); then
        echo "  $name: the image's second $size MiB is not a copy of the first (the write did not land)" >>"$work/notes"
    fi
    echo "$line" | sed -n 's/.* read=\([0-9.]*\) MB\/s write=\([0-9.]*\) MB\/s.*/\1 \2/p'
    echo "  $name: $line" >>"$work/details"
}

qemu_cpu=host
[ -d /sys/module/kvm_pvm ] && qemu_cpu=host,-cx16,+xsaveerptr,-arch-capabilities
qemu_common=(-enable-kvm -cpu "$qemu_cpu" -m 256M -smp 2 -nodefaults -no-user-config
    -display none -monitor none -serial stdio -no-reboot -kernel "$vmlinux" -initrd "$initramfs")
# qboot (Debian's qemu-system-data) boots q35 in far fewer emulated real-mode
# instructions than SeaBIOS; the default BIOS serves if it is missing.
q35_bios=()
[ -r /usr/share/qemu/qboot.rom ] && q35_bios=(-bios /usr/share/qemu/qboot.rom)
have_qemu=1
command -v qemu-system-x86_64 >/dev/null || have_qemu=

# minivmm and QEMU without, then with, the IOMMU
check="minivmm.check=dd minivmm.ddmb=$mib"
read -r m_r m_w < <(run_dd minivmm $mib 300 "$build/minivmm" --kernel "$vmlinux" \
    --initramfs "$initramfs" --cpus boot=2 --memory size=256M --disk "path=$work/minivmm.img" \
    --cmdline "$base $check")
q_r=- q_w=-
[ -n "$have_qemu" ] && read -r q_r q_w < <(run_dd qemu $mib 300 qemu-system-x86_64 \
    -M microvm,x-option-roms=off,rtc=off,pit=on,pic=on,isa-serial=on,pcie=on "${qemu_common[@]}" \
    -drive "file=$work/qemu.img,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0 \
    -append "$base $check")

check="intel_iommu=on minivmm.check=dd,iommu minivmm.ddmb=$iommu_mib"
read -r mi_r mi_w < <(run_dd minivmm-iommu $iommu_mib 600 "$build/minivmm" --kernel "$vmlinux" \
    --initramfs "$initramfs" --cpus boot=2 --memory size=256M --iommu \
    --disk "path=$work/minivmm-iommu.img" --cmdline "$base $check")
qi_r=- qi_w=-
[ -n "$have_qemu" ] && read -r qi_r qi_w < <(run_dd qemu-iommu $iommu_mib 600 qemu-system-x86_64 \
    -M q35,kernel-irqchip=split "${q35_bios[@]}" "${qemu_common[@]}" \
    -device intel-iommu,intremap=on \
    -drive "file=$work/qemu-iommu.img,format=raw,if=none,id=d0" \
    -device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on -append "$base $check")

ratio() {
    case "$1$2" in *[!0-9.]*|"") echo -; return ;; esac
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
printf '  %-34s %12s %12s %7s\n' "" minivmm qemu ratio
printf '  %-34s %7s MB/s %7s MB/s %7s\n' "read, $mib MiB" "$m_r" "$q_r" "$(ratio "$m_r" "$q_r")"
printf '  %-34s %7s MB/s %7s MB/s %7s\n' "write, $mib MiB" "$m_w" "$q_w" "$(ratio "$m_w" "$q_w")"
printf '  %-34s %7s MB/s %7s MB/s %7s\n' "read, $iommu_mib MiB, IOMMU on" "$mi_r" "$qi_r" "$(ratio "$mi_r" "$qi_r")"
printf '  %-34s %7s MB/s %7s MB/s %7s\n' "write, $iommu_mib MiB, IOMMU on" "$mi_w" "$qi_w" "$(ratio "$mi_w" "$qi_w")"
[ -n "$have_qemu" ] || echo "  qemu-system-x86_64 missing (scripts/install-deps.sh installs it)"
for name in qemu-iommu minivmm-iommu; do
    [ -r "$work/$name.serial" ] || continue
    grep -aq "MINIVMM-CHECK iommu PASS" "$work/$name.serial" ||
        echo "  $name: the guest did not report DMA remapping on (check iommu)" >>"$work/notes"
done
cat "$work/details" "$work/notes" 2>/dev/null
