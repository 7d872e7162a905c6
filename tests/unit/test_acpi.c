/* ACPI: the tables acpi_setup writes into guest RAM, read back through the
 * address space and parsed here independently of the builder (as Linux finds
 * and checks them), and the power-management registers driven through the I/O
 * address space at the ports the FADT gives. The AML emitter's own encodings
 * are in test_aml.c. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "util/bytes.h"
#include "vmm/acpi.h"
#include "vmm/aml.h"
#include "vmm/layout.h"

#define RAM_SIZE      (2ull << 20)
#define SCAN_BASE     0xe0000ull     /* Linux's RSDP scan window */
#define SCAN_SIZE     0x20000ull

/* ---- reading tables back ------------------------------------------------------------ */

static bool sums_to_zero(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

struct table {
    uint8_t *data;          /* malloc'ed copy, NULL if invalid */
    uint32_t len;
};

/* Reads a table at `gpa` and checks what every table must satisfy. */
static struct table read_table(struct vm *vm, uint64_t gpa, const char *sig)
{
    struct table t = { 0 };
    uint8_t hdr[36] = { 0 };
    bool in_area = gpa >= LAYOUT_ACPI && gpa + sizeof(hdr) <= LAYOUT_ACPI + LAYOUT_ACPI_SIZE;
    if (in_area)
        address_space_read(vm->as_mem, gpa, hdr, sizeof(hdr));
    uint32_t len = get_le32(hdr + 4);
    if (!in_area || len < 36 || gpa + len > LAYOUT_ACPI + LAYOUT_ACPI_SIZE ||
        (sig && memcmp(hdr, sig, 4))) {
        test_fail_(__FILE__, __LINE__, "bad table at 0x%" PRIx64 " (%.4s, %u bytes)", gpa,
                   (const char *)hdr, len);
        return t;
    }
    t.data = malloc(len);
    t.len = len;
    address_space_read(vm->as_mem, gpa, t.data, len);
    CHECK(sums_to_zero(t.data, len));
    CHECK(!memcmp(t.data + 10, "MINIVM", 6));
    CHECK(!memcmp(t.data + 28, "MVMM", 4));
    return t;
}

struct acpi_tables {
    uint8_t rsdp[36];
    struct table xsdt, fadt, madt, dsdt;
};

/* Finds the RSDP as Linux does (16-byte steps through 0xe0000-0xfffff, then
 * signature and checksums) and follows XSDT -> every table, FADT -> DSDT. */
static bool find_tables(struct vm *vm, struct acpi_tables *t)
{
    memset(t, 0, sizeof(*t));
    uint8_t *win = malloc(SCAN_SIZE);
    address_space_read(vm->as_mem, SCAN_BASE, win, SCAN_SIZE);
    bool found = false;
    for (size_t off = 0; off + 36 <= SCAN_SIZE && !found; off += 16) {
        const uint8_t *p = win + off;
        found = !memcmp(p, "RSD PTR ", 8) && sums_to_zero(p, 20) && p[15] >= 2 &&
                sums_to_zero(p, 36);
        if (found)
            memcpy(t->rsdp, p, 36);
    }
    free(win);
    if (!found)
        return false;
    CHECK_EQ(get_le32(t->rsdp + 20), 36);
    CHECK(!memcmp(t->rsdp + 9, "MINIVM", 6));

    t->xsdt = read_table(vm, get_le64(t->rsdp + 24), "XSDT");
    if (!t->xsdt.data)
        return false;
    for (uint32_t off = 36; off + 8 <= t->xsdt.len; off += 8) {
        uint64_t gpa = get_le64(t->xsdt.data + off);
        struct table e = read_table(vm, gpa, NULL);
        if (!e.data)
            return false;
        struct table *slot = !memcmp(e.data, "FACP", 4) ? &t->fadt
                           : !memcmp(e.data, "APIC", 4) ? &t->madt : NULL;
        if (slot && !slot->data)
            *slot = e;
        else
            free(e.data);
    }
    CHECK_EQ((t->xsdt.len - 36) % 8, 0);
    if (!t->fadt.data || !t->madt.data)
        return false;
    if (t->fadt.len >= 148)
        t->dsdt = read_table(vm, get_le64(t->fadt.data + 140), "DSDT");
    return t->dsdt.data != NULL;
}

static void free_tables(struct acpi_tables *t)
{
    free(t->xsdt.data);
    free(t->fadt.data);
    free(t->madt.data);
    free(t->dsdt.data);
}

/* ---- an AML walker for what a DSDT of ours may hold ------------------------------- */

#define MAX_NAMES 32

struct aml_name {
    char path[64];          /* e.g. \_SB_.COM1._HID */
    const uint8_t *obj;     /* the named data object */
    size_t len;
};

struct aml_walk {
    struct aml_name names[MAX_NAMES];
    unsigned nr_names;
    bool ok;
};

/* PkgLength at p (within end): the end of the object it measures, or NULL. */
static const uint8_t *pkg_end(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *start = *p;
    if (start >= end)
        return NULL;
    unsigned extra = start[0] >> 6;
    uint32_t value;
    if (extra == 0) {
        value = start[0] & 0x3f;
    } else {
        if (start[0] & 0x30 || start + 1 + extra > end)
            return NULL;
        value = start[0] & 0x0f;
        for (unsigned i = 0; i < extra; i++)
            value |= (uint32_t)start[1 + i] << (4 + 8 * i);
    }
    *p = start + 1 + extra;
    if (value < 1 + extra || value > (size_t)(end - start))
        return NULL;
    return start + value;
}

/* NameString -> "\X.Y" or "X" (segments kept 4 characters long). */
static bool name_string(const uint8_t **p, const uint8_t *end, char *out, size_t size)
{
    const uint8_t *q = *p;
    size_t n = 0;
    unsigned segs = 1;
    if (q < end && *q == '\\') {
        out[n++] = '\\';
        q++;
    }
    if (q < end && *q == 0x2e) {
        segs = 2;
        q++;
    } else if (q + 1 < end && *q == 0x2f) {
        segs = q[1];
        q += 2;
    }
    if (segs == 0 || q + 4 * segs > end || n + 5 * segs >= size)
        return false;
    for (unsigned s = 0; s < segs; s++) {
        if (s)
            out[n++] = '.';
        for (int i = 0; i < 4; i++) {
            char c = (char)*q++;
            if (!((c >= 'A' && c <= 'Z') || c == '_' || (i && c >= '0' && c <= '9')))
                return false;
            out[n++] = c;
        }
    }
    out[n] = 0;
    *p = q;
    return true;
}

static bool integer_object(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    /* whole object sizes: ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix + data */
    static const unsigned sizes[] = { [0x00] = 1, [0x01] = 1, [0x0a] = 2, [0x0b] = 3,
                                      [0x0c] = 5, [0x0e] = 9 };
    const uint8_t *q = *p;
    if (q >= end || *q > 0x0e || !sizes[*q] || q + sizes[*q] > end)
        return false;
    *v = sizes[*q] == 1 ? *q : 0;
    for (unsigned i = 1; i < sizes[*q]; i++)
        *v |= (uint64_t)q[i] << (8 * (i - 1));
    *p = q + sizes[*q];
    return true;
}

/* Integer, String, Buffer or Package at *p, which moves past it. */
static bool data_object(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *q = *p, *obj_end;
    uint64_t v;
    if (integer_object(p, end, &v))
        return true;
    if (q >= end)
        return false;
    switch (*q++) {
    case 0x0d:      /* String */
        while (q < end && *q)
            q++;
        if (q >= end)
            return false;
        *p = q + 1;
        return true;
    case 0x11:      /* Buffer: PkgLength BufferSize bytes */
        if (!(obj_end = pkg_end(&q, end)) || !integer_object(&q, obj_end, &v) ||
            v != (uint64_t)(obj_end - q))
            return false;
        *p = obj_end;
        return true;
    case 0x12: {    /* Package: PkgLength NumElements elements */
        if (!(obj_end = pkg_end(&q, end)) || q >= obj_end)
            return false;
        unsigned count = *q++, seen = 0;
        while (q < obj_end && data_object(&q, obj_end))
            seen++;
        *p = obj_end;
        return q == obj_end && seen == count;
    }
    }
    return false;
}

/* The path of `name` (absolute, or relative to `scope`); false if too long. */
static bool join_path(char *out, size_t size, const char *scope, const char *name)
{
    bool absolute = name[0] == '\\';
    const char *sep = absolute || !strcmp(scope, "\\") ? "" : ".";
    int n = snprintf(out, size, "%s%s%s", absolute ? "" : scope, sep, name);
    return n >= 0 && (size_t)n < size;
}

/* TermList of Scope, Device and Name objects, exactly filling [p, end). */
static void term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end, const char *scope)
{
    while (w->ok && p < end) {
        char name[64], path[64];
        const uint8_t *obj_end;
        bool is_device = p + 1 < end && p[0] == 0x5b && p[1] == 0x82;
        if (p[0] == 0x10 || is_device) {
            p += is_device ? 2 : 1;
            if (!(obj_end = pkg_end(&p, end)) || !name_string(&p, obj_end, name, sizeof(name)) ||
                !join_path(path, sizeof(path), scope, name)) {
                w->ok = false;
                return;
            }
            term_list(w, p, obj_end, path);
            p = obj_end;
        } else if (p[0] == 0x08 && w->nr_names < MAX_NAMES) {
            p++;
            struct aml_name *n = &w->names[w->nr_names++];
            if (!name_string(&p, end, name, sizeof(name)) ||
                !join_path(n->path, sizeof(n->path), scope, name)) {
                w->ok = false;
                return;
            }
            const uint8_t *obj = p;
            w->ok = data_object(&p, end);
            n->obj = obj;
            n->len = (size_t)(p - obj);
        } else if (p[0] == 0x14 && w->nr_names < MAX_NAMES) {
            /* Method: PkgLength NameString, then MethodFlags and the body, kept
             * whole as the name's object for the tests to compare. */
            p++;
            struct aml_name *n = &w->names[w->nr_names++];
            if (!(obj_end = pkg_end(&p, end)) || !name_string(&p, obj_end, name, sizeof(name)) ||
                !join_path(n->path, sizeof(n->path), scope, name) || p >= obj_end) {
                w->ok = false;
                return;
            }
            n->obj = p;
            n->len = (size_t)(obj_end - p);
            p = obj_end;
        } else {
            w->ok = false;
        }
    }
}

