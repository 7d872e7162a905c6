# The test Linux image (guest-images/build.sh caches it outside the clone) and the
# main job: `make run` boots it to an interactive shell on the serial console, with
# an entropy device, user-mode networking (the guest's /init brings eth0 up with
# DHCP; the host is 10.0.2.2) and an ext4 disk kept in the same cache
# (guest-images/run-disk.sh), which /init mounts on /mnt.

GUEST_IMAGE_DIR := $(BUILD)/image
GUEST_VMLINUX   := $(GUEST_IMAGE_DIR)/vmlinux
GUEST_INITRAMFS := $(GUEST_IMAGE_DIR)/initramfs.cpio
GUEST_CMDLINE   ?= console=ttyS0 panic=-1 $(shell guest-images/host-compat-cmdline)

.PHONY: guest-images run
guest-images:
	@guest-images/progress.sh $(GUEST_IMAGE_DIR)

run: $(BUILD)/minivmm guest-images
	disk=$$(guest-images/run-disk.sh) && \
	$(BUILD)/minivmm --kernel $(GUEST_VMLINUX) --initramfs $(GUEST_INITRAMFS) \
		--cpus boot=2 --memory size=256M --rng --net user --disk "path=$$disk" \
		--cmdline "$(GUEST_CMDLINE)"

TEST_DEPS += guest-images
