/* The AML emitter (vmm/aml.c): exact encodings of integers, names, EISA ids,
 * PkgLength at its boundaries, resource descriptors, and refusal of malformed
 * input. The DSDT as a whole is checked in test_acpi.c. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "vmm/aml.h"

/* Finishes `a`, compares it with `expect` and frees it. */
static bool aml_is(struct aml *a, const void *expect, size_t len)
{
    bool same = aml_finish(a) == 0 && a->len == len && !memcmp(a->buf, expect, len);
    aml_free(a);
    return same;
}

static bool aml_fails(struct aml *a)
{
    bool failed = aml_finish(a) != 0;
    aml_free(a);
    return failed;
}

TEST(integers_take_the_shortest_encoding)
{
    struct aml a;
    aml_init(&a);
    aml_integer(&a, 0);                 /* ZeroOp */
    aml_integer(&a, 1);                 /* OneOp */
    aml_integer(&a, 0xff);              /* BytePrefix */
    aml_integer(&a, 0x100);             /* WordPrefix */
    aml_integer(&a, 0x12345);           /* DWordPrefix */
    aml_integer(&a, 1ull << 32);        /* QWordPrefix */
    CHECK(aml_is(&a, "\x00\x01\x0a\xff\x0b\x00\x01\x0c\x45\x23\x01\x00"
                     "\x0e\x00\x00\x00\x00\x01\x00\x00\x00", 21));
}

TEST(names_strings_and_eisa_ids)
{
    struct aml a;
    aml_init(&a);
    aml_name_decl(&a, "\\_SB.PCI0");    /* root, DualNamePrefix, padded segment */
    aml_string(&a, "ab");
    aml_name_decl(&a, "A.B.C");         /* MultiNamePrefix */
    aml_eisa_id(&a, "PNP0A08");
    aml_name_decl(&a, "_UID");
    aml_eisa_id(&a, "PNP0501");
    CHECK(aml_is(&a, "\x08\\\x2e_SB_PCI0" "\x0d" "ab\x00"
                     "\x08\x2f\x03" "A___B___C___" "\x0c\x41\xd0\x0a\x08"
                     "\x08_UID" "\x0c\x41\xd0\x05\x01", 45));
}

TEST(scopes_and_devices_nest)
{
    struct aml a;
    aml_init(&a);
    aml_scope_begin(&a, "\\_SB_");
    aml_device_begin(&a, "COM1");
    aml_name_decl(&a, "_UID");
    aml_integer(&a, 0);
    aml_end(&a);
    aml_end(&a);
    /* Device: 5B 82, PkgLength 0x0b (itself, COM1, 08 _UID 00); Scope: 0x13 */
    CHECK(aml_is(&a, "\x10\x13\\_SB_" "\x5b\x82\x0b" "COM1" "\x08_UID\x00", 20));
}

/* A package of n ZeroOps: body = NumElements + n bytes. */
static void package_of_zeros(struct aml *a, unsigned n)
{
    aml_init(a);
    aml_package_begin(a);
    for (unsigned i = 0; i < n; i++)
        aml_integer(a, 0);
    aml_end(a);
}

TEST(pkg_length_boundaries)
{
    struct aml a;
    /* 1 + 61 + 1 = 63: the largest 1-byte PkgLength */
    package_of_zeros(&a, 61);
    REQUIRE(aml_finish(&a) == 0);
    CHECK_EQ(a.len, 64);
    CHECK_EQ(a.buf[1], 0x3f);
    CHECK_EQ(a.buf[2], 61);
    aml_free(&a);
    /* 1 + 62 + 2 = 65 = 0x41: lead byte 0x40 | 0x1, then 0x4 */
    package_of_zeros(&a, 62);
    REQUIRE(aml_finish(&a) == 0);
    CHECK_EQ(a.len, 66);
    CHECK_EQ(a.buf[1], 0x41);
    CHECK_EQ(a.buf[2], 0x04);
    CHECK_EQ(a.buf[3], 62);
    aml_free(&a);
    /* 255 elements, the most NumElements holds: 1 + 255 + 2 = 0x102 */
    package_of_zeros(&a, 255);
    REQUIRE(aml_finish(&a) == 0);
    CHECK_EQ(a.buf[1], 0x42);
    CHECK_EQ(a.buf[2], 0x10);
    CHECK_EQ(a.buf[3], 255);
    aml_free(&a);
    /* one more does not fit NumElements */
    package_of_zeros(&a, 256);
    CHECK(aml_fails(&a));

    /* Buffer of 5000 bytes: 3 (PkgLength) + 3 (WordPrefix 0x1388) + 5000 = 0x138e */
    uint8_t *big = calloc(1, 5000);
    aml_init(&a);
    aml_buffer(&a, big, 5000);
    free(big);
    REQUIRE(aml_finish(&a) == 0);
    CHECK_EQ(a.len, 1 + 0x138e);
    static const uint8_t head[] = { 0x11, 0x8e, 0x38, 0x01, 0x0b, 0x88, 0x13 };
    CHECK(!memcmp(a.buf, head, sizeof(head)));
    aml_free(&a);
}

TEST(resource_template)
{
    struct aml a, res;
    aml_init(&a);
    aml_init(&res);
    aml_res_io(&res, 0x3f8, 8);
    aml_res_irq(&res, 4);
    aml_resource_template(&a, &res);
    aml_free(&res);
    /* Buffer, PkgLength 0x10, size 13: IO (Decode16, 0x3f8, 0x3f8, 1, 8),
     * IRQNoFlags {4}, end tag with checksum 0 */
    CHECK(aml_is(&a, "\x11\x10\x0a\x0d" "\x47\x01\xf8\x03\xf8\x03\x01\x08"
                     "\x22\x10\x00" "\x79\x00", 17));
}

TEST(malformed_input_fails)
{
    static const char *const bad_names[] = { "", "\\", "ABCDE", "1ABC", "A..B", "a", "A." };
    struct aml a, res;
    for (unsigned i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
        aml_init(&a);
        aml_name_decl(&a, bad_names[i]);
        CHECK(aml_fails(&a));
    }
    aml_init(&a);
    aml_scope_begin(&a, "\\_SB_");      /* never closed */
    CHECK(aml_fails(&a));
    aml_init(&a);
    aml_end(&a);                        /* nothing open */
    CHECK(aml_fails(&a));
    aml_init(&a);
    aml_package_begin(&a);
    aml_name_decl(&a, "_UID");          /* named objects do not go in packages */
    aml_end(&a);
    CHECK(aml_fails(&a));
    aml_init(&a);
    aml_eisa_id(&a, "pnp0501");
    CHECK(aml_fails(&a));
    aml_init(&a);
    aml_string(&a, "caf\xc3\xa9");
    CHECK(aml_fails(&a));
    aml_init(&a);
    aml_init(&res);
    aml_res_irq(&res, 16);              /* ISA IRQs are 0-15 */
    aml_resource_template(&a, &res);
    CHECK(aml_fails(&a));
    aml_free(&res);
}
