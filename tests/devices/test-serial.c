/* 16550A UART: driven the way Linux's 8250 driver probes and services it.
 *
 * The interrupt line is recorded as an edge-triggered IOAPIC pin would see
 * it: a rising edge latches a request (IRR), which is "delivered" by running
 * a handler that behaves like the 8250 one (read IIR until it says no
 * interrupt; each pass reads LSR, drains received bytes while DR, reads MSR,
 * refills THR when THRE and THRI).  A lost interrupt leaves data stranded,
 * which the tests check for. */
#include <string.h>
#include <gio/gio.h>

#include "devices/serial.h"
#include "layout.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IER_RLSI  0x04
#define IER_MSI   0x08
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_BI    0x10
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define IIR_NO_INT 0x01

typedef struct {
  VivBus *bus;
  VivSerial *uart;
  GMutex lock;          /* the line and rx-ready may be touched by two threads */
  bool level;
  unsigned rises, falls;
  bool irr;             /* an edge arrived and was not delivered yet */
  GByteArray *output;
  unsigned rx_ready_calls;
  GCond rx_ready_cond;

  /* The "driver" side. */
  uint8_t ier;
  GByteArray *received;
  GByteArray *to_send;
  guint sent;
  unsigned handler_passes;
} Rig;

static void
rig_set_level (void *ctx, unsigned gsi, bool level)
{
  Rig *rig = ctx;
  g_assert_cmpuint (gsi, ==, VIV_IRQ_COM1);
  g_mutex_lock (&rig->lock);
  /* The device drives changes only. */
  g_assert_true (level != rig->level);
  rig->level = level;
  if (level)
    {
      rig->rises++;
      rig->irr = true;
    }
  else
    rig->falls++;
  g_mutex_unlock (&rig->lock);
}

static void
rig_output (void *ctx, const uint8_t *buf, size_t len)
{
  Rig *rig = ctx;
  g_byte_array_append (rig->output, buf, (guint) len);
}

static void
rig_rx_ready (void *ctx)
{
  Rig *rig = ctx;
  g_mutex_lock (&rig->lock);
  rig->rx_ready_calls++;
  g_cond_signal (&rig->rx_ready_cond);
  g_mutex_unlock (&rig->lock);
}

static Rig *
rig_new (void)
{
  Rig *rig = g_new0 (Rig, 1);
  g_autoptr (GError) error = NULL;
  g_mutex_init (&rig->lock);
  g_cond_init (&rig->rx_ready_cond);
  rig->output = g_byte_array_new ();
  rig->received = g_byte_array_new ();
  rig->to_send = g_byte_array_new ();
  rig->bus = viv_bus_new ("pio");
  VivIrqLine irq = { rig_set_level, rig, VIV_IRQ_COM1 };
  VivByteSink sink = { rig_output, rig };
  rig->uart = viv_serial_new (irq, sink);
  viv_serial_set_rx_ready_cb (rig->uart, rig_rx_ready, rig);
  g_assert_true (viv_bus_register (rig->bus, VIV_PORT_COM1, 8, viv_serial_ops (), rig->uart, &error));
  g_assert_no_error (error);
  return rig;
}

static void
rig_free (Rig *rig)
{
  viv_bus_free (rig->bus);
  viv_serial_free (rig->uart);
  g_byte_array_unref (rig->output);
  g_byte_array_unref (rig->received);
  g_byte_array_unref (rig->to_send);
  g_cond_clear (&rig->rx_ready_cond);
  g_mutex_clear (&rig->lock);
  g_free (rig);
}

static void
outb (Rig *rig, unsigned reg, uint8_t val)
{
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_COM1 + reg, &val, 1));
}

static uint8_t
inb (Rig *rig, unsigned reg)
{
  uint8_t val = 0;
  g_assert_true (viv_bus_read (rig->bus, VIV_PORT_COM1 + reg, &val, 1));
  return val;
}

static void
host_send (Rig *rig, const char *text)
{
  size_t len = strlen (text);
  g_assert_cmpuint (viv_serial_receive (rig->uart, (const uint8_t *) text, len), ==, len);
}

