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

/* Resource descriptors (ACPI 6.3, 6.4), appended to a resource list that
 * aml_resource_template() closes with an End Tag and wraps in a Buffer. */
void aml_res_io             (GByteArray *res, uint16_t port, uint8_t len);
void aml_res_irq_no_flags   (GByteArray *res, unsigned irq);
void aml_res_memory32_fixed (GByteArray *res, uint32_t base, uint32_t len);
/* Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi } */
void aml_res_interrupt_level_high (GByteArray *res, uint32_t gsi);
void aml_resource_template  (GByteArray *out, const GByteArray *res);
