/* The qcow2 header and its extensions, read and written:
 * every field is validated before anything is read through it. */
#include "block/qcow2-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <sys/stat.h>

static uint32_t
be32_at (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

static uint64_t
be64_at (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_BE (v);
}

static void
put_be32 (uint8_t *p, uint32_t v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, 4);
}

static void
put_be64 (uint8_t *p, uint64_t v)
{
  v = GUINT64_TO_BE (v);
  memcpy (p, &v, 8);
}

static bool
ranges_overlap (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return alen && blen && a < b + blen && b < a + alen;
}

bool
qcow2_overlaps_fixed_metadata (const Qcow2Image *img, uint64_t offset, uint64_t len)
{
  if (ranges_overlap (offset, len, 0, img->cluster_size))
    return true;
  if (ranges_overlap (offset, len, img->l1_table_offset,
                      qcow2_round_up (img, (uint64_t) img->l1_size * 8)))
    return true;
  if (ranges_overlap (offset, len, img->refcount_table_offset,
                      (uint64_t) img->refcount_table_clusters << img->cluster_bits))
    return true;
  /* While the snapshot table is parsed its length is not known yet: its
   * first cluster stands for it. */
  if (img->nb_snapshots && ranges_overlap (offset, len, img->snapshots_offset,
                                           MAX (img->snapshots_size, img->cluster_size)))
    return true;
  return false;
}

static const struct {
  uint8_t     type, bit;
  const char *name;
} known_features[] = {
  { 0, 0, "dirty bit" },
  { 0, 1, "corrupt bit" },
  { 0, 2, "external data file" },
  { 0, 3, "compression type" },
  { 0, 4, "extended L2 entries" },
  { 1, 0, "lazy refcounts" },
  { 2, 0, "bitmaps" },
  { 2, 1, "raw external data" },
};

char *
qcow2_feature_names (const Qcow2Image *img, uint64_t bits)
{
  GString *names = g_string_new (NULL);
  for (unsigned bit = 0; bit < 64; bit++) {
    if (!(bits & (1ull << bit)))
      continue;
    const char *name = NULL;
    for (guint i = 0; img->features && i < img->features->len; i++) {
      const Qcow2FeatureName *f = &g_array_index (img->features, Qcow2FeatureName, i);
      if (f->type == 0 && f->bit == bit)
        name = f->name;
    }
    for (size_t i = 0; !name && i < G_N_ELEMENTS (known_features); i++)
      if (known_features[i].type == 0 && known_features[i].bit == bit)
        name = known_features[i].name;
    if (names->len)
      g_string_append (names, ", ");
    if (name && *name)
      g_string_append_printf (names, "“%s” (bit %u)", name, bit);
    else
      g_string_append_printf (names, "unnamed feature bit %u", bit);
  }
  return g_string_free (names, FALSE);
}

gboolean
qcow2_invalid (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "Disk image “%s” is not a valid qcow2 image: %s; check it with "
               "vivctl disk check", path, what);
  return FALSE;
}

/* Extensions start after the header and end before the backing file name
 * (or the end of cluster 0). */
static gboolean
parse_extensions (Qcow2Image *img, const uint8_t *cluster, uint64_t end, GError **error)
{
  uint64_t pos = img->header_length;
  while (pos + 8 <= end) {
    uint32_t type = be32_at (cluster + pos);
    uint32_t len = be32_at (cluster + pos + 4);
    pos += 8;
    if (type == QCOW2_EXT_END)
      return TRUE;
    if (len > end - pos)
      return qcow2_invalid (error, img->path, "a header extension runs past the header cluster");
    const uint8_t *data = cluster + pos;
    switch (type) {
    case QCOW2_EXT_BACKING_FORMAT:
      if (len == 0 || len > 63)
        return qcow2_invalid (error, img->path, "the backing format name has a bad length");
      g_free (img->backing_format);
      img->backing_format = g_strndup ((const char *) data, len);
      break;
    case QCOW2_EXT_FEATURE_TABLE:
      for (uint32_t i = 0; i + 48 <= len; i += 48) {
        Qcow2FeatureName f = { .type = data[i], .bit = data[i + 1] };
        memcpy (f.name, data + i + 2, 46);
        f.name[46] = 0;
        g_array_append_val (img->features, f);
      }
      break;
    default: {
      Qcow2Extension *ext = g_new (Qcow2Extension, 1);
      ext->type = type;
      ext->data = g_bytes_new (data, len);
      g_ptr_array_add (img->extensions, ext);
    }
    }
    pos += (len + 7ull) & ~7ull;
  }
  /* No end marker before the end: what a v2 image without extensions
   * (header directly followed by the backing name) looks like. */
  return TRUE;
}

