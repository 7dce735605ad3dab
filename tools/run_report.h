// A `numasim run`: places the workloads on the machine, runs it (with a progress
// line on a terminal), and renders the result as the human report and as the
// JSON statistics document (schema in README.md, "JSON statistics").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/units.h"
#include "workloads/workload_spec.h"

namespace numasim::hw {
class Machine;
struct TaskRun;
}  // namespace numasim::hw

namespace numasim::cli {

class RunReport {
 public:
  RunReport(hw::Machine& machine, std::vector<workloads::WorkloadSpec>& specs) : machine_(machine), specs_(specs) {}

  // One task per thread; threads of a workload share its address space.
  void place_workloads();
  // Simulates until every task has finished. `progress`: print a progress line on
  // stderr every half second once the run has taken two seconds.
  // `sample_interval` > 0: every that much simulated time, record a row of
  // per-node and per-link figures (see sample_csv()).
  void run(bool progress, Picoseconds sample_interval = Picoseconds(0));
  // Time series: time_us, then per node read/write GB/s and free kB, per link
  // direction GB/s, faults/s and second-level TLB misses/s over each interval.
  // Figures are read at SystemC time; cores may be up to one quantum ahead.
  std::string sample_csv() const { return samples_; }
  // Called at every sample, after its CSV row (e.g. to write the /proc files).
  std::function<void()> on_sample;

  std::string text() const;
  std::string json() const;
  // No workload recorded an error and no task was killed.
  bool all_workloads_ok() const;
  // Kernel messages of the run, Linux-style: the OOM killer's (oom-kill summary and
  // "Out of memory: Killed process ..."), then "segfault at" lines of killed tasks.
  std::vector<std::string> kernel_log() const;
  // Cache-line accesses of every task.
  std::uint64_t references() const;

  // Reclaim figures of one node: vm events counted on the node's CPUs (node -1:
  // the events counted without a CPU) and the CPU time of its kswapd<N> thread.
  struct ReclaimFigures {
    std::uint64_t pgscan_kswapd = 0, pgscan_direct = 0, pgsteal_kswapd = 0, pgsteal_direct = 0;
    std::uint64_t allocstall = 0, pswpin = 0, pswpout = 0, pgmajfault = 0;
    std::uint64_t workingset_refault_anon = 0;  // node stat of the node (0 for node -1)
    Picoseconds kswapd_time{0};
    bool any() const {
      return pgscan_kswapd || pgscan_direct || pgsteal_kswapd || pgsteal_direct || allocstall || pswpin || pswpout ||
             pgmajfault || workingset_refault_anon || kswapd_time.value();
    }
  };
  ReclaimFigures reclaim_figures(int node) const;
  // Verify mode: tokens written and checked by every core, and the mismatches
  // ("nothing lost" failed). Empty when no workload has verify = true.
  struct VerifySummary {
    bool enabled = false;
    std::uint64_t stores = 0, loads = 0, mismatches = 0;
    std::vector<std::string> messages;  // one per kept mismatch
  };
  VerifySummary verify_summary() const;

 private:
  hw::Machine& machine_;
  std::vector<workloads::WorkloadSpec>& specs_;
  std::vector<std::vector<hw::TaskRun*>> runs_;  // per workload, per thread
  void take_sample(Picoseconds interval);
  std::string samples_;
  std::vector<double> last_sample_;
  // NUMA balancing columns' previous cumulative values: local DRAM, remote DRAM,
  // numa_hint_faults, numa_pages_migrated, pgpromote_success.
  std::array<double, 5> numab_last_{};
  // Memory-tier columns' previous cumulative values: pgmigrate_success, pgdemote_kswapd + _direct.
  std::array<double, 2> tier_last_{};
  std::array<double, 5> file_last_{};  // nr_dirtied, nr_written, pgpgin, pgpgout, workingset_refault_file
  // Each workload's /proc/<pid>/numa_maps at the last sample it was alive (by workload index).
  std::vector<std::string> numa_maps_;  // cumulative counters at the previous sample
  double host_seconds_ = 0;
  std::uint64_t sim_ps_ = 0;
};

}  // namespace numasim::cli