static const struct aml_name *find_name(const struct aml_walk *w, const char *path)
{
    for (unsigned i = 0; i < w->nr_names; i++)
        if (!strcmp(w->names[i].path, path))
            return &w->names[i];
    return NULL;
}

static bool walk_dsdt(const struct table *dsdt, struct aml_walk *w)
{
    memset(w, 0, sizeof(*w));
    w->ok = true;
    term_list(w, dsdt->data + 36, dsdt->data + dsdt->len, "\\");
    return w->ok;
}

/* The first element of \_S5_ (or another \_Sx_), the SLP_TYP of soft-off. */
static bool sx_sleep_type(const struct aml_walk *w, const char *name, uint64_t *type)
{
    const struct aml_name *s5 = find_name(w, name);
    if (!s5 || s5->obj[0] != 0x12)
        return false;
    const uint8_t *p = s5->obj + 1, *end = s5->obj + s5->len;
    return pkg_end(&p, end) && p < end && *p++ >= 1 && integer_object(&p, end, type);
}

static bool s5_sleep_type(const struct aml_walk *w, uint64_t *type)
{
    return sx_sleep_type(w, "\\_S5_", type);
}

/* ---- the tests ------------------------------------------------------------------------ */

/* A VM with nr_vcpus, acpi_setup run and its tables found. */
static bool machine(struct fake_vm *f, struct acpi_tables *t, unsigned nr_vcpus)
{
    memset(t, 0, sizeof(*t));
    bool ok = fake_vm_init_with_ram(f, RAM_SIZE, nr_vcpus) && acpi_setup(&f->vm) == 0 &&
              find_tables(&f->vm, t);
    CHECK(ok);
    return ok;
}

