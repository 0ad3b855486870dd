/* Debug-exit port compatible with QEMU's isa-debug-exit: a write of V stops
 * the machine; the runner exits with status (V << 1) | 1. Also the POST
 * port 0x80, whose writes are ignored. */
#pragma once
#include "devices/bus.h"

const VivDeviceOps *viv_debug_exit_ops (void);  /* opaque: a VivStopSink* */
const VivDeviceOps *viv_ignore_ops     (void);  /* reads all ones, writes dropped */
