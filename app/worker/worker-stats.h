/* The statistics of io.github.vivarium.Machine1 (GetStats, StatsUpdated):
 * an a{sv} whose keys data/io.github.vivarium.Machine1.xml documents. */
#pragma once
#include "machine.h"

typedef struct VivWorkerStats VivWorkerStats;

VivWorkerStats *viv_worker_stats_new  (VivMachine *machine);
void            viv_worker_stats_free (VivWorkerStats *stats);

/* A reset ends the vCPU threads, and their CPU clocks with them: sample
 * them just before viv_machine_finish, and if the machine rebooted,
 * call rebooted() so the next boot's times add to the earlier ones. */
void            viv_worker_stats_sample_vcpus (VivWorkerStats *stats);
void            viv_worker_stats_rebooted     (VivWorkerStats *stats);

/* A floating a{sv}.  Main thread. */
GVariant       *viv_worker_stats_collect (VivWorkerStats *stats);
