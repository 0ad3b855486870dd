/* OS detection's libosinfo backend (os-detect-backend.h), a module of its
 * own: os-detect.c loads it on first use. */
#include "os-detect-backend.h"

#include <osinfo/osinfo.h>
#include <string.h>

#define ARCH "x86_64"

/* libosinfo 1.10 leaks in its loader and a copy of the location in each
 * media read: not ours, so LeakSanitizer is told to ignore what those
 * calls allocate in this thread. */
#if defined(__SANITIZE_ADDRESS__)
#define VIV_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VIV_HAVE_LSAN 1
#endif
#endif
#ifdef VIV_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#define LIBOSINFO_LEAKS_BEGIN() __lsan_disable ()
#define LIBOSINFO_LEAKS_END()   __lsan_enable ()
#else
#define LIBOSINFO_LEAKS_BEGIN() ((void) 0)
#define LIBOSINFO_LEAKS_END()   ((void) 0)
#endif

/* ---- The database --------------------------------------------------------
 * Loading parses some thousand XML files, so it is done once and kept for
 * the life of the process; libosinfo's objects are not thread-safe, so
 * every use holds the lock. */

static GMutex db_lock;
static OsinfoLoader *db_loader;
static gboolean db_empty;

static OsinfoDb *
lock_db (GError **error)
{
  g_mutex_lock (&db_lock);
  if (!db_loader)
    {
      g_autoptr (GError) local_error = NULL;
      LIBOSINFO_LEAKS_BEGIN ();
      db_loader = osinfo_loader_new ();
      osinfo_loader_process_default_path (db_loader, &local_error);
      LIBOSINFO_LEAKS_END ();
      /* A broken file leaves the rest loaded; only an empty database is fatal. */
      if (local_error)
        g_debug ("libosinfo: %s", local_error->message);
      g_autoptr (OsinfoOsList) oses = osinfo_db_get_os_list (osinfo_loader_get_db (db_loader));
      db_empty = osinfo_list_get_length (OSINFO_LIST (oses)) == 0;
    }
  if (db_empty)
    {
      g_mutex_unlock (&db_lock);
      g_set_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NO_DATABASE,
                   "libosinfo has no OS database; install osinfo-db");
      return NULL;
    }
  return osinfo_loader_get_db (db_loader);
}

static void
unlock_db (void)
{
  g_mutex_unlock (&db_lock);
}

static gpointer
preload_thread (gpointer data)
{
  if (lock_db (NULL))
    unlock_db ();
  return NULL;
}

static void
backend_preload (void)
{
  g_thread_unref (g_thread_new ("osinfo-preload", preload_thread, NULL));
}

/* ---- Reading an OS -------------------------------------------------------- */

/* The entry for x86_64, else the one for every architecture. */
static OsinfoResources *
resources_for_arch (OsinfoResourcesList *list)
{
  OsinfoResources *all = NULL;
  for (int i = 0; i < osinfo_list_get_length (OSINFO_LIST (list)); i++)
    {
      OsinfoResources *resources = OSINFO_RESOURCES (osinfo_list_get_nth (OSINFO_LIST (list), i));
      const char *arch = osinfo_resources_get_architecture (resources);
      if (g_strcmp0 (arch, ARCH) == 0)
        return resources;
      if (g_strcmp0 (arch, OSINFO_ARCHITECTURE_ALL) == 0)
        all = resources;
    }
  return all;
}

/* libosinfo gives -1 for what the database does not say. */
static void
read_resources (OsinfoResourcesList *list, VivOsResources *out)
{
  OsinfoResources *resources = resources_for_arch (list);
  if (!resources)
    return;
  gint n_cpus = osinfo_resources_get_n_cpus (resources);
  gint64 ram = osinfo_resources_get_ram (resources);
  gint64 storage = osinfo_resources_get_storage (resources);
  out->n_cpus = n_cpus > 0 ? (unsigned) n_cpus : 0;
  out->memory_bytes = ram > 0 ? (guint64) ram : 0;
  out->storage_bytes = storage > 0 ? (guint64) storage : 0;
}

static VivOsInfo *
info_from_os (OsinfoOs *os)
{
  OsinfoProduct *product = OSINFO_PRODUCT (os);
  VivOsInfo *info = g_new0 (VivOsInfo, 1);
  info->id = g_strdup (osinfo_entity_get_id (OSINFO_ENTITY (os)));
  info->short_id = g_strdup (osinfo_product_get_short_id (product));
  info->name = g_strdup (osinfo_product_get_name (product));
  if (!info->name)
    info->name = g_strdup (info->short_id ? info->short_id : info->id);
  info->codename = g_strdup (osinfo_product_get_codename (product));

  g_autoptr (OsinfoResourcesList) minimum = osinfo_os_get_minimum_resources (os);
  g_autoptr (OsinfoResourcesList) recommended = osinfo_os_get_recommended_resources (os);
  read_resources (minimum, &info->minimum);
  read_resources (recommended, &info->recommended);
  return info;
}

/* ---- Media ---------------------------------------------------------------- */

