/* Intel MP table (see mptable.h), after the MultiProcessor Specification 1.4,
 * chapter 4. Entries in the order the specification asks for: processors,
 * bus, I/O APIC, I/O interrupt assignments, local interrupt assignments.
 */
#include "vmm/mptable.h"

#include <string.h>

#include "util/bytes.h"
#include "util/log.h"
#include "vmm/layout.h"

#define MP_SPEC_REV          4            /* version 1.4 */
#define MP_OEM_ID            "MINIVMM "   /* 8 bytes, space-padded */
#define MP_PRODUCT_ID        "MINIVMM     " /* 12 bytes */

#define MP_FLOATING_LEN      16
#define MP_CONFIG_HEADER_LEN 44
#define MP_PROCESSOR_LEN     20
#define MP_ENTRY_LEN         8            /* every other entry type */

enum {
    MP_PROCESSOR = 0,
    MP_BUS = 1,
    MP_IOAPIC = 2,
    MP_IO_INTERRUPT = 3,
    MP_LOCAL_INTERRUPT = 4,
};

/* Interrupt types of the I/O and local interrupt assignment entries. */
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };

#define MP_ISA_BUS_ID        0
#define MP_ISA_IRQS          16
#define MP_PIT_IRQ           0
#define MP_PIT_IOAPIC_PIN    2            /* KVM's routing, as the MADT's override */
#define MP_CASCADE_IRQ       2            /* the 8259 cascade: no ISA device on it */
/* Polarity and trigger "conform to the bus": edge and active high on ISA. */
#define MP_IRQ_FLAGS_BUS     0

#define MP_CPU_ENABLED       0x01
#define MP_CPU_BSP           0x02
#define MP_IOAPIC_ENABLED    0x01
#define MP_ALL_LAPICS        0xff
/* KVM's in-kernel local APIC and IOAPIC versions. */
#define MP_LAPIC_VERSION     0x14
#define MP_IOAPIC_VERSION    0x11
/* Linux only prints these: a family 6 signature with FPU and APIC features. */
#define MP_CPU_SIGNATURE     (6u << 8)
#define MP_CPU_FEATURES      ((1u << 0) | (1u << 9))

#define LAPIC_ADDR           0xfee00000u
#define IOAPIC_ADDR          0xfec00000u

/* All but the processor entries: bus, IOAPIC, 15 ISA IRQs, LINT0 and LINT1. */
#define MP_FIXED_LEN         (MP_CONFIG_HEADER_LEN + MP_ENTRY_LEN * (2 + (MP_ISA_IRQS - 1) + 2))
#define MP_MAX_VCPUS         ((LAYOUT_MPTABLE_CONFIG_SIZE - MP_FIXED_LEN) / MP_PROCESSOR_LEN)

/* The IOAPIC takes the id after the last vCPU's; 0xff is the broadcast id. */
_Static_assert(MP_MAX_VCPUS < 0xff, "IOAPIC id must stay an xAPIC id");
_Static_assert(LAYOUT_MPTABLE_CONFIG >= LAYOUT_ACPI + LAYOUT_ACPI_SIZE &&
               LAYOUT_MPTABLE_CONFIG + LAYOUT_MPTABLE_CONFIG_SIZE <= LAYOUT_HIGH_MEM,
               "the MP configuration table is in the reserved BIOS area, after ACPI's");
_Static_assert(LAYOUT_MPTABLE_FLOATING % 16 == 0, "Linux scans on 16-byte boundaries");

/* Where the next entry goes, and how many there are. */
struct mp_cursor {
    uint8_t *p;
    uint16_t count;
};

/* Claims `len` zeroed bytes for an entry of `type`. */
static uint8_t *entry_begin(struct mp_cursor *c, uint8_t type, size_t len)
{
    uint8_t *e = c->p;
    e[0] = type;
    c->p += len;
    c->count++;
    return e;
}

static void put_processor(struct mp_cursor *c, unsigned apic_id)
{
    uint8_t *e = entry_begin(c, MP_PROCESSOR, MP_PROCESSOR_LEN);
    e[1] = (uint8_t)apic_id;
    e[2] = MP_LAPIC_VERSION;
    e[3] = MP_CPU_ENABLED | (apic_id == 0 ? MP_CPU_BSP : 0);
    put_le32(e + 4, MP_CPU_SIGNATURE);
    put_le32(e + 8, MP_CPU_FEATURES);
}

static void put_isa_bus(struct mp_cursor *c)
{
    uint8_t *e = entry_begin(c, MP_BUS, MP_ENTRY_LEN);
    e[1] = MP_ISA_BUS_ID;
    memcpy(e + 2, "ISA   ", 6);
}

