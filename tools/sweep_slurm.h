// A sweep's pending points as a Slurm job array: one script (`--array=0-N%K`,
// one array task per point, or per batch of consecutive points when there are
// more than kMaxArrayTasks), submitted with sbatch, waited for by polling squeue
// (no accounting database needed), each task's JSON collected into the same
// CSV the local runner writes. Each task writes its points' run_N.log (stdout
// and stderr), run_N.json (only on success) and run_N.status (exit status)
// into the work directory, which must be on a file system the compute nodes
// share with the submitting host, as must the numasim binary and the configurations.
// Simplified: a task lost by Slurm (node failure, time limit) is reported with
// its Slurm state and its output file; the sweep does not resubmit (a rerun does).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sweep_runner.h"

namespace numasim::cli {

// Slurm's default MaxArraySize is 1001 (indices 0..1000): beyond this many
// points, consecutive points share an array task.
inline constexpr std::size_t kMaxArrayTasks = 1000;

struct SlurmOptions {
  std::string partition;    // --partition (empty: the cluster's default)
  std::string time;         // --time (empty: the partition's default)
  unsigned array_limit = 0; // %K: at most K tasks at once (0: no limit)
  bool dry_run = false;     // write the script, submit nothing
  std::string sweep_file;   // named in the script's comment
  double poll_seconds = 2;  // squeue interval
};

// Why `t` is not a Slurm time limit ("" if it is): minutes, minutes:seconds,
// hours:minutes:seconds, days-hours, days-hours:minutes, days-hours:minutes:seconds.
std::string slurm_time_error(std::string_view t);
// Why `p` is not a partition name ("" if it is).
std::string slurm_partition_error(std::string_view p);

// Points of `pending` (indices into plan.runs) per array task.
std::vector<std::vector<std::size_t>> slurm_tasks(const std::vector<std::size_t>& pending);

// The job-array script running `tasks`; cwd is the tasks' working directory.
std::string slurm_script(const SweepPlan& plan, const std::vector<std::vector<std::size_t>>& tasks,
                         const std::string& binary, const std::string& cwd, const SlurmOptions& slurm);

// The script's path in the work directory.
std::string slurm_script_path(const SweepPlan& plan);

// Plans the sweep, writes the script, submits it (unless dry_run) and waits.
// With dry_run the result has no CSV. Throws SweepError when the job cannot be
// submitted or followed.
workloads::SweepResult run_sweep_slurm(const workloads::SweepSpec& spec, const SweepOptions& options,
                                       const SlurmOptions& slurm);

}  // namespace numasim::cli
