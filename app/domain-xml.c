/* VivVmDefinition ↔ libvirt domain XML.  Written with libvirt-gconfig;
 * read with libxml2 directly, because libvirt-gconfig's getters turn a
 * malformed value into 0 where we must name the element that is wrong. */
#include "library.h"
#include "size.h"

#include <arpa/inet.h>
#include <libvirt-gconfig/libvirt-gconfig.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>

#define KIB 1024u
#define DEFAULT_GUEST_ADDRESS "10.0.2.15"

/* ---- Devices libvirt-gconfig has no class for ---------------------------
 * A libvirt-gconfig object is a typed handle on an XML node, so a small
 * subclass built from an XML fragment is all a missing element needs. */

typedef struct { GVirConfigDomainDevice parent; } VivConfigDomainRng;
typedef struct { GVirConfigDomainDeviceClass parent_class; } VivConfigDomainRngClass;
GType viv_config_domain_rng_get_type (void);
G_DEFINE_TYPE (VivConfigDomainRng, viv_config_domain_rng, GVIR_CONFIG_TYPE_DOMAIN_DEVICE)
static void viv_config_domain_rng_class_init (VivConfigDomainRngClass *klass) {}
static void viv_config_domain_rng_init (VivConfigDomainRng *rng) {}

typedef struct { GVirConfigDomainInterface parent; } VivConfigDomainInterfaceEthernet;
typedef struct { GVirConfigDomainInterfaceClass parent_class; } VivConfigDomainInterfaceEthernetClass;
GType viv_config_domain_interface_ethernet_get_type (void);
G_DEFINE_TYPE (VivConfigDomainInterfaceEthernet, viv_config_domain_interface_ethernet,
               GVIR_CONFIG_TYPE_DOMAIN_INTERFACE)
static void viv_config_domain_interface_ethernet_class_init (VivConfigDomainInterfaceEthernetClass *klass) {}
static void viv_config_domain_interface_ethernet_init (VivConfigDomainInterfaceEthernet *iface) {}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID, message);
  return FALSE;
}

/* ---- Writing ------------------------------------------------------------ */

static void
add_device (GVirConfigDomain *domain, gpointer device)
{
  gvir_config_domain_add_device (domain, GVIR_CONFIG_DOMAIN_DEVICE (device));
  g_object_unref (device);
}

static gboolean
add_disk (GVirConfigDomain *domain, const VivDiskSpec *spec, unsigned index, GError **error)
{
  GVirConfigDomainDiskFormat format;
  if (!spec->format || g_str_equal (spec->format, "raw"))
    format = GVIR_CONFIG_DOMAIN_DISK_FORMAT_RAW;
  else if (g_str_equal (spec->format, "qcow2"))
    format = GVIR_CONFIG_DOMAIN_DISK_FORMAT_QCOW2;
  else
    return invalid (error, "disk %s: format '%s' has no libvirt name", spec->path, spec->format);
  if (index >= 26)
    return invalid (error, "at most 26 disks (vda to vdz) can be defined");

  static const GVirConfigDomainDiskCacheType caches[] = {
    [VIV_BLOCK_CACHE_WRITEBACK] = GVIR_CONFIG_DOMAIN_DISK_CACHE_WRITEBACK,
    [VIV_BLOCK_CACHE_NONE] = GVIR_CONFIG_DOMAIN_DISK_CACHE_NONE,
    [VIV_BLOCK_CACHE_WRITETHROUGH] = GVIR_CONFIG_DOMAIN_DISK_CACHE_WRITETHROUGH,
  };
  g_return_val_if_fail (spec->config.cache < G_N_ELEMENTS (caches), FALSE);

  /* libvirt-gconfig has no setter for <serial>: start from a fragment. */
  GVirConfigDomainDisk *disk;
  if (spec->serial)
    {
      g_autofree char *fragment = g_markup_printf_escaped ("<disk><serial>%s</serial></disk>", spec->serial);
      disk = gvir_config_domain_disk_new_from_xml (fragment, error);
      if (!disk)
        return FALSE;
    }
  else
    disk = gvir_config_domain_disk_new ();
  gvir_config_domain_disk_set_type (disk, GVIR_CONFIG_DOMAIN_DISK_FILE);
  gvir_config_domain_disk_set_guest_device_type (disk, GVIR_CONFIG_DOMAIN_DISK_GUEST_DEVICE_DISK);
  GVirConfigDomainDiskDriver *driver = gvir_config_domain_disk_driver_new ();
  gvir_config_domain_disk_driver_set_name (driver, "qemu");
  gvir_config_domain_disk_driver_set_format (driver, format);
  gvir_config_domain_disk_driver_set_cache (driver, caches[spec->config.cache]);
  gvir_config_domain_disk_set_driver (disk, driver);
  g_object_unref (driver);
  gvir_config_domain_disk_set_source (disk, spec->path);
  char target[4] = { 'v', 'd', 'a' + index, 0 };
  gvir_config_domain_disk_set_target_dev (disk, target);
  gvir_config_domain_disk_set_target_bus (disk, GVIR_CONFIG_DOMAIN_DISK_BUS_VIRTIO);
  if (spec->config.read_only)
    gvir_config_domain_disk_set_readonly (disk, TRUE);
  add_device (domain, disk);
  return TRUE;
}

