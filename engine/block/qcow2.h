/* qcow2 images: the operations on whole images behind `vivctl disk`
 * (create, info, check, internal snapshots, resize, commit, rebase).
 * Guest I/O goes through VivBlock with format "qcow2" (block.h).
 *
 * Images are interoperable with QEMU's qemu-img: versions 2 and 3,
 * cluster sizes 512 B … 2 MiB, refcount widths 1 … 64 bits, zlib and zstd
 * compressed clusters, zero clusters, internal snapshots, backing chains
 * (raw or qcow2 at every level, up to VIV_QCOW2_MAX_CHAIN deep).
 *
 * Every call is synchronous and opens the image itself (with the same
 * locks as a VM: an image a VM uses read-write cannot be changed).  Errors
 * are GErrors in the G_IO_ERROR domain with one sentence for the user. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <gio/gio.h>
#include "block/block.h"

#define VIV_QCOW2_MAX_CHAIN 64

extern const VivBlockDriver viv_block_driver_qcow2;

typedef enum {
  VIV_QCOW2_COMPRESSION_ZLIB = 0,
  VIV_QCOW2_COMPRESSION_ZSTD = 1,
} VivQcow2Compression;

typedef struct {
  uint64_t    size;            /* virtual bytes, a multiple of 512; 0: the backing file's */
  uint32_t    cluster_size;    /* 0: 64 KiB; a power of two, 512 … 2 MiB */
  int         version;         /* 0: 3; 2 is qemu-img's compat=0.10 */
  int         refcount_bits;   /* 0: 16; 1, 2, 4, 8, 16, 32 or 64 (v2: 16 only) */
  VivQcow2Compression compression;   /* zstd needs version 3 */
  const char *backing_file;    /* NULL: none; stored as given (relative to the image) */
  const char *backing_format;  /* "raw" or "qcow2"; required with backing_file */
} VivQcow2CreateOptions;

/* Creates a new image (fails if `path` exists): a linked clone when a
 * backing file is given.  A full clone is a copy through VivBlock. */
gboolean viv_qcow2_create (const char *path, const VivQcow2CreateOptions *options,
                           GError **error);

/* Is the file a qcow2 image (starts with the magic)?  For messages and
 * `disk info`; VivBlock never guesses formats. */
gboolean viv_qcow2_has_magic (const char *path);

typedef struct {
  char    *id;
  char    *name;
  uint64_t vm_state_size;
  uint64_t disk_size;           /* the virtual size when it was taken */
  int64_t  date_sec;
  uint32_t date_nsec;
  uint64_t vm_clock_nsec;
} VivQcow2SnapshotInfo;

typedef struct {
  char    *path;                /* resolved, as opened */
  char    *format;              /* "raw" or "qcow2" */
  uint64_t virtual_size;
} VivQcow2ChainLink;

typedef struct {
  int      version;
  uint64_t virtual_size;
  uint32_t cluster_size;
  int      refcount_bits;
  VivQcow2Compression compression;
  uint64_t file_length;         /* the file's size */
  uint64_t disk_usage;          /* bytes the file takes on the host (st_blocks) */
  uint64_t allocated_bytes;     /* guest bytes this image itself maps (data, compressed) */
  char    *backing_file;        /* as stored in the header; NULL: none */
  char    *backing_format;      /* NULL when the header does not say */
  GPtrArray *chain;             /* VivQcow2ChainLink: the backing files, nearest first */
  GPtrArray *snapshots;         /* VivQcow2SnapshotInfo */
  bool     dirty;               /* refcounts may be stale (lazy refcounts, crash) */
  bool     corrupt;             /* marked corrupt: repair with check -r all */
  bool     lazy_refcounts;
} VivQcow2Info;

/* Reads the image read-only (also a corrupt or dirty one).  The backing
 * chain is followed when `with_chain`; a broken chain is an error. */
VivQcow2Info *viv_qcow2_info (const char *path, bool with_chain, GError **error);
void          viv_qcow2_info_free (VivQcow2Info *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VivQcow2Info, viv_qcow2_info_free)

/* ---- check (the categories and exit statuses of `qemu-img check`) ---- */

typedef enum {
  VIV_QCOW2_REPAIR_NONE   = 0,
  VIV_QCOW2_REPAIR_LEAKS  = 1 << 0,   /* -r leaks */
  VIV_QCOW2_REPAIR_ERRORS = 1 << 1,   /* -r all (with LEAKS) */
} VivQcow2Repair;

