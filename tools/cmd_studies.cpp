// Timing studies in the manner of Intel MLC: latency-matrix, bandwidth-matrix,
// c2c-latency, loaded-latency, mess-curves (Mess), tlb-reach and thp. Each runs real simulations on the configured
// machine (studies/studies.h), prints a table and writes JSON with --json FILE.
#include <algorithm>
#include <iostream>
#include <optional>

#include "cli.h"
#include "common/config.h"
#include "studies/studies.h"
#include "machine_description.h"

namespace numasim::cli {
namespace {

// The MLC-style studies' quantum (studies/study_quantum.h), in their --help
// (defined before the commands below, which are initialised after it).
const std::string kStudyQuantumHelp =
    "\nRuns at quantum 0 (every access in time order, the model's reference) unless the\n"
    "configuration's [sim] quantum or --set sim.quantum=... gives a quantum; the table's\n"
    "last line and the JSON (\"quantum_ps\", \"quantum_from\") say which and why.\n"
    "`numasim run` keeps the 1 us default.";

std::vector<OptionSpec> study_options() {
  auto o = config_options();
  o.push_back({"--json", "FILE", "write the result as JSON", false});
  return o;
}

// Builds the document, runs `study` on it, and reports unknown keys after the
// study's machine has read its parameters.
template <class Study>
int run_study(Args& args, Study study, std::optional<std::string> csv = std::nullopt) {
  auto doc = load_config(args);
  doc->check();
  // A study runs its own programs, not the configuration's workloads.
  doc->root().ignore("workload");
  check_machine_parameters(doc->root());
  auto result = study(doc->root());
  doc->finish();
  std::cout << result.to_table();
  std::cerr << "(host time " << result.host_seconds << " s)\n";
  if (auto json = args.value("--json"))
    if (!write_output(*json, result.to_json())) return kExitSimulation;
  if constexpr (requires { result.to_csv(); })
    if (csv && !write_output(*csv, result.to_csv())) return kExitSimulation;
  return kExitOk;
}

RegisterCommand latency{Command{
    "latency-matrix", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "idle memory latency from each node's CPUs to each node's memory (ns)",
    "Like `mlc --latency_matrix`: from the first CPU of each node, a dependent random\n"
    "pointer chase over a buffer much larger than the LLC, bound to each node's memory,\n"
    "on 2 MiB pages so that TLB misses do not count. JSON: {\"unit\": \"ns\", \"matrix\": ...}\n"
    "with rows the CPU's node and columns the memory's node." + kStudyQuantumHelp,
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::latency_matrix(root); }); }}};

RegisterCommand bandwidth{Command{
    "bandwidth-matrix", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "read bandwidth from each node's CPUs to each node's memory (GB/s)",
    "Like `mlc --bandwidth_matrix`: every CPU of a node streams reads from a buffer bound\n"
    "to each node's memory. JSON: {\"unit\": \"GB/s\", \"matrix\": ...}." + kStudyQuantumHelp,
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::bandwidth_matrix(root); }); }}};

RegisterCommand c2c{Command{
    "c2c-latency", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "modified-line (HITM) transfer latency between the CPUs of each pair of nodes (ns)",
    "Like `mlc --c2c_latency`: a CPU of one node reads lines that a CPU of another node\n"
    "(on the diagonal: another CPU of the same node) has just written, so each read is\n"
    "served by the writer's cache. Rows: the reader's node; columns: the writer's node.\n"
    "JSON: {\"unit\": \"ns\", \"matrix\": ...}." + kStudyQuantumHelp,
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::c2c_latency(root); }); }}};

