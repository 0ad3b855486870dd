#include "size.h"

static void
test_sizes (void)
{
  static const struct { const char *text; uint64_t bytes; } good[] = {
    { "0", 0 }, { "512", 512 }, { "64K", 64 << 10 }, { "256M", 256 << 20 },
    { "8G", 8ULL << 30 }, { "8g", 8ULL << 30 }, { "8GiB", 8ULL << 30 }, { "1T", 1ULL << 40 },
    { "100000G", 100000ULL << 30 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      uint64_t bytes = 1;
      g_autoptr (GError) error = NULL;
      g_assert_true (viv_parse_size (good[i].text, &bytes, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (bytes, ==, good[i].bytes);
    }
}

static void
test_bad_sizes (void)
{
  const char *bad[] = { "", "G", "-1", "1.5G", "8X", "8GG", "99999999999999999999", "20000000000T", "1 G" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      uint64_t bytes;
      g_autoptr (GError) error = NULL;
      g_assert_false (viv_parse_size (bad[i], &bytes, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "is not a size"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/size/good", test_sizes);
  g_test_add_func ("/size/bad", test_bad_sizes);
  return g_test_run ();
}
