/* The Intel MP table mptable_setup writes into guest RAM, found and parsed here
 * independently of the builder, the way Linux does (arch/x86/kernel/mpparse.c):
 * scan for the floating pointer, check it, follow it to the configuration
 * table, check that and walk its entries. Also: it sits beside the ACPI tables
 * without touching them, and describes the same IOAPIC as the MADT. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "util/bytes.h"
#include "vmm/acpi.h"
#include "vmm/layout.h"
#include "vmm/mptable.h"

#define RAM_SIZE         (2ull << 20)
#define MAX_MP_VCPUS     195             /* (4096 - 196) / 20: see layout.h */

/* Linux's scan areas, in its order: the first KiB, the last KiB below 640 KiB,
 * the BIOS ROM area. */
#define SCAN1_BASE       0x0ull
#define SCAN2_BASE       0x9fc00ull
#define SCAN3_BASE       0xf0000ull
#define SCAN1_SIZE       0x400ull
#define SCAN2_SIZE       0x400ull

/* ---- reading guest RAM back -------------------------------------------------------- */

static bool sums_to_zero(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

/* A malloc'ed copy of guest RAM [gpa, gpa + len). */
static uint8_t *read_ram(struct vm *vm, uint64_t gpa, size_t len)
{
    uint8_t *buf = malloc(len);
    if (buf)
        address_space_read(vm->as_mem, gpa, buf, len);
    return buf;
}

/* smp_scan_config: the first valid floating pointer in [base, base + len), on
 * 16-byte boundaries. */
static bool scan_floating(struct vm *vm, uint64_t base, uint64_t len, uint64_t *found)
{
    uint8_t *area = read_ram(vm, base, len);
    bool ok = false;
    for (uint64_t off = 0; area && off + 16 <= len && !ok; off += 16) {
        const uint8_t *p = area + off;
        ok = !memcmp(p, "_MP_", 4) && p[8] == 1 && sums_to_zero(p, 16) &&
             (p[9] == 1 || p[9] == 4);
        if (ok)
            *found = base + off;
    }
    free(area);
    return ok;
}

/* What the configuration table says, as Linux's smp_read_mpc collects it. */
struct mp_info {
    unsigned entries, processors, buses, ioapics, local_ints;
    bool apic_id_seen[256];
    unsigned bsp_count;
    int bsp_id;
    int isa_bus_id;
    int ioapic_id;
    uint32_t ioapic_addr;
    int irq_pin[16];                /* IOAPIC pin of each ISA IRQ, -1 if none */
    unsigned irq_entries[16];
    bool extint_lint0, nmi_lint1;
};

static void parse_processor(struct mp_info *mp, const uint8_t *e)
{
    CHECK_EQ(e[2], 0x14);                           /* local APIC version */
    CHECK(e[3] & 1);                                /* enabled */
    CHECK(!mp->apic_id_seen[e[1]]);
    mp->apic_id_seen[e[1]] = true;
    if (e[3] & 2) {
        mp->bsp_count++;
        mp->bsp_id = e[1];
    }
    mp->processors++;
}

static void parse_io_interrupt(struct mp_info *mp, const uint8_t *e)
{
    CHECK_EQ(e[1], 0);                              /* mp_INT */
    CHECK_EQ(get_le16(e + 2), 0);                       /* conforms to the bus */
    CHECK_EQ(e[4], mp->isa_bus_id);
    CHECK_EQ(e[6], mp->ioapic_id);
    REQUIRE(e[5] < 16);
    mp->irq_pin[e[5]] = e[7];
    mp->irq_entries[e[5]]++;
}

static void parse_local_interrupt(struct mp_info *mp, const uint8_t *e)
{
    CHECK_EQ(e[6], 0xff);                           /* every local APIC */
    mp->extint_lint0 |= e[1] == 3 && e[7] == 0;
    mp->nmi_lint1 |= e[1] == 1 && e[7] == 1;
    mp->local_ints++;
}

/* smp_check_mpc, then the entry walk: each entry's size follows from its type. */
static bool parse_config(struct vm *vm, uint64_t gpa, struct mp_info *mp)
{
    memset(mp, 0, sizeof(*mp));
    mp->bsp_id = mp->isa_bus_id = mp->ioapic_id = -1;
    for (unsigned i = 0; i < 16; i++)
        mp->irq_pin[i] = -1;

    uint8_t hdr[44];
    address_space_read(vm->as_mem, gpa, hdr, sizeof(hdr));
    uint16_t len = get_le16(hdr + 4);
    if (memcmp(hdr, "PCMP", 4) || len < sizeof(hdr))
        return false;
    uint8_t *t = read_ram(vm, gpa, len);
    if (!t)
        return false;
    CHECK(sums_to_zero(t, len));
    CHECK_EQ(t[6], 4);                              /* spec revision 1.4 */
    CHECK(!memcmp(t + 8, "MINIVMM ", 8));
    CHECK_EQ(get_le32(t + 28), 0);                      /* no OEM table */
    CHECK_EQ(get_le32(t + 36), 0xfee00000);
    CHECK_EQ(get_le16(t + 40), 0);                      /* no extended entries */

    uint32_t off = sizeof(hdr);
    bool ok = true;
    while (ok && off < len) {
        const uint8_t *e = t + off;
        uint32_t size = e[0] == 0 ? 20 : e[0] <= 4 ? 8 : 0;
        ok = size && off + size <= len;
        if (!ok)
            break;
        switch (e[0]) {
        case 0:
            parse_processor(mp, e);
            break;
        case 1:
            CHECK(!memcmp(e + 2, "ISA   ", 6));
            mp->isa_bus_id = e[1];
            mp->buses++;
            break;
        case 2:
            CHECK_EQ(e[2], 0x11);                   /* IOAPIC version */
            CHECK(e[3] & 1);                        /* enabled */
            mp->ioapic_id = e[1];
            mp->ioapic_addr = get_le32(e + 4);
            mp->ioapics++;
            break;
        case 3:
            parse_io_interrupt(mp, e);
            break;
        case 4:
            parse_local_interrupt(mp, e);
            break;
        }
        mp->entries++;
        off += size;
    }
    CHECK(ok);
    CHECK_EQ(off, len);
    CHECK_EQ(get_le16(t + 34), mp->entries);
    free(t);
    return ok;
}

/* Finds the tables as Linux would; false (with a failure recorded) if not. */
static bool find_mptable(struct vm *vm, struct mp_info *mp)
{
    uint64_t floating = 0;
    CHECK(!scan_floating(vm, SCAN1_BASE, SCAN1_SIZE, &floating));
    if (!scan_floating(vm, SCAN2_BASE, SCAN2_SIZE, &floating)) {
        CHECK(!"a floating pointer in 639-640 KiB");
        return false;
    }
    CHECK_EQ(floating, SCAN2_BASE);                 /* the scan's first step */
    uint8_t f[16];
    address_space_read(vm->as_mem, floating, f, sizeof(f));
    CHECK_EQ(f[9], 4);
    CHECK_EQ(f[11], 0);                             /* a configuration table follows */
    uint32_t config = get_le32(f + 4);
    CHECK(config >= LAYOUT_MPTABLE_CONFIG &&
          config + 44 <= LAYOUT_MPTABLE_CONFIG + LAYOUT_MPTABLE_CONFIG_SIZE);
    bool ok = parse_config(vm, config, mp);
    CHECK(ok);
    return ok;
}

/* The IOAPIC id in the MADT: RSDP at LAYOUT_ACPI -> XSDT -> "APIC". */
static int madt_ioapic_id(struct vm *vm)
{
    uint8_t rsdp[36], hdr[36];
    address_space_read(vm->as_mem, LAYOUT_ACPI, rsdp, sizeof(rsdp));
    if (memcmp(rsdp, "RSD PTR ", 8) || !sums_to_zero(rsdp, 20) || !sums_to_zero(rsdp, 36))
        return -1;
    uint64_t xsdt_gpa = get_le64(rsdp + 24);
    address_space_read(vm->as_mem, xsdt_gpa, hdr, sizeof(hdr));
    uint8_t *xsdt = read_ram(vm, xsdt_gpa, get_le32(hdr + 4));
    int id = -1;
    for (uint32_t off = 36; xsdt && off + 8 <= get_le32(hdr + 4) && id < 0; off += 8) {
        uint64_t gpa = get_le64(xsdt + off);
        uint8_t thdr[36];
        address_space_read(vm->as_mem, gpa, thdr, sizeof(thdr));
        if (memcmp(thdr, "APIC", 4))
            continue;
        uint32_t len = get_le32(thdr + 4);
        uint8_t *madt = read_ram(vm, gpa, len);
        for (uint32_t e = 44; madt && e + 2 <= len && madt[e + 1] >= 2; e += madt[e + 1])
            if (madt[e] == 1)
                id = madt[e + 2];
        free(madt);
    }
    free(xsdt);
    return id;
}

/* ---- the tests ------------------------------------------------------------------------ */

static void check_mptable(unsigned nr_vcpus)
{
    struct fake_vm f;
    struct mp_info mp;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, nr_vcpus));
    CHECK_EQ(mptable_setup(&f.vm), 0);
    if (find_mptable(&f.vm, &mp)) {
        CHECK_EQ(mp.processors, nr_vcpus);
        for (unsigned i = 0; i < nr_vcpus; i++)
            CHECK(mp.apic_id_seen[i]);
        CHECK_EQ(mp.bsp_count, 1);
        CHECK_EQ(mp.bsp_id, 0);
        CHECK_EQ(mp.buses, 1);
        CHECK_EQ(mp.ioapics, 1);
        CHECK_EQ(mp.ioapic_id, nr_vcpus);
        CHECK_EQ(mp.ioapic_addr, 0xfec00000);
        CHECK_EQ(mp.irq_entries[0], 1);
        CHECK_EQ(mp.irq_pin[0], 2);                 /* the PIT, as the MADT's override */
        CHECK_EQ(mp.irq_entries[2], 0);
        for (unsigned irq = 1; irq < 16; irq++) {
            if (irq != 2) {
                CHECK_EQ(mp.irq_entries[irq], 1);
                CHECK_EQ(mp.irq_pin[irq], irq);
            }
        }
        CHECK_EQ(mp.local_ints, 2);
        CHECK(mp.extint_lint0);
        CHECK(mp.nmi_lint1);
    }
    fake_vm_destroy(&f);
}