static void
format_address (struct in_addr addr, char buf[INET_ADDRSTRLEN])
{
  inet_ntop (AF_INET, &addr, buf, INET_ADDRSTRLEN);
}

/* Our settings for a user-mode NIC, as <vivarium:interface>. */
static void
append_interface_metadata (GString *metadata, const VivNetOptions *options, const char *mac)
{
  if (options->n_hostfwd == 0 && !options->restricted)
    return;
  g_string_append_printf (metadata, "<interface mac=\"%s\"%s>", mac,
                          options->restricted ? " restrict=\"on\"" : "");
  for (unsigned i = 0; i < options->n_hostfwd; i++)
    {
      const VivNetHostFwd *fwd = &options->hostfwd[i];
      char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];
      format_address (fwd->host_addr, host);
      format_address (fwd->guest_addr, guest);
      g_string_append_printf (metadata,
                              "<hostfwd protocol=\"%s\" host-address=\"%s\" host-port=\"%u\" "
                              "guest-address=\"%s\" guest-port=\"%u\"/>",
                              fwd->udp ? "udp" : "tcp", host, fwd->host_port, guest, fwd->guest_port);
    }
  g_string_append (metadata, "</interface>");
}

static gboolean
add_interface (GVirConfigDomain *domain, const char *spec, GString *metadata, GError **error)
{
  VivNetOptions options;
  if (!viv_net_options_parse (spec, &options, error))
    {
      g_prefix_error (error, "--net %s: ", spec);
      return FALSE;
    }
  char mac[18];
  viv_net_mac_format (options.mac, mac);

  GVirConfigDomainInterface *iface;
  if (options.kind == VIV_NET_BACKEND_TAP)
    {
      iface = GVIR_CONFIG_DOMAIN_INTERFACE (gvir_config_object_new_from_xml (
          viv_config_domain_interface_ethernet_get_type (), "interface", NULL,
          "<interface type='ethernet'/>", error));
      if (!iface)
        return FALSE;
      gvir_config_domain_interface_set_ifname (iface, options.ifname);
    }
  else
    {
      iface = GVIR_CONFIG_DOMAIN_INTERFACE (gvir_config_domain_interface_user_new ());
      append_interface_metadata (metadata, &options, mac);
    }
  gvir_config_domain_interface_set_mac (iface, mac);
  gvir_config_domain_interface_set_model (iface, "virtio");
  add_device (domain, iface);
  return TRUE;
}

static void
add_consoles (GVirConfigDomain *domain, VivConsoleKind kind)
{
  /* COM1 is always there. */
  GVirConfigDomainSerial *serial = gvir_config_domain_serial_new_from_xml (
      "<serial type='pty'><target port='0'/></serial>", NULL);
  add_device (domain, serial);

  GVirConfigDomainConsole *console = gvir_config_domain_console_new ();
  GVirConfigDomainChardevSourcePty *pty = gvir_config_domain_chardev_source_pty_new ();
  gvir_config_domain_chardev_set_source (GVIR_CONFIG_DOMAIN_CHARDEV (console),
                                         GVIR_CONFIG_DOMAIN_CHARDEV_SOURCE (pty));
  g_object_unref (pty);
  gvir_config_domain_console_set_target_type (console, kind == VIV_CONSOLE_VIRTIO
                                                           ? GVIR_CONFIG_DOMAIN_CONSOLE_TARGET_VIRTIO
                                                           : GVIR_CONFIG_DOMAIN_CONSOLE_TARGET_SERIAL);
  add_device (domain, console);
}

/* The guest OS as virt-manager and GNOME Boxes record it. */
static gboolean
set_os_metadata (GVirConfigDomain *domain, const char *os_id, GError **error)
{
  if (!*os_id)
    return invalid (error, "an OS id cannot be empty; leave it out instead");
  g_autofree char *custom = g_markup_printf_escaped ("<libosinfo><os id=\"%s\"/></libosinfo>", os_id);
  return gvir_config_domain_set_custom_xml_ns_children (domain, custom, VIV_LIBOSINFO_XML_PREFIX,
                                                        VIV_LIBOSINFO_XML_NAMESPACE, error);
}

