# minivmm — see README.md.  `make` builds build/minivmm, `make test` runs every test,
# `make test-sanitize` runs them under ASan + UBSan, `make bench` prints the benchmarks.

CC      ?= gcc
BUILD   ?= build
PKGS    := glib-2.0 liburcu-bp libpci json-glib-1.0 libseccomp slirp
CFLAGS  ?= -O2 -g
# Kept apart from CFLAGS so `make CFLAGS=...` (the sanitizer build) keeps them.
ALL_CFLAGS := $(CPPFLAGS) $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -iquote . -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread

# Everything but the program's main() goes into a library the tests link against.
LIB_SRCS  := $(sort $(wildcard util/*.c memory/*.c iommu/*.c pci/*.c virtio/*.c vmm/*.c devices/*.c devices/*/*.c))
LIB_SRCS  := $(filter-out vmm/main.c,$(LIB_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check test test-unit test-sanitize test-package bench clean install uninstall FORCE
all: $(BUILD)/minivmm $(BUILD)/minivmm-ctl

# `minivmm --version` names the source revision: git describe of this checkout,
# left out when the tree is not one (a release tarball, a .deb build from one).
# $(BUILD)/revision changes only when the revision does, so a new commit rebuilds
# main.o (and nothing else) and an unchanged one rebuilds nothing.
REVISION := $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && \
	git describe --always --dirty 2>/dev/null)
$(BUILD)/revision: FORCE
	@mkdir -p $(dir $@)
	@echo '$(REVISION)' | cmp -s - $@ || echo '$(REVISION)' >$@
$(BUILD)/vmm/main.o: $(BUILD)/revision
$(BUILD)/vmm/main.o: ALL_CFLAGS += -DMINIVMM_REVISION='"$(REVISION)"'

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# -iquote: libpci's header is <pci/pci.h>, like ours; ours are always included as "...".

$(BUILD)/libminivmm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/minivmm: $(BUILD)/vmm/main.o $(BUILD)/libminivmm.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The control socket's client: plain libc, no libraries.
$(BUILD)/minivmm-ctl: $(BUILD)/ctl/minivmm-ctl.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/harness.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

-include tests/guest/guest.mk
-include tests/integration/integration.mk
-include tests/bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tests/vfio_user_server/server.mk
-include guest-images/guest-images.mk

# Unit tests print "N passed, N failed" each; tests/run-all sums them with the
# integration tests into the closing line.
test: $(BUILD)/minivmm $(BUILD)/minivmm-ctl $(UNIT_BINS) $(TEST_DEPS)
	@tests/run-all $(BUILD) $(UNIT_BINS)

test-unit: $(UNIT_BINS)
	@tests/run-all $(BUILD) --unit-only $(UNIT_BINS)

# Both suites, summed into one closing line (the README's test command).
check:
	@tests/check

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer, in their own tree,
# but for the Linux boots (minutes each, and guest-side): `make test` runs them once.
test-sanitize:
	MINIVMM_SKIP_LINUX=1 $(MAKE) BUILD=build/sanitize CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

# The Debian package built from a copy of the tree and checked (tests/package.sh).
test-package:
	@tests/package.sh

# PREFIX=/usr/local by default; DESTDIR for staged installs (packaging).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/minivmm
install: $(BUILD)/minivmm $(BUILD)/minivmm-ctl
	install -D -m 0755 $(BUILD)/minivmm $(DESTDIR)$(BINDIR)/minivmm
	install -D -m 0755 $(BUILD)/minivmm-ctl $(DESTDIR)$(BINDIR)/minivmm-ctl
	install -D -m 0644 doc/minivmm.1 $(DESTDIR)$(MANDIR)/man1/minivmm.1
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/minivmm $(DESTDIR)$(BINDIR)/minivmm-ctl \
		$(DESTDIR)$(MANDIR)/man1/minivmm.1 \
		$(DESTDIR)$(DOCDIR)/README.md
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
