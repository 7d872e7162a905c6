#!/usr/bin/env bash
# Build configuration checks: memory/dispatch.c (through util/rcu.h) inlines liburcu's read side
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
# The guard lives in util/rcu.h alone: a file inlining liburcu by itself
# (defining _LGPL_SOURCE) escapes it under clang's sanitizers.
others=$(grep -rl --include='*.c' --include='*.h' '_LGPL_SOURCE' memory pci iommu virtio devices vmm util tests |
    grep -v '^util/rcu.h$')
if [ -z "$others" ]; then
    echo "ok urcu_inline_only_through_util_rcu"; passed=$((passed + 1))
else
    echo "not ok urcu_inline_only_through_util_rcu: $(echo $others)"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
