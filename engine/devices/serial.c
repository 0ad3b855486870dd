/* 16550A UART, modelled on the National PC16550D data sheet closely enough
 * for Linux's 8250 driver to detect a "16550A" and run interrupt driven.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * output sink (the host side is always ready), so THR and the transmitter
 * are always empty (LSR THRE and TEMT set) and the THRE interrupt comes back
 * as soon as it is cleared by a THR write.
 *
 * Locking: one mutex per UART covers the registers, the receive FIFO and the
 * IRQ update that follows a register access, so the level driven on the
 * VivIrqLine always matches the registers (the line's set_level must not
 * call back into this device).  The output sink and the rx-ready callback
 * are called with the mutex released: they may call viv_serial_receive. */
#include "devices/serial.h"

#include <string.h>

#define UART_REG_COUNT 8
#define RX_FIFO_SIZE   16

/* Register offsets (DLAB = LCR bit 7 selects the divisor latch at 0 and 1). */
enum {
  REG_RBR_THR_DLL = 0,
  REG_IER_DLM = 1,
  REG_IIR_FCR = 2,
  REG_LCR = 3,
  REG_MCR = 4,
  REG_LSR = 5,
  REG_MSR = 6,
  REG_SCR = 7,
};

#define IER_ERBFI  0x01   /* received data available (and character timeout) */
#define IER_ETBEI  0x02   /* transmitter holding register empty */
#define IER_ELSI   0x04   /* receiver line status */
#define IER_EDSSI  0x08   /* modem status */
#define IER_MASK   0x0F   /* bits 4-7 read as zero on a 16550A */

#define IIR_NO_INT      0x01
#define IIR_MODEM       0x00
#define IIR_THRE        0x02
#define IIR_RX_DATA     0x04
#define IIR_LINE_STATUS 0x06
#define IIR_RX_TIMEOUT  0x0C
#define IIR_FIFO_ON     0xC0

#define FCR_ENABLE     0x01
#define FCR_CLEAR_RX   0x02
#define FCR_DMA_MODE   0x08
#define FCR_TRIGGER    0xC0

#define LCR_DLAB  0x80

#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define MCR_MASK  0x1F

#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_PE    0x04
#define LSR_FE    0x08
#define LSR_BI    0x10
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

struct VivSerial {
  GMutex lock;
  VivIrqLine irq;
  VivByteSink output;
  void (*rx_ready_cb) (void *ctx);
  void *rx_ready_ctx;

  uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
  uint8_t lsr_errors;      /* OE/PE/FE/BI, cleared by reading LSR */
  uint8_t msr_status;      /* CTS/DSR/RI/DCD as the UART sees them */
  uint8_t msr_deltas;      /* DCTS/DDSR/TERI/DDCD, cleared by reading MSR */
  bool thre_pending;       /* THRE interrupt latched; needs ETBEI to show */

  uint8_t rx_fifo[RX_FIFO_SIZE];
  unsigned rx_head, rx_count;
  uint8_t rbr_last;        /* what an RBR read returns when the FIFO is empty */

  bool irq_level;          /* level last driven on the line */
  bool host_waiting;       /* viv_serial_receive refused bytes: call rx_ready */
};

/* What one register access produces for the caller to do once unlocked. */
typedef struct {
  uint8_t tx[8];
  unsigned tx_len;
  void (*rx_ready_cb) (void *ctx);   /* copied under the lock, called after */
  void *rx_ready_ctx;
} SerialEffects;

static bool
fifo_enabled (const VivSerial *s)
{
  return s->fcr & FCR_ENABLE;
}

static unsigned
rx_capacity (const VivSerial *s)
{
  /* Without FIFOs the receiver holds one byte (16450 mode). */
  return fifo_enabled (s) ? RX_FIFO_SIZE : 1;
}

static unsigned
rx_trigger_level (const VivSerial *s)
{
  static const unsigned levels[4] = { 1, 4, 8, 14 };
  return levels[(s->fcr & FCR_TRIGGER) >> 6];
}

static void
rx_clear (VivSerial *s)
{
  s->rx_head = 0;
  s->rx_count = 0;
}

/* A byte arrives in the receive shift register. */
static void
rx_push (VivSerial *s, uint8_t byte)
{
  if (s->rx_count < rx_capacity (s))
    {
      s->rx_fifo[(s->rx_head + s->rx_count) % RX_FIFO_SIZE] = byte;
      s->rx_count++;
      return;
    }
  s->lsr_errors |= LSR_OE;
  /* A full FIFO keeps its contents and the new byte is lost; a lone
   * holding register (FIFOs off) is overwritten. */
  if (!fifo_enabled (s))
    s->rx_fifo[s->rx_head] = byte;
}

static uint8_t
rx_pop (VivSerial *s)
{
  if (s->rx_count == 0)
    return s->rbr_last;
  s->rbr_last = s->rx_fifo[s->rx_head];
  s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
  s->rx_count--;
  return s->rbr_last;
}

