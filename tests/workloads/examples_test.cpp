// Every shipped example configuration (configs/workloads/*.toml) reads without
// a diagnostic in its own file and every thread of every workload runs to the
// end on the fake kernel (threads of a workload interleaved batch by batch,
// sharing one address space) without an error or a stray access.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/config.h"
#include "common/topology.h"
#include "tests/workloads/fake_thread_context.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
std::vector<std::string> example_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(NUMASIM_SOURCE_DIR) + "/configs/workloads"))
    if (e.path().extension() == ".toml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST(Examples, OnePerKindAndEachRunsOnTheFakeKernel) {
  auto files = example_files();
  std::set<std::string> kinds_seen;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto doc = ConfigDocument::from_file(path);
    Topology topo = Topology::from_config(doc->root());
    auto specs = build_workloads(doc->root(), topo);
    // The files of [[os.file]] (read here: the kernel that would read them is not built).
    std::map<std::string, std::uint64_t> os_files;
    if (doc->root().has("os"))
      for (Config f : doc->root().table("os").tables("file"))
        os_files[f.get<std::string>("path", "", "")] = f.get<Bytes>("size", Bytes(0), "").value();
    try {
      doc->finish();
    } catch (const ConfigErrors& e) {
      // Sections other components read (the machine's, in default.toml) are not ours to check here.
      for (const auto& d : e.diagnostics()) EXPECT_NE(d.where.file, path) << d.str();
    }
    ASSERT_FALSE(specs.empty());
    for (auto& spec : specs) {
      kinds_seen.insert(spec.kind);
      auto mm = std::make_shared<wltest::FakeMm>();
      mm->files = os_files;
      std::vector<std::unique_ptr<hw::OpSource>> srcs;
      std::vector<std::unique_ptr<wltest::FakeThreadContext>> ctxs;
      std::vector<hw::OpBatch> batches(spec.threads.size());
      for (std::size_t t = 0; t < spec.threads.size(); ++t) {
        ASSERT_TRUE(spec.threads[t].make_source) << spec.name;
        srcs.push_back(spec.threads[t].make_source());
        ctxs.push_back(std::make_unique<wltest::FakeThreadContext>(mm, spec.threads[t].cpu.value(),
                                                                   topo.cpu_node(spec.threads[t].cpu).value()));
        ctxs[t]->batch = &batches[t];
        ctxs[t]->file_mmap = true;  // the kernel has file-backed mmap (database.toml maps its table)
        srcs[t]->start(*ctxs[t]);
      }
      bool all_done = false;
      for (int round = 0; round < 10000000 && !all_done; ++round) {
        all_done = true;
        for (std::size_t t = 0; t < srcs.size(); ++t) {
          if (srcs[t]->done()) continue;
          all_done = false;
          srcs[t]->fill(batches[t], *ctxs[t]);
          ctxs[t]->flush();
        }
      }
      EXPECT_TRUE(all_done) << spec.name;
      std::uint64_t ops = 0;
      for (std::size_t t = 0; t < srcs.size(); ++t) {
        srcs[t]->finish(*ctxs[t]);
        EXPECT_EQ(ctxs[t]->unmapped_accesses, 0u) << spec.name << " thread " << t;
        EXPECT_DOUBLE_EQ(srcs[t]->progress(), 1.0) << spec.name << " thread " << t;
        ops += ctxs[t]->ops.size();
      }
      EXPECT_GT(ops, 0u) << spec.name;
      EXPECT_TRUE(spec.results->errors().empty()) << spec.results->to_json();
      EXPECT_TRUE(mm->maps.empty()) << spec.name << ": mappings left behind";
    }
  }
  EXPECT_EQ(kinds_seen.size(), workload_kinds().size()) << "an example per kind";
}