/* One pass of an 8250-style interrupt handler; false when IIR says none. */
static bool
driver_handle_irq (Rig *rig)
{
  uint8_t iir = inb (rig, IIR);
  if (iir & IIR_NO_INT)
    return false;
  rig->handler_passes++;
  uint8_t lsr = inb (rig, LSR);
  if (lsr & (LSR_DR | LSR_BI))
    for (int budget = 256; (lsr & LSR_DR) && budget > 0; budget--)
      {
        uint8_t byte = inb (rig, RBR);
        g_byte_array_append (rig->received, &byte, 1);
        lsr = inb (rig, LSR);
      }
  (void) inb (rig, MSR);
  if ((lsr & LSR_THRE) && (rig->ier & IER_THRI))
    {
      for (int fifo = 16; fifo > 0 && rig->sent < rig->to_send->len; fifo--)
        outb (rig, THR, rig->to_send->data[rig->sent++]);
      if (rig->sent == rig->to_send->len)
        {
          rig->ier &= ~IER_THRI;   /* nothing left: stop transmitting */
          outb (rig, IER, rig->ier);
        }
    }
  return true;
}

/* Deliver latched edges until none is left, like an IOAPIC edge pin with
 * its IRR bit.  Returns how many deliveries there were. */
static unsigned
deliver_interrupts (Rig *rig)
{
  unsigned deliveries = 0;
  for (;;)
    {
      g_mutex_lock (&rig->lock);
      bool pending = rig->irr;
      rig->irr = false;
      g_mutex_unlock (&rig->lock);
      if (!pending)
        return deliveries;
      deliveries++;
      g_assert_cmpuint (deliveries, <, 10000);
      for (int pass = 0; pass < 512 && driver_handle_irq (rig); pass++)
        ;
    }
}

/* What serial8250_start_tx does: queue bytes, make sure THRI is on. */
static void
driver_write (Rig *rig, const char *text)
{
  g_byte_array_append (rig->to_send, (const uint8_t *) text, (guint) strlen (text));
  if (!(rig->ier & IER_THRI))
    {
      rig->ier |= IER_THRI;
      outb (rig, IER, rig->ier);
    }
}

