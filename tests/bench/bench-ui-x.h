/* Shared by the desktop app's benchmarks (bench-ui-start, bench-ui-idle):
 * an X server of their own (Xvfb) with a private session bus, a fresh home
 * for each app started, and watching from outside for an app's first
 * top-level window to be mapped and then drawn (XDamage).
 */
#pragma once

#include <glib.h>
#include <sys/types.h>
#include <X11/Xlib.h>

#include "bench-common.h"

typedef struct BenchDisplay BenchDisplay;

/* Starts Xvfb (1600x1200x24, a free display number) and a session
 * dbus-daemon, and connects to the X server. */
BenchDisplay *bench_display_start (GError **error);
void          bench_display_stop  (BenchDisplay *display);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchDisplay, bench_display_stop)

Display      *bench_display_x     (BenchDisplay *display);

/* A fresh HOME with its own XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME,
 * XDG_STATE_HOME and XDG_RUNTIME_DIR (mode 0700) under a new temporary
 * directory, so no state from an earlier run leaks into the next. */
typedef struct {
  char *root;
  char *data_home;
  char *runtime_dir;
} BenchHome;

BenchHome *bench_home_new  (GError **error);
/* Removes the directory tree. */
void       bench_home_free (BenchHome *home);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchHome, bench_home_free)

/* The environment an app runs with: PATH, LANG=C.UTF-8, DISPLAY, the
 * session bus, the home's XDG variables, settings in memory
 * (GSETTINGS_BACKEND=memory), then `extra` ("NAME=VALUE", NULL-ended, may
 * be NULL). */
char **bench_app_envp (BenchDisplay *display, const BenchHome *home,
                       const char *const *extra);

/* posix_spawn with stdin from /dev/null and stdout/stderr to `log_path`
 * (appended). -1 and `error` on failure. */
pid_t bench_spawn (char *const *argv, char *const *envp,
                   const char *log_path, GError **error);

/* Ends a spawned app: SIGTERM, then SIGKILL after 5 s; reaps it. */
void bench_stop (pid_t pid);

/* Waits, for at most `timeout_s`, for the first top-level window of
 * process `pid` (its _NET_WM_PID) to be mapped, then for the first damage
 * to it after the map: the app's first frame. Times are CLOCK_MONOTONIC
 * seconds. Fails if the process exits first. */
gboolean bench_wait_first_frame (BenchDisplay *display, pid_t pid,
                                 double timeout_s, double *mapped_at,
                                 double *drawn_at, Window *window,
                                 GError **error);

/* Counts the frames drawn into `window` (damage events) for `seconds`. */
guint bench_count_frames (BenchDisplay *display, Window window,
                          double seconds);

/* Activates the first accessible object of process `pid` named `name`
 * that has an action (a button), through the accessibility bus (AT-SPI,
 * as a screen reader would): DoAction(0). */
gboolean bench_atspi_activate (BenchDisplay *display, pid_t pid,
                               const char *name, GError **error);

/* Saves what `window` shows as a PNG file. */
gboolean bench_save_screenshot (BenchDisplay *display, Window window,
                                const char *path, GError **error);

/* Prints the load averages (/proc/loadavg) after `label`: the machine's
 * other work shows in these figures. */
void bench_print_load (const char *label);

/* Seconds on CLOCK_MONOTONIC. */
double bench_ui_now (void);

