/* ACPI tables for Linux guests (see acpi.h).
 *
 * Layout of the LAYOUT_ACPI area (64 KiB, e820-reserved), each table 16-byte
 * aligned and in this order:
 *     +0x0  RSDP  (revision 2: RSDT and XSDT addresses, both checksums)
 *     +0x40 FACS  (64-byte aligned: the waking vectors for S3)
 *           DSDT  (AML: \_SB.COM1, \_SB.RTC, \_SB.GED0 + PWRB, \_SB.PCI0 and
 *                 \_SB.RES0 with a PCI host, \_S3_, \_S5_)
 *           FADT  (revision 6.4, hardware-reduced, PM timer, century 0x32)
 *           MADT  (one local APIC per vCPU, the IOAPIC, IRQ0 -> GSI2)
 *           MCFG  (with a PCI host: its ECAM window)
 *           DMAR  (with --iommu: one DRHD for all PCI functions)
 *           RSDT, XSDT (FADT, MADT[, MCFG][, DMAR]; the DSDT and FACS are reached
 *                 through the FADT; the RSDT for ACPI 1.0 guests)
 * The tables are built in a host buffer and copied in once complete, so a
 * failure leaves guest RAM untouched.
 */
#include "vmm/acpi.h"

#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "iommu/vtd.h"
#include "util/log.h"
#include "pci/pci.h"
#include "vmm/aml.h"
#include "vmm/layout.h"

#define ACPI_OEM_ID          "MINIVM"     /* 6 bytes */
#define ACPI_OEM_TABLE_ID    "MINIVMM "   /* 8 bytes */
#define ACPI_CREATOR_ID      "MVMM"
#define ACPI_OEM_REVISION    1
#define ACPI_CREATOR_REVISION 1
#define ACPI_TABLE_ALIGN     16
#define ACPI_HEADER_LEN      36
#define ACPI_MAX_XSDT_ENTRIES 16

#define RSDP_LEN             36
#define RSDP_V1_LEN          20           /* covered by the first checksum */

#define LAPIC_ADDR           0xfee00000u
#define IOAPIC_ADDR          0xfec00000u
/* xAPIC ids are 8 bits, 0xff is the broadcast id, and the IOAPIC takes the
 * id after the last vCPU's. */
#define ACPI_MAX_VCPUS       254

#define COM1_PORT            0x3f8
#define COM1_NR_PORTS        8
#define COM1_IRQ             4
#define RTC_PORT             0x70
#define RTC_NR_PORTS         2
#define RTC_IRQ              8
#define RTC_CENTURY_INDEX    0x32

/* SCI_INT. Hardware-reduced ACPI has no SCI: ACPICA installs no handler and
 * x86 skips the SCI's IOAPIC setup, so nothing is wired to it. It must not be
 * 0 though: Linux takes an interrupt source override whose source is SCI_INT
 * for the SCI's (acpi_parse_int_src_ovr), and would reconfigure our IRQ0
 * override as a level-triggered SCI. 9 is the conventional ISA SCI line. */
#define ACPI_SCI_IRQ         9

/* FADT, ACPI 6.4: field offsets. */
enum {
    FADT_LEN = 276,
    FADT_REVISION = 6,
    FADT_MINOR_REVISION = 4,
    FADT_FIRMWARE_CTRL = 36,
    FADT_DSDT = 40,
    FADT_SCI_INT = 46,
    FADT_PM_TMR_BLK = 76,
    FADT_PM_TMR_LEN = 91,
    FADT_CENTURY = 108,
    FADT_IAPC_BOOT_ARCH = 109,
    FADT_FLAGS = 112,
    FADT_RESET_REG = 116,
    FADT_RESET_VALUE = 128,
    FADT_MINOR_VERSION = 131,
    FADT_X_FIRMWARE_CTRL = 132,
    FADT_X_DSDT = 140,
    FADT_X_PM_TMR_BLK = 208,
    FADT_SLEEP_CONTROL_REG = 244,
    FADT_SLEEP_STATUS_REG = 256,
};
/* IAPC_BOOT_ARCH. Clear: LEGACY_DEVICES (no ISA DMA or PnP BIOS; COM1 is in
 * the DSDT), 8042 (our i8042 only resets: keep Linux from probing a keyboard),
 * NO_MSI (MSI works), NO_ASPM (no PCIe links). */
