# `make bench`: instructions per port-I/O and MMIO dispatch (callgrind), time from
# exec to the guest's first instruction, and Linux boot times beside QEMU's.

BENCH_BINS := $(BUILD)/bench/bench_dispatch $(BUILD)/bench/linestamp

$(BUILD)/bench/bench_dispatch: $(BUILD)/tests/bench/bench_dispatch.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/linestamp: tests/bench/linestamp.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<

bench: $(BUILD)/minivmm $(BENCH_BINS) $(GUEST_ELFS) guest-images
	@tests/bench/run.sh $(BUILD)
