// `numasim sweep SWEEP.toml`: runs a grid of --set overrides over configurations,
// here in parallel child processes or on a Slurm cluster as a job array, and
// writes one CSV row per run (workloads/sweep.h, tools/sweep_runner.h,
// tools/sweep_slurm.h).
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "tools/sweep_runner.h"
#include "tools/sweep_slurm.h"

namespace numasim::cli {
namespace {

std::string self_executable() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot find the numasim executable (/proc/self/exe)");
  buf[n] = '\0';
  return buf;
}

// Whether `name` is an executable file in a PATH directory.
bool in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  for (std::size_t start = 0;;) {
    std::size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return true;
    if (colon == std::string::npos) return false;
    start = colon + 1;
  }
}

int run_sweep_command(Args& args) {
  if (args.positionals.empty()) throw UsageError{"a sweep file is required"};
  const bool dry_run = args.flag("--slurm-dry-run");
  const bool slurm = args.flag("--slurm") || dry_run;
  SlurmOptions so;
  if (!slurm) {
    for (const char* o : {"--partition", "--time", "--array-limit"})
      if (args.flag(o)) throw UsageError{std::string(o) + " applies to --slurm (or --slurm-dry-run) only"};
  } else {
    if (args.flag("-j")) throw UsageError{"-j sets local parallel runs; with --slurm use --array-limit K"};
    if (auto t = args.value("--time")) {
      if (std::string why = slurm_time_error(*t); !why.empty())
        throw UsageError{"--time \"" + *t + "\": " + why};
      so.time = *t;
    }
    if (auto p = args.value("--partition")) {
      if (std::string why = slurm_partition_error(*p); !why.empty())
        throw UsageError{"--partition \"" + *p + "\": " + why};
      so.partition = *p;
    }
    if (auto k = args.unsigned_value("--array-limit")) {
      if (*k < 1 || *k > 100000)
        throw UsageError{"--array-limit: expected at least 1 (tasks running at once) and at most 100000, got " +
                         std::to_string(*k)};
      so.array_limit = static_cast<unsigned>(*k);
    }
    so.dry_run = dry_run;
    so.sweep_file = args.positionals[0];
    if (!dry_run)
      for (const char* c : {"sbatch", "squeue", "scontrol"})
        if (!in_path(c))
          throw UsageError{std::string("--slurm needs the Slurm command `") + c +
                           "`, which is not in PATH (install the Slurm client tools, e.g. Debian's slurm-client, or "
                           "use --slurm-dry-run to only write the job script)"};
  }
  workloads::SweepSpec spec;
  try {
    spec = workloads::parse_sweep_file(args.positionals[0]);
  } catch (const workloads::SweepError& e) {
    std::cerr << e.what() << (std::string(e.what()).back() == '\n' ? "" : "\n");
    return kExitUsage;
  }
  SweepOptions opts;
  opts.binary = self_executable();
  if (auto j = args.unsigned_value("-j")) {
    if (*j < 1 || *j > 256) throw UsageError{"-j: expected parallel runs in [1, 256], got " + std::to_string(*j)};
    opts.jobs = static_cast<int>(*j);
  }
  opts.work_dir = args.value("--work-dir").value_or("sweep-runs");
  opts.progress = &std::cerr;
  opts.fresh = args.flag("--fresh");
  std::error_code ec;
  if (std::filesystem::exists(opts.work_dir, ec) && !std::filesystem::is_directory(opts.work_dir, ec)) {
    std::cerr << "numasim sweep: --work-dir \"" << opts.work_dir << "\" is a file, not a directory\n";
    return kExitUsage;
  }
  workloads::SweepResult result;
  try {
    result = slurm ? run_sweep_slurm(spec, opts, so) : run_sweep(spec, opts);
  } catch (const workloads::SweepError& e) {
    std::cerr << "numasim " << e.what() << "\n";
    return kExitSimulation;
  }
  if (dry_run) return kExitOk;
  std::string out = args.value("--out").value_or("-");
  if (!write_output(out, result.csv)) return kExitSimulation;
  if (result.failed) {
    report_failures(std::cerr, result);
    std::cerr << result.failed << " of " << result.runs.size() << " runs failed (logs in " << opts.work_dir << ")\n";
    return kExitSimulation;
  }
  return kExitOk;
}

RegisterCommand reg{Command{
    "sweep",
    "SWEEP.toml [-j N | --slurm [--partition P] [--time T] [--array-limit K] | --slurm-dry-run] [--out FILE] "
    "[--work-dir DIR] [--fresh]",
    "run a grid of --set overrides in parallel or as a Slurm job array, one CSV row per run",
    "The sweep file lists configurations, a [grid] of --set keys and their values, and\n"
    "the [collect] columns (dotted paths into each run's JSON). A failed run is reported\n"
    "with its stderr and does not stop the others; the exit status is 1 if any failed.\n"
    "Results stay in the work directory: a rerun skips every point whose result exists\n"
    "(--fresh runs them all again). With --slurm the points run as one Slurm job array\n"
    "(script DIR/sweep.sbatch, submitted with sbatch, followed with squeue); the work\n"
    "directory, the configurations and numasim must be on a file system the compute\n"
    "nodes share. The CSV is the same as a local sweep's.",
    1,
    {{"-j", "N", "parallel local runs (default: the file's `jobs`, else 1)", false},
     {"--slurm", "", "run the points as a Slurm job array (sbatch, squeue, scontrol)", false},
     {"--slurm-dry-run", "", "write the job-array script to DIR/sweep.sbatch, submit nothing", false},
     {"--partition", "P", "Slurm partition (default: the cluster's default)", false},
     {"--time", "T", "Slurm time limit per array task (minutes, H:MM:SS, D-HH, ...)", false},
     {"--array-limit", "K", "at most K array tasks running at once (--array=0-N%K)", false},
     {"--out", "FILE", "CSV output (default: stdout)", false},
     {"--work-dir", "DIR", "per-run JSON and logs, kept for resuming (default: sweep-runs)", false},
     {"--fresh", "", "run every point again, ignoring results in the work directory", false}},
    run_sweep_command}};

}  // namespace
}  // namespace numasim::cli