/* The port set up the way the 8250 driver leaves it after startup. */
static void
driver_startup (Rig *rig)
{
  outb (rig, FCR, 0x01);
  outb (rig, FCR, 0x01 | 0x02 | 0x04);   /* clear both FIFOs */
  outb (rig, FCR, 0x01 | 0x80);          /* FIFO on, RX trigger at 8 */
  outb (rig, LCR, 0x03);                 /* 8N1 */
  outb (rig, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
  rig->ier = IER_RDI | IER_RLSI;
  outb (rig, IER, rig->ier);
  deliver_interrupts (rig);
}

static void
test_serial_autoconfig (void)
{
  Rig *rig = rig_new ();

  /* Power-on state. */
  g_assert_cmpuint (inb (rig, IIR), ==, 0x01);
  g_assert_cmpuint (inb (rig, LSR), ==, LSR_THRE | LSR_TEMT);
  g_assert_cmpuint (inb (rig, MSR), ==, 0xB0);   /* CTS, DSR, DCD; no deltas */
  g_assert_cmpuint (inb (rig, MCR), ==, 0);

  /* Scratch register. */
  outb (rig, SCR, 0xA5);
  g_assert_cmpuint (inb (rig, SCR), ==, 0xA5);
  outb (rig, SCR, 0x5A);
  g_assert_cmpuint (inb (rig, SCR), ==, 0x5A);

  /* IER: the low nibble is writable, the high one is not (not an XScale
   * UART with its UUE bit, not a 16750). */
  outb (rig, IER, 0);
  g_assert_cmpuint (inb (rig, IER) & 0x0F, ==, 0);
  outb (rig, IER, 0x0F);
  g_assert_cmpuint (inb (rig, IER), ==, 0x0F);
  outb (rig, IER, 0xF0);
  g_assert_cmpuint (inb (rig, IER), ==, 0);

  /* Loopback: RTS and OUT2 come back as CTS and DCD. */
  outb (rig, MCR, MCR_LOOP | MCR_RTS | MCR_OUT2);
  g_assert_cmpuint (inb (rig, MSR) & 0xF0, ==, 0x90);
  outb (rig, MCR, 0);

  /* FIFO enable: IIR's top bits read 11, a 16550A. */
  outb (rig, FCR, 0x01);
  g_assert_cmpuint (inb (rig, IIR) >> 6, ==, 3);

  /* With LCR = 0xBF or 0x80 offset 2 is still IIR (non-zero): no EFR of
   * a 16650/16950. */
  outb (rig, LCR, 0xBF);
  g_assert_cmpuint (inb (rig, IIR), !=, 0);
  outb (rig, LCR, 0x80);
  g_assert_cmpuint (inb (rig, IIR), !=, 0);
  /* No National SuperIO bank 2: MCR LOOP does not show at offset 2. */
  outb (rig, LCR, 0);
  outb (rig, MCR, MCR_LOOP);
  outb (rig, LCR, 0xE0);
  g_assert_cmpuint (inb (rig, IIR) & MCR_LOOP, ==, 0);
  outb (rig, LCR, 0);
  outb (rig, MCR, 0);
  /* The 64-byte FIFO bit is not reflected in IIR bit 5: no 16750. */
  outb (rig, LCR, 0x80);
  outb (rig, FCR, 0x21);
  g_assert_cmpuint ((inb (rig, IIR) >> 5) & 7, ==, 6);
  outb (rig, LCR, 0);
  outb (rig, FCR, 0x21);
  g_assert_cmpuint ((inb (rig, IIR) >> 5) & 7, ==, 6);

  /* FIFOs off again: IIR bits 6-7 clear. */
  outb (rig, FCR, 0);
  g_assert_cmpuint (inb (rig, IIR), ==, 0x01);
  g_assert_cmpuint (rig->rises, ==, 0);
  g_assert_cmpuint (rig->output->len, ==, 0);
  rig_free (rig);
}

static void
test_serial_divisor_latch (void)
{
  Rig *rig = rig_new ();
  outb (rig, IER, IER_RDI);
  outb (rig, LCR, 0x80 | 0x03);
  outb (rig, DLL, 0x01);
  outb (rig, DLM, 0x00);
  g_assert_cmpuint (inb (rig, DLL), ==, 0x01);
  g_assert_cmpuint (inb (rig, DLM), ==, 0x00);
  outb (rig, DLL, 0x80);
  outb (rig, DLM, 0x01);
  g_assert_cmpuint (inb (rig, DLL), ==, 0x80);
  g_assert_cmpuint (inb (rig, DLM), ==, 0x01);
  g_assert_cmpuint (inb (rig, LCR), ==, 0x83);
  /* The latch writes neither transmitted nor touched IER. */
  g_assert_cmpuint (rig->output->len, ==, 0);
  outb (rig, LCR, 0x03);
  g_assert_cmpuint (inb (rig, IER), ==, IER_RDI);
  outb (rig, THR, 'x');
  g_assert_cmpmem (rig->output->data, rig->output->len, "x", 1);
  /* And the latch kept its value. */
  outb (rig, LCR, 0x83);
  g_assert_cmpuint (inb (rig, DLL), ==, 0x80);
  g_assert_cmpuint (inb (rig, DLM), ==, 0x01);
  rig_free (rig);
}

/* serial8250_do_startup's THRE checks: enabling THRI with THR empty must
 * show a THRE interrupt, every time it is enabled. */
static void
test_serial_thre (void)
{
  Rig *rig = rig_new ();
  outb (rig, FCR, 0x01);
  outb (rig, MCR, MCR_OUT2);

  outb (rig, IER, IER_THRI);
  g_assert_cmpuint (rig->rises, ==, 1);
  g_assert_true (rig->level);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC2);
  /* Reading IIR acknowledged it. */
  g_assert_false (rig->level);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);

  outb (rig, IER, 0);
  outb (rig, IER, IER_THRI);
  g_assert_cmpuint (rig->rises, ==, 2);
  uint8_t lsr = inb (rig, LSR);
  g_assert_cmpuint (lsr & (LSR_THRE | LSR_TEMT), ==, LSR_THRE | LSR_TEMT);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC2);

  /* Rewriting IER with THRI still on is not a new enable. */
  outb (rig, IER, IER_THRI);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);
  g_assert_cmpuint (rig->rises, ==, 2);

  /* Writing THR clears THRE; the byte leaves at once and THR is empty
   * again: a new edge. */
  outb (rig, THR, 'a');
  g_assert_cmpuint (rig->rises, ==, 3);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC2);

  /* Masked by IER = 0 while pending: the line drops. */
  outb (rig, THR, 'b');
  g_assert_true (rig->level);
  outb (rig, IER, 0);
  g_assert_false (rig->level);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);
  g_assert_cmpmem (rig->output->data, rig->output->len, "ab", 2);
  rig_free (rig);
}

