// Parameter sweeps: a grid of --set overrides over one or more configurations,
// expanded to the cartesian product, one CSV row per run: the run's index,
// configuration, set values, status, and the figures picked from its JSON. This
// file is the sweep's data (file, points, outcomes, CSV); the runners that
// start the runs, on this machine or as a Slurm job array, are in
// tools/sweep_runner.h and tools/sweep_slurm.h. A failed run is reported (exit
// status, log file, last log line) and does not stop the others; its figures
// are left empty.
//
//   configs = ["stream.toml", "gups.toml"]   # relative to the sweep file
//   jobs = 2                                 # parallel runs (the CLI's -j wins)
//   args = ["--sample", "10us"]              # optional, added to every run
//   [grid]                                   # --set key -> values (file order;
//   "workload[0].policy" = ["local", "bind:1"]   #  the last key varies fastest)
//   "workload[0].threads" = [1, 2]
//   [collect]                                # CSV column -> dotted JSON path
//   sim_seconds = "sim.simulated_seconds"
//   faults = "vmstat.pgfault"
//
// Simplified: runs are not retried or timed out; a run's JSON and log stay in
// the work directory for inspection.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace numasim::workloads {

// A malformed sweep file; what() is "file:line:column: error: ...".
class SweepError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The most points one sweep file may expand to (configurations x the values
// of every grid key): a larger grid is a located error, not host memory
// exhausted by the expansion. Split larger studies into several sweep files.
inline constexpr std::uint64_t kMaxSweepPoints = 100000;

struct SweepSpec {
  std::vector<std::string> configs;  // paths (resolved against the sweep file's directory)
  // key -> values, each value as --set text (strings TOML-quoted: "\"bind:1\"", numbers as written)
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;
  std::vector<std::pair<std::string, std::string>> collect;  // column -> JSON path
  std::vector<std::string> args;
  int jobs = 1;
};

struct SweepPoint {
  std::size_t index = 0;
  std::string config;
  std::vector<std::pair<std::string, std::string>> sets;  // key, --set value text
  // The child's arguments after the binary, without the output options: run CONFIG --set k=v ... args...
  std::vector<std::string> arguments(const std::vector<std::string>& extra_args) const;
  // arguments(extra_args) followed by --json PATH --quiet
  std::vector<std::string> command(const std::vector<std::string>& extra_args, const std::string& json_path) const;
  // "CONFIG --set k=v ..." for progress lines.
  std::string describe() const;
};

SweepSpec parse_sweep_file(const std::string& path);
// base_dir resolves relative config paths.
SweepSpec parse_sweep_text(std::string_view text, const std::string& name, const std::string& base_dir);

// configs x grid, configs outermost, the last grid key varying fastest.
std::vector<SweepPoint> expand_sweep(const SweepSpec& spec);

struct SweepRunOutcome {
  SweepPoint point;
  bool ok = false;
  bool reused = false;  // the result of an earlier invocation (not run again)
  int exit_code = 0;    // or 128 + signal
  std::string json_path, log_path;
  std::string message;               // why it failed
  std::vector<std::string> figures;  // one per collect column ("" if absent or failed)
};

struct SweepResult {
  std::vector<SweepRunOutcome> runs;  // in point order
  std::size_t failed = 0;
  std::size_t reused = 0;
  std::string csv;  // header + one row per run
};

// Records how a run ended from its exit status (128 + N: killed by signal N):
// exit 0 reads the figures from o.json_path; otherwise the message names the
// status, o.log_path and the log's last line.
void record_run_exit(const SweepSpec& spec, SweepRunOutcome& o, int exit_code);
// A run that left no exit status (could not start, its scheduler task was lost).
void record_run_failure(const SweepSpec& spec, SweepRunOutcome& o, std::string why);

// The last `max_lines` non-empty lines of a file (a failed run's stderr).
std::string tail_lines(const std::string& path, std::size_t max_lines);

// CSV: run, config, one column per grid key, status, one per collected figure.
std::string sweep_csv(const SweepSpec& spec, const std::vector<SweepRunOutcome>& runs);

// CSV field quoting (RFC 4180).
std::string csv_field(std::string_view s);

}  // namespace numasim::workloads
