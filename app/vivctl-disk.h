/* vivctl disk: what its subcommands (vivctl-disk-*.c) share — option
 * parsing, image formats, opening images under the block layer's lock,
 * synchronous I/O over VivBlock, and output files that appear whole or
 * not at all. */
#pragma once
#include "vivctl.h"
#include "block/block.h"
#include "block/qcow2.h"

#include <stdint.h>

/* Subcommands: argv[0] is the subcommand's name. */
int vivctl_disk_create   (int argc, char **argv);
int vivctl_disk_info     (int argc, char **argv);
int vivctl_disk_check    (int argc, char **argv);
int vivctl_disk_convert  (int argc, char **argv);
int vivctl_disk_resize   (int argc, char **argv);
int vivctl_disk_snapshot (int argc, char **argv);
int vivctl_disk_clone    (int argc, char **argv);
int vivctl_disk_commit   (int argc, char **argv);
int vivctl_disk_rebase   (int argc, char **argv);

/* Copies SRC's guest-visible data (its backing chain's included) into a
 * new image DST of dst_format, leaving zero ranges unallocated; with
 */
gboolean vivctl_disk_convert_image (const char *src, const char *src_format, const char *dst,
                                    const char *dst_format, bool force, GError **error);
/* A new qcow2 overlay DST backed by SRC, SRC's size, made in O(1). */
gboolean vivctl_disk_linked_clone (const char *src, const char *src_format, const char *dst,
                                   bool force, GError **error);

/* Parses options; on success argv holds the subcommand name then exactly
 * min_args..max_args operands.  On failure prints the message and returns
 * false (the caller exits with VIVCTL_EXIT_USAGE). */
gboolean vivctl_disk_parse_args (GOptionContext *context, int *argc, char ***argv,
                                 const char *command, int min_args, int max_args);

/* The exit status for an error: the user's input (a missing, busy or
 * invalid image, a bad size, an existing destination …) → VIVCTL_EXIT_USAGE;
 * a failure while working (I/O errors, no space) → VIVCTL_EXIT_FAILURE. */
int vivctl_disk_status_for (const GError *error);
/* Prints the error and returns vivctl_disk_status_for it. */
int vivctl_disk_report (const GError *error);

/* "raw" or "qcow2" (the same static strings), else a usage error. */
const char *vivctl_disk_format_from_name (const char *name, const char *option,
                                          GError **error);
/* An image's format from its first bytes: qcow2 by its magic, else raw.
 * `given` (from -f) wins when not NULL; a missing file is an error. */
const char *vivctl_disk_format_of (const char *path, const char *given, GError **error);

/* SIZE for a new or resized image: a size (512, 64K, 8G …), a multiple of
 * 512 bytes and more than zero. */
gboolean vivctl_disk_parse_image_size (const char *text, uint64_t *bytes, GError **error);

/* Opens an image through the block layer (which holds its OFD lock: an
 * image a running VM uses fails with that layer's G_IO_ERROR_BUSY). */
VivBlock *vivctl_disk_open (const char *path, const char *format, bool read_only,
                            GError **error);

/* Synchronous I/O over VivBlock (the requests complete on this thread). */
int vivctl_disk_read  (VivBlock *blk, uint64_t offset, void *buf, size_t len);
int vivctl_disk_write (VivBlock *blk, uint64_t offset, const void *buf, size_t len);
/* One cluster (or the partial last one) written compressed (qcow2 only). */
int vivctl_disk_write_compressed (VivBlock *blk, uint64_t offset, const void *buf, size_t len);
int vivctl_disk_flush (VivBlock *blk);

/* A destination file written under a temporary name in its directory,
 * then fsynced and renamed over `path` by commit; abort (or a failed
 * commit) removes it, so a failure never leaves half an image. */
typedef struct VivctlOutput {
  char *path;        /* the destination */
  char *temp_path;   /* where it is written until commit */
  int   fd;          /* open read-write on temp_path */
} VivctlOutput;

/* Refuses an existing destination unless `force` (G_IO_ERROR_EXISTS naming
 * --force); creates an empty temporary file beside it. */
gboolean vivctl_output_begin  (VivctlOutput *out, const char *path, bool force, GError **error);
gboolean vivctl_output_commit (VivctlOutput *out, GError **error);
void     vivctl_output_abort  (VivctlOutput *out);

/* Flushes temp_path and renames it over `path`, then syncs the directory. */
gboolean vivctl_disk_replace_file (const char *temp_path, const char *path, GError **error);
/* Writes a new qcow2 image to the output's temporary file (as with
 * viv_qcow2_create; `options` is completed with cluster size defaults). */
gboolean vivctl_output_create_qcow2 (VivctlOutput *out, const VivQcow2CreateOptions *options,
                                     GError **error);

/* "1 GiB", "640 KiB", "512 bytes": sizes as people read them. */
char *vivctl_disk_format_size (uint64_t bytes);
/* Allocated bytes of a host file (st_blocks × 512). */
gboolean vivctl_disk_allocated_bytes (const char *path, uint64_t *bytes, GError **error);
