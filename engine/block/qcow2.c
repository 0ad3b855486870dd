/* The qcow2 block driver: guest requests over the mapping of
 * qcow2-map.c, with data through io_uring (VivBlockFile) and the backing
 * image's driver.
 *
 * Concurrency: one mutex per image guards the metadata; it is never held
 * while a caller's callback runs.  Reads, and writes that land in place
 * (clusters with refcount 1), run in parallel.  Everything that changes
 * metadata goes through one queue, started in order (qcow2-write.c):
 * allocating writes run side by side, a write waiting while another
 * allocates a guest cluster it needs, so a guest cluster is never
 * allocated twice; zeroing, discards, flushes and compressed writes run
 * alone, so a flush sees a consistent state (every L2 entry it writes
 * points at data that was written before its fdatasync).
 *
 * An allocating write: allocate host clusters (refcount 1, in the cache),
 * read what the write does not cover from the old cluster or the backing
 * file (copy-on-write; nothing to read where it reads as zeroes, and
 * nothing to write there when the new clusters lie past what the file
 * ever held), write the data, then point the L2 entries at it and release
 * the old clusters (deferred until the next flush). */
#include "block/qcow2-driver.h"
#include "block/qcow2-backing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- iovecs ------------------------------------------------------------ */

/* The segments covering [pos, pos+len) of iov into out (capacity max). */
unsigned
qcow2_iov_slice (const struct iovec *iov, unsigned iovcnt, uint64_t pos, uint64_t len,
                 struct iovec *out, unsigned max)
{
  unsigned n = 0;
  for (unsigned i = 0; i < iovcnt && len > 0; i++) {
    if (pos >= iov[i].iov_len) {
      pos -= iov[i].iov_len;
      continue;
    }
    size_t take = MIN (iov[i].iov_len - pos, len);
    g_assert (n < max);
    out[n++] = (struct iovec) { (uint8_t *) iov[i].iov_base + pos, take };
    len -= take;
    pos = 0;
  }
  return n;
}

void
qcow2_iov_copy_in (const struct iovec *iov, unsigned iovcnt, uint64_t pos, const uint8_t *src,
                   uint64_t len)
{
  for (unsigned i = 0; i < iovcnt && len > 0; i++) {
    if (pos >= iov[i].iov_len) {
      pos -= iov[i].iov_len;
      continue;
    }
    size_t take = MIN (iov[i].iov_len - pos, len);
    if (src) {
      memcpy ((uint8_t *) iov[i].iov_base + pos, src, take);
      src += take;
    } else {
      memset ((uint8_t *) iov[i].iov_base + pos, 0, take);
    }
    len -= take;
    pos = 0;
  }
}

void *
qcow2_aligned_alloc (size_t len)
{
  void *p;
  return posix_memalign (&p, 4096, MAX (len, 1)) == 0 ? p : NULL;
}

/* ---- requests ----------------------------------------------------------- */

Request *
qcow2_request_new (Qcow2State *s, Op op, uint64_t offset, uint64_t len, const struct iovec *iov,
                   unsigned iovcnt, VivBlockCallback cb, void *opaque)
{
  Request *r = g_new0 (Request, 1);
  r->s = s;
  r->op = op;
  r->offset = offset;
  r->len = len;
  if (iovcnt) {
    r->iov = g_memdup2 (iov, iovcnt * sizeof *iov);
    r->iovcnt = iovcnt;
  }
  r->cb = cb;
  r->opaque = opaque;
  return r;
}

void
qcow2_request_free (Request *r)
{
  free (r->head);
  if (r->tail != r->head)
    free (r->tail);
  g_free (r->cdata);
  g_free (r->iov);
  g_free (r);
}

/* ---- reads ------------------------------------------------------------ */

static void
read_finish (Request *r)
{
  r->cb (r->opaque, r->ret);
  qcow2_request_free (r);
}

static void
read_part_done (void *opaque, int ret)
{
  Request *r = opaque;
  if (ret < 0)
    g_atomic_int_compare_and_exchange (&r->ret, 0, ret);
  if (g_atomic_int_dec_and_test (&r->pending))
    read_finish (r);
}

static void
data_part_done (void *opaque, int ret)
{
  Request *r = opaque;
  g_atomic_int_dec_and_test (&r->s->data_in_flight);
  read_part_done (r, ret);
}

void
qcow2_submit_part (Request *r, PartKind kind, uint64_t host, uint64_t pos, uint64_t len)
{
  Qcow2State *s = r->s;
  struct iovec *part = g_new (struct iovec, r->iovcnt);
  unsigned n = qcow2_iov_slice (r->iov, r->iovcnt, pos, len, part, r->iovcnt);
  g_atomic_int_inc (&r->pending);
  switch (kind) {
  case PART_DATA_READ:
    g_atomic_int_inc (&s->data_in_flight);
    viv_block_file_readv (&s->file, host, part, n, data_part_done, r);
    break;
  case PART_DATA_WRITE:
    g_atomic_int_inc (&s->data_in_flight);
    viv_block_file_writev (&s->file, host, part, n, data_part_done, r);
    break;
  case PART_BACKING_READ:
    s->backing_driver->readv (s->backing, host, part, n, read_part_done, r);
    break;
  }
  g_free (part);
}

