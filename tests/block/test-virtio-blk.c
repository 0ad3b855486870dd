/* virtio-blk on a raw image, driven through the real virtio-mmio transport
 * by the device-test driver (tests/virtio-devices/driver.c): rings in guest
 * memory, register accesses, requests checked in the image file. */
#include "devices/virtio_blk.h"
#include "../virtio-devices/driver.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define F_SIZE_MAX 1
#define F_SEG_MAX 2
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_TOPOLOGY 10
#define F_MQ 12
#define F_DISCARD 13
#define F_WRITE_ZEROES 14
#define BIT(n) (1ull << (n))
#define ALL_FEATURES (BIT (F_SIZE_MAX) | BIT (F_SEG_MAX) | BIT (F_RO) | BIT (F_BLK_SIZE) \
                      | BIT (F_FLUSH) | BIT (F_TOPOLOGY) | BIT (F_MQ) | BIT (F_DISCARD)  \
                      | BIT (F_WRITE_ZEROES) | BIT (VIRTIO_F_RING_EVENT_IDX)             \
                      | BIT (VIRTIO_F_RING_INDIRECT_DESC))
#define IMAGE_SIZE (4u << 20)
#define TIMEOUT_MS 5000

typedef struct {
  Driver        d;
  char         *dir;
  char         *path;
  VivVirtioBlk *blk;
} Fixture;

typedef struct {
  bool read_only;
  VivBlockCache cache;
  unsigned n_queues;
  uint64_t image_size;    /* 0: IMAGE_SIZE */
} Setup;

