/* Disk images: an image-format-neutral interface (VivBlock) over format
 * drivers (raw today; qcow2 with backing chains plugs in the same way).
 *
 * Every request is asynchronous: it is given iovecs (the caller keeps the
 * buffers, not the iovec array, alive until the callback) and a callback
 * that runs exactly once, on the GMainContext given at open — never inside
 * the call that submitted it.  I/O goes through io_uring (aio.h); set
 * VIV_BLOCK_AIO=sync in the environment to force the synchronous fallback.
 *
 * Submissions may come from any thread; callbacks run on the context's
 * thread (or in viv_block_drain's caller). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <gio/gio.h>
#include "block/aio.h"

typedef enum {
  VIV_BLOCK_CACHE_WRITEBACK = 0,  /* page cache; flush → fdatasync */
  VIV_BLOCK_CACHE_NONE,           /* O_DIRECT; flush → fdatasync (device caches) */
  VIV_BLOCK_CACHE_WRITETHROUGH,   /* O_DSYNC: every write is durable */
} VivBlockCache;

typedef struct VivBlockOptions {
  const char   *path;
  const char   *format;     /* "raw" or "qcow2"; NULL means raw (images are never probed) */
  bool          read_only;
  VivBlockCache cache;
  GMainContext *context;    /* where callbacks run; NULL: the global default */
} VivBlockOptions;

/* What a driver can do beyond read and write. */
enum {
  VIV_BLOCK_CAP_DISCARD      = 1 << 0,  /* deallocates (punches holes) */
  VIV_BLOCK_CAP_WRITE_ZEROES = 1 << 1,  /* zeroes a range without data buffers */
  VIV_BLOCK_CAP_BACKING      = 1 << 2,  /* has a backing image (qcow2) */
};

/* write_zeroes flags: the range may be deallocated (it still reads as zeroes). */
#define VIV_BLOCK_ZERO_MAY_UNMAP 1u

/* ret: 0, or -errno (-EIO, -ENOSPC, -EINVAL for a bad request, -EROFS …). */
typedef void (*VivBlockCallback) (void *opaque, int ret);

typedef struct VivBlock VivBlock;

/* Errors name the file and say what to do: missing, a directory, not
 * readable/writable, size not a multiple of 512 bytes, already opened
 * read-write by another VM (G_IO_ERROR_BUSY: each open holds an OFD lock,
 * a write lock when read-write, a read lock when read-only), O_DIRECT not
 * supported by the file system. */
VivBlock   *viv_block_open  (const VivBlockOptions *options, GError **error);
/* Waits for requests in flight (their callbacks run), then closes. */
void        viv_block_close (VivBlock *blk);

const char *viv_block_path          (VivBlock *blk);
const char *viv_block_format        (VivBlock *blk);
uint64_t    viv_block_length        (VivBlock *blk);   /* bytes, a multiple of 512 */
bool        viv_block_is_read_only  (VivBlock *blk);
bool        viv_block_uses_uring    (VivBlock *blk);
/* Offsets and lengths of reads and writes must be multiples of this
 * (512, or the O_DIRECT granularity of the file, e.g. 4096). Buffers may
 * have any alignment (misaligned ones are bounced). */
uint32_t    viv_block_alignment     (VivBlock *blk);
/* The host's preferred I/O granularity (≥ alignment), for the topology a
 * device reports. */
uint32_t    viv_block_physical_block_size (VivBlock *blk);
unsigned    viv_block_capabilities  (VivBlock *blk);

void viv_block_readv        (VivBlock *blk, uint64_t offset, const struct iovec *iov,
                             unsigned iovcnt, VivBlockCallback cb, void *opaque);
void viv_block_writev       (VivBlock *blk, uint64_t offset, const struct iovec *iov,
                             unsigned iovcnt, VivBlockCallback cb, void *opaque);
void viv_block_flush        (VivBlock *blk, VivBlockCallback cb, void *opaque);
/* Discard is a hint: it succeeds without effect where holes are unsupported. */
void viv_block_discard      (VivBlock *blk, uint64_t offset, uint64_t len,
                             VivBlockCallback cb, void *opaque);
void viv_block_write_zeroes (VivBlock *blk, uint64_t offset, uint64_t len, unsigned flags,
                             VivBlockCallback cb, void *opaque);

/* Batching: requests between plug and unplug go to the kernel together. */
void viv_block_plug   (VivBlock *blk);
void viv_block_unplug (VivBlock *blk);
/* Completes every request in flight on the calling thread. */
void viv_block_drain  (VivBlock *blk);

/* "none", "writeback", "writethrough" → the cache mode; false if unknown. */
bool        viv_block_cache_from_string (const char *name, VivBlockCache *cache);
const char *viv_block_cache_to_string   (VivBlockCache cache);

/* ---- For format drivers -------------------------------------------------
 * block.c validates every request before it reaches a driver: in range,
 * offset and length multiples of the driver's alignment, no writes to a
 * read-only image, at most IOV_MAX segments. */

typedef struct VivBlockInfo {
  uint32_t alignment;            /* ≥ 512, a power of two */
  uint32_t physical_block_size;
  unsigned capabilities;         /* VIV_BLOCK_CAP_* */
} VivBlockInfo;

typedef struct VivBlockDriver {
  const char *format;
  /* Opens the image (all its files) doing I/O through `aio`; returns the
   * driver's state and fills *info. */
  void *(*open)   (const VivBlockOptions *options, VivAio *aio, VivBlockInfo *info,
                   GError **error);
  /* Called once no request is in flight. */
  void  (*close)  (void *state);
  /* Guest-visible bytes, a multiple of 512. */
  uint64_t (*get_length) (void *state);
  void  (*readv)  (void *state, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                   VivBlockCallback cb, void *opaque);
  void  (*writev) (void *state, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                   VivBlockCallback cb, void *opaque);
  void  (*flush)  (void *state, VivBlockCallback cb, void *opaque);
  void  (*discard) (void *state, uint64_t offset, uint64_t len,
                    VivBlockCallback cb, void *opaque);
  void  (*write_zeroes) (void *state, uint64_t offset, uint64_t len, unsigned flags,
                         VivBlockCallback cb, void *opaque);
} VivBlockDriver;

extern const VivBlockDriver viv_block_driver_raw;

/* The driver's state when `blk` uses `driver`, else NULL: for calls a
 * format offers beyond VivBlock (qcow2.h). */
void *viv_block_driver_state (VivBlock *blk, const VivBlockDriver *driver);
