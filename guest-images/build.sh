#!/bin/bash
# Build the minivmm test guest: an uncompressed ELF vmlinux (PVH entry note)
# and an uncompressed initramfs, from Debian's linux-source-6.1 and
# busybox-static, into a cache outside the clone:
#   ${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}/guest-<key>/
# then put symlinks to them in OUTDIR (default: build/guest).  The kernel
# alone is also cached as kernel-<kkey>/ (kkey leaves out the init script), so
# editing guest-images/init only rebuilds the initramfs (seconds).
# An interrupted kernel build resumes in kernel-<kkey>.work/.
#
# usage: guest-images/build.sh [OUTDIR]
# env:   MINIVMM_CACHE        cache root (see above)
#        MINIVMM_HOST_COMPAT  1: apply guest-images/patches/*.patch (the
#                             host-compatibility patches); 0: build the unpatched
#                             kernel; default: 1 on a kvm_pvm host, else 0
#        MINIVMM_KEEP_WORK    1: keep the kernel source/object tree afterwards
#        JOBS                 make -j value (default: nproc)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-build/guest}
# The patches are for hosts whose KVM emulates guest kernel code (DESIGN.md §8).
default_compat=0
[ -d /sys/module/kvm_pvm ] && default_compat=1
compat=${MINIVMM_HOST_COMPAT:-$default_compat}
jobs=${JOBS:-$(nproc)}
tarball=/usr/src/linux-source-6.1.tar.xz
busybox=/bin/busybox
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}

log() { echo "[guest] $*"; }
die() { echo "[guest] ERROR: $*" >&2; exit 1; }

case $compat in 0 | 1) ;; *) die "MINIVMM_HOST_COMPAT must be 0 or 1" ;; esac

pkgs=$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' linux-source-6.1 busybox-static 2>/dev/null) ||
	die "linux-source-6.1 and busybox-static must be installed (apt-get install \$(cat $here/deps.txt))"
[ "$(grep -c ' install ok installed$' <<<"$pkgs")" = 2 ] ||
	die "linux-source-6.1 and busybox-static must be installed; dpkg says: $pkgs"
pkgs=$(sed 's/ install ok installed$//' <<<"$pkgs")
[ -r "$tarball" ] || die "$tarball missing (package linux-source-6.1)"
[ -x "$busybox" ] || die "$busybox missing (package busybox-static)"