static const Setup rw = { false, VIV_BLOCK_CACHE_WRITEBACK, 1, 0 };
static const Setup rw_direct = { false, VIV_BLOCK_CACHE_NONE, 1, 0 };
static const Setup ro = { true, VIV_BLOCK_CACHE_WRITEBACK, 1, 0 };
static const Setup mq = { false, VIV_BLOCK_CACHE_WRITEBACK, 2, 0 };
static const Setup big = { false, VIV_BLOCK_CACHE_WRITEBACK, 1, 1ull << 30 };

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const Setup *setup = data;
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("viv-vblk-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "disk.img", NULL);
  int fd = open (f->path, O_CREAT | O_RDWR, 0644);
  g_assert_cmpint (ftruncate (fd, setup->image_size ? (off_t) setup->image_size : IMAGE_SIZE), ==, 0);
  close (fd);

  driver_init (&f->d, 64 << 20);
  VivBlockOptions options = {
    .path = f->path, .read_only = setup->read_only, .cache = setup->cache,
    .context = viv_virtio_device_context (f->d.vdev),
  };
  VivBlock *image = viv_block_open (&options, &error);
  g_assert_no_error (error);
  f->blk = viv_virtio_blk_new (f->d.vdev, image, "vivarium-disk-0", setup->n_queues, &error);
  g_assert_no_error (error);
  g_assert_true (viv_virtio_blk_image (f->blk) == image);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  driver_clear (&f->d);          /* frees the device, which closes the image */
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* A request in guest memory: header, data segments, status byte. */
typedef struct {
  uint64_t header, status;
  uint16_t head;
} Request;

static Request
add_request (Fixture *f, unsigned q, uint32_t type, uint64_t sector,
             const DriverSeg *data, unsigned n_data)
{
  Driver *d = &f->d;
  Request r = { .header = driver_alloc (d, 16), .status = driver_alloc (d, 1) };
  uint8_t header[16] = { 0 };
  uint32_t type_le = GUINT32_TO_LE (type);
  uint64_t sector_le = GUINT64_TO_LE (sector);
  memcpy (header, &type_le, 4);
  memcpy (header + 8, &sector_le, 8);
  memcpy (driver_ptr (d, r.header, 16), header, 16);
  *(uint8_t *) driver_ptr (d, r.status, 1) = 0xff;

  DriverSeg segs[16];
  unsigned n = 0;
  segs[n++] = (DriverSeg) { r.header, 16, false };
  for (unsigned i = 0; i < n_data; i++)
    segs[n++] = data[i];
  segs[n++] = (DriverSeg) { r.status, 1, true };
  r.head = driver_add (d, q, segs, n);
  return r;
}

static uint8_t
wait_request (Fixture *f, unsigned q, const Request *r, uint32_t *written)
{
  uint16_t head;
  uint32_t len;
  g_assert_true (driver_get_used (&f->d, q, &head, &len, TIMEOUT_MS));
  g_assert_cmpuint (head, ==, r->head);
  if (written)
    *written = len;
  return *(uint8_t *) driver_ptr (&f->d, r->status, 1);
}

static uint8_t
run_request (Fixture *f, unsigned q, uint32_t type, uint64_t sector,
             const DriverSeg *data, unsigned n_data, uint32_t *written)
{
  Request r = add_request (f, q, type, sector, data, n_data);
  driver_kick (&f->d, q);
  return wait_request (f, q, &r, written);
}

static void
read_image (Fixture *f, uint64_t offset, void *buf, size_t len)
{
  int fd = open (f->path, O_RDONLY);
  g_assert_cmpint (pread (fd, buf, len, (off_t) offset), ==, (ssize_t) len);
  close (fd);
}

static void
test_config (Fixture *f, gconstpointer data)
{
  const Setup *setup = data;
  Driver *d = &f->d;
  g_assert_cmpuint (driver_read32 (d, MMIO_DEVICE_ID), ==, VIRTIO_ID_BLOCK);
  uint64_t offered = 0;
  for (uint32_t sel = 0; sel < 2; sel++) {
    driver_write32 (d, MMIO_DEVICE_FEATURES_SEL, sel);
    offered |= (uint64_t) driver_read32 (d, MMIO_DEVICE_FEATURES) << (32 * sel);
  }
  uint64_t always = BIT (F_SEG_MAX) | BIT (F_BLK_SIZE) | BIT (F_FLUSH) | BIT (F_TOPOLOGY);
  g_assert_cmphex (offered & always, ==, always);
  g_assert_cmpint (!!(offered & BIT (F_RO)), ==, setup->read_only);
  g_assert_cmpint (!!(offered & BIT (F_DISCARD)), ==, !setup->read_only);
  g_assert_cmpint (!!(offered & BIT (F_WRITE_ZEROES)), ==, !setup->read_only);
  g_assert_cmpint (!!(offered & BIT (F_MQ)), ==, setup->n_queues > 1);

  uint64_t capacity = driver_config32 (d, 0) | (uint64_t) driver_config32 (d, 4) << 32;
  g_assert_cmpuint (capacity, ==, IMAGE_SIZE / 512);
  g_assert_cmpuint (driver_config32 (d, 12), ==, 254);              /* seg_max */
  uint32_t blk_size = driver_config32 (d, 20);
  g_assert_cmpuint (blk_size, ==, setup->cache == VIV_BLOCK_CACHE_NONE
                    ? viv_block_alignment (viv_virtio_blk_image (f->blk)) : 512);
  g_assert_cmpuint (driver_config16 (d, 34), ==, setup->n_queues);   /* num_queues */
  g_assert_cmpuint (driver_config32 (d, 40), >=, 1);                 /* max_discard_seg */
  g_assert_cmpuint (driver_config32 (d, 36), >=, 8);                 /* max_discard_sectors */
  g_assert_cmpuint (driver_config32 (d, 44), >=, 1);                 /* discard alignment */
  g_assert_cmpuint (driver_config32 (d, 48), >=, 8);                 /* max_write_zeroes_sectors */
  g_assert_cmpuint (driver_config32 (d, 52), >=, 1);                 /* max_write_zeroes_seg */
  g_assert_cmpuint (driver_config8 (d, 56), ==, 1);                  /* may unmap */
  /* Beyond the config space: reads as zero, does not crash. */
  g_assert_cmpuint (driver_config32 (d, 60), ==, 0);
}

/* Writes with data split over odd segments, then reads it back, and the
 * image file holds it. */
static void
test_read_write (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  const uint32_t len = 8192;
  uint64_t buf = driver_alloc (d, len);
  uint8_t *host = driver_ptr (d, buf, len);
  for (uint32_t i = 0; i < len; i++)
    host[i] = (uint8_t) (i * 13 + 1);
  DriverSeg out[] = {
    { buf, 1, false }, { buf + 1, 4095, false }, { buf + 4096, 100, false },
    { buf + 4196, len - 4196, false },
  };
  uint32_t written;
  g_assert_cmpuint (run_request (f, 0, T_OUT, 24, out, G_N_ELEMENTS (out), &written), ==, S_OK);
  g_assert_cmpuint (written, ==, 1);

  uint8_t file[8192];
  read_image (f, 24 * 512, file, len);
  g_assert_cmpmem (file, len, host, len);

  uint64_t back = driver_alloc (d, len);
  memset (driver_ptr (d, back, len), 0, len);
  DriverSeg in[] = { { back, 512, true }, { back + 512, 3, true }, { back + 515, len - 515, true } };
  g_assert_cmpuint (run_request (f, 0, T_IN, 24, in, G_N_ELEMENTS (in), &written), ==, S_OK);
  g_assert_cmpuint (written, ==, len + 1);
  g_assert_cmpmem (driver_ptr (d, back, len), len, host, len);

  g_assert_cmpuint (run_request (f, 0, T_FLUSH, 0, NULL, 0, NULL), ==, S_OK);

  /* The last block is in range. */
  uint32_t block = viv_block_alignment (viv_virtio_blk_image (f->blk));
  DriverSeg last[] = { { back, block, true } };
  g_assert_cmpuint (run_request (f, 0, T_IN, (IMAGE_SIZE - block) / 512, last, 1, NULL), ==, S_OK);

  VivVirtioBlkStats stats;
  viv_virtio_blk_get_stats (f->blk, &stats);
  g_assert_cmpuint (stats.write_ops, ==, 1);
  g_assert_cmpuint (stats.write_bytes, ==, len);
  g_assert_cmpuint (stats.read_ops, ==, 2);
  g_assert_cmpuint (stats.read_bytes, ==, len + block);
  g_assert_cmpuint (stats.flush_ops, ==, 1);
  g_assert_cmpuint (stats.errors, ==, 0);
  g_assert_cmpuint (stats.read_ns, >, 0);
  g_assert_cmpuint (stats.write_ns, >, 0);
  g_assert_cmpuint (driver_irq_raises (d), >, 0);
}

static void
test_get_id (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  uint64_t id = driver_alloc (d, 20);
  memset (driver_ptr (d, id, 20), 0xaa, 20);
  DriverSeg in[] = { { id, 20, true } };
  uint32_t written;
  g_assert_cmpuint (run_request (f, 0, T_GET_ID, 0, in, 1, &written), ==, S_OK);
  g_assert_cmpuint (written, ==, 21);
  static const char expect[20] = "vivarium-disk-0";   /* zero-padded */
  g_assert_cmpmem (driver_ptr (d, id, 20), 20, expect, 20);
}

static void
test_bad_requests (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  uint64_t buf = driver_alloc (d, 1024);
  DriverSeg one[] = { { buf, 512, true } };
  DriverSeg two[] = { { buf, 1024, true } };
  DriverSeg odd[] = { { buf, 100, true } };
  DriverSeg out_one[] = { { buf, 512, false } };
  uint64_t sectors = IMAGE_SIZE / 512;

  g_assert_cmpuint (run_request (f, 0, T_IN, sectors, one, 1, NULL), ==, S_IOERR);
  g_assert_cmpuint (run_request (f, 0, T_IN, sectors - 1, two, 1, NULL), ==, S_IOERR);
  g_assert_cmpuint (run_request (f, 0, T_OUT, sectors, out_one, 1, NULL), ==, S_IOERR);
  g_assert_cmpuint (run_request (f, 0, T_IN, UINT64_MAX / 256, one, 1, NULL), ==, S_IOERR);
  g_assert_cmpuint (run_request (f, 0, T_IN, UINT64_MAX, one, 1, NULL), ==, S_IOERR);
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, odd, 1, NULL), ==, S_IOERR);
  g_assert_cmpuint (run_request (f, 0, 99, 0, one, 1, NULL), ==, S_UNSUPP);
  g_assert_cmpuint (run_request (f, 0, 10 /* GET_LIFETIME */, 0, one, 1, NULL), ==, S_UNSUPP);

  /* Discard with the unmap flag, and unknown flags: unsupported; beyond
   * the end: an I/O error. */
  uint64_t range = driver_alloc (d, 16);
  uint8_t *r = driver_ptr (d, range, 16);
  DriverSeg ranges[] = { { range, 16, false } };
  uint64_t sector = GUINT64_TO_LE (8);
  uint32_t count = GUINT32_TO_LE (8), flags = GUINT32_TO_LE (1);
  memcpy (r, &sector, 8);
  memcpy (r + 8, &count, 4);
  memcpy (r + 12, &flags, 4);
  g_assert_cmpuint (run_request (f, 0, T_DISCARD, 0, ranges, 1, NULL), ==, S_UNSUPP);
  flags = GUINT32_TO_LE (6);
  memcpy (r + 12, &flags, 4);
  g_assert_cmpuint (run_request (f, 0, T_WRITE_ZEROES, 0, ranges, 1, NULL), ==, S_UNSUPP);
  flags = 0;
  sector = GUINT64_TO_LE (sectors - 4);
  memcpy (r, &sector, 8);
  memcpy (r + 12, &flags, 4);
  g_assert_cmpuint (run_request (f, 0, T_WRITE_ZEROES, 0, ranges, 1, NULL), ==, S_IOERR);
  DriverSeg short_range[] = { { range, 12, false } };
  g_assert_cmpuint (run_request (f, 0, T_DISCARD, 0, short_range, 1, NULL), ==, S_IOERR);

  VivVirtioBlkStats stats;
  viv_virtio_blk_get_stats (f->blk, &stats);
  g_assert_cmpuint (stats.errors, ==, 12);

  /* The device still works. */
  g_assert_false (driver_needs_reset (d));
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, one, 1, NULL), ==, S_OK);
}