static VivOsInfo *
backend_detect_media (const char *path, GCancellable *cancellable, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s is not a file; give the path of an installation ISO", path);
      return NULL;
    }

  g_autoptr (GError) media_error = NULL;
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autofree char *uri = g_file_get_uri (file);
  LIBOSINFO_LEAKS_BEGIN ();
  g_autoptr (OsinfoMedia) media = osinfo_media_create_from_location_with_flags (uri, cancellable, 0,
                                                                                &media_error);
  LIBOSINFO_LEAKS_END ();
  if (!media)
    {
      g_debug ("libosinfo: %s: %s", path, media_error->message);
      if (media_error->domain == OSINFO_MEDIA_ERROR)
        g_set_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NOT_MEDIA,
                     "%s is not installation media (an ISO 9660 image); choose an ISO image", path);
      else
        g_set_error (error, media_error->domain, media_error->code, "cannot read %s: %s", path,
                     media_error->message);
      return NULL;
    }

  OsinfoDb *db = lock_db (error);
  if (!db)
    return NULL;
  VivOsInfo *info = NULL;
  if (osinfo_db_identify_media (db, media))
    {
      g_autoptr (OsinfoOs) os = osinfo_media_get_os (media);
      if (os)
        {
          info = info_from_os (os);
          info->kernel_path = g_strdup (osinfo_media_get_kernel_path (media));
          info->initrd_path = g_strdup (osinfo_media_get_initrd_path (media));
        }
    }
  unlock_db ();
  if (!info)
    {
      const char *volume = osinfo_media_get_volume_id (media);
      g_set_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS,
                   "%s (volume '%s') is not recognised by libosinfo; choose the OS settings by hand",
                   path, volume ? volume : "");
    }
  return info;
}

/* ---- By id ---------------------------------------------------------------- */

static gboolean
has_short_id (OsinfoOs *os, const char *short_id)
{
  g_autoptr (GList) ids = osinfo_product_get_short_id_list (OSINFO_PRODUCT (os));
  for (GList *l = ids; l; l = l->next)
    if (g_str_equal (l->data, short_id))
      return TRUE;
  return FALSE;
}

static VivOsInfo *
backend_lookup (const char *id, GError **error)
{
  OsinfoDb *db = lock_db (error);
  if (!db)
    return NULL;
  VivOsInfo *info = NULL;
  OsinfoOs *os = osinfo_db_get_os (db, id);
  if (os)
    info = info_from_os (os);
  else
    {
      g_autoptr (OsinfoOsList) oses = osinfo_db_get_os_list (db);
      for (int i = 0; !info && i < osinfo_list_get_length (OSINFO_LIST (oses)); i++)
        {
          OsinfoOs *candidate = OSINFO_OS (osinfo_list_get_nth (OSINFO_LIST (oses), i));
          if (has_short_id (candidate, id))
            info = info_from_os (candidate);
        }
    }
  unlock_db ();
  if (!info)
    g_set_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS,
                 "'%s' is not an OS libosinfo knows; give an id such as debian11 or "
                 "http://debian.org/debian/11 (`osinfo-query os` lists them)", id);
  return info;
}

/* ---- Listing -------------------------------------------------------------- */

static gboolean
has_x86_64 (OsinfoList *list, const char *(*get_architecture) (gpointer))
{
  for (int i = 0; i < osinfo_list_get_length (list); i++)
    if (g_strcmp0 (get_architecture (osinfo_list_get_nth (list, i)), ARCH) == 0)
      return TRUE;
  return FALSE;
}

static const char *
media_architecture (gpointer media)
{
  return osinfo_media_get_architecture (media);
}

static const char *
tree_architecture (gpointer tree)
{
  return osinfo_tree_get_architecture (tree);
}

static const char *
image_architecture (gpointer image)
{
  return osinfo_image_get_architecture (image);
}

static gboolean
runs_on_x86_64 (OsinfoOs *os)
{
  g_autoptr (OsinfoMediaList) media = osinfo_os_get_media_list (os);
  g_autoptr (OsinfoTreeList) trees = osinfo_os_get_tree_list (os);
  g_autoptr (OsinfoImageList) images = osinfo_os_get_image_list (os);

  return has_x86_64 (OSINFO_LIST (media), media_architecture)
         || has_x86_64 (OSINFO_LIST (trees), tree_architecture)
         || has_x86_64 (OSINFO_LIST (images), image_architecture);
}

static gboolean
supported_on_day (OsinfoOs *os, const GDate *day)
{
  g_autoptr (GDate) eol = osinfo_product_get_eol_date (OSINFO_PRODUCT (os));
  return eol == NULL || g_date_compare (eol, day) > 0;
}

/* Sorts as file managers do, so that numbers are in order. */
static int
compare_by_name (gconstpointer a, gconstpointer b)
{
  const VivOsInfo *first = *(VivOsInfo * const *) a;
  const VivOsInfo *second = *(VivOsInfo * const *) b;
  g_autofree char *first_key = g_utf8_collate_key_for_filename (first->name, -1);
  g_autofree char *second_key = g_utf8_collate_key_for_filename (second->name, -1);
  int order = strcmp (first_key, second_key);
  return order != 0 ? order : g_strcmp0 (first->id, second->id);
}

static GPtrArray *
backend_list (GDateTime *supported_on, GError **error)
{
  GDate day;
  g_date_clear (&day, 1);
  if (supported_on)
    g_date_set_dmy (&day, g_date_time_get_day_of_month (supported_on),
                    g_date_time_get_month (supported_on), g_date_time_get_year (supported_on));

  OsinfoDb *db = lock_db (error);
  if (!db)
    return NULL;
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) viv_os_info_free);
  g_autoptr (OsinfoOsList) oses = osinfo_db_get_os_list (db);
  for (int i = 0; i < osinfo_list_get_length (OSINFO_LIST (oses)); i++)
    {
      OsinfoOs *os = OSINFO_OS (osinfo_list_get_nth (OSINFO_LIST (oses), i));
      if (runs_on_x86_64 (os) && (!supported_on || supported_on_day (os, &day)))
        g_ptr_array_add (list, info_from_os (os));
    }
  unlock_db ();
  g_ptr_array_sort (list, compare_by_name);
  return list;
}

G_MODULE_EXPORT const VivOsBackend *
viv_os_backend (void)
{
  static const VivOsBackend backend = {
    backend_detect_media, backend_lookup, backend_list, backend_preload,
  };
  return &backend;
}