#define IAPC_NO_VGA          (1u << 2)    /* nothing at 0xa0000 or the VGA ports */
#define FADT_F_TMR_VAL_EXT   (1u << 8)    /* the PM timer has 32 bits */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED    (1u << 20)

/* Generic Address Structure: 12 bytes. */
#define GAS_SYSTEM_IO        1
#define GAS_ACCESS_BYTE      1
#define GAS_ACCESS_DWORD     3

#define FACS_VERSION         2

#define DSDT_REVISION        2            /* 64-bit AML integers */
#define MADT_REVISION        5            /* ACPI 6.2-6.4 */
#define MADT_PCAT_COMPAT     1u           /* a dual 8259 is present (KVM's) */
#define MADT_LAPIC           0
#define MADT_IOAPIC          1
#define MADT_INT_OVERRIDE    2
#define MADT_LAPIC_LEN       8
#define MADT_IOAPIC_LEN      12
#define MADT_INT_OVERRIDE_LEN 10
#define MADT_LAPIC_ENABLED   1u

struct acpi_image {
    uint8_t *buf;           /* host copy of the whole area */
    size_t used;
    uint64_t xsdt[ACPI_MAX_XSDT_ENTRIES];
    unsigned nr_xsdt;
};

static void put_gas_io_width(uint8_t *p, uint16_t port, uint8_t bits, uint8_t access)
{
    p[0] = GAS_SYSTEM_IO;
    p[1] = bits;            /* register bit width */
    p[2] = 0;               /* bit offset */
    p[3] = access;
    put_le64(p + 4, port);
}

static void put_gas_io(uint8_t *p, uint16_t port)
{
    put_gas_io_width(p, port, 8, GAS_ACCESS_BYTE);
}

/* Zeroed, 16-byte aligned space in the area; NULL if it does not fit. */
static uint8_t *image_alloc(struct acpi_image *img, size_t len, uint64_t *gpa)
{
    size_t off = (img->used + ACPI_TABLE_ALIGN - 1) & ~(size_t)(ACPI_TABLE_ALIGN - 1);
    if (off > LAYOUT_ACPI_SIZE || len > LAYOUT_ACPI_SIZE - off) {
        log_error("ACPI: the tables do not fit the %llu bytes at 0x%llx",
                  LAYOUT_ACPI_SIZE, LAYOUT_ACPI);
        return NULL;
    }
    img->used = off + len;
    *gpa = LAYOUT_ACPI + off;
    return img->buf + off;
}

static uint8_t *table_begin(struct acpi_image *img, const char sig[4], uint8_t revision,
                            size_t len, uint64_t *gpa)
{
    uint8_t *t = image_alloc(img, len, gpa);
    if (!t)
        return NULL;
    memcpy(t, sig, 4);
    put_le32(t + 4, (uint32_t)len);
    t[8] = revision;
    memcpy(t + 10, ACPI_OEM_ID, 6);
    memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
    put_le32(t + 24, ACPI_OEM_REVISION);
    memcpy(t + 28, ACPI_CREATOR_ID, 4);
    put_le32(t + 32, ACPI_CREATOR_REVISION);
    return t;
}

/* Call once the table is filled in. */
static void table_end(uint8_t *t, size_t len)
{
    t[9] = checksum8(t, len);
}

static int xsdt_add(struct acpi_image *img, uint64_t gpa)
{
    if (img->nr_xsdt == ACPI_MAX_XSDT_ENTRIES) {
        log_error("ACPI: more than %d tables", ACPI_MAX_XSDT_ENTRIES);
        return -1;
    }
    img->xsdt[img->nr_xsdt++] = gpa;
    return 0;
}

/* COM1 as the 8250 PNP driver matches it; it gets IRQ 4 from _CRS, which matters
 * on hardware-reduced platforms where Linux assigns no legacy ISA IRQs. */
static void dsdt_com1(struct aml *a)
{
    struct aml crs;
    aml_init(&crs);
    aml_res_io(&crs, COM1_PORT, COM1_NR_PORTS);
    aml_res_irq(&crs, COM1_IRQ);

    aml_device_begin(a, "COM1");
    aml_name_decl(a, "_HID");
    aml_eisa_id(a, "PNP0501");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_name_decl(a, "_CRS");
    aml_resource_template(a, &crs);
    aml_end(a);
    aml_free(&crs);
}

