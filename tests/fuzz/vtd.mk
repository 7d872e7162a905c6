# libFuzzer target for the VT-d register file and page walk (tests/fuzz/fuzz_vtd.c).
# `make fuzz-vtd` builds it with clang (ASan + UBSan) and runs it briefly over
# the seed corpus in tests/fuzz/corpus/vtd/. FUZZ_VTD_SECONDS sets the time.
FUZZ_CC           ?= clang
FUZZ_VTD_SECONDS  ?= 30
FUZZ_BUILD        := $(BUILD)/fuzz
FUZZ_FLAGS        := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	-std=gnu11 -Wall -Wextra -Werror -Wno-gnu-variable-sized-type-not-at-end -I. -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
FUZZ_VTD_SRCS     := $(filter-out vmm/main.c,$(LIB_SRCS)) tests/fuzz/fuzz_vtd.c

$(FUZZ_BUILD)/fuzz_vtd: $(FUZZ_VTD_SRCS) $(wildcard iommu/*.h memory/*.h vmm/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_VTD_SRCS) $(LDLIBS)

.PHONY: fuzz-vtd
fuzz-vtd: $(FUZZ_BUILD)/fuzz_vtd
	@mkdir -p $(FUZZ_BUILD)/corpus-vtd
	$(FUZZ_BUILD)/fuzz_vtd -max_total_time=$(FUZZ_VTD_SECONDS) -max_len=4096 \
		$(FUZZ_BUILD)/corpus-vtd tests/fuzz/corpus/vtd
