/* AML encoding; opcodes from ACPI 6.3 section 20.3 ("AML Byte Stream
 * Byte Values") and resource descriptors from section 6.4. */
#include "boot/aml.h"
#include <string.h>

enum {
  AML_ZERO_OP        = 0x00,
  AML_ONE_OP         = 0x01,
  AML_NAME_OP        = 0x08,
  AML_BYTE_PREFIX    = 0x0A,
  AML_WORD_PREFIX    = 0x0B,
  AML_DWORD_PREFIX   = 0x0C,
  AML_STRING_PREFIX  = 0x0D,
  AML_QWORD_PREFIX   = 0x0E,
  AML_SCOPE_OP       = 0x10,
  AML_BUFFER_OP      = 0x11,
  AML_PACKAGE_OP     = 0x12,
  AML_METHOD_OP      = 0x14,
  AML_DUAL_NAME      = 0x2E,
  AML_MULTI_NAME     = 0x2F,
  AML_EXT_OP_PREFIX  = 0x5B,
  AML_OP_REGION_OP   = 0x80,   /* after AML_EXT_OP_PREFIX */
  AML_FIELD_OP       = 0x81,   /* after AML_EXT_OP_PREFIX */
  AML_DEVICE_OP      = 0x82,   /* after AML_EXT_OP_PREFIX */
  AML_LOCAL0_OP      = 0x60,
  AML_ARG0_OP        = 0x68,
  AML_STORE_OP       = 0x70,
  AML_AND_OP         = 0x7B,
  AML_NOTIFY_OP      = 0x86,
  AML_LEQUAL_OP      = 0x93,
  AML_IF_OP          = 0xA0,
  AML_ROOT_CHAR      = '\\',
  AML_ONES_OP        = 0xFF,
};

static void
put_byte (GByteArray *out, uint8_t b)
{
  g_byte_array_append (out, &b, 1);
}

static void
put_le (GByteArray *out, uint64_t value, unsigned n_bytes)
{
  for (unsigned i = 0; i < n_bytes; i++)
    put_byte (out, (uint8_t) (value >> (8 * i)));
}

/* PkgLength counts itself: 1 byte for totals below 64, else a lead byte
 * holding the low nibble and the number of following bytes. */
static void
put_pkg_length (GByteArray *out, size_t body_len)
{
  size_t total;
  unsigned extra;

  if (body_len + 1 < 64)
    {
      put_byte (out, (uint8_t) (body_len + 1));
      return;
    }
  for (extra = 1; extra <= 3; extra++)
    {
      total = body_len + 1 + extra;
      if (total < (1u << (4 + 8 * extra)))
        break;
    }
  g_assert (extra <= 3);
  put_byte (out, (uint8_t) ((extra << 6) | (total & 0x0F)));
  put_le (out, total >> 4, extra);
}

