/* The New Virtual Machine assistant: it says why a name, a size or a
 * port forward is refused, it recognises installation media with
 * libosinfo, and what it creates is what viv_library_create_vm() (the
 * `vivctl create` path) makes of the same choices.  Runs under xvfb-run
 * (see meson.build). */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "os-detect.h"
#include "ui-test-util.h"
#include "viv-test-iso.h"
#include "vivarium-create-wizard.h"
#include "vm-create.h"

static gpointer
wizard_child (VivCreateWizard *wizard,
              const char      *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (wizard), VIV_TYPE_CREATE_WIZARD, name);

  g_assert_nonnull (child);
  return child;
}

static void
set_text (VivCreateWizard *wizard,
          const char      *row,
          const char      *text)
{
  gtk_editable_set_text (GTK_EDITABLE (wizard_child (wizard, row)), text);
}

static const char *
page (VivCreateWizard *wizard)
{
  return gtk_stack_get_visible_child_name (wizard_child (wizard, "stack"));
}

static void
next (VivCreateWizard *wizard)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (wizard), "wizard.next", NULL));
  viv_ui_test_settle ();
}

/* The error label `name` is showing a message (and the page did not change). */
static void
assert_refused (VivCreateWizard *wizard,
                const char      *label_name,
                const char      *on_page)
{
  GtkLabel *label = wizard_child (wizard, label_name);

  g_assert_cmpstr (page (wizard), ==, on_page);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (label)));
  g_assert_cmpstr (gtk_label_get_text (label), !=, "");
  g_test_message ("%s: %s", on_page, gtk_label_get_text (label));
}

/* What os_row shows as chosen. */
static const char *
chosen_os (VivCreateWizard *wizard)
{
  AdwComboRow *row = wizard_child (wizard, "os_row");

  return gtk_string_object_get_string (adw_combo_row_get_selected_item (row));
}

static VivCreateWizard *
open_wizard (void)
{
  VivCreateWizard *wizard = viv_create_wizard_new (NULL, NULL);

  gtk_window_present (GTK_WINDOW (wizard));
  viv_ui_test_settle ();
  g_assert_cmpstr (page (wizard), ==, "boot");
  return wizard;
}

static void
test_create_wizard_refuses (void)
{
  VivCreateWizard *wizard = open_wizard ();
  g_autoptr (VivLibrary) library = NULL;

  next (wizard);
  assert_refused (wizard, "boot_error", "boot");
  set_text (wizard, "kernel_row", "/nonexistent/vmlinuz");
  next (wizard);
  assert_refused (wizard, "boot_error", "boot");
  set_text (wizard, "kernel_row", TEST_KERNEL);
  next (wizard);
  g_assert_cmpstr (page (wizard), ==, "name");

  next (wizard);
  assert_refused (wizard, "name_error", "name");
  set_text (wizard, "name_row", "has space");
  next (wizard);
  assert_refused (wizard, "name_error", "name");
  set_text (wizard, "name_row", "-dash-first");
  next (wizard);
  assert_refused (wizard, "name_error", "name");
  viv_ui_test_define_vm ("taken", TEST_KERNEL, NULL, 1, 64 << 20);
  set_text (wizard, "name_row", "taken");
  next (wizard);
  assert_refused (wizard, "name_error", "name");
  g_assert_nonnull (strstr (gtk_label_get_text (wizard_child (wizard, "name_error")), "taken"));
  set_text (wizard, "name_row", "fresh");
  g_assert_false (gtk_widget_get_visible (wizard_child (wizard, "name_error")));
  next (wizard);
  g_assert_cmpstr (page (wizard), ==, "hardware");

  /* The spin buttons hold memory and vCPUs within their bounds. */
  gtk_adjustment_set_value (wizard_child (wizard, "memory_adjustment"), 1);
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "memory_adjustment")), ==, 16);
  gtk_adjustment_set_value (wizard_child (wizard, "vcpus_adjustment"), 1000);
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "vcpus_adjustment")), ==, 32);
  next (wizard);

  adw_combo_row_set_selected (wizard_child (wizard, "disk_kind_row"), 1);
  const char *bad_sizes[] = { "", "0", "12Q", "-5G", "100" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_sizes); i++)
    {
      set_text (wizard, "disk_size_row", bad_sizes[i]);
      next (wizard);
      assert_refused (wizard, "disk_error", "disk");
    }
  adw_combo_row_set_selected (wizard_child (wizard, "disk_kind_row"), 2);
  set_text (wizard, "disk_path_row", "/nonexistent/disk.img");
  next (wizard);
  assert_refused (wizard, "disk_error", "disk");
  adw_combo_row_set_selected (wizard_child (wizard, "disk_kind_row"), 1);
  set_text (wizard, "disk_size_row", "64M");
  next (wizard);
  g_assert_cmpstr (page (wizard), ==, "network");

  set_text (wizard, "forwards_row", "99999:22");
  next (wizard);
  assert_refused (wizard, "net_error", "network");
  set_text (wizard, "forwards_row", "2222");
  next (wizard);
  assert_refused (wizard, "net_error", "network");
  adw_combo_row_set_selected (wizard_child (wizard, "net_kind_row"), 1);
  next (wizard);
  assert_refused (wizard, "net_error", "network");
  set_text (wizard, "tap_row", "a-much-too-long-name");
  next (wizard);
  assert_refused (wizard, "net_error", "network");

  gtk_window_destroy (GTK_WINDOW (wizard));
  viv_ui_test_undefine_vm ("taken");
  library = viv_library_open (NULL, NULL);
  g_assert_false (viv_library_contains (library, "fresh"));
}