static void
test_serial_tx_interrupt_driven (void)
{
  Rig *rig = rig_new ();
  driver_startup (rig);

  const char *text = "The quick brown fox jumps over the lazy dog, 0123456789 times.\n";
  driver_write (rig, text);
  g_assert_cmpuint (deliver_interrupts (rig), >=, 1);
  g_assert_cmpmem (rig->output->data, rig->output->len, text, strlen (text));
  /* One THRE per 16-byte FIFO load. */
  g_assert_cmpuint (rig->handler_passes, ==, (strlen (text) + 15) / 16);
  g_assert_false (rig->level);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);

  /* A second burst restarts with THRI. */
  driver_write (rig, "again\n");
  deliver_interrupts (rig);
  g_assert_cmpuint (rig->output->len, ==, strlen (text) + 6);
  g_assert_false (rig->level);
  rig_free (rig);
}

static void
test_serial_rx_interrupt (void)
{
  Rig *rig = rig_new ();
  driver_startup (rig);
  unsigned rises = rig->rises;

  /* Below the trigger level (8): character timeout. */
  host_send (rig, "abc");
  g_assert_cmpuint (rig->rises, ==, rises + 1);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xCC);
  g_assert_cmpuint (inb (rig, LSR) & LSR_DR, ==, LSR_DR);
  deliver_interrupts (rig);
  g_assert_cmpmem (rig->received->data, rig->received->len, "abc", 3);
  g_assert_false (rig->level);

  /* At or above it: received data available. */
  host_send (rig, "0123456789");
  g_assert_cmpuint (rig->rises, ==, rises + 2);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC4);
  deliver_interrupts (rig);
  g_assert_cmpuint (rig->received->len, ==, 13);
  g_assert_cmpuint (inb (rig, LSR) & LSR_DR, ==, 0);

  /* More than the FIFO holds: the host keeps the rest until told. */
  const char *burst = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  size_t taken = viv_serial_receive (rig->uart, (const uint8_t *) burst, 26);
  g_assert_cmpuint (taken, ==, 16);
  g_assert_cmpuint (rig->rx_ready_calls, ==, 0);
  deliver_interrupts (rig);
  g_assert_cmpuint (rig->rx_ready_calls, ==, 1);
  g_assert_cmpuint (viv_serial_receive (rig->uart, (const uint8_t *) burst + 16, 10), ==, 10);
  deliver_interrupts (rig);
  g_assert_cmpuint (rig->received->len, ==, 13 + 26);
  g_assert_cmpmem (rig->received->data + 13, 26, burst, 26);
  /* Nothing was refused this time: no callback. */
  g_assert_cmpuint (rig->rx_ready_calls, ==, 1);
  /* No overrun from host input: it waits instead. */
  g_assert_cmpuint (inb (rig, LSR) & LSR_OE, ==, 0);
  rig_free (rig);
}

/* An IIR read that acknowledges THRE while received data comes in, with THRI
 * and RDI both on: the line must drop and rise again so the edge pin sees
 * the data; no interrupt may be lost in any interleaving. */
