#include "worker-stats.h"

#include <stdio.h>
#include <time.h>

/* Per vCPU: what boots that ended added up, and the latest sample of
 * this boot's thread. */
typedef struct {
  uint64_t earlier_cpu_ns, current_cpu_ns;
  uint64_t earlier_wait_ns, current_wait_ns;
} VcpuTimes;

struct VivWorkerStats {
  VivMachine *machine;
  unsigned    n_cpus;
  VcpuTimes  *vcpus;
};

VivWorkerStats *
viv_worker_stats_new (VivMachine *machine)
{
  VivWorkerStats *stats = g_new0 (VivWorkerStats, 1);
  stats->machine = machine;
  stats->n_cpus = viv_machine_get_n_cpus (machine);
  stats->vcpus = g_new0 (VcpuTimes, stats->n_cpus);
  return stats;
}

void
viv_worker_stats_free (VivWorkerStats *stats)
{
  if (!stats)
    return;
  g_free (stats->vcpus);
  g_free (stats);
}

/* The time the vCPU threads spent ready to run but waiting for a host
 * CPU (what a guest calls steal time): the second field of each thread's
 * schedstat.  The engine names its vCPU threads "vcpuN". */
static void
sample_wait_times (VivWorkerStats *stats)
{
  g_autoptr (GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  while (tasks && (tid = g_dir_read_name (tasks)))
    {
      g_autofree char *comm_path = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree char *comm = NULL;
      unsigned index;
      char extra;
      if (!g_file_get_contents (comm_path, &comm, NULL, NULL)
          || sscanf (comm, "vcpu%u%c", &index, &extra) != 2 || extra != '\n'
          || index >= stats->n_cpus)
        continue;
      g_autofree char *schedstat_path = g_build_filename ("/proc/self/task", tid, "schedstat", NULL);
      g_autofree char *schedstat = NULL;
      guint64 run_ns, wait_ns;
      if (g_file_get_contents (schedstat_path, &schedstat, NULL, NULL)
          && sscanf (schedstat, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &run_ns, &wait_ns) == 2)
        stats->vcpus[index].current_wait_ns = wait_ns;
    }
}

void
viv_worker_stats_sample_vcpus (VivWorkerStats *stats)
{
  for (unsigned i = 0; i < stats->n_cpus; i++)
    viv_machine_get_vcpu_cpu_time (stats->machine, i, &stats->vcpus[i].current_cpu_ns);
  sample_wait_times (stats);
}

void
viv_worker_stats_rebooted (VivWorkerStats *stats)
{
  for (unsigned i = 0; i < stats->n_cpus; i++)
    {
      VcpuTimes *t = &stats->vcpus[i];
      t->earlier_cpu_ns += t->current_cpu_ns;
      t->earlier_wait_ns += t->current_wait_ns;
      t->current_cpu_ns = t->current_wait_ns = 0;
    }
}

static uint64_t
clock_ns (clockid_t clock)
{
  struct timespec ts;
  clock_gettime (clock, &ts);
  return (uint64_t) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static uint64_t
mean (uint64_t total, uint64_t count)
{
  return count ? total / count : 0;
}

static GVariant *
exit_dict (const uint64_t counts[VIV_EXIT_N_KINDS])
{
  GVariantBuilder dict;
  g_variant_builder_init (&dict, G_VARIANT_TYPE ("a{st}"));
  for (unsigned k = 0; k < VIV_EXIT_N_KINDS; k++)
    g_variant_builder_add (&dict, "{st}", viv_exit_kind_name (k), (guint64) counts[k]);
  return g_variant_builder_end (&dict);
}

static void
add_vcpus (VivWorkerStats *stats, GVariantBuilder *out)
{
  GVariantBuilder times, waits, per_vcpu;
  g_variant_builder_init (&times, G_VARIANT_TYPE ("at"));
  g_variant_builder_init (&waits, G_VARIANT_TYPE ("at"));
  g_variant_builder_init (&per_vcpu, G_VARIANT_TYPE ("aa{st}"));
  uint64_t totals[VIV_EXIT_N_KINDS] = { 0 };
  uint64_t all = 0;
  viv_worker_stats_sample_vcpus (stats);
  for (unsigned i = 0; i < stats->n_cpus; i++)
    {
      const VcpuTimes *t = &stats->vcpus[i];
      g_variant_builder_add (&times, "t", (guint64) (t->earlier_cpu_ns + t->current_cpu_ns));
      g_variant_builder_add (&waits, "t", (guint64) (t->earlier_wait_ns + t->current_wait_ns));
      uint64_t counts[VIV_EXIT_N_KINDS];
      viv_machine_get_exit_counts (stats->machine, i, counts);
      for (unsigned k = 0; k < VIV_EXIT_N_KINDS; k++)
        {
          totals[k] += counts[k];
          all += counts[k];
        }
      g_variant_builder_add_value (&per_vcpu, exit_dict (counts));
    }
  g_variant_builder_add (out, "{sv}", "vcpu-time-ns", g_variant_builder_end (&times));
  g_variant_builder_add (out, "{sv}", "vcpu-wait-ns", g_variant_builder_end (&waits));
  g_variant_builder_add (out, "{sv}", "exits", exit_dict (totals));
  g_variant_builder_add (out, "{sv}", "exits-total", g_variant_new_uint64 (all));
  g_variant_builder_add (out, "{sv}", "vcpu-exits", g_variant_builder_end (&per_vcpu));
}

static void
add_u64 (GVariantBuilder *dict, const char *key, uint64_t value)
{
  g_variant_builder_add (dict, "{sv}", key, g_variant_new_uint64 (value));
}

static void
add_disks (VivWorkerStats *stats, GVariantBuilder *out)
{
  GVariantBuilder disks;
  g_variant_builder_init (&disks, G_VARIANT_TYPE ("aa{sv}"));
  for (unsigned i = 0; i < viv_machine_get_n_disks (stats->machine); i++)
    {
      VivVirtioBlkStats s;
      if (!viv_machine_get_disk_stats (stats->machine, i, &s))
        continue;
      GVariantBuilder disk;
      g_variant_builder_init (&disk, G_VARIANT_TYPE ("a{sv}"));
      add_u64 (&disk, "read-bytes", s.read_bytes);
      add_u64 (&disk, "read-ops", s.read_ops);
      add_u64 (&disk, "write-bytes", s.write_bytes);
      add_u64 (&disk, "write-ops", s.write_ops);
      add_u64 (&disk, "flush-ops", s.flush_ops);
      add_u64 (&disk, "read-latency-ns", mean (s.read_ns, s.read_ops));
      add_u64 (&disk, "write-latency-ns", mean (s.write_ns, s.write_ops));
      add_u64 (&disk, "flush-latency-ns", mean (s.flush_ns, s.flush_ops));
      add_u64 (&disk, "errors", s.errors);
      g_variant_builder_add_value (&disks, g_variant_builder_end (&disk));
    }
  g_variant_builder_add (out, "{sv}", "disks", g_variant_builder_end (&disks));
}

static void
add_nics (VivWorkerStats *stats, GVariantBuilder *out)
{
  GVariantBuilder nics;
  g_variant_builder_init (&nics, G_VARIANT_TYPE ("aa{sv}"));
  for (unsigned i = 0; i < viv_machine_get_n_nics (stats->machine); i++)
    {
      VivNetStats s;
      if (!viv_machine_get_nic_stats (stats->machine, i, &s))
        continue;
      GVariantBuilder nic;
      g_variant_builder_init (&nic, G_VARIANT_TYPE ("a{sv}"));
      add_u64 (&nic, "rx-bytes", s.rx_bytes);
      add_u64 (&nic, "rx-packets", s.rx_packets);
      add_u64 (&nic, "rx-dropped", s.rx_dropped);
      add_u64 (&nic, "tx-bytes", s.tx_bytes);
      add_u64 (&nic, "tx-packets", s.tx_packets);
      add_u64 (&nic, "tx-dropped", s.tx_dropped);
      g_variant_builder_add_value (&nics, g_variant_builder_end (&nic));
    }
  g_variant_builder_add (out, "{sv}", "nics", g_variant_builder_end (&nics));
}

GVariant *
viv_worker_stats_collect (VivWorkerStats *stats)
{
  GVariantBuilder out;
  g_variant_builder_init (&out, G_VARIANT_TYPE ("a{sv}"));
  add_u64 (&out, "time-ns", clock_ns (CLOCK_MONOTONIC));
  add_u64 (&out, "worker-cpu-time-ns", clock_ns (CLOCK_PROCESS_CPUTIME_ID));
  add_vcpus (stats, &out);
  add_u64 (&out, "memory-bytes", viv_machine_get_memory_bytes (stats->machine));
  add_u64 (&out, "resident-bytes", viv_machine_get_resident_bytes (stats->machine));
  uint64_t target, actual;
  if (viv_machine_get_balloon (stats->machine, &target, &actual))
    {
      add_u64 (&out, "balloon-target-bytes", target);
      add_u64 (&out, "balloon-actual-bytes", actual);
    }
  add_disks (stats, &out);
  add_nics (stats, &out);
  return g_variant_builder_end (&out);
}
