/* Installation media for the OS-detection tests: real ISO 9660 images. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An ISO at dir/name made by xorriso, with these volume, system and
 * publisher ids (system and publisher NULL: none), holding a Debian
 * installer's kernel and initrd paths.  NULL, and the test skipped, when
 * xorriso is not installed. */
char *viv_test_make_iso (const char *dir, const char *name, const char *volume_id,
                         const char *system_id, const char *publisher);

G_END_DECLS
