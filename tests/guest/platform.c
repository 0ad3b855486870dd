/* Finding the CPUs, the IOAPIC and the COM1 interrupt the way Linux does:
 * the ACPI MADT (RSDP from hvm_start_info or a scan of 0xE0000-0xFFFFF,
 * then XSDT/RSDT -> "APIC"), else the MP table ("_MP_" in the EBDA or
 * 0xF0000-0xFFFFF).  Tables are checksummed and every length is bounded
 * before an entry is read. */
#include "probe.h"

#define TABLE_MAX_BYTES (1u << 20)
#define ISA_IRQ_COM1 4

ProbePlatform probe_platform;

static bool
checksum_ok (const void *p, size_t len)
{
  const uint8_t *b = p;
  uint8_t sum = 0;
  for (size_t i = 0; i < len; i++)
    sum += b[i];
  return sum == 0;
}

static uint32_t
get32 (const uint8_t *p)
{
  return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t
get64 (const uint8_t *p)
{
  return get32 (p) | (uint64_t) get32 (p + 4) << 32;
}

static void
add_cpu (uint32_t apic_id)
{
  ProbePlatform *pf = &probe_platform;
  if (pf->n_cpus < PROBE_MAX_TABLE_CPUS)
    pf->apic_ids[pf->n_cpus] = apic_id;
  pf->n_cpus++;
}

/* ---- ACPI ---- */

static const uint8_t *
rsdp_valid (uint64_t addr)
{
  if (!in_low_4g (addr, 36))
    return NULL;
  const uint8_t *p = (const void *) (uintptr_t) addr;
  if (memcmp (p, "RSD PTR ", 8) != 0 || !checksum_ok (p, 20))
    return NULL;
  if (p[15] >= 2 && !checksum_ok (p, 36))
    return NULL;
  return p;
}

static const uint8_t *
find_rsdp (void)
{
  const uint8_t *p = rsdp_valid (probe_boot.rsdp);
  for (uint64_t a = 0xe0000; !p && a < 0x100000; a += 16)
    p = rsdp_valid (a);
  return p;
}

/* A system description table at addr, if its header and checksum hold. */
static const uint8_t *
sdt_at (uint64_t addr, const char *signature)
{
  if (!in_low_4g (addr, 36))
    return NULL;
  const uint8_t *t = (const void *) (uintptr_t) addr;
  uint32_t len = get32 (t + 4);
  if (memcmp (t, signature, 4) != 0 || len < 36 || len > TABLE_MAX_BYTES
      || !in_low_4g (addr, len) || !checksum_ok (t, len))
    return NULL;
  return t;
}

static const uint8_t *
find_madt (const uint8_t *rsdp)
{
  bool use_xsdt = rsdp[15] >= 2 && get64 (rsdp + 24);
  const uint8_t *root = use_xsdt ? sdt_at (get64 (rsdp + 24), "XSDT")
                                 : sdt_at (get32 (rsdp + 16), "RSDT");
  if (!root)
    return NULL;
  unsigned entry_size = use_xsdt ? 8 : 4;
  uint32_t n = (get32 (root + 4) - 36) / entry_size;
  for (uint32_t i = 0; i < n; i++)
    {
      const uint8_t *e = root + 36 + i * entry_size;
      const uint8_t *t = sdt_at (use_xsdt ? get64 (e) : get32 (e), "APIC");
      if (t)
        return t;
    }
  return NULL;
}

static bool
parse_madt (void)
{
  const uint8_t *rsdp = find_rsdp ();
  const uint8_t *madt = rsdp ? find_madt (rsdp) : NULL;
  if (!madt || get32 (madt + 4) < 44)
    return false;
  ProbePlatform *pf = &probe_platform;
  const uint8_t *end = madt + get32 (madt + 4);
  for (const uint8_t *e = madt + 44; e + 2 <= end; e += e[1])
    {
      if (e[1] < 2 || e + e[1] > end)
        break;
      switch (e[0])
        {
        case 0:                                 /* processor local APIC */
          if (e[1] >= 8 && (get32 (e + 4) & 1))
            add_cpu (e[3]);
          break;
        case 1:                                 /* IOAPIC */
          if (e[1] >= 12 && !pf->ioapic_addr && get32 (e + 8) == 0)
            pf->ioapic_addr = get32 (e + 4);
          break;
        case 2:                                 /* interrupt source override */
          if (e[1] >= 10 && e[2] == 0 && e[3] == ISA_IRQ_COM1)
            {
              pf->com1_gsi = get32 (e + 4);
              pf->com1_active_low = (e[8] & 3) == 3;
            }
          break;
        case 9:                                 /* processor local x2APIC */
          if (e[1] >= 16 && (get32 (e + 8) & 1))
            add_cpu (get32 (e + 4));
          break;
        }
    }
  pf->source = "acpi";
  return true;
}

/* ---- MP table (Intel MultiProcessor Specification 1.4) ---- */

static const uint8_t *
find_mp_floating (void)
{
  static const struct { uint64_t start, end; } areas[] = {
    { 0x9fc00, 0xa0000 },                       /* EBDA */
    { 0xf0000, 0x100000 },                      /* BIOS ROM */
  };
  for (unsigned i = 0; i < ARRAY_SIZE (areas); i++)
    for (uint64_t a = areas[i].start; a + 16 <= areas[i].end; a += 16)
      {
        const uint8_t *p = (const void *) (uintptr_t) a;
        if (memcmp (p, "_MP_", 4) == 0 && p[8] == 1 && checksum_ok (p, 16))
          return p;
      }
  return NULL;
}

static bool
parse_mptable (void)
{
  const uint8_t *mpf = find_mp_floating ();
  if (!mpf || !in_low_4g (get32 (mpf + 4), 44))
    return false;
  const uint8_t *cfg = (const void *) (uintptr_t) get32 (mpf + 4);
  uint16_t len = cfg[4] | cfg[5] << 8;
  if (memcmp (cfg, "PCMP", 4) != 0 || len < 44 || !in_low_4g (get32 (mpf + 4), len)
      || !checksum_ok (cfg, len))
    return false;
  ProbePlatform *pf = &probe_platform;
  int isa_bus = -1;
  const uint8_t *end = cfg + len;
  /* Walk by the table length, as Linux does: qboot leaves the entry
   * count at 0. */
  for (const uint8_t *e = cfg + 44; e < end;)
    {
      unsigned size = e[0] == 0 ? 20 : 8;
      if (e[0] > 4 || e + size > end)
        break;
      if (e[0] == 0 && (e[3] & 1))              /* processor, enabled */
        add_cpu (e[1]);
      else if (e[0] == 1 && memcmp (e + 2, "ISA   ", 6) == 0)
        isa_bus = e[1];
      else if (e[0] == 2 && (e[3] & 1) && !pf->ioapic_addr)
        pf->ioapic_addr = get32 (e + 4);
      else if (e[0] == 3 && e[1] == 0 && e[4] == isa_bus && e[5] == ISA_IRQ_COM1)
        {
          pf->com1_gsi = e[7];
          pf->com1_active_low = (e[2] & 3) == 3;
        }
      e += size;
    }
  pf->source = "mptable";
  return true;
}

void
platform_discover (void)
{
  ProbePlatform *pf = &probe_platform;
  pf->com1_gsi = ISA_IRQ_COM1;
  if (!parse_madt () && !parse_mptable ())
    pf->source = "none";
  if (!pf->ioapic_addr)
    pf->ioapic_addr = 0xfec00000;
}
