/* vivctl disk, driven as a user would (the built binary, $VIVCTL), with
 * results checked by the real qemu-img. */
#include "block/block.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The brief's bound; sanitizers slow every process start several times. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define LINKED_CLONE_SECONDS 0.200
#else
#define LINKED_CLONE_SECONDS 0.020
#endif

#define MiB (1024 * 1024ull)
#define GiB (1024 * MiB)

typedef struct {
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  GError *error = NULL;
  fixture->dir = g_dir_make_tmp ("vivctl-disk-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static char *
path_in (Fixture *fixture, const char *name)
{
  return g_build_filename (fixture->dir, name, NULL);
}

/* Runs argv in the fixture's directory; returns the exit status. */
static int
run_argv (Fixture *fixture, const char *const *argv, char **out, char **err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_cwd (launcher, fixture->dir);
  g_autoptr (GSubprocess) process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  if (g_test_verbose ())
    g_test_message ("%s %s → %d\n%s%s", argv[0], argv[1], g_subprocess_get_exit_status (process),
                    stdout_text, stderr_text);
  if (out)
    *out = g_steal_pointer (&stdout_text);
  if (err)
    *err = g_steal_pointer (&stderr_text);
  return g_subprocess_get_exit_status (process);
}

/* vivctl disk ARGS… (NULL-terminated); stdout and stderr optional. */
static int G_GNUC_NULL_TERMINATED
vivctl (Fixture *fixture, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) g_getenv ("VIVCTL"));
  g_ptr_array_add (argv, "disk");
  va_list args;
  va_start (args, err);
  const char *arg;
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return run_argv (fixture, (const char *const *) argv->pdata, out, err);
}

static int G_GNUC_NULL_TERMINATED
qemu_img (Fixture *fixture, char **out, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, "qemu-img");
  va_list args;
  va_start (args, out);
  const char *arg;
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return run_argv (fixture, (const char *const *) argv->pdata, out, NULL);
}

static JsonObject *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  JsonNode *root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

static JsonObject *
qemu_img_info (Fixture *fixture, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (qemu_img (fixture, &out, "info", "--output=json", name, NULL), ==, 0);
  return parse_json (out);
}

static JsonObject *
vivctl_info (Fixture *fixture, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (vivctl (fixture, &out, NULL, "info", "--json", name, NULL), ==, 0);
  return parse_json (out);
}

static uint64_t
allocated (Fixture *fixture, const char *name)
{
  g_autofree char *path = path_in (fixture, name);
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return (uint64_t) st.st_blocks * 512;
}

static uint64_t
file_size (Fixture *fixture, const char *name)
{
  g_autofree char *path = path_in (fixture, name);
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_size;
}

/* Writes `len` bytes of a pattern (never zero) at `offset` of a raw file. */
static void
write_pattern (Fixture *fixture, const char *name, uint64_t offset, size_t len, uint8_t seed)
{
  g_autofree char *path = path_in (fixture, name);
  g_autofree uint8_t *buf = g_malloc (len);
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t) (seed + i * 7) | 1;
  int fd = open (path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, buf, len, offset), ==, (ssize_t) len);
  close (fd);
}

static void
assert_same_contents (Fixture *fixture, const char *a, const char *b)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (qemu_img (fixture, &out, "compare", a, b, NULL), ==, 0);
}

static void
assert_no_file (Fixture *fixture, const char *name)
{
  g_autofree char *path = path_in (fixture, name);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* No temporary file is left behind in the directory. */
static void
assert_no_temporaries (Fixture *fixture)
{
  g_autoptr (GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    g_assert_false (name[0] == '.');
}

static void
test_create_raw (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "1G", NULL), ==, 0);
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "a.raw");
  g_assert_cmpstr (json_object_get_string_member (info, "format"), ==, "raw");
  g_assert_cmpint (json_object_get_int_member (info, "virtual-size"), ==, GiB);
  /* Sparse: nothing allocated. */
  g_assert_cmpuint (allocated (fixture, "a.raw"), ==, 0);

  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "create", "a.raw", "2G", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--force"));
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, GiB);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "--force", "a.raw", "2G", NULL), ==, 0);
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, 2 * GiB);
  assert_no_temporaries (fixture);
}

