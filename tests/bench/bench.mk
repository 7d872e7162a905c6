# `make bench`: instructions per port-I/O and MMIO dispatch (callgrind), time from
# exec to the guest's first instruction, and Linux boot times beside QEMU's.

BENCH_BINS := $(BUILD)/bench/bench_dispatch $(BUILD)/bench/bench_dma $(BUILD)/bench/linestamp

$(BUILD)/bench/bench_dma: $(BUILD)/tests/bench/bench_dma.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/bench_dispatch: $(BUILD)/tests/bench/bench_dispatch.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# VT-d translate() with an IOTLB hit and miss (tests/bench/bench_vtd.c).
$(BUILD)/bench/bench_vtd: $(BUILD)/tests/bench/bench_vtd.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

BENCH_BINS += $(BUILD)/bench/bench_vtd

# virtio-blk's device model per 4 KiB request (tests/bench/bench_virtio.c).
$(BUILD)/bench/bench_virtio: $(BUILD)/tests/bench/bench_virtio.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

BENCH_BINS += $(BUILD)/bench/bench_virtio

$(BUILD)/bench/linestamp: tests/bench/linestamp.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<


$(BUILD)/bench/first.elf: tests/bench/first.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $(BUILD)/bench/first.o $<
	ld -m elf_x86_64 -static -nostdlib -N -Ttext=0x100000 -e _start -o $@ $(BUILD)/bench/first.o

BENCH_BINS += $(BUILD)/bench/first.elf

bench: $(BUILD)/minivmm $(BENCH_BINS) guest-images
	@tests/bench/run.sh $(BUILD)
