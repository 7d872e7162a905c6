# minivmm — see README.md.  `make` builds build/minivmm, `make test` runs every test,
# `make test-sanitize` runs them under ASan + UBSan, `make bench` prints the benchmarks.

CC      ?= gcc
BUILD   ?= build
PKGS    := glib-2.0 liburcu-bp libpci
CFLAGS  ?= -O2 -g
# Kept apart from CFLAGS so `make CFLAGS=...` (the sanitizer build) keeps them.
ALL_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -I. -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread

# Everything but the program's main() goes into a library the tests link against.
LIB_SRCS  := $(sort $(wildcard util/*.c memory/*.c iommu/*.c pci/*.c virtio/*.c vmm/*.c devices/*.c devices/*/*.c))
LIB_SRCS  := $(filter-out vmm/main.c,$(LIB_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check test test-unit test-sanitize bench clean
all: $(BUILD)/minivmm

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# libpci's header is <pci/pci.h>, as is ours: its one user finds ours only as "...".
$(BUILD)/pci/names.o: ALL_CFLAGS := $(subst -I. ,-iquote . ,$(ALL_CFLAGS))

$(BUILD)/libminivmm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/minivmm: $(BUILD)/vmm/main.o $(BUILD)/libminivmm.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/harness.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

-include tests/guest/guest.mk
-include tests/integration/integration.mk
-include tests/bench/bench.mk
-include guest-images/guest-images.mk
-include tests/fuzz/vtd.mk
-include tests/fuzz/virtqueue.mk

# Unit tests print "N passed, N failed" each; tests/run-all sums them with the
# integration tests into the closing line.
test: $(BUILD)/minivmm $(UNIT_BINS) $(TEST_DEPS)
	@tests/run-all $(BUILD) $(UNIT_BINS)

test-unit: $(UNIT_BINS)
	@tests/run-all $(BUILD) --unit-only $(UNIT_BINS)

# Both suites, summed into one closing line (the README's test command).
check:
	@tests/check

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer, in their own tree.
test-sanitize:
	$(MAKE) BUILD=build/sanitize CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