patches=()
if [ "$compat" = 1 ]; then
	for p in "$here"/patches/*.patch; do [ -e "$p" ] && patches+=("$p"); done
fi

# ---- cache keys: everything that goes into the outputs ----
# kernel-<kkey>: vmlinux (+ gen_init_cpio); depends on the kernel inputs only,
# so editing the init script does not rebuild the kernel.
# guest-<key>:   vmlinux + initramfs.cpio; key covers all inputs.
hash_inputs() {
	{
		echo "compat=$compat"
		echo "$pkgs"
		(cc --version 2>/dev/null || echo no-cc) | head -n1
		for f in "$@"; do
			echo "== ${f#"$here"/}"
			cat "$f"
		done
	} | sha256sum | cut -c1-16
}
kinputs=("$here/kernel.config" "$here/build.sh" ${patches[@]+"${patches[@]}"})
kkey=$(hash_inputs "${kinputs[@]}")
key=$(hash_inputs "${kinputs[@]}" "$here/init" "$here/bar-access.c")
final=$cache/guest-$key
kdir=$cache/kernel-$kkey

link_outputs() {
	mkdir -p "$outdir"
	ln -sfn "$final/vmlinux" "$outdir/vmlinux"
	ln -sfn "$final/initramfs.cpio" "$outdir/initramfs.cpio"
	ln -sfn "$final/bzImage" "$outdir/bzImage"
	log "$outdir/vmlinux -> $final/vmlinux"
	log "$outdir/initramfs.cpio -> $final/initramfs.cpio"
}

if [ -f "$final/vmlinux" ] && [ -f "$final/bzImage" ] && [ -f "$final/initramfs.cpio" ]; then
	log "cached: $final"
	link_outputs
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/guest.lock"
if ! flock -n 9; then
	log "another guest build is running; waiting for it"
	flock 9
fi
if [ -f "$final/vmlinux" ] && [ -f "$final/bzImage" ] && [ -f "$final/initramfs.cpio" ]; then
	log "cached (built by another process): $final"
	link_outputs
	exit 0
fi

start=$SECONDS

build_kernel() {
	local work=$kdir.work # survives interruption: make resumes there
	local src=$work/src
	mkdir -p "$work"

	# ---- 1. source: extract and patch once per key (atomically) ----
	if [ ! -d "$src" ]; then
		log "extracting $tarball"
		rm -rf "$work/src.partial"
		mkdir -p "$work/src.partial"
		tar -xJf "$tarball" -C "$work/src.partial" --strip-components=1
		for p in ${patches[@]+"${patches[@]}"}; do
			log "patch: ${p#"$here"/}"
			patch -d "$work/src.partial" -p1 --forward --batch --quiet <"$p" ||
				die "patch ${p##*/} does not apply"
		done
		mv "$work/src.partial" "$src"
	fi

	# ---- 2. config: tinyconfig + fragment, then verify nothing was dropped ----
	log "configuring (tinyconfig + kernel.config)"
	make -C "$src" -s tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$here/kernel.config" >"$work/merge.log" 2>&1 ||
		{ cat "$work/merge.log"; die "merge_config.sh failed"; }
	make -C "$src" -s olddefconfig
	local bad=0 line opt got
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			if ! grep -qxF -- "$line" "$src/.config"; then
				got=$(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo "absent")
				echo "[guest] CONFIG DROPPED: wanted '$line', got '$got'" >&2
				bad=1
			fi
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			if grep -qE "^$opt=" "$src/.config"; then
				echo "[guest] CONFIG NOT DISABLED: wanted '$line', got '$(grep -E "^$opt=" "$src/.config")'" >&2
				bad=1
			fi
			;;
		esac
	done <"$here/kernel.config"
	[ "$bad" = 0 ] || die "kernel.config options were dropped by kconfig (unmet dependencies?)"

	# ---- 3. kernel ----
	log "building vmlinux and bzImage with make -j$jobs (full log: $work/build.log; takes minutes)"
	set +e
	make -C "$src" -j"$jobs" vmlinux bzImage 2>&1 | tee "$work/build.log" | awk -v t0="$(date +%s)" '
		/^  [A-Z]/ {
			if (++n % 200 == 0) {
				"date +%s" | getline now; close("date +%s")
				printf "[guest]   ... %d build steps, %ds (last: %s)\n", n, now - t0, $2; fflush()
			}
		}
		/ error: |Error [0-9]|warning: objtool|^WARNING:/ { print "[guest]   " $0; fflush() }'
	local rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ]; then
		tail -n 40 "$work/build.log" >&2
		die "kernel build failed (exit $rc); log: $work/build.log"
	fi
	if ! readelf -n "$src/vmlinux" | grep -A1 -E '^ +Xen ' | grep -qE '0x00000012|PHYS32_ENTRY'; then
		die "vmlinux has no Xen PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY)"
	fi
	cc -O2 -o "$work/gen_init_cpio" "$src/usr/gen_init_cpio.c"

	local tmp=$kdir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	cp "$src/vmlinux" "$src/System.map" "$src/arch/x86/boot/bzImage" "$work/gen_init_cpio" "$tmp/"
	cp "$src/.config" "$tmp/config"
	{
		echo "kernel key=$kkey host_compat=$compat"
		echo "$pkgs"
		for p in ${patches[@]+"${patches[@]}"}; do echo "patch=${p##*/}"; done
		echo "built=$(date -u +%FT%TZ) in $((SECONDS - start))s with -j$jobs"
	} >"$tmp/BUILDINFO"
	rm -rf "$kdir"
	mv "$tmp" "$kdir"
	if [ "${MINIVMM_KEEP_WORK:-0}" != 1 ]; then
		rm -rf "$work"
	fi
	log "kernel built in $((SECONDS - start))s: $kdir/vmlinux"
}

if [ -f "$kdir/vmlinux" ] && [ -f "$kdir/bzImage" ]; then
	log "kernel cached: $kdir"
else
	build_kernel
fi

# ---- 4. initramfs (uncompressed newc cpio via the kernel's gen_init_cpio) ----
log "building initramfs"
tmp=$final.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
# The init script's exact-width BAR accessor (the kernel has no /dev/mem).
cc -static -O2 -Wall -Wextra -Werror -o "$tmp/bar-access" "$here/bar-access.c" ||
	die "cannot build bar-access (needs build-essential's static libc)"
{
	cat <<-EOF
		dir /dev 0755 0 0
		nod /dev/console 0600 0 0 c 5 1
		dir /proc 0555 0 0
		dir /sys 0555 0 0
		dir /tmp 1777 0 0
		dir /root 0700 0 0
		dir /bin 0755 0 0
		file /bin/busybox $busybox 0755 0 0
		file /init $here/init 0755 0 0
		file /bin/bar-access $tmp/bar-access 0755 0 0
	EOF
	"$busybox" --list | while read -r a; do
		case $a in busybox | linuxrc | "") ;; *) echo "slink /bin/$a busybox 0777 0 0" ;; esac
	done
} >"$tmp/initramfs.list"
"$kdir/gen_init_cpio" -t 0 "$tmp/initramfs.list" >"$tmp/initramfs.cpio"

# ---- 5. publish atomically ----
for f in vmlinux bzImage; do
	ln "$kdir/$f" "$tmp/$f" 2>/dev/null || cp "$kdir/$f" "$tmp/$f"
done
cp "$kdir/config" "$kdir/BUILDINFO" "$tmp/"
echo "guest key=$key" >>"$tmp/BUILDINFO"
rm -rf "$final"
mv "$tmp" "$final"
log "guest-$key ready in $((SECONDS - start))s: $(stat -c %s "$final/vmlinux") byte vmlinux, $(stat -c %s "$final/initramfs.cpio") byte initramfs"
link_outputs
