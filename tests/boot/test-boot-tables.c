/* The MP and ACPI tables viv_boot_load writes, read back from guest RAM
 * the way a kernel finds them; the AML emitter; and `iasl -d` on every
 * ACPI table. */
#include "boot/aml.h"
#include "boot/boot.h"
#include "boot/tables.h"
#include "layout.h"
#include "synth.h"
#include <elf.h>
#include <string.h>

typedef struct {
  unsigned n_cpus;
  unsigned n_devices;
} Shape;

typedef struct {
  char          *dir;
  VivGuestMemory mem;
  Shape          shape;
} Fixture;

static const VivMmioDeviceInfo devices[] = {
  { 0xD0000000, 0x200, 16 }, { 0xD0001000, 0x200, 17 }, { 0xD0002000, 0x200, 18 },
  { 0xD0003000, 0x200, 19 }, { 0xD0004000, 0x200, 20 }, { 0xD0005000, 0x200, 21 },
  { 0xD0006000, 0x200, 22 }, { 0xD0007000, 0x200, 23 },
};

/* Boots a minimal PVH kernel so that the tables are exactly what a real
 * load produces. */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  static const uint8_t code[16] = { 0xF4 };   /* hlt */
  SynthElf spec = { .is64 = TRUE, .machine = EM_X86_64, .paddr = 0x100000,
                    .payload = code, .payload_len = sizeof code, .memsz = 0x1000,
                    .entry = 0x100000, .note_desc_size = 4 };
  g_autoptr(GByteArray) img = synth_elf (&spec);
  g_autofree char *path = NULL;
  VivBootConfig cfg = { .n_cpus = 1 };
  VivBootEntry entry;
  GError *error = NULL;

  f->shape = *(const Shape *) data;
  f->dir = synth_tmpdir ();
  path = synth_write (f->dir, "kernel.elf", img->data, img->len);
  cfg.kernel_path = path;
  cfg.n_cpus = f->shape.n_cpus;
  cfg.mmio_devices = devices;
  cfg.n_mmio_devices = f->shape.n_devices;
  synth_memory (&f->mem, 64 * VIV_MiB);
  g_assert_true (viv_boot_load (&cfg, &f->mem, &entry, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  viv_guest_memory_clear (&f->mem);
  synth_rmdir (f->dir);
  g_free (f->dir);
}

static const uint8_t *
guest (Fixture *f, uint64_t gpa, uint64_t len)
{
  const uint8_t *p = viv_guest_memory_ptr (&f->mem, gpa, len);
  g_assert_nonnull (p);
  return p;
}

static uint8_t
sum (const uint8_t *p, size_t len)
{
  uint8_t s = 0;
  for (size_t i = 0; i < len; i++)
    s += p[i];
  return s;
}

static uint16_t le16 (const uint8_t *p) { return (uint16_t) (p[0] | p[1] << 8); }
static uint32_t le32 (const uint8_t *p) { return le16 (p) | (uint32_t) le16 (p + 2) << 16; }
static uint64_t le64 (const uint8_t *p) { return le32 (p) | (uint64_t) le32 (p + 4) << 32; }

/* ---- MP table ----------------------------------------------------------- */

static void
test_mptable (Fixture *f, gconstpointer data)
{
  const unsigned n = f->shape.n_cpus;
  const uint8_t *fp = guest (f, VIV_EBDA_START, 16);
  const uint8_t *cfg, *e, *end;
  unsigned cpus = 0, buses = 0, ioapics = 0, io_irqs = 0, local = 0;
  gboolean irq0_to_pin2 = FALSE;
  unsigned virtio_seen = 0;

  g_assert_cmpmem (fp, 4, "_MP_", 4);
  g_assert_cmpuint (sum (fp, 16), ==, 0);
  g_assert_cmpuint (fp[8], ==, 1);    /* length in paragraphs */
  g_assert_cmpuint (fp[9], ==, 4);    /* MP spec 1.4 */
  g_assert_cmpuint (fp[11], ==, 0);   /* a configuration table follows */

  cfg = guest (f, le32 (fp + 4), 44);
  g_assert_cmpmem (cfg, 4, "PCMP", 4);
  cfg = guest (f, le32 (fp + 4), le16 (cfg + 4));
  g_assert_cmpuint (sum (cfg, le16 (cfg + 4)), ==, 0);
  g_assert_cmphex (le32 (cfg + 36), ==, VIV_LAPIC_ADDR);
  /* Everything inside the EBDA, which e820 reserves. */
  g_assert_cmphex (le32 (fp + 4) + le16 (cfg + 4), <=, 0xA0000);

  e = cfg + 44;
  end = cfg + le16 (cfg + 4);
  for (unsigned i = 0; i < le16 (cfg + 34); i++)
    {
      g_assert_true (e < end);
      switch (e[0])
        {
        case 0:
          g_assert_cmpuint (e[1], ==, cpus);                 /* APIC id */
          g_assert_cmphex (e[3], ==, cpus == 0 ? 0x3 : 0x1); /* EN, BP */
          cpus++;
          e += 20;
          continue;
        case 1:
          g_assert_cmpmem (e + 2, 6, "ISA   ", 6);
          buses++;
          break;
        case 2:
          g_assert_cmpuint (e[1], ==, n);
          g_assert_cmphex (e[3], ==, 1);
          g_assert_cmphex (le32 (e + 4), ==, VIV_IOAPIC_ADDR);
          ioapics++;
          break;
        case 3:
          g_assert_cmpuint (e[6], ==, n);    /* to our IOAPIC */
          g_assert_cmpuint (e[5], <, 24);
          if (e[5] == 0)
            irq0_to_pin2 = e[7] == 2;
          if (e[5] >= 16)
            {
              g_assert_cmphex (le16 (e + 2), ==, 0xD);   /* level, active high */
              g_assert_cmpuint (e[7], ==, devices[virtio_seen].gsi);
              virtio_seen++;
            }
          else
            g_assert_cmpuint (e[7], ==, e[5] == 0 ? 2 : e[5]);
          io_irqs++;
          break;
        case 4:
          g_assert_cmpuint (e[7], ==, local);         /* LINT0, then LINT1 */
          g_assert_cmpuint (e[1], ==, local == 0 ? 3 : 1);  /* ExtINT, NMI */
          local++;
          break;
        default:
          g_assert_not_reached ();
        }
      e += 8;
    }
  g_assert_true (e == end);
  g_assert_cmpuint (cpus, ==, n);
  g_assert_cmpuint (buses, ==, 1);
  g_assert_cmpuint (ioapics, ==, 1);
  g_assert_true (irq0_to_pin2);
  g_assert_cmpuint (virtio_seen, ==, f->shape.n_devices);
  g_assert_cmpuint (io_irqs, ==, 15 + f->shape.n_devices);   /* no IRQ2: cascade */
  g_assert_cmpuint (local, ==, 2);
}

static void
test_mptable_too_small (void)
{
  uint8_t buf[240];   /* enough for 1 CPU (232 bytes), not for 32 */

  /* The builder refuses rather than overrunning a short buffer. */
  g_assert_cmpuint (viv_mptable_build (buf, sizeof buf, VIV_EBDA_START, 32,
                                       devices, 8), ==, 0);
  g_assert_cmpuint (viv_mptable_build (buf, sizeof buf, VIV_EBDA_START, 1,
                                       NULL, 0), >, 0);
}

/* ---- ACPI --------------------------------------------------------------- */

/* A table found through a pointer: its header, then all of it. */
static const uint8_t *
table_at (Fixture *f, uint64_t addr, const char *signature)
{
  const uint8_t *h = guest (f, addr, 36);
  uint32_t len = le32 (h + 4);

  g_assert_cmpmem (h, 4, signature, 4);
  g_assert_cmpuint (len, >=, 36);
  g_assert_cmphex (addr + len, <=, VIV_BIOS_AREA_END);
  h = guest (f, addr, len);
  g_assert_cmpuint (sum (h, len), ==, 0);
  return h;
}

typedef struct {
  const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
} Tables;

static Tables
find_tables (Fixture *f)
{
  Tables t = { 0 };
  uint32_t n_entries;

  t.rsdp = guest (f, VIV_BIOS_AREA_START, 36);
  g_assert_cmpmem (t.rsdp, 8, "RSD PTR ", 8);
  g_assert_cmpuint (sum (t.rsdp, 20), ==, 0);
  g_assert_cmpuint (sum (t.rsdp, 36), ==, 0);
  g_assert_cmpuint (t.rsdp[15], ==, 2);
  g_assert_cmpuint (le32 (t.rsdp + 20), ==, 36);

  t.xsdt = table_at (f, le64 (t.rsdp + 24), "XSDT");
  n_entries = (le32 (t.xsdt + 4) - 36) / 8;
  g_assert_cmpuint (n_entries, ==, 2);
  for (uint32_t i = 0; i < n_entries; i++)
    {
      uint64_t addr = le64 (t.xsdt + 36 + 8 * i);
      const uint8_t *h = guest (f, addr, 4);
      if (memcmp (h, "FACP", 4) == 0)
        t.fadt = table_at (f, addr, "FACP");
      else
        t.madt = table_at (f, addr, "APIC");
    }
  g_assert_nonnull (t.fadt);
  g_assert_nonnull (t.madt);
  t.dsdt = table_at (f, le64 (t.fadt + 140), "DSDT");
  return t;
}

static void
test_acpi_tables (Fixture *f, gconstpointer data)
{
  const unsigned n = f->shape.n_cpus;
  Tables t = find_tables (f);
  const uint8_t *e, *end;
  unsigned lapics = 0, ioapics = 0, overrides = 0, nmis = 0;

  /* FADT: revision 6, hardware-reduced, sleep registers at the ports the
   * engine emulates. */
  g_assert_cmpuint (le32 (t.fadt + 4), ==, 276);
  g_assert_cmpuint (t.fadt[8], ==, 6);
  g_assert_cmphex (le32 (t.fadt + 112) & (1u << 20), !=, 0);
  g_assert_cmpuint (t.fadt[244], ==, 1);                /* system I/O */
  g_assert_cmpuint (t.fadt[245], ==, 8);
  g_assert_cmphex (le64 (t.fadt + 248), ==, VIV_PORT_ACPI_SLEEP_CONTROL);
  g_assert_cmpuint (t.fadt[256], ==, 1);
  g_assert_cmpuint (t.fadt[257], ==, 8);
  g_assert_cmphex (le64 (t.fadt + 260), ==, VIV_PORT_ACPI_SLEEP_STATUS);

  /* MADT: one enabled LAPIC per vCPU, the IOAPIC, IRQ0 -> GSI 2, NMI. */
  g_assert_cmphex (le32 (t.madt + 36), ==, VIV_LAPIC_ADDR);
  e = t.madt + 44;
  end = t.madt + le32 (t.madt + 4);
  while (e < end)
    {
      g_assert_cmpuint (e[1], >=, 2);
      g_assert_true (e + e[1] <= end);
      switch (e[0])
        {
        case 0:
          g_assert_cmpuint (e[2], ==, lapics);   /* processor UID */
          g_assert_cmpuint (e[3], ==, lapics);   /* APIC id */
          g_assert_cmphex (le32 (e + 4) & 1, ==, 1);
          lapics++;
          break;
        case 1:
          g_assert_cmpuint (e[2], ==, n);
          g_assert_cmphex (le32 (e + 4), ==, VIV_IOAPIC_ADDR);
          g_assert_cmpuint (le32 (e + 8), ==, 0);
          ioapics++;
          break;
        case 2:
          g_assert_cmpuint (e[3], ==, 0);
          g_assert_cmpuint (le32 (e + 4), ==, 2);
          overrides++;
          break;
        case 4:
          g_assert_cmpuint (e[5], ==, 1);
          nmis++;
          break;
        default:
          g_assert_not_reached ();
        }
      e += e[1];
    }
  g_assert_true (e == end);
  g_assert_cmpuint (lapics, ==, n);
  g_assert_cmpuint (ioapics, ==, 1);
  g_assert_cmpuint (overrides, ==, 1);
  g_assert_cmpuint (nmis, ==, 1);
}

/* ---- iasl round trip ---------------------------------------------------- */

/* Runs an ACPICA tool (iasl, acpiexec) in dir; fails the test if it fails. */
static char *
run_iasl (const char *iasl, const char *dir, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  GError *error = NULL;
  int status;

  g_ptr_array_add (argv, (char *) iasl);
  for (; *args; args++)
    g_ptr_array_add (argv, (char *) *args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (dir, (char **) argv->pdata, NULL,
                               G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  g_test_message ("iasl %s:\n%s%s", args[-1], out, err);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("iasl failed on %s: %s\n%s%s", args[-1], error->message, out, err);
  return g_strconcat (out, err, NULL);
}

/* iasl exits 0 even for a table with a bad checksum: it reports problems
 * as "Error"/"Warning" lines on its output and as "Incorrect checksum" or
 * "****" notes inside the .dsl it writes.  Look in both. */
static void
assert_no_iasl_errors (const char *text, const char *what)
{
  static const char *const problems[] = {
    "error", "warning", "incorrect", "invalid", "unknown", "****",
  };
  g_autofree char *lower = g_ascii_strdown (text, -1);

  /* "0 Errors, 0 Warnings" is the compiler's success line. */
  g_autofree char *masked = g_strdup (lower);
  char *ok = strstr (masked, "0 errors, 0 warnings");
  if (ok)
    memset (ok, ' ', strlen ("0 errors, 0 warnings"));
  for (size_t i = 0; i < G_N_ELEMENTS (problems); i++)
    if (strstr (masked, problems[i]))
      g_error ("iasl found problems (\"%s\") in %s:\n%s", problems[i], what, text);
}

static char *
read_dsl (Fixture *f, const char *name)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  GError *error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

static unsigned
count (const char *haystack, const char *needle)
{
  unsigned n = 0;

  for (const char *p = haystack; (p = strstr (p, needle)) != NULL; p++)
    n++;
  return n;
}

static void
dump_table (Fixture *f, const char *name, const uint8_t *table, size_t len)
{
  g_autofree char *path = synth_write (f->dir, name, table, len);
}

static void
test_iasl (Fixture *f, gconstpointer data)
{
  const char *iasl = g_find_program_in_path ("iasl");
  /* No RSDP: this iasl (20200925) refuses any binary RSDP, even a correct
   * one; find_tables() checks it field by field instead. */
  static const char *const names[] = { "xsdt", "facp", "apic", "dsdt" };
  Tables t;
  const uint8_t *tables[4];
  g_autofree char *dsl = NULL;

  if (iasl == NULL)
    {
      g_test_skip ("iasl not found (install acpica-tools)");
      return;
    }
  t = find_tables (f);
  tables[0] = t.xsdt; tables[1] = t.fadt; tables[2] = t.madt; tables[3] = t.dsdt;

  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *dat = g_strconcat (names[i], ".dat", NULL);
      const char *args[] = { "-d", dat, NULL };
      g_autofree char *out = NULL;
      g_autofree char *dsl_name = g_strconcat (names[i], ".dsl", NULL);
      g_autofree char *text = NULL;

      dump_table (f, dat, tables[i], le32 (tables[i] + 4));
      out = run_iasl (iasl, f->dir, args);
      assert_no_iasl_errors (out, dat);
      text = read_dsl (f, dsl_name);
      assert_no_iasl_errors (text, dsl_name);
    }

  /* The DSDT disassembles into the devices and resources we meant: a
   * malformed resource template would show up as a plain Buffer. */
  dsl = read_dsl (f, "dsdt.dsl");
  g_assert_cmpuint (count (dsl, "EisaId (\"PNP0501\")"), ==, 1);
  g_assert_cmpuint (count (dsl, "0x03F8,"), ==, 2);
  g_assert_cmpuint (count (dsl, "IRQNoFlags ()"), ==, 1);
  g_assert_cmpuint (count (dsl, "Name (\\_S5, Package (0x04)"), ==, 1);
  /* COM1, the virtio devices and the GED. */
  g_assert_cmpuint (count (dsl, "ResourceTemplate ()"), ==, 2 + f->shape.n_devices);
  g_assert_cmpuint (count (dsl, "\"LNRO0005\""), ==, f->shape.n_devices);
  g_assert_cmpuint (count (dsl, "Memory32Fixed (ReadWrite"), ==, 1 + f->shape.n_devices);
  g_assert_cmpuint (count (dsl, "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive"),
                    ==, f->shape.n_devices);
  for (unsigned i = 0; i < f->shape.n_devices; i++)
    {
      g_autofree char *base = g_strdup_printf ("0x%08X,         // Address Base",
                                               (unsigned) devices[i].base);
      g_autofree char *gsi = g_strdup_printf ("0x%08X,\n", devices[i].gsi);
      g_assert_cmpuint (count (dsl, base), ==, 1);
      g_assert_cmpuint (count (dsl, gsi), ==, 1);
    }

  /* The power button and the Generic Event Device that presses it: its
   * register and edge-triggered GSI, and an _EVT that reads the register
   * and notifies the button. */
  {
    g_autofree char *ged_base = g_strdup_printf ("0x%08X,         // Address Base",
                                                 (unsigned) VIV_GED_ADDR);
    g_autofree char *ged_region = g_strdup_printf ("OperationRegion (EREG, SystemMemory, 0x%08X, 0x%02X)",
                                                   (unsigned) VIV_GED_ADDR, (unsigned) VIV_GED_SIZE);
    g_autofree char *ged_gsi = g_strdup_printf ("If ((Arg0 == 0x%02X))", VIV_IRQ_GED);
    g_assert_cmpuint (count (dsl, "EisaId (\"PNP0C0C\")"), ==, 1);
    g_assert_cmpuint (count (dsl, "\"ACPI0013\""), ==, 1);
    g_assert_cmpuint (count (dsl, ged_base), ==, 1);
    g_assert_cmpuint (count (dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"), ==, 1);
    g_assert_cmpuint (count (dsl, ged_region), ==, 1);
    g_assert_cmpuint (count (dsl, "Field (EREG, DWordAcc, NoLock, Preserve)"), ==, 1);
    g_assert_cmpuint (count (dsl, "Method (_EVT, 1, Serialized)"), ==, 1);
    g_assert_cmpuint (count (dsl, ged_gsi), ==, 1);
    g_assert_cmpuint (count (dsl, "Local0 = EVTR"), ==, 1);
    g_assert_cmpuint (count (dsl, "Notify (\\_SB.PWRB, 0x80)"), ==, 1);
  }

  /* The disassembly compiles again without complaint. */
  {
    const char *args[] = { "-p", "recompiled", "dsdt.dsl", NULL };
    g_autofree char *out = run_iasl (iasl, f->dir, args);
    assert_no_iasl_errors (out, "dsdt.dsl");
    g_assert_nonnull (strstr (out, "0 Errors"));
  }

  g_free ((char *) iasl);
}

/* ACPICA runs the GED's _EVT as the guest's OS would.  acpiexec backs
 * SystemMemory regions with memory filled with -fv's byte, so EVTR reads
 * 0x01010101 (power button pending) or 0: only a pending power-button
 * event on the GED's own GSI notifies the button.  (One acpiexec run takes
 * a second, so this runs for one table shape only.) */
static void
test_acpiexec_ged (Fixture *f, gconstpointer data)
{
  g_autofree char *acpiexec = g_find_program_in_path ("acpiexec");
  g_autofree char *batch = g_strdup_printf ("execute \\_SB.GED._EVT %u;execute \\_SB.GED._EVT %u",
                                            VIV_IRQ_GED + 1, VIV_IRQ_GED);
  g_autofree char *ours = g_strdup_printf ("execute \\_SB.GED._EVT %u", VIV_IRQ_GED);
  const char *pressed[] = { "-fv", "1", "-b", batch, "dsdt.dat", NULL };
  const char *not_pressed[] = { "-fv", "0", "-b", ours, "dsdt.dat", NULL };
  const char *notified = "Received a Device Notify on [PWRB]";
  Tables t;

  if (acpiexec == NULL)
    {
      g_test_skip ("acpiexec not found (install acpica-tools)");
      return;
    }
  t = find_tables (f);
  dump_table (f, "dsdt.dat", t.dsdt, le32 (t.dsdt + 4));

  g_autofree char *out_pressed = run_iasl (acpiexec, f->dir, pressed);
  g_autofree char *out_not_pressed = run_iasl (acpiexec, f->dir, not_pressed);
  g_assert_cmpuint (count (out_pressed, "Evaluating \\_SB.GED._EVT"), ==, 2);
  g_assert_cmpuint (count (out_pressed, notified), ==, 1);
  g_assert_nonnull (strstr (out_pressed, "Value 0x80"));
  g_assert_cmpuint (count (out_not_pressed, "Evaluating \\_SB.GED._EVT"), ==, 1);
  g_assert_cmpuint (count (out_not_pressed, notified), ==, 0);
}

/* ---- AML ---------------------------------------------------------------- */

static void
assert_bytes (GByteArray *a, const uint8_t *expected, size_t len)
{
  g_assert_cmpmem (a->data, a->len, expected, len);
  g_byte_array_set_size (a, 0);
}

static void
test_aml_encoding (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  g_autoptr(GByteArray) body = g_byte_array_new ();

  aml_eisa_id (a, "PNP0501");
  assert_bytes (a, (const uint8_t[]) { 0x0C, 0x41, 0xD0, 0x05, 0x01 }, 5);
  aml_integer (a, 0);
  aml_integer (a, 1);
  aml_integer (a, 0x20);
  aml_integer (a, 0x1234);
  aml_integer (a, 0xD0000000);
  aml_integer (a, 0x100000000ULL);
  assert_bytes (a, (const uint8_t[]) { 0x00, 0x01, 0x0A, 0x20, 0x0B, 0x34, 0x12,
                                       0x0C, 0x00, 0x00, 0x00, 0xD0,
                                       0x0E, 0, 0, 0, 0, 1, 0, 0, 0 }, 21);
  aml_name_string (a, "_HID");
  aml_name_string (a, "\\_SB_.COM1");
  aml_name_string (a, "\\_S5");
  assert_bytes (a, (const uint8_t[]) { '_', 'H', 'I', 'D',
                                       '\\', 0x2E, '_', 'S', 'B', '_', 'C', 'O', 'M', '1',
                                       '\\', '_', 'S', '5', '_' }, 19);
  aml_string (a, "LNRO0005");
  assert_bytes (a, (const uint8_t[]) { 0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0 }, 10);

  /* PkgLength: one byte up to 63 in total, then two bytes. */
  g_byte_array_set_size (body, 58);
  memset (body->data, 0xAA, body->len);
  aml_scope (a, "ABCD", body);            /* 4 + 58 + 1 = 63 */
  g_assert_cmphex (a->data[1], ==, 63);
  g_assert_cmpuint (a->len, ==, 1 + 63);
  g_byte_array_set_size (a, 0);
  g_byte_array_set_size (body, 59);
  aml_scope (a, "ABCD", body);            /* 4 + 59 + 2 = 65 = 0x41 */
  g_assert_cmphex (a->data[1], ==, 0x41);
  g_assert_cmphex (a->data[2], ==, 0x04);
  g_assert_cmpuint (a->len, ==, 1 + 65);
  g_byte_array_set_size (a, 0);
  g_byte_array_set_size (body, 5000);
  aml_scope (a, "ABCD", body);            /* 4 + 5000 + 3 = 5007 = 0x138F */
  g_assert_cmphex (a->data[1], ==, 0x80 | 0xF);
  g_assert_cmphex (a->data[2], ==, 0x38);
  g_assert_cmphex (a->data[3], ==, 0x01);
  g_assert_cmpuint (a->len, ==, 1 + 5007);
}

static void
test_aml_resources (void)
{
  g_autoptr(GByteArray) res = g_byte_array_new ();
  g_autoptr(GByteArray) a = g_byte_array_new ();

  aml_res_io (res, 0x3F8, 8);
  aml_res_irq_no_flags (res, 4);
  aml_res_memory32_fixed (res, 0xD0000000, 0x200);
  aml_res_interrupt_level_high (res, 17);
  aml_resource_template (a, res);
  assert_bytes (a, (const uint8_t[]) {
    0x11, 0x25, 0x0A, 0x22,                         /* Buffer (34 bytes) */
    0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, /* IO */
    0x22, 0x10, 0x00,                               /* IRQNoFlags {4} */
    0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x02, 0x00, 0x00,
    0x89, 0x06, 0x00, 0x01, 0x01, 0x11, 0x00, 0x00, 0x00,
    0x79, 0x00 }, 38);
}

static void
test_builders_standalone (void)
{
  /* Each builder's checksum holds on its own (what the test dumps). */
  g_autoptr(GByteArray) madt = viv_acpi_build_madt (VIV_MAX_VCPUS);
  g_autoptr(GByteArray) dsdt = viv_acpi_build_dsdt (devices, G_N_ELEMENTS (devices));
  g_autoptr(GByteArray) fadt = viv_acpi_build_fadt (0xE1000);
  g_autoptr(GByteArray) rsdp = viv_acpi_build_rsdp (0xE0040);

  g_assert_cmpuint (sum (madt->data, madt->len), ==, 0);
  g_assert_cmpuint (le32 (madt->data + 4), ==, madt->len);
  g_assert_cmpuint (madt->len, ==, 44 + 32 * 8 + 12 + 10 + 6);
  g_assert_cmpuint (sum (dsdt->data, dsdt->len), ==, 0);
  g_assert_cmpuint (sum (fadt->data, fadt->len), ==, 0);
  g_assert_cmphex (le64 (fadt->data + 140), ==, 0xE1000);
  g_assert_cmpuint (sum (rsdp->data, 20), ==, 0);
  g_assert_cmpuint (sum (rsdp->data, rsdp->len), ==, 0);
}

int
main (int argc, char **argv)
{
  static const Shape shapes[] = {
    { 1, 0 }, { 1, 3 }, { 4, 0 }, { 4, 3 }, { 32, 0 }, { 32, 3 }, { 32, 8 },
  };

  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      const Shape *s = &shapes[i];
      g_autofree char *mp = g_strdup_printf ("/boot/tables/mptable/%ucpu-%udev",
                                             s->n_cpus, s->n_devices);
      g_autofree char *acpi = g_strdup_printf ("/boot/tables/acpi/%ucpu-%udev",
                                               s->n_cpus, s->n_devices);
      g_autofree char *iasl = g_strdup_printf ("/boot/tables/iasl/%ucpu-%udev",
                                               s->n_cpus, s->n_devices);
      g_test_add (mp, Fixture, s, fixture_setup, test_mptable, fixture_teardown);
      g_test_add (acpi, Fixture, s, fixture_setup, test_acpi_tables, fixture_teardown);
      if (s->n_cpus != 4)
        g_test_add (iasl, Fixture, s, fixture_setup, test_iasl, fixture_teardown);
    }
  g_test_add ("/boot/tables/acpiexec/ged-power-button", Fixture, &shapes[1],
              fixture_setup, test_acpiexec_ged, fixture_teardown);
  g_test_add_func ("/boot/tables/mptable/too-small", test_mptable_too_small);
  g_test_add_func ("/boot/tables/aml/encoding", test_aml_encoding);
  g_test_add_func ("/boot/tables/aml/resources", test_aml_resources);
  g_test_add_func ("/boot/tables/acpi/builders", test_builders_standalone);
  return g_test_run ();
}
