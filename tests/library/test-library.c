/* The VM library in-process: definition ↔ libvirt domain XML, validation
 * messages, storage (duplicates, UUIDs, atomic writes, undefine). */
#include "library.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "viv-test-fs.h"

typedef struct {
  char *tmp;      /* private XDG dirs, files, the library */
  char *kernel;
  char *disk;
  char *base;     /* a read-only disk */
  VivLibrary *lib;
} Fixture;

static char *
make_file (const char *dir, const char *name, gsize size)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *zeros = g_malloc0 (size);
  g_assert_true (g_file_set_contents (path, zeros, size, NULL));
  return path;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->tmp = g_dir_make_tmp ("viv-library-XXXXXX", NULL);
  g_assert_nonnull (f->tmp);
  g_autofree char *data_home = g_build_filename (f->tmp, "data", NULL);
  g_autofree char *runtime = g_build_filename (f->tmp, "run", NULL);
  g_assert_cmpint (g_mkdir (runtime, 0700), ==, 0);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  f->kernel = make_file (f->tmp, "vmlinuz", 16);
  f->disk = make_file (f->tmp, "disk, one.img", 4096);
  f->base = make_file (f->tmp, "base.img", 4096);
  g_autofree char *root = g_build_filename (data_home, "vivarium", "machines", NULL);
  g_autoptr (GError) error = NULL;
  f->lib = viv_library_open (root, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  viv_library_free (f->lib);
  viv_test_remove_tree (f->tmp);
  g_free (f->tmp);
  g_free (f->kernel);
  g_free (f->disk);
  g_free (f->base);
}

/* A definition as a user of libvirt might write it: units, extra devices
 * we ignore, our metadata. */
static char *
sample_xml (Fixture *f, const char *name, const char *uuid_element)
{
  g_autofree char *disk = g_markup_escape_text (f->disk, -1);
  return g_strdup_printf (
      "<domain type='kvm' xmlns:vivarium='" VIV_DOMAIN_XML_NAMESPACE "'>\n"
      "  <name>%s</name>\n"
      "  %s\n"
      "  <memory unit='MiB'>512</memory>\n"
      "  <currentMemory unit='MiB'>512</currentMemory>\n"
      "  <vcpu placement='static'>2</vcpu>\n"
      "  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel>"
      "<cmdline>console=ttyS0 probe.mode=irq</cmdline></os>\n"
      "  <features><acpi/></features>\n"
      "  <clock offset='utc'/>\n"
      "  <devices>\n"
      "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
      "    <disk type='file' device='disk'>\n"
      "      <driver name='qemu' type='raw' cache='none'/>\n"
      "      <source file='%s'/>\n"
      "      <target dev='vda' bus='virtio'/>\n"
      "      <serial>root-disk</serial>\n"
      "    </disk>\n"
      "    <disk type='file' device='disk'>\n"
      "      <source file='%s'/><target dev='vdb' bus='virtio'/><readonly/>\n"
      "    </disk>\n"
      "    <interface type='user'><mac address='52:54:00:AA:00:01'/><model type='virtio'/></interface>\n"
      "    <interface type='ethernet'><mac address='52:54:00:aa:00:02'/><target dev='tap7'/></interface>\n"
      "    <serial type='pty'><target port='0'/></serial>\n"
      "    <console type='pty'><target type='virtio'/></console>\n"
      "    <graphics type='spice' autoport='yes'/>\n"
      "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
      "    <memballoon model='virtio'/>\n"
      "  </devices>\n"
      "  <metadata>\n"
      "    <vivarium:vm>\n"
      "      <vivarium:interface mac='52:54:00:aa:00:01' restrict='on'>\n"
      "        <vivarium:hostfwd protocol='tcp' host-port='2222' guest-port='22'/>\n"
      "        <vivarium:hostfwd protocol='udp' host-address='127.0.0.1' host-port='5353' "
      "guest-address='10.0.2.15' guest-port='53'/>\n"
      "      </vivarium:interface>\n"
      "    </vivarium:vm>\n"
      "    <libosinfo:libosinfo xmlns:libosinfo='" VIV_LIBOSINFO_XML_NAMESPACE "'>\n"
      "      <libosinfo:os id='http://debian.org/debian/11'/>\n"
      "    </libosinfo:libosinfo>\n"
      "  </metadata>\n"
      "</domain>\n",
      name, uuid_element, f->kernel, disk, f->base);
}

