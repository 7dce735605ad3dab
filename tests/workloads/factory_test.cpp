// [[workload]] tables -> WorkloadSpecs: placement, policy, kind registry, and
// configuration errors with their positions.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/topology.h"
#include "tests/workloads/fake_thread_context.h"
#include "workloads/linux_abi.h"
#include "workloads/policy_spec.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
// Two sockets of 4 cores, 1 GiB per node, plus a CPU-less node 2.
const char* kMachine =
    "[machine]\nsockets = 2\ncores_per_socket = 4\nmemory_per_node = \"1GiB\"\n"
    "[[link]]\nnodes = [0, 1]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n";

struct Built {
  std::unique_ptr<ConfigDocument> doc;
  Topology topo;
  std::vector<WorkloadSpec> specs;
  std::vector<std::string> errors;
};

Built build(const std::string& workloads) {
  Built b;
  b.doc = ConfigDocument::from_string(std::string(kMachine) + workloads, "w.toml");
  b.topo = Topology::from_config(b.doc->root());
  b.specs = build_workloads(b.doc->root(), b.topo);
  try {
    b.doc->finish();
  } catch (const ConfigErrors& e) {
    for (const auto& d : e.diagnostics()) b.errors.push_back(d.str());
  }
  return b;
}

std::string all(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}
}  // namespace

TEST(PolicySpec, ParsesNumactlLikeText) {
  std::string why;
  auto p = parse_policy("interleave:0-2,5", 8, &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->mode, workloads::abi::kMpolInterleave);
  EXPECT_EQ(p->nodes, (std::vector<int>{0, 1, 2, 5}));
  EXPECT_EQ(p->nodemask(), std::vector<unsigned long>{0b100111ul});
  EXPECT_EQ(p->maxnode(), 65u);
  auto w = parse_policy("weighted-interleave:0=3,1=1", 2, &why);
  ASSERT_TRUE(w) << why;
  EXPECT_EQ(w->mode, workloads::abi::kMpolWeightedInterleave);
  EXPECT_EQ(w->weights, (std::vector<std::pair<int, unsigned>>{{0, 3}, {1, 1}}));
  EXPECT_EQ(parse_policy("local", 2, &why)->mode, workloads::abi::kMpolLocal);
  EXPECT_TRUE(parse_policy("default", 2, &why)->is_default());
  auto big = parse_policy("bind:70", 0, &why);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->nodemask().size(), 2u);
  EXPECT_EQ(big->nodemask()[1], 1ul << 6);
}

TEST(PolicySpec, RejectsBadTextWithAReason) {
  std::string why;
  EXPECT_FALSE(parse_policy("bind", 2, &why));
  EXPECT_EQ(why, "policy \"bind\" needs nodes, e.g. bind:0");
  EXPECT_FALSE(parse_policy("bind:2", 2, &why));
  EXPECT_EQ(why, "node 2 does not exist (the machine has 2 nodes)");
  EXPECT_FALSE(parse_policy("preferred:0-1", 2, &why));
  EXPECT_EQ(why, "preferred takes exactly one node (use preferred-many for several)");
  EXPECT_FALSE(parse_policy("local:0", 2, &why));
  EXPECT_FALSE(parse_policy("interleave:1-0", 2, &why));
  EXPECT_EQ(why, "\"1-0\" is not a number or range like 0-3");
  EXPECT_FALSE(parse_policy("weighted-interleave:0=0", 2, &why));
  EXPECT_FALSE(parse_policy("bind:0-100000000", 0, &why));  // no 100M-entry list
  EXPECT_EQ(why, "\"0-100000000\": numbers above 65535 are not supported");
  EXPECT_FALSE(parse_policy("spread:0", 2, &why));
  EXPECT_NE(why.find("unknown policy mode \"spread\""), std::string::npos);
}

