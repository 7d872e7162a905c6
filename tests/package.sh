#!/usr/bin/env bash
# The Debian package and the install targets, from a copy of the tree without
# .git (as from a release tarball): dpkg-buildpackage -us -uc -b builds a .deb
# holding minivmm, its man page and its docs, depending on the libraries it
# links; lintian finds no error; the build wrote nothing into the tree that is
# not git-ignored; `make install`/`uninstall` honour PREFIX and DESTDIR; and
# --version shows the version alone outside a checkout and the git revision
# inside one, following a new commit on rebuild. `make test-package` runs this;
# tests/check includes it. Needs dpkg-dev, debhelper, lintian (scripts/install-deps.sh).
set -u
# Its makes are its own: not silenced or -j1'd by a calling `make -s -j2 test-package`.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=0
ok()     { echo "ok $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok $1: $2"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" = 0 ]; exit; }

for tool in dpkg-buildpackage dh lintian; do
    if ! command -v "$tool" >/dev/null; then
        not_ok tools "$tool is missing: run scripts/install-deps.sh"
        finish
    fi
done
version=$(sed -nE 's/^#define MINIVMM_VERSION "(.*)"/\1/p' vmm/options.h)
deb_version=$(dpkg-parsechangelog -S Version)
if [ -n "$version" ] && [ "$version" = "$deb_version" ]; then
    ok changelog_version
else
    not_ok changelog_version "debian/changelog has '$deb_version', vmm/options.h '$version'"
fi

# The copy: what git tracks plus new files it does not ignore (a tarball's content).
src=$work/src
mkdir -p "$src"
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$repo" ]; then
    git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src"
else
    tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
(cd "$src" && find . ! -type d | sort) >"$work/before"

echo "building the package (log: build/package.log)"
mkdir -p build
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
    >build/package.log 2>&1
rc=$?
deb=$(ls "$work"/minivmm_*_amd64.deb 2>/dev/null | head -n 1)
if [ "$rc" != 0 ] || [ -z "$deb" ]; then
    not_ok build "dpkg-buildpackage: exit status $rc; $(tail -n 5 build/package.log | tr '\n' ' ')"
    finish
fi
ok build

# Nothing new in the tree but what .gitignore covers (debian/ work files, build/).
new=$(cd "$src" && find . ! -type d | sort | comm -13 "$work/before" - | sed 's|^\./||' |
    git -C "$repo" check-ignore --no-index -v -n --stdin | sed -nE 's/^::\t//p')
if [ -z "$new" ]; then
    ok tree_clean
else
    not_ok tree_clean "files not git-ignored left in the tree: $(echo $new | head -c 400)"
fi

dpkg-deb -I "$deb" >"$work/info"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/files"
missing=""
for f in /usr/bin/minivmm /usr/share/man/man1/minivmm.1.gz /usr/share/doc/minivmm/copyright \
    /usr/share/doc/minivmm/changelog.gz; do
    grep -qxF "$f" "$work/files" || missing="$missing $f"
done
grep -qE '^/usr/share/doc/minivmm/README\.md(\.gz)?$' "$work/files" || missing="$missing README.md"
if [ -z "$missing" ] && ! grep -q '^/usr/local' "$work/files"; then
    ok contents
else
    not_ok contents "missing:${missing:- none}; files: $(tr '\n' ' ' <"$work/files" | head -c 400)"
fi

depends=$(sed -nE 's/^ Depends: //p' "$work/info")
missing=""
for lib in libc6 libglib2.0-0 liburcu; do
    grep -qE "(^|, )$lib[0-9]* \(>=" <<<"$depends" || missing="$missing $lib"
done
if grep -qE '^ Package: minivmm$' "$work/info" && grep -qE "^ Version: $deb_version\$" "$work/info" &&
    [ -z "$missing" ]; then
    ok control
else
    not_ok control "Depends '$depends' lacks:${missing:- nothing}; $(head -c 300 "$work/info")"
fi

dpkg-deb -x "$deb" "$work/root"
out=$("$work/root/usr/bin/minivmm" --version 2>&1)
if [ "$out" = "minivmm $version" ]; then
    ok deb_version_without_git
else
    not_ok deb_version_without_git "--version printed '$out', want 'minivmm $version'"
fi
if zcat "$work/root/usr/share/man/man1/minivmm.1.gz" | cmp -s - doc/minivmm.1; then
    ok deb_man_page
else
    not_ok deb_man_page "the packaged man page differs from doc/minivmm.1"
fi

lintian --fail-on error "$work"/minivmm_*_amd64.changes >"$work/lintian" 2>&1
rc=$?
sed -n 's/^[WIPN]: /  lintian: &/p' "$work/lintian"
if [ "$rc" = 0 ] && ! grep -q '^E: ' "$work/lintian"; then
    ok lintian
else
    not_ok lintian "exit status $rc: $(grep '^E: ' "$work/lintian" | head -n 5 | tr '\n' ' ')"
fi

# make install / uninstall, staged, with the default and another PREFIX.
for prefix in /usr/local /opt/minivmm; do
    dest=$work/dest
    rm -rf "$dest"
    make -s -C "$src" install DESTDIR="$dest" PREFIX="$prefix" >"$work/install.log" 2>&1
    got=$(cd "$dest" 2>/dev/null && find . -type f | sort | tr '\n' ' ')
    want="./${prefix#/}/bin/minivmm ./${prefix#/}/bin/minivmm-ctl ./${prefix#/}/share/doc/minivmm/README.md ./${prefix#/}/share/man/man1/minivmm.1 "
    if [ "$got" = "$want" ] && [ -x "$dest$prefix/bin/minivmm" ]; then
        make -s -C "$src" uninstall DESTDIR="$dest" PREFIX="$prefix" >>"$work/install.log" 2>&1
        left=$(find "$dest" -type f | tr '\n' ' ')
        if [ -z "$left" ]; then
            ok "install_uninstall_$prefix"
        else
            not_ok "install_uninstall_$prefix" "uninstall left: $left"
        fi
    else
        not_ok "install_uninstall_$prefix" "installed [$got], want [$want]: $(head -c 300 "$work/install.log")"
    fi
done

# --version inside a checkout names the commit; a new commit rebuilds only main.o.
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@invalid GIT_COMMITTER_NAME=test \
    GIT_COMMITTER_EMAIL=test@invalid
(cd "$src" && git init -q && git add -A && git commit -qm one) >/dev/null 2>&1
rev1=$(git -C "$src" describe --always)
make -s -C "$src" -j"$(nproc)" build/minivmm >"$work/make.log" 2>&1
out1=$("$src/build/minivmm" --version 2>&1)
git -C "$src" commit -q --allow-empty -m two
rev2=$(git -C "$src" describe --always)
make -C "$src" build/minivmm >"$work/make.log" 2>&1
out2=$("$src/build/minivmm" --version 2>&1)
rebuilt=$(grep -oE ' -o build/[^ ]+' "$work/make.log" | tr '\n' ' ')
if [ "$out1" = "minivmm $version (git $rev1)" ] && [ "$out2" = "minivmm $version (git $rev2)" ] &&
    [ "$rebuilt" = " -o build/vmm/main.o  -o build/minivmm " ]; then
    ok version_follows_commits
else
    not_ok version_follows_commits "after commit 1: '$out1' (rev $rev1); after 2: '$out2' (rev $rev2); rebuilt: $rebuilt"
fi
finish