/* The CMOS RTC as Linux's rtc-cmos PNP driver matches it. */
static void dsdt_rtc(struct aml *a)
{
    struct aml crs;
    aml_init(&crs);
    aml_res_io(&crs, RTC_PORT, RTC_NR_PORTS);
    aml_res_irq(&crs, RTC_IRQ);

    aml_device_begin(a, "RTC");
    aml_name_decl(a, "_HID");
    aml_eisa_id(a, "PNP0B00");
    aml_name_decl(a, "_CRS");
    aml_resource_template(a, &crs);
    aml_end(a);
    aml_free(&crs);
}

/* \_SB.PCI0, the PCIe host bridge: its windows and the INTx routing (_PRT, one
 * entry per slot and pin, straight to GSIs: source 0). */
static void dsdt_pci0(struct aml *a, const struct vm *vm)
{
    PCIHostWindows w;
    pci_host_windows(vm, &w);
    struct aml crs;
    aml_init(&crs);
    aml_res_word_bus(&crs, 0, LAYOUT_PCI_ECAM_BUSES - 1);
    aml_res_io(&crs, LAYOUT_PCI_CONFIG_PORT, 8);
    aml_res_word_io(&crs, (uint16_t)w.io_base, (uint16_t)(w.io_base + w.io_size - 1));
    aml_res_dword_memory(&crs, (uint32_t)w.mmio32_base,
                         (uint32_t)(w.mmio32_base + w.mmio32_size - 1), false);
    /* Not prefetchable: Linux then places 64-bit BARs of either kind in it. */
    aml_res_qword_memory(&crs, w.mmio64_base, w.mmio64_base + w.mmio64_size - 1, false);

    aml_device_begin(a, "PCI0");
    aml_name_decl(a, "_HID");
    aml_eisa_id(a, "PNP0A08");
    aml_name_decl(a, "_CID");
    aml_eisa_id(a, "PNP0A03");
    aml_name_decl(a, "_SEG");
    aml_integer(a, 0);
    aml_name_decl(a, "_BBN");
    aml_integer(a, 0);
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_name_decl(a, "_CRS");
    aml_resource_template(a, &crs);
    aml_name_decl(a, "_PRT");
    aml_package_begin(a);
    for (unsigned slot = 0; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            aml_package_begin(a);
            aml_integer(a, (uint64_t)slot << 16 | 0xffff);
            aml_integer(a, pin);
            aml_integer(a, 0);
            aml_integer(a, pci_intx_gsi(PCI_DEVFN(slot, 0), (uint8_t)(pin + 1)));
            aml_end(a);
        }
    }
    aml_end(a);
    aml_end(a);
    aml_free(&crs);

    /* The ECAM window, reserved as a motherboard resource: Linux uses MCFG's
     * area only when firmware reserves it. */
    aml_init(&crs);
    aml_res_memory32_fixed(&crs, (uint32_t)LAYOUT_PCI_ECAM, (uint32_t)LAYOUT_PCI_ECAM_SIZE);
    aml_device_begin(a, "RES0");
    aml_name_decl(a, "_HID");
    aml_eisa_id(a, "PNP0C02");
    aml_name_decl(a, "_UID");
    aml_integer(a, 1);
    aml_name_decl(a, "_CRS");
    aml_resource_template(a, &crs);
    aml_end(a);
    aml_free(&crs);
}

/* \_Sx_: SLP_TYP for the sleep control register (hardware-reduced OSPM uses
 * the first value only), then PM1b's and two reserved values. */
static void dsdt_sleep_state(struct aml *a, const char *name, unsigned type)
{
    aml_name_decl(a, name);
    aml_package_begin(a);
    aml_integer(a, type);
    aml_integer(a, 0);
    aml_integer(a, 0);
    aml_integer(a, 0);
    aml_end(a);
}

/* The power button of a hardware-reduced machine (as QEMU's microvm): a
 * Generic Event Device whose one interrupt means "power button pressed"; its
 * _EVT notifies the PNP0C0C device, which Linux's button driver turns into
 * KEY_POWER (acpid or systemd-logind then shut the guest down). */
