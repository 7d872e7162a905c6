# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang and ASan + UBSan
# in their own tree; `make fuzz` builds them and runs each briefly from its seed
# corpus (tests/fuzz/corpus/NAME/), `make fuzz-ci` more briefly still (what
# tests/check runs). Included by the top Makefile.

FUZZ_CC     ?= clang
FUZZ_OUT    := $(BUILD)/fuzz
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRCS   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_OUT)/%)

.PHONY: fuzz fuzz-build fuzz-ci FORCE
# The library in its own tree, compiled for coverage (fuzzer-no-link); always
# re-made so that it follows the sources.
$(FUZZ_OUT)/obj/libminivmm.a: FORCE
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_OUT)/obj CC=$(FUZZ_CC) \
		CFLAGS="$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Wno-gnu-variable-sized-type-not-at-end" $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OUT)/obj/libminivmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -std=gnu11 -Wall -Wextra -Werror \
		-Wno-gnu-variable-sized-type-not-at-end -iquote . \
		-D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS)) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# FUZZ_RUNS / FUZZ_SECONDS bound each target's run (whichever ends first).
fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_OUT) $(FUZZ_BINS)

# CI (tests/check): every committed input, then a few seconds of fuzzing each.
fuzz-ci: fuzz-build
	@FUZZ_RUNS=100000000 FUZZ_SECONDS=$${FUZZ_SECONDS:-3} tests/fuzz/run.sh $(FUZZ_OUT) $(FUZZ_BINS)
