#!/usr/bin/env bash
# guest-images/progress.sh around a stand-in build.sh that logs kernel build
# steps the way kbuild does (a real kernel build takes minutes): progress lines
# with steps done of the expected total, percentage, elapsed and time left;
# build.sh's coarse step lines replaced; the calling make's MAKEFLAGS cleared;
# the step count of a full build remembered as the next total; build.sh's exit
# status passed on. Usage: tests/integration/build-progress.sh BUILD
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
. "$repo/tests/integration/lib.sh"

mkdir -p "$work/gi" "$work/cache"
cp "$repo/guest-images/progress.sh" "$work/gi/"
# The stand-in: build.sh's log lines around a "make" that writes 40 steps to
# its build.log (FAKE_STEPS, default 40), a few at a time; exits with FAKE_STATUS.
cat >"$work/gi/build.sh" <<'EOF'
#!/bin/bash
echo "[guest] extracting /usr/src/linux-source-6.1.tar.xz"
echo "[guest] MAKEFLAGS='${MAKEFLAGS-unset}' MAKELEVEL='${MAKELEVEL-unset}'"
log=$MINIVMM_CACHE/kernel-x.work/build.log
mkdir -p "${log%/*}"
echo "[guest] building vmlinux and bzImage with make -j2 (full log: $log; takes minutes)"
sleep 0.5
for i in $(seq 1 "${FAKE_STEPS:-40}"); do
    printf '  CC      dir/file%d.o\n' "$i" >>"$log"
    [ $((i % 10)) = 0 ] && sleep 1.1
done
echo "[guest]   ... 200 build steps, 9s (last: dir/file40.o)"
echo "[guest] kernel built in 5s"
exit "${FAKE_STATUS:-0}"
EOF
chmod +x "$work/gi/build.sh"

run() {  # STATUS STEPS: runs progress.sh as `make -s -j2` would, output in $work/out
    MAKEFLAGS="s -j2 --jobserver-auth=3,4" MAKELEVEL=1 FAKE_STATUS=$1 FAKE_STEPS=$2 MINIVMM_CACHE="$work/cache" \
        MINIVMM_PROGRESS_INTERVAL=1 "$work/gi/progress.sh" >"$work/out" 2>&1
    status=$?
}

run 0 40
if [ "$status" != 0 ]; then
    not_ok success "status $status: $(head -c 300 "$work/out")"
else
    ok success
fi
if grep -qF "MAKEFLAGS='unset' MAKELEVEL='unset'" "$work/out"; then
    ok makeflags_cleared
else
    not_ok makeflags_cleared "$(grep MAKEFLAGS "$work/out")"
fi
line=$(grep -E '^\[guest\]   kernel: [0-9]+/1850 steps \([0-9]+%\), [0-9]+s elapsed, time left not known yet \(CC dir/file[0-9]+\.o\)$' "$work/out" | head -n 1)
if [ -n "$line" ]; then
    ok progress_line
else
    not_ok progress_line "no progress line of the expected form in: $(tr '\n' '|' <"$work/out" | head -c 600)"
fi
if grep -qF '... 200 build steps' "$work/out"; then
    not_ok coarse_lines_replaced "build.sh's own step line was passed through"
else
    ok coarse_lines_replaced
fi
if [ "$(cat "$work/cache/kernel-build-steps" 2>/dev/null)" = 40 ]; then
    ok total_remembered
else
    not_ok total_remembered "kernel-build-steps: '$(cat "$work/cache/kernel-build-steps" 2>&1)', want 40"
fi
# The next run counts against the remembered total (now with a time left);
# a failed build keeps it.
rm -f "$work/cache/kernel-x.work/build.log"
run 3 30
if [ "$status" = 3 ] && [ "$(cat "$work/cache/kernel-build-steps")" = 40 ] &&
    grep -qE '^\[guest\]   kernel: [0-9]+/40 steps \([0-9]+%\), [0-9]+s elapsed, about [0-9]+s left \(CC dir/file[0-9]+\.o\)$' "$work/out" &&
    true; then
    ok failure_status_and_total
else
    not_ok failure_status_and_total "status $status (want 3): $(tr '\n' '|' <"$work/out" | head -c 400)"
fi
summary
