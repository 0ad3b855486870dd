/* A small ACPI Machine Language (AML) emitter for the DSDT: just the
 * objects Vivarium describes (ACPI 6.3, chapter 20, "AML Specification").
 * Every function appends encoded bytes to a GByteArray.  Names and sizes
 * come from the engine, never from the guest. */
#pragma once
#include <stdint.h>
#include <glib.h>

/* NameString: "\\_SB_.COM1", "_HID", "VR00"; segments of 1-4 characters
 * are padded with '_'. */
void aml_name_string (GByteArray *out, const char *path);

/* Data objects. */
void aml_integer (GByteArray *out, uint64_t value);
void aml_string  (GByteArray *out, const char *ascii);
void aml_eisa_id (GByteArray *out, const char *id);   /* "PNP0501" */

/* Name (name, <value appended next by the caller>) */
void aml_name (GByteArray *out, const char *name);

/* Containers: wrap an already encoded body. */
void aml_scope   (GByteArray *out, const char *path, const GByteArray *body);
void aml_device  (GByteArray *out, const char *name, const GByteArray *body);
void aml_package (GByteArray *out, unsigned n_elements, const GByteArray *elements);
void aml_buffer  (GByteArray *out, const uint8_t *data, size_t len);

/* Control methods and the operators the GED's _EVT uses.  AML is prefix
 * code: the operators below append their opcode and the caller appends
 * the operands next, in order (as aml_name does with its value). */
void aml_method (GByteArray *out, const char *name, unsigned n_args,
                 gboolean serialized, const GByteArray *body);
/* If (<predicate>) { <body> }: predicate is one encoded TermArg. */
void aml_if     (GByteArray *out, const GByteArray *predicate, const GByteArray *body);
void aml_arg    (GByteArray *out, unsigned n);      /* Arg0..Arg6 */
void aml_local  (GByteArray *out, unsigned n);      /* Local0..Local7 */
void aml_store  (GByteArray *out);                  /* Store (<source>, <target>) */
void aml_lequal (GByteArray *out);                  /* LEqual (<a>, <b>) */
void aml_and    (GByteArray *out);                  /* And (<a>, <b>, <target>) */
void aml_notify (GByteArray *out);                  /* Notify (<object>, <value>) */
void aml_no_target (GByteArray *out);               /* an omitted Target */

/* OperationRegion (name, SystemMemory, base, len) */
void aml_region_system_memory (GByteArray *out, const char *name, uint64_t base, uint64_t len);
/* Field (region, DWordAcc, NoLock, Preserve) { field, 32 }: one DWord at
 * the start of the region. */
void aml_field_dword (GByteArray *out, const char *region, const char *field);

/* Resource descriptors (ACPI 6.3, 6.4), appended to a resource list that
 * aml_resource_template() closes with an End Tag and wraps in a Buffer. */
void aml_res_io             (GByteArray *res, uint16_t port, uint8_t len);
void aml_res_irq_no_flags   (GByteArray *res, unsigned irq);
void aml_res_memory32_fixed (GByteArray *res, uint32_t base, uint32_t len);
/* Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi } */
void aml_res_interrupt_level_high (GByteArray *res, uint32_t gsi);
/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } */
void aml_res_interrupt_edge_high  (GByteArray *res, uint32_t gsi);
void aml_resource_template  (GByteArray *out, const GByteArray *res);
