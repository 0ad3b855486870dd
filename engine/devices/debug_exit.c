/* isa-debug-exit: a write stops the machine with the value written as the
 * exit code.  Also the POST-code port, which takes writes and ignores them. */
#include "devices/debug_exit.h"

#include <string.h>

static void
read_all_ones (void *opaque, uint64_t offset, void *data, unsigned size)
{
  memset (data, 0xff, size);
}

/* The value as written, little-endian, 1, 2 or 4 bytes wide. */
static void
debug_exit_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  const VivStopSink *sink = opaque;
  const uint8_t *bytes = data;
  uint32_t value = 0;

  for (unsigned i = 0; i < size && i < sizeof value; i++)
    value |= (uint32_t) bytes[i] << (8 * i);
  viv_stop_sink_request (sink, VIV_STOP_DEBUG_EXIT, (int) value);
}

static void
drop_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
}

static const VivDeviceOps debug_exit_ops = {
  .name = "debug-exit",
  .read = read_all_ones,
  .write = debug_exit_write,
};

static const VivDeviceOps ignore_ops = {
  .name = "ignored port",
  .read = read_all_ones,
  .write = drop_write,
};

const VivDeviceOps *
viv_debug_exit_ops (void)
{
  return &debug_exit_ops;
}

const VivDeviceOps *
viv_ignore_ops (void)
{
  return &ignore_ops;
}