static void
test_info_raw (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "64M", NULL), ==, 0);
  write_pattern (fixture, "a.raw", 8 * MiB, MiB, 3);
  g_autoptr (JsonObject) ours = vivctl_info (fixture, "a.raw");
  g_autoptr (JsonObject) theirs = qemu_img_info (fixture, "a.raw");
  g_assert_cmpstr (json_object_get_string_member (ours, "format"), ==,
                   json_object_get_string_member (theirs, "format"));
  g_assert_cmpint (json_object_get_int_member (ours, "virtual-size"), ==,
                   json_object_get_int_member (theirs, "virtual-size"));
  g_assert_cmpint (json_object_get_int_member (ours, "actual-size"), ==,
                   json_object_get_int_member (theirs, "actual-size"));
  g_assert_cmpint (json_object_get_int_member (ours, "actual-size"), ==, allocated (fixture, "a.raw"));

  g_autofree char *out = NULL;
  g_assert_cmpint (vivctl (fixture, &out, NULL, "info", "a.raw", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "file format: raw\n"));
  g_assert_nonnull (strstr (out, "virtual size: 64 MiB (67108864 bytes)\n"));
}

static void
test_check_raw (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "1M", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (vivctl (fixture, &out, NULL, "check", "a.raw", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "raw images have no metadata to check\n");
  /* Not done is 1 (as qemu-img check), never a verdict. */
  g_assert_cmpint (vivctl (fixture, NULL, &err, "check", "missing.img", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "missing.img"));
}

static void
test_convert_raw (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "256M", NULL), ==, 0);
  write_pattern (fixture, "a.raw", 0, 4096, 1);
  write_pattern (fixture, "a.raw", 100 * MiB + 512, 3 * MiB, 2);
  write_pattern (fixture, "a.raw", 256 * MiB - 4096, 4096, 3);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "a.raw", "b.raw", NULL), ==, 0);
  assert_same_contents (fixture, "a.raw", "b.raw");
  g_assert_cmpuint (file_size (fixture, "b.raw"), ==, 256 * MiB);
  /* Holes stay holes: about as much allocated as in the source. */
  g_assert_cmpuint (allocated (fixture, "b.raw"), <=, allocated (fixture, "a.raw") + 64 * 1024);

  /* Zeroes written as data in the source become holes. */
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "raw", "z.raw", "16M", NULL), ==, 0);
  g_autofree char *z = path_in (fixture, "z.raw");
  int fd = open (z, O_WRONLY);
  g_autofree uint8_t *zeroes = g_malloc0 (16 * MiB);
  g_assert_cmpint (pwrite (fd, zeroes, 16 * MiB, 0), ==, 16 * MiB);
  close (fd);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "z.raw", "z2.raw", NULL), ==, 0);
  assert_same_contents (fixture, "z.raw", "z2.raw");
  g_assert_cmpuint (allocated (fixture, "z2.raw"), ==, 0);
  assert_no_temporaries (fixture);
}

static void
test_resize_raw (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "1G", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "resize", "a.raw", "2G", NULL), ==, 0);
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, 2 * GiB);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "resize", "a.raw", "+512M", NULL), ==, 0);
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, 2 * GiB + 512 * MiB);

  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "resize", "a.raw", "-1G", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--shrink"));
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, 2 * GiB + 512 * MiB);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "resize", "--shrink", "a.raw", "-1G", NULL), ==, 0);
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, GiB + 512 * MiB);

  g_autoptr (JsonObject) info = qemu_img_info (fixture, "a.raw");
  g_assert_cmpint (json_object_get_int_member (info, "virtual-size"), ==, GiB + 512 * MiB);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (fixture, NULL, &err, "resize", "a.raw", "1000", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "512-byte"));
}

static void
test_clone_full_raw (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "1G", NULL), ==, 0);
  write_pattern (fixture, "a.raw", 0, 64 * 1024, 1);
  write_pattern (fixture, "a.raw", 500 * MiB, 2 * MiB, 2);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "clone", "--full", "a.raw", "b.raw", NULL), ==, 0);
  g_autofree char *out = NULL;
  const char *cmp[] = { "cmp", "a.raw", "b.raw", NULL };
  g_assert_cmpint (run_argv (fixture, cmp, &out, NULL), ==, 0);
  g_assert_cmpuint (file_size (fixture, "b.raw"), ==, GiB);
  /* Holes stay holes; the file system may add a block of its own. */
  g_assert_cmpuint (allocated (fixture, "b.raw"), <=, allocated (fixture, "a.raw") + 64 * 1024);
}

/* One "vivctl: …" line says what was wrong (the engine may log more). */
static void
assert_one_vivctl_line (const char *err)
{
  g_auto (GStrv) lines = g_strsplit (err, "\n", -1);
  guint n = 0;
  for (guint i = 0; lines[i]; i++)
    n += g_str_has_prefix (lines[i], "vivctl: ");
  g_assert_cmpuint (n, ==, 1);
}

