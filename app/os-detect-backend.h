/* Between os-detect.c and its libosinfo module, os-detect-osinfo.c: the
 * module's one exported function returns these. */
#pragma once
#include <gmodule.h>

#include "os-detect.h"

typedef struct {
  VivOsInfo *(*detect_media) (const char *path, GCancellable *cancellable, GError **error);
  VivOsInfo *(*lookup)       (const char *id, GError **error);
  GPtrArray *(*list)         (GDateTime *supported_on, GError **error);
  void       (*preload)      (void);
} VivOsBackend;

G_MODULE_EXPORT const VivOsBackend *viv_os_backend (void);
