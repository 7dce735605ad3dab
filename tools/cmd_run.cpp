// `numasim run [CONFIG]`: builds the machine and the configuration's workloads,
// simulates until every task has finished, prints the report and optionally
// writes the JSON statistics.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "common/config.h"
#include "common/trace.h"
#include "hw/machine.h"
#include "machine_description.h"
#include "proc_dump.h"
#include "run_report.h"
#include "workloads/workload_factory.h"

namespace numasim::cli {
namespace {

int run_run(Args& args) {
  auto doc = load_config(args);
  const std::optional<std::string> proc_dir = args.value("--proc");
  if (proc_dir) {
    std::error_code ec;
    if (proc_dir->empty() || (std::filesystem::exists(*proc_dir, ec) && !std::filesystem::is_directory(*proc_dir, ec)))
      throw UsageError{"--proc: \"" + bounded_for_message(*proc_dir) + "\" is not a directory"};
  }
  if (auto flags = args.value("--trace")) {
    const std::string why = trace::set_flags(*flags);
    if (!why.empty()) throw UsageError{"--trace: " + why};
  }
  if (auto seed = args.unsigned_value("--seed")) {
    // One seed for the whole run: the machine's and, offset by position, every workload's.
    doc->apply_override("sim.seed=" + std::to_string(*seed));
    std::size_t n = doc->root().tables("workload").size();
    for (std::size_t i = 0; i < n; ++i)
      doc->apply_override("workload[" + std::to_string(i) + "].seed=" + std::to_string(*seed + i));
  }
  doc->check();
  Config root = doc->root();
  std::unique_ptr<hw::Machine> built = build_machine(root);
  hw::Machine& machine = *built;
  std::vector<workloads::WorkloadSpec> specs = workloads::build_workloads(root, machine.topology());
  if (specs.empty()) root.error("workload", "the configuration has no [[workload]] to run");
  doc->finish();

  RunReport report(machine, specs);
  report.place_workloads();
  bool progress = !args.flag("--quiet") && isatty(STDERR_FILENO);
  Picoseconds sample(0);
  if (auto text = args.value("--sample")) {
    std::string why;
    auto t = parse_time(*text, &why);
    // Bound on the work a sample makes: every sample is a row of every node's and
    // link's figures, so an interval of 1ps would take a row per simulated picosecond.
    constexpr Picoseconds kMinSample(1000000);  // 1us
    if (!t || *t < kMinSample)
      throw UsageError{"--sample: " + (t ? "expected a time of at least " + format_time(kMinSample) + ", got " +
                                               bounded_for_message(*text)
                                         : why)};
    sample = *t;
  }
  std::string proc_error;
  if (proc_dir && sample.value() > 0) {
    // The files at every sample, in DIR/T<simulated time>/.
    report.on_sample = [&] {
      if (proc_error.empty())
        proc_error = write_proc_files(machine, *proc_dir + "/T" + format_time(machine.now()));
    };
  }
  report.run(progress, sample);
  if (proc_dir && proc_error.empty()) proc_error = write_proc_files(machine, *proc_dir);
  if (!proc_error.empty()) {
    std::cerr << "numasim run: --proc: " << proc_error << "\n";
    return kExitSimulation;
  }
  if (!args.flag("--quiet")) std::cout << report.text();
  // Verify mode: a page that lost its contents fails the run loudly, even with --quiet.
  if (const RunReport::VerifySummary vs = report.verify_summary(); vs.mismatches > 0) {
    std::cerr << "numasim run: verify FAILED: " << vs.mismatches
              << " load(s) found another token than the workload last wrote (a page was lost or mixed up)\n";
    for (const auto& m : vs.messages) std::cerr << "  " << m << "\n";
  }
  if (auto json = args.value("--json"))
    if (!write_output(*json, report.json())) return kExitSimulation;
  if (sample.value() > 0 && !write_output(args.value("--csv").value_or("samples.csv"), report.sample_csv()))
    return kExitSimulation;
  return report.all_workloads_ok() ? kExitOk : kExitSimulation;
}

RegisterCommand reg{Command{
    "run", "[CONFIG] [--set KEY=VALUE]... [--seed N] [--json FILE] [--sample TIME [--csv FILE]] [--proc DIR] [--trace LIST] [--quiet]",
    "simulate the configuration's workloads and print the report",
    "Builds the machine, places every [[workload]] as a process (one task per thread)\n"
    "and simulates until all have finished. The report shows per node memory and\n"
    "numastat, per CPU operations, latency and its split, TLB and fault figures,\n"
    "links and DRAM, reclaim and swap per node (when any), and the kernel log (OOM\n"
    "kills, segfaults). Exit status 1 when a workload failed (an error, a task killed\n"
    "by SIGSEGV, SIGBUS or the OOM killer, or a verify = true workload that read back\n"
    "another token than it wrote).",
    1,
    [] {
      auto o = config_options();
      o.push_back({"--seed", "N", "seed of the machine and every workload (workload i gets N+i)", false});
      o.push_back({"--json", "FILE", "write every statistic as JSON (schema in README.md)", false});
      o.push_back({"--sample", "TIME", "record per-node and per-link figures every TIME of simulated time (at least 1us)", false});
      o.push_back({"--csv", "FILE", "where --sample writes its CSV (default samples.csv)", false});
      o.push_back({"--proc", "DIR",
                    "write the /proc files (meminfo, vmstat, zoneinfo, buddyinfo, pagetypeinfo, slabinfo) and per "
                    "node node<N>/meminfo, numastat, vmstat in Linux 6.1's layouts at the end, and with --sample "
                    "in DIR/T<time>/ at every sample",
                    false});
      o.push_back({"--trace", "LIST",
                    "print one line per event of these subsystems to stderr, with the simulated time: "
                    "mm, alloc, reclaim, thp, numa, sched, dram, or all (comma-separated)",
                    false});
      o.push_back({"--quiet", "", "print no report and no progress line", false});
      return o;
    }(),
    run_run}};

}  // namespace
}  // namespace numasim::cli