static void
test_serial_no_lost_interrupts (void)
{
  Rig *rig = rig_new ();
  driver_startup (rig);

  /* THRE pending and acknowledged by the IIR read (the only cause), then
   * data arrives: a new rising edge. */
  driver_write (rig, "x");
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC2);
  g_assert_false (rig->level);
  unsigned rises = rig->rises;
  host_send (rig, "y");
  g_assert_cmpuint (rig->rises, ==, rises + 1);
  deliver_interrupts (rig);
  g_assert_cmpmem (rig->received->data, rig->received->len, "y", 1);
  g_assert_cmpmem (rig->output->data, rig->output->len, "x", 1);

  /* Random interleavings of host input, guest output and deliveries. */
  GByteArray *expected_in = g_byte_array_new ();
  g_byte_array_append (expected_in, (const uint8_t *) "y", 1);
  for (int step = 0; step < 2000; step++)
    {
      switch (g_test_rand_int_range (0, 4))
        {
        case 0:
          {
            uint8_t chunk[20];
            size_t n = (size_t) g_test_rand_int_range (1, 20);
            for (size_t i = 0; i < n; i++)
              chunk[i] = (uint8_t) g_test_rand_int_range ('a', 'z' + 1);
            size_t taken = viv_serial_receive (rig->uart, chunk, n);
            g_byte_array_append (expected_in, chunk, (guint) taken);
            break;
          }
        case 1:
          driver_write (rig, g_test_rand_bit () ? "hello" : "world, and more than sixteen bytes");
          break;
        case 2:
          /* One handler pass only, as if the edge had arrived mid-way. */
          driver_handle_irq (rig);
          break;
        default:
          deliver_interrupts (rig);
          break;
        }
    }
  deliver_interrupts (rig);
  g_assert_cmpmem (rig->received->data, rig->received->len, expected_in->data, expected_in->len);
  g_assert_cmpmem (rig->output->data, rig->output->len, rig->to_send->data, rig->to_send->len);
  g_assert_false (rig->level);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);
  g_byte_array_unref (expected_in);
  rig_free (rig);
}

/* On a PC, MCR OUT2 gates the interrupt onto the bus. */
static void
test_serial_out2_gate (void)
{
  Rig *rig = rig_new ();
  outb (rig, FCR, 0x01);
  outb (rig, IER, IER_RDI);
  host_send (rig, "q");
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC4);   /* pending inside the UART */
  g_assert_false (rig->level);
  g_assert_cmpuint (rig->rises, ==, 0);

  outb (rig, MCR, MCR_OUT2);
  g_assert_true (rig->level);
  g_assert_cmpuint (rig->rises, ==, 1);
  outb (rig, MCR, MCR_DTR);
  g_assert_false (rig->level);
  outb (rig, MCR, MCR_OUT2 | MCR_DTR);
  g_assert_cmpuint (rig->rises, ==, 2);
  g_assert_cmpuint (inb (rig, RBR), ==, 'q');
  g_assert_false (rig->level);
  g_assert_cmpuint (rig->falls, ==, 2);
  rig_free (rig);
}

static void
test_serial_overrun (void)
{
  Rig *rig = rig_new ();
  outb (rig, FCR, 0x01);
  outb (rig, IER, IER_RDI | IER_RLSI);
  /* Loopback feeds our own bytes into the receiver, faster than it is read. */
  outb (rig, MCR, MCR_LOOP | MCR_OUT2);
  for (int i = 0; i < 17; i++)
    outb (rig, THR, (uint8_t) ('A' + i));
  g_assert_cmpuint (rig->output->len, ==, 0);
  /* The line status interrupt outranks received data. */
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC6);
  uint8_t lsr = inb (rig, LSR);
  g_assert_cmpuint (lsr & (LSR_OE | LSR_DR), ==, LSR_OE | LSR_DR);
  g_assert_cmpuint (inb (rig, LSR) & LSR_OE, ==, 0);   /* cleared by reading */
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC4);
  /* The FIFO kept the first 16; the 17th was lost. */
  for (int i = 0; i < 16; i++)
    g_assert_cmpuint (inb (rig, RBR), ==, 'A' + i);
  g_assert_cmpuint (inb (rig, LSR) & LSR_DR, ==, 0);
  /* In loopback the OUT2 pin is forced inactive: the bus line stayed low. */
  g_assert_cmpuint (rig->rises, ==, 0);

  /* Without FIFOs the holding register is overwritten. */
  outb (rig, FCR, 0);
  outb (rig, THR, '1');
  outb (rig, THR, '2');
  g_assert_cmpuint (inb (rig, LSR) & (LSR_OE | LSR_DR), ==, LSR_OE | LSR_DR);
  g_assert_cmpuint (inb (rig, RBR), ==, '2');
  g_assert_cmpuint (inb (rig, LSR) & LSR_DR, ==, 0);
  rig_free (rig);
}

