/* Guest memory layout and the range checks every guest address goes through. */
#include "kvm/memory.h"
#include "layout.h"

static void
test_small_guest_is_one_slot (void)
{
  g_autoptr (GError) error = NULL;
  VivGuestMemory mem;
  g_assert_true (viv_guest_memory_init (&mem, 64 * VIV_MiB, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mem.n_slots, ==, 1);
  g_assert_cmpuint (mem.slots[0].gpa, ==, 0);
  g_assert_cmpuint (mem.slots[0].size, ==, 64 * VIV_MiB);
  g_assert_cmpuint (viv_guest_memory_low_end (&mem), ==, 64 * VIV_MiB);
  viv_guest_memory_clear (&mem);
}

static void
test_large_guest_is_relocated_above_4g (void)
{
  g_autoptr (GError) error = NULL;
  VivGuestMemory mem;
  g_assert_true (viv_guest_memory_init (&mem, 8 * VIV_GiB, &error));
  g_assert_cmpuint (mem.n_slots, ==, 2);
  g_assert_cmpuint (mem.slots[0].size, ==, VIV_MMIO_HOLE_START);
  g_assert_cmpuint (mem.slots[1].gpa, ==, VIV_MMIO_HOLE_END);
  g_assert_cmpuint (mem.slots[0].size + mem.slots[1].size, ==, 8 * VIV_GiB);

  /* The hole is not RAM. */
  g_assert_null (viv_guest_memory_ptr (&mem, VIV_MMIO_HOLE_START, 1));
  g_assert_null (viv_guest_memory_ptr (&mem, VIV_LAPIC_ADDR, 4));
  /* A range may not straddle the hole. */
  g_assert_null (viv_guest_memory_ptr (&mem, VIV_MMIO_HOLE_START - 4, 8));
  g_assert_nonnull (viv_guest_memory_ptr (&mem, VIV_MMIO_HOLE_START - 8, 8));

  /* Bytes above 4 GiB land where the second slot says. */
  uint64_t value = 0x1122334455667788, back = 0;
  uint64_t gpa = VIV_MMIO_HOLE_END + 123 * VIV_MiB;
  g_assert_true (viv_guest_memory_write (&mem, gpa, &value, sizeof value));
  g_assert_true (viv_guest_memory_read (&mem, gpa, &back, sizeof back));
  g_assert_cmphex (back, ==, value);
  g_assert_true (viv_guest_memory_ptr (&mem, gpa, 8) == mem.base + VIV_MMIO_HOLE_START + 123 * VIV_MiB);

  /* The end of RAM is exclusive. */
  uint64_t end = VIV_MMIO_HOLE_END + mem.slots[1].size;
  g_assert_nonnull (viv_guest_memory_ptr (&mem, end - 8, 8));
  g_assert_null (viv_guest_memory_ptr (&mem, end - 7, 8));
  viv_guest_memory_clear (&mem);
}

static void
test_hostile_ranges_are_refused (void)
{
  VivGuestMemory mem;
  g_assert_true (viv_guest_memory_init (&mem, 16 * VIV_MiB, NULL));
  /* gpa + len would wrap around 2^64. */
  g_assert_null (viv_guest_memory_ptr (&mem, 0x1000, G_MAXUINT64));
  g_assert_null (viv_guest_memory_ptr (&mem, G_MAXUINT64 - 1, 4));
  g_assert_null (viv_guest_memory_ptr (&mem, 16 * VIV_MiB, 1));
  g_assert_nonnull (viv_guest_memory_ptr (&mem, 16 * VIV_MiB, 0));
  uint8_t byte = 0;
  g_assert_false (viv_guest_memory_read (&mem, 16 * VIV_MiB - 1, &byte, 2));
  viv_guest_memory_clear (&mem);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/memory/small-guest", test_small_guest_is_one_slot);
  g_test_add_func ("/memory/large-guest", test_large_guest_is_relocated_above_4g);
  g_test_add_func ("/memory/hostile-ranges", test_hostile_ranges_are_refused);
  return g_test_run ();
}
