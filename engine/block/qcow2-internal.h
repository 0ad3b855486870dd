/* qcow2 internals shared by the qcow2-*.c files: the on-disk constants of
 * QEMU's docs/interop/qcow2.txt, the open image (Qcow2Image: header,
 * L1 table, refcount table, metadata caches), and the synchronous
 * metadata operations under both the block driver (qcow2.c) and the
 * image tools (qcow2-image.c, qcow2-check.c, qcow2-snapshot.c).
 *
 * Metadata is read and written with pread/pwrite on the image's own
 * buffered descriptor; guest data of the block driver goes through the
 * VivBlockFile (io_uring, the cache mode's flags).  fdatasync works on the
 * file, whichever descriptor is used.
 *
 * Crash safety — the order in which metadata reaches the disk:
 *   data (fdatasync) → refcount blocks → refcount table → L2 tables → L1
 * Refcount increments are made in the cache before the reference exists,
 * so writing refcount blocks early can only leak clusters.  Decrements are
 * deferred (Qcow2Image.deferred_frees) until the metadata that no longer
 * references the clusters is durable, so a freed cluster is never reused
 * while a durable reference to it may remain. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>
#include "block/qcow2.h"

#define QCOW2_MAGIC             0x514649fbu   /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LENGTH  72
#define QCOW2_V3_HEADER_LENGTH  104
#define QCOW2_MIN_CLUSTER_BITS  9
#define QCOW2_MAX_CLUSTER_BITS  21
/* Implementation limits, QEMU's: larger tables come from broken images. */
#define QCOW2_MAX_L1_BYTES        (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES  (8u << 20)
#define QCOW2_MAX_SNAPSHOTS       65536
#define QCOW2_MAX_BACKING_NAME    1023
#define QCOW2_MAX_SNAPSHOT_EXTRA  1024
/* Guest offsets must stay below 2^56 (the L2 offset field's range). */
#define QCOW2_MAX_VIRTUAL_SIZE    (1ull << 55)

/* Header extension types. */
#define QCOW2_EXT_END             0x00000000u
#define QCOW2_EXT_BACKING_FORMAT  0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE   0x6803f857u

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY        (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ull << 4)
#define QCOW2_INCOMPAT_SUPPORTED \
  (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_COMPRESSION)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* L1/L2/refcount table entries. */
#define QCOW2_OFLAG_COPIED      (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED  (1ull << 62)
#define QCOW2_OFLAG_ZERO        (1ull << 0)
#define QCOW2_OFFSET_MASK       0x00fffffffffffe00ull   /* L1, L2: bits 9-55 */
#define QCOW2_L1E_RESERVED      0x7f000000000001ffull
#define QCOW2_L2E_RESERVED      0x3f000000000001feull
#define QCOW2_REFT_OFFSET_MASK  0xfffffffffffffe00ull
#define QCOW2_REFT_RESERVED     0x00000000000001ffull

/* One header extension this implementation does not interpret: kept
 * byte for byte when the header is rewritten. */
typedef struct {
  uint32_t type;
  GBytes  *data;
} Qcow2Extension;

typedef struct {
  uint8_t type;    /* 0 incompatible, 1 compatible, 2 autoclear */
  uint8_t bit;
  char    name[47];
} Qcow2FeatureName;

typedef struct {
  uint64_t l1_table_offset;
  uint32_t l1_size;
  char    *id;
  char    *name;
  uint32_t date_sec, date_nsec;
  uint64_t vm_clock_nsec;
  uint64_t vm_state_size;
  uint64_t disk_size;       /* the v3 extra field; else the image's size */
  GBytes  *extra_rest;      /* extra data past the fields we know, kept */
} Qcow2Snapshot;

typedef struct Qcow2Cache Qcow2Cache;

