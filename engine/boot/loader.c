/* viv_boot_load: open the kernel, tell a bzImage from a PVH ELF by its
 * contents, build the command line, write the machine description tables
 * and hand over to the format's loader. */
#include "boot/loader.h"
#include "layout.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (viv-boot-error-quark, viv_boot_error)

/* No kernel image is anywhere near this size; refuse before reading. */
#define KERNEL_FILE_MAX    (4 * VIV_GiB)
#define GUEST_PAGE_SIZE    4096ULL
/* bzImage: boot_flag 0xAA55 at 0x1FE and "HdrS" at 0x202. */
#define BZ_BOOT_FLAG_OFFSET 0x1FE
#define BZ_HEADER_MAGIC_OFFSET 0x202
#define BZ_DETECT_SIZE     (BZ_HEADER_MAGIC_OFFSET + 4)

static int
open_regular_file (const char *path, const char *what, uint64_t *size,
                   GError **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int saved;

  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "Cannot open %s “%s”: %s", what, path, g_strerror (saved));
      return -1;
    }
  if (fstat (fd, &st) < 0)
    {
      saved = errno;
      close (fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "Cannot read %s “%s”: %s", what, path, g_strerror (saved));
      return -1;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR,
                   S_ISDIR (st.st_mode) ? G_FILE_ERROR_ISDIR : G_FILE_ERROR_INVAL,
                   "The %s “%s” is %s, not a regular file; give the path of "
                   "the %s image", what, path,
                   S_ISDIR (st.st_mode) ? "a directory" : "a special file", what);
      return -1;
    }
  *size = (uint64_t) st.st_size;
  return fd;
}

/* pread until len bytes arrived; false on error or early end of file. */
static gboolean
pread_all (int fd, uint64_t offset, uint8_t *dst, uint64_t len, int *err)
{
  while (len > 0)
    {
      size_t chunk = (size_t) MIN (len, (uint64_t) 1 << 30);
      ssize_t n = pread (fd, dst, chunk, (off_t) offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *err = n < 0 ? errno : 0;
          return FALSE;
        }
      dst += n;
      offset += (uint64_t) n;
      len -= (uint64_t) n;
    }
  return TRUE;
}

static void
set_read_error (GError **error, int err, const char *what, const char *path)
{
  if (err != 0)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
                 "Cannot read %s “%s”: %s", what, path, g_strerror (err));
  else
    g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED,
                 "%s “%s” became shorter while it was being read", what, path);
}

static gboolean
check_file_range (const VivKernelFile *file, uint64_t offset, uint64_t len,
                  const char *what, GError **error)
{
  if (offset > file->size || len > file->size - offset)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED,
                   "Kernel “%s” is truncated or corrupt: its %s (bytes 0x%"
                   G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x) lies past "
                   "the end of the file (%" G_GUINT64_FORMAT " bytes)",
                   file->path, what, offset, offset + len, file->size);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_kernel_file_read (const VivKernelFile *file, uint64_t offset, void *buf,
                      size_t len, const char *what, GError **error)
{
  int err = 0;

  if (!check_file_range (file, offset, len, what, error))
    return FALSE;
  if (!pread_all (file->fd, offset, buf, len, &err))
    {
      set_read_error (error, err, "kernel", file->path);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_kernel_file_load (const VivKernelFile *file, uint64_t offset, uint64_t len,
                      const VivGuestMemory *mem, uint64_t gpa, const char *what,
                      GError **error)
{
  uint8_t *dst;
  int err = 0;

  if (!check_file_range (file, offset, len, what, error))
    return FALSE;
  if (len == 0)
    return TRUE;
  dst = viv_guest_memory_ptr (mem, gpa, len);
  if (dst == NULL)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "The %s of kernel “%s” (0x%" G_GINT64_MODIFIER "x-0x%"
                   G_GINT64_MODIFIER "x) is not inside guest RAM",
                   what, file->path, gpa, gpa + len);
      return FALSE;
    }
  if (!pread_all (file->fd, offset, dst, len, &err))
    {
      set_read_error (error, err, "kernel", file->path);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_boot_write_cmdline (const VivBootContext *ctx, uint64_t max_len,
                        GError **error)
{
  max_len = MIN (max_len, VIV_CMDLINE_MAX - 1);
  if (ctx->cmdline_len > max_len)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "The kernel command line is %" G_GSIZE_FORMAT " bytes long%s; "
                   "kernel “%s” accepts at most %" G_GUINT64_FORMAT ". Shorten "
                   "the command line.",
                   ctx->cmdline_len,
                   ctx->cfg->n_mmio_devices > 0
                     ? " (with the virtio_mmio.device= entries for the devices)" : "",
                   ctx->kernel.path, max_len);
      return FALSE;
    }
  if (!viv_guest_memory_write (ctx->mem, VIV_CMDLINE_ADDR, ctx->cmdline,
                               ctx->cmdline_len + 1))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM does not cover the command line at 0x%" G_GINT64_MODIFIER "x",
                   (guint64) VIV_CMDLINE_ADDR);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_boot_load_initrd (const VivBootContext *ctx, uint64_t lowest,
                      uint64_t limit, uint64_t *addr, uint64_t *size,
                      GError **error)
{
  const char *path = ctx->cfg->initrd_path;
  g_autofree char *size_str = NULL;
  uint64_t file_size, start;
  uint8_t *dst;
  int fd, err = 0;
  gboolean ok;

  *addr = 0;
  *size = 0;
  if (path == NULL)
    return TRUE;
  fd = open_regular_file (path, "initrd", &file_size, error);
  if (fd < 0)
    return FALSE;
  if (file_size == 0)
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "initrd “%s” is empty; give a cpio archive or leave the "
                   "initrd out", path);
      return FALSE;
    }
  limit = MIN (limit, viv_guest_memory_low_end (ctx->mem));
  start = file_size <= limit ? (limit - file_size) & ~(GUEST_PAGE_SIZE - 1) : 0;
  if (file_size > limit || start < lowest)
    {
      size_str = g_format_size_full (file_size, G_FORMAT_SIZE_IEC_UNITS);
      close (fd);
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "initrd “%s” (%s) does not fit in guest RAM between the "
                   "kernel's end (0x%" G_GINT64_MODIFIER "x) and 0x%"
                   G_GINT64_MODIFIER "x; give the VM more memory",
                   path, size_str, lowest, limit);
      return FALSE;
    }
  dst = viv_guest_memory_ptr (ctx->mem, start, file_size);
  g_assert (dst != NULL);   /* start + size <= low RAM end */
  ok = pread_all (fd, 0, dst, file_size, &err);
  close (fd);
  if (!ok)
    {
      set_read_error (error, err, "initrd", path);
      return FALSE;
    }
  *addr = start;
  *size = file_size;
  return TRUE;
}

