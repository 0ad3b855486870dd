/* i8042 keyboard controller with a keyboard that answers commands but never
 * types, and no auxiliary (mouse) port.
 *
 * Port 0x64 reads the status register and takes controller commands; port
 * 0x60 reads the output buffer and writes either a controller command's
 * parameter or a byte for the keyboard.  The controller answers at once, so
 * the input buffer is never full (IBF stays 0).  Reset requests (0xFE, any
 * 0xF0-0xFE pulse of output-port bit 0, 0xD1 with bit 0 clear) go to the
 * VivStopSink, called without the mutex held. */
#include "devices/i8042.h"

#define STATUS_OBF      0x01
#define STATUS_SYS      0x04   /* mirrors the command byte's system flag */
#define STATUS_CMD      0x08   /* the last write went to the command port */
#define STATUS_UNLOCKED 0x10   /* keyboard not inhibited by a keylock */

#define CTR_KBDINT  0x01
#define CTR_SYS     0x04
#define CTR_KBDDIS  0x10
#define CTR_AUXDIS  0x20
#define CTR_XLATE   0x40

#define OUTPORT_RESET_HIGH 0x01   /* bit 0 low holds the CPU in reset */
#define OUTPORT_A20        0x02

#define KBD_ACK        0xFA
#define KBD_BAT_OK     0xAA
#define KBD_ECHO       0xEE

#define OUTPUT_QUEUE_SIZE 16

struct VivI8042 {
  GMutex lock;
  VivStopSink stop;
  VivIrqLine irq;

  uint8_t ram[32];          /* controller RAM; byte 0 is the command byte */
  uint8_t output_port;
  bool last_write_cmd;
  uint8_t awaiting_param;   /* controller command waiting for its data byte */
  uint8_t kbd_awaiting_param;  /* keyboard command waiting for its parameter */

  /* The output buffer and, behind it, bytes the keyboard still has to send. */
  uint8_t queue[OUTPUT_QUEUE_SIZE];
  unsigned head, count;
  uint8_t last_read;
  bool irq_level;
};

static void
queue_push (VivI8042 *kbc, uint8_t byte)
{
  if (kbc->count == OUTPUT_QUEUE_SIZE)
    return;
  kbc->queue[(kbc->head + kbc->count) % OUTPUT_QUEUE_SIZE] = byte;
  kbc->count++;
}

/* A controller answer lands in the single output buffer, replacing whatever
 * waited there: a guest then never mistakes a stale byte for the answer. */
static void
controller_answer (VivI8042 *kbc, uint8_t byte)
{
  kbc->head = 0;
  kbc->count = 0;
  queue_push (kbc, byte);
}

/* IRQ 1 follows "output buffer full and keyboard interrupt enabled".  Each
 * byte is a separate interrupt on a PC (the keyboard clocks the next byte in
 * after the last was read), so a read that exposes the next queued byte
 * pulses the line to give the edge-triggered IOAPIC pin a new edge. */
static void
update_irq (VivI8042 *kbc, bool new_byte)
{
  bool level = kbc->count > 0 && (kbc->ram[0] & CTR_KBDINT);
  if (new_byte && level && kbc->irq_level)
    {
      viv_irq_line_set (&kbc->irq, false);
      kbc->irq_level = false;
    }
  if (level != kbc->irq_level)
    {
      kbc->irq_level = level;
      viv_irq_line_set (&kbc->irq, level);
    }
}

/* A byte the guest sends to the keyboard.  Commands with a parameter
 * (LEDs, typematic rate, scan code set) acknowledge both bytes. */
static void
keyboard_command (VivI8042 *kbc, uint8_t byte)
{
  if (kbc->kbd_awaiting_param)
    {
      uint8_t cmd = kbc->kbd_awaiting_param;
      kbc->kbd_awaiting_param = 0;
      queue_push (kbc, KBD_ACK);
      if (cmd == 0xF0 && byte == 0)   /* "which scan code set?" */
        queue_push (kbc, 0x02);
      return;
    }
  switch (byte)
    {
    case 0xFF:   /* reset: acknowledge, then the self-test passed */
      queue_push (kbc, KBD_ACK);
      queue_push (kbc, KBD_BAT_OK);
      break;
    case 0xF2:   /* identify: an MF2 keyboard */
      queue_push (kbc, KBD_ACK);
      queue_push (kbc, 0xAB);
      queue_push (kbc, 0x83);
      break;
    case 0xEE:
      queue_push (kbc, KBD_ECHO);
      break;
    case 0xED:   /* set LEDs */
    case 0xF0:   /* scan code set */
    case 0xF3:   /* typematic rate */
      kbc->kbd_awaiting_param = byte;
      queue_push (kbc, KBD_ACK);
      break;
    default:
      queue_push (kbc, KBD_ACK);
      break;
    }
}

