/* The split virtqueue, device side: the test plays the driver, building
 * rings and descriptors in real guest memory, and checks what pop/push
 * make of them — including every malformed ring a hostile guest can
 * build. */
#include "devices/virtqueue.h"
#include "layout.h"

#include <glib.h>
#include <string.h>

#define RAM       (16 * VIV_MiB)
#define DESC_GPA  0x10000
#define AVAIL_GPA 0x20000
#define USED_GPA  0x30000
#define BUF_GPA   0x100000
#define TABLE_GPA 0x80000   /* indirect tables */

#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

typedef struct {
  VivGuestMemory   mem;
  VivVirtqueue     vq;
  VivVirtqElement *elem;
  uint16_t         size;
  uint16_t         avail_idx;   /* the driver's shadow */
} Fixture;

static void
put16 (Fixture *f, uint64_t gpa, uint16_t value)
{
  uint16_t le = GUINT16_TO_LE (value);
  g_assert_true (viv_guest_memory_write (&f->mem, gpa, &le, 2));
}

static uint16_t
get16 (Fixture *f, uint64_t gpa)
{
  uint16_t le;
  g_assert_true (viv_guest_memory_read (&f->mem, gpa, &le, 2));
  return GUINT16_FROM_LE (le);
}

static uint32_t
get32 (Fixture *f, uint64_t gpa)
{
  uint32_t le;
  g_assert_true (viv_guest_memory_read (&f->mem, gpa, &le, 4));
  return GUINT32_FROM_LE (le);
}

static void
put_desc (Fixture *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  uint8_t raw[16];
  uint64_t a = GUINT64_TO_LE (addr);
  uint32_t l = GUINT32_TO_LE (len);
  uint16_t fl = GUINT16_TO_LE (flags), n = GUINT16_TO_LE (next);
  memcpy (raw, &a, 8);
  memcpy (raw + 8, &l, 4);
  memcpy (raw + 12, &fl, 2);
  memcpy (raw + 14, &n, 2);
  g_assert_true (viv_guest_memory_write (&f->mem, table + 16 * (uint64_t) i, raw, 16));
}

/* Offers the chain starting at `head` and publishes the new avail index. */
static void
offer (Fixture *f, uint16_t head)
{
  put16 (f, AVAIL_GPA + 4 + 2 * (uint64_t) (f->avail_idx % f->size), head);
  f->avail_idx++;
  put16 (f, AVAIL_GPA + 2, f->avail_idx);
}

static void
setup_ring (Fixture *f, uint16_t size, bool event_idx, bool indirect)
{
  f->size = size;
  g_assert_true (viv_virtqueue_setup (&f->vq, &f->mem, size, DESC_GPA, AVAIL_GPA, USED_GPA,
                                      event_idx, indirect));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_guest_memory_init (&f->mem, RAM, &error));
  g_assert_no_error (error);
  f->elem = g_new0 (VivVirtqElement, 1);
  f->avail_idx = 0;
  setup_ring (f, 8, false, false);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void) data;
  g_free (f->elem);
  viv_guest_memory_clear (&f->mem);
}

/* Pop must fail, name the problem, and leave the ring where it was. */
static void
assert_pop_fails (Fixture *f, const char *reason)
{
  uint16_t before = f->vq.last_avail_idx;
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, -1);
  if (!strstr (f->vq.error, reason))
    g_error ("error \"%s\" does not mention \"%s\"", f->vq.error, reason);
  g_assert_cmpuint (f->vq.last_avail_idx, ==, before);
}