typedef struct Qcow2Image {
  int       fd;
  char     *path;
  bool      read_only;
  uint64_t  file_size;          /* bytes: the file's length, or further once allocated */

  /* The header, host byte order. */
  uint32_t  version;
  uint32_t  cluster_bits;
  uint64_t  size;               /* virtual size, bytes */
  uint32_t  l1_size;
  uint64_t  l1_table_offset;
  uint64_t  refcount_table_offset;
  uint32_t  refcount_table_clusters;
  uint32_t  nb_snapshots;
  uint64_t  snapshots_offset;
  uint64_t  incompatible, compatible, autoclear;
  uint32_t  refcount_order;
  uint32_t  header_length;
  uint8_t   compression_type;
  GBytes   *header_tail;        /* v3 header bytes past the fields we know */
  char     *backing_file;       /* as stored (may be relative); NULL: none */
  char     *backing_format;     /* NULL: the extension is absent */
  GArray   *features;           /* Qcow2FeatureName: the feature name table */
  GPtrArray *extensions;        /* Qcow2Extension: unknown ones, kept */

  /* Derived. */
  uint32_t  cluster_size;
  uint32_t  l2_bits;            /* log2 of entries per L2 table */
  uint32_t  refcount_bits;
  uint64_t  refcount_max;
  uint32_t  rb_bits;            /* log2 of entries per refcount block */
  uint32_t  csize_shift;        /* compressed descriptor: sector count position */
  uint64_t  csize_mask;
  uint64_t  coffset_mask;

  uint64_t *l1;                 /* host byte order, l1_size entries */
  bool      l1_dirty;
  uint64_t *reftable;           /* host byte order, reftable_entries */
  uint32_t  reftable_entries;
  bool      reftable_dirty;
  Qcow2Cache *l2_cache;
  Qcow2Cache *rb_cache;
  GArray   *snapshots;          /* Qcow2Snapshot */
  uint64_t  snapshots_size;     /* bytes of the snapshot table */

  uint64_t  free_hint;          /* clusters below are in use */
  GArray   *deferred_frees;     /* Qcow2Range: decrements waiting for a flush */
} Qcow2Image;

typedef struct {
  uint64_t offset;
  uint64_t length;
} Qcow2Range;

static inline uint64_t
qcow2_l2_entries (const Qcow2Image *img)
{
  return 1ull << img->l2_bits;
}

static inline uint64_t
qcow2_offset_into_cluster (const Qcow2Image *img, uint64_t offset)
{
  return offset & (img->cluster_size - 1);
}

static inline uint64_t
qcow2_round_up (const Qcow2Image *img, uint64_t offset)
{
  return (offset + img->cluster_size - 1) & ~(uint64_t) (img->cluster_size - 1);
}

static inline uint64_t
qcow2_l1_entries_for (uint64_t size, uint32_t cluster_bits)
{
  uint64_t bytes_per_l2 = 1ull << (cluster_bits * 2 - 3);
  return (size + bytes_per_l2 - 1) / bytes_per_l2;
}

/* ---- qcow2-open.c, qcow2-header.c: opening and the header ---------------- */

/* Reads and validates the header, L1 and refcount tables and the snapshot
 * table.  Refuses what this implementation cannot handle safely (unknown
 * incompatible features, encryption, external data files, extended L2
 * entries) and, read-write, images marked corrupt. */
enum {
  QCOW2_OPEN_LOCK   = 1 << 0,   /* take the image lock (tools; VivBlockFile has its own) */
  QCOW2_OPEN_REPAIR = 1 << 1,   /* read-write despite the corrupt bit, no dirty repair */
};
Qcow2Image *qcow2_image_open  (const char *path, bool read_only, unsigned flags,
                               GError **error);
