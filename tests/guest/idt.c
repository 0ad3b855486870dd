/* Filling the IDT at CPL3 (it is ordinary user-mapped memory; entry.S
 * loads it with lidt).  Every vector has a stub in interrupts.S, except
 * VEC_SYSCALL (#DB, raised by int1 at CPL3). */
#include "probe.h"

typedef struct __attribute__((packed)) {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t  ist;
  uint8_t  type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
} IdtGate;

extern IdtGate idt[256];
extern char isr_stubs[], syscall_entry[];

#define GATE_INTERRUPT 0x8e            /* present, DPL0, 64-bit interrupt gate */

static void
set_gate (unsigned vector, const void *handler, uint8_t type_attr)
{
  uint64_t a = (uint64_t) (uintptr_t) handler;
  idt[vector] = (IdtGate) {
    .offset_low = (uint16_t) a,
    .selector = SEL_CODE64,
    .type_attr = type_attr,
    .offset_mid = (uint16_t) (a >> 16),
    .offset_high = (uint32_t) (a >> 32),
  };
}

void
idt_init (void)
{
  for (unsigned v = 0; v < 256; v++)
    set_gate (v, isr_stubs + 16 * v, GATE_INTERRUPT);
  set_gate (VEC_SYSCALL, syscall_entry, GATE_INTERRUPT);
}
