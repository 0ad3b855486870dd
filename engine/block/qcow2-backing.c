/* Backing chains: where a backing file is (relative names are relative to
 * the overlay's directory), what format it has (the header extension's
 * word; never guessed), and loops and depth across the chain. */
#include "block/qcow2-backing.h"

#include <string.h>
#include <sys/stat.h>

#define QCOW2_MAGIC_BYTES "QFI\xfb"

char *
qcow2_backing_path (const char *overlay, const char *backing_file)
{
  if (g_path_is_absolute (backing_file))
    return g_strdup (backing_file);
  g_autofree char *dir = g_path_get_dirname (overlay);
  return g_build_filename (dir, backing_file, NULL);
}

gboolean
viv_qcow2_has_magic (const char *path)
{
  char magic[4] = { 0 };
  FILE *f = fopen (path, "rb");
  if (!f)
    return FALSE;
  size_t n = fread (magic, 1, 4, f);
  fclose (f);
  return n == 4 && memcmp (magic, QCOW2_MAGIC_BYTES, 4) == 0;
}

gboolean
qcow2_backing_resolve (const char *overlay, const char *backing_file,
                       const char *backing_format, char **path, char **format,
                       GError **error)
{
  if (strstr (backing_file, "://") || g_str_has_prefix (backing_file, "json:")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s” has backing file “%s”, which is not a local file; "
                 "only local backing files are supported", overlay, backing_file);
    return FALSE;
  }
  *path = qcow2_backing_path (overlay, backing_file);
  if (backing_format) {
    if (!g_str_equal (backing_format, "raw") && !g_str_equal (backing_format, "qcow2")) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "Disk image “%s” has a backing file “%s” in format “%s”; only raw and "
                   "qcow2 backing files are supported", overlay, *path, backing_format);
      g_clear_pointer (path, g_free);
      return FALSE;
    }
    *format = g_strdup (backing_format);
    return TRUE;
  }
  /* No format recorded: raw is the only safe reading, and only for a file
   * that does not look like qcow2 (reading a qcow2 file as raw would show
   * its metadata to the guest). */
  if (viv_qcow2_has_magic (*path)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Disk image “%s” does not record the format of its backing file “%s”, "
                 "which looks like qcow2; record it with: vivctl disk rebase -u -b %s "
                 "-F qcow2 %s", overlay, *path, backing_file, overlay);
    g_clear_pointer (path, g_free);
    return FALSE;
  }
  *format = g_strdup ("raw");
  return TRUE;
}

gboolean
qcow2_chain_enter (Qcow2Chain *chain, const char *path, GError **error)
{
  struct stat st;
  if (stat (path, &st) < 0) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "Backing file “%s” cannot be opened: %s", path, g_strerror (err));
    return FALSE;
  }
  for (unsigned i = 0; i < chain->depth; i++)
    if (chain->dev[i] == st.st_dev && chain->ino[i] == st.st_ino) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The backing chain loops: “%s” is its own backing file (directly or "
                   "through others); fix it with vivctl disk rebase", path);
      return FALSE;
    }
  if (chain->depth >= VIV_QCOW2_MAX_CHAIN) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "The backing chain is deeper than %d images at “%s”; shorten it with "
                 "vivctl disk commit", VIV_QCOW2_MAX_CHAIN, path);
    return FALSE;
  }
  chain->dev[chain->depth] = st.st_dev;
  chain->ino[chain->depth] = st.st_ino;
  chain->depth++;
  return TRUE;
}