static void
test_read_only (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  g_assert_true (d->features & BIT (F_RO));
  uint64_t buf = driver_alloc (d, 512);
  memset (driver_ptr (d, buf, 512), 0x77, 512);
  DriverSeg out[] = { { buf, 512, false } };
  DriverSeg in[] = { { buf, 512, true } };
  g_assert_cmpuint (run_request (f, 0, T_OUT, 0, out, 1, NULL), ==, S_IOERR);
  uint8_t file[512];
  read_image (f, 0, file, 512);
  g_assert_cmpuint (file[0], ==, 0);
  /* Not negotiated (not offered on a read-only disk). */
  g_assert_cmpuint (run_request (f, 0, T_DISCARD, 0, out, 1, NULL), ==, S_UNSUPP);
  g_assert_cmpuint (run_request (f, 0, T_FLUSH, 0, NULL, 0, NULL), ==, S_OK);
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, in, 1, NULL), ==, S_OK);
  g_assert_cmpuint (*(uint8_t *) driver_ptr (d, buf, 1), ==, 0);
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  /* A header of 8 bytes. */
  uint64_t header = driver_alloc (d, 16), status = driver_alloc (d, 1);
  DriverSeg short_header[] = { { header, 8, false }, { status, 1, true } };
  driver_add (d, 0, short_header, 2);
  driver_kick (d, 0);
  g_assert_true (driver_wait_needs_reset (d, TIMEOUT_MS));

  /* After a reset the device works again; then no writable status byte. */
  driver_start (d, ALL_FEATURES, 1);
  g_assert_false (driver_needs_reset (d));
  uint64_t buf = driver_alloc (d, 512);
  DriverSeg in[] = { { buf, 512, true } };
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, in, 1, NULL), ==, S_OK);
  memset (driver_ptr (d, header, 16), 0, 16);
  DriverSeg no_status[] = { { header, 16, false }, { buf, 512, false } };
  driver_add (d, 0, no_status, 2);
  driver_kick (d, 0);
  g_assert_true (driver_wait_needs_reset (d, TIMEOUT_MS));
}