/* Writes back what is cached (qcow2_image_flush) when read-write. */
int         qcow2_image_close (Qcow2Image *img, GError **error);
/* Parses header cluster 0 into img (fields, extensions, backing name). */
gboolean    qcow2_header_parse (Qcow2Image *img, const uint8_t *cluster, GError **error);
/* Sets "… is not a valid qcow2 image: WHAT; check it …"; returns FALSE. */
gboolean    qcow2_invalid (GError **error, const char *path, const char *what);
/* Rewrites header cluster 0 whole: fields, extensions, backing name. */
int         qcow2_header_write (Qcow2Image *img);
/* Sets or clears incompatible feature bits on disk (fdatasync'd). */
int         qcow2_header_set_incompatible (Qcow2Image *img, uint64_t bits);
/* "dirty, corrupt" names of unknown or unsupported bits, from the
 * image's feature table when it has them. */
char       *qcow2_feature_names (const Qcow2Image *img, uint64_t bits);

int qcow2_pread  (Qcow2Image *img, uint64_t offset, void *buf, size_t len);
int qcow2_pwrite (Qcow2Image *img, uint64_t offset, const void *buf, size_t len);
int qcow2_fdatasync (Qcow2Image *img);

/* Does [offset, offset+len) of the file overlap the header, the L1 table,
 * the refcount table or the snapshot table? */
bool qcow2_overlaps_fixed_metadata (const Qcow2Image *img, uint64_t offset, uint64_t len);

/* ---- qcow2-cache.c: L2 tables and refcount blocks ---------------------- */

Qcow2Cache *qcow2_cache_new  (Qcow2Image *img, unsigned capacity, bool is_l2);
void        qcow2_cache_free (Qcow2Cache *cache);
/* A cluster-sized table, read on a miss; pinned until qcow2_cache_put. */
int      qcow2_cache_get     (Qcow2Cache *cache, uint64_t offset, uint8_t **table);
/* A new table, zero-filled, dirty; pinned. */
int      qcow2_cache_get_new (Qcow2Cache *cache, uint64_t offset, uint8_t **table);
void     qcow2_cache_put     (Qcow2Cache *cache, uint8_t *table);
void     qcow2_cache_mark_dirty (Qcow2Cache *cache, uint8_t *table);
bool     qcow2_cache_has_dirty (Qcow2Cache *cache);
/* Writes the dirty tables (no fdatasync); returns how many, or -errno. */
int      qcow2_cache_write_dirty (Qcow2Cache *cache);
/* Forgets a table (freed, or rewritten behind the cache's back). */
void     qcow2_cache_discard (Qcow2Cache *cache, uint64_t offset);
void     qcow2_cache_discard_all (Qcow2Cache *cache);

/* ---- qcow2-refcount.c: refcounts and allocation ------------------------ */

uint64_t qcow2_refblock_get (const Qcow2Image *img, const uint8_t *block, uint64_t index);
void     qcow2_refblock_set (const Qcow2Image *img, uint8_t *block, uint64_t index,
                             uint64_t value);
int     qcow2_refcount_get (Qcow2Image *img, uint64_t cluster_index, uint64_t *refcount);
/* Adds delta (may be negative) to the refcounts of the clusters covering
 * [offset, offset+len).  Increments allocate refcount blocks as needed. */
int     qcow2_refcount_update (Qcow2Image *img, uint64_t offset, uint64_t len, int64_t delta);
/* n contiguous free clusters, refcount 1; returns the offset or -errno. */
int64_t qcow2_alloc_clusters (Qcow2Image *img, uint64_t n);
/* Drops a reference once the metadata that held it is durable. */
void    qcow2_free_deferred (Qcow2Image *img, uint64_t offset, uint64_t len);
/* Applies the deferred decrements and punches holes where clusters
 * became free. */
int     qcow2_apply_deferred_frees (Qcow2Image *img);
/* Writes the refcount blocks and table (with the fdatasync between). */
int     qcow2_refcount_flush (Qcow2Image *img);
/* Grows the refcount table to at least `entries` (relocating it). */
int     qcow2_refcount_table_grow (Qcow2Image *img, uint64_t entries);
/* Releases one L2 entry's clusters (normal, compressed, preallocated zero). */
void    qcow2_free_l2_entry_deferred (Qcow2Image *img, uint64_t entry);
/* The host byte range a compressed L2 entry reads. */
void    qcow2_compressed_range (const Qcow2Image *img, uint64_t entry,
                                uint64_t *offset, uint64_t *len);