TEST(WorkloadFactory, NodePlacementPolicyAndThreads) {
  Built b = build(
      "[[workload]]\nkind = \"stream\"\nname = \"remote\"\nthreads = 2\nnode = 0\npolicy = \"bind:1\"\n"
      "array_size = \"64KiB\"\niterations = 1\n"
      "[[workload]]\nkind = \"gups\"\ncpus = [5, 7]\nthreads = 3\ntable_size = \"1MiB\"\nupdates = 10\n");
  ASSERT_TRUE(b.errors.empty()) << all(b.errors);
  ASSERT_EQ(b.specs.size(), 2u);
  const WorkloadSpec& s = b.specs[0];
  EXPECT_EQ(s.name, "remote");
  EXPECT_EQ(s.kind, "stream");
  ASSERT_EQ(s.threads.size(), 2u);
  EXPECT_EQ(s.threads[0].cpu.value(), 0);
  EXPECT_EQ(s.threads[1].cpu.value(), 1);
  EXPECT_EQ(s.cpus.size(), 4u);
  EXPECT_EQ(s.policy.mode, workloads::abi::kMpolBind);
  // The thread installs the policy before anything else.
  auto src = s.threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  ASSERT_FALSE(ctx.calls.empty());
  EXPECT_EQ(ctx.calls[0].name, "set_mempolicy");
  EXPECT_EQ(ctx.calls[0].nodes, std::vector<int>{1});
  EXPECT_GT(ctx.ops.size(), 0u);
  // cpus list: threads round-robin over it; default name and seed.
  const WorkloadSpec& g = b.specs[1];
  EXPECT_EQ(g.name, "gups1");
  EXPECT_EQ(g.threads[2].cpu.value(), 5);
  EXPECT_EQ(g.seed, 1u);
}

TEST(WorkloadFactory, EveryKindBuildsFromItsExampleKeys) {
  EXPECT_EQ(workload_kinds(),
            (std::vector<std::string>{"database", "file_stream", "gups", "madvise_churn", "memory_fragment", "memory_hog", "mmap_churn", "phases",
                                      "pointer_chase", "producer_consumer", "script", "stream", "strided", "trace",
                                      "working_set", "zipf"}));
  Built b = build(
      "[[workload]]\nkind = \"producer_consumer\"\nthreads = 2\nchunks = 4\n"
      "[[workload]]\nkind = \"memory_hog\"\nnode_fraction = 1.5\npolicy = \"bind:1\"\n"
      "[[workload]]\nkind = \"phases\"\n[[workload.phase]]\naction = \"allocate\"\nsize = \"1MiB\"\n"
      "[[workload.phase]]\naction = \"touch\"\npolicy = \"interleave:0-1\"\n");
  ASSERT_TRUE(b.errors.empty()) << all(b.errors);
  // Producer and consumer on different sockets by default.
  EXPECT_NE(b.topo.cpu_socket(b.specs[0].threads[0].cpu), b.topo.cpu_socket(b.specs[0].threads[1].cpu));
  // The hog is 1.5 times node 1's memory (the bind target).
  auto hog = b.specs[1].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*hog, ctx);
  std::uint64_t mapped = 0;
  for (const auto& c : ctx.calls)
    if (c.name == "mmap") mapped += c.len;
  EXPECT_EQ(mapped, 3ull << 29);
}

TEST(WorkloadFactory, ConfigurationErrorsCarryTheirPosition) {
  Built b = build(
      "[[workload]]\nkind = \"strem\"\n"                        // lines 9-10 (the machine takes 1-8)
      "[[workload]]\nkind = \"stream\"\npolicy = \"bind:3\"\n"  // 11-13
      "cpus = [0, 12]\nnode = 1\narry_size = \"1MiB\"\n"        // 14-16
      "[[workload]]\nkind = \"producer_consumer\"\n"            // 17-18
      "[[workload]]\nname = \"nokind\"\n");                     // 19-20
  std::string e = all(b.errors);
  EXPECT_NE(e.find("w.toml:10:8: error: workload[0].kind: unknown workload kind \"strem\"; expected one of database, file_stream, gups,"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("w.toml:13:10: error: workload[1].policy: node 3 does not exist (the machine has 2 nodes)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("w.toml:14:8: error: workload[1].cpus: CPU 12 does not exist (the machine has 8 CPUs)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("w.toml:15:8: error: workload[1].node: give either cpus or node, not both"), std::string::npos) << e;
  EXPECT_EQ(e.find("unknown key 'node'"), std::string::npos) << e;
  EXPECT_NE(e.find("w.toml:16:1: error: unknown key 'arry_size' in [workload[1]]; did you mean 'array_size'?"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("workload[2].threads: producer_consumer needs exactly 2 threads (producer, consumer), got 1"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("missing required key 'kind' in [workload[3]]"), std::string::npos) << e;
}

TEST(WorkloadFactory, ResultsJsonListsEveryWorkload) {
  Built b = build("[[workload]]\nkind = \"mmap_churn\"\ncycles = 2\n");
  ASSERT_TRUE(b.errors.empty()) << all(b.errors);
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  EXPECT_EQ(workloads_results_json(b.specs, false),
            "[{\"name\":\"mmap_churn0\",\"kind\":\"mmap_churn\",\"counters\":{\"cycles\":2},\"errors\":[]}]");
}
