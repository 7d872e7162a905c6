/* ACPI for Linux guests: the tables (RSDP, XSDT, FADT, MADT, DSDT) at
 * LAYOUT_ACPI, and the power-management registers the FADT points at.
 *
 * The FADT declares a hardware-reduced ACPI platform (no SCI, PM1 or GPE
 * blocks). Linux then powers off by writing SLP_TYP | SLP_EN to the sleep
 * control register (acpi_hw_extended_sleep) and reboots by writing the reset
 * value to the reset register (acpi_reboot); devices/acpi_pm.c implements both.
 */
#ifndef MINIVMM_ACPI_H
#define MINIVMM_ACPI_H

#include "vmm/vm.h"

/* I/O ports of the power-management registers, one byte each. */
#define ACPI_PM_PORT_BASE           0x3c0
#define ACPI_PM_SLEEP_CONTROL_PORT  0x3c0
#define ACPI_PM_SLEEP_STATUS_PORT   0x3c1
#define ACPI_PM_RESET_PORT          0x3c2
#define ACPI_PM_NR_PORTS            3

/* Sleep control register: SLP_TYP in bits 4:2, SLP_EN in bit 5. */
#define ACPI_SLEEP_TYPE_SHIFT       2
#define ACPI_SLEEP_TYPE_MASK        0x1c
#define ACPI_SLEEP_ENABLE           0x20
/* Sleep status register: WAK_STS (write 1 to clear). */
#define ACPI_WAKE_STATUS            0x80
/* SLP_TYP of S5 (soft off), as \_S5_ in the DSDT tells the guest. */
#define ACPI_S5_SLEEP_TYPE          5
/* The byte that resets the machine when written to the reset register. */
#define ACPI_PM_RESET_VALUE         0x06

/* Builds the tables into guest RAM at LAYOUT_ACPI and registers the power-
 * management device. Call before the kernel loader (it looks for "RSD PTR ").
 * Returns -1 with an error logged on failure. */
int acpi_setup(struct vm *vm);

/* The power-management registers on vm->sysio (devices/acpi_pm.c). */
int acpi_pm_init(struct vm *vm);

#endif
