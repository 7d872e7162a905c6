/* The AML emitter: see aml.h. Encodings from the ACPI specification, chapter
 * "ACPI Machine Language (AML) Specification", and "Resource Data Types". */
#include "vmm/aml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

enum {
    AML_ZERO_OP = 0x00,
    AML_ONE_OP = 0x01,
    AML_NAME_OP = 0x08,
    AML_BYTE_PREFIX = 0x0a,
    AML_WORD_PREFIX = 0x0b,
    AML_DWORD_PREFIX = 0x0c,
    AML_STRING_PREFIX = 0x0d,
    AML_QWORD_PREFIX = 0x0e,
    AML_SCOPE_OP = 0x10,
    AML_BUFFER_OP = 0x11,
    AML_PACKAGE_OP = 0x12,
    AML_DUAL_NAME_PREFIX = 0x2e,
    AML_MULTI_NAME_PREFIX = 0x2f,
    AML_EXT_OP_PREFIX = 0x5b,
    AML_ROOT_CHAR = 0x5c,
    AML_METHOD_OP = 0x14,
    AML_NOTIFY_OP = 0x86,
    AML_DEVICE_OP = 0x82,     /* after AML_EXT_OP_PREFIX */
};

/* Small resource descriptors: tag byte = type << 3 | length of the body. */
#define RES_SMALL(type, len) ((uint8_t)((type) << 3 | (len)))
#define RES_IRQ        RES_SMALL(0x04, 2)  /* IRQ mask only: edge, active high, exclusive */
#define RES_IO         RES_SMALL(0x08, 7)
#define RES_END_TAG    RES_SMALL(0x0f, 1)
#define RES_EXT_IRQ    0x89                /* large item 0x09: extended interrupt */
#define RES_EXT_IRQ_CONSUMER 0x01
#define RES_EXT_IRQ_EDGE     0x02
#define RES_IO_DECODE16 0x01

#define AML_MAX_NAME_SEGS 16
#define PKG_LENGTH_MAX 0x0fffffffu  /* 28 bits in the 4-byte encoding */

static void fail(struct aml *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct aml *a, const char *fmt, ...)
{
    if (a->failed)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error("ACPI: AML: %s", msg);
    a->failed = true;
}

void aml_init(struct aml *a)
{
    memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
    free(a->buf);
    aml_init(a);
}

int aml_finish(struct aml *a)
{
    if (!a->failed && a->depth)
        fail(a, "%u scope(s) left open", a->depth);
    return a->failed ? -1 : 0;
}

static bool reserve(struct aml *a, size_t more)
{
    if (a->failed)
        return false;
    if (a->len + more <= a->cap)
        return true;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more)
        cap *= 2;
    uint8_t *buf = realloc(a->buf, cap);
    if (!buf) {
        fail(a, "out of memory");
        return false;
    }
    a->buf = buf;
    a->cap = cap;
    return true;
}

static void emit(struct aml *a, const void *data, size_t len)
{
    if (!reserve(a, len))
        return;
    memcpy(a->buf + a->len, data, len);
    a->len += len;
}

static void emit_byte(struct aml *a, uint8_t b)
{
    emit(a, &b, 1);
}

static void emit_le(struct aml *a, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        emit_byte(a, (uint8_t)(v >> (8 * i)));
}

static struct aml_frame *innermost(struct aml *a)
{
    return a->depth ? &a->frames[a->depth - 1] : NULL;
}

/* Every data object appended directly inside a package is one of its elements. */
static void count_element(struct aml *a)
{
    struct aml_frame *f = innermost(a);
    if (f && f->kind == AML_PACKAGE_OP)
        f->elements++;
}

/* Named objects (Name, Scope, Device) only make sense in a term list, not
 * inside a package or buffer. */
static bool in_term_list(struct aml *a, const char *what)
{
    struct aml_frame *f = innermost(a);
    if (f && (f->kind == AML_PACKAGE_OP || f->kind == AML_BUFFER_OP)) {
        fail(a, "%s inside a package or buffer", what);
        return false;
    }
    return true;
}

