/* probe.mode=blk: a virtio-blk driver (virtio 1.2 §5.2) on the first block
 * device.  Round trip (probe.blk_op=write, the default): write a pattern to
 * probe.blk_sectors sectors from probe.blk_start, FLUSH, read them back and
 * verify; probe.blk_op=read only reads and checksums.  Also GET_ID,
 * WRITE_ZEROES and DISCARD when offered, and a throughput loop
 * (probe.blk_bench=randread4k|seqread1m|seqwrite1m).  See README.md for the
 * pattern and checksum formulas the host tests recompute. */
#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define CFG_CAPACITY  0
#define CFG_SIZE_MAX  8
#define CFG_SEG_MAX   12

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define STATUS_NOT_WRITTEN        0xff    /* our marker: the device never wrote it */

#define SECTOR 512
#define CHUNK_SECTORS 128                 /* round-trip requests of 64 KiB */
#define MAX_QD 32
#define MAX_SEGMENTS 30                   /* data descriptors in one request */
#define REQUEST_TIMEOUT_MS 30000

typedef struct __attribute__((packed)) {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
} BlkHeader;

typedef struct __attribute__((packed)) {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
} BlkRange;                               /* DISCARD / WRITE_ZEROES payload */

typedef struct {
  BlkHeader hdr;                          /* device-readable */
  volatile uint8_t status;                /* device-writable */
  uint8_t *data;
  uint32_t len;
  bool busy;
} BlkSlot;

static VirtioDev *dev;
static Virtq queue;
static uint64_t capacity;                 /* sectors */
static uint32_t segment_bytes;            /* largest data descriptor */
static uint32_t max_segments;
static uint64_t seed;
static BlkSlot *slots;                    /* MAX_QD + 1, in DMA memory */
static unsigned depth;

static bool
offered (unsigned bit)
{
  return dev->features & FEATURE (bit);
}

static uint64_t
blk_pattern (uint64_t offset)
{
  return mix64 (offset + seed * 0x9e3779b97f4a7c15ULL);
}

/* Order-independent and position-dependent: the sum over the 8-byte
 * little-endian words w at disk byte offsets o of mix64(w ^ o). */
static uint64_t
checksum_add (uint64_t sum, const uint8_t *data, uint64_t offset, uint32_t len)
{
  const uint64_t *w = (const uint64_t *) data;
  for (uint32_t i = 0; i < len / 8; i++)
    sum += mix64 (w[i] ^ (offset + 8ULL * i));
  return sum;
}

static void
submit (BlkSlot *s, uint32_t type, uint64_t sector, uint32_t len)
{
  VirtqBuf bufs[MAX_SEGMENTS + 2];
  unsigned n = 0;
  s->hdr = (BlkHeader) { .type = type, .sector = sector };
  s->status = STATUS_NOT_WRITTEN;
  s->len = len;
  s->busy = true;
  bufs[n++] = (VirtqBuf) { dma_addr (&s->hdr), sizeof s->hdr, false };
  bool device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
  for (uint32_t done = 0; done < len; done += segment_bytes)
    {
      uint32_t piece = len - done < segment_bytes ? len - done : segment_bytes;
      bufs[n++] = (VirtqBuf) { dma_addr (s->data + done), piece, device_writes };
    }
  bufs[n++] = (VirtqBuf) { dma_addr (&s->status), 1, true };
  if (!virtq_add (&queue, bufs, n, s))
    {
      probe_printf ("PROBE blk error=queue-full descriptors=%u\r\n", n);
      probe_exit (PROBE_EXIT_FAILED);
    }
}

static BlkSlot *
complete_one (void)
{
  BlkSlot *s = virtq_wait (&queue, NULL, REQUEST_TIMEOUT_MS);
  if (!s)
    {
      probe_printf ("PROBE blk error=timeout status=0x%x\r\n", virtio_status (dev));
      probe_exit (PROBE_EXIT_FAILED);
    }
  s->busy = false;
  return s;
}

/* One request at a time; returns the status byte. */
static uint8_t
request (uint32_t type, uint64_t sector, uint8_t *data, uint32_t len)
{
  BlkSlot *s = &slots[MAX_QD];
  uint8_t *own = s->data;
  s->data = data;
  submit (s, type, sector, len);
  virtq_kick (&queue);
  while (complete_one () != s)
    ;
  s->data = own;
  return s->status;
}

static BlkSlot *
free_slot (void)
{
  for (unsigned i = 0; i < depth; i++)
    if (!slots[i].busy)
      return &slots[i];
  return NULL;
}

/* ---- the round trip ---- */