static void machine_done(struct fake_vm *f, struct acpi_tables *t)
{
    free_tables(t);
    fake_vm_destroy(f);
}

static void check_madt(unsigned nr_vcpus)
{
    struct fake_vm f;
    struct acpi_tables t;
    if (machine(&f, &t, nr_vcpus)) {
        const uint8_t *m = t.madt.data;
        CHECK_EQ(get_le32(m + 36), 0xfee00000);
        CHECK(get_le32(m + 40) & 1);                    /* PCAT_COMPAT */
        unsigned lapics = 0, ioapics = 0, irq0_overrides = 0;
        bool lapic_ids[256] = { false };
        int ioapic_id = -1;
        uint32_t off = 44;
        while (off + 2 <= t.madt.len) {
            const uint8_t *e = m + off;
            if (e[1] < 2 || off + e[1] > t.madt.len)
                break;
            if (e[0] == 0 && e[1] == 8) {
                CHECK_EQ(e[2], e[3]);               /* processor UID = APIC id */
                CHECK(get_le32(e + 4) & 1);             /* enabled */
                CHECK(!lapic_ids[e[3]]);
                lapic_ids[e[3]] = true;
                lapics++;
            } else if (e[0] == 1 && e[1] == 12) {
                CHECK_EQ(get_le32(e + 4), 0xfec00000);
                CHECK_EQ(get_le32(e + 8), 0);           /* GSI base */
                ioapic_id = e[2];
                ioapics++;
            } else if (e[0] == 2 && e[1] == 10 && e[3] == 0) {
                CHECK_EQ(e[2], 0);                  /* ISA */
                CHECK_EQ(get_le32(e + 4), 2);
                irq0_overrides++;
            }
            off += e[1];
        }
        CHECK_EQ(off, t.madt.len);
        CHECK_EQ(lapics, nr_vcpus);
        for (unsigned i = 0; i < nr_vcpus; i++)
            CHECK(lapic_ids[i]);
        CHECK_EQ(ioapics, 1);
        CHECK(ioapic_id >= 0 && !lapic_ids[ioapic_id]);
        CHECK_EQ(irq0_overrides, 1);
    }
    machine_done(&f, &t);
}