static gboolean
wizard_gone (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* ---- Installation media ---------------------------------------------- */

static char *media_dir;   /* made on first use */

/* An ISO 9660 image in media_dir (the test's private data directory,
 * removed at exit); NULL, and the test skipped, without xorriso. */
static char *
make_iso (const char *name,
          const char *volume_id)
{
  if (media_dir == NULL)
    media_dir = g_build_filename (g_get_user_data_dir (), "media", NULL);
  return viv_test_make_iso (media_dir, name, volume_id, NULL, NULL);
}

static gboolean
detection_done (gpointer data)
{
  GtkLabel *status = wizard_child (data, "media_status");

  return gtk_widget_get_visible (GTK_WIDGET (status))
         && !g_str_has_prefix (gtk_label_get_text (status), "Detecting");
}

/* Chooses the media and waits for its OS; returns what the wizard says. */
static const char *
choose_media (VivCreateWizard *wizard,
              const char      *path)
{
  GtkLabel *status = wizard_child (wizard, "media_status");

  set_text (wizard, "media_row", path);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (status)));
  g_assert_true (viv_ui_test_wait (detection_done, wizard, 20000));
  g_test_message ("media: %s", gtk_label_get_text (status));
  return gtk_label_get_text (status);
}

static void
test_create_wizard_media (void)
{
  g_autofree char *debian = make_iso ("debian.iso", "Debian 11.5.0 amd64 n");
  g_autofree char *mine = NULL;
  g_autofree char *text_file = NULL;
  VivCreateWizard *wizard;
  GtkLabel *status;
  const char *said;

  if (debian == NULL)
    return;
  mine = make_iso ("photos.iso", "HOLIDAY PHOTOS");
  text_file = g_build_filename (media_dir, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (text_file, "not an ISO", -1, NULL));

  wizard = open_wizard ();
  status = wizard_child (wizard, "media_status");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (status)));
  /* Screen readers hear the outcome, as part of the row. */
  g_assert_true (gtk_test_accessible_has_role (GTK_ACCESSIBLE (status), GTK_ACCESSIBLE_ROLE_STATUS));
  g_assert_true (gtk_test_accessible_has_relation (wizard_child (wizard, "media_row"),
                                                   GTK_ACCESSIBLE_RELATION_DESCRIBED_BY));

  /* Detected: the OS, where its installer's kernel is, and its
   * resources in the next pages. */
  said = choose_media (wizard, debian);
  g_assert_true (g_str_has_prefix (said, "Detected: Debian 11 (bullseye)"));
  g_assert_nonnull (strstr (said, "install.amd/vmlinuz"));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (status), "error"));
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "memory_adjustment")), ==, 1024);
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "vcpus_adjustment")), ==, 1);
  g_assert_cmpuint (adw_combo_row_get_selected (wizard_child (wizard, "disk_kind_row")), ==, 1);
  g_assert_cmpstr (gtk_editable_get_text (wizard_child (wizard, "disk_size_row")), ==, "20G");
  /* The same choice as by hand. */
  g_assert_cmpstr (chosen_os (wizard), ==, "Debian 11 (bullseye)");

  /* Unrecognised media and other files: said inline, as errors; the
   * other media's OS is no longer chosen. */
  said = choose_media (wizard, mine);
  g_assert_nonnull (strstr (said, "not recognised by libosinfo"));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (status), "error"));
  g_assert_cmpuint (adw_combo_row_get_selected (wizard_child (wizard, "os_row")), ==, 0);
  g_assert_cmpstr (chosen_os (wizard), ==, "Unknown / other");
  said = choose_media (wizard, text_file);
  g_assert_nonnull (strstr (said, "is not installation media"));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (status), "error"));

  /* What the user set stays: only the memory follows the OS now. */
  gtk_adjustment_set_value (wizard_child (wizard, "memory_adjustment"), 64);
  gtk_adjustment_set_value (wizard_child (wizard, "vcpus_adjustment"), 3);
  set_text (wizard, "disk_size_row", "5G");
  gtk_adjustment_set_value (wizard_child (wizard, "memory_adjustment"), 64);
  said = choose_media (wizard, debian);
  g_assert_true (g_str_has_prefix (said, "Detected: "));
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "vcpus_adjustment")), ==, 3);
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "memory_adjustment")), ==, 64);
  g_assert_cmpstr (gtk_editable_get_text (wizard_child (wizard, "disk_size_row")), ==, "5G");

  /* A missing file is refused on Next; none at all is fine. */
  set_text (wizard, "kernel_row", TEST_KERNEL);
  set_text (wizard, "media_row", "/nonexistent/install.iso");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (status)));
  next (wizard);
  assert_refused (wizard, "boot_error", "boot");
  set_text (wizard, "media_row", "");
  next (wizard);
  g_assert_cmpstr (page (wizard), ==, "name");

  gtk_window_destroy (GTK_WINDOW (wizard));
}