static void dsdt_power_button(struct aml *a)
{
    struct aml crs;
    aml_init(&crs);
    aml_res_interrupt_edge(&crs, ACPI_GED_GSI);

    aml_device_begin(a, "GED0");
    aml_name_decl(a, "_HID");
    aml_string(a, "ACPI0013");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_name_decl(a, "_CRS");
    aml_resource_template(a, &crs);
    aml_method_begin(a, "_EVT", 1);
    aml_notify(a, "\\_SB_.PWRB", 0x80);
    aml_end(a);
    aml_end(a);
    aml_free(&crs);

    aml_device_begin(a, "PWRB");
    aml_name_decl(a, "_HID");
    aml_eisa_id(a, "PNP0C0C");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_end(a);
}

/* The DSDT's definition block. Devices go into \_SB one emitter each (the PCI
 * host bridge, PNP0A08, joins COM1 here). */
static void dsdt_body(struct aml *a, const struct vm *vm)
{
    aml_scope_begin(a, "\\_SB_");
    dsdt_com1(a);
    dsdt_rtc(a);
    dsdt_power_button(a);
    if (vm->pci)
        dsdt_pci0(a, vm);
    aml_end(a);

    dsdt_sleep_state(a, "\\_S3_", ACPI_S3_SLEEP_TYPE);   /* suspend to RAM */
    dsdt_sleep_state(a, "\\_S5_", ACPI_S5_SLEEP_TYPE);   /* soft off */
}

static int build_dsdt(struct acpi_image *img, const struct vm *vm, uint64_t *gpa)
{
    struct aml a;
    aml_init(&a);
    dsdt_body(&a, vm);
    int ret = aml_finish(&a);
    if (!ret) {
        size_t len = ACPI_HEADER_LEN + a.len;
        uint8_t *t = table_begin(img, "DSDT", DSDT_REVISION, len, gpa);
        if (t) {
            memcpy(t + ACPI_HEADER_LEN, a.buf, a.len);
            table_end(t, len);
        } else {
            ret = -1;
        }
    }
    aml_free(&a);
    return ret;
}

/* The FACS at its fixed place (ACPI_FACS_ADDR), which the sleep device reads
 * the waking vector from. No checksum: the OS writes to it. */
static int build_facs(struct acpi_image *img)
{
    uint64_t gpa;
    img->used = ACPI_FACS_ADDR - LAYOUT_ACPI;
    uint8_t *t = image_alloc(img, ACPI_FACS_LEN, &gpa);
    if (!t || gpa != ACPI_FACS_ADDR)
        return -1;
    memcpy(t, "FACS", 4);
    put_le32(t + 4, ACPI_FACS_LEN);
    t[32] = FACS_VERSION;
    return 0;
}