/* Every command refuses an image a running VM holds (the block layer's
 * lock), with the block layer's message. */
static void
test_locked (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "1M", NULL), ==, 0);
  g_autofree char *path = path_in (fixture, "a.raw");
  VivBlockOptions options = { .path = path, .format = "raw" };
  g_autoptr (GError) error = NULL;
  VivBlock *vm_disk = viv_block_open (&options, &error);
  g_assert_no_error (error);

  const char *const commands[][5] = {
    { "info", "a.raw" },
    { "resize", "a.raw", "2M" },
    { "convert", "a.raw", "b.raw" },
    { "clone", "--full", "a.raw", "b.raw" },
    { "create", "--force", "a.raw", "2M" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (vivctl (fixture, NULL, &err, commands[i][0], commands[i][1],
                               commands[i][2], commands[i][3], commands[i][4], NULL), ==, 2);
      g_assert_nonnull (strstr (err, "in use"));
      assert_one_vivctl_line (err);
    }
  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "check", "a.raw", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "in use"));
  viv_block_close (vm_disk);
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, MiB);
  assert_no_file (fixture, "b.raw");
  assert_no_temporaries (fixture);
}

static void
test_bad_input (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "1M", NULL), ==, 0);
  static const struct {
    const char *args[6];
    const char *message;
  } cases[] = {
    { { "info", "missing.img" }, "does not exist" },
    { { "create", "b.raw", "12Q" }, "is not a size" },
    { { "create", "b.raw", "0" }, "more than zero" },
    { { "create", "-f", "vmdk", "b.img", "1G" }, "unknown image format 'vmdk'" },
    { { "create", "b.raw" }, "SIZE is needed" },
    { { "create", "a.raw", "1G" }, "already exists" },
    { { "convert", "-O", "vhd", "a.raw", "b.img" }, "unknown image format 'vhd'" },
    { { "convert", "a.raw", "a.raw" }, "--force" },
    { { "convert", "missing.img", "b.raw" }, "does not exist" },
    { { "clone", "a.raw", "b.raw" }, "--full" },
    { { "clone", "--full", "a.raw", "a.raw" }, "already exists" },
    { { "clone", "--full", "a.raw", "no/such/dir/b.raw" }, "does not exist" },
    { { "resize", "a.raw" }, "missing argument" },
    { { "snapshot", "-l", "a.raw" }, "raw image" },
    { { "snapshot", "-c", "s1", "-d", "s1", "a.raw" }, "exactly one" },
    { { "commit", "a.raw" }, "raw image" },
    { { "frobnicate", "a.raw" }, "unknown command" },
    { { "info", "--bogus", "a.raw" }, "--bogus" },
    { { "info", "a.raw", "extra" }, "unexpected argument 'extra'" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      const char *const *a = cases[i].args;
      g_assert_cmpint (vivctl (fixture, NULL, &err, a[0], a[1], a[2], a[3], a[4], a[5], NULL), ==, 2);
      if (!strstr (err, cases[i].message))
        g_error ("%s: expected “%s” in: %s", a[0], cases[i].message, err);
      assert_one_vivctl_line (err);
    }
  g_assert_cmpuint (file_size (fixture, "a.raw"), ==, MiB);
  assert_no_file (fixture, "b.raw");
  assert_no_temporaries (fixture);
}

static void
qemu_io_write (Fixture *fixture, const char *name, const char *format, uint64_t offset,
               uint64_t len, unsigned pattern)
{
  g_autofree char *command = g_strdup_printf ("write -P 0x%02x %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
                                              pattern, offset, len);
  const char *argv[] = { "qemu-io", "-f", format, "-c", command, name, NULL };
  g_assert_cmpint (run_argv (fixture, argv, NULL, NULL), ==, 0);
}

static void
assert_qemu_check_clean (Fixture *fixture, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (qemu_img (fixture, &out, "check", name, NULL), ==, 0);
}

