/*
 * The chip-true memory check's XS platform header: the Linux platform (lin_xs.h, from the user's own
 * Moddable SDK, included as it is) with XS's default allocators switched off, so that harness.c can
 * allocate the whole VM from one static block as an ESP8266 build does.
 */
#ifndef __CHIP_XS__
#define __CHIP_XS__

#include "lin_xs.h"

#undef mxUseDefaultChunkAllocation
#define mxUseDefaultChunkAllocation 0
#undef mxUseDefaultSlotAllocation
#define mxUseDefaultSlotAllocation 0

#endif