/* Fills every page, presses Create and waits for the VM in the library. */
static VivVmDefinition *
create_through_wizard (const char *name,
                       const char *media,
                       guint       disk_kind,
                       const char *disk_text)
{
  VivCreateWizard *wizard = open_wizard ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) library = NULL;
  VivVmDefinition *def;
  const char *summary;

  set_text (wizard, "kernel_row", TEST_KERNEL);
  set_text (wizard, "cmdline_row", "console=ttyS0 quiet");
  if (media != NULL)
    choose_media (wizard, media);
  next (wizard);
  set_text (wizard, "name_row", name);
  next (wizard);
  gtk_adjustment_set_value (wizard_child (wizard, "vcpus_adjustment"), 2);
  gtk_adjustment_set_value (wizard_child (wizard, "memory_adjustment"), 128);
  next (wizard);
  adw_combo_row_set_selected (wizard_child (wizard, "disk_kind_row"), disk_kind);
  set_text (wizard, disk_kind == 1 ? "disk_size_row" : "disk_path_row", disk_text);
  next (wizard);
  set_text (wizard, "forwards_row", "2222:22, 8080:80");
  next (wizard);
  g_assert_cmpstr (page (wizard), ==, "summary");
  summary = gtk_label_get_text (wizard_child (wizard, "summary_label"));
  g_assert_nonnull (strstr (summary, name));
  /* The summary says what will be made in words, not as vivctl specs. */
  g_assert_null (strstr (summary, "hostfwd="));
  g_assert_nonnull (strstr (summary, "Port forward: host 127.0.0.1:8080 to guest port 80"));
  if (disk_kind == 1)
    g_assert_nonnull (strstr (summary, "Disk: a new "));

  g_object_add_weak_pointer (G_OBJECT (wizard), (gpointer *) &wizard);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (wizard), "wizard.next", NULL));
  g_assert_true (viv_ui_test_wait (wizard_gone, &wizard, 10000));

  library = viv_library_open (NULL, &error);
  g_assert_no_error (error);
  def = viv_library_load (library, name, &error);
  g_assert_no_error (error);
  return def;
}