TEST(mptable_one_vcpu) { check_mptable(1); }
TEST(mptable_64_vcpus) { check_mptable(64); }
TEST(mptable_most_vcpus) { check_mptable(MAX_MP_VCPUS); }

/* As main() orders it: the MP table leaves every byte of the ACPI area alone
 * and names the MADT's IOAPIC. */
TEST(mptable_beside_acpi)
{
    struct fake_vm f;
    struct mp_info mp;
    CHECK(LAYOUT_MPTABLE_CONFIG >= LAYOUT_ACPI + LAYOUT_ACPI_SIZE ||
          LAYOUT_MPTABLE_CONFIG + LAYOUT_MPTABLE_CONFIG_SIZE <= LAYOUT_ACPI);
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 4));
    REQUIRE(acpi_setup(&f.vm) == 0);
    uint8_t *before = read_ram(&f.vm, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
    CHECK_EQ(mptable_setup(&f.vm), 0);
    uint8_t *after = read_ram(&f.vm, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
    CHECK(before && after && !memcmp(before, after, LAYOUT_ACPI_SIZE));
    free(before);
    free(after);
    int madt_id = madt_ioapic_id(&f.vm);
    CHECK(madt_id >= 0);
    if (find_mptable(&f.vm, &mp))
        CHECK_EQ(mp.ioapic_id, madt_id);
    fake_vm_destroy(&f);
}

/* The other order: the ACPI tables leave the MP table intact too. */
TEST(acpi_after_mptable)
{
    struct fake_vm f;
    struct mp_info mp;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 64));
    CHECK_EQ(mptable_setup(&f.vm), 0);
    CHECK_EQ(acpi_setup(&f.vm), 0);
    CHECK(madt_ioapic_id(&f.vm) == 64);
    CHECK(find_mptable(&f.vm, &mp) && mp.processors == 64);
    fake_vm_destroy(&f);
}