static int
read_compressed (Qcow2State *s, uint64_t entry, uint64_t in_cluster, Request *r,
                 uint64_t pos, uint64_t len)
{
  if (s->cbuf_entry != entry) {
    s->cbuf_entry = 0;
    int ret = qcow2_read_compressed (s->img, entry, s->cbuf);
    if (ret < 0)
      return ret;
    s->cbuf_entry = entry;
  }
  qcow2_iov_copy_in (r->iov, r->iovcnt, pos, s->cbuf + in_cluster, len);
  return 0;
}

/* Splits a read by cluster kind; each run of like clusters is one part. */
void
qcow2_read_submit_locked (Qcow2State *s, uint64_t offset, const struct iovec *iov,
                          unsigned iovcnt, uint64_t len, VivBlockCallback cb, void *opaque)
{
  Qcow2Image *img = s->img;
  Request *r = qcow2_request_new (s, OP_READ, offset, len, iov, iovcnt, cb, opaque);
  r->pending = 1;
  uint64_t pos = 0;
  while (pos < len) {
    uint64_t guest = offset + pos, entry;
    int ret = qcow2_get_entry (img, guest, &entry);
    if (ret < 0) {
      r->ret = ret;
      break;
    }
    Qcow2ClusterType type = qcow2_entry_type (img, entry);
    uint64_t in_cluster = qcow2_offset_into_cluster (img, guest);
    uint64_t chunk = MIN (img->cluster_size - in_cluster, len - pos);
    uint64_t host = (entry & QCOW2_OFFSET_MASK) + in_cluster;
    /* Following clusters of the same kind (and contiguous, for data). */
    while (type != QCOW2_CLUSTER_COMPRESSED && pos + chunk < len) {
      uint64_t next;
      if (qcow2_get_entry (img, guest + chunk, &next) < 0
          || qcow2_entry_type (img, next) != type
          || (type == QCOW2_CLUSTER_NORMAL
              && (next & QCOW2_OFFSET_MASK) != host + chunk))
        break;
      chunk += MIN (img->cluster_size, len - pos - chunk);
    }
    switch (type) {
    case QCOW2_CLUSTER_NORMAL:
      qcow2_submit_part (r, PART_DATA_READ, host, pos, chunk);
      break;
    case QCOW2_CLUSTER_COMPRESSED:
      ret = read_compressed (s, entry, in_cluster, r, pos, chunk);
      if (ret < 0)
        r->ret = ret;
      break;
    case QCOW2_CLUSTER_UNALLOCATED:
      if (s->backing && guest < s->backing_length) {
        uint64_t from_backing = MIN (chunk, s->backing_length - guest);
        qcow2_submit_part (r, PART_BACKING_READ, guest, pos, from_backing);
        qcow2_iov_copy_in (r->iov, r->iovcnt, pos + from_backing, NULL, chunk - from_backing);
      } else {
        qcow2_iov_copy_in (r->iov, r->iovcnt, pos, NULL, chunk);
      }
      break;
    case QCOW2_CLUSTER_ZERO:
      qcow2_iov_copy_in (r->iov, r->iovcnt, pos, NULL, chunk);
      break;
    }
    if (r->ret < 0)
      break;
    pos += chunk;
  }
  /* Nothing in flight (all zeroes, or an error): complete from the
   * context, never inside the submitting call. */
  if (g_atomic_int_dec_and_test (&r->pending)) {
    viv_aio_complete_later (s->aio, r->ret, cb, opaque);
    qcow2_request_free (r);
  }
}

static void
qcow2_readv (void *state, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
             VivBlockCallback cb, void *opaque)
{
  Qcow2State *s = state;
  uint64_t len = 0;
  for (unsigned i = 0; i < iovcnt; i++)
    len += iov[i].iov_len;
  g_mutex_lock (&s->lock);
  qcow2_read_submit_locked (s, offset, iov, iovcnt, len, cb, opaque);
  g_mutex_unlock (&s->lock);
}

/* ---- open and close ------------------------------------------------------ */

static void
state_free (Qcow2State *s)
{
  if (s->backing)
    s->backing_driver->close (s->backing);
  if (s->img) {
    g_autoptr (GError) error = NULL;
    if (qcow2_image_close (s->img, &error) < 0)
      g_warning ("%s", error->message);
  }
  if (s->file.fd >= 0)
    viv_block_file_close (&s->file);
  free (s->zeroes);
  g_free (s->cbuf);
  if (s->allocating)
    g_ptr_array_free (s->allocating, TRUE);
  g_mutex_clear (&s->lock);
  g_free (s);
}

