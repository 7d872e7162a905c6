#!/usr/bin/env bash
# `make bench`: prints
#  1. VMM instructions per port-I/O and MMIO exit dispatch (callgrind counts, so
#     the numbers are repeatable and exclude time inside KVM), target <= 300;
#  2. wall time from exec to the guest's first instruction (the whole run of a
#     guest whose first instructions exit through the debug port), target <= 5 ms;
#  3. Linux boot times beside QEMU's microvm: first kernel line, `Run /init`,
#     power-off, and the ratio minivmm/QEMU (goal <= 0.8 to init).
set -u
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== dispatch: VMM instructions per exit (callgrind; target <= 300)"
reps=20000
if command -v valgrind >/dev/null; then
    for loop in pio mmio pio_alternating mmio_alternating; do
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.$loop" --collect-atstart=no \
            "--toggle-collect=bench_${loop}_loop*" "$build/bench/bench_dispatch" $reps \
            >/dev/null 2>&1
        total=$(sed -n 's/^totals: //p' "$work/cg.$loop")
        case $loop in
            *alternating) what="alternating two devices (full lookup)" ;;
            *) what="one register again and again" ;;
        esac
        printf '  %-5s %-40s %5d instructions/exit\n' "${loop%%_*}" "$what" $((total / reps))
    done
else
    echo "  valgrind missing (scripts/install-deps.sh installs it)"
fi

echo "== VT-d: VMM instructions per translate() (callgrind; counts include the bench loop's"
echo "   11-13). translate() is part of ldl_le_pci_dma, whose targets are <= 60 with an"
echo "   IOTLB hit and <= 600 with a miss, so translate() aims at <= 40 / <= 450)"
if command -v valgrind >/dev/null; then
    for loop in hit miss; do
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.vtd_$loop" --collect-atstart=no \
            "--toggle-collect=bench_vtd_${loop}_loop*" "$build/bench/bench_vtd" $reps \
            >/dev/null 2>&1
        total=$(sed -n 's/^totals: //p' "$work/cg.vtd_$loop")
        case $loop in
            hit) what="IOTLB hit"; aim=40 ;;
            miss) what="IOTLB miss: 4-level walk and refill"; aim=450 ;;
        esac
        printf '  %-40s %5d instructions/translate (aim <= %d)\n' "$what" $((total / reps)) $aim
    done
else
    echo "  valgrind missing (scripts/install-deps.sh installs it)"
fi

echo "== DMA layer and config space (tests/bench/bench_dma.c)"
if command -v valgrind >/dev/null; then
    reps=10000
    for loop in dma_hit dma_iotlb dma_miss config; do
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.$loop" --collect-atstart=no \
            "--toggle-collect=bench_${loop}_loop*" "$build/bench/bench_dma" $reps >/dev/null 2>&1
        total=$(sed -n 's/^totals: //p' "$work/cg.$loop")
        # the loop's own instructions (counter, call, sum) are not the DMA layer's
        self=$(callgrind_annotate "$work/cg.$loop" 2>/dev/null |
            sed -n "s/^ *\([0-9,]*\) .*:bench_${loop}_loop .*/\1/p" | tr -d , | head -n 1)
        per=$(( (total - ${self:-0}) / reps ))
        case $loop in
            dma_hit) what="ldl_le_pci_dma via VT-d, DMA-cache hit (target <= 60)" ;;
            dma_iotlb) what="ldl_le_pci_dma via VT-d, DMA-cache miss, IOTLB hit" ;;
            dma_miss) what="ldl_le_pci_dma via VT-d, IOTLB miss: 4-level walk (target <= 600)" ;;
            config) what="config-space read exit (0xCFC)" ;;
        esac
        printf '  %-52s %5d instructions\n' "$what" "$per"
    done
else
    echo "  valgrind missing (scripts/install-deps.sh installs it)"
fi
"$build/bench/bench_dma" 1 time | awk '{ printf "  64 KiB pci_dma_read via VT-d %s ns, memcpy %s ns: %s x memcpy speed (target >= 0.8)\n", $2, $4, $6 }'

echo "== VFIO (tests/bench/bench_vfio.c; the vfio-user test server in a child process)"
if command -v valgrind >/dev/null; then
    reps=2000
    for loop in vfu_bar iommu_map; do
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.$loop" --collect-atstart=no \
            "--toggle-collect=bench_${loop}_loop*" "$build/bench/bench_vfio" $reps >/dev/null 2>&1
        total=$(sed -n 's/^totals: //p' "$work/cg.$loop")
        case $loop in
            vfu_bar) what="trapped 4-byte BAR read over the vfio-user socket" ;;
            iommu_map) what="one IOMMU MAP shadowed + its UNMAP (DMA_MAP/UNMAP messages)" ;;
        esac
        printf '  %-62s %5d VMM instructions\n' "$what" $((total / reps))
    done
else
    echo "  valgrind missing (scripts/install-deps.sh installs it)"
fi
"$build/bench/bench_vfio" 20000 time | awk '{ printf "  wall clock: BAR read round trip %s ns, map+unmap %s ns\n", $2, $4 }'

