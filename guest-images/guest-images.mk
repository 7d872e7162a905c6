# The test Linux image (guest-images/build.sh caches it outside the clone) and the
# main job: `make run` boots it to an interactive shell on the serial console, with
# an entropy device and user-mode networking (in the guest: ip link set eth0 up;
# ip addr add 10.0.2.15/24 dev eth0; the host is 10.0.2.2).

GUEST_IMAGE_DIR := $(BUILD)/image
GUEST_VMLINUX   := $(GUEST_IMAGE_DIR)/vmlinux
GUEST_INITRAMFS := $(GUEST_IMAGE_DIR)/initramfs.cpio
GUEST_CMDLINE   ?= console=ttyS0 panic=-1 $(shell guest-images/host-compat-cmdline)

.PHONY: guest-images run
guest-images:
	@guest-images/progress.sh $(GUEST_IMAGE_DIR)

run: $(BUILD)/minivmm guest-images
	$(BUILD)/minivmm --kernel $(GUEST_VMLINUX) --initramfs $(GUEST_INITRAMFS) \
		--cpus boot=2 --memory size=256M --rng --net user --cmdline "$(GUEST_CMDLINE)"

TEST_DEPS += guest-images