/* What `vivctl create` is given for the same choices. */
static VivVmDefinition *
create_through_library (const char *root,
                        const char *name,
                        const char *media,
                        const char *os_id,
                        const char *disk_spec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) library = viv_library_open (root, &error);
  char *disks[] = { (char *) disk_spec, NULL };
  char *nets[] = { "user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80", NULL };
  VivLibraryCreateOptions options = {
    .name = name,
    .kernel = TEST_KERNEL,
    .cmdline = "console=ttyS0 quiet",
    .memory_bytes = 128 << 20,
    .n_cpus = 2,
    .disks = disks,
    .nets = nets,
    .media = media,
    .os_id = os_id,
  };
  g_autoptr (VivVmDefinition) created = NULL;
  VivVmDefinition *def;

  g_assert_no_error (error);
  created = viv_library_create_vm (library, &options, &error);
  g_assert_no_error (error);
  /* As stored, like the assistant's (the XML orders the net options). */
  def = viv_library_load (library, name, &error);
  g_assert_no_error (error);
  return def;
}

static char *
strip_mac (const char *net)
{
  g_autoptr (GRegex) mac = g_regex_new (",mac=[0-9a-f:]{17}", G_REGEX_CASELESS, 0, NULL);

  return g_regex_replace (mac, net, -1, 0, "", 0, NULL);
}

/* Equal but for what is random (UUID, MACs) or follows the library's
 * place (disk paths). */
static void
assert_same_definition (VivVmDefinition *ours,
                        const char      *our_root,
                        VivVmDefinition *reference,
                        const char      *reference_root)
{
  g_autofree char *ours_xml = NULL;
  g_autofree char *reference_xml = NULL;

  memcpy (reference->uuid, ours->uuid, sizeof ours->uuid);
  g_assert_cmpuint (ours->nets->len, ==, reference->nets->len);
  for (guint i = 0; i < ours->nets->len; i++)
    {
      g_autofree char *a = strip_mac (ours->nets->pdata[i]);
      g_autofree char *b = strip_mac (reference->nets->pdata[i]);

      g_assert_cmpstr (a, ==, b);
      g_free (reference->nets->pdata[i]);
      reference->nets->pdata[i] = g_strdup (ours->nets->pdata[i]);
    }
  ours_xml = viv_domain_xml_from_definition (ours, NULL);
  reference_xml = viv_domain_xml_from_definition (reference, NULL);
  g_assert_nonnull (ours_xml);
  g_assert_nonnull (reference_xml);
  {
    g_auto (GStrv) parts = g_strsplit (reference_xml, reference_root, -1);
    g_autofree char *moved = g_strjoinv (our_root, parts);

    g_assert_cmpstr (ours_xml, ==, moved);
  }
}

static void
test_create_wizard_same_as_vivctl (void)
{
  g_autoptr (VivVmDefinition) ours = create_through_wizard ("wiz", NULL, 1, "64M");
  g_autofree char *root = g_dir_make_tmp ("viv-create-XXXXXX", NULL);
  g_autoptr (VivVmDefinition) reference = create_through_library (root, "wiz", NULL, NULL, "size=64M,format=qcow2");
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autoptr (VivQcow2Info) info = NULL;
  VivDiskSpec *disk;

  g_assert_cmpuint (ours->disks->len, ==, 1);
  disk = ours->disks->pdata[0];
  g_assert_cmpstr (disk->format, ==, "qcow2");
  info = viv_qcow2_info (disk->path, false, NULL);
  g_assert_nonnull (info);
  g_assert_cmpuint (info->virtual_size, ==, 64 << 20);

  assert_same_definition (ours, viv_library_get_root (library), reference, root);

  viv_library_undefine (library, "wiz", TRUE, NULL, NULL);
}