static bool seg_char_ok(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static void emit_name(struct aml *a, const char *name)
{
    char segs[AML_MAX_NAME_SEGS][4];
    unsigned nr = 0;
    const char *p = name;
    bool root = *p == '\\';
    if (root)
        p++;
    for (;;) {
        size_t n = strcspn(p, ".");
        if (n < 1 || n > 4 || nr == AML_MAX_NAME_SEGS) {
            fail(a, "bad name \"%s\"", name);
            return;
        }
        memset(segs[nr], '_', 4);
        for (size_t i = 0; i < n; i++) {
            if (!seg_char_ok(p[i], i == 0)) {
                fail(a, "bad name \"%s\"", name);
                return;
            }
            segs[nr][i] = p[i];
        }
        nr++;
        p += n;
        if (!*p)
            break;
        p++;    /* the '.' */
    }
    if (root)
        emit_byte(a, AML_ROOT_CHAR);
    if (nr == 2) {
        emit_byte(a, AML_DUAL_NAME_PREFIX);
    } else if (nr > 2) {
        emit_byte(a, AML_MULTI_NAME_PREFIX);
        emit_byte(a, (uint8_t)nr);
    }
    emit(a, segs, 4 * nr);
}

static void open_frame(struct aml *a, uint8_t kind)
{
    if (a->depth == AML_MAX_DEPTH) {
        fail(a, "nesting deeper than %d", AML_MAX_DEPTH);
        return;
    }
    a->frames[a->depth++] = (struct aml_frame){ .body = a->len, .kind = kind };
}

void aml_name_decl(struct aml *a, const char *name)
{
    if (!in_term_list(a, "Name"))
        return;
    emit_byte(a, AML_NAME_OP);
    emit_name(a, name);
}

void aml_scope_begin(struct aml *a, const char *name)
{
    if (!in_term_list(a, "Scope"))
        return;
    emit_byte(a, AML_SCOPE_OP);
    open_frame(a, AML_SCOPE_OP);
    emit_name(a, name);
}

void aml_device_begin(struct aml *a, const char *name)
{
    if (!in_term_list(a, "Device"))
        return;
    emit_byte(a, AML_EXT_OP_PREFIX);
    emit_byte(a, AML_DEVICE_OP);
    open_frame(a, AML_DEVICE_OP);
    emit_name(a, name);
}

void aml_method_begin(struct aml *a, const char *name, unsigned nargs)
{
    if (!in_term_list(a, "Method"))
        return;
    if (nargs > 7) {
        fail(a, "Method with %u arguments", nargs);
        return;
    }
    emit_byte(a, AML_METHOD_OP);
    open_frame(a, AML_METHOD_OP);
    emit_name(a, name);
    emit_byte(a, (uint8_t)nargs);   /* MethodFlags: ArgCount, not serialized, SyncLevel 0 */
}

void aml_notify(struct aml *a, const char *name, uint8_t value)
{
    if (!in_term_list(a, "Notify"))
        return;
    emit_byte(a, AML_NOTIFY_OP);
    emit_name(a, name);
    aml_integer(a, value);
}

void aml_package_begin(struct aml *a)
{
    count_element(a);
    emit_byte(a, AML_PACKAGE_OP);
    open_frame(a, AML_PACKAGE_OP);
    emit_byte(a, 0);    /* NumElements, known at aml_end */
}

/* PkgLength counts its own bytes too: 1 byte up to 63, else a lead byte with
 * the count of following bytes in bits 7-6 and the low nibble in bits 3-0. */
void aml_end(struct aml *a)
{
    if (a->failed)
        return;
    if (!a->depth) {
        fail(a, "aml_end without an open scope");
        return;
    }
    struct aml_frame f = a->frames[--a->depth];
    if (f.kind == AML_PACKAGE_OP) {
        if (f.elements > 255) {
            fail(a, "package of %u elements", f.elements);
            return;
        }
        a->buf[f.body] = (uint8_t)f.elements;
    }
    size_t body = a->len - f.body;
    unsigned nbytes = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
    if (body + nbytes > PKG_LENGTH_MAX) {
        fail(a, "object of %zu bytes is too long", body);
        return;
    }
    if (!reserve(a, nbytes))
        return;
    uint32_t value = (uint32_t)(body + nbytes);
    uint8_t enc[4];
    if (nbytes == 1) {
        enc[0] = (uint8_t)value;
    } else {
        enc[0] = (uint8_t)((nbytes - 1) << 6 | (value & 0x0f));
        for (unsigned i = 1; i < nbytes; i++)
            enc[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
    }
    memmove(a->buf + f.body + nbytes, a->buf + f.body, body);
    memcpy(a->buf + f.body, enc, nbytes);
    a->len += nbytes;
}

void aml_integer(struct aml *a, uint64_t value)
{
    count_element(a);
    if (value == 0) {
        emit_byte(a, AML_ZERO_OP);
    } else if (value == 1) {
        emit_byte(a, AML_ONE_OP);
    } else if (value <= UINT8_MAX) {
        emit_byte(a, AML_BYTE_PREFIX);
        emit_le(a, value, 1);
    } else if (value <= UINT16_MAX) {
        emit_byte(a, AML_WORD_PREFIX);
        emit_le(a, value, 2);
    } else if (value <= UINT32_MAX) {
        emit_byte(a, AML_DWORD_PREFIX);
        emit_le(a, value, 4);
    } else {
        emit_byte(a, AML_QWORD_PREFIX);
        emit_le(a, value, 8);
    }
}

void aml_string(struct aml *a, const char *s)
{
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p > 0x7f) {
            fail(a, "non-ASCII string");
            return;
        }
    }
    count_element(a);
    emit_byte(a, AML_STRING_PREFIX);
    emit(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Compressed EISA id: three letters in 5 bits each ('A' = 1), then the product
 * number as four nibbles, stored big-endian in the DWord's memory bytes. */
void aml_eisa_id(struct aml *a, const char *id)
{
    int nib[4];
    bool ok = strlen(id) == 7;
    for (int i = 0; ok && i < 3; i++)
        ok = id[i] >= 'A' && id[i] <= 'Z';
    for (int i = 0; ok && i < 4; i++)
        ok = (nib[i] = hex_digit(id[3 + i])) >= 0;
    if (!ok) {
        fail(a, "bad EISA id \"%s\"", id);
        return;
    }
    unsigned c0 = (unsigned)(id[0] - '@'), c1 = (unsigned)(id[1] - '@'),
             c2 = (unsigned)(id[2] - '@');
    uint8_t bytes[4] = {
        (uint8_t)(c0 << 2 | c1 >> 3),
        (uint8_t)((c1 & 7) << 5 | c2),
        (uint8_t)(nib[0] << 4 | nib[1]),
        (uint8_t)(nib[2] << 4 | nib[3]),
    };
    count_element(a);
    emit_byte(a, AML_DWORD_PREFIX);  /* always a DWord, as ASL's EisaId() */
    emit(a, bytes, sizeof(bytes));
}

void aml_buffer(struct aml *a, const uint8_t *data, size_t len)
{
    count_element(a);
    emit_byte(a, AML_BUFFER_OP);
    open_frame(a, AML_BUFFER_OP);
    aml_integer(a, len);     /* BufferSize */
    emit(a, data, len);
    aml_end(a);
}

void aml_res_io(struct aml *res, uint16_t base, uint8_t len)
{
    /* minimum = maximum = base: a fixed range, so the alignment is moot (1) */
    uint8_t d[8] = { RES_IO, RES_IO_DECODE16,
                     (uint8_t)base, (uint8_t)(base >> 8),
                     (uint8_t)base, (uint8_t)(base >> 8),
                     1, len };
    emit(res, d, sizeof(d));
}

void aml_res_irq(struct aml *res, unsigned irq)
{
    if (irq > 15) {
        fail(res, "ISA IRQ %u out of range", irq);
        return;
    }
    uint16_t mask = (uint16_t)(1u << irq);
    uint8_t d[3] = { RES_IRQ, (uint8_t)mask, (uint8_t)(mask >> 8) };
    emit(res, d, sizeof(d));
}

/* Large descriptors: tag, 16-bit length of what follows, then the body. */
#define RES_MEMORY32_FIXED 0x86
#define RES_DWORD_ADDRESS  0x87
#define RES_WORD_ADDRESS   0x88
#define RES_QWORD_ADDRESS  0x8a
#define RES_SPACE_MEMORY   0
#define RES_SPACE_IO       1
#define RES_SPACE_BUS      2
#define RES_FLAGS_PRODUCER_FIXED 0x0c   /* _MAF | _MIF, positive decode, producer */

/* An address space descriptor with granularity 0 and no translation; `w` is the
 * width of each field (2, 4 or 8 bytes). */
static void res_address(struct aml *res, uint8_t tag, unsigned w, uint8_t space,
                        uint8_t type_flags, uint64_t min, uint64_t max)
{
    if (max < min) {
        fail(res, "address range 0x%llx-0x%llx is empty", (unsigned long long)min,
             (unsigned long long)max);
        return;
    }
    emit_byte(res, tag);
    emit_le(res, 3 + 5 * w, 2);
    emit_byte(res, space);
    emit_byte(res, RES_FLAGS_PRODUCER_FIXED);
    emit_byte(res, type_flags);
    emit_le(res, 0, w);               /* granularity */
    emit_le(res, min, w);
    emit_le(res, max, w);
    emit_le(res, 0, w);               /* translation offset */
    emit_le(res, max - min + 1, w);   /* length */
}

void aml_res_word_bus(struct aml *res, uint16_t min, uint16_t max)
{
    res_address(res, RES_WORD_ADDRESS, 2, RES_SPACE_BUS, 0, min, max);
}

void aml_res_word_io(struct aml *res, uint16_t min, uint16_t max)
{
    res_address(res, RES_WORD_ADDRESS, 2, RES_SPACE_IO, 3 /* entire range */, min, max);
}

/* Memory type flags: bit 0 read-write, bits 2:1 1 = cacheable, 3 = prefetchable. */
static uint8_t mem_flags(bool prefetchable)
{
    return prefetchable ? 0x07 : 0x01;
}

void aml_res_dword_memory(struct aml *res, uint32_t min, uint32_t max, bool prefetchable)
{
    res_address(res, RES_DWORD_ADDRESS, 4, RES_SPACE_MEMORY, mem_flags(prefetchable), min, max);
}

void aml_res_qword_memory(struct aml *res, uint64_t min, uint64_t max, bool prefetchable)
{
    res_address(res, RES_QWORD_ADDRESS, 8, RES_SPACE_MEMORY, mem_flags(prefetchable), min, max);
}

void aml_res_memory32_fixed(struct aml *res, uint32_t base, uint32_t len)
{
    emit_byte(res, RES_MEMORY32_FIXED);
    emit_le(res, 9, 2);
    emit_byte(res, 1);                /* read-write */
    emit_le(res, base, 4);
    emit_le(res, len, 4);
}

void aml_res_interrupt_edge(struct aml *res, uint32_t gsi)
{
    uint8_t d[9] = { RES_EXT_IRQ, 6, 0, RES_EXT_IRQ_CONSUMER | RES_EXT_IRQ_EDGE, 1,
                     (uint8_t)gsi, (uint8_t)(gsi >> 8), (uint8_t)(gsi >> 16),
                     (uint8_t)(gsi >> 24) };
    emit(res, d, sizeof(d));
}

void aml_resource_template(struct aml *a, struct aml *res)
{
    /* checksum 0: "treated as if the checksum operation succeeded" */
    uint8_t end[2] = { RES_END_TAG, 0 };
    emit(res, end, sizeof(end));
    if (res->failed) {
        fail(a, "bad resource template");
        return;
    }
    aml_buffer(a, res->buf, res->len);
}