static gboolean
fill_domain (GVirConfigDomain *domain, const VivVmDefinition *def, GError **error)
{
  if (!viv_vm_name_is_valid (def->name, error))
    return FALSE;
  if (def->uuid[0] && !g_uuid_string_is_valid (def->uuid))
    return invalid (error, "'%s' is not a UUID", def->uuid);
  if (!def->kernel)
    return invalid (error, "a VM needs a kernel to boot");
  if (def->memory_bytes == 0 || def->memory_bytes % KIB != 0)
    return invalid (error, "memory must be a non-zero multiple of 1K, not %" G_GUINT64_FORMAT " bytes",
                    def->memory_bytes);
  if (def->n_cpus == 0)
    return invalid (error, "a VM needs at least one vCPU");

  gvir_config_domain_set_virt_type (domain, GVIR_CONFIG_DOMAIN_VIRT_KVM);
  gvir_config_domain_set_name (domain, def->name);
  if (def->uuid[0])
    gvir_config_domain_set_uuid (domain, def->uuid);
  gvir_config_domain_set_memory (domain, def->memory_bytes / KIB);
  gvir_config_domain_set_vcpus (domain, def->n_cpus);

  GVirConfigDomainOs *os = gvir_config_domain_os_new ();
  gvir_config_domain_os_set_os_type (os, GVIR_CONFIG_DOMAIN_OS_TYPE_HVM);
  gvir_config_domain_os_set_arch (os, "x86_64");
  gvir_config_domain_os_set_kernel (os, def->kernel);
  if (def->initrd)
    gvir_config_domain_os_set_ramdisk (os, def->initrd);
  if (def->cmdline)
    gvir_config_domain_os_set_cmdline (os, def->cmdline);
  gvir_config_domain_set_os (domain, os);
  g_object_unref (os);

  for (unsigned i = 0; i < def->disks->len; i++)
    if (!add_disk (domain, def->disks->pdata[i], i, error))
      return FALSE;

  g_autoptr (GString) metadata = g_string_new (NULL);
  for (unsigned i = 0; i < def->nets->len; i++)
    if (!add_interface (domain, def->nets->pdata[i], metadata, error))
      return FALSE;

  add_consoles (domain, def->console_kind);

  if (def->rng)
    {
      GVirConfigObject *rng = gvir_config_object_new_from_xml (
          viv_config_domain_rng_get_type (), "rng", NULL,
          "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>", error);
      if (!rng)
        return FALSE;
      add_device (domain, rng);
    }

  /* Explicit "none": libvirt would otherwise add a balloon on import. */
  GVirConfigDomainMemballoon *balloon = gvir_config_domain_memballoon_new ();
  gvir_config_domain_memballoon_set_model (balloon, def->balloon
                                                        ? GVIR_CONFIG_DOMAIN_MEMBALLOON_MODEL_VIRTIO
                                                        : GVIR_CONFIG_DOMAIN_MEMBALLOON_MODEL_NONE);
  add_device (domain, balloon);

  if (metadata->len > 0)
    {
      g_autofree char *custom = g_strdup_printf ("<vm>%s</vm>", metadata->str);
      if (!gvir_config_domain_set_custom_xml_ns_children (domain, custom, VIV_DOMAIN_XML_PREFIX,
                                                          VIV_DOMAIN_XML_NAMESPACE, error))
        return FALSE;
    }
  return !def->os_id || set_os_metadata (domain, def->os_id, error);
}

char *
viv_domain_xml_from_definition (const VivVmDefinition *def, GError **error)
{
  GVirConfigDomain *domain = gvir_config_domain_new ();
  char *xml = NULL;
  if (fill_domain (domain, def, error))
    xml = gvir_config_object_to_xml (GVIR_CONFIG_OBJECT (domain));
  g_object_unref (domain);
  return xml;
}

/* ---- Reading ------------------------------------------------------------ */

static gboolean
is_element (xmlNode *node, const char *name)
{
  return node->type == XML_ELEMENT_NODE && node->ns == NULL && g_str_equal ((const char *) node->name, name);
}

static gboolean
is_element_ns (xmlNode *node, const char *ns, const char *name)
{
  return node->type == XML_ELEMENT_NODE && node->ns && node->ns->href
         && g_str_equal ((const char *) node->ns->href, ns)
         && g_str_equal ((const char *) node->name, name);
}

static gboolean
is_our_element (xmlNode *node, const char *name)
{
  return is_element_ns (node, VIV_DOMAIN_XML_NAMESPACE, name);
}