static void
test_create_wizard_linked_clone (void)
{
  g_autofree char *dir = g_dir_make_tmp ("viv-base-XXXXXX", NULL);
  g_autofree char *base = g_build_filename (dir, "base.img", NULL);
  g_autoptr (VivVmDefinition) ours = NULL;
  g_autoptr (VivVmDefinition) reference = NULL;
  g_autofree char *root = g_dir_make_tmp ("viv-create-XXXXXX", NULL);
  g_autofree char *spec = g_strconcat ("backing=", base, NULL);
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autoptr (VivQcow2Info) info = NULL;
  VivDiskSpec *disk;

  g_assert_true (g_file_set_contents (base, "", 0, NULL));
  g_assert_cmpint (truncate (base, 1 << 20), ==, 0);
  ours = create_through_wizard ("wiz-linked", NULL, 3, base);
  disk = ours->disks->pdata[0];
  g_assert_cmpstr (disk->format, ==, "qcow2");
  info = viv_qcow2_info (disk->path, false, NULL);
  g_assert_nonnull (info);
  g_assert_cmpstr (info->backing_file, ==, base);
  g_assert_cmpstr (info->backing_format, ==, "raw");
  g_assert_cmpuint (info->virtual_size, ==, 1 << 20);

  reference = create_through_library (root, "wiz-linked", NULL, NULL, spec);
  assert_same_definition (ours, viv_library_get_root (library), reference, root);

  viv_library_undefine (library, "wiz-linked", TRUE, NULL, NULL);
}

/* The media as a read-only disk after the new one, its OS in the XML:
 * as `vivctl create --media` makes it. */
static void
test_create_wizard_media_same_as_vivctl (void)
{
  g_autofree char *iso = make_iso ("install.iso", "Debian 11.5.0 amd64 n");
  g_autofree char *root = NULL;
  g_autofree char *xml = NULL;
  g_autoptr (VivVmDefinition) ours = NULL;
  g_autoptr (VivVmDefinition) reference = NULL;
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  VivDiskSpec *media;

  if (iso == NULL)
    return;
  ours = create_through_wizard ("wiz-media", iso, 1, "64M");
  g_assert_cmpstr (ours->os_id, ==, "http://debian.org/debian/11");
  g_assert_cmpuint (ours->disks->len, ==, 2);
  media = ours->disks->pdata[1];
  g_assert_cmpstr (media->path, ==, iso);
  g_assert_true (media->config.read_only);
  xml = viv_library_load_xml (library, "wiz-media", NULL);
  g_assert_nonnull (strstr (xml, "<libosinfo:os id=\"http://debian.org/debian/11\"/>"));

  root = g_dir_make_tmp ("viv-create-XXXXXX", NULL);
  reference = create_through_library (root, "wiz-media", iso, "http://debian.org/debian/11",
                                      "size=64M,format=qcow2");
  assert_same_definition (ours, viv_library_get_root (library), reference, root);

  viv_library_undefine (library, "wiz-media", TRUE, NULL, NULL);
  g_assert_true (g_file_test (iso, G_FILE_TEST_IS_REGULAR));
}

/* Chosen by hand, without media: the OS's resources are suggested as for
 * media, and its id is in the XML. */
