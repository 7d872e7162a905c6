/* Legacy and test devices on the I/O-port and memory address spaces, each an
 * instance of its class (devices/device.h): a VM may hold several, and nothing
 * is kept outside the instances. */
#ifndef MINIVMM_DEVICES_H
#define MINIVMM_DEVICES_H

#include "devices/device.h"
#include "vmm/vm.h"

/* Each *_new creates an instance on `vm` (linked into vm->devices, not yet
 * realized: device_realize maps its registers and starts its threads), or
 * returns NULL after one error line. vm_devices_destroy releases them. */

/* A 16550A as COM`com` (1..4: ports 0x3f8, 0x2f8, 0x3e8, 0x2e8; IRQs 4, 3, 4,
 * 3, shared as on PCs), its output to the terminal, the file `path`, or nowhere.
 * Id "com<N>". */
Device *serial_new(struct vm *vm, unsigned com, enum serial_mode mode, const char *path);
/* isa-debug-exit: a write of v ends the VM with status (v << 1) | 1. */
Device *debug_exit_new(struct vm *vm, uint16_t port);
/* i8042: enough for the reset line (0x64 <- 0xfe) that ends the VM with EXIT_REBOOT. */
Device *i8042_new(struct vm *vm);
/* The integration test device (spec "log=PATH"); see devices/testdev.h. */
Device *testdev_new(struct vm *vm, const char *spec);

/* Creates and realizes the devices `cfg` asks for: the UARTs (--serial,
 * --serial-port), debug-exit, the i8042, the ACPI PM registers (acpi_pm_init)
 * and the test device. 0, or -1 after one
 * error line; two devices on one port or address are such an error. */
int devices_create(struct vm *vm, const struct vm_config *cfg);

/* Puts the host terminal back as it was before a UART on it went raw; safe
 * whatever other threads do (also for an exit that skips vm_destroy). */
void terminal_restore(void);
/* QEMU's edu PCI device (devices/edu.c); needs the PCI host. */
int edu_init(struct vm *vm);
/* The DMA test PCI function (devices/dma_testdev.c, --test-device dma); needs
 * the PCI host. */
int dma_testdev_init(struct vm *vm);
/* QEMU's pci-testdev (devices/pci_testdev.c, --test-device pci); needs the PCI
 * host. */
int pci_testdev_init(struct vm *vm);

#endif
