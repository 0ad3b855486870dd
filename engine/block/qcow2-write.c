/* The qcow2 driver's metadata queue (see qcow2.c): allocating writes with
 * copy-on-write, which run side by side, and zeroing, discards, flushes
 * and compressed writes, which run alone. */
#include "block/qcow2-driver.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- the metadata queue ------------------------------------------------- */

static void meta_start (Request *r);

/* Frees were applied: the host cluster holding the last compressed data
 * may have been released and reused, so the next one starts afresh. */
static void
forget_compressed_end (Qcow2State *s)
{
  s->compressed_end = 0;
}

/* Starts queued requests in order: writes while no exclusive request
 * runs, an exclusive one once nothing else runs. */
static void
meta_run (Qcow2State *s)
{
  if (s->meta_running)
    return;
  s->meta_running = true;
  while (!s->exclusive_busy && !g_queue_is_empty (&s->meta_queue)) {
    Request *r = g_queue_peek_head (&s->meta_queue);
    r->exclusive = r->op != OP_WRITE;
    if (r->exclusive && s->writes_running > 0)
      break;
    g_queue_pop_head (&s->meta_queue);
    if (r->exclusive)
      s->exclusive_busy = true;
    else
      s->writes_running++;
    meta_start (r);
  }
  s->meta_running = false;
}

static void
meta_enqueue (Qcow2State *s, Request *r)
{
  g_queue_push_tail (&s->meta_queue, r);
  meta_run (s);
}

static void
meta_complete (Request *r, int ret)
{
  Qcow2State *s = r->s;
  bool exclusive = r->exclusive;
  if (ret == 0 && s->writethrough && r->op != OP_FLUSH) {
    /* No flushes will come: the metadata is made durable now. */
    bool frees = s->img->deferred_frees->len > 0;
    ret = qcow2_image_flush (s->img, false, g_atomic_int_get (&s->data_in_flight) == 0);
    if (frees)
      forget_compressed_end (s);
  }
  if (r->cb)
    viv_aio_complete_later (s->aio, ret, r->cb, r->opaque);
  else if (r->op == OP_FLUSH)
    s->flush_queued = false;
  qcow2_request_free (r);
  if (s->img->deferred_frees->len > MAX_DEFERRED_FREES && !s->writethrough
      && !s->flush_queued) {
    s->flush_queued = true;
    g_queue_push_head (&s->meta_queue,
                       qcow2_request_new (s, OP_FLUSH, 0, 0, NULL, 0, NULL, NULL));
  }
  if (exclusive)
    s->exclusive_busy = false;
  else
    s->writes_running--;
  meta_run (s);
}

/* ---- flush -------------------------------------------------------------- */

static void
flush_synced (void *opaque, int ret)
{
  Request *r = opaque;
  Qcow2State *s = r->s;
  g_mutex_lock (&s->lock);
  /* Data is durable: the metadata pointing at it may follow.  Clusters
   * are only released when no data request could still touch them. */
  bool frees = s->img->deferred_frees->len > 0;
  if (ret == 0)
    ret = qcow2_image_flush (s->img, true, g_atomic_int_get (&s->data_in_flight) == 0);
  if (frees)
    forget_compressed_end (s);
  meta_complete (r, ret);
  g_mutex_unlock (&s->lock);
}

/* ---- writes ------------------------------------------------------------- */

static void write_step (Request *r);

/* The data of the request's [pos, pos+len): its buffers, or zeroes. */
static unsigned
source_slice (Request *r, uint64_t pos, uint64_t len, struct iovec *out, unsigned max)
{
  if (r->op == OP_ZEROES) {
    g_assert (len <= r->s->img->cluster_size);
    out[0] = (struct iovec) { r->s->zeroes, len };
    return 1;
  }
  return qcow2_iov_slice (r->iov, r->iovcnt, pos, len, out, max);
}

static void
free_cow_buffers (Request *r)
{
  free (r->head);
  if (r->tail != r->head)
    free (r->tail);
  r->head = r->tail = NULL;
}

/* Is guest cluster `guest` part of another request's allocation in
 * flight?  Its L2 entry is about to change: wait for it. */
static bool
allocation_in_flight (Qcow2State *s, uint64_t guest)
{
  for (guint i = 0; i < s->allocating->len; i++) {
    Request *o = g_ptr_array_index (s->allocating, i);
    if (guest >= o->guest && guest - o->guest < (o->clusters << s->img->cluster_bits))
      return true;
  }
  return false;
}