/* ---- qcow2-map.c: guest → host mapping ---------------------------------- */

typedef enum {
  QCOW2_CLUSTER_UNALLOCATED,    /* the backing file's, or zeroes */
  QCOW2_CLUSTER_ZERO,           /* reads as zeroes (v3 zero flag) */
  QCOW2_CLUSTER_NORMAL,
  QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

Qcow2ClusterType qcow2_entry_type (const Qcow2Image *img, uint64_t entry);
/* The L2 entry of the guest cluster at `offset` (0 when it has no L2
 * table); checks the table's and the data's offsets. */
int  qcow2_get_entry (Qcow2Image *img, uint64_t offset, uint64_t *entry);
/* Replaces the entry of the guest cluster at `offset`, allocating the L2
 * table or copying it when shared (snapshots).  The old entry's clusters
 * are not released: see qcow2_free_l2_entry_deferred. */
int  qcow2_set_entry (Qcow2Image *img, uint64_t offset, uint64_t entry);
/* Can data be written in place (a normal cluster with refcount 1)?  Sets
 * the COPIED flag when only it was missing. */
bool qcow2_entry_writable (Qcow2Image *img, uint64_t offset, uint64_t entry);
/* Grows the active L1 table to at least `entries` (relocating it). */
int  qcow2_l1_grow (Qcow2Image *img, uint64_t entries);
/* Writes the L1 table when dirty. */
int  qcow2_l1_write (Qcow2Image *img);
/* The whole ordered write-back: data sync, refcounts, L2, L1, header;
 * then the deferred frees.  `data_synced`: fdatasync was just done. */
int  qcow2_image_flush (Qcow2Image *img, bool data_synced, bool apply_frees);

/* ---- qcow2-compress.c --------------------------------------------------- */

/* Decompresses one cluster; -EIO on malformed data. */
int qcow2_decompress (const Qcow2Image *img, const uint8_t *src, size_t src_len,
                      uint8_t *dst);
/* Compresses one cluster into dst: the length, or -ENOSPC when it needs
 * more than dst_cap bytes. */
ssize_t qcow2_compress (const Qcow2Image *img, const uint8_t *src, uint8_t *dst,
                        size_t dst_cap);
/* Reads and decompresses the compressed cluster `entry` describes. */
int qcow2_read_compressed (Qcow2Image *img, uint64_t entry, uint8_t *dst);

/* ---- qcow2-snapshot.c --------------------------------------------------- */

gboolean qcow2_snapshots_read (Qcow2Image *img, GError **error);
void qcow2_snapshot_clear  (Qcow2Snapshot *sn);
/* Adds `delta` to the refcount of every L2 table and cluster the L1 table
 * at l1_offset references (delta 0 only recomputes), then sets the COPIED
 * flags of the active L1/L2 tables from the refcounts. */
int  qcow2_update_l1_refcounts (Qcow2Image *img, const uint64_t *l1, uint32_t l1_size,
                                int64_t delta);
int  qcow2_fix_copied_flags (Qcow2Image *img);

VivQcow2SnapshotInfo *qcow2_snapshot_info (const Qcow2Snapshot *sn);

/* ---- qcow2-image.c: the tools' side --------------------------------------- */

/* Opens for an image tool, with the image lock a VM would take. */
Qcow2Image *qcow2_tool_open  (const char *path, bool read_only, GError **error);
/* Closes (writing back); `ret` is the operation's result so far: a GError
 * names the failure; returns whether both succeeded. */
gboolean    qcow2_tool_close (Qcow2Image *img, int ret, GError **error);

/* ---- qcow2-check.c ------------------------------------------------------- */

/* Recomputes every refcount from the references and rewrites the refcount
 * structures (the dirty bit's repair, and `check -r all`). */
gboolean qcow2_rebuild_refcounts (Qcow2Image *img, GError **error);