static void
test_simple_chain (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_true (viv_guest_memory_write (&f->mem, BUF_GPA, "hello", 5));
  put_desc (f, DESC_GPA, 3, BUF_GPA, 5, 0, 0);
  g_assert_false (viv_virtqueue_has_available (&f->vq));
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 0);
  offer (f, 3);
  g_assert_true (viv_virtqueue_has_available (&f->vq));

  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->head, ==, 3);
  g_assert_cmpuint (f->elem->n_out, ==, 1);
  g_assert_cmpuint (f->elem->n_in, ==, 0);
  g_assert_cmpuint (f->elem->out_bytes, ==, 5);
  g_assert_true (f->elem->iov[0].iov_base == viv_guest_memory_ptr (&f->mem, BUF_GPA, 5));
  char text[8] = { 0 };
  g_assert_cmpuint (viv_virtq_copy_from_out (f->elem, 0, text, sizeof text), ==, 5);
  g_assert_cmpstr (text, ==, "hello");
  g_assert_cmpuint (viv_virtq_copy_from_out (f->elem, 3, text, sizeof text), ==, 2);
  g_assert_cmpint (memcmp (text, "lo", 2), ==, 0);
  g_assert_false (viv_virtqueue_has_available (&f->vq));
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 0);

  viv_virtqueue_push (&f->vq, 3, 0);
  g_assert_cmpuint (get16 (f, USED_GPA + 2), ==, 1);
  g_assert_cmpuint (get32 (f, USED_GPA + 4), ==, 3);
  g_assert_cmpuint (get32 (f, USED_GPA + 8), ==, 0);
}

static void
test_readable_writable (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_true (viv_guest_memory_write (&f->mem, BUF_GPA, "abc", 3));
  g_assert_true (viv_guest_memory_write (&f->mem, BUF_GPA + 0x100, "defg", 4));
  put_desc (f, DESC_GPA, 0, BUF_GPA, 3, F_NEXT, 5);
  put_desc (f, DESC_GPA, 5, BUF_GPA + 0x100, 4, F_NEXT, 2);
  put_desc (f, DESC_GPA, 2, BUF_GPA + 0x1000, 2, F_WRITE | F_NEXT, 7);
  put_desc (f, DESC_GPA, 7, BUF_GPA + 0x2000, 10, F_WRITE, 0);
  offer (f, 0);

  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->n_out, ==, 2);
  g_assert_cmpuint (f->elem->n_in, ==, 2);
  g_assert_cmpuint (f->elem->out_bytes, ==, 7);
  g_assert_cmpuint (f->elem->in_bytes, ==, 12);

  char out[16] = { 0 };
  g_assert_cmpuint (viv_virtq_copy_from_out (f->elem, 0, out, sizeof out), ==, 7);
  g_assert_cmpstr (out, ==, "abcdefg");
  g_assert_cmpuint (viv_virtq_copy_from_out (f->elem, 2, out, 3), ==, 3);
  g_assert_cmpint (memcmp (out, "cde", 3), ==, 0);

  /* Bounded by the writable part: 12 bytes of 20 fit, split 2 + 10. */
  g_assert_cmpuint (viv_virtq_copy_to_in (f->elem, 0, "0123456789ABCDEFGHIJ", 20), ==, 12);
  char in[12];
  g_assert_true (viv_guest_memory_read (&f->mem, BUF_GPA + 0x1000, in, 2));
  g_assert_cmpint (memcmp (in, "01", 2), ==, 0);
  g_assert_true (viv_guest_memory_read (&f->mem, BUF_GPA + 0x2000, in, 10));
  g_assert_cmpint (memcmp (in, "23456789AB", 10), ==, 0);
  /* An offset past the first segment lands in the second. */
  g_assert_cmpuint (viv_virtq_copy_to_in (f->elem, 3, "xy", 2), ==, 2);
  g_assert_true (viv_guest_memory_read (&f->mem, BUF_GPA + 0x2000, in, 3));
  g_assert_cmpint (memcmp (in, "2xy", 3), ==, 0);
  g_assert_cmpuint (viv_virtq_copy_to_in (f->elem, 12, "z", 1), ==, 0);

  viv_virtqueue_push (&f->vq, 0, 12);
  g_assert_cmpuint (get32 (f, USED_GPA + 4), ==, 0);
  g_assert_cmpuint (get32 (f, USED_GPA + 8), ==, 12);
}

static void
test_zero_length (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 1, BUF_GPA, 0, F_WRITE, 0);
  offer (f, 1);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->n_out + f->elem->n_in, ==, 0);
  g_assert_cmpuint (f->elem->in_bytes, ==, 0);
}

