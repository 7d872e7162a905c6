#!/bin/bash
# Runs guest-images/build.sh (same arguments and environment) and shows the
# kernel build's progress every MINIVMM_PROGRESS_INTERVAL seconds (default 15):
#   [guest]   kernel: 812/1850 steps (43%), 3m12s elapsed, about 6m10s left (CC fs/ext4/inode.o)
# `make guest-images` (and so `make run`, `make test`, tests/check, CI) goes
# through here.
#
# Why a separate script: build.sh hashes itself into the image cache key, so
# any edit there rebuilds every cached kernel. This script only watches, changes
# no output, and is deliberately not part of the key; keep display changes here.
#
# Why it clears the make variables: when make starts this (`make -s ...`), the
# outer make's MAKEFLAGS reach the kernel's make. "-s" turns kbuild silent
# (no step lines to count) and a jobserver whose descriptors the recipe does not
# get makes it fall back to -j1. build.sh then uses JOBS, or every core.
#
# The expected total is the step count of the last full build (kept in the
# cache as kernel-build-steps), else DEFAULT_STEPS: measured for Linux 6.1
# tinyconfig + kernel.config (about 1840 steps on 2026-11-23); steps are uneven,
# so the time left is an estimate.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}
history=$cache/kernel-build-steps
interval=${MINIVMM_PROGRESS_INTERVAL:-15}
DEFAULT_STEPS=1850

unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS

total=$DEFAULT_STEPS
if [ -r "$history" ] && read -r n <"$history" && [ "$n" -gt 0 ] 2>/dev/null; then
	total=$n
fi

# follow LOG PID COUNTFILE: prints progress from the kernel's build log until
# PID (build.sh) ends, then leaves the number of steps seen in COUNTFILE.
# Starts at the log's end: an interrupted build's old log is truncated by
# build.sh's tee, and tail then reads the new one from its start.
follow() {
	tail -n 0 -F --pid="$2" -s 1 "$1" 2>/dev/null | mawk -W interactive \
		-v total="$total" -v every="$interval" -v countfile="$3" '
		function hms(s) { return s >= 60 ? sprintf("%dm%02ds", s / 60, s % 60) : sprintf("%ds", s) }
		BEGIN { t0 = systime(); shown = t0 }
		/^  [A-Z]/ {
			n++; last = $1 " " $2
			now = systime()
			if (now - shown < every) next
			shown = now
			if (n < total) {
				# Too few steps for a rate worth extrapolating yet.
				if (n * 20 < total) left = "time left not known yet"
				else left = "about " hms((now - t0) * (total - n) / n) " left"
				printf "[guest]   kernel: %d/%d steps (%d%%), %s elapsed, %s (%s)\n",
					n, total, 100 * n / total, hms(now - t0), left, last
			} else {
				printf "[guest]   kernel: %d steps (%d expected), %s elapsed, finishing (%s)\n",
					n, total, hms(now - t0), last
			}
			fflush()
		}
		END { print n + 0 > countfile }'
}

counted=$(mktemp)
trap 'rm -f "$counted"' EXIT
fresh=0 follower=
exec 3< <("$here/build.sh" "$@")
builder=$!
while IFS= read -r line <&3; do
	case $line in
	# build.sh's own coarse step count: replaced by the lines above.
	"[guest]   ... "*" build steps, "*) continue ;;
	"[guest] extracting "*) fresh=1 ;;
	*"(full log: "*"; takes minutes)")
		log=${line##*"(full log: "}
		follow "${log%"; takes minutes)"}" "$builder" "$counted" &
		follower=$!
		;;
	esac
	printf '%s\n' "$line"
done
status=0
wait "$builder" || status=$?
if [ -n "$follower" ]; then
	wait "$follower" || true
	# Only a build from scratch counts every step; a resumed one skips some.
	if [ "$status" = 0 ] && [ "$fresh" = 1 ] && read -r n <"$counted" && [ "${n:-0}" -gt 0 ]; then
		echo "$n" >"$history.tmp" && mv "$history.tmp" "$history"
	fi
fi
exit "$status"