static void
derive (Qcow2Image *img)
{
  img->l2_bits = img->cluster_bits - 3;
  img->refcount_bits = 1u << img->refcount_order;
  img->refcount_max = img->refcount_bits == 64 ? UINT64_MAX
                                               : (1ull << img->refcount_bits) - 1;
  img->rb_bits = img->cluster_bits + 3 - img->refcount_order;
  img->csize_shift = 62 - (img->cluster_bits - 8);
  img->csize_mask = (1ull << (img->cluster_bits - 8)) - 1;
  img->coffset_mask = (1ull << img->csize_shift) - 1;
}

gboolean
qcow2_header_parse (Qcow2Image *img, const uint8_t *h, GError **error)
{
  img->version = be32_at (h + 4);
  uint64_t backing_offset = be64_at (h + 8);
  uint32_t backing_size = be32_at (h + 16);
  img->cluster_bits = be32_at (h + 20);
  img->size = be64_at (h + 24);
  uint32_t crypt_method = be32_at (h + 32);
  img->l1_size = be32_at (h + 36);
  img->l1_table_offset = be64_at (h + 40);
  img->refcount_table_offset = be64_at (h + 48);
  img->refcount_table_clusters = be32_at (h + 56);
  img->nb_snapshots = be32_at (h + 60);
  img->snapshots_offset = be64_at (h + 64);

  if (img->version != 2 && img->version != 3) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” is qcow2 version %u; only versions 2 and 3 are "
                 "supported", img->path, img->version);
    return FALSE;
  }
  if (img->cluster_bits < QCOW2_MIN_CLUSTER_BITS || img->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    return qcow2_invalid (error, img->path, "the cluster size is not 512 bytes … 2 MiB");
  img->cluster_size = 1u << img->cluster_bits;
  if (crypt_method != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” is encrypted (%s); encrypted qcow2 images are not "
                 "supported — decrypt it with qemu-img convert first", img->path,
                 crypt_method == 1 ? "AES" : crypt_method == 2 ? "LUKS" : "unknown method");
    return FALSE;
  }

  if (img->version == 2) {
    img->header_length = QCOW2_V2_HEADER_LENGTH;
    img->refcount_order = 4;
  } else {
    img->incompatible = be64_at (h + 72);
    img->compatible = be64_at (h + 80);
    img->autoclear = be64_at (h + 88);
    img->refcount_order = be32_at (h + 96);
    img->header_length = be32_at (h + 100);
    if (img->header_length < QCOW2_V3_HEADER_LENGTH || img->header_length % 8
        || img->header_length > img->cluster_size)
      return qcow2_invalid (error, img->path, "the header length is wrong");
    if (img->header_length > 104)
      img->compression_type = h[104];
    if (img->header_length > 105)
      img->header_tail = g_bytes_new (h + 105, img->header_length - 105);
  }
  if (img->refcount_order > 6)
    return qcow2_invalid (error, img->path, "the refcount width is over 64 bits");

  /* The feature table is in the extensions: parse them before naming
   * unknown features. */
  uint64_t ext_end = img->cluster_size;
  if (backing_offset) {
    if (backing_size == 0 || backing_size > QCOW2_MAX_BACKING_NAME
        || backing_offset < img->header_length || backing_offset > img->cluster_size
        || backing_size > img->cluster_size - backing_offset)
      return qcow2_invalid (error, img->path, "the backing file name is out of the header cluster");
    ext_end = backing_offset;
    img->backing_file = g_strndup ((const char *) h + backing_offset, backing_size);
    if (strlen (img->backing_file) != backing_size)
      return qcow2_invalid (error, img->path, "the backing file name contains a NUL byte");
  }
  if (!parse_extensions (img, h, ext_end, error))
    return FALSE;

  uint64_t unknown = img->incompatible & ~QCOW2_INCOMPAT_SUPPORTED;
  if (img->incompatible & QCOW2_INCOMPAT_EXTL2) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” uses extended L2 entries (subclusters), which are not "
                 "supported; convert it: qemu-img convert -O qcow2 %s NEW.qcow2",
                 img->path, img->path);
    return FALSE;
  }
  if (img->incompatible & QCOW2_INCOMPAT_DATA_FILE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” keeps its data in an external data file, which is not "
                 "supported; convert it: qemu-img convert -O qcow2 %s NEW.qcow2",
                 img->path, img->path);
    return FALSE;
  }
  if (unknown) {
    g_autofree char *names = qcow2_feature_names (img, unknown);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” uses qcow2 features this version does not know: %s; "
                 "it cannot be opened safely", img->path, names);
    return FALSE;
  }
  bool zstd_bit = img->incompatible & QCOW2_INCOMPAT_COMPRESSION;
  if (zstd_bit != (img->compression_type != 0))
    return qcow2_invalid (error, img->path, "the compression type and its feature bit disagree");
  if (img->compression_type > QCOW2_COMPRESSION_ZSTD) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” uses compression type %u; only zlib and zstd are "
                 "supported", img->path, img->compression_type);
    return FALSE;
  }
  if (img->size > QCOW2_MAX_VIRTUAL_SIZE)
    return qcow2_invalid (error, img->path, "the virtual size is too large");
  derive (img);
  return TRUE;
}


