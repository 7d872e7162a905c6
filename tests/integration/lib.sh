# shellcheck shell=bash
# Shared by the tests/integration scripts: `. "$(dirname "$0")/lib.sh"`. Not
# executable, so tests/run-all does not run it as a test.
# ok/not_ok/skip print one line per test and count it; summary prints the
# closing "N passed, N failed, N skipped" line and fails when a test failed.
# A script that reports more per test (timings, log excerpts) defines its own
# ok/not_ok after sourcing, counting in the same variables.
passed=0 failed=0 skipped=0
ok()     { echo "ok $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok $1: $2"; failed=$((failed + 1)); }
skip()   { echo "skip $1: $2"; skipped=$((skipped + 1)); }
summary() {
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" = 0 ]
}

# skip_all_without_kvm WHAT N: without a /dev/kvm that this user can open
# read-write (as minivmm must), reports all N tests skipped and exits 0.
skip_all_without_kvm() {
    if ! [ -c /dev/kvm ] || ! { exec 3<>/dev/kvm; } 2>/dev/null; then
        echo "SKIP: /dev/kvm not available — $1 not run"
        echo "0 passed, 0 failed, $2 skipped"
        exit 0
    fi
    exec 3>&-
}

# The guest-program runners (guests.sh, hostile.sh): ok/not_ok with the run's
# time ($secs), and on failure the last lines of its stderr ($errf) and serial
# output ($serial). Call use_guest_reporting after sourcing.
use_guest_reporting() {
    ok() { echo "ok $1 (${secs} s)"; passed=$((passed + 1)); }
    not_ok() {  # TEST REASON
        echo "not ok $1: $2 (${secs:-?} s)"
        failed=$((failed + 1))
        local f
        for f in "$errf" "$serial"; do
            [ -s "$f" ] || continue
            echo "  --- last lines of ${f##*/}:"
            tail -n 8 "$f" | sed 's/^/  | /'
        done
    }
}
has_line() { grep -qxF -- "$2" "$1"; }