/* Modem inputs: a PC serial port with a "connected" peer asserts CTS, DSR
 * and DCD.  In loopback the four outputs feed the four inputs instead. */
static uint8_t
modem_inputs (const VivSerial *s)
{
  if (!(s->mcr & MCR_LOOP))
    return MSR_CTS | MSR_DSR | MSR_DCD;
  return ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
         ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
         ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
         ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
}

static void
update_modem_status (VivSerial *s)
{
  uint8_t now = modem_inputs (s);
  uint8_t changed = now ^ s->msr_status;
  if (changed & MSR_CTS)
    s->msr_deltas |= MSR_DCTS;
  if (changed & MSR_DSR)
    s->msr_deltas |= MSR_DDSR;
  if ((changed & MSR_RI) && !(now & MSR_RI))   /* trailing edge of ring */
    s->msr_deltas |= MSR_TERI;
  if (changed & MSR_DCD)
    s->msr_deltas |= MSR_DDCD;
  s->msr_status = now;
}

/* The highest-priority enabled interrupt, as IIR bits 0-3. */
static uint8_t
pending_interrupt (const VivSerial *s)
{
  if ((s->ier & IER_ELSI) && (s->lsr_errors & LSR_ERRORS))
    return IIR_LINE_STATUS;
  if ((s->ier & IER_ERBFI) && s->rx_count > 0)
    {
      /* We have no receive timing, so data waiting below the trigger level
       * reports the character timeout at once instead of after 4 chars. */
      if (fifo_enabled (s) && s->rx_count < rx_trigger_level (s))
        return IIR_RX_TIMEOUT;
      return IIR_RX_DATA;
    }
  if ((s->ier & IER_ETBEI) && s->thre_pending)
    return IIR_THRE;
  if ((s->ier & IER_EDSSI) && s->msr_deltas)
    return IIR_MODEM;
  return IIR_NO_INT;
}

/* The IRQ pin is a level: any enabled cause pending.  On a PC, OUT2 gates it
 * onto the bus; in loopback the OUT2 pin is forced inactive, so the bus line
 * stays low.  The IOAPIC pin is edge-triggered, so only changes are driven:
 * each time the guest's handler reads IIR until "no interrupt" the line is
 * low, and the next cause produces a fresh rising edge. */
static void
update_irq (VivSerial *s)
{
  bool level = pending_interrupt (s) != IIR_NO_INT &&
               (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
  if (level == s->irq_level)
    return;
  s->irq_level = level;
  viv_irq_line_set (&s->irq, level);
}

/* The host side may offer more input once the FIFO is empty again. */
static void
check_rx_ready (VivSerial *s, SerialEffects *fx)
{
  if (s->host_waiting && s->rx_count == 0 && !(s->mcr & MCR_LOOP))
    {
      s->host_waiting = false;
      fx->rx_ready_cb = s->rx_ready_cb;
      fx->rx_ready_ctx = s->rx_ready_ctx;
    }
}

static uint8_t
serial_read_reg (VivSerial *s, unsigned reg, SerialEffects *fx)
{
  switch (reg)
    {
    case REG_RBR_THR_DLL:
      if (s->lcr & LCR_DLAB)
        return s->dll;
      {
        uint8_t byte = rx_pop (s);
        check_rx_ready (s, fx);
        return byte;
      }
    case REG_IER_DLM:
      return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
    case REG_IIR_FCR:
      {
        uint8_t id = pending_interrupt (s);
        /* Reading IIR acknowledges THRE when THRE is what it reports. */
        if (id == IIR_THRE)
          s->thre_pending = false;
        return id | (fifo_enabled (s) ? IIR_FIFO_ON : 0);
      }
    case REG_LCR:
      return s->lcr;
    case REG_MCR:
      return s->mcr;
    case REG_LSR:
      {
        uint8_t lsr = LSR_THRE | LSR_TEMT | s->lsr_errors;
        if (s->rx_count > 0)
          lsr |= LSR_DR;
        s->lsr_errors = 0;
        return lsr;
      }
    case REG_MSR:
      {
        uint8_t msr = s->msr_status | s->msr_deltas;
        s->msr_deltas = 0;
        return msr;
      }
    default:
      return s->scr;
    }
}

static void
serial_write_reg (VivSerial *s, unsigned reg, uint8_t val, SerialEffects *fx)
{
  switch (reg)
    {
    case REG_RBR_THR_DLL:
      if (s->lcr & LCR_DLAB)
        s->dll = val;
      else if (s->mcr & MCR_LOOP)
        rx_push (s, val);
      else if (fx->tx_len < sizeof fx->tx)
        fx->tx[fx->tx_len++] = val;
      /* Writing THR clears THRE; the byte leaves at once, so THR is empty
       * again and THRE is back: a new edge if IIR had acknowledged it. */
      if (!(s->lcr & LCR_DLAB))
        s->thre_pending = true;
      break;
    case REG_IER_DLM:
      if (s->lcr & LCR_DLAB)
        {
          s->dlm = val;
          break;
        }
      /* Enabling ETBEI while THR is empty (always, here) raises THRE;
       * Linux tests this at startup to rule out the THRE bug. */
      if (!(s->ier & IER_ETBEI) && (val & IER_ETBEI))
        s->thre_pending = true;
      s->ier = val & IER_MASK;
      break;
    case REG_IIR_FCR:
      /* Changing FIFO enable clears the FIFOs; the other bits are only
       * programmed together with FCR_ENABLE. */
      if ((val ^ s->fcr) & FCR_ENABLE)
        rx_clear (s);
      if (val & FCR_ENABLE)
        {
          if (val & FCR_CLEAR_RX)
            rx_clear (s);
          s->fcr = val & (FCR_ENABLE | FCR_DMA_MODE | FCR_TRIGGER);
        }
      else
        s->fcr = 0;
      check_rx_ready (s, fx);
      break;
    case REG_LCR:
      s->lcr = val;
      break;
    case REG_MCR:
      s->mcr = val & MCR_MASK;
      update_modem_status (s);
      check_rx_ready (s, fx);
      break;
    case REG_LSR:
    case REG_MSR:
      break;   /* factory-test writes: ignored */
    default:
      s->scr = val;
      break;
    }
}

static void
serial_finish (VivSerial *s, const SerialEffects *fx)
{
  if (fx->tx_len > 0 && s->output.write)
    s->output.write (s->output.ctx, fx->tx, fx->tx_len);
  if (fx->rx_ready_cb)
    fx->rx_ready_cb (fx->rx_ready_ctx);
}

/* Wider accesses are split into byte accesses, as the ISA bus does for an
 * 8-bit device. */
static void
serial_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivSerial *s = opaque;
  uint8_t *out = data;
  SerialEffects fx = { 0 };

  g_mutex_lock (&s->lock);
  for (unsigned i = 0; i < size; i++)
    out[i] = offset + i < UART_REG_COUNT
             ? serial_read_reg (s, (unsigned) (offset + i), &fx) : 0xff;
  update_irq (s);
  g_mutex_unlock (&s->lock);
  serial_finish (s, &fx);
}

