#!/bin/sh
# The disk `make run` gives its guest: a 64 MiB ext4 image with a README.txt,
# made once with Debian's e2fsprogs next to the cached guest images
# (guest-images/build.sh's cache) and reused after, so what the guest writes to
# it stays. Prints the image's path.
# usage: guest-images/run-disk.sh     env: MINIVMM_CACHE (as build.sh)
set -eu
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}
img=$cache/run-disk.ext4
if [ ! -f "$img" ]; then
	PATH=$PATH:/usr/sbin:/sbin
	command -v mkfs.ext4 >/dev/null ||
		{ echo "guest-images/run-disk.sh: mkfs.ext4 missing (scripts/install-deps.sh installs e2fsprogs)" >&2; exit 1; }
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/run-disk.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/root"
	cat >"$tmp/root/README.txt" <<-EOF
		This is the disk of \`make run\` (minivmm): a 64 MiB ext4 image kept at
		$img
		and reused by every \`make run\`, so what you write here stays. In the guest it is
		/dev/vda (virtio-blk), mounted on /mnt at start. Delete the file to start afresh.
	EOF
	: >"$tmp/disk.ext4"   # (mkfs.ext4 says "Creating regular file" otherwise)
	mkfs.ext4 -q -F -L minivmm-run -d "$tmp/root" "$tmp/disk.ext4" 64M >&2
	mv "$tmp/disk.ext4" "$img"   # atomic: a second make run sees all or nothing
fi
echo "$img"
