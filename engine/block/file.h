/* A host file holding image data, for format drivers (raw, qcow2 and its
 * backing files): opening with the cache mode's flags and an OFD lock,
 * O_DIRECT alignment (misaligned buffers are bounced), and the data
 * operations on top of the I/O engine. */
#pragma once
#include "block/block.h"

typedef struct VivBlockFile {
  int           fd;
  char         *path;
  bool          read_only;
  bool          is_block_device;
  VivBlockCache cache;
  uint64_t      size;            /* bytes at open */
  uint32_t      offset_align;    /* O_DIRECT: file offsets and segment lengths */
  uint32_t      mem_align;       /* O_DIRECT: buffer addresses */
  uint32_t      physical_block_size;
  bool          no_punch_hole;   /* learnt from EOPNOTSUPP */
  bool          no_zero_range;
  VivAio       *aio;
} VivBlockFile;

gboolean viv_block_file_open  (VivBlockFile *file, const char *path, bool read_only,
                               VivBlockCache cache, VivAio *aio, GError **error);
void     viv_block_file_close (VivBlockFile *file);

/* offset and every segment length must be multiples of offset_align. */
void viv_block_file_readv        (VivBlockFile *file, uint64_t offset, const struct iovec *iov,
                                  unsigned iovcnt, VivBlockCallback cb, void *opaque);
void viv_block_file_writev       (VivBlockFile *file, uint64_t offset, const struct iovec *iov,
                                  unsigned iovcnt, VivBlockCallback cb, void *opaque);
void viv_block_file_flush        (VivBlockFile *file, VivBlockCallback cb, void *opaque);
void viv_block_file_discard      (VivBlockFile *file, uint64_t offset, uint64_t len,
                                  VivBlockCallback cb, void *opaque);
/* Zero range, else punch hole (with VIV_BLOCK_ZERO_MAY_UNMAP first),
 * else writes of zeroes. */
void viv_block_file_write_zeroes (VivBlockFile *file, uint64_t offset, uint64_t len,
                                  unsigned flags, VivBlockCallback cb, void *opaque);