static gboolean
open_backing (Qcow2State *s, const VivBlockOptions *options, Qcow2Chain *chain,
              uint32_t *alignment, GError **error)
{
  Qcow2Image *img = s->img;
  g_autofree char *path = NULL, *format = NULL;
  if (!qcow2_backing_resolve (options->path, img->backing_file, img->backing_format,
                              &path, &format, error))
    return FALSE;
  VivBlockOptions backing_options = {
    .path = path,
    .format = format,
    .read_only = true,
    .cache = options->cache,
    .context = options->context,
  };
  VivBlockInfo info = { 0 };
  if (g_str_equal (format, "qcow2")) {
    s->backing_driver = &viv_block_driver_qcow2;
    s->backing = qcow2_driver_open_in_chain (&backing_options, s->aio, &info, chain, error);
  } else {
    s->backing_driver = &viv_block_driver_raw;
    if (qcow2_chain_enter (chain, path, error))
      s->backing = viv_block_driver_raw.open (&backing_options, s->aio, &info, error);
  }
  if (!s->backing) {
    g_prefix_error (error, "Backing file of “%s”: ", options->path);
    return FALSE;
  }
  s->backing_length = s->backing_driver->get_length (s->backing);
  *alignment = MAX (*alignment, info.alignment);
  return TRUE;
}

void *
qcow2_driver_open_in_chain (const VivBlockOptions *options, VivAio *aio, VivBlockInfo *info,
                            Qcow2Chain *chain, GError **error)
{
  if (!qcow2_chain_enter (chain, options->path, error))
    return NULL;
  Qcow2State *s = g_new0 (Qcow2State, 1);
  g_mutex_init (&s->lock);
  g_queue_init (&s->meta_queue);
  g_queue_init (&s->alloc_waiters);
  s->allocating = g_ptr_array_new ();
  s->aio = aio;
  s->file.fd = -1;
  s->writethrough = options->cache == VIV_BLOCK_CACHE_WRITETHROUGH;
  if (!viv_block_file_open (&s->file, options->path, options->read_only, options->cache,
                            aio, error))
    goto fail;
  s->img = qcow2_image_open (options->path, options->read_only, 0, error);
  if (!s->img)
    goto fail;
  s->length = s->img->size & ~511ull;
  s->zeroes = qcow2_aligned_alloc (s->img->cluster_size);
  s->cbuf = g_malloc (s->img->cluster_size);
  if (!s->zeroes) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Out of memory");
    goto fail;
  }
  memset (s->zeroes, 0, s->img->cluster_size);

  uint32_t alignment = MAX (512u, s->file.offset_align);
  if (s->img->backing_file && !open_backing (s, options, chain, &alignment, error))
    goto fail;
  *info = (VivBlockInfo) {
    .alignment = alignment,
    .physical_block_size = MAX (s->file.physical_block_size, alignment),
    .capabilities = VIV_BLOCK_CAP_DISCARD | VIV_BLOCK_CAP_WRITE_ZEROES
                    | (s->backing ? VIV_BLOCK_CAP_BACKING : 0),
  };
  return s;

fail:
  state_free (s);
  return NULL;
}

static void *
qcow2_open (const VivBlockOptions *options, VivAio *aio, VivBlockInfo *info, GError **error)
{
  Qcow2Chain chain = { .depth = 0 };
  return qcow2_driver_open_in_chain (options, aio, info, &chain, error);
}

static void
qcow2_close (void *state)
{
  Qcow2State *s = state;
  g_assert (g_queue_is_empty (&s->meta_queue) && !s->exclusive_busy && s->writes_running == 0);
  state_free (s);
}

static uint64_t
qcow2_get_length (void *state)
{
  Qcow2State *s = state;
  return s->length;
}

int
viv_qcow2_block_status (VivBlock *blk, uint64_t offset, uint64_t len,
                        VivQcow2Status *status, uint64_t *bytes)
{
  Qcow2State *s = viv_block_driver_state (blk, &viv_block_driver_qcow2);
  if (!s || offset >= s->length || len == 0)
    return -EINVAL;
  len = MIN (len, s->length - offset);
  g_mutex_lock (&s->lock);
  Qcow2Image *img = s->img;
  uint64_t pos = 0;
  int ret = 0;
  while (pos < len) {
    uint64_t entry;
    ret = qcow2_get_entry (img, offset + pos, &entry);
    if (ret < 0)
      break;
    VivQcow2Status here;
    switch (qcow2_entry_type (img, entry)) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_COMPRESSED:
      here = VIV_QCOW2_STATUS_DATA;
      break;
    case QCOW2_CLUSTER_ZERO:
      here = VIV_QCOW2_STATUS_ZERO;
      break;
    default:
      here = VIV_QCOW2_STATUS_BACKING;
    }
    if (pos == 0)
      *status = here;
    else if (here != *status)
      break;
    pos += MIN (img->cluster_size - qcow2_offset_into_cluster (img, offset + pos), len - pos);
  }
  g_mutex_unlock (&s->lock);
  *bytes = pos;
  return pos ? 0 : ret;
}

const VivBlockDriver viv_block_driver_qcow2 = {
  .format = "qcow2",
  .open = qcow2_open,
  .close = qcow2_close,
  .get_length = qcow2_get_length,
  .readv = qcow2_readv,
  .writev = qcow2_writev,
  .flush = qcow2_flush,
  .discard = qcow2_discard,
  .write_zeroes = qcow2_write_zeroes,
};
