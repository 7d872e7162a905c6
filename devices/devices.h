/* Legacy and test devices on the I/O-port and memory address spaces. */
#ifndef MINIVMM_DEVICES_H
#define MINIVMM_DEVICES_H

#include "vmm/vm.h"

/* 16550A on COM1 (0x3f8, IRQ 4), per cfg->serial. Returns -1 on a bad file. */
int serial_init(struct vm *vm, const struct vm_config *cfg);
/* isa-debug-exit: a write of v ends the VM with status (v << 1) | 1. */
int debug_exit_init(struct vm *vm, uint16_t port);
/* i8042: enough for the reset line (0x64 <- 0xfe) that ends the VM with EXIT_REBOOT. */
int i8042_init(struct vm *vm);
/* The integration test device (--test-device log=PATH); see devices/testdev.h. */
int testdev_init(struct vm *vm, const char *spec);
/* QEMU's edu PCI device (devices/edu.c); needs the PCI host. */
int edu_init(struct vm *vm);
/* The DMA test PCI function (devices/pci_testdev.c); needs the PCI host. */
int pci_testdev_init(struct vm *vm);
/* Release what the devices hold: flush serial output, restore the terminal,
 * close the test device's log. Call without the big lock, once the vCPUs have
 * stopped; device registers stay harmless to access afterwards. */
void devices_cleanup(void);

#endif
