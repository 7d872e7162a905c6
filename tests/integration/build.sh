#!/usr/bin/env bash
# Build configuration checks: memory/dispatch.c inlines liburcu's read side
# (_LGPL_SOURCE) except under AddressSanitizer, whichever compiler builds it
# (gcc says __SANITIZE_ADDRESS__, clang only __has_feature(address_sanitizer)).
# Usage: tests/integration/build.sh BUILD
set -u
passed=0 failed=0 skipped=0
flags="-std=gnu11 -I. -D_GNU_SOURCE $(pkg-config --cflags glib-2.0 liburcu-bp)"

# inlines CC SANITIZE: 0 if dispatch.c defines _LGPL_SOURCE with those flags.
inlines() {
    # shellcheck disable=SC2086
    "$1" $flags $2 -dM -E memory/dispatch.c | grep -q '^#define _LGPL_SOURCE'
}

for cc in gcc clang; do
    if ! command -v "$cc" >/dev/null; then
        echo "skip asan_detected_$cc: $cc not installed"; skipped=$((skipped + 2)); continue
    fi
    if inlines "$cc" ""; then
        echo "ok urcu_inlined_$cc"; passed=$((passed + 1))
    else
        echo "not ok urcu_inlined_$cc: no _LGPL_SOURCE in a plain build"; failed=$((failed + 1))
    fi
    if inlines "$cc" "-fsanitize=address"; then
        echo "not ok asan_detected_$cc: _LGPL_SOURCE under -fsanitize=address"
        failed=$((failed + 1))
    else
        echo "ok asan_detected_$cc"; passed=$((passed + 1))
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
