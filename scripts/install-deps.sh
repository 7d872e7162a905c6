#!/usr/bin/env bash
# Installs the Debian packages minivmm needs to build, test and build its guest images.
# Safe to run repeatedly; does nothing when everything is present.
# dpkg-dev, debhelper and lintian: tests/package.sh builds and checks the .deb.
set -eu
# clang: the libFuzzer targets (make fuzz); pci.ids: device names for --dump-pci;
# libslirp-dev: --net user (user-mode networking, as QEMU); e2fsprogs: the ext4
# images of make run and the Linux disk tests (mkfs.ext4 -d, e2fsck, debugfs);
# strace: the blkflush guest test checks a flush is an fdatasync of the image.
pkgs="gcc make pkg-config libglib2.0-dev liburcu-dev libseccomp-dev libjson-glib-dev libpci-dev
      binutils valgrind qemu-system-x86 clang pci.ids libslirp-dev e2fsprogs strace
      dpkg-dev debhelper lintian"
if [ -f guest-images/deps.txt ]; then
    pkgs="$pkgs $(grep -v '^#' guest-images/deps.txt)"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
