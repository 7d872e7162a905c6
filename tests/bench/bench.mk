# `make bench`: instructions per port-I/O and MMIO dispatch, DMA-layer access,
# VT-d translation and trapped VFIO BAR access (callgrind), time from exec to the
# guest's first instruction, Linux boot times, guest dd throughput on virtio-blk
# (tests/bench/disk.sh) and memory overhead, each beside QEMU's.

# Callgrind subjects, each tests/bench/NAME.c linked with the library.
BENCH_PROGS := bench_dispatch bench_dma bench_vtd bench_vfio bench_virtio bench_net
BENCH_BINS  := $(BENCH_PROGS:%=$(BUILD)/bench/%) $(BUILD)/bench/linestamp \
	$(BUILD)/bench/first.elf

$(BENCH_PROGS:%=$(BUILD)/bench/%): $(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/linestamp: tests/bench/linestamp.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<

$(BUILD)/bench/first.elf: tests/bench/first.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $(BUILD)/bench/first.o $<
	ld -m elf_x86_64 -static -nostdlib -N -Ttext=0x100000 -e _start -o $@ $(BUILD)/bench/first.o

bench: $(BUILD)/minivmm $(BENCH_BINS) guest-images
	@tests/bench/run.sh $(BUILD)
	@tests/bench/disk.sh $(BUILD)
	@tests/bench/overhead.sh $(BUILD)

# Built with the tests, so that an API change cannot leave them broken until
# someone runs `make bench`.
TEST_DEPS += $(BENCH_PROGS:%=$(BUILD)/bench/%)
