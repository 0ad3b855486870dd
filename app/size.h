/* Sizes as users type them: 512, 64K, 256M, 8G, 1T (binary units). */
#pragma once
#include <gio/gio.h>
#include <stdint.h>

gboolean viv_parse_size (const char *text, uint64_t *bytes, GError **error);