static void
test_indirect (Fixture *f, gconstpointer data)
{
  (void) data;
  setup_ring (f, 8, false, true);
  g_assert_true (viv_guest_memory_write (&f->mem, BUF_GPA, "req", 3));
  put_desc (f, TABLE_GPA, 0, BUF_GPA, 3, F_NEXT, 2);
  put_desc (f, TABLE_GPA, 2, BUF_GPA + 0x1000, 512, F_WRITE | F_NEXT, 1);
  put_desc (f, TABLE_GPA, 1, BUF_GPA + 0x2000, 1, F_WRITE, 0);
  put_desc (f, DESC_GPA, 4, TABLE_GPA, 3 * 16, F_INDIRECT, 0);
  offer (f, 4);

  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->head, ==, 4);
  g_assert_cmpuint (f->elem->n_out, ==, 1);
  g_assert_cmpuint (f->elem->n_in, ==, 2);
  g_assert_cmpuint (f->elem->in_bytes, ==, 513);
  g_assert_true (f->elem->iov[2].iov_base == viv_guest_memory_ptr (&f->mem, BUF_GPA + 0x2000, 1));
}

static void
test_unpop (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 6, BUF_GPA, 8, F_WRITE, 0);
  offer (f, 6);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  viv_virtqueue_unpop (&f->vq);
  g_assert_true (viv_virtqueue_has_available (&f->vq));
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->head, ==, 6);
}

/* The 16-bit indices run freely and wrap; the ring slots are index % size. */
static void
test_wrap_around (Fixture *f, gconstpointer data)
{
  (void) data;
  setup_ring (f, 4, false, false);
  f->avail_idx = 65533;
  f->vq.last_avail_idx = 65533;
  f->vq.used_idx = 65533;
  put16 (f, AVAIL_GPA + 2, f->avail_idx);
  for (unsigned i = 0; i < 4; i++)
    put_desc (f, DESC_GPA, i, BUF_GPA + 0x100 * i, 16, F_WRITE, 0);

  for (unsigned round = 0; round < 6; round++)
    {
      uint16_t head = round % 4;
      offer (f, head);
      g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
      g_assert_cmpuint (f->elem->head, ==, head);
      viv_virtqueue_push (&f->vq, head, 16 + round);
      uint16_t used = get16 (f, USED_GPA + 2);
      g_assert_cmpuint (used, ==, (uint16_t) (65533 + round + 1));
      unsigned slot = (uint16_t) (used - 1) % 4;
      g_assert_cmpuint (get32 (f, USED_GPA + 4 + 8 * slot), ==, head);
      g_assert_cmpuint (get32 (f, USED_GPA + 8 + 8 * slot), ==, 16 + round);
    }
  g_assert_cmpuint (f->vq.last_avail_idx, ==, 3);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 0);

  /* A full ring across the wrap is fine: exactly `size` ahead. */
  for (unsigned i = 0; i < 4; i++)
    offer (f, i);
  for (unsigned i = 0; i < 4; i++)
    g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 0);
}

static void
test_no_interrupt_flag (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 0, BUF_GPA, 4, F_WRITE, 0);
  offer (f, 0);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  viv_virtqueue_push (&f->vq, 0, 4);
  g_assert_true (viv_virtqueue_should_interrupt (&f->vq));
  put16 (f, AVAIL_GPA, 1);   /* VRING_AVAIL_F_NO_INTERRUPT */
  g_assert_false (viv_virtqueue_should_interrupt (&f->vq));
  put16 (f, AVAIL_GPA, 0);
  g_assert_true (viv_virtqueue_should_interrupt (&f->vq));

  /* Without EVENT_IDX, suppressing kicks is the used ring's flag. */
  viv_virtqueue_set_notification (&f->vq, false);
  g_assert_cmpuint (get16 (f, USED_GPA), ==, 1);
  viv_virtqueue_set_notification (&f->vq, true);
  g_assert_cmpuint (get16 (f, USED_GPA), ==, 0);
}

