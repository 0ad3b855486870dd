/* Intel MultiProcessor Specification 1.4 tables (chapter 4): the floating
 * pointer and the configuration table, at the start of the EBDA, where
 * Linux scans for them.  They list the CPUs, one ISA bus, the IOAPIC and
 * how each interrupt source reaches it. */
#include "boot/tables.h"
#include "layout.h"
#include <string.h>

#define MP_SPEC_REV_1_4   4
#define MP_LAPIC_VERSION  0x14   /* what KVM's in-kernel LAPIC reports */
#define MP_IOAPIC_VERSION 0x11   /* what KVM's in-kernel IOAPIC reports */

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IO_INTERRUPT = 3,
       MP_LOCAL_INTERRUPT = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define MP_CPU_ENABLED   0x01
#define MP_CPU_BSP       0x02
/* Interrupt entry flags: polarity in bits 0-1, trigger mode in bits 2-3;
 * 0 = "conforms to the bus" (ISA: edge, active high). */
#define MP_IRQ_CONFORMS         0x0
#define MP_IRQ_LEVEL_ACTIVE_HIGH (0x1 | (0x3 << 2))
#define MP_ISA_BUS_ID    0
#define MP_ALL_LAPICS    0xFF

typedef struct __attribute__((packed)) {
  char     signature[4];      /* "_MP_" */
  uint32_t config_addr;
  uint8_t  length;            /* in 16-byte units */
  uint8_t  spec_rev;
  uint8_t  checksum;
  uint8_t  features[5];       /* all 0: a configuration table is present */
} MpFloatingPointer;

typedef struct __attribute__((packed)) {
  char     signature[4];      /* "PCMP" */
  uint16_t base_length;
  uint8_t  spec_rev;
  uint8_t  checksum;
  char     oem_id[8];
  char     product_id[12];
  uint32_t oem_table_addr;
  uint16_t oem_table_size;
  uint16_t entry_count;
  uint32_t lapic_addr;
  uint16_t ext_length;
  uint8_t  ext_checksum;
  uint8_t  reserved;
} MpConfigHeader;

typedef struct __attribute__((packed)) {
  uint8_t  type;
  uint8_t  lapic_id;
  uint8_t  lapic_version;
  uint8_t  flags;
  uint32_t signature;         /* CPUID.1 EAX-style stepping/model/family */
  uint32_t features;          /* CPUID.1 EDX */
  uint8_t  reserved[8];
} MpProcessor;

typedef struct __attribute__((packed)) {
  uint8_t type;
  uint8_t bus_id;
  char    bus_type[6];
} MpBus;

typedef struct __attribute__((packed)) {
  uint8_t  type;
  uint8_t  id;
  uint8_t  version;
  uint8_t  flags;
  uint32_t addr;
} MpIoApic;

typedef struct __attribute__((packed)) {
  uint8_t  type;
  uint8_t  irq_type;
  uint16_t flags;
  uint8_t  src_bus;
  uint8_t  src_irq;
  uint8_t  dst_id;            /* IOAPIC id, or LAPIC id for local entries */
  uint8_t  dst_pin;
} MpInterrupt;

G_STATIC_ASSERT (sizeof (MpFloatingPointer) == 16);
G_STATIC_ASSERT (sizeof (MpConfigHeader) == 44);
G_STATIC_ASSERT (sizeof (MpProcessor) == 20);
G_STATIC_ASSERT (sizeof (MpBus) == 8);
G_STATIC_ASSERT (sizeof (MpIoApic) == 8);
G_STATIC_ASSERT (sizeof (MpInterrupt) == 8);

