/* bench-ui-x.c: Xvfb, a session bus, fresh homes and first frames */
#include "bench-ui-x.h"
#include "viv-test-fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xdamage.h>

extern char **environ;

#define SERVER_START_TIMEOUT_S 20.0

struct BenchDisplay {
  pid_t     xvfb;
  pid_t     bus;
  char     *name;          /* ":N" */
  char     *bus_address;
  Display  *x;
  int       damage_event;  /* XDamage's first event code */
  Atom      net_wm_pid;
};

double
bench_ui_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
bench_print_load (const char *label)
{
  g_autofree char *load = bench_load_average ();

  g_print ("%s: load average %s\n", label, load);
}


/* ---- Processes ------------------------------------------------------------ */

pid_t
bench_spawn (char *const *argv, char *const *envp, const char *log_path,
             GError **error)
{
  posix_spawn_file_actions_t actions;
  pid_t pid;
  int rc;

  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen (&actions, 1, log_path,
                                    O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2 (&actions, 1, 2);
  rc = posix_spawn (&pid, argv[0], &actions, NULL, argv, envp);
  posix_spawn_file_actions_destroy (&actions);
  if (rc != 0)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "Cannot start %s: %s", argv[0], g_strerror (rc));
      return -1;
    }
  return pid;
}

void
bench_stop (pid_t pid)
{
  double deadline = bench_ui_now () + 5.0;
  int status;

  if (pid <= 0)
    return;
  kill (pid, SIGTERM);
  while (waitpid (pid, &status, WNOHANG) == 0)
    {
      if (bench_ui_now () > deadline)
        {
          kill (pid, SIGKILL);
          waitpid (pid, &status, 0);
          return;
        }
      g_usleep (10000);
    }
}

/* Starts argv with its fd 3 on a pipe and reads one line from it: Xvfb's
 * -displayfd and dbus-daemon's --print-address both write there. */
static pid_t
spawn_reading_line (char *const *argv, char **line, GError **error)
{
  posix_spawn_file_actions_t actions;
  GString *text = g_string_new (NULL);
  double deadline = bench_ui_now () + SERVER_START_TIMEOUT_S;
  int fds[2];
  pid_t pid;
  int rc;

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "pipe: %s", g_strerror (errno));
      g_string_free (text, TRUE);
      return -1;
    }
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen (&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], 3);
  rc = posix_spawnp (&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);
  if (rc != 0)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "Cannot start %s: %s (is it installed?)", argv[0], g_strerror (rc));
      close (fds[0]);
      g_string_free (text, TRUE);
      return -1;
    }

  while (strchr (text->str, '\n') == NULL)
    {
      struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
      int left_ms = (int) ((deadline - bench_ui_now ()) * 1000);
      char chunk[256];
      ssize_t got;

      if (left_ms <= 0 || poll (&pfd, 1, left_ms) <= 0)
        break;
      got = read (fds[0], chunk, sizeof chunk);
      if (got <= 0)
        break;
      g_string_append_len (text, chunk, got);
    }
  close (fds[0]);

  if (strchr (text->str, '\n') == NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s did not start (nothing on its fd 3 in %.0f s)",
                   argv[0], SERVER_START_TIMEOUT_S);
      bench_stop (pid);
      g_string_free (text, TRUE);
      return -1;
    }
  *line = g_strstrip (g_string_free (text, FALSE));
  return pid;
}

/* ---- The display ----------------------------------------------------------- */

/* Windows come and go under our feet, and some cannot be watched (an
 * InputOnly window has no contents: XDamageCreate says BadMatch): such
 * errors are expected, not fatal. */
static int
ignore_x_error (Display *x, XErrorEvent *event)
{
  return 0;
}

BenchDisplay *
bench_display_start (GError **error)
{
  g_autoptr (BenchDisplay) display = g_new0 (BenchDisplay, 1);
  char *xvfb_argv[] = { "Xvfb", "-displayfd", "3", "-screen", "0", "1600x1200x24",
                        "-nolisten", "tcp", NULL };
  char *bus_argv[] = { "dbus-daemon", "--session", "--nofork", "--print-address=3", NULL };
  g_autofree char *number = NULL;
  int error_base;

  display->xvfb = spawn_reading_line (xvfb_argv, &number, error);
  if (display->xvfb < 0)
    return NULL;
  display->name = g_strdup_printf (":%s", number);

  display->bus = spawn_reading_line (bus_argv, &display->bus_address, error);
  if (display->bus < 0)
    return NULL;

  display->x = XOpenDisplay (display->name);
  if (display->x == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot connect to Xvfb at %s", display->name);
      return NULL;
    }
  if (!XDamageQueryExtension (display->x, &display->damage_event, &error_base))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "Xvfb at %s lacks the DAMAGE extension", display->name);
      return NULL;
    }
  XSetErrorHandler (ignore_x_error);
  display->net_wm_pid = XInternAtom (display->x, "_NET_WM_PID", False);
  /* Top-level windows are the root's children (no window manager). */
  XSelectInput (display->x, DefaultRootWindow (display->x), SubstructureNotifyMask);
  XSync (display->x, False);

  return g_steal_pointer (&display);
}