static void
test_event_idx (Fixture *f, gconstpointer data)
{
  (void) data;
  const uint16_t size = 8;
  setup_ring (f, size, true, false);
  const uint64_t used_event = AVAIL_GPA + 4 + 2 * size;
  const uint64_t avail_event = USED_GPA + 4 + 8 * size;
  for (unsigned i = 0; i < size; i++)
    put_desc (f, DESC_GPA, i, BUF_GPA + 0x100 * i, 16, F_WRITE, 0);

  /* The flag is ignored once EVENT_IDX is negotiated. */
  put16 (f, AVAIL_GPA, 1);
  offer (f, 0);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  /* Popping moves avail_event to what we have consumed. */
  g_assert_cmpuint (get16 (f, avail_event), ==, 1);
  viv_virtqueue_push (&f->vq, 0, 16);
  /* The first decision always interrupts: nothing was signalled yet. */
  g_assert_true (viv_virtqueue_should_interrupt (&f->vq));

  /* The driver wants an interrupt once used entry 2 (the third) is there. */
  put16 (f, used_event, 2);
  for (unsigned i = 1; i <= 3; i++)
    offer (f, i);
  for (unsigned i = 1; i <= 3; i++)
    g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (get16 (f, avail_event), ==, 4);
  viv_virtqueue_push (&f->vq, 1, 16);      /* used idx 2: entry 1 */
  g_assert_false (viv_virtqueue_should_interrupt (&f->vq));
  viv_virtqueue_push (&f->vq, 2, 16);      /* used idx 3: entry 2 */
  g_assert_true (viv_virtqueue_should_interrupt (&f->vq));
  viv_virtqueue_push (&f->vq, 3, 16);      /* already signalled past it */
  g_assert_false (viv_virtqueue_should_interrupt (&f->vq));
  /* Nothing new pushed: nothing to say. */
  g_assert_false (viv_virtqueue_should_interrupt (&f->vq));

  /* Two pushes in one batch passing used_event still interrupt once. */
  put16 (f, used_event, 4);
  for (unsigned i = 4; i <= 5; i++)
    {
      offer (f, i);
      g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
      viv_virtqueue_push (&f->vq, i, 16);
    }
  g_assert_true (viv_virtqueue_should_interrupt (&f->vq));

  /* Enabling kicks publishes the current avail index. */
  offer (f, 6);
  viv_virtqueue_set_notification (&f->vq, true);
  g_assert_cmpuint (get16 (f, avail_event), ==, f->avail_idx);
  g_assert_cmpuint (get16 (f, USED_GPA), ==, 0);
}

/* What the driver decides after moving avail->idx from old to new: kick? */
static bool
driver_kicks (Fixture *f, uint16_t old_idx, uint16_t new_idx)
{
  if (!f->vq.event_idx)
    return !(get16 (f, USED_GPA) & 1);            /* VRING_USED_F_NO_NOTIFY */
  uint16_t event = get16 (f, USED_GPA + 4 + 8 * (uint64_t) f->size);
  return (uint16_t) (new_idx - event - 1) < (uint16_t) (new_idx - old_idx);
}

/* While the I/O thread polls the ring no kick is wanted, whatever the
 * device asks meanwhile; afterwards the device's own wish holds again. */