static void
test_create_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-f", "qcow2", "a.qcow2", "1G", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "a.qcow2");
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "a.qcow2");
  g_assert_cmpstr (json_object_get_string_member (info, "format"), ==, "qcow2");
  g_assert_cmpint (json_object_get_int_member (info, "virtual-size"), ==, GiB);
  g_assert_cmpint (json_object_get_int_member (info, "cluster-size"), ==, 65536);
  JsonObject *specific = json_object_get_object_member (
      json_object_get_object_member (info, "format-specific"), "data");
  g_assert_cmpstr (json_object_get_string_member (specific, "compat"), ==, "1.1");
  /* Thin: a few metadata clusters. */
  g_assert_cmpuint (file_size (fixture, "a.qcow2"), <, MiB);

  /* An overlay takes its backing image's size. */
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "raw", "base.raw", "64M", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-b", "base.raw", "over.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "over.qcow2");
  g_autoptr (JsonObject) over = qemu_img_info (fixture, "over.qcow2");
  g_assert_cmpint (json_object_get_int_member (over, "virtual-size"), ==, 64 * MiB);
  g_assert_cmpstr (json_object_get_string_member (over, "backing-filename"), ==, "base.raw");
  g_assert_cmpstr (json_object_get_string_member (over, "backing-filename-format"), ==, "raw");
  assert_no_temporaries (fixture);
}

static void
assert_same_member (JsonObject *ours, JsonObject *theirs, const char *member)
{
  g_assert_true (json_object_has_member (theirs, member));
  g_assert_true (json_object_has_member (ours, member));
  JsonNode *a = json_object_get_member (ours, member), *b = json_object_get_member (theirs, member);
  if (!json_node_equal (a, b))
    g_error ("%s: %s ≠ qemu-img's %s", member, json_to_string (a, FALSE), json_to_string (b, FALSE));
}

static void
test_info_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "raw", "base.raw", "64M", NULL), ==, 0);
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
                             "mid.qcow2", NULL), ==, 0);
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
                             "top.qcow2", NULL), ==, 0);
  qemu_io_write (fixture, "top.qcow2", "qcow2", 0, 1024 * 1024, 0x5a);
  g_autoptr (JsonObject) ours = vivctl_info (fixture, "top.qcow2");
  g_autoptr (JsonObject) theirs = qemu_img_info (fixture, "top.qcow2");
  const char *members[] = { "filename", "format", "virtual-size", "actual-size", "cluster-size",
                            "backing-filename", "full-backing-filename",
                            "backing-filename-format", "dirty-flag" };
  for (size_t i = 0; i < G_N_ELEMENTS (members); i++)
    assert_same_member (ours, theirs, members[i]);
  JsonArray *chain = json_object_get_array_member (ours, "backing-chain");
  g_assert_cmpuint (json_array_get_length (chain), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (chain, 0), "format"), ==, "qcow2");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (chain, 1), "format"), ==, "raw");
  g_assert_false (json_object_get_boolean_member (ours, "corrupt"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (ours, "snapshots")), ==, 0);
}

/* Sets the refcount of cluster `cluster` of a fresh qcow2 v3 image
 * (16-bit refcounts, everything in refcount block 0). */
static void
set_refcount (Fixture *fixture, const char *name, uint64_t cluster, uint16_t refcount)
{
  g_autofree char *path = path_in (fixture, name);
  int fd = open (path, O_RDWR);
  g_assert_cmpint (fd, >=, 0);
  uint8_t header[104];
  g_assert_cmpint (pread (fd, header, sizeof header, 0), ==, sizeof header);
  uint32_t cluster_bits = GUINT32_FROM_BE (*(uint32_t *) (header + 20));
  uint64_t reftable = GUINT64_FROM_BE (*(uint64_t *) (header + 48));
  g_assert_cmpuint (GUINT32_FROM_BE (*(uint32_t *) (header + 96)), ==, 4);
  uint64_t refblock;
  g_assert_cmpint (pread (fd, &refblock, 8, reftable), ==, 8);
  refblock = GUINT64_FROM_BE (refblock);
  g_assert_cmpuint (cluster * 2, <, 1u << cluster_bits);
  uint16_t be = GUINT16_TO_BE (refcount);
  g_assert_cmpint (pwrite (fd, &be, 2, refblock + cluster * 2), ==, 2);
  struct stat st;
  fstat (fd, &st);
  uint64_t end = (cluster + 1) << cluster_bits;
  if ((uint64_t) st.st_size < end)
    g_assert_cmpint (ftruncate (fd, end), ==, 0);
  close (fd);
}

