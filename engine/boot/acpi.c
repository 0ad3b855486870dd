/* ACPI 6.3 tables for a hardware-reduced machine: RSDP -> XSDT -> FADT
 * (-> DSDT) and MADT, all in the BIOS area below 1 MiB where both the
 * bzImage and the PVH paths (and a scanning kernel) find the RSDP. */
#include "boot/tables.h"
#include "boot/aml.h"
#include "layout.h"
#include <string.h>

#define ACPI_OEM_ID        "VIVRUM"     /* 6 bytes */
#define ACPI_OEM_TABLE_ID  "VIVARIUM"   /* 8 bytes */
#define ACPI_CREATOR_ID    "VIVA"
#define ACPI_TABLE_ALIGN   16

/* Standard description header (ACPI 6.3, 5.2.6). */
typedef struct __attribute__((packed)) {
  char     signature[4];
  uint32_t length;
  uint8_t  revision;
  uint8_t  checksum;
  char     oem_id[6];
  char     oem_table_id[8];
  uint32_t oem_revision;
  char     creator_id[4];
  uint32_t creator_revision;
} AcpiHeader;
G_STATIC_ASSERT (sizeof (AcpiHeader) == 36);

/* Generic Address Structure (5.2.3.2). */
typedef struct __attribute__((packed)) {
  uint8_t  space_id;
  uint8_t  bit_width;
  uint8_t  bit_offset;
  uint8_t  access_size;
  uint64_t address;
} AcpiGas;
G_STATIC_ASSERT (sizeof (AcpiGas) == 12);
#define ACPI_SPACE_SYSTEM_IO 1
#define ACPI_ACCESS_BYTE     1

typedef struct __attribute__((packed)) {
  char     signature[8];      /* "RSD PTR " */
  uint8_t  checksum;          /* over the first 20 bytes */
  char     oem_id[6];
  uint8_t  revision;          /* 2: ACPI 2.0+ with XSDT */
  uint32_t rsdt_addr;
  uint32_t length;
  uint64_t xsdt_addr;
  uint8_t  ext_checksum;      /* over all 36 bytes */
  uint8_t  reserved[3];
} AcpiRsdp;
G_STATIC_ASSERT (sizeof (AcpiRsdp) == VIV_ACPI_RSDP_SIZE);

/* FADT, revision 6 (5.2.9). */
typedef struct __attribute__((packed)) {
  AcpiHeader header;
  uint32_t firmware_ctrl;
  uint32_t dsdt;
  uint8_t  reserved0;
  uint8_t  preferred_pm_profile;
  uint16_t sci_int;
  uint32_t smi_cmd;
  uint8_t  acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
  uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
  uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
  uint8_t  pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
  uint8_t  gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
  uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
  uint8_t  duty_offset, duty_width, day_alrm, mon_alrm, century;
  uint16_t iapc_boot_arch;
  uint8_t  reserved1;
  uint32_t flags;
  AcpiGas  reset_reg;
  uint8_t  reset_value;
  uint16_t arm_boot_arch;
  uint8_t  minor_version;
  uint64_t x_firmware_ctrl;
  uint64_t x_dsdt;
  AcpiGas  x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
  AcpiGas  x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
  AcpiGas  sleep_control_reg;
  AcpiGas  sleep_status_reg;
  char     hypervisor_vendor[8];
} AcpiFadt;
G_STATIC_ASSERT (sizeof (AcpiFadt) == 276);

#define FADT_HW_REDUCED_ACPI     (1u << 20)
/* IA-PC boot architecture flags: legacy devices (COM1, RTC) and an 8042
 * exist; there is no VGA and, without PCI, no MSI. */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042           (1u << 1)
#define FADT_BOOT_NO_VGA         (1u << 2)
#define FADT_BOOT_NO_MSI         (1u << 3)

/* MADT (5.2.12) and its entries. */
typedef struct __attribute__((packed)) {
  AcpiHeader header;
  uint32_t lapic_addr;
  uint32_t flags;
} AcpiMadt;
#define MADT_PCAT_COMPAT 1   /* KVM's irqchip includes the two 8259s */

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_INT_SRC_OVERRIDE = 2,
       MADT_LAPIC_NMI = 4 };

typedef struct __attribute__((packed)) {
  uint8_t  type, length;
  uint8_t  processor_uid;
  uint8_t  apic_id;
  uint32_t flags;            /* bit 0: enabled */
} MadtLapic;

typedef struct __attribute__((packed)) {
  uint8_t  type, length;
  uint8_t  id;
  uint8_t  reserved;
  uint32_t address;
  uint32_t gsi_base;
} MadtIoApic;

