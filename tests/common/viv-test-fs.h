/* File-system helpers shared by the tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes PATH and everything below it, without following symbolic links;
 * directories a test made read-only are removed too. */
void viv_test_remove_tree (const char *path);

G_END_DECLS