static int build_fadt(struct acpi_image *img, uint64_t dsdt)
{
    uint64_t gpa;
    uint8_t *t = table_begin(img, "FACP", FADT_REVISION, FADT_LEN, &gpa);
    if (!t)
        return -1;
    put_le32(t + FADT_FIRMWARE_CTRL, ACPI_FACS_ADDR);
    put_le64(t + FADT_X_FIRMWARE_CTRL, ACPI_FACS_ADDR);
    put_le32(t + FADT_DSDT, (uint32_t)dsdt);     /* the area is below 1 MiB */
    put_le64(t + FADT_X_DSDT, dsdt);
    put_le16(t + FADT_SCI_INT, ACPI_SCI_IRQ);
    put_le32(t + FADT_PM_TMR_BLK, ACPI_PM_TIMER_PORT);
    t[FADT_PM_TMR_LEN] = ACPI_PM_TIMER_LEN;
    put_gas_io_width(t + FADT_X_PM_TMR_BLK, ACPI_PM_TIMER_PORT, 32, GAS_ACCESS_DWORD);
    t[FADT_CENTURY] = RTC_CENTURY_INDEX;
    put_le16(t + FADT_IAPC_BOOT_ARCH, IAPC_NO_VGA);
    put_le32(t + FADT_FLAGS, FADT_F_HW_REDUCED | FADT_F_RESET_REG_SUP | FADT_F_TMR_VAL_EXT);
    put_gas_io(t + FADT_RESET_REG, ACPI_PM_RESET_PORT);
    t[FADT_RESET_VALUE] = ACPI_PM_RESET_VALUE;
    t[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
    put_gas_io(t + FADT_SLEEP_CONTROL_REG, ACPI_PM_SLEEP_CONTROL_PORT);
    put_gas_io(t + FADT_SLEEP_STATUS_REG, ACPI_PM_SLEEP_STATUS_PORT);
    table_end(t, FADT_LEN);
    return xsdt_add(img, gpa);
}

/* pcat_compat: KVM's dual 8259 exists (kernel irqchip; not in split mode). */
static int build_madt(struct acpi_image *img, unsigned nr_vcpus, bool pcat_compat)
{
    size_t len = ACPI_HEADER_LEN + 8 + nr_vcpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
                 MADT_INT_OVERRIDE_LEN;
    uint64_t gpa;
    uint8_t *t = table_begin(img, "APIC", MADT_REVISION, len, &gpa);
    if (!t)
        return -1;
    put_le32(t + 36, LAPIC_ADDR);
    put_le32(t + 40, pcat_compat ? MADT_PCAT_COMPAT : 0);
    uint8_t *p = t + 44;

    /* vCPU i has APIC id i (KVM's default) and ACPI processor UID i. */
    for (unsigned i = 0; i < nr_vcpus; i++, p += MADT_LAPIC_LEN) {
        p[0] = MADT_LAPIC;
        p[1] = MADT_LAPIC_LEN;
        p[2] = (uint8_t)i;
        p[3] = (uint8_t)i;
        put_le32(p + 4, MADT_LAPIC_ENABLED);
    }

    /* KVM's in-kernel IOAPIC: 24 pins from GSI 0. */
    p[0] = MADT_IOAPIC;
    p[1] = MADT_IOAPIC_LEN;
    p[2] = (uint8_t)nr_vcpus;
    p[3] = 0;
    put_le32(p + 4, IOAPIC_ADDR);
    put_le32(p + 8, 0);
    p += MADT_IOAPIC_LEN;

    /* KVM routes the PIT (ISA IRQ 0) to IOAPIC pin 2. Flags 0: conforming to
     * the ISA bus, i.e. edge-triggered, active high. */
    p[0] = MADT_INT_OVERRIDE;
    p[1] = MADT_INT_OVERRIDE_LEN;
    p[2] = 0;               /* bus: ISA */
    p[3] = 0;               /* source: IRQ 0 */
    put_le32(p + 4, 2);      /* GSI */
    put_le16(p + 8, 0);

    table_end(t, len);
    return xsdt_add(img, gpa);
}

/* DMAR (Intel VT-d spec 8.1-8.3): one remapping unit, INCLUDE_PCI_ALL, whose
 * device scope names the IOAPIC with its source id - Linux enables interrupt
 * remapping only when every IOAPIC is under a unit. */
#define DMAR_LEN            48
#define DMAR_F_INTR_REMAP   1u
#define DRHD_LEN            16
#define DRHD_F_PCI_ALL      1u
#define SCOPE_IOAPIC        3
#define SCOPE_IOAPIC_LEN    8

static int build_dmar(struct acpi_image *img, const struct vm_config *cfg, unsigned nr_vcpus)
{
    size_t len = DMAR_LEN + DRHD_LEN + SCOPE_IOAPIC_LEN;
    uint64_t gpa;
    uint8_t *t = table_begin(img, "DMAR", 1, len, &gpa);
    if (!t)
        return -1;
    t[36] = 48 - 1;                         /* host address width - 1 */
    t[37] = cfg->iommu_intremap ? DMAR_F_INTR_REMAP : 0;
    uint8_t *d = t + DMAR_LEN;
    put_le16(d, 0);                         /* DRHD */
    put_le16(d + 2, DRHD_LEN + SCOPE_IOAPIC_LEN);
    d[4] = DRHD_F_PCI_ALL;
    put_le16(d + 6, 0);                     /* PCI segment */
    put_le64(d + 8, VTD_BASE);
    uint8_t *sc = d + DRHD_LEN;
    sc[0] = SCOPE_IOAPIC;
    sc[1] = SCOPE_IOAPIC_LEN;
    sc[4] = (uint8_t)nr_vcpus;              /* the IOAPIC's id, as in the MADT */
    sc[5] = VTD_IOAPIC_SID >> 8;            /* start bus */
    sc[6] = (VTD_IOAPIC_SID >> 3) & 0x1f;   /* path: device, function */
    sc[7] = VTD_IOAPIC_SID & 7;
    table_end(t, len);
    return xsdt_add(img, gpa);
}

/* MCFG: one ECAM area, segment 0, buses 0-255. */
static int build_mcfg(struct acpi_image *img)
{
    size_t len = ACPI_HEADER_LEN + 8 + 16;
    uint64_t gpa;
    uint8_t *t = table_begin(img, "MCFG", 1, len, &gpa);
    if (!t)
        return -1;
    uint8_t *e = t + ACPI_HEADER_LEN + 8;
    put_le64(e, LAYOUT_PCI_ECAM);
    put_le16(e + 8, 0);
    e[10] = 0;
    e[11] = LAYOUT_PCI_ECAM_BUSES - 1;
    table_end(t, len);
    return xsdt_add(img, gpa);
}

/* The same entries as the XSDT, 32-bit (every table is below 1 MiB). */
static int build_rsdt(struct acpi_image *img, uint64_t *gpa)
{
    size_t len = ACPI_HEADER_LEN + 4 * img->nr_xsdt;
    uint8_t *t = table_begin(img, "RSDT", 1, len, gpa);
    if (!t)
        return -1;
    for (unsigned i = 0; i < img->nr_xsdt; i++)
        put_le32(t + ACPI_HEADER_LEN + 4 * i, (uint32_t)img->xsdt[i]);
    table_end(t, len);
    return 0;
}

static int build_xsdt(struct acpi_image *img, uint64_t *gpa)
{
    size_t len = ACPI_HEADER_LEN + 8 * img->nr_xsdt;
    uint8_t *t = table_begin(img, "XSDT", 1, len, gpa);
    if (!t)
        return -1;
    for (unsigned i = 0; i < img->nr_xsdt; i++)
        put_le64(t + ACPI_HEADER_LEN + 8 * i, img->xsdt[i]);
    table_end(t, len);
    return 0;
}

static void fill_rsdp(uint8_t *r, uint64_t rsdt, uint64_t xsdt)
{
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, ACPI_OEM_ID, 6);
    r[15] = 2;                      /* ACPI 2.0+: the XSDT fields are valid */
    put_le32(r + 16, (uint32_t)rsdt);
    put_le32(r + 20, RSDP_LEN);
    put_le64(r + 24, xsdt);
    r[8] = checksum8(r, RSDP_V1_LEN);
    r[32] = checksum8(r, RSDP_LEN);
}

