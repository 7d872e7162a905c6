/* A tiny AML (ACPI Machine Language) byte-code emitter for definition blocks.
 *
 * Objects are appended in order; Scope, Device, Package and Buffer are opened
 * with *_begin and closed with aml_end, which then inserts the PkgLength in its
 * shortest encoding (and a package's NumElements, counted as elements are
 * appended). Errors (bad names, out of memory, unbalanced nesting) are sticky:
 * emitting goes on as no-ops and aml_finish reports them once.
 *
 * Example, the ASL `Scope (\_SB) { Device (COM1) { Name (_UID, 0) } }`:
 *     aml_scope_begin(a, "\\_SB_");
 *     aml_device_begin(a, "COM1");
 *     aml_name_decl(a, "_UID"); aml_integer(a, 0);
 *     aml_end(a); aml_end(a);
 */
#ifndef MINIVMM_AML_H
#define MINIVMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml_frame {
    size_t body;            /* offset where the PkgLength goes once the length is known */
    uint8_t kind;           /* the opcode that opened it */
    unsigned elements;      /* packages: objects appended directly inside */
};

struct aml {
    uint8_t *buf;
    size_t len, cap;
    struct aml_frame frames[AML_MAX_DEPTH];
    unsigned depth;
    bool failed;
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
/* 0 when everything emitted is well formed and every scope is closed, else -1
 * (with one error logged). */
int aml_finish(struct aml *a);

/* Names are paths: an optional leading '\' (root), then segments of 1-4
 * characters [A-Z_][A-Z0-9_]* separated by '.', each padded with '_' to 4. */
void aml_name_decl(struct aml *a, const char *name);  /* Name (name, <the next object>) */
void aml_scope_begin(struct aml *a, const char *name);
void aml_device_begin(struct aml *a, const char *name);
void aml_package_begin(struct aml *a);
/* Method (name, nargs) { ... } closed by aml_end; not serialized. */
void aml_method_begin(struct aml *a, const char *name, unsigned nargs);
/* Notify (name, value) */
void aml_notify(struct aml *a, const char *name, uint8_t value);
void aml_end(struct aml *a);

/* Data objects. */
void aml_integer(struct aml *a, uint64_t value);      /* shortest encoding */
void aml_string(struct aml *a, const char *s);        /* printable ASCII */
/* EisaId ("PNP0501"): three letters and four hex digits, as a DWord integer. */
void aml_eisa_id(struct aml *a, const char *id);
void aml_buffer(struct aml *a, const uint8_t *data, size_t len);

/* Resource descriptors go into their own struct aml, handed to
 * aml_resource_template, which appends the end tag and emits the Buffer. */
void aml_res_io(struct aml *res, uint16_t base, uint8_t len);  /* fixed, 16-bit decode */
void aml_res_irq(struct aml *res, unsigned irq);               /* ISA IRQ 0-15, edge, high */
/* Address space descriptors of a bridge's windows (ResourceProducer, MinFixed,
 * MaxFixed, PosDecode): WordBusNumber, WordIO (entire range), DWordMemory and
 * QWordMemory (read-write; cacheable when prefetchable, else non-cacheable). */
void aml_res_word_bus(struct aml *res, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *res, uint16_t min, uint16_t max);
void aml_res_dword_memory(struct aml *res, uint32_t min, uint32_t max, bool prefetchable);
void aml_res_qword_memory(struct aml *res, uint64_t min, uint64_t max, bool prefetchable);
/* Memory32Fixed (read-write): a range a device consumes. */
void aml_res_memory32_fixed(struct aml *res, uint32_t base, uint32_t len);
/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } */
void aml_res_interrupt_edge(struct aml *res, uint32_t gsi);
void aml_resource_template(struct aml *a, struct aml *res);

#endif
