/* probe.mode=rng: reads probe.rng_bytes (default 4096) bytes from the
 * first virtio-rng device (virtio 1.2 §5.4: one queue of device-writable
 * buffers) and reports how many distinct byte values came. */
#include "virtio.h"

#define CHUNK 4096

void
rng_mode (void)
{
  VirtioDev *dev = virtio_find (VIRTIO_ID_RNG, "rng");
  Virtq q;
  if (!dev || !virtio_begin (dev, 0) || !virtq_init (&q, dev, 0, 64))
    probe_exit (PROBE_EXIT_FAILED);
  virtio_driver_ok (dev);

  uint64_t want = cmdline_u64 ("probe.rng_bytes", 4096);
  uint8_t *buf = dma_alloc (CHUNK, 4096);
  static bool seen[256];
  uint64_t got = 0, requests = 0;
  while (got < want)
    {
      uint32_t ask = want - got < CHUNK ? (uint32_t) (want - got) : CHUNK;
      VirtqBuf b = { dma_addr (buf), ask, true };
      virtq_add (&q, &b, 1, buf);
      virtq_kick (&q);
      uint32_t len;
      if (!virtq_wait (&q, &len, 10000))
        {
          probe_printf ("PROBE rng error=timeout bytes=%lu status=0x%x\r\n", got, virtio_status (dev));
          probe_exit (PROBE_EXIT_FAILED);
        }
      if (len > ask)
        {
          probe_printf ("PROBE rng error=bad-length len=%u asked=%u\r\n", len, ask);
          probe_exit (PROBE_EXIT_FAILED);
        }
      if (len == 0 && ++requests > 1000)
        {
          probe_printf ("PROBE rng error=no-data bytes=%lu\r\n", got);
          probe_exit (PROBE_EXIT_FAILED);
        }
      for (uint32_t i = 0; i < len; i++)
        seen[buf[i]] = true;
      got += len;
      requests++;
    }
  unsigned distinct = 0;
  for (unsigned i = 0; i < 256; i++)
    distinct += seen[i];
  probe_printf ("PROBE rng bytes=%lu distinct=%u requests=%lu\r\n", got, distinct, requests);
}