/* An allocating step ended: the writes waiting for one try again. */
static void
allocation_ended (Request *r)
{
  Qcow2State *s = r->s;
  g_ptr_array_remove_fast (s->allocating, r);
  GQueue waiters = s->alloc_waiters;
  g_queue_init (&s->alloc_waiters);
  for (Request *w; (w = g_queue_pop_head (&waiters));)
    write_step (w);
}

/* The step's new clusters were never referenced: they go back at once. */
static void
alloc_failed (Request *r, int ret)
{
  Qcow2Image *img = r->s->img;
  qcow2_refcount_update (img, r->host, r->clusters << img->cluster_bits, -1);
  free_cow_buffers (r);
  allocation_ended (r);
  meta_complete (r, ret);
}

static void
in_place_done (void *opaque, int ret)
{
  Request *r = opaque;
  Qcow2State *s = r->s;
  g_atomic_int_dec_and_test (&s->data_in_flight);
  g_mutex_lock (&s->lock);
  if (ret < 0) {
    meta_complete (r, ret);
  } else {
    r->pos += r->covered;
    write_step (r);
  }
  g_mutex_unlock (&s->lock);
}

static void
alloc_write_done (void *opaque, int ret)
{
  Request *r = opaque;
  Qcow2State *s = r->s;
  Qcow2Image *img = s->img;
  g_atomic_int_dec_and_test (&s->data_in_flight);
  g_mutex_lock (&s->lock);
  if (ret < 0) {
    alloc_failed (r, ret);
    g_mutex_unlock (&s->lock);
    return;
  }
  /* The data is written: now the L2 entries may point at it. */
  for (uint64_t i = 0; i < r->clusters && ret == 0; i++) {
    uint64_t guest = r->guest + (i << img->cluster_bits), old;
    ret = qcow2_get_entry (img, guest, &old);
    if (ret == 0)
      ret = qcow2_set_entry (img, guest,
                             (r->host + (i << img->cluster_bits)) | QCOW2_OFLAG_COPIED);
    if (ret == 0) {
      qcow2_free_l2_entry_deferred (img, old);
      if (s->cbuf_entry == old)
        s->cbuf_entry = 0;
    }
  }
  free_cow_buffers (r);
  allocation_ended (r);
  if (ret < 0) {
    meta_complete (r, ret);
  } else {
    r->pos += r->covered;
    write_step (r);
  }
  g_mutex_unlock (&s->lock);
}

/* Writes the old head, the request's data and the old tail to the new
 * clusters.  A head or tail that reads as zeroes is written from the zero
 * cluster, or not at all in fresh clusters. */