TEST(madt_one_vcpu) { check_madt(1); }
TEST(madt_four_vcpus) { check_madt(4); }

static void check_rsdp_xsdt_fadt(unsigned nr_vcpus)
{
    struct fake_vm f;
    struct acpi_tables t;
    if (machine(&f, &t, nr_vcpus)) {
        CHECK(!memcmp(t.rsdp, "RSD PTR ", 8));
        CHECK_EQ(t.rsdp[15], 2);
        CHECK_EQ(t.xsdt.data[8], 1);

        const uint8_t *fa = t.fadt.data;
        CHECK_EQ(t.fadt.len, 276);
        CHECK_EQ(fa[8], 6);                         /* FADT 6.x */
        CHECK(fa[131] >= 3);                        /* minor version */
        uint32_t flags = get_le32(fa + 112);
        CHECK(flags & (1u << 20));                  /* HW_REDUCED_ACPI */
        CHECK(flags & (1u << 10));                  /* RESET_REG_SUP */
        uint16_t boot = get_le16(fa + 109);
        CHECK(boot & (1u << 2));                    /* NO_VGA */
        CHECK(!(boot & (1u << 1)));                 /* no 8042 */
        CHECK(!(boot & (1u << 3)));                 /* MSI allowed */
        CHECK_EQ(get_le32(fa + 40), get_le64(fa + 140));    /* DSDT = X_DSDT */
        CHECK_EQ(get_le32(fa + 36), ACPI_FACS_ADDR);    /* FACS = X_FACS */
        CHECK_EQ(get_le64(fa + 132), ACPI_FACS_ADDR);
        CHECK_EQ(fa[108], 0x32);                        /* RTC century index */
        /* reset register, sleep control and status: byte-wide I/O ports */
        static const unsigned gas[] = { 116, 244, 256 };
        for (unsigned i = 0; i < 3; i++) {
            const uint8_t *g = fa + gas[i];     /* space, width, offset, access */
            CHECK(g[0] == 1 && g[1] == 8 && g[2] == 0 && g[3] <= 1);
            CHECK(get_le64(g + 4) != 0 && get_le64(g + 4) < 0x10000);
        }
        /* Linux mistakes an override of source SCI_INT for the SCI's. */
        uint16_t sci = get_le16(fa + 46);
        for (uint32_t off = 44; off + 10 <= t.madt.len; off += t.madt.data[off + 1] ?: 1) {
            const uint8_t *e = t.madt.data + off;
            CHECK(!(e[0] == 2 && e[3] == sci));
        }
    }
    machine_done(&f, &t);
}

TEST(rsdp_xsdt_fadt_one_vcpu) { check_rsdp_xsdt_fadt(1); }
TEST(rsdp_xsdt_fadt_four_vcpus) { check_rsdp_xsdt_fadt(4); }

/* Decodes a ResourceTemplate: exactly one IO and one IRQ descriptor, then the
 * end tag closing the buffer. */