/* Nothing is written when the table cannot be built. */
TEST(setup_refuses_bad_machines)
{
    struct fake_vm f;
    uint64_t found;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 0));
    CHECK_EQ(mptable_setup(&f.vm), (uint64_t)-1);
    f.vm.nr_vcpus = MAX_MP_VCPUS + 1;
    CHECK_EQ(mptable_setup(&f.vm), (uint64_t)-1);
    CHECK(!scan_floating(&f.vm, SCAN2_BASE, SCAN2_SIZE, &found));
    uint8_t sig[4];
    address_space_read(f.vm.as_mem, SCAN3_BASE, sig, sizeof(sig));
    CHECK(memcmp(sig, "PCMP", 4));
    fake_vm_destroy(&f);
    REQUIRE(fake_vm_init_with_ram(&f, 0x80000, 1));           /* no RAM at 0x9fc00 */
    CHECK_EQ(mptable_setup(&f.vm), (uint64_t)-1);
    fake_vm_destroy(&f);
    REQUIRE(fake_vm_init_with_ram(&f, 0xa0000, 1));           /* none at 0xf0000 */
    CHECK_EQ(mptable_setup(&f.vm), (uint64_t)-1);
    CHECK(!scan_floating(&f.vm, SCAN2_BASE, SCAN2_SIZE, &found));
    fake_vm_destroy(&f);
}
