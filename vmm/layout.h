/* Guest-physical layout of the x86 machine. */
#ifndef MINIVMM_LAYOUT_H
#define MINIVMM_LAYOUT_H

#define LAYOUT_GDT          0x500ull     /* flat GDT used by the boot CPU state */
#define LAYOUT_BOOT_INFO    0x6000ull    /* PVH start info / multiboot info / scratch (4 KiB) */
#define LAYOUT_ZERO_PAGE    0x7000ull    /* Linux boot protocol zero page */
#define LAYOUT_PML4         0x9000ull    /* identity page tables for 64-bit entry */
#define LAYOUT_PDPT         0xa000ull
#define LAYOUT_PD           0xb000ull    /* 4 page directories: 4 GiB in 2 MiB pages */
#define LAYOUT_CMDLINE      0x20000ull
#define LAYOUT_CMDLINE_MAX  0x10000ull
#define LAYOUT_EBDA         0x9fc00ull   /* reserved from here to 1 MiB */
#define LAYOUT_ACPI         0xe0000ull   /* RSDP and ACPI tables (BIOS area) */
#define LAYOUT_ACPI_SIZE    0x10000ull
/* Intel MP table: the floating pointer first in Linux's second scan area
 * (639-640 KiB), so its scan stops there; the configuration table right after
 * the ACPI area, 196 + 20 bytes per vCPU (1476 for 64 vCPUs, 195 at most). */
#define LAYOUT_MPTABLE_FLOATING    LAYOUT_EBDA
#define LAYOUT_MPTABLE_CONFIG      0xf0000ull
#define LAYOUT_MPTABLE_CONFIG_SIZE 0x1000ull
#define LAYOUT_HIGH_MEM     0x100000ull  /* 1 MiB: kernels load here or above */
#define LAYOUT_MMIO_HOLE    0xc0000000ull /* RAM below 4 GiB ends here at most */
#define LAYOUT_4G           0x100000000ull

/* PCI: the 32-bit BAR window fills the hole up to the ECAM window (256 MiB:
 * buses 0-255, 1 MiB each), the 64-bit window starts at the first 1 GiB
 * boundary above RAM (pci/host.c). */
#define LAYOUT_PCI_MMIO32       LAYOUT_MMIO_HOLE
#define LAYOUT_PCI_MMIO32_SIZE  0x20000000ull  /* 0xc0000000-0xdfffffff */
#define LAYOUT_PCI_ECAM         0xe0000000ull
#define LAYOUT_PCI_ECAM_SIZE    0x10000000ull
#define LAYOUT_PCI_ECAM_BUSES   256
#define LAYOUT_PCI_MMIO64_ALIGN 0x40000000ull
#define LAYOUT_PCI_MMIO64_SIZE  0x800000000ull /* 32 GiB */
#define LAYOUT_PCI_IO           0x1000         /* ports 0x1000-0xffff for I/O BARs */
#define LAYOUT_PCI_IO_SIZE      0xf000
#define LAYOUT_PCI_CONFIG_PORT  0xcf8          /* CONFIG_ADDRESS, CONFIG_DATA at 0xcfc */

#define LAYOUT_TESTDEV_MMIO 0xfeb00000ull /* integration test device (--test-device) */
#define LAYOUT_TESTDEV_ROM  0xfeb10000ull
#define LAYOUT_TESTDEV_PIO  0x0e00        /* 16 ports */

#endif