typedef struct {
  uint64_t written, read, errors, checksum;
  bool verify;
} RoundTrip;

static void
fill_pattern (uint8_t *data, uint64_t offset, uint32_t len)
{
  uint64_t *w = (uint64_t *) data;
  for (uint32_t i = 0; i < len / 8; i++)
    w[i] = blk_pattern (offset + 8ULL * i);
}

static void
check_read (RoundTrip *rt, const BlkSlot *s)
{
  uint64_t offset = s->hdr.sector * SECTOR;
  if (s->status != VIRTIO_BLK_S_OK)
    {
      probe_printf ("PROBE blk error=read-status sector=%lu status=%u\r\n", s->hdr.sector, s->status);
      rt->errors += s->len / SECTOR;
      return;
    }
  rt->read += s->len / SECTOR;
  rt->checksum = checksum_add (rt->checksum, s->data, offset, s->len);
  if (!rt->verify)
    return;
  const uint64_t *w = (const uint64_t *) s->data;
  for (uint32_t sec = 0; sec < s->len / SECTOR; sec++)
    for (uint32_t i = 0; i < SECTOR / 8; i++)
      {
        uint64_t o = offset + (uint64_t) sec * SECTOR + 8ULL * i;
        uint64_t got = w[sec * (SECTOR / 8) + i];
        if (got == blk_pattern (o))
          continue;
        if (rt->errors < 4)
          probe_printf ("PROBE blk error sector=%lu offset=%u read=0x%lx want=0x%lx\r\n",
                        o / SECTOR, (unsigned) (o % SECTOR), got, blk_pattern (o));
        rt->errors++;
        break;
      }
}

/* Writes (pattern) or reads [start, start + count) in CHUNK_SECTORS
 * requests, keeping up to `depth` of them in flight. */
static void
stream (RoundTrip *rt, uint32_t type, uint64_t start, uint64_t count)
{
  uint64_t next = start, end = start + count;
  unsigned in_flight = 0;
  while (next < end || in_flight)
    {
      BlkSlot *s = next < end ? free_slot () : NULL;
      if (s)
        {
          uint32_t sectors = end - next < CHUNK_SECTORS ? (uint32_t) (end - next) : CHUNK_SECTORS;
          if (type == VIRTIO_BLK_T_OUT)
            fill_pattern (s->data, next * SECTOR, sectors * SECTOR);
          submit (s, type, next, sectors * SECTOR);
          next += sectors;
          in_flight++;
          continue;
        }
      virtq_kick (&queue);
      s = complete_one ();
      in_flight--;
      if (type == VIRTIO_BLK_T_IN)
        check_read (rt, s);
      else if (s->status == VIRTIO_BLK_S_OK)
        rt->written += s->len / SECTOR;
      else
        {
          probe_printf ("PROBE blk error=write-status sector=%lu status=%u\r\n", s->hdr.sector, s->status);
          rt->errors += s->len / SECTOR;
        }
    }
}

/* WRITE_ZEROES then DISCARD on the 16 sectors after the round trip's. */
static void
zeroes_and_discard (uint64_t start)
{
  const uint32_t n = 16;
  if (start + n > capacity)
    return;
  uint8_t *buf = slots[0].data;
  BlkRange *range = (BlkRange *) slots[1].data;
  if (offered (VIRTIO_BLK_F_WRITE_ZEROES))
    {
      fill_pattern (buf, start * SECTOR, n * SECTOR);
      uint8_t st = request (VIRTIO_BLK_T_OUT, start, buf, n * SECTOR);
      *range = (BlkRange) { .sector = start, .num_sectors = n };
      if (st == VIRTIO_BLK_S_OK)
        st = request (VIRTIO_BLK_T_WRITE_ZEROES, 0, (uint8_t *) range, sizeof *range);
      memset (buf, 0xa5, n * SECTOR);
      if (st == VIRTIO_BLK_S_OK)
        st = request (VIRTIO_BLK_T_IN, start, buf, n * SECTOR);
      bool zero = true;
      for (uint32_t i = 0; i < n * SECTOR; i++)
        zero &= buf[i] == 0;
      probe_printf ("PROBE blk write_zeroes=%s status=%u\r\n",
                    st == VIRTIO_BLK_S_OK && zero ? "ok" : "failed", st);
    }
  else
    probe_printf ("PROBE blk write_zeroes=unsupported\r\n");
  if (offered (VIRTIO_BLK_F_DISCARD))
    {
      *range = (BlkRange) { .sector = start, .num_sectors = n };
      uint8_t st = request (VIRTIO_BLK_T_DISCARD, 0, (uint8_t *) range, sizeof *range);
      probe_printf ("PROBE blk discard=%s status=%u\r\n", st == VIRTIO_BLK_S_OK ? "ok" : "failed", st);
    }
  else
    probe_printf ("PROBE blk discard=unsupported\r\n");
}

