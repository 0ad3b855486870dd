/* A cache of cluster-sized metadata tables (L2 tables or refcount blocks),
 * kept in their on-disk byte order.  Tables in use are pinned; the least
 * recently used unpinned table is evicted.  Evicting a dirty L2 table
 * first writes the metadata it depends on (qcow2_image_flush), so the
 * write order of qcow2-internal.h holds; dirty refcount blocks may be
 * written any time. */
#include "block/qcow2-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t offset;      /* 0: free slot */
  uint8_t *table;
  uint64_t last_use;
  unsigned pins;
  bool     dirty;
} CacheEntry;

struct Qcow2Cache {
  Qcow2Image *img;
  bool        is_l2;
  unsigned    capacity;
  CacheEntry *entries;
  GHashTable *by_offset;   /* offset → CacheEntry* */
  GHashTable *by_table;    /* table → CacheEntry* */
  uint64_t    clock;
};

Qcow2Cache *
qcow2_cache_new (Qcow2Image *img, unsigned capacity, bool is_l2)
{
  Qcow2Cache *cache = g_new0 (Qcow2Cache, 1);
  cache->img = img;
  cache->is_l2 = is_l2;
  cache->capacity = capacity;
  cache->entries = g_new0 (CacheEntry, capacity);
  cache->by_offset = g_hash_table_new (g_int64_hash, g_int64_equal);
  cache->by_table = g_hash_table_new (NULL, NULL);
  return cache;
}

void
qcow2_cache_free (Qcow2Cache *cache)
{
  for (unsigned i = 0; i < cache->capacity; i++)
    free (cache->entries[i].table);
  g_hash_table_destroy (cache->by_offset);
  g_hash_table_destroy (cache->by_table);
  g_free (cache->entries);
  g_free (cache);
}

static int
write_entry (Qcow2Cache *cache, CacheEntry *e)
{
  int ret = qcow2_pwrite (cache->img, e->offset, e->table, cache->img->cluster_size);
  if (ret == 0)
    e->dirty = false;
  return ret;
}

static void
forget (Qcow2Cache *cache, CacheEntry *e)
{
  g_hash_table_remove (cache->by_offset, &e->offset);
  e->offset = 0;
  e->dirty = false;
}

/* A slot for a new table: a free one, else the least recently used
 * unpinned one, written back first when dirty. */
static int
find_slot (Qcow2Cache *cache, CacheEntry **slot)
{
  CacheEntry *victim = NULL;
  for (unsigned i = 0; i < cache->capacity; i++) {
    CacheEntry *e = &cache->entries[i];
    if (e->offset == 0) {
      victim = e;
      break;
    }
    if (e->pins == 0 && (!victim || e->last_use < victim->last_use))
      victim = e;
  }
  /* Every table pinned: the callers pin at most a few at once. */
  g_assert (victim);
  if (victim->offset && victim->dirty) {
    int ret;
    if (cache->is_l2)
      /* Data and refcounts must be durable before an L2 table that
       * points at them; the L1 table follows it. */
      ret = qcow2_image_flush (cache->img, false, false);
    else
      ret = write_entry (cache, victim);
    if (ret < 0)
      return ret;
  }
  if (victim->offset)
    forget (cache, victim);
  if (!victim->table) {
    void *table;
    if (posix_memalign (&table, 4096, cache->img->cluster_size) != 0)
      return -ENOMEM;
    victim->table = table;
    g_hash_table_insert (cache->by_table, table, victim);
  }
  *slot = victim;
  return 0;
}

static CacheEntry *
entry_of (Qcow2Cache *cache, uint8_t *table)
{
  CacheEntry *e = g_hash_table_lookup (cache->by_table, table);
  g_assert (e && e->offset);
  return e;
}

static int
get (Qcow2Cache *cache, uint64_t offset, uint8_t **table, bool fresh)
{
  g_assert (offset && offset % cache->img->cluster_size == 0);
  CacheEntry *e = g_hash_table_lookup (cache->by_offset, &offset);
  if (!e) {
    int ret = find_slot (cache, &e);
    if (ret < 0)
      return ret;
    if (fresh) {
      memset (e->table, 0, cache->img->cluster_size);
    } else {
      ret = qcow2_pread (cache->img, offset, e->table, cache->img->cluster_size);
      if (ret < 0)
        return ret;
    }
    e->offset = offset;
    g_hash_table_insert (cache->by_offset, &e->offset, e);
  } else if (fresh) {
    memset (e->table, 0, cache->img->cluster_size);
  }
  if (fresh)
    e->dirty = true;
  e->pins++;
  e->last_use = ++cache->clock;
  *table = e->table;
  return 0;
}

int
qcow2_cache_get (Qcow2Cache *cache, uint64_t offset, uint8_t **table)
{
  return get (cache, offset, table, false);
}

int
qcow2_cache_get_new (Qcow2Cache *cache, uint64_t offset, uint8_t **table)
{
  return get (cache, offset, table, true);
}

void
qcow2_cache_put (Qcow2Cache *cache, uint8_t *table)
{
  CacheEntry *e = entry_of (cache, table);
  g_assert (e->pins > 0);
  e->pins--;
}

void
qcow2_cache_mark_dirty (Qcow2Cache *cache, uint8_t *table)
{
  entry_of (cache, table)->dirty = true;
}

bool
qcow2_cache_has_dirty (Qcow2Cache *cache)
{
  for (unsigned i = 0; i < cache->capacity; i++)
    if (cache->entries[i].offset && cache->entries[i].dirty)
      return true;
  return false;
}

int
qcow2_cache_write_dirty (Qcow2Cache *cache)
{
  int written = 0;
  for (unsigned i = 0; i < cache->capacity; i++) {
    CacheEntry *e = &cache->entries[i];
    if (e->offset && e->dirty) {
      int ret = write_entry (cache, e);
      if (ret < 0)
        return ret;
      written++;
    }
  }
  return written;
}

void
qcow2_cache_discard (Qcow2Cache *cache, uint64_t offset)
{
  CacheEntry *e = g_hash_table_lookup (cache->by_offset, &offset);
  if (e) {
    g_assert (e->pins == 0);
    forget (cache, e);
  }
}

void
qcow2_cache_discard_all (Qcow2Cache *cache)
{
  for (unsigned i = 0; i < cache->capacity; i++)
    if (cache->entries[i].offset) {
      g_assert (cache->entries[i].pins == 0);
      forget (cache, &cache->entries[i]);
    }
}