static void
alloc_write_submit (Request *r)
{
  Qcow2State *s = r->s;
  Qcow2Image *img = s->img;
  uint64_t in_cluster = qcow2_offset_into_cluster (img, r->offset + r->pos);
  uint64_t end = in_cluster + r->covered;
  uint64_t run_bytes = r->clusters << img->cluster_bits;
  uint64_t first = 0, last = run_bytes;   /* the part of the run written */
  unsigned max = r->iovcnt + 3;
  struct iovec *iov = g_new (struct iovec, max);
  unsigned n = 0;
  if (in_cluster) {
    if (r->head)
      iov[n++] = (struct iovec) { r->head, in_cluster };
    else if (!r->fresh)
      iov[n++] = (struct iovec) { s->zeroes, in_cluster };
    else
      first = in_cluster;
  }
  n += source_slice (r, r->pos, r->covered, iov + n, max - n);
  if (end < run_bytes) {
    uint64_t last_cluster = (end - 1) & ~(uint64_t) (img->cluster_size - 1);
    if (r->tail)
      iov[n++] = (struct iovec) { r->tail + (end - last_cluster), run_bytes - end };
    else if (!r->fresh)
      iov[n++] = (struct iovec) { s->zeroes, run_bytes - end };
    else
      last = end;
  }
  if (n > IOV_MAX) {
    /* Too many segments for one system call: one buffer instead. */
    uint8_t *flat = qcow2_aligned_alloc (last - first);
    if (!flat) {
      g_free (iov);
      alloc_failed (r, -ENOMEM);
      return;
    }
    uint64_t at = 0;
    for (unsigned i = 0; i < n; i++) {
      memcpy (flat + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
    free_cow_buffers (r);
    r->head = flat;
    iov[0] = (struct iovec) { flat, last - first };
    n = 1;
  }
  g_atomic_int_inc (&s->data_in_flight);
  viv_block_file_writev (&s->file, r->host + first, iov, n, alloc_write_done, r);
  g_free (iov);
}

static void
cow_read_done (void *opaque, int ret)
{
  Request *r = opaque;
  g_mutex_lock (&r->s->lock);
  if (ret < 0 && r->ret == 0)
    r->ret = ret;
  if (--r->cow_pending == 0) {
    if (r->ret < 0)
      alloc_failed (r, r->ret);
    else
      alloc_write_submit (r);
  }
  g_mutex_unlock (&r->s->lock);
}

/* Reads guest cluster `guest` as it is now (data, compressed, zeroes or
 * the backing file's) into buf. */
static bool
cow_read (Request *r, uint64_t guest, uint8_t **buf)
{
  Qcow2State *s = r->s;
  uint32_t cluster_size = s->img->cluster_size;
  *buf = qcow2_aligned_alloc (cluster_size);
  if (!*buf)
    return false;
  /* The last cluster may reach past the disk's end: that part is zero. */
  uint64_t bytes = MIN (cluster_size, s->length - guest);
  memset (*buf + bytes, 0, cluster_size - bytes);
  struct iovec iov = { *buf, bytes };
  r->cow_pending++;
  qcow2_read_submit_locked (s, guest, &iov, 1, bytes, cow_read_done, r);
  return true;
}

/* Does guest cluster `guest` (L2 entry `entry`) read as zeroes, so a
 * copy-on-write has nothing to copy? */
static bool
reads_as_zeroes (Qcow2State *s, uint64_t guest, uint64_t entry)
{
  switch (qcow2_entry_type (s->img, entry)) {
  case QCOW2_CLUSTER_ZERO:
    return true;
  case QCOW2_CLUSTER_UNALLOCATED:
    return !s->backing || guest >= s->backing_length;
  default:
    return false;
  }
}

/* Zeroes a whole cluster in the metadata, when the format can say so:
 * false when it must be written (v2 over a backing file). */
static int
zero_cluster (Qcow2State *s, uint64_t guest, uint64_t entry, bool *done)
{
  Qcow2Image *img = s->img;
  Qcow2ClusterType type = qcow2_entry_type (img, entry);
  *done = true;
  uint64_t new_entry;
  if (img->version >= 3)
    new_entry = QCOW2_OFLAG_ZERO;
  else if (!s->backing)
    new_entry = 0;
  else {
    *done = false;
    return 0;
  }
  if ((type == QCOW2_CLUSTER_UNALLOCATED && !s->backing)
      || (type == QCOW2_CLUSTER_ZERO && !(entry & QCOW2_OFFSET_MASK)))
    return 0;
  int ret = qcow2_set_entry (img, guest, new_entry);
  if (ret == 0) {
    qcow2_free_l2_entry_deferred (img, entry);
    if (s->cbuf_entry == entry)
      s->cbuf_entry = 0;
  }
  return ret;
}

/* Allocates new clusters for the write's cluster at `guest` and the
 * following ones that need them, and starts the copy-on-write reads and
 * the data write. */
static void
alloc_step (Request *r, uint64_t guest, uint64_t entry, uint64_t chunk)
{
  Qcow2State *s = r->s;
  Qcow2Image *img = s->img;
  uint64_t cs = img->cluster_size;
  uint64_t in_cluster = qcow2_offset_into_cluster (img, guest);
  uint64_t clusters = 1, covered = chunk, last_entry = entry;
  while (r->op == OP_WRITE && r->pos + covered < r->len
         && (clusters + 1) * cs <= MAX_ALLOC_BYTES) {
    uint64_t next_guest = guest - in_cluster + clusters * cs, next;
    if (qcow2_get_entry (img, next_guest, &next) < 0
        || qcow2_entry_writable (img, next_guest, next)
        || allocation_in_flight (s, next_guest))
      break;
    clusters++;
    covered += MIN (cs, r->len - r->pos - covered);
    last_entry = next;
  }
  /* Clusters from the file's end on were never written: they read as
   * zeroes, where the write need not put any. */
  uint64_t fresh_from = qcow2_round_up (img, img->file_size);
  int64_t host = qcow2_alloc_clusters (img, clusters);
  if (host < 0) {
    meta_complete (r, (int) host);
    return;
  }
  r->guest = guest - in_cluster;
  r->host = (uint64_t) host;
  r->clusters = clusters;
  r->covered = covered;
  r->fresh = (uint64_t) host >= fresh_from;
  r->ret = 0;
  g_ptr_array_add (s->allocating, r);
  uint64_t end = in_cluster + covered;
  uint64_t last = r->guest + ((end - 1) & ~(cs - 1));
  r->head_zero = in_cluster && reads_as_zeroes (s, r->guest, entry);
  r->tail_zero = end < clusters * cs && reads_as_zeroes (s, last, last_entry);
  r->cow_pending = 1;
  bool ok = true;
  if (in_cluster && !r->head_zero)
    ok = cow_read (r, r->guest, &r->head);
  if (ok && end < clusters * cs && !r->tail_zero) {
    if (r->head && last == r->guest)
      r->tail = r->head;
    else
      ok = cow_read (r, last, &r->tail);
  }
  if (!ok && r->ret == 0)
    r->ret = -ENOMEM;
  if (--r->cow_pending == 0) {
    if (r->ret < 0)
      alloc_failed (r, r->ret);
    else
      alloc_write_submit (r);
  }
}

/* One step of a write (or of zeroing): in place, or allocating; returns
 * once I/O is in flight, whose completion calls it again, or once the
 * write waits for another's allocation of a cluster it needs. */
static void
write_step (Request *r)
{
  Qcow2State *s = r->s;
  Qcow2Image *img = s->img;
  uint64_t cs = img->cluster_size;
  while (r->pos < r->len) {
    uint64_t guest = r->offset + r->pos, entry;
    int ret = qcow2_get_entry (img, guest, &entry);
    if (ret < 0) {
      meta_complete (r, ret);
      return;
    }
    uint64_t in_cluster = qcow2_offset_into_cluster (img, guest);
    uint64_t chunk = MIN (cs - in_cluster, r->len - r->pos);
    bool whole = in_cluster == 0 && (chunk == cs || guest + chunk >= s->length);

    if (r->op == OP_ZEROES && whole) {
      bool done;
      ret = zero_cluster (s, guest, entry, &done);
      if (ret < 0) {
        meta_complete (r, ret);
        return;
      }
      if (done) {
        r->pos += chunk;
        continue;
      }
    }

    if (qcow2_entry_writable (img, guest, entry)) {
      uint64_t host = (entry & QCOW2_OFFSET_MASK) + in_cluster;
      while (r->op == OP_WRITE && r->pos + chunk < r->len && chunk < MAX_ALLOC_BYTES) {
        uint64_t next;
        if (qcow2_get_entry (img, guest + chunk, &next) < 0
            || !qcow2_entry_writable (img, guest + chunk, next)
            || (next & QCOW2_OFFSET_MASK) != host + chunk)
          break;
        chunk += MIN (cs, r->len - r->pos - chunk);
      }
      r->covered = chunk;
      struct iovec *iov = g_new (struct iovec, r->iovcnt + 1);
      unsigned n = source_slice (r, r->pos, chunk, iov, r->iovcnt + 1);
      g_atomic_int_inc (&s->data_in_flight);
      viv_block_file_writev (&s->file, host, iov, n, in_place_done, r);
      g_free (iov);
      return;
    }

    if (allocation_in_flight (s, guest - in_cluster)) {
      g_queue_push_tail (&s->alloc_waiters, r);
      return;
    }
    alloc_step (r, guest, entry, chunk);
    return;
  }
  meta_complete (r, 0);
}

/* Whole clusters become unallocated (zero clusters over a backing file in
 * v3, so the backing data does not show through); parts are ignored. */
static void
discard_run (Request *r)
{
  Qcow2State *s = r->s;
  Qcow2Image *img = s->img;
  uint64_t cs = img->cluster_size;
  int ret = 0;
  for (uint64_t pos = 0; pos < r->len && ret == 0;) {
    uint64_t guest = r->offset + pos, entry;
    uint64_t in_cluster = qcow2_offset_into_cluster (img, guest);
    uint64_t chunk = MIN (cs - in_cluster, r->len - pos);
    pos += chunk;
    if (in_cluster || (chunk < cs && guest + chunk < s->length))
      continue;
    ret = qcow2_get_entry (img, guest, &entry);
    if (ret < 0)
      break;
    uint64_t new_entry = s->backing && img->version >= 3 ? QCOW2_OFLAG_ZERO : 0;
    Qcow2ClusterType type = qcow2_entry_type (img, entry);
    if ((type == QCOW2_CLUSTER_UNALLOCATED && !new_entry) || entry == new_entry)
      continue;
    ret = qcow2_set_entry (img, guest, new_entry);
    if (ret == 0) {
      qcow2_free_l2_entry_deferred (img, entry);
      if (s->cbuf_entry == entry)
        s->cbuf_entry = 0;
    }
  }
  meta_complete (r, ret);
}

/* ---- compressed writes ---------------------------------------------------- */

/* May one more compressed cluster share the host cluster at `offset`? */
static bool
can_share (Qcow2Image *img, uint64_t offset)
{
  uint64_t refcount;
  return qcow2_refcount_get (img, offset >> img->cluster_bits, &refcount) == 0
         && refcount > 0 && refcount < img->refcount_max;
}

/* `len` (< one cluster) bytes for compressed data: packed after the
 * previous compressed cluster, spilling into the next host cluster when
 * that is the one allocated.  Every host cluster the bytes touch gains a
 * reference. */
static int64_t
alloc_compressed_bytes (Qcow2State *s, size_t len)
{
  Qcow2Image *img = s->img;
  uint64_t at = s->compressed_end;
  uint64_t room = at ? qcow2_round_up (img, at) - at : 0;
  if (room && !can_share (img, at))
    room = 0;
  if (len <= room) {
    int ret = qcow2_refcount_update (img, at, len, 1);
    if (ret < 0)
      return ret;
    s->compressed_end = at + len;
    return (int64_t) at;
  }
  int64_t host = qcow2_alloc_clusters (img, 1);
  if (host < 0)
    return host;
  if (room && (uint64_t) host == at + room) {
    int ret = qcow2_refcount_update (img, at, room, 1);
    if (ret < 0) {
      qcow2_refcount_update (img, (uint64_t) host, img->cluster_size, -1);
      return ret;
    }
    s->compressed_end = at + len;
    return (int64_t) at;
  }
  s->compressed_end = (uint64_t) host + len;
  return host;
}

/* Writes one guest cluster, not allocated yet, compressed (as qemu-img
 * convert -c does): the data first, then the L2 entry that describes it. */
static void
compressed_write (Request *r)
{
  Qcow2State *s = r->s;
  Qcow2Image *img = s->img;
  uint64_t entry;
  int ret = qcow2_get_entry (img, r->offset, &entry);
  if (ret == 0 && entry != 0)
    ret = -EEXIST;
  if (ret < 0 || !r->cdata) {
    if (ret == 0) {
      /* Not smaller compressed: an ordinary allocating write. */
      r->op = OP_WRITE;
      write_step (r);
    } else {
      meta_complete (r, ret);
    }
    return;
  }
  int64_t host = alloc_compressed_bytes (s, r->clen);
  if (host < 0) {
    meta_complete (r, (int) host);
    return;
  }
  /* Compressed data sits at byte offsets: written through the buffered
   * descriptor, where it is also read. */
  ret = qcow2_pwrite (img, (uint64_t) host, r->cdata, r->clen);
  if (ret == 0) {
    uint64_t sectors = (((uint64_t) host + r->clen - 1) >> 9) - ((uint64_t) host >> 9);
    ret = qcow2_set_entry (img, r->offset, QCOW2_OFLAG_COMPRESSED
                           | (sectors << img->csize_shift) | (uint64_t) host);
  }
  if (ret < 0) {
    /* Never referenced: the bytes go back at once. */
    qcow2_refcount_update (img, (uint64_t) host, r->clen, -1);
    s->compressed_end = 0;
  }
  meta_complete (r, ret);
}

int
viv_qcow2_write_compressed (VivBlock *blk, uint64_t offset, const void *buf, size_t len,
                            VivBlockCallback cb, void *opaque)
{
  Qcow2State *s = viv_block_driver_state (blk, &viv_block_driver_qcow2);
  if (!s)
    return -EINVAL;
  if (viv_block_is_read_only (blk))
    return -EROFS;
  Qcow2Image *img = s->img;
  /* One whole cluster, or the disk's last (partial) one. */
  if (qcow2_offset_into_cluster (img, offset) || offset >= s->length
      || len != MIN ((uint64_t) img->cluster_size, s->length - offset))
    return -EINVAL;
  struct iovec iov = { (void *) buf, len };
  Request *r = qcow2_request_new (s, OP_COMPRESSED, offset, len, &iov, 1, cb, opaque);
  /* Compressed outside the lock; the last cluster is padded with zeroes,
   * as it reads back. */
  const uint8_t *cluster = buf;
  uint8_t *padded = NULL;
  if (len < img->cluster_size) {
    padded = g_malloc0 (img->cluster_size);
    memcpy (padded, buf, len);
    cluster = padded;
  }
  r->cdata = g_malloc (img->cluster_size);
  ssize_t clen = qcow2_compress (img, cluster, r->cdata, img->cluster_size - 1);
  g_free (padded);
  if (clen < 0) {
    /* Not smaller: written as it is. */
    g_clear_pointer (&r->cdata, g_free);
  } else {
    r->clen = (size_t) clen;
  }
  g_mutex_lock (&s->lock);
  meta_enqueue (s, r);
  g_mutex_unlock (&s->lock);
  return 0;
}

static void
meta_start (Request *r)
{
  switch (r->op) {
  case OP_COMPRESSED:
    compressed_write (r);
    break;
  case OP_WRITE:
  case OP_ZEROES:
    write_step (r);
    break;
  case OP_DISCARD:
    discard_run (r);
    break;
  case OP_FLUSH:
    viv_block_file_flush (&r->s->file, flush_synced, r);
    break;
  case OP_READ:
    g_assert_not_reached ();
  }
}

/* All clusters of the range writable in place: written at once, in
 * parallel with anything else. */
static bool
write_in_place (Qcow2State *s, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                uint64_t len, VivBlockCallback cb, void *opaque)
{
  Qcow2Image *img = s->img;
  for (uint64_t pos = 0; pos < len;) {
    uint64_t guest = offset + pos, entry;
    if (qcow2_get_entry (img, guest, &entry) < 0 || !qcow2_entry_writable (img, guest, entry))
      return false;
    pos += MIN (img->cluster_size - qcow2_offset_into_cluster (img, guest), len - pos);
  }
  Request *r = qcow2_request_new (s, OP_WRITE, offset, len, iov, iovcnt, cb, opaque);
  r->pending = 1;
  for (uint64_t pos = 0; pos < len;) {
    uint64_t guest = offset + pos, entry;
    qcow2_get_entry (img, guest, &entry);
    uint64_t in_cluster = qcow2_offset_into_cluster (img, guest);
    uint64_t host = (entry & QCOW2_OFFSET_MASK) + in_cluster;
    uint64_t chunk = MIN (img->cluster_size - in_cluster, len - pos);
    for (uint64_t next; pos + chunk < len; chunk += MIN (img->cluster_size, len - pos - chunk))
      if (qcow2_get_entry (img, guest + chunk, &next) < 0
          || (next & QCOW2_OFFSET_MASK) != host + chunk)
        break;
    qcow2_submit_part (r, PART_DATA_WRITE, host, pos, chunk);
    pos += chunk;
  }
  if (g_atomic_int_dec_and_test (&r->pending)) {
    viv_aio_complete_later (s->aio, r->ret, cb, opaque);
    qcow2_request_free (r);
  }
  return true;
}

void
qcow2_writev (void *state, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
              VivBlockCallback cb, void *opaque)
{
  Qcow2State *s = state;
  uint64_t len = 0;
  for (unsigned i = 0; i < iovcnt; i++)
    len += iov[i].iov_len;
  g_mutex_lock (&s->lock);
  if (!write_in_place (s, offset, iov, iovcnt, len, cb, opaque))
    meta_enqueue (s, qcow2_request_new (s, OP_WRITE, offset, len, iov, iovcnt, cb, opaque));
  g_mutex_unlock (&s->lock);
}

void
qcow2_flush (void *state, VivBlockCallback cb, void *opaque)
{
  Qcow2State *s = state;
  g_mutex_lock (&s->lock);
  meta_enqueue (s, qcow2_request_new (s, OP_FLUSH, 0, 0, NULL, 0, cb, opaque));
  g_mutex_unlock (&s->lock);
}

void
qcow2_discard (void *state, uint64_t offset, uint64_t len, VivBlockCallback cb, void *opaque)
{
  Qcow2State *s = state;
  g_mutex_lock (&s->lock);
  meta_enqueue (s, qcow2_request_new (s, OP_DISCARD, offset, len, NULL, 0, cb, opaque));
  g_mutex_unlock (&s->lock);
}

void
qcow2_write_zeroes (void *state, uint64_t offset, uint64_t len, unsigned flags,
                    VivBlockCallback cb, void *opaque)
{
  Qcow2State *s = state;
  g_mutex_lock (&s->lock);
  meta_enqueue (s, qcow2_request_new (s, OP_ZEROES, offset, len, NULL, 0, cb, opaque));
  g_mutex_unlock (&s->lock);
}