static void
put_range (Fixture *f, uint64_t gpa, uint64_t sector, uint32_t count, uint32_t flags)
{
  uint8_t *r = driver_ptr (&f->d, gpa, 16);
  sector = GUINT64_TO_LE (sector);
  count = GUINT32_TO_LE (count);
  flags = GUINT32_TO_LE (flags);
  memcpy (r, &sector, 8);
  memcpy (r + 8, &count, 4);
  memcpy (r + 12, &flags, 4);
}

static bool
all_zero (const uint8_t *p, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (p[i])
      return false;
  return true;
}

static void
test_discard_zeroes (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  const uint32_t len = 1 << 20;
  uint64_t buf = driver_alloc (d, len);
  memset (driver_ptr (d, buf, len), 0x5c, len);
  DriverSeg out[] = { { buf, len, false } };
  g_assert_cmpuint (run_request (f, 0, T_OUT, 0, out, 1, NULL), ==, S_OK);
  g_assert_cmpuint (run_request (f, 0, T_FLUSH, 0, NULL, 0, NULL), ==, S_OK);

  /* Two discard ranges in one request. */
  uint64_t ranges = driver_alloc (d, 32);
  put_range (f, ranges, 0, 128, 0);
  put_range (f, ranges + 16, 1024, 256, 0);
  DriverSeg two[] = { { ranges, 32, false } };
  g_assert_cmpuint (run_request (f, 0, T_DISCARD, 0, two, 1, NULL), ==, S_OK);
  uint8_t *file = g_malloc (len);
  read_image (f, 0, file, len);
  g_assert_true (all_zero (file, 128 * 512));
  g_assert_cmpuint (file[128 * 512], ==, 0x5c);
  g_assert_true (all_zero (file + 1024 * 512, 256 * 512));
  g_assert_cmpuint (file[1280 * 512], ==, 0x5c);
  int fd = open (f->path, O_RDONLY);
  g_assert_cmpint (lseek (fd, 0, SEEK_HOLE), ==, 0);
  close (fd);

  /* Write zeroes, with and without unmap. */
  put_range (f, ranges, 300, 8, 0);
  put_range (f, ranges + 16, 400, 16, 1);
  g_assert_cmpuint (run_request (f, 0, T_WRITE_ZEROES, 0, two, 1, NULL), ==, S_OK);
  read_image (f, 0, file, len);
  g_assert_cmpuint (file[300 * 512 - 1], ==, 0x5c);
  g_assert_true (all_zero (file + 300 * 512, 8 * 512));
  g_assert_cmpuint (file[308 * 512], ==, 0x5c);
  g_assert_true (all_zero (file + 400 * 512, 16 * 512));
  g_assert_cmpuint (file[416 * 512], ==, 0x5c);
  g_free (file);

  VivVirtioBlkStats stats;
  viv_virtio_blk_get_stats (f->blk, &stats);
  g_assert_cmpuint (stats.discard_ops, ==, 1);
  g_assert_cmpuint (stats.write_zeroes_ops, ==, 1);
}