void
bench_display_stop (BenchDisplay *display)
{
  if (display == NULL)
    return;
  if (display->x != NULL)
    XCloseDisplay (display->x);
  bench_stop (display->bus);
  bench_stop (display->xvfb);
  g_free (display->name);
  g_free (display->bus_address);
  g_free (display);
}

Display *
bench_display_x (BenchDisplay *display)
{
  return display->x;
}

/* ---- Homes and environments -------------------------------------------------- */

BenchHome *
bench_home_new (GError **error)
{
  g_autoptr (BenchHome) home = g_new0 (BenchHome, 1);
  const char *subdirs[] = { "config", "data", "cache", "state", "runtime" };

  home->root = g_dir_make_tmp ("bench-ui-home-XXXXXX", error);
  if (home->root == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (home->root, subdirs[i], NULL);

      if (g_mkdir (path, 0700) < 0)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "Cannot create %s: %s", path, g_strerror (errno));
          return NULL;
        }
    }
  home->data_home = g_build_filename (home->root, "data", NULL);
  home->runtime_dir = g_build_filename (home->root, "runtime", NULL);
  return g_steal_pointer (&home);
}

void
bench_home_free (BenchHome *home)
{
  if (home == NULL)
    return;
  if (home->root != NULL)
    viv_test_remove_tree (home->root);
  g_free (home->root);
  g_free (home->data_home);
  g_free (home->runtime_dir);
  g_free (home);
}

char **
bench_app_envp (BenchDisplay *display, const BenchHome *home,
                const char *const *extra)
{
  GPtrArray *env = g_ptr_array_new ();
  const char *path = g_getenv ("PATH");

  g_ptr_array_add (env, g_strdup_printf ("PATH=%s", path ? path : "/usr/bin:/bin"));
  g_ptr_array_add (env, g_strdup ("LANG=C.UTF-8"));
  g_ptr_array_add (env, g_strdup_printf ("DISPLAY=%s", display->name));
  g_ptr_array_add (env, g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", display->bus_address));
  g_ptr_array_add (env, g_strdup_printf ("HOME=%s", home->root));
  g_ptr_array_add (env, g_strdup_printf ("XDG_CONFIG_HOME=%s/config", home->root));
  g_ptr_array_add (env, g_strdup_printf ("XDG_DATA_HOME=%s", home->data_home));
  g_ptr_array_add (env, g_strdup_printf ("XDG_CACHE_HOME=%s/cache", home->root));
  g_ptr_array_add (env, g_strdup_printf ("XDG_STATE_HOME=%s/state", home->root));
  g_ptr_array_add (env, g_strdup_printf ("XDG_RUNTIME_DIR=%s", home->runtime_dir));
  g_ptr_array_add (env, g_strdup ("GSETTINGS_BACKEND=memory"));
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (env, g_strdup (extra[i]));
  g_ptr_array_add (env, NULL);
  return (char **) g_ptr_array_free (env, FALSE);
}

/* ---- Windows and frames -------------------------------------------------------- */

static gboolean
window_pid (BenchDisplay *display, Window window, pid_t *pid)
{
  Atom type;
  int format;
  unsigned long n, after;
  unsigned char *data = NULL;
  gboolean found = FALSE;

  if (XGetWindowProperty (display->x, window, display->net_wm_pid, 0, 1, False,
                          XA_CARDINAL, &type, &format, &n, &after, &data) == Success &&
      type == XA_CARDINAL && format == 32 && n == 1)
    {
      *pid = (pid_t) *(unsigned long *) (void *) data;
      found = TRUE;
    }
  if (data != NULL)
    XFree (data);
  return found;
}

/* Waits up to `deadline` for an X event; FALSE on timeout. */
static gboolean
next_event (BenchDisplay *display, double deadline, XEvent *event)
{
  while (!XPending (display->x))
    {
      struct pollfd pfd = { .fd = ConnectionNumber (display->x), .events = POLLIN };
      int left_ms = (int) ((deadline - bench_ui_now ()) * 1000);

      if (left_ms <= 0)
        return FALSE;
      /* Wake up now and then to notice a process that died. */
      if (poll (&pfd, 1, MIN (left_ms, 100)) == 0)
        return FALSE;
    }
  XNextEvent (display->x, event);
  return TRUE;
}

static gboolean
exited (pid_t pid, GError **error)
{
  int status;

  if (waitpid (pid, &status, WNOHANG) != pid)
    return FALSE;
  g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
               "The app (pid %d) exited before its first frame (status 0x%x)",
               (int) pid, status);
  return TRUE;
}

