#!/usr/bin/env bash
# Runs each libFuzzer target briefly from its seed corpus (tests/fuzz/corpus/NAME,
# left unchanged: new inputs go to a scratch directory). Prints "ok NAME" or
# "not ok NAME" with the report's last lines, then "N passed, N failed".
# The code's own log lines are dropped (-close_fd_mask=2); libFuzzer's and the
# sanitizers' reports, and the targets' invariant messages, still reach the log.
# usage: tests/fuzz/run.sh FUZZ_OUT BINARIES...   env: FUZZ_RUNS (20000), FUZZ_SECONDS (20)
set -u
out=$1; shift
runs=${FUZZ_RUNS:-20000} secs=${FUZZ_SECONDS:-20}
passed=0 failed=0
for bin in "$@"; do
    name=${bin##*/fuzz_}
    seeds=tests/fuzz/corpus/$name
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-fuzz.XXXXXX")
    log=$out/$name.log
    if "$bin" -runs="$runs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 \
        -artifact_prefix="$out/$name-" "$scratch" "$seeds" >"$log" 2>&1; then
        echo "ok fuzz_$name ($(grep -aoE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)s)"
        passed=$((passed + 1))
    else
        echo "not ok fuzz_$name: see $log"
        tail -n 20 "$log" | sed 's/^/  | /'
        failed=$((failed + 1))
    fi
    rm -rf "$scratch"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