static void
test_check_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-f", "qcow2", "a.qcow2", "64M", NULL), ==, 0);
  qemu_io_write (fixture, "a.qcow2", "qcow2", 0, 128 * 1024, 0x11);
  g_assert_cmpint (vivctl (fixture, &out, NULL, "check", "a.qcow2", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "No errors were found on the image."));

  /* A leak: a cluster counted but used by nothing. */
  uint64_t leaked = (file_size (fixture, "a.qcow2") + 65535) / 65536;
  set_refcount (fixture, "a.qcow2", leaked, 1);
  g_assert_cmpint (qemu_img (fixture, NULL, "check", "a.qcow2", NULL), ==, 3);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (vivctl (fixture, &out, NULL, "check", "a.qcow2", NULL), ==, 3);
  g_assert_nonnull (strstr (out, "1 leaked clusters were found"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (vivctl (fixture, &out, NULL, "check", "-r", "leaks", "a.qcow2", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "1 leaked clusters\n"));
  assert_qemu_check_clean (fixture, "a.qcow2");

  /* A corruption: the header cluster counted as free. */
  set_refcount (fixture, "a.qcow2", 0, 0);
  g_assert_cmpint (qemu_img (fixture, NULL, "check", "a.qcow2", NULL), ==, 2);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "check", "a.qcow2", NULL), ==, 2);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "check", "-r", "leaks", "a.qcow2", NULL), ==, 2);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "check", "-r", "all", "a.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "a.qcow2");

  /* An image qemu-img made is clean for both. */
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "qcow2", "q.qcow2", "1G", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "check", "q.qcow2", NULL), ==, 0);
  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "check", "-r", "some", "q.qcow2", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "leaks or all"));
}

static void
test_convert_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "256M", NULL), ==, 0);
  write_pattern (fixture, "a.raw", 0, 4096, 1);
  write_pattern (fixture, "a.raw", 100 * MiB + 512, 3 * MiB, 2);
  write_pattern (fixture, "a.raw", 256 * MiB - 4096, 4096, 3);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "-O", "qcow2", "a.raw", "b.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "b.qcow2");
  assert_same_contents (fixture, "a.raw", "b.qcow2");
  /* Thin: the data clusters and metadata only. */
  g_assert_cmpuint (file_size (fixture, "b.qcow2"), <, 6 * MiB);
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "b.qcow2");
  g_assert_cmpstr (json_object_get_string_member (info, "format"), ==, "qcow2");
  g_assert_cmpint (json_object_get_int_member (info, "virtual-size"), ==, 256 * MiB);

  /* Back to raw, and a qcow2 overlay flattened through its chain. */
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "b.qcow2", "c.raw", NULL), ==, 0);
  const char *cmp[] = { "cmp", "a.raw", "c.raw", NULL };
  g_assert_cmpint (run_argv (fixture, cmp, NULL, NULL), ==, 0);
  g_assert_cmpuint (allocated (fixture, "c.raw"), <=, allocated (fixture, "a.raw") + 64 * 1024);

  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2",
                             "over.qcow2", NULL), ==, 0);
  qemu_io_write (fixture, "over.qcow2", "qcow2", 50 * MiB, MiB, 0x77);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "-O", "qcow2", "over.qcow2", "flat.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "flat.qcow2");
  assert_same_contents (fixture, "over.qcow2", "flat.qcow2");
  g_autoptr (JsonObject) flat = qemu_img_info (fixture, "flat.qcow2");
  g_assert_false (json_object_has_member (flat, "backing-filename"));
  assert_no_temporaries (fixture);
}

/* Does qemu-img map show compressed clusters?  QEMU ≥ 8 says
 * "compressed": true; older ones give compressed data no host "offset". */
static bool
qemu_maps_compressed (Fixture *fixture, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (qemu_img (fixture, &out, "map", "--output=json", name, NULL), ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  JsonArray *map = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (map); i++)
    {
      JsonObject *range = json_array_get_object_element (map, i);
      if (!json_object_get_boolean_member (range, "data"))
        continue;
      if (json_object_has_member (range, "compressed")
          ? json_object_get_boolean_member (range, "compressed")
          : !json_object_has_member (range, "offset"))
        return true;
    }
  return false;
}

/* convert -c: qemu-img finds the result clean, equal, and compressed;
 * much smaller than a plain convert; zlib and zstd; our reader reads both
 * back. */