static xmlNode *
child (xmlNode *parent, const char *name)
{
  for (xmlNode *node = parent->children; node; node = node->next)
    if (is_element (node, name))
      return node;
  return NULL;
}

/* The attribute's value (g_free it), or NULL. */
static char *
attribute (xmlNode *node, const char *name)
{
  xmlChar *value = xmlGetNoNsProp (node, (const xmlChar *) name);
  char *copy = g_strdup ((const char *) value);
  xmlFree (value);
  return copy;
}

static gboolean
attribute_is (xmlNode *node, const char *name, const char *expected)
{
  g_autofree char *value = attribute (node, name);
  return value && g_str_equal (value, expected);
}

/* The element's text, whitespace trimmed (g_free it). */
static char *
text (xmlNode *node)
{
  xmlChar *content = xmlNodeGetContent (node);
  char *copy = g_strstrip (g_strdup (content ? (const char *) content : ""));
  xmlFree (content);
  return copy;
}

static char *
child_text (xmlNode *parent, const char *name)
{
  xmlNode *node = child (parent, name);
  return node ? text (node) : NULL;
}

static gboolean
parse_count (const char *text_value, guint64 max, guint64 *out)
{
  return g_ascii_string_to_unsigned (text_value, 10, 0, max, out, NULL);
}

/* libvirt's units: b/bytes, k/KiB, KB (1000), M/MiB, MB, G/GiB, GB, T/TiB, TB. */
static gboolean
unit_scale (const char *unit, guint64 *scale)
{
  static const struct { const char *name; guint64 scale; } units[] = {
    { "b", 1 }, { "bytes", 1 },
    { "k", 1ull << 10 }, { "KiB", 1ull << 10 }, { "KB", 1000ull },
    { "M", 1ull << 20 }, { "MiB", 1ull << 20 }, { "MB", 1000000ull },
    { "G", 1ull << 30 }, { "GiB", 1ull << 30 }, { "GB", 1000000000ull },
    { "T", 1ull << 40 }, { "TiB", 1ull << 40 }, { "TB", 1000000000000ull },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_ascii_strcasecmp (unit, units[i].name) == 0)
      {
        *scale = units[i].scale;
        return TRUE;
      }
  return FALSE;
}

static gboolean
read_memory (xmlNode *domain, VivVmDefinition *def, GError **error)
{
  xmlNode *node = child (domain, "memory");
  if (!node)
    return invalid (error, "<domain>: no <memory>; say how much, e.g. <memory unit='MiB'>512</memory>");
  g_autofree char *unit = attribute (node, "unit");
  guint64 scale;
  if (!unit_scale (unit ? unit : "KiB", &scale))
    return invalid (error, "<memory unit='%s'>: unknown unit; use KiB, MiB, GiB or bytes", unit);
  g_autofree char *value = text (node);
  guint64 amount;
  if (!parse_count (value, G_MAXUINT64 / scale, &amount) || amount == 0)
    return invalid (error, "<memory>: '%s' is not a number of %s", value, unit ? unit : "KiB");
  def->memory_bytes = amount * scale;
  if (def->memory_bytes % KIB != 0)
    return invalid (error, "<memory>: %" G_GUINT64_FORMAT " bytes is not a whole number of KiB",
                    def->memory_bytes);
  return TRUE;
}

static gboolean
read_absolute_path (xmlNode *os, const char *name, char **out, GError **error)
{
  g_autofree char *path = child_text (os, name);
  if (!path)
    return TRUE;
  if (!g_path_is_absolute (path))
    return invalid (error, "<%s>: '%s' is not an absolute path", name, path);
  *out = g_steal_pointer (&path);
  return TRUE;
}

static gboolean
read_os (xmlNode *domain, VivVmDefinition *def, GError **error)
{
  xmlNode *os = child (domain, "os");
  if (!os)
    return invalid (error, "<domain>: no <os>; Vivarium boots a kernel directly: "
                           "<os><type>hvm</type><kernel>/path/to/kernel</kernel></os>");
  xmlNode *type = child (os, "type");
  g_autofree char *type_text = type ? text (type) : NULL;
  if (!type || !g_str_equal (type_text, "hvm"))
    return invalid (error, "<os>: <type> must be 'hvm'");
  g_autofree char *arch = attribute (type, "arch");
  if (arch && !g_str_equal (arch, "x86_64"))
    return invalid (error, "<type arch='%s'>: only x86_64 guests run here", arch);
  if (!read_absolute_path (os, "kernel", &def->kernel, error)
      || !read_absolute_path (os, "initrd", &def->initrd, error))
    return FALSE;
  if (!def->kernel)
    return invalid (error, "<os>: no <kernel>; Vivarium boots a kernel directly "
                           "(firmware and <boot dev=…> are not supported)");
  def->cmdline = child_text (os, "cmdline");
  return TRUE;
}

