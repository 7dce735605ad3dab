// Running a sweep's points (workloads/sweep.h). The work directory keeps each
// point's files across invocations: run_N.key (the point's arguments and a hash
// of its configuration file), run_N.json (written only when the run succeeded),
// run_N.log (its stdout and stderr); a rerun skips every point whose JSON exists
// under the same key, so an interrupted sweep resumes where it stopped. The
// local runner starts `numasim run` child processes, -j at a time; the Slurm
// runner (sweep_slurm.h) runs the same points as a job array.
// Simplified: the key does not cover files a configuration includes (`base`)
// nor the numasim binary: rerun with `fresh` after changing either.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "workloads/sweep.h"

namespace numasim::cli {

struct SweepOptions {
  std::string binary;                // the numasim executable (argv[0] of the runs)
  int jobs = 0;                      // local parallel runs; 0: spec.jobs
  std::string work_dir;              // per-run key, JSON and log (created)
  std::ostream* progress = nullptr;  // one line per finished run
  bool fresh = false;                // run every point again, ignoring earlier results
};

// Every point of a sweep with its files, and those that still need a run.
struct SweepPlan {
  std::string work_dir;                          // absolute
  std::vector<workloads::SweepRunOutcome> runs;  // point order; reused runs are complete
  std::vector<std::vector<std::string>> args;    // per run: numasim arguments (absolute config path)
  std::vector<std::size_t> pending;              // indices of runs to start, ascending
};

// Expands the sweep, creates the work directory and reuses earlier results.
// Each pending point's JSON, partial JSON and status are removed and its key
// written. Throws SweepError when the work directory is unusable (a file, not creatable).
SweepPlan plan_sweep(const workloads::SweepSpec& spec, const SweepOptions& options);

// Where a run writes its JSON before it is complete (renamed to json_path on exit 0).
std::string partial_json_path(const workloads::SweepRunOutcome& o);
// The run's exit status file (Slurm tasks write it; the local runner knows it directly).
std::string status_path(const workloads::SweepRunOutcome& o);

// Records the end of run `i` of the plan: exit 0 renames its partial JSON.
void finish_run(const workloads::SweepSpec& spec, SweepPlan& plan, std::size_t i, int exit_code);
// One progress line "[k/N] ok|FAILED: run i CONFIG --set ..." (and the message).
void report_run(std::ostream* progress, const SweepPlan& plan, std::size_t i, std::size_t finished);
// The CSV and counts once every pending run has finished.
workloads::SweepResult sweep_result(const workloads::SweepSpec& spec, SweepPlan plan);
// Every failed run with the last lines of its log (its stderr), for the final report.
void report_failures(std::ostream& out, const workloads::SweepResult& result);

// Runs every pending point here with at most `jobs` children at a time.
// Throws SweepError only when nothing can run (no binary, bad work directory).
workloads::SweepResult run_sweep(const workloads::SweepSpec& spec, const SweepOptions& options);

}  // namespace numasim::cli