static void
serial_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  VivSerial *s = opaque;
  const uint8_t *in = data;
  SerialEffects fx = { 0 };

  g_mutex_lock (&s->lock);
  for (unsigned i = 0; i < size && offset + i < UART_REG_COUNT; i++)
    serial_write_reg (s, (unsigned) (offset + i), in[i], &fx);
  update_irq (s);
  g_mutex_unlock (&s->lock);
  serial_finish (s, &fx);
}

static const VivDeviceOps serial_ops = {
  .name = "serial 16550A",
  .read = serial_read,
  .write = serial_write,
};

const VivDeviceOps *
viv_serial_ops (void)
{
  return &serial_ops;
}

/* Power-on register values (PC16550D table "UART reset configuration"). */
static void
serial_reset_locked (VivSerial *s)
{
  s->ier = 0;
  s->fcr = 0;
  s->lcr = 0;
  s->mcr = 0;
  s->scr = 0;
  s->lsr_errors = 0;
  s->msr_status = modem_inputs (s);
  s->msr_deltas = 0;
  s->thre_pending = false;
  s->rbr_last = 0;
  rx_clear (s);
  update_irq (s);
}

VivSerial *
viv_serial_new (VivIrqLine irq, VivByteSink output)
{
  VivSerial *s = g_new0 (VivSerial, 1);
  g_mutex_init (&s->lock);
  s->irq = irq;
  s->output = output;
  s->dll = 12;   /* 9600 baud with the PC's 1.8432 MHz clock */
  serial_reset_locked (s);
  return s;
}

void
viv_serial_free (VivSerial *serial)
{
  if (!serial)
    return;
  g_mutex_clear (&serial->lock);
  g_free (serial);
}

void
viv_serial_reset (VivSerial *serial)
{
  SerialEffects fx = { 0 };
  g_mutex_lock (&serial->lock);
  serial_reset_locked (serial);
  check_rx_ready (serial, &fx);
  g_mutex_unlock (&serial->lock);
  serial_finish (serial, &fx);
}

void
viv_serial_set_rx_ready_cb (VivSerial *serial, void (*cb) (void *ctx), void *ctx)
{
  g_mutex_lock (&serial->lock);
  serial->rx_ready_cb = cb;
  serial->rx_ready_ctx = ctx;
  g_mutex_unlock (&serial->lock);
}

size_t
viv_serial_receive (VivSerial *serial, const uint8_t *buf, size_t len)
{
  size_t taken = 0;

  g_mutex_lock (&serial->lock);
  /* In loopback the receiver input is disconnected from the outside. */
  if (!(serial->mcr & MCR_LOOP))
    while (taken < len && serial->rx_count < rx_capacity (serial))
      rx_push (serial, buf[taken++]);
  if (taken < len)
    serial->host_waiting = true;
  update_irq (serial);
  g_mutex_unlock (&serial->lock);
  return taken;
}
