/* virtio-blk (virtio 1.2 §5.2) on a VivBlock image. */
#pragma once
#include "block/block.h"
#include "devices/virtio.h"

#define VIV_VIRTIO_BLK_MAX_QUEUES 64
#define VIV_VIRTIO_BLK_SERIAL_LEN 20   /* GET_ID: bytes, zero-padded */

typedef struct VivVirtioBlk VivVirtioBlk;

/* Binds a virtio-blk device to the transport `vdev`.  `image` must have
 * been opened with the transport's I/O context (options.context =
 * viv_virtio_device_context (vdev)); on success the device owns it and
 * closes it when the transport is freed (after the I/O thread stopped).
 * n_queues: 1 … VIV_VIRTIO_BLK_MAX_QUEUES, one per vCPU (offered as
 * VIRTIO_BLK_F_MQ when > 1).  serial: up to 20 bytes, or NULL. */
VivVirtioBlk *viv_virtio_blk_new (VivVirtioDevice *vdev, VivBlock *image, const char *serial,
                                  unsigned n_queues, GError **error);

typedef struct VivVirtioBlkStats {
  uint64_t read_ops, read_bytes, read_ns;      /* ns: summed request latency */
  uint64_t write_ops, write_bytes, write_ns;
  uint64_t flush_ops, flush_ns;
  uint64_t discard_ops, write_zeroes_ops;
  uint64_t errors;                             /* answered IOERR or UNSUPP */
} VivVirtioBlkStats;

/* Since the device was created (resets keep them); any thread. */
void      viv_virtio_blk_get_stats (VivVirtioBlk *blk, VivVirtioBlkStats *stats);
VivBlock *viv_virtio_blk_image     (VivVirtioBlk *blk);
