# Guest test programs (tests/guest/*.c): tiny freestanding x86-64 programs that
# minivmm boots; see tests/integration/guests.sh. Included by the top Makefile.
#
# Never built with the host CFLAGS (sanitizer builds add -fsanitize there).
# Every program is checked for instructions the development host's KVM cannot
# run at CPL0 (tests/guest/check-insns.sh); a hit fails the build.

GUEST_SRC     := tests/guest
GUEST_OUT     := $(BUILD)/guest
GUEST_OBJDIR  := $(GUEST_OUT)/obj
GUEST_CC      ?= gcc
GUEST_LD      ?= ld
GUEST_OBJCOPY ?= objcopy
GUEST_OBJDUMP ?= objdump
GUEST_NM      ?= nm
GUEST_READELF ?= readelf

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -m64 -march=x86-64 \
	-mno-sse -mno-sse2 -mno-mmx -mno-avx -mno-popcnt -mgeneral-regs-only -mno-red-zone \
	-ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
	-fno-tree-loop-distribute-patterns -mcmodel=small -nostdlib -static \
	-I. -I$(GUEST_SRC)/lib
GUEST_ASFLAGS := -m64 -g -Wa,--fatal-warnings -I. -I$(GUEST_SRC)/lib
GUEST_LDFLAGS := -m elf_x86_64 -static -nostdlib -z max-page-size=0x1000 -z noexecstack \
	--build-id=none --no-warn-rwx-segments -T $(GUEST_SRC)/lib/guest.ld

GUEST_LIB_OBJS := $(GUEST_OBJDIR)/lib/guest.o
GUEST_START64  := $(GUEST_OBJDIR)/lib/start64.o
GUEST_PVH      := $(GUEST_OBJDIR)/lib/start_pvh.o $(GUEST_OBJDIR)/lib/long32.o
GUEST_MB       := $(GUEST_OBJDIR)/lib/start_mb.o $(GUEST_OBJDIR)/lib/long32.o

# 64-bit entry programs: NAME.elf from start64 + NAME.c (+ extra objects below).
GUEST_PROGS64 := hello widths romexec smp crash badinsn mmioexec
GUEST_PROGS64 += ioapic rtc rtcirq pmtimer s3 pctestdev idle
GUEST_PROGS64 += pci
GUEST_PROGS64 += virtio vtd pcitestdev
GUEST_PROGS64 += vfio_user
GUEST_PROGS64 += hostile_vtd hostile_dma hostile_msix hostile_cfg hostile_reset hostile_smp
GUEST_PROGS64 += blkflush
GUEST_ELFS := $(GUEST_PROGS64:%=$(GUEST_OUT)/%.elf) \
	$(GUEST_OUT)/memsize_pvh.elf $(GUEST_OUT)/memsize_mb.elf $(GUEST_OUT)/memlow_mb.elf

$(GUEST_OUT)/smp.elf: $(GUEST_OBJDIR)/lib/tramp.o
$(GUEST_OUT)/s3.elf: $(GUEST_OBJDIR)/lib/tramp.o
$(GUEST_OUT)/hostile_smp.elf: $(GUEST_OBJDIR)/lib/tramp.o

$(GUEST_OBJDIR)/%.o: $(GUEST_SRC)/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_OBJDIR)/%.o: $(GUEST_SRC)/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ASFLAGS) -MMD -MP -c -o $@ $<

# Link, check the instructions, then move into place (no target on failure).
define guest_link
	$(GUEST_LD) $(GUEST_LDFLAGS) -o $@.tmp $(filter %.o,$^)
	$(GUEST_SRC)/check-insns.sh $@.tmp $(GUEST_OBJDUMP) $(GUEST_NM)
	mv $@.tmp $@
endef

$(GUEST_PROGS64:%=$(GUEST_OUT)/%.elf): $(GUEST_OUT)/%.elf: $(GUEST_START64) \
		$(GUEST_OBJDIR)/%.o $(GUEST_LIB_OBJS) $(GUEST_SRC)/lib/guest.ld $(GUEST_SRC)/check-insns.sh
	$(guest_link)

$(GUEST_OUT)/memsize_pvh.elf: $(GUEST_PVH) $(GUEST_OBJDIR)/memsize.o $(GUEST_LIB_OBJS) \
		$(GUEST_SRC)/lib/guest.ld $(GUEST_SRC)/check-insns.sh
	$(guest_link)

# Multiboot v1 wants an ELF32: link as ELF64 (all addresses are below 4 GiB),
# check it, then convert; objcopy copies the loadable bytes unchanged, and
# check-elf32.sh verifies entry, PT_LOAD segments and the header position.
$(GUEST_OUT)/memsize_mb.elf64: $(GUEST_MB) $(GUEST_OBJDIR)/memsize.o $(GUEST_LIB_OBJS) \
		$(GUEST_SRC)/lib/guest.ld $(GUEST_SRC)/check-insns.sh
	$(guest_link)

# A multiboot kernel linked at 0x8000, below 1 MiB (the symbol must come
# before the script that tests it).
$(GUEST_OUT)/memlow_mb.elf64: $(GUEST_MB) $(GUEST_OBJDIR)/memlow.o $(GUEST_OBJDIR)/memlow_blob.o \
		$(GUEST_LIB_OBJS) $(GUEST_SRC)/lib/guest.ld $(GUEST_SRC)/check-insns.sh
	$(GUEST_LD) --defsym=GUEST_BASE=0x8000 $(GUEST_LDFLAGS) -o $@.tmp $(filter %.o,$^)
	$(GUEST_SRC)/check-insns.sh $@.tmp $(GUEST_OBJDUMP) $(GUEST_NM)
	mv $@.tmp $@

$(GUEST_OUT)/%_mb.elf: $(GUEST_OUT)/%_mb.elf64 $(GUEST_SRC)/check-elf32.sh
	$(GUEST_OBJCOPY) -I elf64-x86-64 -O elf32-i386 $< $@.tmp
	$(GUEST_SRC)/check-elf32.sh $< $@.tmp $(GUEST_READELF)
	mv $@.tmp $@

.PHONY: guests
guests: $(GUEST_ELFS)

TEST_DEPS += $(GUEST_ELFS)