static void
test_polling (Fixture *f, gconstpointer data)
{
  (void) data;
  for (int event_idx = 0; event_idx <= 1; event_idx++)
    {
      f->avail_idx = 0;
      put16 (f, AVAIL_GPA + 2, 0);
      setup_ring (f, 8, event_idx, false);
      for (unsigned i = 0; i < 8; i++)
        put_desc (f, DESC_GPA, i, BUF_GPA, 16, F_WRITE, 0);
      g_assert_true (driver_kicks (f, 0, 1));

      viv_virtqueue_set_polling (&f->vq, true);
      g_assert_false (driver_kicks (f, 0, 1));
      /* The device takes buffers and asks for kicks, as after a batch. */
      for (unsigned round = 0; round < 20; round++)
        {
          uint16_t old_idx = f->avail_idx;
          offer (f, round % 8);
          offer (f, (round + 1) % 8);
          g_assert_false (driver_kicks (f, old_idx, f->avail_idx));
          g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
          viv_virtqueue_set_notification (&f->vq, true);
          g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
          viv_virtqueue_push (&f->vq, f->elem->head, 0);
          viv_virtqueue_push (&f->vq, f->elem->head, 0);
          g_assert_false (driver_kicks (f, f->avail_idx, f->avail_idx + 1));
        }
      /* Polling ends: the device wanted kicks, the next buffer brings one. */
      viv_virtqueue_set_polling (&f->vq, false);
      g_assert_true (driver_kicks (f, f->avail_idx, f->avail_idx + 1));

      /* A device that turned kicks off keeps them off after polling. */
      viv_virtqueue_set_notification (&f->vq, false);
      viv_virtqueue_set_polling (&f->vq, true);
      viv_virtqueue_set_polling (&f->vq, false);
      g_assert_false (driver_kicks (f, f->avail_idx, f->avail_idx + 1));
      viv_virtqueue_set_notification (&f->vq, true);
      g_assert_true (driver_kicks (f, f->avail_idx, f->avail_idx + 1));
    }
}

/* vring_need_event on indices that wrap through 65535 → 0. */
static void
test_event_idx_wrap (Fixture *f, gconstpointer data)
{
  (void) data;
  const uint16_t size = 4;
  setup_ring (f, size, true, false);
  const uint64_t used_event = AVAIL_GPA + 4 + 2 * size;
  for (unsigned i = 0; i < size; i++)
    put_desc (f, DESC_GPA, i, BUF_GPA, 16, F_WRITE, 0);
  f->avail_idx = f->vq.last_avail_idx = f->vq.used_idx = 65534;
  f->vq.signalled_used = 65534;
  f->vq.signalled_used_valid = true;
  put16 (f, AVAIL_GPA + 2, f->avail_idx);

  put16 (f, used_event, 65535);  /* interrupt when entry 65535 is used */
  for (unsigned i = 0; i < 3; i++)
    {
      offer (f, i);
      g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
      viv_virtqueue_push (&f->vq, i, 16);
    }
  g_assert_cmpuint (f->vq.used_idx, ==, 1);
  g_assert_true (viv_virtqueue_should_interrupt (&f->vq));

  put16 (f, used_event, 65534);  /* stale: already behind */
  offer (f, 3);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  viv_virtqueue_push (&f->vq, 3, 16);
  g_assert_false (viv_virtqueue_should_interrupt (&f->vq));
}

