/* MC146818 CMOS real-time clock at ports 0x70/0x71, reporting host UTC. */
#pragma once
#include "devices/bus.h"

typedef struct VivRtc VivRtc;

/* ram_below_4g / ram_above_4g fill the CMOS memory-size bytes that
 * firmware-less guests may read. */
VivRtc *viv_rtc_new  (uint64_t ram_below_4g, uint64_t ram_above_4g);
void    viv_rtc_free (VivRtc *rtc);
const VivDeviceOps *viv_rtc_ops (void);   /* register with len 2 */
