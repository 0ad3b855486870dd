/* probe.mode=console: virtio-console port 0 (virtio 1.2 §5.3, without
 * MULTIPORT: queue 0 receives, queue 1 transmits).  Prints a greeting on
 * the console, then echoes what it receives until a 'q', and reports the
 * bytes on COM1. */
#include "virtio.h"

#define RX_BUFFERS 8
#define RX_BYTES 256
#define REPORT_MAX 64                     /* bytes shown in hex in the report */

static VirtioDev *dev;
static Virtq rxq, txq;
static uint8_t *tx_buf;

static void
console_write (const uint8_t *data, uint32_t len)
{
  memcpy (tx_buf, data, len);
  VirtqBuf b = { dma_addr (tx_buf), len, false };
  virtq_add (&txq, &b, 1, tx_buf);
  virtq_kick (&txq);
  if (!virtq_wait (&txq, NULL, 10000))
    {
      probe_printf ("PROBE console error=tx-timeout status=0x%x\r\n", virtio_status (dev));
      probe_exit (PROBE_EXIT_FAILED);
    }
}

static void
give_rx (uint8_t *buf)
{
  VirtqBuf b = { dma_addr (buf), RX_BYTES, true };
  virtq_add (&rxq, &b, 1, buf);
}

void
console_mode (void)
{
  if (!(dev = virtio_find (VIRTIO_ID_CONSOLE, "console")))
    probe_exit (PROBE_EXIT_FAILED);
  if (!virtio_begin (dev, 0) || !virtq_init (&rxq, dev, 0, 64) || !virtq_init (&txq, dev, 1, 64))
    probe_exit (PROBE_EXIT_FAILED);
  uint8_t *rx_bufs = dma_alloc (RX_BUFFERS * RX_BYTES, 4096);
  tx_buf = dma_alloc (RX_BYTES, 4096);
  for (unsigned i = 0; i < RX_BUFFERS; i++)
    give_rx (rx_bufs + i * RX_BYTES);
  virtio_driver_ok (dev);
  virtq_kick (&rxq);

  static const char hello[] = "hello from virtio-console\r\n";
  console_write ((const uint8_t *) hello, sizeof hello - 1);
  probe_printf ("PROBE console ready\r\n");

  uint8_t seen[REPORT_MAX];
  uint64_t count = 0;
  for (;;)
    {
      uint64_t idle = virtio_idle_begin ();
      uint32_t len;
      uint8_t *buf = virtq_get (&rxq, &len);
      if (!buf)
        {
          virtq_arm (&rxq);
          if (!(buf = virtq_get (&rxq, &len)))
            {
              virtio_idle (idle);
              continue;
            }
        }
      if (len > RX_BYTES)
        len = RX_BYTES;
      bool quit = false;
      for (uint32_t i = 0; i < len && !quit; i++)
        {
          if (count < REPORT_MAX)
            seen[count] = buf[i];
          count++;
          quit = buf[i] == 'q';
        }
      if (len)
        console_write (buf, len);
      give_rx (buf);
      virtq_kick (&rxq);
      if (quit)
        break;
    }
  /* A fresh line first: a terminal showing both consoles has the echo
   * on the same line otherwise. */
  probe_printf ("\r\nPROBE console rx=%lu data=", count);
  for (uint64_t i = 0; i < count && i < REPORT_MAX; i++)
    probe_printf ("%02x", seen[i]);
  probe_printf ("\r\n");
}