/* ---- the throughput loop ---- */

static void
bench (const char *kind)
{
  uint32_t len;
  uint32_t type = VIRTIO_BLK_T_IN;
  bool random = false;
  if (strcmp (kind, "randread4k") == 0)
    len = 4096, random = true;
  else if (strcmp (kind, "seqread1m") == 0)
    len = 1 << 20;
  else if (strcmp (kind, "seqwrite1m") == 0)
    len = 1 << 20, type = VIRTIO_BLK_T_OUT;
  else
    {
      probe_printf ("PROBE blk error=unknown-bench bench=%s (randread4k, seqread1m, seqwrite1m)\r\n", kind);
      probe_exit (PROBE_EXIT_FAILED);
    }
  uint64_t start = cmdline_u64 ("probe.blk_start", 0);
  uint64_t span = capacity > start ? (capacity - start) * SECTOR / len : 0;
  if (span == 0)
    {
      probe_printf ("PROBE blk error=disk-too-small capacity=%lu\r\n", capacity);
      probe_exit (PROBE_EXIT_FAILED);
    }
  for (unsigned i = 0; i < depth; i++)
    {
      slots[i].data = dma_alloc (len, 4096);
      if (type == VIRTIO_BLK_T_OUT)
        fill_pattern (slots[i].data, 0, len);
    }
  uint64_t max_ops = cmdline_u64 ("probe.blk_ops", 0);
  uint64_t seconds = cmdline_u64 ("probe.blk_seconds", 2);
  uint64_t rng = 0x243f6a8885a308d3ULL ^ seed;
  uint64_t position = 0, ops = 0, issued = 0, errors = 0;
  unsigned in_flight = 0;
  uint64_t t0 = rdtsc ();
  uint64_t deadline = t0 + seconds * tsc_hz ();
  for (;;)
    {
      bool more = max_ops ? issued < max_ops : !tsc_passed (deadline);
      BlkSlot *s = more ? free_slot () : NULL;
      if (s)
        {
          uint64_t block;
          if (random)
            {
              rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
              block = rng % span;
            }
          else
            block = position++ % span;
          submit (s, type, start + block * (len / SECTOR), len);
          issued++;
          in_flight++;
          continue;
        }
      if (!in_flight)
        break;
      virtq_kick (&queue);
      s = complete_one ();
      in_flight--;
      ops++;
      errors += s->status != VIRTIO_BLK_S_OK;
    }
  uint64_t cycles = rdtsc () - t0;
  probe_printf ("PROBE blk bench=%s qd=%u ops=%lu bytes=%lu errors=%lu cycles=%lu tsc_hz=%lu us=%lu\r\n",
                kind, depth, ops, ops * len, errors, cycles, tsc_hz (),
                cycles / (tsc_hz () / 1000000 ? tsc_hz () / 1000000 : 1));
  if (errors)
    probe_exit (PROBE_EXIT_FAILED);
}

static void
print_serial (void)
{
  uint8_t *id = slots[0].data;
  memset (id, 0, 21);
  uint8_t st = request (VIRTIO_BLK_T_GET_ID, 0, id, 20);
  probe_printf ("PROBE blk serial=");
  for (unsigned i = 0; i < 20 && id[i] && st == VIRTIO_BLK_S_OK; i++)
    serial_putc (id[i] > 0x20 && id[i] < 0x7f ? (char) id[i] : '?');
  probe_printf (" status=%u\r\n", st);
}