/* Family 6 and the FPU and APIC feature bits: what Linux's MP parser
 * expects of a processor entry. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES  ((1u << 0) | (1u << 9))

uint8_t
viv_table_checksum (const uint8_t *data, size_t len)
{
  uint8_t sum = 0;

  for (size_t i = 0; i < len; i++)
    sum += data[i];
  return (uint8_t) -sum;
}

typedef struct {
  uint8_t *buf;
  size_t   size;
  size_t   used;
  unsigned entries;
  gboolean overflow;
} Writer;

static void
emit (Writer *w, const void *entry, size_t len)
{
  if (w->overflow || len > w->size - w->used)
    {
      w->overflow = TRUE;
      return;
    }
  memcpy (w->buf + w->used, entry, len);
  w->used += len;
  w->entries++;
}

static void
emit_interrupt (Writer *w, uint8_t type, uint8_t irq_type, uint16_t flags,
                uint8_t src_irq, uint8_t dst_id, uint8_t dst_pin)
{
  MpInterrupt e = {
    .type = type, .irq_type = irq_type, .flags = flags,
    .src_bus = MP_ISA_BUS_ID, .src_irq = src_irq,
    .dst_id = dst_id, .dst_pin = dst_pin,
  };
  emit (w, &e, sizeof e);
}

size_t
viv_mptable_build (uint8_t *buf, size_t buf_size, uint64_t gpa,
                   unsigned n_cpus,
                   const VivMmioDeviceInfo *devices, unsigned n_devices)
{
  const size_t head = sizeof (MpFloatingPointer) + sizeof (MpConfigHeader);
  uint8_t ioapic_id = VIV_IOAPIC_ID (n_cpus);
  MpFloatingPointer fp = { .signature = "_MP_", .length = 1,
                           .spec_rev = MP_SPEC_REV_1_4 };
  MpConfigHeader hdr = { .signature = "PCMP", .spec_rev = MP_SPEC_REV_1_4,
                         .lapic_addr = (uint32_t) VIV_LAPIC_ADDR };
  Writer w;

  g_return_val_if_fail (n_cpus >= 1 && n_cpus <= VIV_MAX_VCPUS, 0);
  if (buf_size < head || gpa + head > UINT32_MAX)
    return 0;
  w = (Writer) { .buf = buf + head, .size = buf_size - head };

  for (unsigned cpu = 0; cpu < n_cpus; cpu++)
    {
      MpProcessor p = {
        .type = MP_PROCESSOR, .lapic_id = (uint8_t) cpu,
        .lapic_version = MP_LAPIC_VERSION,
        .flags = MP_CPU_ENABLED | (cpu == 0 ? MP_CPU_BSP : 0),
        .signature = MP_CPU_SIGNATURE, .features = MP_CPU_FEATURES,
      };
      emit (&w, &p, sizeof p);
    }
  emit (&w, &(MpBus) { .type = MP_BUS, .bus_id = MP_ISA_BUS_ID,
                       .bus_type = { 'I', 'S', 'A', ' ', ' ', ' ' } },
        sizeof (MpBus));
  emit (&w, &(MpIoApic) { .type = MP_IOAPIC, .id = ioapic_id,
                          .version = MP_IOAPIC_VERSION, .flags = 1,
                          .addr = (uint32_t) VIV_IOAPIC_ADDR },
        sizeof (MpIoApic));
  /* ISA IRQs are identity-mapped to IOAPIC pins, except that the timer
   * (IRQ0) is wired to pin 2; IRQ2 is the 8259 cascade and gets no entry. */
  for (uint8_t irq = 0; irq < 16; irq++)
    {
      if (irq == 2)
        continue;
      emit_interrupt (&w, MP_IO_INTERRUPT, MP_INT, MP_IRQ_CONFORMS, irq,
                      ioapic_id, irq == 0 ? 2 : irq);
    }
  for (unsigned i = 0; i < n_devices; i++)
    {
      g_return_val_if_fail (devices[i].gsi < VIV_IOAPIC_PINS, 0);
      emit_interrupt (&w, MP_IO_INTERRUPT, MP_INT, MP_IRQ_LEVEL_ACTIVE_HIGH,
                      (uint8_t) devices[i].gsi, ioapic_id,
                      (uint8_t) devices[i].gsi);
    }
  emit_interrupt (&w, MP_LOCAL_INTERRUPT, MP_EXTINT, MP_IRQ_CONFORMS, 0,
                  MP_ALL_LAPICS, 0);
  emit_interrupt (&w, MP_LOCAL_INTERRUPT, MP_NMI, MP_IRQ_CONFORMS, 0,
                  MP_ALL_LAPICS, 1);
  if (w.overflow)
    return 0;

  hdr.base_length = (uint16_t) (sizeof hdr + w.used);
  hdr.entry_count = (uint16_t) w.entries;
  memcpy (hdr.oem_id, "VIVARIUM", 8);
  memcpy (hdr.product_id, "VIV-MACHINE ", 12);
  memcpy (buf + sizeof fp, &hdr, sizeof hdr);
  buf[sizeof fp + offsetof (MpConfigHeader, checksum)] =
    viv_table_checksum (buf + sizeof fp, hdr.base_length);

  fp.config_addr = (uint32_t) (gpa + sizeof fp);
  memcpy (buf, &fp, sizeof fp);
  buf[offsetof (MpFloatingPointer, checksum)] = viv_table_checksum (buf, sizeof fp);
  return head + w.used;
}

gboolean
viv_mptable_write (const VivGuestMemory *mem, unsigned n_cpus,
                   const VivMmioDeviceInfo *devices, unsigned n_devices,
                   GError **error)
{
  /* The EBDA is 1 KiB: it holds 32 CPUs and all 24 IOAPIC pins. */
  uint8_t buf[0xA0000 - VIV_EBDA_START];
  size_t len = viv_mptable_build (buf, sizeof buf, VIV_EBDA_START, n_cpus,
                                  devices, n_devices);

  if (len == 0)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "The MP table for %u CPUs and %u virtio-mmio devices does "
                   "not fit in the %u bytes of the EBDA",
                   n_cpus, n_devices, (unsigned) sizeof buf);
      return FALSE;
    }
  if (!viv_guest_memory_write (mem, VIV_EBDA_START, buf, len))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM does not cover the EBDA at 0x%" G_GINT64_MODIFIER "x for the MP "
                   "table", (guint64) VIV_EBDA_START);
      return FALSE;
    }
  return TRUE;
}
