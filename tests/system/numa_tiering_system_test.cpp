// Memory tiering end to end (issue 14's "Done when" for CXL): on
// configs/numa-tiering-cxl.toml (the CXL-tiered machine with smaller nodes,
// kernel.numa_balancing = 2 MEMORY_TIERING, demotion enabled, NVMe swap present)
// one task on socket 0 first writes a cold buffer on node 0 (its DRAM nearly
// full), then a zipf-accessed buffer on the CXL node (node 2), returns to the
// default policy and makes zipf(0.99) accesses over the second buffer. Asserted:
// hot pages are promoted (pgpromote_success > 0, the local-DRAM share of its
// accesses rises), the promotions fill node 0 past its watermarks and kswapd
// demotes cold pages to node 2 instead of swapping them (pgdemote_kswapd > 0,
// pswpout == 0), promotions stay within the rate limit (per one-second window,
// as Linux's numa_promotion_rate_limit) and no page is lost (every page of both
// buffers still mapped at the end, on node 0 or node 2).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "hw/hw_stats.h"
#include "hw/machine.h"
#include "os/mempolicy.h"
#include "os/numa_balancing.h"
#include "workloads/rng.h"
#include "workloads/zipf_sampler.h"

namespace numasim::hw {
namespace {

const std::string kConfig = std::string(NUMASIM_SOURCE_DIR) + "/configs/numa-tiering-cxl.toml";
constexpr std::uint64_t kCold = 52ull << 20;  // on node 0's 64 MiB
constexpr std::uint64_t kHot = 64ull << 20;   // zipf buffer, first touched on node 2
constexpr std::uint64_t kColdPages = kCold >> 12, kHotPages = kHot >> 12;

class TieringZipf final : public OpSource {
 public:
  TieringZipf(Machine& m, std::uint64_t accesses, std::uint64_t chunk)
      : m_(m), accesses_(accesses), chunk_(chunk), zipf_(kHotPages, 0.99), scatter_(kHotPages, 7), rng_(11) {}
  struct Sample {
    double local_share;
    std::uint64_t t_ms;
  };
  std::vector<Sample> samples;
  std::string numa_maps;  // at the end, before the mm goes
  std::uint64_t pages_node[3] = {0, 0, 0};

  void start(ThreadContext& ctx) override {
    const long c = ctx.sys_mmap(0, kCold, 3, 0x22, -1, 0), h = ctx.sys_mmap(0, kHot, 3, 0x22, -1, 0);
    ASSERT_GT(c, 0);
    ASSERT_GT(h, 0);
    cold_ = static_cast<VirtAddr>(c);
    hot_ = static_cast<VirtAddr>(h);
    unsigned long node0 = 1;
    ASSERT_EQ(ctx.sys_set_mempolicy(os::MPOL_BIND, &node0, 4), 0);
  }
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (touched_cold_ < kColdPages) {
      while (!b.full() && touched_cold_ < kColdPages) b.store(cold_ + (touched_cold_++ << 12));
      return b.size();
    }
    if (touched_hot_ == 0) {
      unsigned long node2 = 4;
      EXPECT_EQ(ctx.sys_set_mempolicy(os::MPOL_BIND, &node2, 4), 0);
    }
    if (touched_hot_ < kHotPages) {
      while (!b.full() && touched_hot_ < kHotPages) b.store(hot_ + (touched_hot_++ << 12));
      return b.size();
    }
    if (!policy_reset_) {
      EXPECT_EQ(ctx.sys_set_mempolicy(os::MPOL_DEFAULT, nullptr, 0), 0);
      policy_reset_ = true;
      mark(ctx);
    }
    if (done_ >= accesses_) {
      if (!ended_) {
        mark(ctx);
        ended_ = true;
        snapshot(ctx);
      }
      b.compute(1);
      return b.size();
    }
    while (!b.full() && done_ < accesses_) {
      const std::uint64_t page = scatter_(zipf_.sample(rng_) - 1);
      const VirtAddr a = hot_ + (page << 12) + (rng_.below(64) << 6);
      if (rng_.below(10) == 0)
        b.store(a);
      else
        b.load(a, 8);
      b.compute(200);  // work per access: a few hundred accesses per simulated microsecond otherwise
      if (++done_ % chunk_ == 0) break;
    }
    if (done_ % chunk_ == 0) mark(ctx);
    return b.size();
  }
  bool done() const override { return ended_; }