static void
test_convert_compressed (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "a.raw", "64M", NULL), ==, 0);
  write_pattern (fixture, "a.raw", 0, 8 * MiB, 1);
  write_pattern (fixture, "a.raw", 40 * MiB + 512, 3 * MiB, 2);
  write_pattern (fixture, "a.raw", 64 * MiB - 4096, 4096, 3);
  /* Noise does not compress: it is stored as it is. */
  {
    g_autofree char *path = path_in (fixture, "a.raw");
    g_autofree uint8_t *noise = g_malloc (MiB);
    GRand *rand = g_rand_new_with_seed (7);
    for (size_t i = 0; i < MiB; i += 4)
      {
        guint32 v = g_rand_int (rand);
        memcpy (noise + i, &v, 4);
      }
    g_rand_free (rand);
    int fd = open (path, O_WRONLY);
    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (pwrite (fd, noise, MiB, 20 * MiB), ==, (ssize_t) MiB);
    close (fd);
  }
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "-O", "qcow2", "a.raw", "plain.qcow2", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "-c", "-O", "qcow2", "a.raw", "zlib.qcow2", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd",
                           "a.raw", "zstd.qcow2", NULL), ==, 0);
  static const char *const types[] = { "zlib", "zstd" };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *name = g_strdup_printf ("%s.qcow2", types[i]);
      assert_qemu_check_clean (fixture, name);
      assert_same_contents (fixture, "a.raw", name);
      /* Compressible data: far smaller than the plain convert (which holds 12 MiB). */
      g_assert_cmpuint (file_size (fixture, name), <, file_size (fixture, "plain.qcow2") / 3);
      g_autoptr (JsonObject) info = qemu_img_info (fixture, name);
      JsonObject *specific = json_object_get_object_member (
          json_object_get_object_member (info, "format-specific"), "data");
      g_assert_cmpstr (json_object_get_string_member (specific, "compression-type"), ==, types[i]);
      g_assert_true (qemu_maps_compressed (fixture, name));
      /* Our reader: back to raw. */
      g_autofree char *back = g_strdup_printf ("%s.raw", types[i]);
      g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", name, back, NULL), ==, 0);
      const char *cmp[] = { "cmp", "a.raw", back, NULL };
      g_assert_cmpint (run_argv (fixture, cmp, NULL, NULL), ==, 0);
    }
  /* A compressed qcow2 SRC converts to a compressed one too. */
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "-c", "-O", "qcow2", "zstd.qcow2", "again.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "again.qcow2");
  assert_same_contents (fixture, "a.raw", "again.qcow2");

  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "convert", "-c", "-O", "raw", "a.raw", "b.raw", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "-O qcow2"));
  assert_one_vivctl_line (err);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (fixture, NULL, &err, "convert", "-c", "a.raw", "b.raw", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "-O qcow2"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (fixture, NULL, &err, "convert", "-c", "-O", "qcow2", "-o", "compression_type=lz4",
                           "a.raw", "b.qcow2", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "compression_type=zstd"));
  assert_no_file (fixture, "b.raw");
  assert_no_file (fixture, "b.qcow2");
  assert_no_temporaries (fixture);
}

static void
test_resize_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-f", "qcow2", "a.qcow2", "1G", NULL), ==, 0);
  qemu_io_write (fixture, "a.qcow2", "qcow2", 0, MiB, 0x33);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "resize", "a.qcow2", "+3G", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "a.qcow2");
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "a.qcow2");
  g_assert_cmpint (json_object_get_int_member (info, "virtual-size"), ==, 4 * GiB);
  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "resize", "a.qcow2", "2G", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--shrink"));
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "resize", "--shrink", "a.qcow2", "2G", NULL), ==, 0);
  g_autoptr (JsonObject) shrunk = qemu_img_info (fixture, "a.qcow2");
  g_assert_cmpint (json_object_get_int_member (shrunk, "virtual-size"), ==, 2 * GiB);
  assert_qemu_check_clean (fixture, "a.qcow2");
}

