/* Shared helpers of the qcow2 tests: a scratch directory, qemu-img and
 * qemu-io runs, and synchronous VivBlock I/O on a private context. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "block/block.h"
#include "block/qcow2.h"

typedef struct {
  char         *dir;
  GMainContext *context;
} QFixture;

void  qt_setup    (QFixture *f, gconstpointer data);
void  qt_teardown (QFixture *f, gconstpointer data);
/* dir/name, to be freed. */
char *qt_path     (QFixture *f, const char *name);

/* Runs a command line (split on spaces; no quoting) and returns its exit
 * status; its output is kept in *out when given. */
int   qt_run      (char **out, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Skips the test (returns false) without qemu-img and qemu-io. */
bool  qt_have_qemu (void);
/* qemu-io -c COMMAND on an image: 0 when it worked. */
int   qt_qemu_io  (const char *format, const char *path, const char *command);
/* Reads the image through VivBlock and compares it with what qemu-img
 * convert -O raw makes of it. */
void  qt_assert_reads_as_qemu (QFixture *f, const char *path);
/* Where bytes first occur in the first `limit` bytes of a file. */
uint64_t qt_find_bytes (const char *path, const void *needle, size_t len, uint64_t limit);
/* qemu-img check's exit status (0 clean, 2 corrupt, 3 leaks). */
int   qt_qemu_check (const char *path);

VivBlock *qt_open      (QFixture *f, const char *path, const char *format, bool read_only,
                        GError **error);
VivBlock *qt_open_ok   (QFixture *f, const char *path, const char *format, bool read_only);
int       qt_read      (QFixture *f, VivBlock *blk, uint64_t off, void *buf, size_t len);
int       qt_write     (QFixture *f, VivBlock *blk, uint64_t off, const void *buf, size_t len);
int       qt_flush     (QFixture *f, VivBlock *blk);
int       qt_discard   (QFixture *f, VivBlock *blk, uint64_t off, uint64_t len);
int       qt_zeroes    (QFixture *f, VivBlock *blk, uint64_t off, uint64_t len);

/* The whole file, or g_assert. */
uint8_t  *qt_slurp     (const char *path, size_t *len);
/* Reads the whole image through VivBlock and compares it with a raw file
 * (e.g. from qemu-img convert -O raw). */
void      qt_assert_same_as_raw (QFixture *f, VivBlock *blk, const char *raw_path);
void      qt_fill      (uint8_t *buf, size_t len, uint32_t seed);
/* Patches bytes of a file. */
void      qt_poke      (const char *path, uint64_t offset, const void *data, size_t len);
void      qt_poke_be64 (const char *path, uint64_t offset, uint64_t value);
void      qt_poke_be32 (const char *path, uint64_t offset, uint32_t value);
uint64_t  qt_peek_be64 (const char *path, uint64_t offset);