 private:
  void mark(ThreadContext& ctx) {
    ctx.flush();
    MapStatsVisitor v;
    m_.memory().dump_stats(v);
    const double local = v.values.at("system.mem.local_dram"), remote = v.values.at("system.mem.remote_dram");
    if (have_prev_ && local + remote > prev_local_ + prev_remote_)
      samples.push_back({(local - prev_local_) / std::max(1.0, (local - prev_local_) + (remote - prev_remote_)),
                         ctx.now().value() / 1'000'000'000ull});
    have_prev_ = true;
    prev_local_ = local;
    prev_remote_ = remote;
  }
  // Every page of both buffers is still mapped: numa_maps' N<node>= counts
  // (present and PROT_NONE entries alike), summed over the VMAs.
  void snapshot(ThreadContext& ctx) {
    os::Kernel& k = m_.kernel();
    os::task_struct* t = k.find_task_by_pid(ctx.pid());
    ASSERT_NE(t, nullptr);
    numa_maps = k.numa_balancing().numa_maps(t);
    for (std::size_t at = numa_maps.find(" N"); at != std::string::npos; at = numa_maps.find(" N", at + 1)) {
      const int nid = numa_maps[at + 2] - '0';
      if (nid >= 0 && nid < 3 && numa_maps[at + 3] == '=') pages_node[nid] += std::stoull(numa_maps.substr(at + 4));
    }
  }
  Machine& m_;
  std::uint64_t accesses_, chunk_;
  workloads::ZipfSampler zipf_;
  workloads::ScatterMap scatter_;
  workloads::Rng rng_;
  VirtAddr cold_ = 0, hot_ = 0;
  std::uint64_t touched_cold_ = 0, touched_hot_ = 0, done_ = 0;
  bool policy_reset_ = false, have_prev_ = false, ended_ = false;
  double prev_local_ = 0, prev_remote_ = 0;
};

std::uint64_t vm_event(Machine& m, os::vm_event_item item) { return m.kernel().physmem().all_vm_events()[item]; }

TEST(NumaTieringSystem, HotCxlPagesArePromotedAndColdOnesDemotedNotSwapped) {
  auto doc = ConfigDocument::from_file(kConfig);
  Machine m(doc->root());
  doc->finish();
  auto prog = std::make_unique<TieringZipf>(m, 1'500'000, 150'000);
  TieringZipf* z = prog.get();
  TaskRun* t = m.add_task("tiering-zipf", std::move(prog), CpuId(0));
  m.run();
  ASSERT_TRUE(t->finished);
  os::Kernel& k = m.kernel();
  const auto& pm = k.physmem();
  const auto promoted = static_cast<std::uint64_t>(pm.node_page_state(NodeId(0), os::PGPROMOTE_SUCCESS));
  const auto candidates = static_cast<std::uint64_t>(pm.node_page_state(NodeId(0), os::PGPROMOTE_CANDIDATE));
  const std::uint64_t sim_ms = m.now().value() / 1'000'000'000ull;
  const std::uint64_t limit_pages = std::uint64_t{k.numa_balancing().params().promote_rate_limit_MBps} << 8;
  std::printf("sim %llu ms: pgpromote_candidate %llu, pgpromote_success %llu (limit %llu pages/s), "
              "pgdemote_kswapd %llu, pgdemote_direct %llu, pswpout %llu, numa_hint_faults %llu, pte updates %llu\n",
              (unsigned long long)sim_ms, (unsigned long long)candidates, (unsigned long long)promoted,
              (unsigned long long)limit_pages, (unsigned long long)vm_event(m, os::PGDEMOTE_KSWAPD),
              (unsigned long long)vm_event(m, os::PGDEMOTE_DIRECT), (unsigned long long)vm_event(m, os::PSWPOUT),
              (unsigned long long)vm_event(m, os::NUMA_HINT_FAULTS), (unsigned long long)vm_event(m, os::NUMA_PTE_UPDATES));
  for (std::size_t i = 0; i < z->samples.size(); ++i)
    std::printf("chunk %zu (t=%llu ms): local share %.3f\n", i, (unsigned long long)z->samples[i].t_ms,
                z->samples[i].local_share);
  std::printf("pages at the end: N0=%llu N1=%llu N2=%llu\n%s", (unsigned long long)z->pages_node[0],
              (unsigned long long)z->pages_node[1], (unsigned long long)z->pages_node[2], z->numa_maps.c_str());

  // Hot pages promoted, the local share rising.
  EXPECT_GT(promoted, 0u);
  EXPECT_GE(candidates, promoted);
  ASSERT_GE(z->samples.size(), 6u);
  EXPECT_LT(z->samples.front().local_share, 0.1);
  EXPECT_GT(z->samples.back().local_share, z->samples.front().local_share + 0.3);
  // Within the rate limit: at most limit_pages per one-second window.
  EXPECT_LE(promoted, limit_pages * (sim_ms / 1000 + 1));
  // Cold pages demoted by kswapd, nothing swapped.
  EXPECT_GT(vm_event(m, os::PGDEMOTE_KSWAPD), 0u);
  EXPECT_EQ(vm_event(m, os::PSWPOUT), 0u);
  // Nothing lost: every page of both buffers mapped, on node 0 or node 2.
  EXPECT_EQ(z->pages_node[0] + z->pages_node[2], kColdPages + kHotPages);
  EXPECT_EQ(z->pages_node[1], 0u);
  EXPECT_GT(z->pages_node[0], 0u);
}

}  // namespace
}  // namespace numasim::hw
