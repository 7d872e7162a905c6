/* ACPI for Linux guests: the tables (RSDP, RSDT, XSDT, FADT, FACS, MADT,
 * DSDT) at LAYOUT_ACPI, and the power-management registers the FADT points at.
 *
 * The FADT declares a hardware-reduced ACPI platform (no SCI, PM1 or GPE
 * blocks). Linux then powers off by writing SLP_TYP | SLP_EN to the sleep
 * control register (acpi_hw_extended_sleep) and reboots by writing the reset
 * value to the reset register (acpi_reboot); devices/acpi_pm.c implements both,
 * and S3 (suspend to RAM, woken by an RTC alarm through the FACS's waking
 * vector). It also announces the ACPI PM timer (PM_TMR_BLK, X_PM_TMR_BLK),
 * which x86 Linux takes from the FADT whatever the hardware-reduced flag says.
 * ACPICA ignores the FACS of a hardware-reduced FADT, so Linux itself offers
 * no S3 here; other guests (and ours in tests/guest) find the FACS through
 * FIRMWARE_CTRL.
 */
#ifndef MINIVMM_ACPI_H
#define MINIVMM_ACPI_H

#include "vmm/layout.h"
#include "vmm/vm.h"

/* I/O ports of the power-management registers, one byte each. */
#define ACPI_PM_PORT_BASE           0x3c0
#define ACPI_PM_SLEEP_CONTROL_PORT  0x3c0
#define ACPI_PM_SLEEP_STATUS_PORT   0x3c1
#define ACPI_PM_RESET_PORT          0x3c2
#define ACPI_PM_NR_PORTS            3
/* The PM timer: 32 bits (TMR_VAL_EXT) counting at 3.579545 MHz, read-only. */
#define ACPI_PM_TIMER_PORT          0x3c4
#define ACPI_PM_TIMER_LEN           4
#define ACPI_PM_TIMER_HZ            3579545
/* The FACS (64 bytes, 64-byte aligned) and its waking vectors. */
#define ACPI_FACS_ADDR              (LAYOUT_ACPI + 0x40)
#define ACPI_FACS_LEN               64
#define ACPI_FACS_WAKING_VECTOR     12    /* 32-bit, real-mode entry CS:IP = v>>4 : v&15 */
#define ACPI_FACS_X_WAKING_VECTOR   24    /* 64-bit; used instead when non-zero */

/* Sleep control register: SLP_TYP in bits 4:2, SLP_EN in bit 5. */
#define ACPI_SLEEP_TYPE_SHIFT       2
#define ACPI_SLEEP_TYPE_MASK        0x1c
#define ACPI_SLEEP_ENABLE           0x20
/* Sleep status register: WAK_STS (write 1 to clear). */
#define ACPI_WAKE_STATUS            0x80
/* SLP_TYP of S5 (soft off), as \_S5_ in the DSDT tells the guest. */
#define ACPI_S5_SLEEP_TYPE          5
/* SLP_TYP of S3 (suspend to RAM), as \_S3_ says. */
#define ACPI_S3_SLEEP_TYPE          1
/* The byte that resets the machine when written to the reset register. */
#define ACPI_PM_RESET_VALUE         0x06

/* The Generic Event Device's interrupt (edge, active high): the power button. */
#define ACPI_GED_GSI                10

/* Builds the tables into guest RAM at LAYOUT_ACPI and registers the power-
 * management device. Call before the kernel loader (it looks for "RSD PTR ").
 * Returns -1 with an error logged on failure. */
int acpi_setup(struct vm *vm);

/* The power-management registers on vm->sysio (devices/acpi_pm.c): a
 * Device instance, id "acpi-pm". */
int acpi_pm_init(struct vm *vm);
/* A wake event (an RTC alarm): a guest sleeping in S3 resumes at the FACS's
 * waking vector in real mode, RAM untouched; one entering S3 right now wakes
 * as soon as it is in. Nothing otherwise. Any thread; never blocks for long. */
void acpi_pm_wake(struct vm *vm);
/* Presses the power button: one edge on ACPI_GED_GSI. Any thread. 0, or -1
 * when the machine has no ACPI (no "acpi-pm" device). */
int acpi_power_button(struct vm *vm);

#endif