static void
test_snapshots (Fixture *fixture, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-f", "qcow2", "a.qcow2", "64M", NULL), ==, 0);
  qemu_io_write (fixture, "a.qcow2", "qcow2", 0, MiB, 0x01);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "a.qcow2", "before.raw", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "snapshot", "-c", "clean", "a.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "a.qcow2");
  g_assert_cmpint (qemu_img (fixture, &out, "snapshot", "-l", "a.qcow2", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "clean"));

  /* One qemu-img takes is listed by vivctl. */
  qemu_io_write (fixture, "a.qcow2", "qcow2", 0, MiB, 0x02);
  g_assert_cmpint (qemu_img (fixture, NULL, "snapshot", "-c", "dirty", "a.qcow2", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (vivctl (fixture, &out, NULL, "snapshot", "-l", "a.qcow2", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "clean"));
  g_assert_nonnull (strstr (out, "dirty"));
  g_autoptr (JsonObject) info = vivctl_info (fixture, "a.qcow2");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (info, "snapshots")), ==, 2);

  /* Apply brings the contents back. */
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "snapshot", "-a", "clean", "a.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "a.qcow2");
  assert_same_contents (fixture, "a.qcow2", "before.raw");

  g_assert_cmpint (vivctl (fixture, NULL, NULL, "snapshot", "-d", "clean", "a.qcow2", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "snapshot", "-d", "dirty", "a.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "a.qcow2");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (qemu_img (fixture, &out, "snapshot", "-l", "a.qcow2", NULL), ==, 0);
  g_assert_null (strstr (out, "clean"));
  g_assert_null (strstr (out, "dirty"));

  g_autofree char *err = NULL;
  g_assert_cmpint (vivctl (fixture, NULL, &err, "snapshot", "-a", "nosuch", "a.qcow2", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "nosuch"));
}

/* Best wall time of `runs` runs of vivctl disk ARGS, "%u" in an argument
 * being replaced by the run's number. */
static double
best_seconds (Fixture *fixture, unsigned runs, const char *a0, const char *a1, const char *a2,
              const char *a3)
{
  double best = G_MAXDOUBLE;
  for (unsigned i = 0; i < runs; i++)
    {
      g_autofree char *dst = a3 ? g_strdup_printf (a3, i + 1) : NULL;
      gint64 start = g_get_monotonic_time ();
      g_assert_cmpint (vivctl (fixture, NULL, NULL, a0, a1, a2, dst, NULL), ==, 0);
      double seconds = (g_get_monotonic_time () - start) / 1e6;
      best = MIN (best, seconds);
    }
  return best;
}

static void
test_clone_linked (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "big.raw", "100G", NULL), ==, 0);
  write_pattern (fixture, "big.raw", 99 * GiB, MiB, 9);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "small.raw", "1M", NULL), ==, 0);
  /* O(1): cloning 100 GiB costs what cloning 1 MiB does (the best of five
   * runs each, so a busy machine does not count). */
  double big = best_seconds (fixture, 5, "clone", "--linked", "big.raw", "c%u.qcow2");
  double small = best_seconds (fixture, 5, "clone", "--linked", "small.raw", "s%u.qcow2");
  g_test_message ("linked clone of a 100 GiB image: %.1f ms; of a 1 MiB image: %.1f ms",
                  big * 1e3, small * 1e3);
  g_assert_cmpfloat (big, <=, small * 1.5 + 0.005);
  /* The target, beyond starting vivctl at all: run alone (-m perf). */
  if (g_test_perf ())
    {
      double starting = best_seconds (fixture, 5, "--help", NULL, NULL, NULL);
      g_test_minimized_result (big - starting, "linked clone of 100 GiB: %.1f ms beyond vivctl's start (%.1f ms)",
                               (big - starting) * 1e3, starting * 1e3);
      g_assert_cmpfloat (big - starting, <=, LINKED_CLONE_SECONDS);
    }

  assert_qemu_check_clean (fixture, "c1.qcow2");
  g_autofree char *out = NULL;
  g_assert_cmpint (qemu_img (fixture, &out, "info", "--backing-chain", "c1.qcow2", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "image: c1.qcow2"));
  g_assert_nonnull (strstr (out, "backing file: big.raw"));
  g_assert_nonnull (strstr (out, "backing file format: raw"));
  g_assert_nonnull (strstr (out, "image: big.raw"));
  assert_same_contents (fixture, "c1.qcow2", "big.raw");

  /* A relative SRC is recorded relative to DST's directory. */
  g_autofree char *sub = path_in (fixture, "sub");
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "clone", "--linked", "big.raw", "sub/c.qcow2", NULL), ==, 0);
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "sub/c.qcow2");
  g_assert_cmpstr (json_object_get_string_member (info, "backing-filename"), ==, "../big.raw");
  g_autofree char *sub_clone = path_in (fixture, "sub/c.qcow2");
  g_unlink (sub_clone);
  g_rmdir (sub);
}

static void
test_clone_full_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-f", "qcow2", "a.qcow2", "1G", NULL), ==, 0);
  qemu_io_write (fixture, "a.qcow2", "qcow2", 10 * MiB, MiB, 0x42);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "clone", "--full", "a.qcow2", "b.qcow2", NULL), ==, 0);
  const char *cmp[] = { "cmp", "a.qcow2", "b.qcow2", NULL };
  g_assert_cmpint (run_argv (fixture, cmp, NULL, NULL), ==, 0);
  assert_qemu_check_clean (fixture, "b.qcow2");

  /* An overlay's full clone stands alone. */
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "clone", "--linked", "a.qcow2", "o.qcow2", NULL), ==, 0);
  qemu_io_write (fixture, "o.qcow2", "qcow2", 20 * MiB, MiB, 0x43);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "clone", "--full", "o.qcow2", "f.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "f.qcow2");
  assert_same_contents (fixture, "o.qcow2", "f.qcow2");
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "f.qcow2");
  g_assert_false (json_object_has_member (info, "backing-filename"));
}