static void
append_extension (GByteArray *out, uint32_t type, const void *data, uint32_t len)
{
  uint8_t head[8];
  put_be32 (head, type);
  put_be32 (head + 4, len);
  g_byte_array_append (out, head, 8);
  if (len)
    g_byte_array_append (out, data, len);
  static const uint8_t pad[8];
  g_byte_array_append (out, pad, ((len + 7u) & ~7u) - len);
}

int
qcow2_header_write (Qcow2Image *img)
{
  GByteArray *out = g_byte_array_sized_new (img->cluster_size);
  uint8_t h[QCOW2_V3_HEADER_LENGTH + 8] = { 0 };
  put_be32 (h, QCOW2_MAGIC);
  put_be32 (h + 4, img->version);
  put_be32 (h + 20, img->cluster_bits);
  put_be64 (h + 24, img->size);
  put_be32 (h + 36, img->l1_size);
  put_be64 (h + 40, img->l1_table_offset);
  put_be64 (h + 48, img->refcount_table_offset);
  put_be32 (h + 56, img->refcount_table_clusters);
  put_be32 (h + 60, img->nb_snapshots);
  put_be64 (h + 64, img->snapshots_offset);
  if (img->version >= 3) {
    put_be64 (h + 72, img->incompatible);
    put_be64 (h + 80, img->compatible);
    put_be64 (h + 88, img->autoclear);
    put_be32 (h + 96, img->refcount_order);
    put_be32 (h + 100, img->header_length);
    h[104] = img->compression_type;
    g_byte_array_append (out, h, MIN (img->header_length, 105u));
    if (img->header_tail)
      g_byte_array_append (out, g_bytes_get_data (img->header_tail, NULL),
                           (guint) g_bytes_get_size (img->header_tail));
    while (out->len < img->header_length)
      g_byte_array_append (out, (const uint8_t[]) { 0 }, 1);
  } else {
    g_byte_array_append (out, h, QCOW2_V2_HEADER_LENGTH);
  }

  /* Version 2 images have extensions too (QEMU writes the backing format).
   * The feature name table is only a courtesy: left out when the header
   * cluster (512 bytes, say) has no room for it. */
  guint fixed_len = out->len;
  for (int with_table = 1; with_table >= 0; with_table--) {
    g_byte_array_set_size (out, fixed_len);
    if (img->backing_format)
      append_extension (out, QCOW2_EXT_BACKING_FORMAT, img->backing_format,
                        (uint32_t) strlen (img->backing_format));
    if (with_table) {
      GByteArray *table = g_byte_array_new ();
      for (size_t i = 0; i < G_N_ELEMENTS (known_features); i++) {
        uint8_t entry[48] = { known_features[i].type, known_features[i].bit };
        memcpy (entry + 2, known_features[i].name, strlen (known_features[i].name));
        g_byte_array_append (table, entry, 48);
      }
      append_extension (out, QCOW2_EXT_FEATURE_TABLE, table->data, table->len);
      g_byte_array_unref (table);
    }
    for (guint i = 0; i < img->extensions->len; i++) {
      Qcow2Extension *ext = g_ptr_array_index (img->extensions, i);
      gsize len;
      const void *data = g_bytes_get_data (ext->data, &len);
      append_extension (out, ext->type, data, (uint32_t) len);
    }
    append_extension (out, QCOW2_EXT_END, NULL, 0);
    if (img->backing_file) {
      size_t len = strlen (img->backing_file);
      put_be64 (out->data + 8, out->len);
      put_be32 (out->data + 16, (uint32_t) len);
      g_byte_array_append (out, (const uint8_t *) img->backing_file, (guint) len);
    }
    if (out->len <= img->cluster_size)
      break;
  }
  int ret = -ENOSPC;
  if (out->len <= img->cluster_size) {
    /* The rest of cluster 0 is zeroed: no stale extension survives. */
    uint8_t *cluster = g_malloc0 (img->cluster_size);
    memcpy (cluster, out->data, out->len);
    ret = qcow2_pwrite (img, 0, cluster, img->cluster_size);
    g_free (cluster);
  }
  g_byte_array_unref (out);
  return ret;
}

int
qcow2_header_set_incompatible (Qcow2Image *img, uint64_t bits)
{
  if (img->version < 3)
    return 0;
  img->incompatible = bits;
  uint8_t field[8];
  put_be64 (field, bits);
  int ret = qcow2_pwrite (img, 72, field, 8);
  return ret < 0 ? ret : qcow2_fdatasync (img);
}