echo "== virtio: VMM instructions per request / frame in the device model (callgrind). blk:"
echo "   ring walk, header, preadv onto guest pages via the DMA layer, status, used entry, irqfd;"
echo "   target <= 3000. net: per frame, no target"
if command -v valgrind >/dev/null; then
    reps=2000
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.blk" --collect-atstart=no \
        "--toggle-collect=bench_blk_request*" "$build/bench/bench_virtio" $reps >/dev/null 2>&1
    total=$(sed -n 's/^totals: //p' "$work/cg.blk")
    printf '  %-56s %5d instructions\n' "virtio-blk 4 KiB read request" $(( ${total:-0} / reps ))
    # virtio-net on the tap backend over a socketpair (tests/bench/bench_net.c)
    for dir in tx rx; do
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.net_$dir" --collect-atstart=no \
            "--toggle-collect=bench_net_${dir}*" "$build/bench/bench_net" $reps $dir >/dev/null 2>&1
        total=$(sed -n 's/^totals: //p' "$work/cg.net_$dir")
        case $dir in
            tx) what="virtio-net 1514-byte frame sent (ring, copy, tap write)" ;;
            rx) what="virtio-net 1514-byte frame received (tap read, ring)" ;;
        esac
        printf '  %-56s %5d instructions\n' "$what" $(( ${total:-0} / reps ))
    done
else
    echo "  valgrind missing (scripts/install-deps.sh installs it)"
fi

echo "== exec to the guest's first output (bounds its first instruction; target <= 5 ms)"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    runs=50
    for i in $(seq $runs); do
        "$build/bench/linestamp" "" -- "$build/minivmm" --kernel "$build/bench/first.elf" \
            --memory size=64M 2>/dev/null | sed -n 's/^: \([0-9.]*\) ms.*/\1/p'
    done | sort -n >"$work/first"
    echo "  $runs runs: min $(head -n 1 "$work/first") ms, median $(sed -n "$((runs / 2))p" "$work/first") ms, max $(tail -n 1 "$work/first") ms"
else
    echo "  SKIP: /dev/kvm not available"
fi

echo "== Linux boot beside QEMU microvm (same vmlinux, initramfs and command line)"
vmlinux=$build/image/vmlinux initramfs=$build/image/initramfs.cpio
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "  SKIP: /dev/kvm not available"; exit 0
fi
if [ ! -r "$vmlinux" ]; then
    echo "  SKIP: no guest image (make guest-images)"; exit 0
fi
cmdline="console=ttyS0 panic=-1 $(guest-images/host-compat-cmdline) minivmm.check=cpus minivmm.cpus=2"
patterns=("Linux version" "Run /init")
"$build/bench/linestamp" -o "$work/minivmm.serial" "${patterns[@]}" -- "$build/minivmm" --kernel "$vmlinux" \
    --initramfs "$initramfs" --cpus boot=2 --memory size=256M --cmdline "$cmdline" \
    </dev/null >"$work/minivmm.times" 2>"$work/minivmm.err"
if command -v qemu-system-x86_64 >/dev/null; then
    # The CPUID changes minivmm applies by default on this kind of host (QEMU also
    # fails to set the arch-capabilities MSR here unless it is hidden).
    qemu_cpu=host
    [ -d /sys/module/kvm_pvm ] && qemu_cpu=host,-cx16,+xsaveerptr,-arch-capabilities
    "$build/bench/linestamp" -o "$work/qemu.serial" "${patterns[@]}" -- qemu-system-x86_64 \
        -M microvm,x-option-roms=off,rtc=off,pit=on,pic=on,isa-serial=on \
        -enable-kvm -cpu "$qemu_cpu" -m 256M -smp 2 -nodefaults -no-user-config -display none -monitor none \
        -serial stdio -no-reboot -kernel "$vmlinux" -initrd "$initramfs" -append "$cmdline" \
        </dev/null >"$work/qemu.times" 2>"$work/qemu.err"
else
    echo "  qemu-system-x86_64 missing (scripts/install-deps.sh installs it)" >"$work/qemu.times"
fi
ms() { sed -n "s|^$2: \([0-9.]*\) ms.*|\1|p" "$1"; }
printf '  %-14s %12s %12s %8s\n' "" minivmm qemu ratio
for label in "Linux version" "Run /init" exit; do
    a=$(ms "$work/minivmm.times" "$label") b=$(ms "$work/qemu.times" "$label")
    ratio=-
    [ -n "$a" ] && [ -n "$b" ] && ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
    name=$label; [ "$label" = exit ] && name="power-off"
    printf '  %-14s %10s ms %10s ms %8s\n' "$name" "${a:-?}" "${b:-?}" "$ratio"
done
for vmm in minivmm qemu; do
    grep -h "status" "$work/$vmm.times" 2>/dev/null | sed "s/^/  $vmm /"
    # A boot that did not power off cleanly makes its times meaningless: show why.
    if ! grep -q "status 0" "$work/$vmm.times" 2>/dev/null; then
        tail -n 12 "$work/$vmm.serial" "$work/$vmm.err" 2>/dev/null | sed "s/^/  $vmm| /"
    fi
done