static void
assert_same_definition (const VivVmDefinition *a, const VivVmDefinition *b)
{
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->uuid, ==, b->uuid);
  g_assert_cmpstr (a->kernel, ==, b->kernel);
  g_assert_cmpstr (a->initrd, ==, b->initrd);
  g_assert_cmpstr (a->cmdline, ==, b->cmdline);
  g_assert_cmpuint (a->memory_bytes, ==, b->memory_bytes);
  g_assert_cmpuint (a->n_cpus, ==, b->n_cpus);
  g_assert_cmpint (a->console_kind, ==, b->console_kind);
  g_assert_cmpint (a->rng, ==, b->rng);
  g_assert_cmpint (a->balloon, ==, b->balloon);
  g_assert_cmpstr (a->os_id, ==, b->os_id);
  g_assert_cmpuint (a->disks->len, ==, b->disks->len);
  for (unsigned i = 0; i < a->disks->len; i++)
    {
      const VivDiskSpec *x = a->disks->pdata[i], *y = b->disks->pdata[i];
      g_assert_cmpstr (x->path, ==, y->path);
      g_assert_cmpstr (x->config.path, ==, y->config.path);
      g_assert_cmpstr (x->serial, ==, y->serial);
      g_assert_cmpint (x->config.cache, ==, y->config.cache);
      g_assert_cmpint (x->config.read_only, ==, y->config.read_only);
    }
  g_assert_cmpuint (a->nets->len, ==, b->nets->len);
  for (unsigned i = 0; i < a->nets->len; i++)
    {
      VivNetOptions x, y;
      g_assert_true (viv_net_options_parse (a->nets->pdata[i], &x, NULL));
      g_assert_true (viv_net_options_parse (b->nets->pdata[i], &y, NULL));
      g_assert_cmpmem (&x, sizeof x, &y, sizeof y);
    }
}

/* XML → definition: every element lands where it should. */
static void
test_xml_read (Fixture *f, gconstpointer data)
{
  g_autofree char *xml = sample_xml (f, "web-1", "<uuid>0F8FAD5B-D9CB-469F-A165-70867728950E</uuid>");
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) def = viv_domain_xml_to_definition (xml, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (def->name, ==, "web-1");
  g_assert_cmpstr (def->uuid, ==, "0f8fad5b-d9cb-469f-a165-70867728950e");
  g_assert_cmpuint (def->memory_bytes, ==, 512ull << 20);
  g_assert_cmpuint (def->n_cpus, ==, 2);
  g_assert_cmpstr (def->kernel, ==, f->kernel);
  g_assert_null (def->initrd);
  g_assert_cmpstr (def->cmdline, ==, "console=ttyS0 probe.mode=irq");
  g_assert_cmpint (def->console_kind, ==, VIV_CONSOLE_VIRTIO);
  g_assert_true (def->rng);
  g_assert_true (def->balloon);
  g_assert_cmpstr (def->os_id, ==, "http://debian.org/debian/11");

  g_assert_cmpuint (def->disks->len, ==, 2);
  VivDiskSpec *root = def->disks->pdata[0], *base = def->disks->pdata[1];
  g_assert_cmpstr (root->path, ==, f->disk);   /* the comma survived */
  g_assert_cmpstr (root->config.path, ==, f->disk);
  g_assert_cmpint (root->config.cache, ==, VIV_BLOCK_CACHE_NONE);
  g_assert_false (root->config.read_only);
  g_assert_cmpstr (root->serial, ==, "root-disk");
  g_assert_cmpstr (base->path, ==, f->base);
  g_assert_true (base->config.read_only);
  g_assert_cmpint (base->config.cache, ==, VIV_BLOCK_CACHE_WRITEBACK);

  g_assert_cmpuint (def->nets->len, ==, 2);
  VivNetOptions user, tap;
  g_assert_true (viv_net_options_parse (def->nets->pdata[0], &user, NULL));
  g_assert_true (viv_net_options_parse (def->nets->pdata[1], &tap, NULL));
  g_assert_cmpint (user.kind, ==, VIV_NET_BACKEND_USER);
  g_assert_true (user.restricted);
  const uint8_t mac1[6] = { 0x52, 0x54, 0x00, 0xaa, 0x00, 0x01 };
  g_assert_cmpmem (user.mac, 6, mac1, 6);
  g_assert_cmpuint (user.n_hostfwd, ==, 2);
  g_assert_false (user.hostfwd[0].udp);
  g_assert_cmpuint (user.hostfwd[0].host_port, ==, 2222);
  g_assert_cmpuint (user.hostfwd[0].guest_port, ==, 22);
  g_assert_true (user.hostfwd[1].udp);
  g_assert_cmpuint (user.hostfwd[1].guest_port, ==, 53);
  g_assert_cmpint (tap.kind, ==, VIV_NET_BACKEND_TAP);
  g_assert_cmpstr (tap.ifname, ==, "tap7");
}

