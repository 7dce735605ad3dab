// Timing studies in the manner of Intel MLC: latency-matrix, bandwidth-matrix,
// c2c-latency, loaded-latency, tlb-reach and thp. Each runs real simulations on the configured
// machine (studies/studies.h), prints a table and writes JSON with --json FILE.
#include <iostream>

#include "cli.h"
#include "common/config.h"
#include "studies/studies.h"
#include "machine_description.h"

namespace numasim::cli {
namespace {

std::vector<OptionSpec> study_options() {
  auto o = config_options();
  o.push_back({"--json", "FILE", "write the result as JSON", false});
  return o;
}

// Builds the document, runs `study` on it, and reports unknown keys after the
// study's machine has read its parameters.
template <class Study>
int run_study(Args& args, Study study) {
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
  return kExitOk;
}

RegisterCommand latency{Command{
    "latency-matrix", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "idle memory latency from each node's CPUs to each node's memory (ns)",
    "Like `mlc --latency_matrix`: from the first CPU of each node, a dependent random\n"
    "pointer chase over a buffer much larger than the LLC, bound to each node's memory,\n"
    "on 2 MiB pages so that TLB misses do not count. JSON: {\"unit\": \"ns\", \"matrix\": ...}\n"
    "with rows the CPU's node and columns the memory's node.",
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::latency_matrix(root); }); }}};

RegisterCommand bandwidth{Command{
    "bandwidth-matrix", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "read bandwidth from each node's CPUs to each node's memory (GB/s)",
    "Like `mlc --bandwidth_matrix`: every CPU of a node streams reads from a buffer bound\n"
    "to each node's memory. JSON: {\"unit\": \"GB/s\", \"matrix\": ...}.",
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::bandwidth_matrix(root); }); }}};

RegisterCommand c2c{Command{
    "c2c-latency", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "modified-line (HITM) transfer latency between the CPUs of each pair of nodes (ns)",
    "Like `mlc --c2c_latency`: a CPU of one node reads lines that a CPU of another node\n"
    "(on the diagonal: another CPU of the same node) has just written, so each read is\n"
    "served by the writer's cache. Rows: the reader's node; columns: the writer's node.\n"
    "JSON: {\"unit\": \"ns\", \"matrix\": ...}.",
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::c2c_latency(root); }); }}};

RegisterCommand loaded{Command{
    "loaded-latency", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
    "latency of node 0's memory while the other CPUs inject rising read traffic",
    "Like `mlc --loaded_latency`: one CPU chases pointers in node 0's memory while the\n"
    "other CPUs of node 0 stream reads with decreasing injection delays.\n"
    "JSON: {\"points\": [{\"bandwidth_gbps\": ..., \"latency_ns\": ...}, ...]}.",
    1, study_options(), [](Args& a) { return run_study(a, [](Config root) { return studies::loaded_latency(root); }); }}};

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