static int build_tables(struct acpi_image *img, const struct vm *vm)
{
    uint64_t rsdp_gpa, dsdt, rsdt, xsdt;
    uint8_t *rsdp = image_alloc(img, RSDP_LEN, &rsdp_gpa);
    const struct vm_config *cfg = vm->cfg;
    if (!rsdp || build_facs(img) < 0 || build_dsdt(img, vm, &dsdt) < 0 ||
        build_fadt(img, dsdt) < 0 ||
        build_madt(img, vm->nr_vcpus, cfg->irqchip != IRQCHIP_SPLIT) < 0 ||
        (vm->pci && build_mcfg(img) < 0) ||
        (cfg->iommu && build_dmar(img, cfg, vm->nr_vcpus) < 0) ||
        build_rsdt(img, &rsdt) < 0 || build_xsdt(img, &xsdt) < 0)
        return -1;
    fill_rsdp(rsdp, rsdt, xsdt);
    return 0;
}

int acpi_setup(struct vm *vm)
{
    if (vm->nr_vcpus < 1 || vm->nr_vcpus > ACPI_MAX_VCPUS) {
        log_error("ACPI: %u vCPUs, the MADT describes 1 to %d", vm->nr_vcpus,
                  ACPI_MAX_VCPUS);
        return -1;
    }
    uint8_t *ram = vm_guest_ram(vm, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
    if (!ram) {
        log_error("ACPI: no guest RAM at 0x%llx", LAYOUT_ACPI);
        return -1;
    }
    struct acpi_image img = { .buf = calloc(1, LAYOUT_ACPI_SIZE) };
    if (!img.buf) {
        log_error("ACPI: out of memory");
        return -1;
    }
    int ret = build_tables(&img, vm);
    if (!ret)
        memcpy(ram, img.buf, LAYOUT_ACPI_SIZE);
    free(img.buf);
    if (ret < 0)
        return -1;
    log_debug("ACPI: %zu bytes of tables at 0x%llx", img.used, LAYOUT_ACPI);
    return acpi_pm_init(vm);
}