/* Appends text with each comma doubled, as --disk paths are written. */
static void
append_escaped_commas (GString *spec, const char *value)
{
  for (const char *p = value; *p; p++)
    {
      if (*p == ',')
        g_string_append_c (spec, ',');
      g_string_append_c (spec, *p);
    }
}

static gboolean
read_disk (xmlNode *node, VivVmDefinition *def, GError **error)
{
  g_autofree char *type = attribute (node, "type");
  g_autofree char *device = attribute (node, "device");
  if (type && !g_str_equal (type, "file"))
    return invalid (error, "<disk type='%s'>: only type='file' disks are supported", type);
  if (device && !g_str_equal (device, "disk"))
    return invalid (error, "<disk device='%s'>: only device='disk' is supported", device);

  xmlNode *source = child (node, "source");
  g_autofree char *path = source ? attribute (source, "file") : NULL;
  if (!path || !*path)
    return invalid (error, "<disk>: no <source file='…'/>; name the image file");
  if (!g_path_is_absolute (path))
    return invalid (error, "<disk>: <source file='%s'> is not an absolute path", path);

  xmlNode *target = child (node, "target");
  g_autofree char *bus = target ? attribute (target, "bus") : NULL;
  if (bus && !g_str_equal (bus, "virtio"))
    return invalid (error, "<disk> %s: <target bus='%s'>: only bus='virtio' is supported", path, bus);

  g_autoptr (GString) spec = g_string_new (NULL);
  append_escaped_commas (spec, path);
  xmlNode *driver = child (node, "driver");
  g_autofree char *format = driver ? attribute (driver, "type") : NULL;
  g_autofree char *cache = driver ? attribute (driver, "cache") : NULL;
  if (format)
    {
      if (strchr (format, ','))
        return invalid (error, "<disk> %s: <driver type='%s'> is not a format", path, format);
      g_string_append_printf (spec, ",format=%s", format);
    }
  if (cache && !g_str_equal (cache, "default"))
    {
      VivBlockCache mode;
      if (!viv_block_cache_from_string (cache, &mode))
        return invalid (error, "<disk> %s: <driver cache='%s'>: use none, writethrough or writeback",
                        path, cache);
      g_string_append_printf (spec, ",cache=%s", cache);
    }
  if (child (node, "readonly"))
    g_string_append (spec, ",readonly");
  g_autofree char *serial = child_text (node, "serial");
  if (serial)
    {
      if (strchr (serial, ','))
        return invalid (error, "<disk> %s: <serial>%s</serial> may not contain a comma", path, serial);
      g_string_append_printf (spec, ",serial=%s", serial);
    }

  VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
  g_autoptr (GError) local_error = NULL;
  if (!viv_disk_spec_parse (spec->str, disk, &local_error))
    {
      g_free (disk);
      /* The reason without disk-spec's "--disk SPEC: " prefix. */
      g_autofree char *prefix = g_strdup_printf ("--disk %s: ", spec->str);
      const char *reason = local_error->message;
      if (g_str_has_prefix (reason, prefix))
        reason += strlen (prefix);
      return invalid (error, "<disk> %s: %s", path, reason);
    }
  g_ptr_array_add (def->disks, disk);
  return TRUE;
}

typedef struct {
  char     mac[18];
  gboolean restricted;
  GString *hostfwds;     /* ",hostfwd=…" for each rule */
  gboolean used;
} UserNetSettings;

static void
user_net_settings_free (gpointer data)
{
  UserNetSettings *settings = data;
  g_string_free (settings->hostfwds, TRUE);
  g_free (settings);
}

static gboolean
read_address (xmlNode *node, const char *name, const char *fallback, char **out, GError **error)
{
  g_autofree char *value = attribute (node, name);
  struct in_addr addr;
  if (!value)
    value = g_strdup (fallback);
  if (inet_pton (AF_INET, value, &addr) != 1)
    return invalid (error, "<vivarium:hostfwd %s='%s'>: not an IPv4 address", name, value);
  *out = g_steal_pointer (&value);
  return TRUE;
}

static gboolean
read_port (xmlNode *node, const char *name, guint64 *out, GError **error)
{
  g_autofree char *value = attribute (node, name);
  if (!value || !g_ascii_string_to_unsigned (value, 10, 1, 65535, out, NULL))
    return invalid (error, "<vivarium:hostfwd>: %s='%s' is not a port (1 to 65535)", name,
                    value ? value : "");
  return TRUE;
}

