/* vivctl disk info [--json] [-f FMT] FILE
 *
 * The JSON keys are those of `qemu-img info --output=json` where both have
 * the fact (filename, format, virtual-size, actual-size, cluster-size,
 * backing-filename, full-backing-filename, backing-filename-format,
 * dirty-flag, snapshots), plus corrupt and backing-chain. */
#include "vivctl-disk.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

/* One image of a chain. */
typedef struct {
  char            *filename;       /* as named (by the user, or by the overlay) */
  char            *path;           /* where it was opened */
  const char      *format;
  uint64_t         virtual_size;
  uint64_t         actual_size;    /* allocated on the host */
  VivQcow2Info    *qcow2;          /* NULL for raw */
  char            *backing_path;   /* the backing file's path, resolved */
} Image;

static void
image_free (Image *image)
{
  g_free (image->filename);
  g_free (image->path);
  g_free (image->backing_path);
  g_clear_pointer (&image->qcow2, viv_qcow2_info_free);
  g_free (image);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Image, image_free)

static Image *
read_image (const char *filename, const char *path, const char *format_given, GError **error)
{
  g_autoptr (Image) image = g_new0 (Image, 1);
  image->filename = g_strdup (filename);
  image->path = g_strdup (path);
  image->format = vivctl_disk_format_of (path, format_given, error);
  if (!image->format)
    return NULL;
  if (g_str_equal (image->format, "raw"))
    {
      /* Opening takes the read lock: an image a VM writes is refused. */
      VivBlock *blk = vivctl_disk_open (path, "raw", true, error);
      if (!blk)
        return NULL;
      image->virtual_size = viv_block_length (blk);
      viv_block_close (blk);
    }
  else
    {
      image->qcow2 = viv_qcow2_info (path, false, error);
      if (!image->qcow2)
        return NULL;
      image->virtual_size = image->qcow2->virtual_size;
    }
  if (!vivctl_disk_allocated_bytes (path, &image->actual_size, error))
    return NULL;
  if (image->qcow2 && image->qcow2->backing_file)
    {
      const char *backing = image->qcow2->backing_file;
      g_autofree char *dir = g_path_get_dirname (path);
      /* As qemu-img shows it: "base.raw" beside an image in ".", not "./base.raw". */
      image->backing_path = g_path_is_absolute (backing) || g_str_equal (dir, ".")
          ? g_strdup (backing) : g_build_filename (dir, backing, NULL);
    }
  return g_steal_pointer (&image);
}

/* FILE, then its backing images down the chain. */
static GPtrArray *
read_chain (const char *path, const char *format, GError **error)
{
  g_autoptr (GPtrArray) chain = g_ptr_array_new_with_free_func ((GDestroyNotify) image_free);
  Image *image = read_image (path, path, format, error);
  while (image)
    {
      g_ptr_array_add (chain, image);
      if (!image->backing_path)
        return g_steal_pointer (&chain);
      if (chain->len > VIV_QCOW2_MAX_CHAIN)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "The backing chain of “%s” is more than %d images long (a loop?)",
                       path, VIV_QCOW2_MAX_CHAIN);
          return NULL;
        }
      Image *overlay = image;
      image = read_image (overlay->qcow2->backing_file, overlay->backing_path,
                          overlay->qcow2->backing_format, error);
      if (!image)
        g_prefix_error (error, "Backing image of “%s”: ", overlay->path);
    }
  return NULL;
}