typedef struct __attribute__((packed)) {
  uint8_t  type, length;
  uint8_t  bus;              /* 0: ISA */
  uint8_t  source;
  uint32_t gsi;
  uint16_t flags;            /* 0: conforms to the bus */
} MadtIntSrcOverride;

typedef struct __attribute__((packed)) {
  uint8_t  type, length;
  uint8_t  processor_uid;    /* 0xFF: all processors */
  uint16_t flags;
  uint8_t  lint;
} MadtLapicNmi;

G_STATIC_ASSERT (sizeof (MadtLapic) == 8);
G_STATIC_ASSERT (sizeof (MadtIoApic) == 12);
G_STATIC_ASSERT (sizeof (MadtIntSrcOverride) == 10);
G_STATIC_ASSERT (sizeof (MadtLapicNmi) == 6);

static void
fill_header (AcpiHeader *h, const char *signature, uint32_t length, uint8_t revision)
{
  memcpy (h->signature, signature, 4);
  h->length = length;
  h->revision = revision;
  h->checksum = 0;
  memcpy (h->oem_id, ACPI_OEM_ID, 6);
  memcpy (h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
  h->oem_revision = 1;
  memcpy (h->creator_id, ACPI_CREATOR_ID, 4);
  h->creator_revision = 1;
}

/* Sets the header's length and checksum once the body is complete. */
static GByteArray *
finish_table (GByteArray *table)
{
  AcpiHeader *h = (AcpiHeader *) table->data;

  h->length = table->len;
  h->checksum = 0;
  h->checksum = viv_table_checksum (table->data, table->len);
  return table;
}

static GByteArray *
new_table (const char *signature, uint8_t revision)
{
  GByteArray *table = g_byte_array_new ();
  AcpiHeader h;

  fill_header (&h, signature, 0, revision);
  g_byte_array_append (table, (const uint8_t *) &h, sizeof h);
  return table;
}

GByteArray *
viv_acpi_build_rsdp (uint64_t xsdt_addr)
{
  AcpiRsdp r = { .signature = "RSD PTR ", .revision = 2,
                 .length = sizeof r, .xsdt_addr = xsdt_addr };
  GByteArray *out = g_byte_array_new ();

  memcpy (r.oem_id, ACPI_OEM_ID, 6);
  r.checksum = viv_table_checksum ((const uint8_t *) &r, 20);
  r.ext_checksum = viv_table_checksum ((const uint8_t *) &r, sizeof r);
  g_byte_array_append (out, (const uint8_t *) &r, sizeof r);
  return out;
}

GByteArray *
viv_acpi_build_xsdt (const uint64_t *table_addrs, unsigned n_tables)
{
  GByteArray *t = new_table ("XSDT", 1);

  for (unsigned i = 0; i < n_tables; i++)
    g_byte_array_append (t, (const uint8_t *) &table_addrs[i], 8);
  return finish_table (t);
}

GByteArray *
viv_acpi_build_fadt (uint64_t dsdt_addr)
{
  AcpiFadt f = { 0 };
  GByteArray *t = g_byte_array_new ();

  fill_header (&f.header, "FACP", sizeof f, 6);
  f.minor_version = 3;
  f.flags = FADT_HW_REDUCED_ACPI;
  f.iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042
                     | FADT_BOOT_NO_VGA | FADT_BOOT_NO_MSI;
  f.x_dsdt = dsdt_addr;
  f.sleep_control_reg = (AcpiGas) { .space_id = ACPI_SPACE_SYSTEM_IO,
                                    .bit_width = 8,
                                    .access_size = ACPI_ACCESS_BYTE,
                                    .address = VIV_PORT_ACPI_SLEEP_CONTROL };
  f.sleep_status_reg = (AcpiGas) { .space_id = ACPI_SPACE_SYSTEM_IO,
                                   .bit_width = 8,
                                   .access_size = ACPI_ACCESS_BYTE,
                                   .address = VIV_PORT_ACPI_SLEEP_STATUS };
  memcpy (f.hypervisor_vendor, "VIVARIUM", 8);
  g_byte_array_append (t, (const uint8_t *) &f, sizeof f);
  return finish_table (t);
}

GByteArray *
viv_acpi_build_madt (unsigned n_cpus)
{
  GByteArray *t = g_byte_array_new ();
  AcpiMadt m = { .lapic_addr = (uint32_t) VIV_LAPIC_ADDR,
                 .flags = MADT_PCAT_COMPAT };
  MadtIoApic ioapic = { .type = MADT_IOAPIC, .length = sizeof ioapic,
                        .id = VIV_IOAPIC_ID (n_cpus),
                        .address = (uint32_t) VIV_IOAPIC_ADDR, .gsi_base = 0 };
  MadtIntSrcOverride timer = { .type = MADT_INT_SRC_OVERRIDE,
                               .length = sizeof timer,
                               .bus = 0, .source = 0, .gsi = 2, .flags = 0 };
  MadtLapicNmi nmi = { .type = MADT_LAPIC_NMI, .length = sizeof nmi,
                       .processor_uid = 0xFF, .flags = 0, .lint = 1 };

  g_assert (n_cpus >= 1 && n_cpus <= VIV_MAX_VCPUS);
  fill_header (&m.header, "APIC", 0, 5);
  g_byte_array_append (t, (const uint8_t *) &m, sizeof m);

  for (unsigned cpu = 0; cpu < n_cpus; cpu++)
    {
      MadtLapic l = { .type = MADT_LAPIC, .length = sizeof l,
                      .processor_uid = (uint8_t) cpu,
                      .apic_id = (uint8_t) cpu, .flags = 1 };
      g_byte_array_append (t, (const uint8_t *) &l, sizeof l);
    }
  g_byte_array_append (t, (const uint8_t *) &ioapic, sizeof ioapic);
  g_byte_array_append (t, (const uint8_t *) &timer, sizeof timer);
  g_byte_array_append (t, (const uint8_t *) &nmi, sizeof nmi);
  return finish_table (t);
}

/* \_SB.COM1: the 16550 UART the engine emulates at 0x3F8, IRQ 4. */
static void
dsdt_com1 (GByteArray *sb)
{
  g_autoptr(GByteArray) dev = g_byte_array_new ();
  g_autoptr(GByteArray) res = g_byte_array_new ();

  aml_name (dev, "_HID");
  aml_eisa_id (dev, "PNP0501");
  aml_name (dev, "_UID");
  aml_integer (dev, 1);
  aml_res_io (res, VIV_PORT_COM1, 8);
  aml_res_irq_no_flags (res, VIV_IRQ_COM1);
  aml_name (dev, "_CRS");
  aml_resource_template (dev, res);
  aml_device (sb, "COM1", dev);
}

/* One device per virtio-mmio transport; Linux's virtio_mmio driver binds
 * to "LNRO0005" and takes its registers and interrupt from _CRS. */
static void
dsdt_virtio (GByteArray *sb, unsigned index, const VivMmioDeviceInfo *info)
{
  g_autoptr(GByteArray) dev = g_byte_array_new ();
  g_autoptr(GByteArray) res = g_byte_array_new ();
  char name[5];

  g_assert (index <= 0xFF);
  g_snprintf (name, sizeof name, "VR%02X", index);
  aml_name (dev, "_HID");
  aml_string (dev, "LNRO0005");
  aml_name (dev, "_UID");
  aml_integer (dev, index);
  aml_res_memory32_fixed (res, (uint32_t) info->base, (uint32_t) info->size);
  aml_res_interrupt_level_high (res, info->gsi);
  aml_name (dev, "_CRS");
  aml_resource_template (dev, res);
  aml_device (sb, name, dev);
}

/* \_SB.PWRB: the control-method power button (PNP0C0C); the GED notifies
 * it with 0x80 ("button pressed"), which Linux's button driver reports
 * as KEY_POWER for userspace (systemd-logind, acpid) to act on. */
static void
dsdt_power_button (GByteArray *sb)
{
  g_autoptr(GByteArray) dev = g_byte_array_new ();

  aml_name (dev, "_HID");
  aml_eisa_id (dev, "PNP0C0C");
  aml_device (sb, "PWRB", dev);
}

/* \_SB.GED: the Generic Event Device (ACPI 6.3 5.6.9), the hardware-
 * reduced way to signal events.  On its interrupt the OS runs
 * _EVT (GSI), which reads (and so clears) the event register of
 * engine/devices/ged.c:
 *
 *   Method (_EVT, 1, Serialized) {
 *     If (LEqual (Arg0, VIV_IRQ_GED)) {
 *       Store (EVTR, Local0)
 *       If (And (Local0, 1)) { Notify (\_SB.PWRB, 0x80) }
 *     }
 *   }
 */
static void
dsdt_ged (GByteArray *sb)
{
  g_autoptr(GByteArray) dev = g_byte_array_new ();
  g_autoptr(GByteArray) res = g_byte_array_new ();
  g_autoptr(GByteArray) evt = g_byte_array_new ();
  g_autoptr(GByteArray) is_ours = g_byte_array_new ();
  g_autoptr(GByteArray) handle = g_byte_array_new ();
  g_autoptr(GByteArray) is_button = g_byte_array_new ();
  g_autoptr(GByteArray) notify = g_byte_array_new ();

  aml_name (dev, "_HID");
  aml_string (dev, "ACPI0013");
  aml_res_memory32_fixed (res, (uint32_t) VIV_GED_ADDR, (uint32_t) VIV_GED_SIZE);
  aml_res_interrupt_edge_high (res, VIV_IRQ_GED);
  aml_name (dev, "_CRS");
  aml_resource_template (dev, res);
  aml_region_system_memory (dev, "EREG", VIV_GED_ADDR, VIV_GED_SIZE);
  aml_field_dword (dev, "EREG", "EVTR");

  aml_notify (notify);
  aml_name_string (notify, "\\_SB_.PWRB");
  aml_integer (notify, 0x80);
  aml_and (is_button);
  aml_local (is_button, 0);
  aml_integer (is_button, VIV_GED_EVENT_POWER_BUTTON);
  aml_no_target (is_button);

  aml_store (handle);
  aml_name_string (handle, "EVTR");
  aml_local (handle, 0);
  aml_if (handle, is_button, notify);

  aml_lequal (is_ours);
  aml_arg (is_ours, 0);
  aml_integer (is_ours, VIV_IRQ_GED);
  aml_if (evt, is_ours, handle);
  aml_method (dev, "_EVT", 1, TRUE, evt);
  aml_device (sb, "GED_", dev);
}

GByteArray *
viv_acpi_build_dsdt (const VivMmioDeviceInfo *devices, unsigned n_devices)
{
  GByteArray *t = new_table ("DSDT", 2);   /* revision 2: 64-bit integers */
  g_autoptr(GByteArray) sb = g_byte_array_new ();
  g_autoptr(GByteArray) s5 = g_byte_array_new ();

  dsdt_com1 (sb);
  for (unsigned i = 0; i < n_devices; i++)
    dsdt_virtio (sb, i, &devices[i]);
  dsdt_power_button (sb);
  dsdt_ged (sb);
  aml_scope (t, "\\_SB_", sb);

  /* \_S5: {SLP_TYPa, SLP_TYPb, reserved, reserved}; Linux writes SLP_TYPa
   * with SLP_EN to the FADT's sleep control register to power off. */
  aml_integer (s5, VIV_ACPI_S5_TYPE);
  aml_integer (s5, 0);
  aml_integer (s5, 0);
  aml_integer (s5, 0);
  aml_name (t, "\\_S5_");
  aml_package (t, 4, s5);
  return finish_table (t);
}

static uint64_t
align_up (uint64_t v, uint64_t a)
{
  return (v + a - 1) & ~(a - 1);
}

gboolean
viv_acpi_write (const VivGuestMemory *mem, unsigned n_cpus,
                const VivMmioDeviceInfo *devices, unsigned n_devices,
                uint64_t *rsdp_addr, GError **error)
{
  const uint64_t rsdp = VIV_BIOS_AREA_START;
  const uint64_t xsdt = align_up (rsdp + VIV_ACPI_RSDP_SIZE, ACPI_TABLE_ALIGN);
  const uint64_t xsdt_len = sizeof (AcpiHeader) + 2 * 8;
  const uint64_t fadt = align_up (xsdt + xsdt_len, ACPI_TABLE_ALIGN);
  const uint64_t madt = align_up (fadt + sizeof (AcpiFadt), ACPI_TABLE_ALIGN);
  g_autoptr(GByteArray) madt_t = viv_acpi_build_madt (n_cpus);
  const uint64_t dsdt = align_up (madt + madt_t->len, ACPI_TABLE_ALIGN);
  g_autoptr(GByteArray) dsdt_t = viv_acpi_build_dsdt (devices, n_devices);
  const uint64_t tables[] = { fadt, madt };
  g_autoptr(GByteArray) xsdt_t = viv_acpi_build_xsdt (tables, G_N_ELEMENTS (tables));
  g_autoptr(GByteArray) fadt_t = viv_acpi_build_fadt (dsdt);
  g_autoptr(GByteArray) rsdp_t = viv_acpi_build_rsdp (xsdt);
  const struct { uint64_t addr; GByteArray *bytes; } place[] = {
    { rsdp, rsdp_t }, { xsdt, xsdt_t }, { fadt, fadt_t },
    { madt, madt_t }, { dsdt, dsdt_t },
  };

  g_assert (xsdt_t->len == xsdt_len);
  if (dsdt + dsdt_t->len > VIV_BIOS_AREA_END)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "The ACPI tables (%" G_GUINT64_FORMAT " bytes) do not fit in "
                   "the BIOS area below 1 MiB",
                   dsdt + dsdt_t->len - rsdp);
      return FALSE;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (place); i++)
    if (!viv_guest_memory_write (mem, place[i].addr, place[i].bytes->data,
                                 place[i].bytes->len))
      {
        g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                     "Guest RAM does not cover the BIOS area at 0x%" G_GINT64_MODIFIER "x for "
                     "the ACPI tables", (guint64) VIV_BIOS_AREA_START);
        return FALSE;
      }
  *rsdp_addr = rsdp;
  return TRUE;
}