static void
validate_with_libvirt (const char *xml)
{
  g_autofree char *tool = g_find_program_in_path ("virt-xml-validate");
  if (!tool)
    {
      g_test_message ("virt-xml-validate not installed (Debian: libvirt-clients): schema check skipped");
      return;
    }
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("viv-domain-XXXXXX.xml", &path, NULL);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_assert_true (g_file_set_contents (path, xml, -1, NULL));
  const char *argv[] = { tool, path, "domain", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
  g_unlink (path);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("virt-xml-validate refused our XML:\n%s%s\n%s", out, err, xml);
}

/* XML → definition → XML → definition: the same VM each time, and our XML
 * is a fixed point that libvirt's own schema accepts. */
static void
test_xml_round_trip (Fixture *f, gconstpointer data)
{
  g_autofree char *input = sample_xml (f, "web-1", "<uuid>0f8fad5b-d9cb-469f-a165-70867728950e</uuid>");
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) first = viv_domain_xml_to_definition (input, -1, &error);
  g_assert_no_error (error);
  g_autofree char *xml1 = viv_domain_xml_from_definition (first, &error);
  g_assert_no_error (error);
  g_autoptr (VivVmDefinition) second = viv_domain_xml_to_definition (xml1, -1, &error);
  g_assert_no_error (error);
  assert_same_definition (first, second);
  g_autofree char *xml2 = viv_domain_xml_from_definition (second, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (xml1, ==, xml2);

  /* The libvirt spelling of what we wrote. */
  g_assert_nonnull (strstr (xml1, "<memory unit=\"KiB\">524288</memory>"));
  g_assert_nonnull (strstr (xml1, "<target dev=\"vda\" bus=\"virtio\"/>"));
  g_assert_nonnull (strstr (xml1, "<target dev=\"vdb\" bus=\"virtio\"/>"));
  g_assert_nonnull (strstr (xml1, "<driver name=\"qemu\" type=\"raw\" cache=\"none\"/>"));
  g_assert_nonnull (strstr (xml1, "<serial>root-disk</serial>"));
  g_assert_nonnull (strstr (xml1, "<interface type=\"ethernet\">"));
  g_assert_nonnull (strstr (xml1, "<target dev=\"tap7\"/>"));
  g_assert_nonnull (strstr (xml1, "<target type=\"virtio\"/>"));
  g_assert_nonnull (strstr (xml1, "<backend model=\"random\">/dev/urandom</backend>"));
  g_assert_nonnull (strstr (xml1, "<memballoon model=\"virtio\"/>"));
  g_assert_nonnull (strstr (xml1, "<vivarium:hostfwd protocol=\"udp\" host-address=\"127.0.0.1\" "
                                  "host-port=\"5353\" guest-address=\"10.0.2.15\" guest-port=\"53\"/>"));
  /* The guest OS where virt-manager writes it. */
  g_assert_nonnull (strstr (xml1, "<libosinfo:libosinfo xmlns:libosinfo=\"" VIV_LIBOSINFO_XML_NAMESPACE "\">"));
  g_assert_nonnull (strstr (xml1, "<libosinfo:os id=\"http://debian.org/debian/11\"/>"));
  g_assert_null (strstr (xml1, "graphics"));   /* ignored on the way in */
  validate_with_libvirt (xml1);

  /* The smallest VM too: no devices, balloon off, serial console. */
  g_autoptr (VivVmDefinition) small = viv_vm_definition_new ();
  small->name = g_strdup ("small");
  small->kernel = g_strdup (f->kernel);
  small->memory_bytes = 64 << 20;
  g_autofree char *xml3 = viv_domain_xml_from_definition (small, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (xml3, "<memballoon model=\"none\"/>"));
  g_assert_null (strstr (xml3, "metadata"));
  g_autoptr (VivVmDefinition) small2 = viv_domain_xml_to_definition (xml3, -1, &error);
  g_assert_no_error (error);
  assert_same_definition (small, small2);
  validate_with_libvirt (xml3);
}

/* Each mistake gets a message naming the element. */
static void
test_xml_errors (Fixture *f, gconstpointer data)
{
  static const struct { const char *from, *to, *message; } cases[] = {
    { "<memory unit='MiB'>512</memory>", "<memory>lots</memory>", "<memory>: 'lots' is not a number of KiB" },
    { "<memory unit='MiB'>512</memory>", "<memory unit='MiB'>-1</memory>", "<memory>: '-1' is not a number of MiB" },
    { "<memory unit='MiB'>512</memory>", "<memory unit='parsecs'>5</memory>", "<memory unit='parsecs'>: unknown unit" },
    { "<memory unit='MiB'>512</memory>", "", "<domain>: no <memory>" },
    { "<memory unit='MiB'>512</memory>", "<memory unit='b'>1000</memory>", "not a whole number of KiB" },
    { "<vcpu placement='static'>2</vcpu>", "<vcpu>0</vcpu>", "<vcpu>: '0' is not a number of vCPUs" },
    { "<name>web-1</name>", "<name>bad/name</name>", "<name>: VM name 'bad/name' has a character" },
    { "<name>web-1</name>", "", "<domain>: no <name>" },
    { "<uuid>x</uuid>", "<uuid>not-a-uuid</uuid>", "<uuid>: 'not-a-uuid' is not a UUID" },
    { "<kernel>", "<initrd>initrd.img</initrd><kernel>", "<initrd>: 'initrd.img' is not an absolute path" },
    { ">hvm<", ">exe<", "<os>: <type> must be 'hvm'" },
    { "arch='x86_64'", "arch='aarch64'", "<type arch='aarch64'>" },
    { "<disk type='file' device='disk'>\n      <driver", "<disk type='block' device='disk'>\n      <driver",
      "<disk type='block'>: only type='file'" },
    { "<target dev='vdb' bus='virtio'/>", "<target dev='sdb' bus='sata'/>", "<target bus='sata'>: only bus='virtio'" },
    { "cache='none'", "cache='unsafe'", "<driver cache='unsafe'>: use none, writethrough or writeback" },
    { "type='raw' cache", "type='vmdk' cache", "unknown format 'vmdk'" },
    { "<serial>root-disk</serial>", "<serial>123456789012345678901</serial>", "longer than 20 bytes" },
    { "<source file='/", "<source dir='/", "<disk>: no <source file='…'/>" },
    { "<interface type='user'>", "<interface type='network'>", "<interface type='network'>: use type='user'" },
    { "<model type='virtio'/>", "<model type='e1000'/>", "<model type='e1000'>: only virtio" },
    { "<target dev='tap7'/>", "", "<interface type='ethernet'>: no <target dev='TAP'/>" },
    { "52:54:00:aa:00:02", "52:54:00:AA:00:01", "two interfaces have the same MAC" },
    { "52:54:00:aa:00:02", "zz:54:00:aa:00:02", "<interface type='ethernet'>" },
    { "<console type='pty'><target type='virtio'/>", "<console type='pty'><target type='sclp'/>",
      "<console>: <target type='sclp'>" },
    { "<rng model='virtio'>", "<rng model='egd'>", "<rng>: only model='virtio'" },
    { "<memballoon model='virtio'/>", "<memballoon model='xen'/>", "<memballoon model='xen'>" },
    { "host-port='2222'", "host-port='99999'", "<vivarium:hostfwd>: host-port='99999' is not a port" },
    { "guest-address='10.0.2.15'", "guest-address='ten'", "<vivarium:hostfwd guest-address='ten'>" },
    { "protocol='tcp'", "protocol='sctp'", "<vivarium:hostfwd protocol='sctp'>" },
    { "<vivarium:interface mac='52:54:00:aa:00:01'", "<vivarium:interface mac='52:54:00:aa:00:09'",
      "<vivarium:interface mac='52:54:00:aa:00:09'>: no <interface> has this MAC" },
    { "<vivarium:vm>", "<vivarium:vm><vivarium:cpu-pinning/>", "<vivarium:cpu-pinning>: unknown element" },
    { "<libosinfo:os id='http://debian.org/debian/11'/>", "<libosinfo:os/>", "<libosinfo:os>: no id" },
    { "</domain>", "</domian>", "not well-formed XML (line" },
  };
  g_autofree char *base = sample_xml (f, "web-1", "<uuid>x</uuid>");
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_nonnull (strstr (base, cases[i].from));
      g_autoptr (GString) xml = g_string_new (base);
      g_string_replace (xml, cases[i].from, cases[i].to, 1);
      if (!g_str_equal (cases[i].from, "<uuid>x</uuid>"))
        g_string_replace (xml, "<uuid>x</uuid>", "", 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (VivVmDefinition) def = viv_domain_xml_to_definition (xml->str, xml->len, &error);
      g_assert_null (def);
      g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID);
      if (!strstr (error->message, cases[i].message))
        g_error ("case %zu: expected '%s' in '%s'", i, cases[i].message, error->message);
    }

  g_autoptr (GError) error = NULL;
  g_assert_null (viv_domain_xml_to_definition ("<network><name>x</name></network>", -1, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "<network>: not a libvirt domain (the root element must be <domain>)");
  g_clear_error (&error);
  g_assert_null (viv_domain_xml_to_definition ("<!DOCTYPE domain [<!ENTITY a 'aaaa'>]><domain><name>&a;</name>"
                                               "</domain>", -1, &error));
  g_assert_cmpstr (error->message, ==, "<!DOCTYPE>: a domain definition may not have one");
}

static void
test_names (Fixture *f, gconstpointer data)
{
  const char *good[] = { "a", "web-1", "Db_2.test", "0", NULL };
  const char *bad[] = { "", "-x", ".hidden", "a/b", "a b", "é", "..",
                        "12345678901234567890123456789012345678901234567890123456789012345", NULL };
  for (const char **name = good; *name; name++)
    g_assert_true (viv_vm_name_is_valid (*name, NULL));
  for (const char **name = bad; *name; name++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (viv_vm_name_is_valid (*name, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
  g_autoptr (GError) error = NULL;
  g_assert_null (viv_library_load (f->lib, "../etc", &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID);
}

static VivVmDefinition *
simple_definition (Fixture *f, const char *name)
{
  VivVmDefinition *def = viv_vm_definition_new ();
  def->name = g_strdup (name);
  def->kernel = g_strdup (f->kernel);
  def->memory_bytes = 128 << 20;
  VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
  g_autofree char *spec = g_strdup_printf ("%s,cache=writethrough,readonly", f->base);
  g_assert_true (viv_disk_spec_parse (spec, disk, NULL));
  g_ptr_array_add (def->disks, disk);
  return def;
}

/* Only domain.xml (and nothing half-written) in a VM's directory. */
static void
assert_dir_holds_only (Fixture *f, const char *name, const char *only)
{
  g_autofree char *path = viv_library_get_vm_dir (f->lib, name);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  g_assert_nonnull (dir);
  const char *entry;
  unsigned n = 0;
  while ((entry = g_dir_read_name (dir)))
    {
      g_assert_cmpstr (entry, ==, only);
      n++;
    }
  g_assert_cmpuint (n, ==, 1);
}

static void
test_define (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) a = simple_definition (f, "alpha");
  g_assert_true (viv_library_define (f->lib, a, VIV_LIBRARY_DEFINE_NEW_ONLY, &error));
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (a->uuid));
  assert_dir_holds_only (f, "alpha", "domain.xml");

  g_autoptr (VivVmDefinition) loaded = viv_library_load (f->lib, "alpha", &error);
  g_assert_no_error (error);
  assert_same_definition (a, loaded);

  /* The same name again. */
  g_autoptr (VivVmDefinition) again = simple_definition (f, "alpha");
  g_assert_false (viv_library_define (f->lib, again, VIV_LIBRARY_DEFINE_NEW_ONLY, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "a VM named 'alpha' already exists"));
  g_clear_error (&error);
  /* … with another UUID (as libvirt: a new UUID means another VM). */
  g_assert_false (viv_library_define (f->lib, again, 0, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, a->uuid));
  g_clear_error (&error);
  /* … with its UUID: an update. */
  g_strlcpy (again->uuid, a->uuid, sizeof again->uuid);
  again->n_cpus = 3;
  g_assert_true (viv_library_define (f->lib, again, 0, &error));
  g_assert_no_error (error);
  g_autoptr (VivVmDefinition) updated = viv_library_load (f->lib, "alpha", &error);
  g_assert_cmpuint (updated->n_cpus, ==, 3);

  /* A UUID that another VM has. */
  g_autoptr (VivVmDefinition) b = simple_definition (f, "beta");
  g_strlcpy (b->uuid, a->uuid, sizeof b->uuid);
  g_assert_false (viv_library_define (f->lib, b, 0, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "already belongs to the VM 'alpha'"));
  g_clear_error (&error);
  b->uuid[0] = 0;
  g_assert_true (viv_library_define (f->lib, b, 0, &error));

  /* A missing disk, a missing kernel, a bad name: nothing is written. */
  g_autoptr (VivVmDefinition) c = simple_definition (f, "gamma");
  VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
  g_assert_true (viv_disk_spec_parse ("/nonexistent/disk.img", disk, NULL));
  g_ptr_array_add (c->disks, disk);
  g_assert_false (viv_library_define (f->lib, c, 0, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "<disk> /nonexistent/disk.img: No such file or directory");
  g_clear_error (&error);
  g_ptr_array_set_size (c->disks, 1);
  g_free (c->kernel);
  c->kernel = g_strdup ("/nonexistent/vmlinuz");
  g_assert_false (viv_library_define (f->lib, c, 0, &error));
  g_assert_cmpstr (error->message, ==, "<kernel> /nonexistent/vmlinuz: No such file or directory");
  g_clear_error (&error);
  g_free (c->name);
  c->name = g_strdup ("no spaces");
  g_assert_false (viv_library_define (f->lib, c, 0, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID);
  g_clear_error (&error);

  g_auto (GStrv) names = viv_library_list (f->lib, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "alpha");
  g_assert_cmpstr (names[1], ==, "beta");
}

/* A failed write leaves the old definition whole and no temp file. */
static void
test_atomic_write (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) def = simple_definition (f, "atomic");
  g_assert_true (viv_library_define (f->lib, def, 0, &error));
  g_autofree char *before = viv_library_load_xml (f->lib, "atomic", &error);
  g_assert_no_error (error);

  /* A file-size limit smaller than the new XML makes write() fail with
   * EFBIG — for root too, unlike a read-only directory. */
  def->cmdline = g_strnfill (4000, 'x');
  struct rlimit saved, limit;
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limit = saved;
  limit.rlim_cur = strlen (before) + 100;
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  gboolean ok = viv_library_define (f->lib, def, 0, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  g_assert_false (ok);
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, g_strerror (EFBIG)));
  g_clear_error (&error);
  g_autofree char *after = viv_library_load_xml (f->lib, "atomic", &error);
  g_assert_cmpstr (before, ==, after);
  assert_dir_holds_only (f, "atomic", "domain.xml");

  /* A read-only directory (only meaningful when not root). */
  if (geteuid () != 0)
    {
      g_autofree char *dir = viv_library_get_vm_dir (f->lib, "atomic");
      g_assert_cmpint (g_chmod (dir, 0500), ==, 0);
      g_assert_false (viv_library_define (f->lib, def, 0, &error));
      g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_FAILED);
      g_clear_error (&error);
      g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
      g_autofree char *still = viv_library_load_xml (f->lib, "atomic", &error);
      g_assert_cmpstr (before, ==, still);
      assert_dir_holds_only (f, "atomic", "domain.xml");
    }
  else
    g_test_message ("running as root: the read-only directory case cannot fail for root, skipped");

  /* And the write that works replaces the file whole. */
  g_assert_true (viv_library_define (f->lib, def, 0, &error));
  g_autoptr (VivVmDefinition) loaded = viv_library_load (f->lib, "atomic", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (loaded->cmdline, ==, def->cmdline);
  assert_dir_holds_only (f, "atomic", "domain.xml");
}

static void
test_undefine (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) def = simple_definition (f, "gone");
  /* Its own disk beside the definition, plus the shared read-only base. */
  g_autofree char *dir = viv_library_get_vm_dir (f->lib, "gone");
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_autofree char *own = make_file (dir, "disk0.img", 4096);
  VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
  g_assert_true (viv_disk_spec_parse (own, disk, NULL));
  g_ptr_array_add (def->disks, disk);
  g_assert_true (viv_library_define (f->lib, def, 0, &error));
  g_assert_no_error (error);

  /* Without --remove-disks the image and its directory stay. */
  g_assert_true (viv_library_undefine (f->lib, "gone", FALSE, NULL, &error));
  g_assert_false (viv_library_contains (f->lib, "gone"));
  g_assert_true (g_file_test (own, G_FILE_TEST_EXISTS));
  assert_dir_holds_only (f, "gone", "disk0.img");

  g_assert_false (viv_library_undefine (f->lib, "gone", FALSE, NULL, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* With it, writable images go, read-only ones stay, and so does nothing else. */
  def->uuid[0] = 0;
  g_assert_true (viv_library_define (f->lib, def, 0, &error));
  g_autoptr (GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (viv_library_undefine (f->lib, "gone", TRUE, removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed->len, ==, 1);
  g_assert_cmpstr (removed->pdata[0], ==, own);
  g_assert_false (g_file_test (own, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (f->base, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/library/xml/read", test_xml_read);
  ADD ("/library/xml/round-trip", test_xml_round_trip);
  ADD ("/library/xml/errors", test_xml_errors);
  ADD ("/library/names", test_names);
  ADD ("/library/define", test_define);
  ADD ("/library/atomic-write", test_atomic_write);
  ADD ("/library/undefine", test_undefine);
  return g_test_run ();
}
