/* A bus maps address ranges (port I/O or MMIO) to devices.  Devices are
 * registered before the vCPUs start; lookups afterwards take no lock, so a
 * device protects its own state if several threads can touch it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <gio/gio.h>

typedef struct VivDeviceOps {
  const char *name;
  /* offset is relative to the registered base; size is 1, 2, 4 or 8. */
  void (*read) (void *opaque, uint64_t offset, void *data, unsigned size);
  void (*write) (void *opaque, uint64_t offset, const void *data, unsigned size);
} VivDeviceOps;

typedef struct VivBus VivBus;

VivBus  *viv_bus_new      (const char *name);
void     viv_bus_free     (VivBus *bus);
/* Fails (G_IO_ERROR_EXISTS) if [base, base+len) overlaps a registered range. */
gboolean viv_bus_register (VivBus *bus, uint64_t base, uint64_t len,
                           const VivDeviceOps *ops, void *opaque, GError **error);
/* Return false if nothing is mapped at addr: reads then see all ones. */
bool     viv_bus_read     (VivBus *bus, uint64_t addr, void *data, unsigned size);
bool     viv_bus_write    (VivBus *bus, uint64_t addr, const void *data, unsigned size);

/* A wire to the interrupt controller: devices raise and lower a GSI. */
typedef struct VivIrqLine {
  void (*set_level) (void *ctx, unsigned gsi, bool level);
  void *ctx;
  unsigned gsi;
} VivIrqLine;

static inline void
viv_irq_line_set (const VivIrqLine *line, bool level)
{
  if (line->set_level)
    line->set_level (line->ctx, line->gsi, level);
}

/* Why a machine stops.  Devices ask for a stop through a VivStopSink; the
 * machine decides (e.g. reset → reboot or stop, by policy). */
typedef enum {
  VIV_STOP_NONE = 0,
  VIV_STOP_DEBUG_EXIT,   /* guest wrote to the debug-exit port; code = value */
  VIV_STOP_RESET,        /* guest asked for a reset (i8042 0xFE, triple fault) */
  VIV_STOP_POWEROFF,     /* guest powered off (ACPI sleep state 5) */
  VIV_STOP_USER,         /* the user asked (Ctrl-], a signal) */
  VIV_STOP_ERROR,        /* the engine failed; see the machine's error */
} VivStopReason;

typedef struct VivStopSink {
  void (*request_stop) (void *ctx, VivStopReason reason, int code);
  void *ctx;
} VivStopSink;

static inline void
viv_stop_sink_request (const VivStopSink *sink, VivStopReason reason, int code)
{
  if (sink->request_stop)
    sink->request_stop (sink->ctx, reason, code);
}

/* Where a character device writes its output (e.g. the serial console). */
typedef struct VivByteSink {
  void (*write) (void *ctx, const uint8_t *buf, size_t len);
  void *ctx;
} VivByteSink;