/* Returns true when the guest asked for a reset. */
static bool
controller_command (VivI8042 *kbc, uint8_t cmd)
{
  kbc->awaiting_param = 0;
  if (cmd >= 0x20 && cmd <= 0x3F)
    {
      controller_answer (kbc, kbc->ram[cmd - 0x20]);
      return false;
    }
  if ((cmd >= 0x60 && cmd <= 0x7F) || (cmd >= 0xD1 && cmd <= 0xD4))
    {
      kbc->awaiting_param = cmd;
      return false;
    }
  if (cmd >= 0xF0)
    return !(cmd & OUTPORT_RESET_HIGH);   /* pulse the low bits that are 0 */

  switch (cmd)
    {
    case 0xA7:   /* disable aux */
      kbc->ram[0] |= CTR_AUXDIS;
      break;
    case 0xA8:   /* enable aux: there is none, AUXDIS stays set */
      break;
    case 0xA9:   /* aux interface test: "clock line stuck high", no port */
      controller_answer (kbc, 0x02);
      break;
    case 0xAA:   /* controller self-test */
      controller_answer (kbc, 0x55);
      break;
    case 0xAB:   /* keyboard interface test */
      controller_answer (kbc, 0x00);
      break;
    case 0xAD:
      kbc->ram[0] |= CTR_KBDDIS;
      break;
    case 0xAE:
      kbc->ram[0] &= ~CTR_KBDDIS;
      break;
    case 0xD0:
      controller_answer (kbc, kbc->output_port);
      break;
    default:
      break;   /* unknown commands are ignored, as by real controllers */
    }
  return false;
}

/* Returns true when the guest asked for a reset. */
static bool
data_write (VivI8042 *kbc, uint8_t byte)
{
  uint8_t cmd = kbc->awaiting_param;
  kbc->awaiting_param = 0;
  if (cmd >= 0x60 && cmd <= 0x7F)
    kbc->ram[cmd - 0x60] = byte;
  else if (cmd == 0xD1)
    {
      kbc->output_port = byte;
      return !(byte & OUTPORT_RESET_HIGH);
    }
  else if (cmd == 0xD2 || cmd == 0xD3)
    /* Write to the keyboard (D2) or aux (D3) output buffer.  With no aux
     * port the D3 byte comes back as keyboard data, which Linux takes as
     * "aux loop failed" at once rather than waiting out a timeout. */
    queue_push (kbc, byte);
  else if (cmd == 0xD4)
    ;   /* a byte for the mouse: there is none */
  else
    keyboard_command (kbc, byte);
  return false;
}

static void
request_reset (VivI8042 *kbc)
{
  viv_stop_sink_request (&kbc->stop, VIV_STOP_RESET, 0);
}

static void
i8042_data_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivI8042 *kbc = opaque;
  uint8_t *out = data;

  g_mutex_lock (&kbc->lock);
  if (kbc->count > 0)
    {
      kbc->last_read = kbc->queue[kbc->head];
      kbc->head = (kbc->head + 1) % OUTPUT_QUEUE_SIZE;
      kbc->count--;
    }
  out[0] = kbc->last_read;
  update_irq (kbc, kbc->count > 0);
  g_mutex_unlock (&kbc->lock);
  for (unsigned i = 1; i < size; i++)
    out[i] = 0xff;
}

static void
i8042_data_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  VivI8042 *kbc = opaque;
  bool reset;

  g_mutex_lock (&kbc->lock);
  kbc->last_write_cmd = false;
  reset = data_write (kbc, *(const uint8_t *) data);
  update_irq (kbc, false);
  g_mutex_unlock (&kbc->lock);
  if (reset)
    request_reset (kbc);
}

static void
i8042_status_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivI8042 *kbc = opaque;
  uint8_t *out = data;

  g_mutex_lock (&kbc->lock);
  out[0] = STATUS_UNLOCKED |
           (kbc->count > 0 ? STATUS_OBF : 0) |
           (kbc->ram[0] & CTR_SYS ? STATUS_SYS : 0) |
           (kbc->last_write_cmd ? STATUS_CMD : 0);
  g_mutex_unlock (&kbc->lock);
  for (unsigned i = 1; i < size; i++)
    out[i] = 0xff;
}

static void
i8042_cmd_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  VivI8042 *kbc = opaque;
  bool reset;

  g_mutex_lock (&kbc->lock);
  kbc->last_write_cmd = true;
  reset = controller_command (kbc, *(const uint8_t *) data);
  update_irq (kbc, false);
  g_mutex_unlock (&kbc->lock);
  if (reset)
    request_reset (kbc);
}

static const VivDeviceOps i8042_data_ops = {
  .name = "i8042 data",
  .read = i8042_data_read,
  .write = i8042_data_write,
};

static const VivDeviceOps i8042_cmd_ops = {
  .name = "i8042 command/status",
  .read = i8042_status_read,
  .write = i8042_cmd_write,
};

const VivDeviceOps *
viv_i8042_data_ops (void)
{
  return &i8042_data_ops;
}

const VivDeviceOps *
viv_i8042_cmd_ops (void)
{
  return &i8042_cmd_ops;
}

VivI8042 *
viv_i8042_new (VivStopSink stop)
{
  VivI8042 *kbc = g_new0 (VivI8042, 1);
  g_mutex_init (&kbc->lock);
  kbc->stop = stop;
  /* As firmware leaves it after POST: keyboard interrupt on, system flag
   * set, no mouse, scan codes translated to set 1. */
  kbc->ram[0] = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
  kbc->output_port = OUTPORT_RESET_HIGH | OUTPORT_A20;
  return kbc;
}

void
viv_i8042_free (VivI8042 *kbc)
{
  if (!kbc)
    return;
  g_mutex_clear (&kbc->lock);
  g_free (kbc);
}

void
viv_i8042_set_kbd_irq (VivI8042 *kbc, VivIrqLine kbd_irq)
{
  g_mutex_lock (&kbc->lock);
  kbc->irq = kbd_irq;
  kbc->irq_level = false;
  update_irq (kbc, false);
  g_mutex_unlock (&kbc->lock);
}