gboolean
viv_boot_write_gdt (const VivGuestMemory *mem, gboolean long_mode, GError **error)
{
  const uint64_t gdt[VIV_BOOT_GDT_ENTRIES] = {
    [VIV_BOOT_CS / 8] = long_mode ? VIV_GDT_CODE64 : VIV_GDT_CODE32,
    [VIV_BOOT_DS / 8] = VIV_GDT_DATA,
  };

  if (!viv_guest_memory_write (mem, VIV_BOOT_GDT_ADDR, gdt, sizeof gdt))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM does not cover the boot GDT at 0x%" G_GINT64_MODIFIER "x",
                   (guint64) VIV_BOOT_GDT_ADDR);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_config (const VivBootConfig *cfg, const VivGuestMemory *mem, GError **error)
{
  const unsigned max_devices = VIV_IOAPIC_PINS - VIV_IRQ_VIRTIO_FIRST;

  if (cfg->n_cpus < 1 || cfg->n_cpus > VIV_MAX_VCPUS)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_UNSUPPORTED,
                   "%u vCPUs requested; Vivarium supports 1 to %d",
                   cfg->n_cpus, VIV_MAX_VCPUS);
      return FALSE;
    }
  if (cfg->n_mmio_devices > max_devices)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_UNSUPPORTED,
                   "%u virtio-mmio devices requested; the IOAPIC has GSIs "
                   "for at most %u", cfg->n_mmio_devices, max_devices);
      return FALSE;
    }
  for (unsigned i = 0; i < cfg->n_mmio_devices; i++)
    {
      const VivMmioDeviceInfo *d = &cfg->mmio_devices[i];

      if (d->gsi < VIV_IRQ_VIRTIO_FIRST || d->gsi >= VIV_IOAPIC_PINS)
        {
          g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_UNSUPPORTED,
                       "virtio-mmio device %u uses GSI %u; devices must use "
                       "GSIs %d-%d", i, d->gsi, VIV_IRQ_VIRTIO_FIRST,
                       VIV_IOAPIC_PINS - 1);
          return FALSE;
        }
      if (d->size == 0 || d->base < VIV_MMIO_HOLE_START
          || d->base >= VIV_IOAPIC_ADDR || d->size > VIV_IOAPIC_ADDR - d->base)
        {
          g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_UNSUPPORTED,
                       "virtio-mmio device %u at 0x%" G_GINT64_MODIFIER "x "
                       "(size 0x%" G_GINT64_MODIFIER "x) is not inside the "
                       "MMIO hole 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x",
                       i, d->base, d->size, (guint64) VIV_MMIO_HOLE_START,
                       (guint64) VIV_IOAPIC_ADDR);
          return FALSE;
        }
    }
  if (mem->n_slots < 1 || mem->slots[0].gpa != 0
      || viv_guest_memory_low_end (mem) <= VIV_HIGH_MEMORY_START)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM must start at address 0 and extend past 1 MiB "
                   "to boot a kernel");
      return FALSE;
    }
  return TRUE;
}

