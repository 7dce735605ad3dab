// Local parameter sweeps (`numasim sweep SWEEP.toml -j N`): a grid of --set
// overrides over one or more configurations, expanded to the cartesian
// product, run as parallel child processes of a numasim binary
// (`numasim run CONFIG --set k=v ... --json RUN.json --quiet`), one CSV row per
// run: the run's index, configuration, set values, status, and the figures
// picked from its JSON. A failed run is reported (exit status, log file, last
// log line) and does not stop the others; its figures are left empty.
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

#include <ostream>
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
  // The child's arguments after the binary: run CONFIG --set k=v ... args... --json PATH --quiet
  std::vector<std::string> command(const std::vector<std::string>& extra_args, const std::string& json_path) const;
};

SweepSpec parse_sweep_file(const std::string& path);
// base_dir resolves relative config paths.
SweepSpec parse_sweep_text(std::string_view text, const std::string& name, const std::string& base_dir);

// configs x grid, configs outermost, the last grid key varying fastest.
std::vector<SweepPoint> expand_sweep(const SweepSpec& spec);

struct SweepOptions {
  std::string binary;                // the numasim executable (argv[0] of the children)
  int jobs = 0;                      // 0: spec.jobs
  std::string work_dir;              // per-run JSON and logs (created)
  std::ostream* progress = nullptr;  // one line per finished run
};

struct SweepRunOutcome {
  SweepPoint point;
  bool ok = false;
  int exit_code = 0;  // or 128 + signal
  std::string json_path, log_path;
  std::string message;               // why it failed
  std::vector<std::string> figures;  // one per collect column ("" if absent or failed)
};

struct SweepResult {
  std::vector<SweepRunOutcome> runs;  // in point order
  std::size_t failed = 0;
  std::string csv;  // header + one row per run
};

// Runs every point with at most `jobs` children at a time. Throws SweepError
// only when nothing can run (no binary, work_dir not creatable).
SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& options);

// CSV field quoting (RFC 4180).
std::string csv_field(std::string_view s);

}  // namespace numasim::workloads
