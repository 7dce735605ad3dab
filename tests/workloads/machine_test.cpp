// Workloads on the real machine (hw::Machine with the simulated kernel): the
// shipped scripted scenario's results, the counter reader, and the NUMA effect
// the stream example is meant to show.
#include "hw/machine.h"

#include <gtest/gtest.h>

#include "common/config.h"
#include "tests/workloads/built_workloads.h"
#include "workloads/machine_placement.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
using wltest::MachineRun;
void run_example(MachineRun& r, const std::string& name, const std::vector<std::string>& sets = {}) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/workloads/" + name);
  for (const auto& s : sets) doc->apply_override(s);
  wltest::run_machine(r, std::move(doc));
}
}  // namespace

TEST(OnMachine, ScriptedMbindScenarioRecordsTheKernelsAnswers) {
  MachineRun r;
  run_example(r, "script.toml");
  const auto& calls = r.specs[0].results->calls();
  ASSERT_EQ(calls.size(), 8u) << r.specs[0].results->to_json();
  EXPECT_GT(calls[0].ret, 0);    // mmap
  EXPECT_EQ(calls[2].ret, -22);  // mbind(MPOL_BIND, empty mask): EINVAL
  EXPECT_EQ(calls[3].ret, 0);    // mbind(bind:1, MOVE|STRICT) of the second page
  EXPECT_EQ(calls[4].ret, 0);    // get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR): node of the page
  ASSERT_FALSE(calls[4].fields.empty());
  EXPECT_EQ(calls[4].fields[0].second, "1");
  ASSERT_FALSE(calls[5].fields.empty());  // move_pages query: first page local, second moved
  EXPECT_EQ(calls[5].fields[0].second, "[0, 1]");
  EXPECT_GE(calls[6].ret, 2);  // vmstat.pgfault: at least the two touches
  EXPECT_EQ(calls[7].ret, 0);
  std::string j = r.specs[0].results->to_json(false);
  EXPECT_NE(j.find("{\"call\":\"mbind\",\"ret\":-1,\"errno\":\"EINVAL\"}"), std::string::npos) << j;
}

TEST(OnMachine, RemoteStreamIsSlowerThanLocal) {
  MachineRun r;
  run_example(r, "stream.toml",
              {"workload[0].array_size=\"1MiB\"", "workload[1].array_size=\"1MiB\"", "workload[0].iterations=1",
               "workload[1].iterations=1"});
  ASSERT_EQ(r.placed.size(), 2u);
  const hw::TaskRun* local = r.placed[0].threads[0];
  const hw::TaskRun* remote = r.placed[1].threads[0];
  ASSERT_TRUE(local->finished && remote->finished);
  EXPECT_TRUE(r.specs[0].results->errors().empty()) << r.specs[0].results->to_json();
  // Same op stream, so the same counts; remote memory makes the kernel phase slower.
  EXPECT_EQ(local->loads, remote->loads);
  Picoseconds tl = local->end_time - local->start_time, tr = remote->end_time - remote->start_time;
  EXPECT_GT(tr.value(), tl.value() * 11 / 10) << "local " << tl.value() << " ps, remote " << tr.value() << " ps";
  // The counter reader sees the bound allocations: node 1 served the remote arrays.
  auto reader = *r.specs[1].counter_reader;
  ASSERT_TRUE(reader);
  auto hits1 = reader("node1.numa_hit");
  ASSERT_TRUE(hits1);
  EXPECT_GE(*hits1, 3 * 256);  // three 1 MiB arrays of 4 KiB pages
  EXPECT_FALSE(reader("node9.numa_hit"));
  EXPECT_FALSE(reader("vmstat.nonsense"));
}

TEST(OnMachine, WeightedInterleaveWeightsOfAPolicyAreInstalledSystemWide) {
  MachineRun r;
  run_example(r, "stream.toml",
              {"workload[0].array_size=\"1MiB\"", "workload[1].array_size=\"1MiB\"", "workload[0].iterations=1",
               "workload[1].iterations=1", "workload[0].policy=\"weighted-interleave:0=3,1=1\"",
               "workload[1].policy=\"bind:0\""});
  EXPECT_EQ(r.machine->kernel().physmem().params().interleave_weights, (std::vector<std::uint8_t>{3, 1}));
  auto reader = *r.specs[0].counter_reader;
  const auto on0 = reader("node0.numa_interleave"), on1 = reader("node1.numa_interleave");
  ASSERT_TRUE(on0 && on1);
  // Three 1 MiB arrays of 4 KiB pages, three pages on node 0 for each on node 1.
  EXPECT_NEAR(static_cast<double>(*on0) / static_cast<double>(*on1), 3.0, 0.1) << *on0 << " / " << *on1;
  EXPECT_GE(*on0 + *on1, 768);
}

TEST(OnMachine, WorkloadsThatDisagreeOnInterleaveWeightsAreRejected) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/workloads/stream.toml");
  doc->apply_override("workload[0].policy=\"weighted-interleave:0=3,1=1\"");
  doc->apply_override("workload[1].policy=\"weighted-interleave:0=2,1=1\"");
  hw::Machine m(doc->root());
  auto specs = build_workloads(doc->root(), m.topology());
  try {
    doc->finish();
    FAIL() << "expected a configuration error";
  } catch (const ConfigErrors& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("workload[1].policy: weighted-interleave weight 2 for node 0 differs from workload[0]'s 3"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("--set workload[1].policy="), std::string::npos) << msg;
  }
}
