/* COM1: polled output (LSR bit 5 before each byte), a small printf. */
#include "probe.h"

#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20

void
serial_putc (char c)
{
  while (!(inb (PORT_COM1 + UART_LSR) & LSR_THR_EMPTY))
    cpu_relax ();
  outb (PORT_COM1, (uint8_t) c);
}

bool
serial_rx_ready (void)
{
  return inb (PORT_COM1 + UART_LSR) & LSR_DATA_READY;
}

uint8_t
serial_rx (void)
{
  return inb (PORT_COM1);
}

static void
put_number (uint64_t v, unsigned base, unsigned width, char pad, bool negative)
{
  char digits[24];
  unsigned n = 0;
  do
    {
      digits[n++] = "0123456789abcdef"[v % base];
      v /= base;
    }
  while (v);
  if (negative)
    {
      if (pad == '0')
        serial_putc ('-');
      width = width ? width - 1 : 0;
    }
  for (unsigned i = n; i < width; i++)
    serial_putc (pad);
  if (negative && pad != '0')
    serial_putc ('-');
  while (n)
    serial_putc (digits[--n]);
}

/* Supports %% %c %s %d %u %x with an optional 0/width and l, ll, z. */
void
probe_vprintf (const char *fmt, va_list ap)
{
  for (; *fmt; fmt++)
    {
      if (*fmt != '%')
        {
          serial_putc (*fmt);
          continue;
        }
      fmt++;
      char pad = ' ';
      unsigned width = 0, longs = 0;
      if (*fmt == '0')
        pad = '0', fmt++;
      while (*fmt >= '0' && *fmt <= '9')
        width = width * 10 + (unsigned) (*fmt++ - '0');
      while (*fmt == 'l' || *fmt == 'z')
        longs++, fmt++;
      switch (*fmt)
        {
        case 'c':
          serial_putc ((char) va_arg (ap, int));
          break;
        case 's':
          {
            const char *s = va_arg (ap, const char *);
            size_t len = strlen (s);
            for (size_t i = len; i < width; i++)
              serial_putc (' ');
            while (*s)
              serial_putc (*s++);
            break;
          }
        case 'd':
          {
            int64_t v = longs ? va_arg (ap, int64_t) : va_arg (ap, int);
            put_number (v < 0 ? -(uint64_t) v : (uint64_t) v, 10, width, pad, v < 0);
            break;
          }
        case 'u':
        case 'x':
          {
            uint64_t v = longs ? va_arg (ap, uint64_t) : va_arg (ap, unsigned);
            put_number (v, *fmt == 'u' ? 10 : 16, width, pad, false);
            break;
          }
        case '%':
          serial_putc ('%');
          break;
        default:
          return;
        }
    }
}

void
probe_printf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  probe_vprintf (fmt, ap);
  va_end (ap);
}