static void
test_serial_loopback (void)
{
  Rig *rig = rig_new ();
  outb (rig, FCR, 0x01);
  (void) inb (rig, MSR);

  outb (rig, MCR, MCR_LOOP);
  /* All outputs off: the inputs drop, with their deltas. */
  g_assert_cmpuint (inb (rig, MSR), ==, 0x0B);   /* DCTS, DDSR, DDCD */
  g_assert_cmpuint (inb (rig, MSR), ==, 0x00);

  outb (rig, MCR, MCR_LOOP | MCR_DTR);
  g_assert_cmpuint (inb (rig, MSR), ==, 0x20 | 0x02);   /* DSR, DDSR */
  outb (rig, MCR, MCR_LOOP | MCR_DTR | MCR_RTS);
  g_assert_cmpuint (inb (rig, MSR), ==, 0x30 | 0x01);   /* + CTS, DCTS */
  outb (rig, MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1);
  g_assert_cmpuint (inb (rig, MSR), ==, 0x70);          /* RI: no delta on rise */
  outb (rig, MCR, MCR_LOOP | MCR_DTR | MCR_RTS);
  g_assert_cmpuint (inb (rig, MSR), ==, 0x30 | 0x04);   /* TERI on the fall */
  outb (rig, MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT2);
  g_assert_cmpuint (inb (rig, MSR), ==, 0xB0 | 0x08);   /* DCD, DDCD */

  /* The modem status interrupt, seen in IIR (the bus line is gated off). */
  outb (rig, IER, IER_MSI);
  outb (rig, MCR, MCR_LOOP | MCR_RTS | MCR_OUT2);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC0);
  (void) inb (rig, MSR);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);

  /* Transmit loops back; host input is disconnected. */
  outb (rig, THR, 'L');
  uint8_t h = 'h';
  g_assert_cmpuint (viv_serial_receive (rig->uart, &h, 1), ==, 0);
  g_assert_cmpuint (inb (rig, RBR), ==, 'L');
  g_assert_cmpuint (rig->output->len, ==, 0);

  /* Leaving loopback reconnects the host, which is told it may send. */
  outb (rig, MCR, MCR_OUT2);
  g_assert_cmpuint (rig->rx_ready_calls, ==, 1);
  g_assert_cmpuint (inb (rig, MSR) & 0xF0, ==, 0xB0);
  g_assert_cmpuint (viv_serial_receive (rig->uart, &h, 1), ==, 1);
  g_assert_cmpuint (inb (rig, RBR), ==, 'h');
  outb (rig, THR, 'o');
  g_assert_cmpmem (rig->output->data, rig->output->len, "o", 1);
  rig_free (rig);
}

static void
test_serial_priority (void)
{
  Rig *rig = rig_new ();
  outb (rig, FCR, 0x01);
  outb (rig, MCR, MCR_LOOP);
  (void) inb (rig, MSR);
  outb (rig, IER, 0x0F);
  outb (rig, MCR, MCR_LOOP | MCR_DTR);   /* a modem status change */
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC2);   /* THRE above modem status */
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC0);
  for (int i = 0; i < 17; i++)
    outb (rig, THR, (uint8_t) i);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC6);   /* line status first */
  (void) inb (rig, LSR);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC4);   /* then received data */
  for (int i = 0; i < 16; i++)
    (void) inb (rig, RBR);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC2);   /* THR written since: THRE */
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC0);   /* modem status last */
  (void) inb (rig, MSR);
  g_assert_cmpuint (inb (rig, IIR), ==, 0xC1);
  rig_free (rig);
}

static void
test_serial_reset (void)
{
  Rig *rig = rig_new ();
  driver_startup (rig);
  outb (rig, SCR, 0x77);
  uint8_t burst[20] = { 0 };
  g_assert_cmpuint (viv_serial_receive (rig->uart, burst, 20), ==, 16);
  g_assert_true (rig->level);

  viv_serial_reset (rig->uart);
  g_assert_false (rig->level);
  g_assert_cmpuint (rig->rx_ready_calls, ==, 1);   /* the FIFO is empty */
  g_assert_cmpuint (inb (rig, IER), ==, 0);
  g_assert_cmpuint (inb (rig, IIR), ==, 0x01);
  g_assert_cmpuint (inb (rig, LCR), ==, 0);
  g_assert_cmpuint (inb (rig, MCR), ==, 0);
  g_assert_cmpuint (inb (rig, LSR), ==, LSR_THRE | LSR_TEMT);
  g_assert_cmpuint (inb (rig, MSR), ==, 0xB0);
  g_assert_cmpuint (inb (rig, SCR), ==, 0);
  rig_free (rig);
}