typedef struct {
  uint64_t corruptions;         /* left after repair */
  uint64_t leaks;               /* left after repair */
  uint64_t check_errors;        /* could not check (I/O errors) */
  uint64_t corruptions_fixed;
  uint64_t leaks_fixed;
  uint64_t allocated_clusters;  /* guest clusters mapped */
  uint64_t total_clusters;      /* guest clusters of the virtual size */
  uint64_t fragmented_clusters;
  uint64_t compressed_clusters;
  uint64_t image_end_offset;    /* end of the last cluster in use */
  GPtrArray *messages;          /* char*: "ERROR cluster 5 refcount=0 reference=1", "Leaked cluster …" */
} VivQcow2CheckResult;

/* Checks refcounts against references and the COPIED flags, and offsets
 * and overlaps of all tables; repairs as asked (read-write then).
 * FALSE only when the image could not be opened or checked at all. */
gboolean viv_qcow2_check (const char *path, VivQcow2Repair repair,
                          VivQcow2CheckResult *result, GError **error);
void     viv_qcow2_check_result_clear (VivQcow2CheckResult *result);
/* qemu-img check's exit status: 0 clean, 1 check errors, 2 corruptions,
 * 3 only leaks. */
int      viv_qcow2_check_exit_status (const VivQcow2CheckResult *result);

/* ---- internal snapshots --------------------------------------------- */

/* The snapshot list (VivQcow2SnapshotInfo), oldest first. */
GPtrArray *viv_qcow2_snapshot_list   (const char *path, GError **error);
/* Takes a snapshot of the disk named `name` (unique; ids are assigned
 * 1, 2, …); the image must not be in use. */
gboolean   viv_qcow2_snapshot_create (const char *path, const char *name, GError **error);
/* `name_or_id` matches a name first, then an id. */
gboolean   viv_qcow2_snapshot_apply  (const char *path, const char *name_or_id, GError **error);
gboolean   viv_qcow2_snapshot_delete (const char *path, const char *name_or_id, GError **error);
void       viv_qcow2_snapshot_info_free (VivQcow2SnapshotInfo *info);

/* ---- size and chains -------------------------------------------------- */

/* Grows the virtual size (a multiple of 512).  Shrinking is refused
 * unless no cluster past the new end is allocated. */
gboolean viv_qcow2_resize (const char *path, uint64_t new_size, GError **error);

/* Writes the clusters the image maps (data and zeroes) into its backing
 * file (which must be writable, raw or qcow2).  The image keeps its data:
 * delete it, or keep using it (it then reads the same). */
gboolean viv_qcow2_commit (const char *path, GError **error);

/* Changes the backing file (NULL: none).  Safe mode (unsafe=FALSE) first
 * copies into the image every cluster it does not map whose content
 * differs between the old and the new backing chain, so the guest sees
 * the same disk; unsafe only rewrites the name. */
gboolean viv_qcow2_rebase (const char *path, const char *backing_file,
                           const char *backing_format, bool unsafe, GError **error);

/* What a guest range is in a qcow2 image opened through VivBlock (for
 * copies that keep holes, e.g. convert): *bytes (≥ 1 cluster part, ≤ len)
 * of the range at offset are alike. */
typedef enum {
  VIV_QCOW2_STATUS_DATA,          /* mapped data of this image */
  VIV_QCOW2_STATUS_ZERO,          /* reads as zeroes, mapped here */
  VIV_QCOW2_STATUS_BACKING,       /* not mapped here: the backing file's (or zeroes) */
} VivQcow2Status;

int viv_qcow2_block_status (VivBlock *blk, uint64_t offset, uint64_t len,
                            VivQcow2Status *status, uint64_t *bytes);

/* Writes guest cluster `offset` (cluster aligned; `len` one cluster, or
 * up to the disk's end for the last) compressed with the image's
 * compression type, as `qemu-img convert -c` does: only into a cluster
 * that is not allocated yet (-EEXIST otherwise); data that does not come
 * out smaller is written uncompressed.  Returns 0 and calls cb later, or
 * -EINVAL (not a qcow2 image, bad range) / -EROFS without calling it. */
int viv_qcow2_write_compressed (VivBlock *blk, uint64_t offset, const void *buf, size_t len,
                                VivBlockCallback cb, void *opaque);