static void
test_setup_checks (Fixture *f, gconstpointer data)
{
  (void) data;
  struct { uint16_t size; uint64_t desc, avail, used; const char *reason; } cases[] = {
    { 0, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two" },
    { 6, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two" },
    { 65535, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two" },
    { 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, "16-byte aligned" },
    { 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, "2-byte aligned" },
    { 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, "4-byte aligned" },
    { 8, RAM, AVAIL_GPA, USED_GPA, "descriptor table" },
    { 8, RAM - 64, AVAIL_GPA, USED_GPA, "descriptor table" },
    { 8, DESC_GPA, RAM - 20, USED_GPA, "available ring" },
    { 8, DESC_GPA, AVAIL_GPA, RAM - 68, "used ring" },
    { 8, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, "used ring" },
    { 8, VIV_MMIO_HOLE_START, AVAIL_GPA, USED_GPA, "outside guest memory" },
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_false (viv_virtqueue_setup (&f->vq, &f->mem, cases[i].size, cases[i].desc,
                                           cases[i].avail, cases[i].used, false, false));
      if (!strstr (f->vq.error, cases[i].reason))
        g_error ("case %u: \"%s\" does not mention \"%s\"", i, f->vq.error, cases[i].reason);
      g_assert_cmpuint (f->vq.size, ==, 0);
      g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, -1);
      g_assert_false (viv_virtqueue_has_available (&f->vq));
    }
  /* The largest ring, flush against the end of RAM, is accepted. */
  g_assert_true (viv_virtqueue_setup (&f->vq, &f->mem, 32768, RAM - 16 * 32768, AVAIL_GPA,
                                      RAM - 16 * 32768 - (6 + 8 * 32768 + 2), false, false));
}

static void
test_bad_buffer_addresses (Fixture *f, gconstpointer data)
{
  (void) data;
  struct { uint64_t addr; uint32_t len; } cases[] = {
    { RAM + 0x1000, 16 },                    /* outside RAM */
    { RAM - 100, 200 },                      /* crosses the end of RAM */
    { UINT64_MAX - 0xfff, 0x2000 },          /* addr + len overflows */
    { BUF_GPA, UINT32_MAX },                 /* huge length */
    { VIV_MMIO_HOLE_START - 0x800, 0x100 },  /* in the hole (no high RAM) */
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      put_desc (f, DESC_GPA, 5, cases[i].addr, cases[i].len, 0, 0);
      offer (f, 5);
      assert_pop_fails (f, "outside guest memory");
      g_assert_nonnull (strstr (f->vq.error, "descriptor 5"));
      /* The driver took it back (test only): resynchronise. */
      f->avail_idx--;
      put16 (f, AVAIL_GPA + 2, f->avail_idx);
    }
  /* A zero-length buffer is never mapped, wherever it points. */
  put_desc (f, DESC_GPA, 5, UINT64_MAX, 0, 0, 0);
  offer (f, 5);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
}

static void
test_hole_boundary (void)
{
  /* 3 GiB + 16 MiB: low RAM ends at the hole, the rest sits at 4 GiB. */
  Fixture fx = { 0 };
  Fixture *f = &fx;
  g_autoptr (GError) error = NULL;
  if (!viv_guest_memory_init (&f->mem, VIV_MMIO_HOLE_START + 16 * VIV_MiB, &error))
    {
      g_test_skip (error->message);
      return;
    }
  f->elem = g_new0 (VivVirtqElement, 1);
  setup_ring (f, 8, false, false);

  put_desc (f, DESC_GPA, 0, VIV_MMIO_HOLE_START - 0x800, 0x1000, 0, 0);
  offer (f, 0);
  assert_pop_fails (f, "outside guest memory");

  /* The same length wholly below the hole, or in high RAM, is fine. */
  put_desc (f, DESC_GPA, 0, VIV_MMIO_HOLE_START - 0x1000, 0x1000, F_NEXT, 1);
  put_desc (f, DESC_GPA, 1, VIV_MMIO_HOLE_END, 0x1000, F_WRITE, 0);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->n_out, ==, 1);
  g_assert_cmpuint (f->elem->n_in, ==, 1);
  g_assert_true (f->elem->iov[1].iov_base == f->mem.base + VIV_MMIO_HOLE_START);

  /* Crossing from the end of high RAM. */
  put_desc (f, DESC_GPA, 2, VIV_MMIO_HOLE_END + 16 * VIV_MiB - 8, 16, 0, 0);
  offer (f, 2);
  assert_pop_fails (f, "outside guest memory");

  g_free (f->elem);
  viv_guest_memory_clear (&f->mem);
}

static void
test_loop (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 0, BUF_GPA, 4, F_NEXT, 1);
  put_desc (f, DESC_GPA, 1, BUF_GPA, 4, F_NEXT, 0);
  offer (f, 0);
  assert_pop_fails (f, "loops");
}

static void
test_self_loop_writable (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 3, BUF_GPA, 4, F_WRITE | F_NEXT, 3);
  offer (f, 3);
  assert_pop_fails (f, "loops");
}

static void
test_too_long (Fixture *f, gconstpointer data)
{
  (void) data;
  f->size = 2048;
  g_assert_true (viv_virtqueue_setup (&f->vq, &f->mem, 2048, DESC_GPA, AVAIL_GPA + 0x8000,
                                      USED_GPA + 0x8000, false, false));
  /* AVAIL_GPA moved: write the ring by hand. */
  for (unsigned i = 0; i <= VIV_VIRTQ_MAX_SEGMENTS; i++)
    put_desc (f, DESC_GPA, i, BUF_GPA + i, 1, i < VIV_VIRTQ_MAX_SEGMENTS ? F_NEXT : 0, i + 1);
  put16 (f, AVAIL_GPA + 0x8000 + 4, 0);
  put16 (f, AVAIL_GPA + 0x8000 + 2, 1);
  assert_pop_fails (f, "more than 1024");

  /* Exactly the limit is accepted. */
  put_desc (f, DESC_GPA, VIV_VIRTQ_MAX_SEGMENTS - 1, BUF_GPA, 1, 0, 0);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->n_out, ==, VIV_VIRTQ_MAX_SEGMENTS);
}