/* Several requests in flight at once, and a queue other than 0 (MQ). */
static void
test_many_in_flight (Fixture *f, gconstpointer data)
{
  const Setup *setup = data;
  Driver *d = &f->d;
  unsigned q = setup->n_queues - 1;
  driver_start (d, ALL_FEATURES, setup->n_queues);
  g_assert_cmpint (!!(d->features & BIT (F_MQ)), ==, setup->n_queues > 1);
  enum { N = 5 };
  Request reqs[N];
  uint64_t bufs[N];
  for (unsigned i = 0; i < N; i++) {
    bufs[i] = driver_alloc (d, 4096);
    memset (driver_ptr (d, bufs[i], 4096), (int) (0x10 + i), 4096);
    DriverSeg out[] = { { bufs[i], 4096, false } };
    reqs[i] = add_request (f, q, T_OUT, i * 8, out, 1);
  }
  driver_kick (d, q);
  bool seen[N] = { false };
  for (unsigned i = 0; i < N; i++) {
    uint16_t head;
    g_assert_true (driver_get_used (d, q, &head, NULL, TIMEOUT_MS));
    unsigned j;
    for (j = 0; j < N && reqs[j].head != head; j++)
      ;
    g_assert_cmpuint (j, <, N);
    g_assert_false (seen[j]);
    seen[j] = true;
    g_assert_cmpuint (*(uint8_t *) driver_ptr (d, reqs[j].status, 1), ==, S_OK);
  }
  for (unsigned i = 0; i < N; i++) {
    uint8_t file[4096];
    read_image (f, i * 4096, file, 4096);
    g_assert_cmpuint (file[0], ==, 0x10 + i);
    g_assert_cmpuint (file[4095], ==, 0x10 + i);
  }
}

/* A reset while requests are in flight: their I/O is waited for, nothing
 * is returned to the reset queue, and the device works afterwards. */