// Comma-separated unsigned integers, e.g. "0,50,200" (each below 10^7).
std::vector<std::uint32_t> parse_uint_list(const std::string& option, const std::string& text) {
  std::vector<std::uint32_t> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const bool digits = !item.empty() && item.size() <= 7 &&
                        item.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      throw UsageError{option + ": expected comma-separated integers (0 to 9999999), got \"" + text + "\" (bad item \"" +
                       item + "\")"};
    out.push_back(static_cast<std::uint32_t>(std::stoul(item)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// The options loaded-latency and mess-curves share.
std::vector<OptionSpec> loaded_options() {
  auto o = study_options();
  o.push_back({"--whole-system", "", "every CPU of every node injects, into its own node's memory (MLC's default)", false});
  o.push_back({"--delays", "LIST|mlc", "injection delays in cycles, e.g. 0,100,1000; mlc: MLC's 19 default delays", false});
  o.push_back({"--loads", "N", "measured loads of the latency CPU per point (default 5000)", false});
  return o;
}

studies::LoadedLatencyOptions loaded_from_args(Args& a) {
  studies::LoadedLatencyOptions opts;
  opts.whole_system = a.flag("--whole-system");
  if (auto d = a.value("--delays")) opts.delays = *d == "mlc" ? studies::kMlcDelays : parse_uint_list("--delays", *d);
  if (auto n = a.unsigned_value("--loads")) {
    if (*n == 0 || *n > 100000000) throw UsageError{"--loads: expected a count from 1 to 100000000"};
    opts.loads = *n;
    opts.warmup_loads = std::max<std::uint64_t>(1, *n / 5);
  }
  return opts;
}

RegisterCommand loaded{Command{
    "loaded-latency",
    "[CONFIG] [--set KEY=VALUE]... [--whole-system] [--delays LIST|mlc] [--mix R|W2|W3|W5] [--loads N] [--json FILE]",
    "latency of node 0's memory while other CPUs inject rising traffic",
    "Like `mlc --loaded_latency`: one CPU chases pointers in node 0's memory while the\n"
    "other CPUs of node 0 (--whole-system: every other CPU of every node, each into its\n"
    "own node's memory, as MLC measures a multi-socket machine) stream with decreasing\n"
    "injection delays (-d in MLC; --delays mlc: 0,2,8,...,20000). Traffic mixes by MLC's\n"
    "names: R all reads, W2 2 reads : 1 write, W3 3:1, W5 1:1. Bandwidth is memory\n"
    "traffic: a stored line counts its read for ownership and its write-back.\n"
    "JSON: {\"mix\": \"R\", \"whole_system\": false, \"traffic_cpus\": ..., \"traffic_nodes\": [...],\n"
    "\"points\": [{\"delay\": ..., \"bandwidth_gbps\": ..., \"latency_ns\": ..., \"node_bandwidth_gbps\": [...]}]}." +
        kStudyQuantumHelp,
    1,
    [] {
      auto o = loaded_options();
      o.push_back({"--mix", "R|W2|W3|W5", "traffic mix by MLC's name (default R)", false});
      return o;
    }(),
    [](Args& a) {
      auto opts = loaded_from_args(a);
      const std::string mix = a.value("--mix").value_or("R");
      if (!studies::parse_mlc_mix(mix, &opts.mix))
        throw UsageError{"--mix: expected R, W2, W3 or W5 (MLC's names), got \"" + mix + "\""};
      return run_study(a, [opts](Config root) { return studies::loaded_latency(root, opts); });
    }}};

RegisterCommand mess{Command{
    "mess-curves",
    "[CONFIG] [--set KEY=VALUE]... [--read-ratios LIST] [--whole-system] [--delays LIST|mlc] [--loads N] [--json FILE] "
    "[--csv FILE]",
    "a Mess-style family of bandwidth-latency curves, one per memory read ratio",
    "As Mess (BSC, MICRO 2024) characterises a memory system: the loaded-latency study\n"
    "once per read ratio of the memory traffic (default 100,90,80,70,60,50 percent; a\n"
    "stored line is one read for ownership and one write, so 50% is all stores).\n"
    "JSON: {\"curves\": [{\"read_percent\": 100, \"points\": [...]}, ...]};\n"
    "CSV: read_percent,delay,bandwidth_gbps,latency_ns. Plot: tools/numasim_plot.py --kind mess-curves." +
        kStudyQuantumHelp,
    1,
    [] {
      auto o = loaded_options();
      o.push_back({"--read-ratios", "LIST", "read percentages, 50 to 100 (default 100,90,80,70,60,50)", false});
      o.push_back({"--csv", "FILE", "write the curves as CSV", false});
      return o;
    }(),
    [](Args& a) {
      auto opts = loaded_from_args(a);
      std::vector<int> ratios = {100, 90, 80, 70, 60, 50};
      if (auto r = a.value("--read-ratios")) {
        ratios.clear();
        for (std::uint32_t v : parse_uint_list("--read-ratios", *r)) {
          if (v < 50 || v > 100) throw UsageError{"--read-ratios: " + std::to_string(v) + " is outside 50 to 100"};
          ratios.push_back(static_cast<int>(v));
        }
      }
      return run_study(a, [&](Config root) { return studies::mess_curves(root, ratios, opts); }, a.value("--csv"));
    }}};

RegisterCommand reach{Command{
    "tlb-reach", "[CONFIG] [--set KEY=VALUE]... [--page-size 4K|2M] [--json FILE]",
    "pointer-chase latency against working-set size (16 KiB to 4 GiB)",
    "The latency per access rises where the working set passes the L1 TLB's reach and\n"
    "again past the second-level TLB's; with 2M pages those steps move out.\n"
    "JSON: {\"page_size\": \"4K\", \"points\": [{\"working_set_bytes\": ..., \"latency_ns\": ...}]}.",
    1,
    [] {
      auto o = study_options();
      o.push_back({"--page-size", "4K|2M", "page size of the chased buffer (default 4K)", false});
      return o;
    }(),
    [](Args& a) {
      studies::TlbReachOptions opts;
      std::string ps = a.value("--page-size").value_or("4K");
      if (ps != "4K" && ps != "2M") throw UsageError{"--page-size: expected 4K or 2M, got \"" + ps + "\""};
      opts.huge_pages = ps == "2M";
      return run_study(a, [opts](Config root) { return studies::tlb_reach(root, opts); });
    }}};

RegisterCommand thp{Command{
    "thp", "[CONFIG] [--set KEY=VALUE]... [--table SIZE] [--updates N] [--madvise] [--json FILE]",
    "GUPS with transparent huge pages never / madvise / always",
    "GUPS (random read-modify-write of 8-byte words) over a table on the first CPU node,\n"
    "once per transparent_hugepage/enabled mode on a fresh machine: the table is first\n"
    "touched page by page (its faults: 4 KiB or THP), then the updates are measured.\n"
    "Per mode: ns per access, STLB misses per 1000 accesses, page-walk cycles per access,\n"
    "fault count and time, AnonPages and AnonHugePages (memory used, THP bloat).\n"
    "--madvise: the program madvises MADV_HUGEPAGE (else madvise mode gets no THP).\n"
    "JSON: {\"table_bytes\": ..., \"modes\": [{\"mode\": \"never\", \"ns_per_access\": ...}, ...]}.",
    1,
    [] {
      auto o = study_options();
      o.push_back({"--table", "SIZE", "GUPS table size (default 4GiB)", false});
      o.push_back({"--updates", "N", "measured updates (default 200000)", false});
      o.push_back({"--madvise", "", "madvise(MADV_HUGEPAGE) the table", false});
      return o;
    }(),
    [](Args& a) {
      studies::ThpStudyOptions opts;
      if (auto t = a.value("--table")) {
        std::string why;
        auto b = parse_size(*t, &why);
        if (!b) throw UsageError{"--table: expected a size such as 4GiB, got \"" + *t + "\" (" + why + ")"};
        opts.table = *b;
      }
      if (auto n = a.unsigned_value("--updates")) {
        if (*n == 0) throw UsageError{"--updates: expected a positive count"};
        opts.updates = *n;
      }
      opts.madvise = a.flag("--madvise");
      return run_study(a, [opts](Config root) { return studies::thp_study(root, opts); });
    }}};

}  // namespace
}  // namespace numasim::cli