void
blk_mode (void)
{
  if (!(dev = virtio_find (VIRTIO_ID_BLOCK, "blk")))
    probe_exit (PROBE_EXIT_FAILED);
  uint64_t wanted = FEATURE (VIRTIO_BLK_F_SIZE_MAX) | FEATURE (VIRTIO_BLK_F_SEG_MAX)
                    | FEATURE (VIRTIO_BLK_F_RO) | FEATURE (VIRTIO_BLK_F_BLK_SIZE)
                    | FEATURE (VIRTIO_BLK_F_FLUSH) | FEATURE (VIRTIO_BLK_F_DISCARD)
                    | FEATURE (VIRTIO_BLK_F_WRITE_ZEROES);
  if (!virtio_begin (dev, wanted) || !virtq_init (&queue, dev, 0, VIRTQ_MAX_SIZE))
    probe_exit (PROBE_EXIT_FAILED);
  virtio_driver_ok (dev);

  seed = cmdline_u64 ("probe.blk_seed", 1);
  capacity = virtio_config64 (dev, CFG_CAPACITY);
  segment_bytes = 1u << 20;
  if (offered (VIRTIO_BLK_F_SIZE_MAX) && virtio_config32 (dev, CFG_SIZE_MAX) >= 4096)
    segment_bytes = virtio_config32 (dev, CFG_SIZE_MAX) & ~4095u;
  max_segments = MAX_SEGMENTS;
  if (offered (VIRTIO_BLK_F_SEG_MAX) && virtio_config32 (dev, CFG_SEG_MAX) < max_segments)
    max_segments = virtio_config32 (dev, CFG_SEG_MAX) ? virtio_config32 (dev, CFG_SEG_MAX) : 1;
  bool readonly = offered (VIRTIO_BLK_F_RO);
  probe_printf ("PROBE blk info capacity=%lu readonly=%u flush=%u discard=%u write_zeroes=%u features=0x%lx\r\n",
                capacity, readonly, offered (VIRTIO_BLK_F_FLUSH), offered (VIRTIO_BLK_F_DISCARD),
                offered (VIRTIO_BLK_F_WRITE_ZEROES), dev->features);

  char bench_kind[16] = "";
  cmdline_value ("probe.blk_bench", bench_kind, sizeof bench_kind);
  uint32_t request_bytes = bench_kind[0] ? 1u << 20 : CHUNK_SECTORS * SECTOR;
  uint32_t per_request = (request_bytes + segment_bytes - 1) / segment_bytes;
  if (per_request > max_segments)
    {
      probe_printf ("PROBE blk error=request-too-large segments=%u seg_max=%u\r\n", per_request, max_segments);
      probe_exit (PROBE_EXIT_FAILED);
    }
  depth = (unsigned) cmdline_u64 ("probe.blk_qd", 1);
  if (depth < 1 || depth > MAX_QD)
    {
      probe_printf ("PROBE blk error=bad-qd qd=%u (1 to %u)\r\n", depth, MAX_QD);
      probe_exit (PROBE_EXIT_FAILED);
    }
  unsigned descriptors = queue.indirect ? 1 : per_request + 2;
  if (depth * descriptors > queue.size)
    depth = queue.size / descriptors;

  slots = dma_alloc ((MAX_QD + 1) * sizeof *slots, 64);
  for (unsigned i = 0; i < MAX_QD + 1; i++)
    if (!bench_kind[0] || i == MAX_QD || i < 2)
      slots[i].data = dma_alloc (CHUNK_SECTORS * SECTOR, 4096);

  print_serial ();
  if (bench_kind[0])
    {
      bench (bench_kind);
      return;
    }

  char op[8] = "write";
  cmdline_value ("probe.blk_op", op, sizeof op);
  bool write = strcmp (op, "write") == 0;
  if (!write && strcmp (op, "read") != 0)
    {
      probe_printf ("PROBE blk error=unknown-op op=%s (write, read)\r\n", op);
      probe_exit (PROBE_EXIT_FAILED);
    }
  uint64_t start = cmdline_u64 ("probe.blk_start", 0);
  uint64_t count = cmdline_u64 ("probe.blk_sectors", 2048);
  if (start > capacity || count > capacity - start)
    {
      probe_printf ("PROBE blk error=beyond-capacity start=%lu sectors=%lu capacity=%lu\r\n",
                    start, count, capacity);
      probe_exit (PROBE_EXIT_FAILED);
    }
  RoundTrip rt = { .verify = write };
  if (write && readonly)
    {
      probe_printf ("PROBE blk error=readonly (use probe.blk_op=read)\r\n");
      probe_exit (PROBE_EXIT_FAILED);
    }
  if (write)
    {
      stream (&rt, VIRTIO_BLK_T_OUT, start, count);
      if (offered (VIRTIO_BLK_F_FLUSH))
        {
          uint8_t st = request (VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
          probe_printf ("PROBE blk flush status=%u\r\n", st);
          rt.errors += st != VIRTIO_BLK_S_OK;
        }
    }
  stream (&rt, VIRTIO_BLK_T_IN, start, count);
  probe_printf ("PROBE blk capacity=%lu written=%lu read=%lu errors=%lu checksum=0x%016lx\r\n",
                capacity, rt.written, rt.read, rt.errors, rt.checksum);
  if (rt.errors)
    probe_exit (PROBE_EXIT_FAILED);
  if (write)
    zeroes_and_discard (start + count);
}