static gboolean
read_hostfwd (xmlNode *node, GString *hostfwds, GError **error)
{
  g_autofree char *protocol = attribute (node, "protocol");
  if (!protocol)
    protocol = g_strdup ("tcp");
  if (!g_str_equal (protocol, "tcp") && !g_str_equal (protocol, "udp"))
    return invalid (error, "<vivarium:hostfwd protocol='%s'>: use tcp or udp", protocol);
  g_autofree char *host_address = NULL, *guest_address = NULL;
  guint64 host_port, guest_port;
  if (!read_address (node, "host-address", "127.0.0.1", &host_address, error)
      || !read_address (node, "guest-address", DEFAULT_GUEST_ADDRESS, &guest_address, error)
      || !read_port (node, "host-port", &host_port, error)
      || !read_port (node, "guest-port", &guest_port, error))
    return FALSE;
  g_string_append_printf (hostfwds, ",hostfwd=%s:%s:%" G_GUINT64_FORMAT "-%s:%" G_GUINT64_FORMAT,
                          protocol, host_address, host_port, guest_address, guest_port);
  return TRUE;
}

/* <metadata><vivarium:vm>: settings keyed by MAC (lower case). */
static GHashTable *
read_metadata (xmlNode *domain, GError **error)
{
  g_autoptr (GHashTable) by_mac = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                         user_net_settings_free);
  xmlNode *metadata = child (domain, "metadata");
  xmlNode *vm = NULL;
  for (xmlNode *node = metadata ? metadata->children : NULL; node; node = node->next)
    if (is_our_element (node, "vm"))
      vm = node;
  for (xmlNode *node = vm ? vm->children : NULL; node; node = node->next)
    {
      if (node->type != XML_ELEMENT_NODE)
        continue;
      if (!is_our_element (node, "interface"))
        {
          invalid (error, "<vivarium:%s>: unknown element in Vivarium's metadata", node->name);
          return NULL;
        }
      g_autofree char *mac = attribute (node, "mac");
      uint8_t bytes[6];
      int end = 0;
      if (!mac || sscanf (mac, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n", &bytes[0], &bytes[1], &bytes[2],
                          &bytes[3], &bytes[4], &bytes[5], &end) != 6 || mac[end] != '\0')
        {
          invalid (error, "<vivarium:interface mac='%s'>: not a MAC address", mac ? mac : "");
          return NULL;
        }
      UserNetSettings *settings = g_new0 (UserNetSettings, 1);
      viv_net_mac_format (bytes, settings->mac);
      settings->hostfwds = g_string_new (NULL);
      if (g_hash_table_contains (by_mac, settings->mac))
        {
          invalid (error, "<vivarium:interface mac='%s'>: appears twice", mac);
          user_net_settings_free (settings);
          return NULL;
        }
      g_hash_table_insert (by_mac, settings->mac, settings);
      g_autofree char *restricted = attribute (node, "restrict");
      if (restricted && !g_str_equal (restricted, "on") && !g_str_equal (restricted, "off"))
        {
          invalid (error, "<vivarium:interface restrict='%s'>: use on or off", restricted);
          return NULL;
        }
      settings->restricted = restricted && g_str_equal (restricted, "on");
      for (xmlNode *fwd = node->children; fwd; fwd = fwd->next)
        {
          if (fwd->type != XML_ELEMENT_NODE)
            continue;
          if (!is_our_element (fwd, "hostfwd"))
            {
              invalid (error, "<vivarium:%s>: unknown element in <vivarium:interface>", fwd->name);
              return NULL;
            }
          if (!read_hostfwd (fwd, settings->hostfwds, error))
            return NULL;
        }
    }
  return g_steal_pointer (&by_mac);
}

/* <metadata><libosinfo:libosinfo><libosinfo:os id='…'/>: the guest OS. */
static gboolean
read_os_metadata (xmlNode *domain, VivVmDefinition *def, GError **error)
{
  xmlNode *metadata = child (domain, "metadata");
  for (xmlNode *node = metadata ? metadata->children : NULL; node; node = node->next)
    {
      if (!is_element_ns (node, VIV_LIBOSINFO_XML_NAMESPACE, "libosinfo"))
        continue;
      for (xmlNode *os = node->children; os; os = os->next)
        {
          if (!is_element_ns (os, VIV_LIBOSINFO_XML_NAMESPACE, "os"))
            continue;
          g_autofree char *id = attribute (os, "id");
          if (!id || !*id)
            return invalid (error, "<libosinfo:os>: no id; give libosinfo's OS id, "
                                   "e.g. id='http://debian.org/debian/11'");
          g_free (def->os_id);
          def->os_id = g_steal_pointer (&id);
        }
    }
  return TRUE;
}

