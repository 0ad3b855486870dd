/* Which operating system installation media holds, and what it needs,
 * from libosinfo's database (the osinfo-db package).
 *
 *   g_autoptr (VivOsInfo) os = viv_os_detect_media ("debian-11.5.0-amd64-netinst.iso", NULL, &error);
 *   // os->id "http://debian.org/debian/11", os->name "Debian 11",
 *   // os->recommended.memory_bytes 1 GiB, os->kernel_path "install.amd/vmlinuz"
 *
 * The database is loaded once per process, on first use (it takes a
 * fraction of a second); the functions may be called from any thread. */
#pragma once
#include <gio/gio.h>

#define VIV_OS_DETECT_ERROR (viv_os_detect_error_quark ())
GQuark viv_os_detect_error_quark (void);

typedef enum {
  VIV_OS_DETECT_ERROR_NOT_MEDIA,    /* the file is not an ISO 9660 image */
  VIV_OS_DETECT_ERROR_UNKNOWN_OS,   /* media, but no OS in the database matches it */
  VIV_OS_DETECT_ERROR_NO_DATABASE,  /* libosinfo found no OS database (install osinfo-db) */
  VIV_OS_DETECT_ERROR_UNAVAILABLE,  /* the libosinfo module could not be loaded */
} VivOsDetectError;

/* What an OS needs on x86_64; 0 where the database does not say. */
typedef struct {
  unsigned n_cpus;
  guint64  memory_bytes;
  guint64  storage_bytes;
} VivOsResources;

typedef struct {
  char          *id;           /* libosinfo's OS id, a URI: "http://debian.org/debian/11" */
  char          *short_id;     /* "debian11" */
  char          *name;         /* "Debian 11" */
  char          *codename;     /* "bullseye"; NULL when the database has none */
  VivOsResources minimum;
  VivOsResources recommended;
  /* Where the installer's kernel and initrd are inside the media, when
   * the database knows (NULL otherwise); only for media. */
  char          *kernel_path;
  char          *initrd_path;
} VivOsInfo;

void viv_os_info_free (VivOsInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VivOsInfo, viv_os_info_free)

/* "Debian 11 (bullseye)": the name, with the codename when it is not in it. */
char *viv_os_info_describe (const VivOsInfo *info);

/* A recommended resource, or the minimum where no recommendation is given
 * (0 when neither is). */
unsigned viv_os_info_suggested_cpus    (const VivOsInfo *info);
guint64  viv_os_info_suggested_memory  (const VivOsInfo *info);
guint64  viv_os_info_suggested_storage (const VivOsInfo *info);

/* Reads the media's ISO 9660 descriptors (volume, system and publisher
 * ids) and matches them against the database.  The media need not be
 * bootable: Vivarium boots the installer's kernel, not the disc. */
VivOsInfo *viv_os_detect_media        (const char *path, GCancellable *cancellable, GError **error);
/* The same in a worker thread, for the UI. */
void       viv_os_detect_media_async  (const char *path, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
VivOsInfo *viv_os_detect_media_finish (GAsyncResult *result, GError **error);

/* The OS with that id ("http://debian.org/debian/11") or short id
 * ("debian11"); VIV_OS_DETECT_ERROR_UNKNOWN_OS when there is none. */
VivOsInfo *viv_os_lookup (const char *id, GError **error);

/* The OSes the database knows for x86_64 (those with x86_64 media, trees
 * or images), sorted by name with numbers in order ("Debian 9" before
 * "Debian 10"): all of them when `supported_on` is NULL, else those not at
 * their end of life on that day, which keeps a list to choose from short.
 * An array of VivOsInfo (without kernel or initrd paths); NULL and
 * VIV_OS_DETECT_ERROR_NO_DATABASE without a database. */
GPtrArray *viv_os_list (GDateTime *supported_on, GError **error);

/* Loads the database on a thread of its own, so that the first call above
 * from a UI thread does not wait for it (it waits only if the load has not
 * finished yet). */
void viv_os_database_preload (void);