static void
test_reset_in_flight (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  enum { N = 5 };
  const uint32_t len = 256 * 1024;
  uint64_t bufs[N];
  for (unsigned i = 0; i < N; i++) {
    bufs[i] = driver_alloc (d, len);
    memset (driver_ptr (d, bufs[i], len), 0x33, len);
    DriverSeg out[] = { { bufs[i], len, false } };
    add_request (f, 0, T_OUT, i * (len / 512), out, 1);
  }
  driver_kick (d, 0);
  /* One iteration runs the notification (the requests start) but not
   * their completions. */
  g_main_context_iteration (d->context, FALSE);
  driver_write32 (d, MMIO_STATUS, 0);
  /* The reset returned once the writes were done, and answered none. */
  uint8_t file[1];
  read_image (f, (N - 1) * (uint64_t) len + len - 1, file, 1);
  g_assert_cmpuint (file[0], ==, 0x33);
  VivVirtioBlkStats stats;
  viv_virtio_blk_get_stats (f->blk, &stats);
  g_assert_cmpuint (stats.write_ops, ==, 0);
  uint16_t used_idx;
  g_assert_true (viv_guest_memory_read (&d->mem, d->queues[0].used + 2, &used_idx, 2));
  g_assert_cmpuint (used_idx, ==, 0);
  /* Late completions, if any, find a reset device. */
  driver_run_for (d, 50);
  g_assert_true (viv_guest_memory_read (&d->mem, d->queues[0].used + 2, &used_idx, 2));
  g_assert_cmpuint (used_idx, ==, 0);

  driver_start (d, ALL_FEATURES, 1);
  DriverSeg in[] = { { bufs[0], 512, true } };
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, in, 1, NULL), ==, S_OK);
}

/* Teardown with requests in flight: the image's I/O completes before the
 * device is freed (ASan would see a use after free otherwise). */
static void
test_free_in_flight (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  for (unsigned i = 0; i < 5; i++) {
    uint64_t buf = driver_alloc (d, 65536);
    DriverSeg in[] = { { buf, 65536, true } };
    add_request (f, 0, T_IN, i * 128, in, 1);
  }
  driver_kick (d, 0);
  g_main_context_iteration (d->context, FALSE);
}

/* Overlapping segments can describe more than guest RAM: a transfer
 * longer than seg_max × size_max is refused, not attempted. */
static void
test_huge_transfer (Fixture *f, gconstpointer data)
{
  Driver *d = &f->d;
  driver_start (d, ALL_FEATURES, 1);
  const uint32_t seg = 32u << 20;
  uint64_t buf = driver_alloc (d, seg);
  DriverSeg in[9];
  for (unsigned i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = (DriverSeg) { buf, seg, true };
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, in, G_N_ELEMENTS (in), NULL), ==, S_IOERR);
  /* Within the limit, the same layout works. */
  g_assert_cmpuint (run_request (f, 0, T_IN, 0, in, 7, NULL), ==, S_OK);
}

static void
test_constructor_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("viv-vblk-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "disk.img", NULL);
  int fd = open (path, O_CREAT | O_RDWR, 0644);
  g_assert_cmpint (ftruncate (fd, 65536), ==, 0);
  close (fd);
  Driver d;
  driver_init (&d, 1 << 20);
  VivBlockOptions options = { .path = path, .context = d.context };
  GError *error = NULL;
  VivBlock *image = viv_block_open (&options, &error);
  g_assert_no_error (error);
  g_assert_null (viv_virtio_blk_new (d.vdev, image, NULL, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (viv_virtio_blk_new (d.vdev, image, "a-serial-longer-than-20", 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "20"));
  g_clear_error (&error);
  viv_block_close (image);
  driver_clear (&d);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, setup, fn) \
  g_test_add ("/virtio-blk/" name, Fixture, &setup, fixture_setup, fn, fixture_teardown)
  ADD ("config/rw", rw, test_config);
  ADD ("config/ro", ro, test_config);
  ADD ("config/mq", mq, test_config);
  ADD ("config/direct", rw_direct, test_config);
  ADD ("read-write", rw, test_read_write);
  ADD ("read-write/direct", rw_direct, test_read_write);
  ADD ("get-id", rw, test_get_id);
  ADD ("bad-requests", rw, test_bad_requests);
  ADD ("read-only", ro, test_read_only);
  ADD ("malformed", rw, test_malformed);
  ADD ("discard-write-zeroes", rw, test_discard_zeroes);
  ADD ("many-in-flight", rw, test_many_in_flight);
  ADD ("many-in-flight/mq", mq, test_many_in_flight);
  ADD ("reset-in-flight", rw, test_reset_in_flight);
  ADD ("free-in-flight", rw_direct, test_free_in_flight);
  ADD ("huge-transfer", big, test_huge_transfer);
#undef ADD
  g_test_add_func ("/virtio-blk/constructor-errors", test_constructor_errors);
  return g_test_run ();
}