char *
viv_net_spec_with_random_mac (const char *spec)
{
  if (g_str_has_prefix (spec, "mac=") || strstr (spec, ",mac="))
    return g_strdup (spec);
  return g_strdup_printf ("%s,mac=52:54:00:%02x:%02x:%02x", spec, g_random_int_range (0, 256),
                          g_random_int_range (0, 256), g_random_int_range (0, 256));
}

static gboolean
read_interface (xmlNode *node, GHashTable *metadata, VivVmDefinition *def, GError **error)
{
  g_autofree char *type = attribute (node, "type");
  if (!type || (!g_str_equal (type, "user") && !g_str_equal (type, "ethernet")))
    return invalid (error, "<interface type='%s'>: use type='user' (NAT) or type='ethernet' (a tap "
                           "device)", type ? type : "");
  xmlNode *model = child (node, "model");
  g_autofree char *model_type = model ? attribute (model, "type") : NULL;
  if (model_type && !g_str_equal (model_type, "virtio"))
    return invalid (error, "<interface type='%s'>: <model type='%s'>: only virtio NICs exist here",
                    type, model_type);

  g_autoptr (GString) spec = g_string_new (NULL);
  if (g_str_equal (type, "ethernet"))
    {
      xmlNode *target = child (node, "target");
      g_autofree char *dev = target ? attribute (target, "dev") : NULL;
      if (!dev || !*dev)
        return invalid (error, "<interface type='ethernet'>: no <target dev='TAP'/>; name the tap device");
      if (strchr (dev, ',') || strchr (dev, '='))
        return invalid (error, "<interface type='ethernet'>: <target dev='%s'> is not an interface name", dev);
      g_string_printf (spec, "tap,ifname=%s", dev);
    }
  else
    g_string_assign (spec, "user");

  xmlNode *mac_node = child (node, "mac");
  g_autofree char *mac = mac_node ? attribute (mac_node, "address") : NULL;
  if (mac)
    {
      if (strchr (mac, ','))
        return invalid (error, "<mac address='%s'>: not a MAC address", mac);
      g_string_append_printf (spec, ",mac=%s", mac);
    }
  else
    {
      g_autofree char *with_mac = viv_net_spec_with_random_mac (spec->str);
      g_string_assign (spec, with_mac);
    }

  /* Validate and get the canonical MAC to find our settings. */
  VivNetOptions options;
  g_autoptr (GError) local_error = NULL;
  if (!viv_net_options_parse (spec->str, &options, &local_error))
    return invalid (error, "<interface type='%s'>: %s", type, local_error->message);
  char canonical_mac[18];
  viv_net_mac_format (options.mac, canonical_mac);
  for (unsigned i = 0; i < def->nets->len; i++)
    {
      VivNetOptions other;
      if (viv_net_options_parse (def->nets->pdata[i], &other, NULL) && memcmp (other.mac, options.mac, 6) == 0)
        return invalid (error, "<mac address='%s'>: two interfaces have the same MAC", canonical_mac);
    }
  UserNetSettings *settings = g_hash_table_lookup (metadata, canonical_mac);
  if (settings)
    {
      if (options.kind != VIV_NET_BACKEND_USER)
        return invalid (error, "<vivarium:interface mac='%s'>: port forwards need an <interface type='user'>",
                        canonical_mac);
      settings->used = TRUE;
      if (settings->restricted)
        g_string_append (spec, ",restrict=on");
      g_string_append (spec, settings->hostfwds->str);
      if (!viv_net_options_parse (spec->str, &options, &local_error))
        return invalid (error, "<vivarium:interface mac='%s'>: %s", canonical_mac, local_error->message);
    }
  g_ptr_array_add (def->nets, g_string_free (g_steal_pointer (&spec), FALSE));
  return TRUE;
}

static gboolean
read_console (xmlNode *node, gboolean *seen, VivVmDefinition *def, GError **error)
{
  /* As in libvirt, the first <console> is the VM's console. */
  if (*seen)
    return TRUE;
  *seen = TRUE;
  xmlNode *target = child (node, "target");
  g_autofree char *type = target ? attribute (target, "type") : NULL;
  if (!type || g_str_equal (type, "serial"))
    def->console_kind = VIV_CONSOLE_SERIAL;
  else if (g_str_equal (type, "virtio"))
    def->console_kind = VIV_CONSOLE_VIRTIO;
  else
    return invalid (error, "<console>: <target type='%s'>: use serial or virtio", type);
  return TRUE;
}

