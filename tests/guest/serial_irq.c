/* COM1 receive by interrupt: GSI (from the tables, normally 4) through the
 * IOAPIC to VEC_COM1 on the BSP.  The CPL0 handler only counts; the
 * bytes are read here at CPL3 after each interrupt. */
#include "probe.h"

#define UART_IER 1
#define UART_MCR 4
#define IER_RX_AVAILABLE 0x01
#define MCR_DTR_RTS_OUT2 0x0b

static uint64_t seen_interrupts;
static bool more_pending;       /* the last read stopped with bytes left */

void
serial_irq_enable (void)
{
  lapic_enable ();
  seen_interrupts = irq_counts[VEC_COM1];
  if (!ioapic_route (probe_platform.com1_gsi, VEC_COM1, probe_platform.com1_active_low, false, lapic_id ()))
    probe_printf ("PROBE irq error=no-ioapic-pin gsi=%u\r\n", probe_platform.com1_gsi);
  outb (PORT_COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
  outb (PORT_COM1 + UART_IER, IER_RX_AVAILABLE);
}

size_t
serial_irq_read (uint8_t *buf, size_t size)
{
  /* The line stays high while bytes are left: no new edge for them. */
  if (!more_pending)
    while (irq_counts[VEC_COM1] == seen_interrupts)
      sys_wait (&irq_counts[VEC_COM1], seen_interrupts);
  seen_interrupts = irq_counts[VEC_COM1];
  size_t n = 0;
  while (n < size && serial_rx_ready ())
    buf[n++] = serial_rx ();
  more_pending = n == size && serial_rx_ready ();
  return n;
}