/* 16-bit accesses split into two byte accesses, as on the ISA bus. */
static void
test_serial_wide_access (void)
{
  Rig *rig = rig_new ();
  uint16_t word = 0x0341;   /* THR = 'A', IER = 0x03 */
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_COM1, &word, 2));
  g_assert_cmpmem (rig->output->data, rig->output->len, "A", 1);
  g_assert_cmpuint (inb (rig, IER), ==, 0x03);
  uint16_t lsr_msr = 0;
  g_assert_true (viv_bus_read (rig->bus, VIV_PORT_COM1 + LSR, &lsr_msr, 2));
  g_assert_cmpuint (lsr_msr, ==, 0xB060);
  rig_free (rig);
}

/* The host feeds input from another thread while a vCPU-like thread reads
 * it: every byte arrives, in order. */
typedef struct {
  Rig *rig;
  guint total;
} Feeder;

static gpointer
feeder_thread (gpointer data)
{
  Feeder *f = data;
  Rig *rig = f->rig;
  guint sent = 0;
  while (sent < f->total)
    {
      uint8_t chunk[64];
      guint n = MIN (sizeof chunk, f->total - sent);
      for (guint i = 0; i < n; i++)
        chunk[i] = (uint8_t) (sent + i);
      g_mutex_lock (&rig->lock);
      unsigned calls = rig->rx_ready_calls;
      g_mutex_unlock (&rig->lock);
      size_t taken = viv_serial_receive (rig->uart, chunk, n);
      sent += (guint) taken;
      if (taken < n)
        {
          /* Wait for the guest to drain the FIFO (the callback may already
           * have come between the receive and here). */
          g_mutex_lock (&rig->lock);
          while (rig->rx_ready_calls == calls)
            g_cond_wait (&rig->rx_ready_cond, &rig->lock);
          g_mutex_unlock (&rig->lock);
        }
    }
  return NULL;
}

static void
test_serial_threads (void)
{
  Rig *rig = rig_new ();
  outb (rig, FCR, 0x01);
  Feeder f = { rig, 20000 };
  GThread *thread = g_thread_new ("feeder", feeder_thread, &f);
  guint got = 0;
  while (got < f.total)
    {
      if (inb (rig, LSR) & LSR_DR)
        {
          g_assert_cmpuint (inb (rig, RBR), ==, (uint8_t) got);
          got++;
        }
      else
        g_thread_yield ();
    }
  g_thread_join (thread);
  g_assert_cmpuint (inb (rig, LSR) & (LSR_DR | LSR_OE), ==, 0);
  rig_free (rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/serial/autoconfig", test_serial_autoconfig);
  g_test_add_func ("/viv/serial/divisor-latch", test_serial_divisor_latch);
  g_test_add_func ("/viv/serial/thre", test_serial_thre);
  g_test_add_func ("/viv/serial/tx-interrupt-driven", test_serial_tx_interrupt_driven);
  g_test_add_func ("/viv/serial/rx-interrupt", test_serial_rx_interrupt);
  g_test_add_func ("/viv/serial/no-lost-interrupts", test_serial_no_lost_interrupts);
  g_test_add_func ("/viv/serial/out2-gate", test_serial_out2_gate);
  g_test_add_func ("/viv/serial/overrun", test_serial_overrun);
  g_test_add_func ("/viv/serial/loopback", test_serial_loopback);
  g_test_add_func ("/viv/serial/priority", test_serial_priority);
  g_test_add_func ("/viv/serial/reset", test_serial_reset);
  g_test_add_func ("/viv/serial/wide-access", test_serial_wide_access);
  g_test_add_func ("/viv/serial/threads", test_serial_threads);
  return g_test_run ();
}