gboolean
bench_wait_first_frame (BenchDisplay *display, pid_t pid, double timeout_s,
                        double *mapped_at, double *drawn_at, Window *window,
                        GError **error)
{
  double deadline = bench_ui_now () + timeout_s;
  /* Every new top-level window gets a Damage object as it is created, so
   * that a frame drawn right after the map is not missed. */
  GHashTable *damages = g_hash_table_new (NULL, NULL);
  Window mine = None;
  gboolean done = FALSE;

  *mapped_at = *drawn_at = 0;
  while (!done)
    {
      XEvent event;

      if (exited (pid, error))
        break;
      if (bench_ui_now () > deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "No %s of the app (pid %d) within %.0f s",
                       mine == None ? "mapped window" : "frame", (int) pid, timeout_s);
          break;
        }
      if (!next_event (display, deadline, &event))
        continue;

      if (event.type == CreateNotify && event.xcreatewindow.parent == DefaultRootWindow (display->x))
        {
          Damage damage = XDamageCreate (display->x, event.xcreatewindow.window,
                                         XDamageReportNonEmpty);

          g_hash_table_insert (damages, GSIZE_TO_POINTER (event.xcreatewindow.window),
                               GSIZE_TO_POINTER (damage));
        }
      else if (event.type == MapNotify && mine == None &&
               event.xmap.event == DefaultRootWindow (display->x))
        {
          pid_t owner;
          double now = bench_ui_now ();

          if (window_pid (display, event.xmap.window, &owner) && owner == pid &&
              g_hash_table_contains (damages, GSIZE_TO_POINTER (event.xmap.window)))
            {
              Damage damage = (Damage) GPOINTER_TO_SIZE (
                  g_hash_table_lookup (damages, GSIZE_TO_POINTER (event.xmap.window)));

              mine = event.xmap.window;
              *mapped_at = now;
              /* Whatever was drawn while the window was unmapped is not a frame. */
              XDamageSubtract (display->x, damage, None, None);
            }
        }
      else if (event.type == display->damage_event + XDamageNotify && mine != None &&
               ((XDamageNotifyEvent *) &event)->drawable == mine)
        {
          *drawn_at = bench_ui_now ();
          done = TRUE;
        }
    }

  {
    GHashTableIter iter;
    gpointer damage;

    g_hash_table_iter_init (&iter, damages);
    while (g_hash_table_iter_next (&iter, NULL, &damage))
      XDamageDestroy (display->x, (Damage) GPOINTER_TO_SIZE (damage));
    g_hash_table_unref (damages);
  }
  /* Errors about windows that went away meanwhile do not matter. */
  XSync (display->x, True);
  *window = mine;
  return done;
}

guint
bench_count_frames (BenchDisplay *display, Window window, double seconds)
{
  double deadline = bench_ui_now () + seconds;
  Damage damage = XDamageCreate (display->x, window, XDamageReportNonEmpty);
  guint frames = 0;

  XFlush (display->x);
  while (bench_ui_now () < deadline)
    {
      XEvent event;

      if (!next_event (display, deadline, &event))
        continue;
      if (event.type == display->damage_event + XDamageNotify &&
          ((XDamageNotifyEvent *) &event)->drawable == window)
        {
          frames++;
          /* Report the next frame as a new one. */
          XDamageSubtract (display->x, damage, None, None);
          XFlush (display->x);
        }
    }
  XDamageDestroy (display->x, damage);
  XSync (display->x, True);
  return frames;
}