static void check_com1_crs(const struct aml_name *crs)
{
    const uint8_t *p = crs->obj, *end = crs->obj + crs->len;
    uint64_t size;
    REQUIRE(*p++ == 0x11);                          /* Buffer */
    REQUIRE(pkg_end(&p, end) == end);
    REQUIRE(integer_object(&p, end, &size) && size == (uint64_t)(end - p));
    unsigned io = 0, irq = 0;
    bool end_tag = false;
    while (p < end && !end_tag) {
        REQUIRE(!(p[0] & 0x80));                    /* small descriptors only */
        unsigned type = p[0] >> 3 & 0x0f, len = p[0] & 7;
        REQUIRE(p + 1 + len <= end);
        if (type == 0x08 && len == 7) {             /* IO */
            CHECK_EQ(p[1] & 1, 1);                  /* 16-bit decode */
            CHECK_EQ(get_le16(p + 2), 0x3f8);
            CHECK_EQ(get_le16(p + 4), 0x3f8);
            CHECK_EQ(p[7], 8);
            io++;
        } else if (type == 0x04 && (len == 2 || len == 3)) {  /* IRQ */
            CHECK_EQ(get_le16(p + 1), 1u << 4);
            irq++;
        } else if (type == 0x0f && len == 1) {
            CHECK_EQ(p[1], 0);                      /* checksum 0: "treated as valid" */
            end_tag = true;
        } else {
            CHECK(!"known descriptor");
        }
        p += 1 + len;
    }
    CHECK(end_tag);
    CHECK(p == end);
    CHECK_EQ(io, 1);
    CHECK_EQ(irq, 1);
}

/* GED0 (ACPI0013) with one edge interrupt, ACPI_GED_GSI, whose _EVT notifies
 * PWRB (PNP0C0C) with 0x80, "button pressed". */
static void check_power_button(const struct aml_walk *w)
{
    const struct aml_name *hid = find_name(w, "\\_SB_.GED0._HID");
    CHECK(hid && hid->len == 10 && !memcmp(hid->obj, "\x0d" "ACPI0013", 10));
    const struct aml_name *crs = find_name(w, "\\_SB_.GED0._CRS");
    /* Buffer of 9 + end tag: 0x89, length 6, consumer|edge, one interrupt, the GSI */
    static const uint8_t irq[] = { 0x89, 6, 0, 0x03, 1, ACPI_GED_GSI, 0, 0, 0, 0x79, 0 };
    CHECK(crs && crs->len >= sizeof(irq) &&
          !memcmp(crs->obj + crs->len - sizeof(irq), irq, sizeof(irq)));
    const struct aml_name *evt = find_name(w, "\\_SB_.GED0._EVT");
    /* flags (1 argument), Notify (\_SB_.PWRB, 0x80) */
    static const uint8_t body[] = { 0x01, 0x86, '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B',
                                    0x0a, 0x80 };
    CHECK(evt && evt->len == sizeof(body) && !memcmp(evt->obj, body, sizeof(body)));
    hid = find_name(w, "\\_SB_.PWRB._HID");
    CHECK(hid && hid->len == 5 && !memcmp(hid->obj, "\x0c\x41\xd0\x0c\x0c", 5));
}

static void check_dsdt(unsigned nr_vcpus)
{
    struct fake_vm f;
    struct acpi_tables t;
    struct aml_walk w;
    if (machine(&f, &t, nr_vcpus)) {
        CHECK_EQ(t.dsdt.data[8], 2);                /* 64-bit integers */
        CHECK(walk_dsdt(&t.dsdt, &w));              /* PkgLengths fill the table exactly */
        const struct aml_name *hid = find_name(&w, "\\_SB_.COM1._HID");
        const struct aml_name *uid = find_name(&w, "\\_SB_.COM1._UID");
        const struct aml_name *crs = find_name(&w, "\\_SB_.COM1._CRS");
        CHECK(hid && hid->len == 5 && !memcmp(hid->obj, "\x0c\x41\xd0\x05\x01", 5));
        CHECK(uid && uid->len == 1 && uid->obj[0] == 0x00);
        CHECK(crs != NULL);
        if (crs)
            check_com1_crs(crs);
        uint64_t type;
        CHECK(s5_sleep_type(&w, &type) && type == ACPI_S5_SLEEP_TYPE);
        CHECK(sx_sleep_type(&w, "\\_S3_", &type) && type == ACPI_S3_SLEEP_TYPE);
        hid = find_name(&w, "\\_SB_.RTC_._HID");   /* EisaId PNP0B00 */
        CHECK(hid && hid->len == 5 && !memcmp(hid->obj, "\x0c\x41\xd0\x0b\x00", 5));
        CHECK(find_name(&w, "\\_SB_.RTC_._CRS") != NULL);
        check_power_button(&w);
    }
    machine_done(&f, &t);
}