static void
test_writable_before_readable (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 0, BUF_GPA, 4, F_WRITE | F_NEXT, 1);
  put_desc (f, DESC_GPA, 1, BUF_GPA + 0x100, 4, 0, 0);
  offer (f, 0);
  assert_pop_fails (f, "follows a device-writable");

  /* An empty writable buffer still counts as the start of the in part. */
  put_desc (f, DESC_GPA, 0, BUF_GPA, 0, F_WRITE | F_NEXT, 1);
  assert_pop_fails (f, "follows a device-writable");
}

static void
test_bad_indices (Fixture *f, gconstpointer data)
{
  (void) data;
  offer (f, 8);  /* head == size */
  assert_pop_fails (f, "beyond the queue size");

  put16 (f, AVAIL_GPA + 4, 65535);
  assert_pop_fails (f, "beyond the queue size");

  put_desc (f, DESC_GPA, 2, BUF_GPA, 4, F_NEXT, 8);  /* next == size */
  put16 (f, AVAIL_GPA + 4, 2);
  assert_pop_fails (f, "links to 8");
}

static void
test_avail_idx_jump (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, DESC_GPA, 0, BUF_GPA, 4, 0, 0);
  put16 (f, AVAIL_GPA + 2, 9);  /* size 8: nine new entries cannot exist */
  assert_pop_fails (f, "ahead");
  g_assert_cmpuint (f->vq.last_avail_idx, ==, 0);
  put16 (f, AVAIL_GPA + 2, 40000);
  assert_pop_fails (f, "ahead");
  /* Going backwards is as impossible as jumping ahead. */
  put16 (f, AVAIL_GPA + 2, 65535);
  assert_pop_fails (f, "ahead");
}

static void
test_indirect_not_negotiated (Fixture *f, gconstpointer data)
{
  (void) data;
  put_desc (f, TABLE_GPA, 0, BUF_GPA, 4, 0, 0);
  put_desc (f, DESC_GPA, 0, TABLE_GPA, 16, F_INDIRECT, 0);
  offer (f, 0);
  assert_pop_fails (f, "not negotiated");
}

static void
test_indirect_hostile (Fixture *f, gconstpointer data)
{
  (void) data;
  setup_ring (f, 8, false, true);
  put_desc (f, TABLE_GPA, 0, BUF_GPA, 4, F_NEXT, 1);
  put_desc (f, TABLE_GPA, 1, BUF_GPA, 4, F_WRITE, 0);
  offer (f, 0);

  struct { uint64_t addr; uint32_t len; uint16_t flags; const char *reason; } cases[] = {
    { TABLE_GPA, 24, F_INDIRECT, "not a multiple of 16" },
    { TABLE_GPA, 0, F_INDIRECT, "not a multiple of 16" },
    { RAM - 16, 32, F_INDIRECT, "outside guest memory" },
    { UINT64_MAX - 15, 32, F_INDIRECT, "outside guest memory" },
    { TABLE_GPA, 32, F_INDIRECT | F_NEXT, "has NEXT set" },
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      put_desc (f, DESC_GPA, 0, cases[i].addr, cases[i].len, cases[i].flags, 1);
      assert_pop_fails (f, cases[i].reason);
    }

  /* Nested: an indirect table entry that is itself indirect. */
  put_desc (f, DESC_GPA, 0, TABLE_GPA, 32, F_INDIRECT, 0);
  put_desc (f, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, F_INDIRECT, 0);
  assert_pop_fails (f, "another indirect table");

  /* A loop inside the table is bounded by the table's length. */
  put_desc (f, TABLE_GPA, 1, BUF_GPA, 4, F_WRITE | F_NEXT, 0);
  put_desc (f, TABLE_GPA, 0, BUF_GPA, 4, F_WRITE | F_NEXT, 1);
  assert_pop_fails (f, "loops");

  /* next beyond the table (2 entries). */
  put_desc (f, TABLE_GPA, 1, BUF_GPA, 4, F_WRITE | F_NEXT, 2);
  assert_pop_fails (f, "links to 2");

  /* A buffer in the table outside RAM. */
  put_desc (f, TABLE_GPA, 1, RAM, 4, F_WRITE, 0);
  assert_pop_fails (f, "indirect descriptor 1 points outside guest memory");

  /* And a good one after all that. */
  put_desc (f, TABLE_GPA, 1, BUF_GPA, 4, F_WRITE, 0);
  g_assert_cmpint (viv_virtqueue_pop (&f->vq, f->elem), ==, 1);
  g_assert_cmpuint (f->elem->n_in, ==, 2);
}