static void put_ioapic(struct mp_cursor *c, uint8_t id)
{
    uint8_t *e = entry_begin(c, MP_IOAPIC, MP_ENTRY_LEN);
    e[1] = id;
    e[2] = MP_IOAPIC_VERSION;
    e[3] = MP_IOAPIC_ENABLED;
    put_le32(e + 4, IOAPIC_ADDR);
}

/* Interrupt assignment entries share one layout: type, interrupt type,
 * flags, source bus and IRQ, destination APIC and its input pin. */
static void put_interrupt(struct mp_cursor *c, uint8_t type, uint8_t int_type, uint8_t bus_irq,
                          uint8_t dest_apic, uint8_t dest_pin)
{
    uint8_t *e = entry_begin(c, type, MP_ENTRY_LEN);
    e[1] = int_type;
    put_le16(e + 2, MP_IRQ_FLAGS_BUS);
    e[4] = MP_ISA_BUS_ID;
    e[5] = bus_irq;
    e[6] = dest_apic;
    e[7] = dest_pin;
}

/* Fills the zeroed `t` and returns the base table's length. */
static size_t build_config(uint8_t *t, unsigned nr_vcpus)
{
    struct mp_cursor c = { .p = t + MP_CONFIG_HEADER_LEN };
    uint8_t ioapic_id = (uint8_t)nr_vcpus;

    /* vCPU i has APIC id i (KVM's default); vCPU 0 boots. */
    for (unsigned i = 0; i < nr_vcpus; i++)
        put_processor(&c, i);
    put_isa_bus(&c);
    put_ioapic(&c, ioapic_id);
    for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++) {
        if (irq == MP_CASCADE_IRQ)
            continue;
        uint8_t pin = irq == MP_PIT_IRQ ? MP_PIT_IOAPIC_PIN : irq;
        put_interrupt(&c, MP_IO_INTERRUPT, MP_INT, irq, ioapic_id, pin);
    }
    /* Virtual wire mode: the 8259 on every local APIC's LINT0, NMI on LINT1. */
    put_interrupt(&c, MP_LOCAL_INTERRUPT, MP_EXTINT, 0, MP_ALL_LAPICS, 0);
    put_interrupt(&c, MP_LOCAL_INTERRUPT, MP_NMI, 0, MP_ALL_LAPICS, 1);

    size_t len = (size_t)(c.p - t);
    memcpy(t, "PCMP", 4);
    put_le16(t + 4, (uint16_t)len);
    t[6] = MP_SPEC_REV;
    memcpy(t + 8, MP_OEM_ID, 8);
    memcpy(t + 16, MP_PRODUCT_ID, 12);
    put_le16(t + 34, c.count);
    put_le32(t + 36, LAPIC_ADDR);
    /* No OEM table, no extended entries: their fields stay zero. */
    t[7] = checksum8(t, len);
    return len;
}

static void build_floating(uint8_t *f)
{
    memcpy(f, "_MP_", 4);
    put_le32(f + 4, (uint32_t)LAYOUT_MPTABLE_CONFIG);
    f[8] = MP_FLOATING_LEN / 16;
    f[9] = MP_SPEC_REV;
    /* Feature byte 1 = 0: the configuration table is present (no default
     * configuration). Feature byte 2 bit 7 clear: virtual wire mode, no IMCR. */
    f[10] = checksum8(f, MP_FLOATING_LEN);
}

int mptable_setup(struct vm *vm)
{
    if (vm->nr_vcpus < 1 || vm->nr_vcpus > MP_MAX_VCPUS) {
        log_error("MP table: %u vCPUs, the %llu bytes at 0x%llx hold 1 to %llu",
                  vm->nr_vcpus, LAYOUT_MPTABLE_CONFIG_SIZE, LAYOUT_MPTABLE_CONFIG,
                  MP_MAX_VCPUS);
        return -1;
    }
    uint8_t *floating_ram = vm_guest_ram(vm, LAYOUT_MPTABLE_FLOATING, MP_FLOATING_LEN);
    uint8_t *config_ram = vm_guest_ram(vm, LAYOUT_MPTABLE_CONFIG, LAYOUT_MPTABLE_CONFIG_SIZE);
    if (!floating_ram || !config_ram) {
        log_error("MP table: no guest RAM at 0x%llx and 0x%llx", LAYOUT_MPTABLE_FLOATING,
                  LAYOUT_MPTABLE_CONFIG);
        return -1;
    }
    uint8_t config[LAYOUT_MPTABLE_CONFIG_SIZE] = { 0 };
    uint8_t floating[MP_FLOATING_LEN] = { 0 };
    size_t len = build_config(config, vm->nr_vcpus);
    build_floating(floating);
    memcpy(config_ram, config, sizeof(config));
    memcpy(floating_ram, floating, sizeof(floating));
    log_debug("MP table: %zu bytes at 0x%llx", len, LAYOUT_MPTABLE_CONFIG);
    return 0;
}
