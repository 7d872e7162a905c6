/* PC platform devices, each a Device instance (devices/device.h) created and
 * realized by one call from vmm/main.c. */
#ifndef MINIVMM_PLATFORM_H
#define MINIVMM_PLATFORM_H

#include "vmm/vm.h"

/* CMOS RTC (MC146818) at ports 0x70/0x71, IRQ 8. */
#define RTC_PORT_INDEX   0x70   /* bit 7: NMI disable; bits 6:0: CMOS index */
#define RTC_PORT_DATA    0x71
#define RTC_NR_PORTS     2
#define RTC_IRQ          8

/* The RTC, id "rtc": date and time from the host clock, periodic, alarm and
 * update interrupts from its own timer thread, and the CMOS bytes firmware
 * leaves for a PC guest (memory sizes, CPU count). An alarm interrupt wakes a
 * guest sleeping in S3 (acpi_pm_wake). 0, or -1 with an error logged. */
int rtc_create(struct vm *vm);

/* QEMU's pc-testdev (--test-device pc), id "pc-testdev":
 *   0xe0-0xe3    a 32-bit scratch register, any access width
 *   0xe4         flush page: a 4-byte write of a guest address makes the host
 *                drop and re-fault its mapping of that page (contents kept)
 *   0xe8-0xeb    the same scratch register, served a byte at a time
 *   0x2000-0x2017 a byte write of v sets ISA/IOAPIC input n (port 0x2000 + n)
 *                to level !!v
 *   0xff000000   64 KiB of scratch memory (1, 2 or 4-byte accesses) */
#define PC_TESTDEV_PORT_DATA      0xe0
#define PC_TESTDEV_PORT_FLUSH     0xe4
#define PC_TESTDEV_PORT_DATA_BYTE 0xe8
#define PC_TESTDEV_PORT_IRQ       0x2000
#define PC_TESTDEV_NR_IRQS        24
#define PC_TESTDEV_IOMEM          0xff000000ull
#define PC_TESTDEV_IOMEM_SIZE     0x10000u
int pc_testdev_create(struct vm *vm);

#endif