/* "4K", "1M" or plain bytes: what Linux's memparse() accepts. */
static void
append_size (GString *s, uint64_t size)
{
  if (size % VIV_MiB == 0)
    g_string_append_printf (s, "%" G_GUINT64_FORMAT "M", size / VIV_MiB);
  else if (size % VIV_KiB == 0)
    g_string_append_printf (s, "%" G_GUINT64_FORMAT "K", size / VIV_KiB);
  else
    g_string_append_printf (s, "%" G_GUINT64_FORMAT, size);
}

static GString *
build_cmdline (const VivBootConfig *cfg)
{
  GString *s = g_string_new (cfg->cmdline ? cfg->cmdline : "");

  for (unsigned i = 0; i < cfg->n_mmio_devices; i++)
    {
      const VivMmioDeviceInfo *d = &cfg->mmio_devices[i];

      if (s->len > 0)
        g_string_append_c (s, ' ');
      g_string_append (s, "virtio_mmio.device=");
      append_size (s, d->size);
      g_string_append_printf (s, "@0x%" G_GINT64_MODIFIER "x:%u", d->base, d->gsi);
    }
  return s;
}

static gboolean
load (VivBootContext *ctx, VivBootEntry *entry, GError **error)
{
  uint8_t head[BZ_DETECT_SIZE] = { 0 };
  size_t head_len = (size_t) MIN (ctx->kernel.size, sizeof head);
  gboolean is_elf, is_bzimage;
  g_autoptr(GString) cmdline = NULL;

  if (ctx->kernel.size == 0)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "Kernel “%s” is an empty file", ctx->kernel.path);
      return FALSE;
    }
  if (ctx->kernel.size > KERNEL_FILE_MAX)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Kernel “%s” is %" G_GUINT64_FORMAT " bytes; that is too "
                   "large to be a kernel image", ctx->kernel.path, ctx->kernel.size);
      return FALSE;
    }
  if (!viv_kernel_file_read (&ctx->kernel, 0, head, head_len, "start", error))
    return FALSE;
  is_elf = head_len >= SELFMAG && memcmp (head, ELFMAG, SELFMAG) == 0;
  is_bzimage = head_len >= BZ_DETECT_SIZE
               && head[BZ_BOOT_FLAG_OFFSET] == 0x55
               && head[BZ_BOOT_FLAG_OFFSET + 1] == 0xAA
               && memcmp (head + BZ_HEADER_MAGIC_OFFSET, "HdrS", 4) == 0;
  if (!is_elf && !is_bzimage)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "“%s” is neither a Linux bzImage nor an ELF kernel with a "
                   "PVH entry note", ctx->kernel.path);
      return FALSE;
    }

  cmdline = build_cmdline (ctx->cfg);
  ctx->cmdline = cmdline->str;
  ctx->cmdline_len = cmdline->len;
  ctx->n_e820 = viv_e820_build (ctx->mem, ctx->e820);
  if (!viv_mptable_write (ctx->mem, ctx->cfg->n_cpus, ctx->cfg->mmio_devices,
                          ctx->cfg->n_mmio_devices, error)
      || !viv_acpi_write (ctx->mem, ctx->cfg->n_cpus, ctx->cfg->mmio_devices,
                          ctx->cfg->n_mmio_devices, &ctx->rsdp_addr, error))
    return FALSE;

  memset (entry, 0, sizeof *entry);
  return is_elf ? viv_pvh_load (ctx, entry, error)
                : viv_bzimage_load (ctx, entry, error);
}

gboolean
viv_boot_load (const VivBootConfig *cfg, const VivGuestMemory *mem,
               VivBootEntry *entry, GError **error)
{
  VivBootContext ctx = { .cfg = cfg, .mem = mem };
  gboolean ok;

  g_return_val_if_fail (cfg != NULL && cfg->kernel_path != NULL, FALSE);
  g_return_val_if_fail (cfg->n_mmio_devices == 0 || cfg->mmio_devices != NULL, FALSE);
  g_return_val_if_fail (mem != NULL && entry != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_config (cfg, mem, error))
    return FALSE;
  ctx.kernel.path = cfg->kernel_path;
  ctx.kernel.fd = open_regular_file (cfg->kernel_path, "kernel",
                                     &ctx.kernel.size, error);
  if (ctx.kernel.fd < 0)
    return FALSE;
  ok = load (&ctx, entry, error);
  close (ctx.kernel.fd);
  return ok;
}
