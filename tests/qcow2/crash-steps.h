/* The writes of qcow2-crash-writer, computable by the test that checks
 * them: step N writes (or zeroes) part of its own 96 KiB slot, so slots
 * share 64 KiB clusters with their neighbours (copy-on-write of partial
 * clusters) but no byte. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define CRASH_SLOT       (96u << 10)
#define CRASH_SLOTS      4096u              /* the image holds this many */
#define CRASH_IMAGE_SIZE ((uint64_t) CRASH_SLOT * CRASH_SLOTS)

typedef struct {
  uint64_t offset;
  uint32_t len;
  bool     zeroes;
} CrashStep;

static inline CrashStep
crash_step (unsigned step)
{
  uint32_t h = (step + 1) * 2654435761u;
  unsigned slot = (step * 2713u) % CRASH_SLOTS;   /* scattered, each once */
  uint32_t start = (h % 64) * 512;
  uint32_t len = ((h >> 8) % (CRASH_SLOT / 512 - start / 512) + 1) * 512;
  return (CrashStep) { (uint64_t) slot * CRASH_SLOT + start, len, (h >> 20) % 8 == 0 };
}

static inline void
crash_fill (uint8_t *buf, uint32_t len, unsigned step)
{
  uint32_t x = step * 7919u + 17;
  for (uint32_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    buf[i] = (uint8_t) (x | 1);   /* never zero: tells data from a hole */
  }
}
