# shellcheck shell=bash
# The disk checks' host side, sourced by linux.sh (not executable, so
# tests/run-all does not run it): ext4 images made with Debian's e2fsprogs for
# guest-images/init's "ext4" check, looked at again after the guest powered off,
# and the raw image of its "rodisk" check. Uses the sourcing script's ok/not_ok
# (one argument: "NAME (detail)" / "NAME: why").
PATH=$PATH:/usr/sbin:/sbin   # mkfs.ext4, e2fsck and debugfs live there

# need_e2fsprogs: exits with one failed test when e2fsprogs is missing.
need_e2fsprogs() {
    local t
    for t in mkfs.ext4 e2fsck debugfs; do
        command -v "$t" >/dev/null && continue
        echo "not ok e2fsprogs: $t missing (scripts/install-deps.sh installs e2fsprogs)"
        echo "0 passed, 1 failed"; exit 1
    done
}

# make_ext4_image IMG DIR: a fresh 16 MiB ext4 image holding DIR's files.
make_ext4_image() {
    rm -f "$1"
    mkfs.ext4 -q -F -L minivmm-test -d "$2" "$1" 16M >"$1.mkfs.log" 2>&1 ||
        { echo "not ok ext4-image: mkfs.ext4 -d failed: $(tr '\n' ' ' <"$1.mkfs.log")"; echo "0 passed, 1 failed"; exit 1; }
}

# ext4_guest_sha TOKEN: the SHA-256 of what the guest's check_ext4 writes to
# /guestfile: the line TOKEN, 8192 times.
ext4_guest_sha() { yes "$1" | head -n 8192 | sha256sum | cut -d' ' -f1; }

# check_ext4_image NAME IMG TOKEN (after the boot): e2fsck -fn finds IMG clean
# (the guest synced and unmounted it), and debugfs reads the guest's /guestfile
# from it with the content TOKEN gives.
check_ext4_image() {
    local name=$1 img=$2 token=$3 out rc got size want
    out=$(e2fsck -fn "$img" 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then
        ok "$name-fsck-clean (e2fsck -fn: $(tail -n 1 <<<"$out"))"
    else
        not_ok "$name-fsck-clean: e2fsck -fn exit $rc: $(tail -n 4 <<<"$out" | tr '\n' '|')"
    fi
    debugfs -R 'cat /guestfile' "$img" >"$img.guestfile" 2>/dev/null
    got=$(sha256sum <"$img.guestfile" | cut -d' ' -f1)
    size=$(stat -c %s "$img.guestfile")
    want=$(ext4_guest_sha "$token")
    if [ "$got" = "$want" ]; then
        ok "$name-guest-file (debugfs: /guestfile, $size bytes, sha256 as written from the token)"
    else
        not_ok "$name-guest-file: debugfs read $size bytes of /guestfile, sha256 $got, want $want"
    fi
}

# make_raw_image IMG MAGIC: 1 MiB of random bytes after MAGIC, for the
# read-only disk; prints its SHA-256 for check_image_unchanged.
make_raw_image() {
    { printf '%s' "$2"; head -c 1048576 /dev/urandom; } >"$1"
    sha256sum "$1" | cut -d' ' -f1
}

# check_image_unchanged NAME IMG SHA: the image still has the SHA-256 it had.
check_image_unchanged() {
    local got
    got=$(sha256sum "$2" | cut -d' ' -f1)
    if [ "$got" = "$3" ]; then
        ok "$1 (sha256 of the image unchanged after the boot)"
    else
        not_ok "$1: the image changed: sha256 $got, was $3"
    fi
}