static char *
format_date (int64_t seconds)
{
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_local (seconds);
  return date ? g_date_time_format (date, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

static char *
format_clock (uint64_t nsec)
{
  uint64_t ms = nsec / 1000000;
  return g_strdup_printf ("%04" G_GUINT64_FORMAT ":%02u:%02u.%03u", ms / 3600000,
                          (unsigned) (ms / 60000 % 60), (unsigned) (ms / 1000 % 60),
                          (unsigned) (ms % 1000));
}

static void
print_text (GPtrArray *chain)
{
  Image *image = chain->pdata[0];
  g_autofree char *virtual_size = vivctl_disk_format_size (image->virtual_size);
  g_autofree char *actual_size = vivctl_disk_format_size (image->actual_size);
  printf ("image: %s\n", image->filename);
  printf ("file format: %s\n", image->format);
  printf ("virtual size: %s (%" G_GUINT64_FORMAT " bytes)\n", virtual_size, image->virtual_size);
  printf ("disk size: %s\n", actual_size);
  if (!image->qcow2)
    return;
  printf ("cluster size: %u\n", image->qcow2->cluster_size);
  printf ("compat: %s\n", image->qcow2->version == 2 ? "0.10" : "1.1");
  printf ("dirty: %s\n", image->qcow2->dirty ? "yes" : "no");
  printf ("corrupt: %s\n", image->qcow2->corrupt ? "yes" : "no");
  if (image->qcow2->backing_file)
    {
      printf ("backing file: %s (actual path: %s)\n", image->qcow2->backing_file, image->backing_path);
      if (image->qcow2->backing_format)
        printf ("backing file format: %s\n", image->qcow2->backing_format);
      printf ("backing chain:\n");
      for (guint i = 1; i < chain->len; i++)
        {
          Image *level = chain->pdata[i];
          g_autofree char *size = vivctl_disk_format_size (level->virtual_size);
          printf ("  %u: %s (%s, %s)\n", i, level->path, level->format, size);
        }
    }
  GPtrArray *snapshots = image->qcow2->snapshots;
  if (snapshots && snapshots->len)
    {
      printf ("snapshots:\n  %-4s %-20s %10s %-19s %s\n", "ID", "NAME", "VM SIZE", "DATE", "VM CLOCK");
      for (guint i = 0; i < snapshots->len; i++)
        {
          VivQcow2SnapshotInfo *snapshot = snapshots->pdata[i];
          g_autofree char *vm_size = vivctl_disk_format_size (snapshot->vm_state_size);
          g_autofree char *date = format_date (snapshot->date_sec);
          g_autofree char *clock = format_clock (snapshot->vm_clock_nsec);
          printf ("  %-4s %-20s %10s %-19s %s\n", snapshot->id, snapshot->name, vm_size, date, clock);
        }
    }
}

static void
add_image_members (JsonBuilder *builder, Image *image)
{
  json_builder_set_member_name (builder, "filename");
  json_builder_add_string_value (builder, image->filename);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, image->format);
  json_builder_set_member_name (builder, "virtual-size");
  json_builder_add_int_value (builder, image->virtual_size);
  json_builder_set_member_name (builder, "actual-size");
  json_builder_add_int_value (builder, image->actual_size);
  if (!image->qcow2)
    return;
  json_builder_set_member_name (builder, "cluster-size");
  json_builder_add_int_value (builder, image->qcow2->cluster_size);
  json_builder_set_member_name (builder, "compat");
  json_builder_add_string_value (builder, image->qcow2->version == 2 ? "0.10" : "1.1");
  json_builder_set_member_name (builder, "dirty-flag");
  json_builder_add_boolean_value (builder, image->qcow2->dirty);
  json_builder_set_member_name (builder, "corrupt");
  json_builder_add_boolean_value (builder, image->qcow2->corrupt);
  if (image->qcow2->backing_file)
    {
      json_builder_set_member_name (builder, "backing-filename");
      json_builder_add_string_value (builder, image->qcow2->backing_file);
      json_builder_set_member_name (builder, "full-backing-filename");
      json_builder_add_string_value (builder, image->backing_path);
      if (image->qcow2->backing_format)
        {
          json_builder_set_member_name (builder, "backing-filename-format");
          json_builder_add_string_value (builder, image->qcow2->backing_format);
        }
    }
  json_builder_set_member_name (builder, "snapshots");
  json_builder_begin_array (builder);
  GPtrArray *snapshots = image->qcow2->snapshots;
  for (guint i = 0; snapshots && i < snapshots->len; i++)
    {
      VivQcow2SnapshotInfo *snapshot = snapshots->pdata[i];
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, snapshot->id);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, snapshot->name);
      json_builder_set_member_name (builder, "date-sec");
      json_builder_add_int_value (builder, snapshot->date_sec);
      json_builder_set_member_name (builder, "date-nsec");
      json_builder_add_int_value (builder, snapshot->date_nsec);
      json_builder_set_member_name (builder, "vm-clock-sec");
      json_builder_add_int_value (builder, snapshot->vm_clock_nsec / 1000000000);
      json_builder_set_member_name (builder, "vm-clock-nsec");
      json_builder_add_int_value (builder, snapshot->vm_clock_nsec % 1000000000);
      json_builder_set_member_name (builder, "vm-state-size");
      json_builder_add_int_value (builder, snapshot->vm_state_size);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

static void
print_json (GPtrArray *chain)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_image_members (builder, chain->pdata[0]);
  json_builder_set_member_name (builder, "backing-chain");
  json_builder_begin_array (builder);
  for (guint i = 1; i < chain->len; i++)
    {
      json_builder_begin_object (builder);
      add_image_members (builder, chain->pdata[i]);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}

int
vivctl_disk_info (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *format_name = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (the keys of qemu-img info --output=json where they agree)", NULL },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "The image's format: raw or qcow2 (default: detected)", "FMT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE - show what an image is");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!vivctl_disk_parse_args (context, &argc, &argv, "info", 1, 1))
    return VIVCTL_EXIT_USAGE;

  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) chain = read_chain (argv[1], format_name, &error);
  if (!chain)
    return vivctl_disk_report (error);
  if (json)
    print_json (chain);
  else
    print_text (chain);
  return 0;
}
