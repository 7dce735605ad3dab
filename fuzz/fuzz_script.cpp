// libFuzzer target: the scripted-scenario parser and evaluator. The input is
// the steps of a script workload (TOML) on a small two-node machine; when it
// configures cleanly, the script runs against the recording fake thread
// context (bounded number of batches). Errors must be ConfigErrors or recorded
// workload errors; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "tests/workloads/fake_thread_context.h"
#include "workloads/workload_factory.h"

namespace {
const char* kMachine =
    "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"1GiB\"\n"
    "[[link]]\nnodes = [0, 1]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n"
    "[[workload]]\nkind = \"script\"\n";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace numasim;
  const std::string steps(reinterpret_cast<const char*>(data), size);
  auto doc = ConfigDocument::from_string(std::string(kMachine) + steps, "fuzz.toml");
  try {
    doc->check();
    Topology topo = Topology::from_config(doc->root());
    std::vector<workloads::WorkloadSpec> specs = workloads::build_workloads(doc->root(), topo);
    doc->finish();
    for (auto& spec : specs)
      for (auto& thread : spec.threads) {
        auto src = thread.make_source();
        workloads::wltest::FakeThreadContext ctx;
        workloads::wltest::run_source(*src, ctx, 64);
      }
  } catch (const ConfigErrors&) {
  }
  return 0;
}