static gboolean
read_devices (xmlNode *domain, GHashTable *metadata, VivVmDefinition *def, GError **error)
{
  xmlNode *devices = child (domain, "devices");
  gboolean console_seen = FALSE;
  for (xmlNode *node = devices ? devices->children : NULL; node; node = node->next)
    {
      if (is_element (node, "disk"))
        {
          if (!read_disk (node, def, error))
            return FALSE;
        }
      else if (is_element (node, "interface"))
        {
          if (!read_interface (node, metadata, def, error))
            return FALSE;
        }
      else if (is_element (node, "console"))
        {
          if (!read_console (node, &console_seen, def, error))
            return FALSE;
        }
      else if (is_element (node, "rng"))
        {
          if (!attribute_is (node, "model", "virtio"))
            return invalid (error, "<rng>: only model='virtio' exists here");
          def->rng = TRUE;
        }
      else if (is_element (node, "memballoon"))
        {
          g_autofree char *model = attribute (node, "model");
          if (model && g_str_equal (model, "virtio"))
            def->balloon = TRUE;
          else if (!model || !g_str_equal (model, "none"))
            return invalid (error, "<memballoon model='%s'>: use virtio or none", model ? model : "");
        }
    }

  GHashTableIter iter;
  UserNetSettings *settings;
  g_hash_table_iter_init (&iter, metadata);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &settings))
    if (!settings->used)
      return invalid (error, "<vivarium:interface mac='%s'>: no <interface> has this MAC", settings->mac);
  return TRUE;
}

static gboolean
read_domain (xmlNode *root, VivVmDefinition *def, GError **error)
{
  if (!is_element (root, "domain"))
    return invalid (error, "<%s>: not a libvirt domain (the root element must be <domain>)", root->name);

  def->name = child_text (root, "name");
  if (!def->name)
    return invalid (error, "<domain>: no <name>");
  g_autoptr (GError) name_error = NULL;
  if (!viv_vm_name_is_valid (def->name, &name_error))
    return invalid (error, "<name>: %s", name_error->message);

  g_autofree char *uuid = child_text (root, "uuid");
  if (uuid)
    {
      if (!g_uuid_string_is_valid (uuid))
        return invalid (error, "<uuid>: '%s' is not a UUID", uuid);
      g_autofree char *lower = g_ascii_strdown (uuid, -1);
      g_strlcpy (def->uuid, lower, sizeof def->uuid);
    }

  if (!read_memory (root, def, error))
    return FALSE;

  g_autofree char *vcpu = child_text (root, "vcpu");
  if (vcpu)
    {
      guint64 n;
      if (!g_ascii_string_to_unsigned (vcpu, 10, 1, G_MAXUINT, &n, NULL))
        return invalid (error, "<vcpu>: '%s' is not a number of vCPUs (1 or more)", vcpu);
      def->n_cpus = n;
    }

  if (!read_os (root, def, error))
    return FALSE;

  if (!read_os_metadata (root, def, error))
    return FALSE;
  g_autoptr (GHashTable) metadata = read_metadata (root, error);
  return metadata && read_devices (root, metadata, def, error);
}

VivVmDefinition *
viv_domain_xml_to_definition (const char *xml, gssize len, GError **error)
{
  if (len < 0)
    len = strlen (xml);
  if (len > G_MAXINT)
    {
      invalid (error, "the XML is too large");
      return NULL;
    }
  xmlParserCtxt *ctxt = xmlNewParserCtxt ();
  if (!ctxt)
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_FAILED, "out of memory parsing XML");
      return NULL;
    }
  /* No network, no entity expansion, no messages on stderr. */
  xmlDoc *doc = xmlCtxtReadMemory (ctxt, xml, (int) len, "domain.xml", NULL,
                                   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc)
    {
      const xmlError *xml_error = xmlCtxtGetLastError (ctxt);
      g_autofree char *reason = g_strstrip (g_strdup (xml_error && xml_error->message ? xml_error->message
                                                                                     : "not XML"));
      invalid (error, "not well-formed XML (line %d): %s", xml_error ? xml_error->line : 0, reason);
      xmlFreeParserCtxt (ctxt);
      return NULL;
    }
  g_autoptr (VivVmDefinition) def = viv_vm_definition_new ();
  gboolean ok;
  /* libvirt XML has no DTD; refusing one rules out entity tricks. */
  if (doc->intSubset || doc->extSubset)
    ok = invalid (error, "<!DOCTYPE>: a domain definition may not have one");
  else
    ok = read_domain (xmlDocGetRootElement (doc), def, error);
  xmlFreeDoc (doc);
  xmlFreeParserCtxt (ctxt);
  return ok ? g_steal_pointer (&def) : NULL;
}