gboolean
bench_save_screenshot (BenchDisplay *display, Window window, const char *path,
                       GError **error)
{
  XWindowAttributes attrs;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  XImage *image;
  guchar *pixels;
  int stride;

  if (!XGetWindowAttributes (display->x, window, &attrs) ||
      (image = XGetImage (display->x, window, 0, 0, attrs.width, attrs.height,
                          AllPlanes, ZPixmap)) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot read the window's contents for %s", path);
      return FALSE;
    }
  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, attrs.width, attrs.height);
  pixels = gdk_pixbuf_get_pixels (pixbuf);
  stride = gdk_pixbuf_get_rowstride (pixbuf);
  for (int y = 0; y < attrs.height; y++)
    for (int x = 0; x < attrs.width; x++)
      {
        unsigned long pixel = XGetPixel (image, x, y);
        guchar *p = pixels + y * stride + x * 3;

        /* A 24-bit TrueColor visual: 0xRRGGBB. */
        p[0] = (pixel >> 16) & 0xff;
        p[1] = (pixel >> 8) & 0xff;
        p[2] = pixel & 0xff;
      }
  XDestroyImage (image);
  return gdk_pixbuf_save (pixbuf, path, "png", error, NULL);
}

/* ---- Accessibility ------------------------------------------------------------- */

#define ATSPI_MAX_NODES 20000

static GVariant *
call (GDBusConnection *bus, const char *dest, const char *path, const char *iface,
      const char *method, GVariant *args, const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (bus, dest, path, iface, method, args,
                                      G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                      5000, NULL, error);
}

/* Depth first from (dest, path): TRUE once a node named `name` took
 * DoAction(0). */
static gboolean
atspi_find_and_activate (GDBusConnection *a11y, const char *dest, const char *path,
                         const char *name, guint *visited)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) children = NULL;
  g_autoptr (GVariant) list = NULL;
  GVariantIter iter;
  const char *child_dest, *child_path;

  if (++*visited > ATSPI_MAX_NODES)
    return FALSE;

  reply = call (a11y, dest, path, "org.freedesktop.DBus.Properties", "Get",
                g_variant_new ("(ss)", "org.a11y.atspi.Accessible", "Name"), "(v)", NULL);
  if (reply != NULL)
    {
      g_autoptr (GVariant) value = NULL;

      g_variant_get (reply, "(v)", &value);
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) &&
          g_str_equal (g_variant_get_string (value, NULL), name))
        {
          g_autoptr (GVariant) done = call (a11y, dest, path, "org.a11y.atspi.Action",
                                            "DoAction", g_variant_new ("(i)", 0), "(b)", NULL);
          gboolean ok = FALSE;

          if (done != NULL)
            g_variant_get (done, "(b)", &ok);
          if (ok)
            return TRUE;
        }
    }

  children = call (a11y, dest, path, "org.a11y.atspi.Accessible", "GetChildren", NULL,
                   "(a(so))", NULL);
  if (children == NULL)
    return FALSE;
  list = g_variant_get_child_value (children, 0);
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&o)", &child_dest, &child_path))
    if (atspi_find_and_activate (a11y, child_dest, child_path, name, visited))
      return TRUE;
  return FALSE;
}

gboolean
bench_atspi_activate (BenchDisplay *display, pid_t pid, const char *name,
                      GError **error)
{
  g_autoptr (GDBusConnection) session = NULL;
  g_autoptr (GDBusConnection) a11y = NULL;
  g_autoptr (GVariant) address = NULL;
  g_autoptr (GVariant) apps = NULL;
  g_autoptr (GVariant) list = NULL;
  GVariantIter iter;
  const char *app_dest, *app_path, *a11y_address;
  guint visited = 0;

  session = g_dbus_connection_new_for_address_sync (
      display->bus_address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, error);
  if (session == NULL)
    return FALSE;
  address = call (session, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress",
                  NULL, "(s)", error);
  if (address == NULL)
    {
      g_prefix_error (error, "No accessibility bus (at-spi2-core): ");
      return FALSE;
    }
  g_variant_get (address, "(&s)", &a11y_address);
  a11y = g_dbus_connection_new_for_address_sync (
      a11y_address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, error);
  if (a11y == NULL)
    return FALSE;

  apps = call (a11y, "org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root",
               "org.a11y.atspi.Accessible", "GetChildren", NULL, "(a(so))", error);
  if (apps == NULL)
    return FALSE;
  list = g_variant_get_child_value (apps, 0);
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&o)", &app_dest, &app_path))
    {
      g_autoptr (GVariant) owner = call (a11y, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                         g_variant_new ("(s)", app_dest), "(u)", NULL);
      guint32 owner_pid = 0;

      if (owner != NULL)
        g_variant_get (owner, "(u)", &owner_pid);
      if ((pid_t) owner_pid == pid &&
          atspi_find_and_activate (a11y, app_dest, app_path, name, &visited))
        return TRUE;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "No accessible “%s” with an action in process %d (%u objects seen)",
               name, (int) pid, visited);
  return FALSE;
}