static void
test_create_wizard_os_by_hand (void)
{
  g_autoptr (GDateTime) today = g_date_time_new_now_local ();
  g_autoptr (GPtrArray) oses = viv_os_list (today, NULL);
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autoptr (VivVmDefinition) def = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *name = NULL;
  VivCreateWizard *wizard;
  AdwComboRow *os_row;
  const VivOsInfo *os = NULL;
  guint position = 0;
  guint default_mib;

  wizard = open_wizard ();
  os_row = wizard_child (wizard, "os_row");
  default_mib = gtk_adjustment_get_value (wizard_child (wizard, "memory_adjustment"));

  /* Whichever supported OS suggests some memory other than the default. */
  g_assert_nonnull (oses);
  for (guint i = 0; os == NULL && i < oses->len; i++)
    {
      const VivOsInfo *candidate = g_ptr_array_index (oses, i);
      guint64 memory = viv_os_info_suggested_memory (candidate);

      if (memory >= (1 << 20) && memory % (1 << 20) == 0 && memory >> 20 != default_mib && memory <= (guint64) 32768 << 20)
        os = candidate, position = i + 1;
    }
  g_assert_nonnull (os);
  g_test_message ("choosing %s", os->name);
  name = viv_os_info_describe (os);

  g_assert_cmpuint (adw_combo_row_get_selected (os_row), ==, 0);
  g_assert_cmpstr (chosen_os (wizard), ==, "Unknown / other");
  g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (os_row), GTK_ACCESSIBLE_PROPERTY_LABEL));
  adw_combo_row_set_selected (os_row, position);
  g_assert_cmpstr (chosen_os (wizard), ==, name);
  g_assert_cmpfloat (gtk_adjustment_get_value (wizard_child (wizard, "memory_adjustment")), ==,
                     viv_os_info_suggested_memory (os) >> 20);

  set_text (wizard, "kernel_row", TEST_KERNEL);
  next (wizard);
  set_text (wizard, "name_row", "wiz-os");
  next (wizard);
  next (wizard);
  /* No disk: the OS's suggested size need not be made here. */
  adw_combo_row_set_selected (wizard_child (wizard, "disk_kind_row"), 0);
  next (wizard);
  next (wizard);
  g_assert_cmpstr (page (wizard), ==, "summary");
  expected = g_strdup_printf ("Operating system: %s", name);
  g_assert_nonnull (strstr (gtk_label_get_text (wizard_child (wizard, "summary_label")), expected));
  g_object_add_weak_pointer (G_OBJECT (wizard), (gpointer *) &wizard);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (wizard), "wizard.next", NULL));
  g_assert_true (viv_ui_test_wait (wizard_gone, &wizard, 10000));

  def = viv_library_load (library, "wiz-os", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (def->os_id, ==, os->id);
  g_assert_cmpuint (def->memory_bytes, ==, viv_os_info_suggested_memory (os));
  xml = viv_library_load_xml (library, "wiz-os", &error);
  g_assert_no_error (error);
  g_free (expected);
  expected = g_strdup_printf ("<libosinfo:os id=\"%s\"/>", os->id);
  g_assert_nonnull (strstr (xml, expected));

  viv_library_undefine (library, "wiz-os", TRUE, NULL, NULL);
}

static gboolean
has_wizard (gpointer data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);

      if (VIV_IS_CREATE_WIZARD (window))
        {
          *(gpointer *) data = window;
          return TRUE;
        }
    }
  return FALSE;
}

static void
test_create_wizard_from_window (void)
{
  g_autoptr (VivApplication) app = viv_ui_test_app ();
  VivWindow *window = viv_ui_test_open_window (app);
  GtkWidget *wizard = NULL;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.new-vm", NULL));
  g_assert_true (viv_ui_test_wait (has_wizard, &wizard, 5000));
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (wizard)) == GTK_WINDOW (window));
  gtk_window_destroy (GTK_WINDOW (wizard));
  viv_ui_test_close_window (window);
}

int
main (int   argc,
      char *argv[])
{
  viv_ui_test_init (&argc, &argv);

  g_test_add_func ("/viv/create-wizard/refuses", test_create_wizard_refuses);
  g_test_add_func ("/viv/create-wizard/same-as-vivctl", test_create_wizard_same_as_vivctl);
  g_test_add_func ("/viv/create-wizard/linked-clone", test_create_wizard_linked_clone);
  g_test_add_func ("/viv/create-wizard/media", test_create_wizard_media);
  g_test_add_func ("/viv/create-wizard/media-same-as-vivctl", test_create_wizard_media_same_as_vivctl);
  g_test_add_func ("/viv/create-wizard/os-by-hand", test_create_wizard_os_by_hand);
  g_test_add_func ("/viv/create-wizard/from-window", test_create_wizard_from_window);

  return g_test_run ();
}
