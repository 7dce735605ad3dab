// `numasim sweep SWEEP.toml`: runs a grid of --set overrides over configurations
// in parallel child processes and writes one CSV row per run (workloads/sweep.h).
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "workloads/sweep.h"

namespace numasim::cli {
namespace {

std::string self_executable() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot find the numasim executable (/proc/self/exe)");
  buf[n] = '\0';
  return buf;
}

int run_sweep_command(Args& args) {
  if (args.positionals.empty()) throw UsageError{"a sweep file is required"};
  workloads::SweepSpec spec;
  try {
    spec = workloads::parse_sweep_file(args.positionals[0]);
  } catch (const workloads::SweepError& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  }
  workloads::SweepOptions opts;
  opts.binary = self_executable();
  if (auto j = args.unsigned_value("-j")) opts.jobs = static_cast<int>(*j);
  opts.work_dir = args.value("--work-dir").value_or("sweep-runs");
  opts.progress = &std::cerr;
  workloads::SweepResult result = workloads::run_sweep(spec, opts);
  std::string out = args.value("--out").value_or("-");
  if (!write_output(out, result.csv)) return kExitSimulation;
  if (result.failed) {
    std::cerr << result.failed << " of " << result.runs.size() << " runs failed (logs in " << opts.work_dir << ")\n";
    return kExitSimulation;
  }
  return kExitOk;
}

RegisterCommand reg{Command{
    "sweep", "SWEEP.toml [-j N] [--out FILE] [--work-dir DIR]",
    "run a grid of --set overrides in parallel and collect one CSV row per run",
    "The sweep file lists configurations, a [grid] of --set keys and their values, and\n"
    "the [collect] columns (dotted paths into each run's JSON). A failed run is reported\n"
    "and does not stop the others; the exit status is 1 if any failed.",
    1,
    {{"-j", "N", "parallel runs (default: the file's `jobs`, else 1)", false},
     {"--out", "FILE", "CSV output (default: stdout)", false},
     {"--work-dir", "DIR", "per-run JSON and logs (default: sweep-runs)", false}},
    run_sweep_command}};

}  // namespace
}  // namespace numasim::cli