TEST(dsdt_power_button_builder)
{
    struct aml a;
    aml_init(&a);
    aml_method_begin(&a, "_EVT", 8);                 /* at most 7 arguments */
    CHECK(aml_finish(&a) != 0);
    aml_free(&a);
}

TEST(dsdt_one_vcpu) { check_dsdt(1); }
TEST(dsdt_four_vcpus) { check_dsdt(4); }

TEST(setup_refuses_bad_machines)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 0));
    CHECK_EQ(acpi_setup(&f.vm), (uint64_t)-1);
    f.vm.nr_vcpus = 255;                            /* more than xAPIC ids allow */
    CHECK_EQ(acpi_setup(&f.vm), (uint64_t)-1);
    fake_vm_destroy(&f);
    REQUIRE(fake_vm_init_with_ram(&f, 0x80000, 1));           /* no RAM at 0xe0000 */
    CHECK_EQ(acpi_setup(&f.vm), (uint64_t)-1);
    fake_vm_destroy(&f);
}

/* ---- the power-management registers, at the addresses the tables give ------------- */

struct pm_regs {
    uint16_t sleep_control, sleep_status, reset;
    uint8_t reset_value, s5_type;
};

static bool pm_setup(struct fake_vm *f, struct pm_regs *r)
{
    struct acpi_tables t;
    struct aml_walk w;
    uint64_t type = 0;
    bool ok = machine(f, &t, 2) && walk_dsdt(&t.dsdt, &w) && s5_sleep_type(&w, &type);
    if (ok) {
        r->reset = (uint16_t)get_le64(t.fadt.data + 116 + 4);
        r->reset_value = t.fadt.data[128];
        r->sleep_control = (uint16_t)get_le64(t.fadt.data + 244 + 4);
        r->sleep_status = (uint16_t)get_le64(t.fadt.data + 256 + 4);
        r->s5_type = (uint8_t)type;
    }
    free_tables(&t);
    return ok;
}

static void outb(struct fake_vm *f, uint16_t port, uint8_t val)
{
    CHECK_EQ(address_space_write(f->vm.as_io, port, &val, 1), MEMTX_OK);
}

/* vm_request_exit ran on this thread: no lock needed to look. */
static bool exited(struct fake_vm *f, int *status)
{
    *status = f->vm.exit_status;
    return f->vm.exit_requested;
}

TEST(pm_s5_powers_off)
{
    struct fake_vm f;
    struct pm_regs r;
    int status;
    REQUIRE(pm_setup(&f, &r));
    /* acpi_hw_extended_sleep: clear WAK_STS, then SLP_TYP | SLP_EN */
    outb(&f, r.sleep_status, 0x80);
    CHECK(!exited(&f, &status));
    outb(&f, r.sleep_control, (uint8_t)(r.s5_type << 2 | 0x20));
    CHECK(exited(&f, &status));
    CHECK_EQ(status, EXIT_POWEROFF);
    MemTxResult res;
    CHECK_EQ(address_space_ldub(f.vm.as_io, r.sleep_status, &res) & 0x80, 0);
    fake_vm_destroy(&f);
}

TEST(pm_reset_reboots)
{
    struct fake_vm f;
    struct pm_regs r;
    int status;
    REQUIRE(pm_setup(&f, &r));
    outb(&f, r.reset, r.reset_value);
    CHECK(exited(&f, &status));
    CHECK_EQ(status, EXIT_REBOOT);
    fake_vm_destroy(&f);
}

TEST(pm_ignores_other_writes)
{
    struct fake_vm f;
    struct pm_regs r;
    int status;
    REQUIRE(pm_setup(&f, &r));
    outb(&f, r.sleep_control, (uint8_t)(r.s5_type << 2));           /* no SLP_EN */
    outb(&f, r.sleep_control, (uint8_t)(((r.s5_type + 1) & 7) << 2 | 0x20)); /* not S5 */
    outb(&f, r.sleep_control, 0xff);                                /* type 7 */
    outb(&f, r.sleep_status, 0xff);
    outb(&f, r.reset, (uint8_t)(r.reset_value + 1));
    outb(&f, r.reset, 0);
    uint16_t wide = 0;                                              /* split per byte */
    address_space_write(f.vm.as_io, r.sleep_control, &wide, 2);
    CHECK(!exited(&f, &status));
    fake_vm_destroy(&f);
}