static void
test_commit (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "raw", "base.raw", "64M", NULL), ==, 0);
  write_pattern (fixture, "base.raw", 0, 4 * MiB, 5);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-b", "base.raw", "over.qcow2", NULL), ==, 0);
  qemu_io_write (fixture, "over.qcow2", "qcow2", MiB, 2 * MiB, 0x66);
  qemu_io_write (fixture, "over.qcow2", "qcow2", 40 * MiB, 64 * 1024, 0x67);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "over.qcow2", "expected.raw", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "commit", "over.qcow2", NULL), ==, 0);
  assert_same_contents (fixture, "base.raw", "expected.raw");
  assert_same_contents (fixture, "over.qcow2", "expected.raw");
  assert_qemu_check_clean (fixture, "over.qcow2");
}

static void
test_rebase (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "raw", "base1.raw", "64M", NULL), ==, 0);
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "raw", "base2.raw", "64M", NULL), ==, 0);
  write_pattern (fixture, "base1.raw", 0, 4 * MiB, 1);
  write_pattern (fixture, "base2.raw", 2 * MiB, 4 * MiB, 2);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-b", "base1.raw", "over.qcow2", NULL), ==, 0);
  qemu_io_write (fixture, "over.qcow2", "qcow2", 3 * MiB, MiB, 0x55);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "convert", "over.qcow2", "expected.raw", NULL), ==, 0);

  /* Safe: reads the same on the new backing image. */
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "rebase", "-b", "base2.raw", "over.qcow2", NULL), ==, 0);
  assert_qemu_check_clean (fixture, "over.qcow2");
  g_autoptr (JsonObject) info = qemu_img_info (fixture, "over.qcow2");
  g_assert_cmpstr (json_object_get_string_member (info, "backing-filename"), ==, "base2.raw");
  g_assert_cmpstr (json_object_get_string_member (info, "backing-filename-format"), ==, "raw");
  assert_same_contents (fixture, "over.qcow2", "expected.raw");

  /* Unsafe: only the name changes, as with qemu-img rebase -u. */
  g_assert_cmpint (qemu_img (fixture, NULL, "create", "-f", "qcow2", "-b", "base1.raw", "-F", "raw",
                             "theirs.qcow2", NULL), ==, 0);
  g_assert_cmpint (qemu_img (fixture, NULL, "rebase", "-u", "-b", "base2.raw", "-F", "raw",
                             "theirs.qcow2", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "create", "-b", "base1.raw", "ours.qcow2", NULL), ==, 0);
  g_assert_cmpint (vivctl (fixture, NULL, NULL, "rebase", "-u", "-b", "base2.raw", "ours.qcow2", NULL), ==, 0);
  assert_same_contents (fixture, "ours.qcow2", "theirs.qcow2");
  assert_same_contents (fixture, "ours.qcow2", "base2.raw");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_nonnull (g_getenv ("VIVCTL"));
#define ADD(name, func) g_test_add ("/disk/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("create/raw", test_create_raw);
  ADD ("info/raw", test_info_raw);
  ADD ("check/raw", test_check_raw);
  ADD ("convert/raw", test_convert_raw);
  ADD ("resize/raw", test_resize_raw);
  ADD ("clone/full-raw", test_clone_full_raw);
  ADD ("create/qcow2", test_create_qcow2);
  ADD ("info/qcow2-chain", test_info_qcow2);
  ADD ("check/qcow2", test_check_qcow2);
  ADD ("convert/qcow2", test_convert_qcow2);
  ADD ("convert/compressed", test_convert_compressed);
  ADD ("resize/qcow2", test_resize_qcow2);
  ADD ("snapshot", test_snapshots);
  ADD ("clone/linked", test_clone_linked);
  ADD ("clone/full-qcow2", test_clone_full_qcow2);
  ADD ("commit", test_commit);
  ADD ("rebase", test_rebase);
  ADD ("locked", test_locked);
  ADD ("bad-input", test_bad_input);
  return g_test_run ();
}
