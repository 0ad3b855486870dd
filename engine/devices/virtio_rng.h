/* virtio entropy device (virtio 1.2 §5.4): fills the driver's buffers
 * with bytes from the host's getrandom(). */
#pragma once
#include "devices/virtio.h"

typedef struct VivVirtioRng VivVirtioRng;

/* Binds an entropy device to the transport; freed by viv_virtio_mmio_free. */
VivVirtioRng *viv_virtio_rng_new (VivVirtioDevice *vdev);