/* A huge indirect table of empty descriptors cannot make pop spin. */
static void
test_indirect_long_table (Fixture *f, gconstpointer data)
{
  (void) data;
  setup_ring (f, 8, false, true);
  const unsigned entries = 4096;
  for (unsigned i = 0; i < entries; i++)
    put_desc (f, BUF_GPA, i, 0, 0, F_NEXT, i + 1);
  put_desc (f, DESC_GPA, 0, BUF_GPA, 16 * entries, F_INDIRECT, 0);
  offer (f, 0);
  assert_pop_fails (f, "more than 1024");
}

/* A mergeable packet spans several used entries; the driver must see all
 * of them at once or none. */
static void
test_fill_then_flush (Fixture *f, gconstpointer data)
{
  (void) data;
  /* Start near the 16-bit wrap so the fill offsets cross it. */
  f->vq.used_idx = 0xfffe;
  for (unsigned i = 0; i < 3; i++)
    viv_virtqueue_fill (&f->vq, i, 5 + i, 100 + i);
  g_assert_cmpuint (get16 (f, USED_GPA + 2), ==, 0);  /* nothing published yet */
  viv_virtqueue_flush (&f->vq, 3);
  g_assert_cmpuint (get16 (f, USED_GPA + 2), ==, 1);
  g_assert_cmpuint (f->vq.used_idx, ==, 1);
  for (unsigned i = 0; i < 3; i++)
    {
      unsigned slot = (uint16_t) (0xfffe + i) % f->size;
      g_assert_cmpuint (get32 (f, USED_GPA + 4 + 8 * slot), ==, 5 + i);
      g_assert_cmpuint (get32 (f, USED_GPA + 8 + 8 * slot), ==, 100 + i);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/virtqueue/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("simple-chain", test_simple_chain);
  ADD ("readable-writable", test_readable_writable);
  ADD ("zero-length", test_zero_length);
  ADD ("indirect", test_indirect);
  ADD ("unpop", test_unpop);
  ADD ("fill-then-flush", test_fill_then_flush);
  ADD ("wrap-around", test_wrap_around);
  ADD ("no-interrupt-flag", test_no_interrupt_flag);
  ADD ("event-idx", test_event_idx);
  ADD ("event-idx-wrap", test_event_idx_wrap);
  ADD ("polling", test_polling);
  ADD ("hostile/setup", test_setup_checks);
  ADD ("hostile/buffer-address", test_bad_buffer_addresses);
  ADD ("hostile/loop", test_loop);
  ADD ("hostile/self-loop", test_self_loop_writable);
  ADD ("hostile/too-long", test_too_long);
  ADD ("hostile/writable-before-readable", test_writable_before_readable);
  ADD ("hostile/bad-indices", test_bad_indices);
  ADD ("hostile/avail-idx-jump", test_avail_idx_jump);
  ADD ("hostile/indirect-not-negotiated", test_indirect_not_negotiated);
  ADD ("hostile/indirect", test_indirect_hostile);
  ADD ("hostile/indirect-long-table", test_indirect_long_table);
#undef ADD
  g_test_add_func ("/virtqueue/hostile/hole-boundary", test_hole_boundary);
  return g_test_run ();
}
