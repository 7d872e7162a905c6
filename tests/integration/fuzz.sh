#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/), built with clang and run briefly from
# their seed corpora: `make fuzz` with FUZZ_RUNS (default here 20000) and
# FUZZ_SECONDS (20). usage: tests/integration/fuzz.sh BUILD
set -u
build=${1:-build}
if ! command -v clang >/dev/null; then
    echo "SKIP: clang missing (scripts/install-deps.sh installs it) — fuzz targets not run"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
# `make fuzz` prints the per-target lines and the closing "N passed, N failed".
make -s --no-print-directory BUILD="$build" FUZZ_RUNS="${FUZZ_RUNS:-20000}" \
    FUZZ_SECONDS="${FUZZ_SECONDS:-20}" fuzz