static gboolean
is_name_char (char c, gboolean first)
{
  return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static void
put_name_seg (GByteArray *out, const char *seg, size_t len)
{
  g_assert (len >= 1 && len <= 4);
  for (size_t i = 0; i < 4; i++)
    {
      char c = i < len ? seg[i] : '_';
      g_assert (is_name_char (c, i == 0));
      put_byte (out, (uint8_t) c);
    }
}

void
aml_name_string (GByteArray *out, const char *path)
{
  g_auto(GStrv) segs = NULL;
  guint n;

  if (*path == '\\')
    {
      put_byte (out, AML_ROOT_CHAR);
      path++;
    }
  segs = g_strsplit (path, ".", -1);
  n = g_strv_length (segs);
  g_assert (n >= 1 && n <= 255);
  if (n == 2)
    put_byte (out, AML_DUAL_NAME);
  else if (n > 2)
    {
      put_byte (out, AML_MULTI_NAME);
      put_byte (out, (uint8_t) n);
    }
  for (guint i = 0; i < n; i++)
    put_name_seg (out, segs[i], strlen (segs[i]));
}

void
aml_integer (GByteArray *out, uint64_t value)
{
  if (value == 0)
    put_byte (out, AML_ZERO_OP);
  else if (value == 1)
    put_byte (out, AML_ONE_OP);
  else if (value == UINT64_MAX)
    put_byte (out, AML_ONES_OP);
  else if (value <= 0xFF)
    {
      put_byte (out, AML_BYTE_PREFIX);
      put_le (out, value, 1);
    }
  else if (value <= 0xFFFF)
    {
      put_byte (out, AML_WORD_PREFIX);
      put_le (out, value, 2);
    }
  else if (value <= 0xFFFFFFFF)
    {
      put_byte (out, AML_DWORD_PREFIX);
      put_le (out, value, 4);
    }
  else
    {
      put_byte (out, AML_QWORD_PREFIX);
      put_le (out, value, 8);
    }
}

void
aml_string (GByteArray *out, const char *ascii)
{
  put_byte (out, AML_STRING_PREFIX);
  for (const char *p = ascii; *p; p++)
    {
      g_assert (*p > 0 && *p < 0x7F);
      put_byte (out, (uint8_t) *p);
    }
  put_byte (out, 0);
}

/* A compressed EISA id: three letters in 5 bits each, then four hex
 * digits, stored big-endian in a DWord ("PNP0501" -> 0x0105D041). */
void
aml_eisa_id (GByteArray *out, const char *id)
{
  uint32_t vendor, product;

  g_assert (strlen (id) == 7);
  for (int i = 0; i < 3; i++)
    g_assert (id[i] >= 'A' && id[i] <= 'Z');
  for (int i = 3; i < 7; i++)
    g_assert (g_ascii_isxdigit (id[i]));
  vendor = ((uint32_t) (id[0] - 0x40) << 10) | ((uint32_t) (id[1] - 0x40) << 5)
           | (uint32_t) (id[2] - 0x40);
  product = (uint32_t) g_ascii_strtoull (id + 3, NULL, 16);
  put_byte (out, AML_DWORD_PREFIX);
  put_byte (out, (uint8_t) (vendor >> 8));
  put_byte (out, (uint8_t) vendor);
  put_byte (out, (uint8_t) (product >> 8));
  put_byte (out, (uint8_t) product);
}

void
aml_name (GByteArray *out, const char *name)
{
  put_byte (out, AML_NAME_OP);
  aml_name_string (out, name);
}

static void
put_block (GByteArray *out, const char *name, const GByteArray *body)
{
  g_autoptr(GByteArray) inner = g_byte_array_new ();

  aml_name_string (inner, name);
  g_byte_array_append (inner, body->data, body->len);
  put_pkg_length (out, inner->len);
  g_byte_array_append (out, inner->data, inner->len);
}

void
aml_scope (GByteArray *out, const char *path, const GByteArray *body)
{
  put_byte (out, AML_SCOPE_OP);
  put_block (out, path, body);
}

void
aml_device (GByteArray *out, const char *name, const GByteArray *body)
{
  put_byte (out, AML_EXT_OP_PREFIX);
  put_byte (out, AML_DEVICE_OP);
  put_block (out, name, body);
}

void
aml_package (GByteArray *out, unsigned n_elements, const GByteArray *elements)
{
  g_assert (n_elements <= 255);
  put_byte (out, AML_PACKAGE_OP);
  put_pkg_length (out, 1 + elements->len);
  put_byte (out, (uint8_t) n_elements);
  g_byte_array_append (out, elements->data, elements->len);
}

void
aml_buffer (GByteArray *out, const uint8_t *data, size_t len)
{
  g_autoptr(GByteArray) inner = g_byte_array_new ();

  aml_integer (inner, len);
  g_byte_array_append (inner, data, len);
  put_byte (out, AML_BUFFER_OP);
  put_pkg_length (out, inner->len);
  g_byte_array_append (out, inner->data, inner->len);
}

void
aml_method (GByteArray *out, const char *name, unsigned n_args,
            gboolean serialized, const GByteArray *body)
{
  g_autoptr(GByteArray) inner = g_byte_array_new ();

  g_assert (n_args <= 7);
  aml_name_string (inner, name);
  /* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, SyncLevel 0. */
  put_byte (inner, (uint8_t) (n_args | (serialized ? 0x08 : 0)));
  g_byte_array_append (inner, body->data, body->len);
  put_byte (out, AML_METHOD_OP);
  put_pkg_length (out, inner->len);
  g_byte_array_append (out, inner->data, inner->len);
}

void
aml_if (GByteArray *out, const GByteArray *predicate, const GByteArray *body)
{
  put_byte (out, AML_IF_OP);
  put_pkg_length (out, predicate->len + body->len);
  g_byte_array_append (out, predicate->data, predicate->len);
  g_byte_array_append (out, body->data, body->len);
}

void
aml_arg (GByteArray *out, unsigned n)
{
  g_assert (n <= 6);
  put_byte (out, (uint8_t) (AML_ARG0_OP + n));
}

void
aml_local (GByteArray *out, unsigned n)
{
  g_assert (n <= 7);
  put_byte (out, (uint8_t) (AML_LOCAL0_OP + n));
}

void
aml_store (GByteArray *out)
{
  put_byte (out, AML_STORE_OP);
}

void
aml_lequal (GByteArray *out)
{
  put_byte (out, AML_LEQUAL_OP);
}

void
aml_and (GByteArray *out)
{
  put_byte (out, AML_AND_OP);
}

void
aml_notify (GByteArray *out)
{
  put_byte (out, AML_NOTIFY_OP);
}

void
aml_no_target (GByteArray *out)
{
  put_byte (out, AML_ZERO_OP);   /* NullName */
}

void
aml_region_system_memory (GByteArray *out, const char *name, uint64_t base, uint64_t len)
{
  put_byte (out, AML_EXT_OP_PREFIX);
  put_byte (out, AML_OP_REGION_OP);
  aml_name_string (out, name);
  put_byte (out, 0x00);          /* RegionSpace: SystemMemory */
  aml_integer (out, base);
  aml_integer (out, len);
}

void
aml_field_dword (GByteArray *out, const char *region, const char *field)
{
  g_autoptr(GByteArray) inner = g_byte_array_new ();

  aml_name_string (inner, region);
  /* FieldFlags: AccessType DWordAcc (3), LockRule NoLock, UpdateRule Preserve. */
  put_byte (inner, 0x03);
  /* NamedField: a NameSeg, then its width in bits (a PkgLength-style
   * encoding of the value itself: one byte below 64). */
  put_name_seg (inner, field, strlen (field));
  put_byte (inner, 32);
  put_byte (out, AML_EXT_OP_PREFIX);
  put_byte (out, AML_FIELD_OP);
  put_pkg_length (out, inner->len);
  g_byte_array_append (out, inner->data, inner->len);
}

/* Small descriptors: tag byte = (item name << 3) | length. */
enum {
  RES_IRQ_NO_FLAGS = (0x04 << 3) | 2,
  RES_IO           = (0x08 << 3) | 7,
  RES_END_TAG      = (0x0F << 3) | 1,
  RES_MEMORY32_FIXED = 0x86,   /* large items: 0x80 | item name */
  RES_EXT_INTERRUPT  = 0x89,
};

void
aml_res_io (GByteArray *res, uint16_t port, uint8_t len)
{
  put_byte (res, RES_IO);
  put_byte (res, 0x01);          /* decodes 16 address bits */
  put_le (res, port, 2);         /* minimum base */
  put_le (res, port, 2);         /* maximum base */
  put_byte (res, 0x01);          /* alignment */
  put_byte (res, len);
}

void
aml_res_irq_no_flags (GByteArray *res, unsigned irq)
{
  g_assert (irq < 16);
  put_byte (res, RES_IRQ_NO_FLAGS);
  put_le (res, 1u << irq, 2);
}

void
aml_res_memory32_fixed (GByteArray *res, uint32_t base, uint32_t len)
{
  put_byte (res, RES_MEMORY32_FIXED);
  put_le (res, 9, 2);            /* length of the rest */
  put_byte (res, 0x01);          /* read/write */
  put_le (res, base, 4);
  put_le (res, len, 4);
}

void
aml_res_interrupt_level_high (GByteArray *res, uint32_t gsi)
{
  put_byte (res, RES_EXT_INTERRUPT);
  put_le (res, 6, 2);            /* flags, count, one DWord */
  /* bit 0 consumer; bit 1 clear = level; bit 2 clear = active-high;
   * bit 3 clear = exclusive. */
  put_byte (res, 0x01);
  put_byte (res, 1);
  put_le (res, gsi, 4);
}

void
aml_res_interrupt_edge_high (GByteArray *res, uint32_t gsi)
{
  put_byte (res, RES_EXT_INTERRUPT);
  put_le (res, 6, 2);
  /* bit 0 consumer; bit 1 set = edge; bit 2 clear = active-high;
   * bit 3 clear = exclusive. */
  put_byte (res, 0x03);
  put_byte (res, 1);
  put_le (res, gsi, 4);
}

void
aml_resource_template (GByteArray *out, const GByteArray *res)
{
  g_autoptr(GByteArray) all = g_byte_array_sized_new (res->len + 2);

  g_byte_array_append (all, res->data, res->len);
  put_byte (all, RES_END_TAG);
  put_byte (all, 0);             /* checksum 0: "treat as correct" */
  aml_buffer (out, all->data, all->len);
}
