# libFuzzer target for the virtqueue walker (tests/fuzz/fuzz_virtqueue.c), built
# like fuzz-vtd (tests/fuzz/vtd.mk, included first), with our headers found
# by -iquote so that libpci's <pci/pci.h> is not shadowed by ours (pci/names.c). `make fuzz-virtqueue` runs
# it for FUZZ_VIRTQUEUE_SECONDS over the seeds in tests/fuzz/corpus/virtqueue/.
FUZZ_VIRTQUEUE_SECONDS ?= 30
FUZZ_VIRTQUEUE_SRCS    := $(filter-out vmm/main.c,$(LIB_SRCS)) tests/fuzz/fuzz_virtqueue.c

$(FUZZ_BUILD)/fuzz_virtqueue: $(FUZZ_VIRTQUEUE_SRCS) $(wildcard virtio/*.h pci/*.h memory/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(subst -I. ,-iquote . ,$(FUZZ_FLAGS)) -o $@ $(FUZZ_VIRTQUEUE_SRCS) $(LDLIBS)

.PHONY: fuzz-virtqueue
fuzz-virtqueue: $(FUZZ_BUILD)/fuzz_virtqueue
	@mkdir -p $(FUZZ_BUILD)/corpus-virtqueue
	$(FUZZ_BUILD)/fuzz_virtqueue -max_total_time=$(FUZZ_VIRTQUEUE_SECONDS) -max_len=4096 \
		$(FUZZ_BUILD)/corpus-virtqueue tests/fuzz/corpus/virtqueue
