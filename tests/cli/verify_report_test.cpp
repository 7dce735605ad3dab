// Verify mode and the reclaim report, in process: a workload thread whose page
// token is corrupted mid-run fails the run (RunReport says which task, address
// and tokens; all_workloads_ok is false, so `numasim run` exits 1); pages
// migrated with move_pages and mbind(MPOL_MF_MOVE) and pages copied on write
// after a fork mid-run all read back what was written; the reclaim table, JSON
// fields and --sample columns show the per-node reclaim counters.
#include <gtest/gtest.h>

#include <functional>

#include "common/config.h"
#include "hw/machine.h"
#include "os/kernel.h"
#include "os/syscalls.h"
#include "run_report.h"
#include "workloads/generator.h"
#include "workloads/linux_abi.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {

// A thread made of steps, one per fill(): each may emit ops and make system calls.
class StepSource final : public Generator {
 public:
  using Step = std::function<void(StepSource&, hw::OpBatch&, hw::ThreadContext&)>;
  StepSource(ThreadInfo info, std::vector<Step> steps) : Generator(std::move(info)), steps_(std::move(steps)) {}

  void touch_pages(hw::OpBatch& b, VirtAddr a, int n, bool write) {
    for (int i = 0; i < n; ++i) touch(b, a + static_cast<VirtAddr>(i) * kPageSize, write);
  }
  VirtAddr map(hw::ThreadContext& ctx, std::uint64_t bytes) { return map_anon(ctx, bytes); }
  VirtAddr buf = 0;
  int child_pid = 0;

 protected:
  void emit(hw::OpBatch& b, hw::ThreadContext& ctx) override {
    if (i_ < steps_.size()) steps_[i_++](*this, b, ctx);
  }
  bool finished() const override { return i_ >= steps_.size(); }

 private:
  std::vector<Step> steps_;
  std::size_t i_ = 0;
};

struct StepRun {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<hw::Machine> machine;
  std::vector<WorkloadSpec> specs;
  std::unique_ptr<cli::RunReport> report;
};

void run_steps(StepRun& r, std::vector<StepSource::Step> steps) {
  r.doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/default.toml");
  r.doc->apply_override("machine.memory_per_node=\"128MiB\"");
  r.machine = std::make_unique<hw::Machine>(r.doc->root());
  build_workloads(r.doc->root(), r.machine->topology());  // read (and replaced below)
  r.doc->finish();
  WorkloadSpec spec;
  spec.name = "checker";
  spec.kind = "steps";
  spec.verify = true;
  spec.cpus = {CpuId(0)};
  spec.results = std::make_shared<WorkloadResults>(spec.name, spec.kind);
  ThreadInfo info;
  info.workload = spec.name;
  info.verify = true;
  info.results = spec.results;
  spec.threads.push_back(ThreadSpec{[info, steps] { return std::make_unique<StepSource>(info, steps); }, CpuId(0)});
  r.specs.push_back(std::move(spec));
  r.report = std::make_unique<cli::RunReport>(*r.machine, r.specs);
  r.report->place_workloads();
  r.report->run(false);
}

os::task_struct* task_of(StepRun& r, hw::ThreadContext& ctx) { return r.machine->kernel().find_task_by_pid(ctx.pid()); }
std::uint64_t pfn_of(StepRun& r, hw::ThreadContext& ctx, VirtAddr a) {
  auto fr = r.machine->kernel().follow_page(*task_of(r, ctx)->mm, a);
  return fr ? fr->phys >> kPageShift : 0;
}

constexpr int kPages = 16;

TEST(VerifyMode, ACorruptedTokenFailsTheRunNamingTaskAddressAndTokens) {
  StepRun r;
  VirtAddr victim = 0;
  run_steps(r, {
      [](StepSource& s, hw::OpBatch& b, hw::ThreadContext& ctx) {
        s.buf = s.map(ctx, kPages * kPageSize);
        s.touch_pages(b, s.buf, kPages, true);
      },
      [&](StepSource& s, hw::OpBatch&, hw::ThreadContext& ctx) {
        ctx.now();  // the stores have run
        victim = s.buf + 5 * kPageSize;
        r.machine->kernel().page_tokens().set(pfn_of(r, ctx, victim), 0xdeadbeef);  // a "lost" page
      },
      [](StepSource& s, hw::OpBatch& b, hw::ThreadContext&) { s.touch_pages(b, s.buf, kPages, false); },
  });
  const cli::RunReport::VerifySummary vs = r.report->verify_summary();
  EXPECT_TRUE(vs.enabled);
  EXPECT_EQ(vs.stores, static_cast<std::uint64_t>(kPages));
  EXPECT_EQ(vs.loads, static_cast<std::uint64_t>(kPages));
  EXPECT_EQ(vs.mismatches, 1u);
  EXPECT_FALSE(r.report->all_workloads_ok());  // numasim run's exit status 1
  const hw::Core& core = r.machine->core(CpuId(0));
  ASSERT_EQ(core.verify_mismatches().size(), 1u);
  const hw::VerifyMismatch& m = core.verify_mismatches()[0];
  EXPECT_EQ(m.va, victim);
  EXPECT_EQ(m.found, 0xdeadbeefu);
  EXPECT_EQ(m.expected, page_token(verify_process_id("checker", 1), victim >> kPageShift, 1));
  const std::string text = r.report->text();
  EXPECT_NE(text.find("1 MISMATCHES (pages lost)"), std::string::npos) << text;
  char va[32];
  std::snprintf(va, sizeof va, "0x%llx", static_cast<unsigned long long>(victim));
  EXPECT_NE(text.find(std::string("verify failed: checker[")), std::string::npos) << text;
  EXPECT_NE(text.find(va), std::string::npos) << text;
  EXPECT_NE(text.find("holds token 0x00000000deadbeef"), std::string::npos) << text;
  const std::string json = r.report->json();
  EXPECT_NE(json.find("\"mismatches\": 1"), std::string::npos) << json.substr(json.find("\"verify\""), 300);
}

TEST(VerifyMode, PagesMigratedAndCopiedOnWriteMidRunReadBackWhatWasWritten) {
  StepRun r;
  std::uint64_t before_move = 0, after_move = 0, shared_pfn = 0, cow_pfn = 0;
  run_steps(r, {
      [](StepSource& s, hw::OpBatch& b, hw::ThreadContext& ctx) {
        s.buf = s.map(ctx, kPages * kPageSize);
        s.touch_pages(b, s.buf, kPages, true);
        s.touch_pages(b, s.buf, kPages / 2, true);  // second generation of the first half
      },
      [&](StepSource& s, hw::OpBatch&, hw::ThreadContext& ctx) {
        before_move = pfn_of(r, ctx, s.buf);
        // move_pages: the first half to node 1.
        std::vector<VirtAddr> pages;
        for (int i = 0; i < kPages / 2; ++i) pages.push_back(s.buf + static_cast<VirtAddr>(i) * kPageSize);
        std::vector<int> nodes(pages.size(), 1), status(pages.size(), -1);
        ASSERT_EQ(ctx.sys_move_pages(pages.size(), pages.data(), nodes.data(), status.data(), workloads::abi::kMpolMfMoveFlag), 0);
        for (int st : status) ASSERT_EQ(st, 1);
        after_move = pfn_of(r, ctx, s.buf);
        // mbind(MPOL_BIND node 1, MPOL_MF_MOVE): the second half.
        unsigned long mask = 1ul << 1;
        ASSERT_EQ(ctx.sys_mbind(s.buf + kPages / 2 * kPageSize, kPages / 2 * kPageSize, workloads::abi::kMpolBind, &mask, 3,
                                workloads::abi::kMpolMfMove),
                  0);
      },
      [](StepSource& s, hw::OpBatch& b, hw::ThreadContext&) { s.touch_pages(b, s.buf, kPages, false); },
      [&](StepSource& s, hw::OpBatch&, hw::ThreadContext& ctx) {
        // fork(2) mid-run: every private page becomes shared copy-on-write.
        os::KernelCost cost;
        const long pid = r.machine->kernel().sys_fork(task_of(r, ctx), cost);
        ASSERT_GT(pid, 0);
        s.child_pid = static_cast<int>(pid);
        shared_pfn = pfn_of(r, ctx, s.buf);
      },
      [](StepSource& s, hw::OpBatch& b, hw::ThreadContext&) {
        s.touch_pages(b, s.buf, kPages, false);     // shared with the child
        s.touch_pages(b, s.buf, kPages / 4, true);  // copy-on-write
        s.touch_pages(b, s.buf, kPages, false);
      },
      [&](StepSource& s, hw::OpBatch&, hw::ThreadContext& ctx) {
        ctx.now();
        cow_pfn = pfn_of(r, ctx, s.buf);
        // The child still holds the pre-fork token of page 0 (generation 2).
        os::Kernel& k = r.machine->kernel();
        os::task_struct* child = k.find_task_by_pid(s.child_pid);
        ASSERT_NE(child, nullptr);
        auto fr = k.follow_page(*child->mm, s.buf);
        ASSERT_TRUE(fr);
        EXPECT_EQ(k.page_tokens().get(fr->phys >> kPageShift),
                  page_token(verify_process_id("checker", 1), s.buf >> kPageShift, 2));
        k.exit_task(child);
      },
  });
  EXPECT_NE(after_move, before_move);  // really migrated
  EXPECT_NE(cow_pfn, shared_pfn);      // really copied on write
  const cli::RunReport::VerifySummary vs = r.report->verify_summary();
  EXPECT_EQ(vs.mismatches, 0u) << (vs.messages.empty() ? "" : vs.messages[0]);
  EXPECT_EQ(vs.stores, static_cast<std::uint64_t>(kPages + kPages / 2 + kPages / 4));
  EXPECT_EQ(vs.loads, static_cast<std::uint64_t>(3 * kPages));
  EXPECT_TRUE(r.report->all_workloads_ok());
  EXPECT_NE(r.report->text().find("loads checked them: all good"), std::string::npos);
}

TEST(ReclaimReport, TableJsonAndSampleColumnsShowPerNodeReclaim) {
  StepRun r;
  run_steps(r, {[](StepSource& s, hw::OpBatch& b, hw::ThreadContext& ctx) {
    s.buf = s.map(ctx, kPageSize);
    s.touch_pages(b, s.buf, 1, true);
  }});
  EXPECT_EQ(r.report->text().find("\nReclaim"), std::string::npos);  // nothing reclaimed: no table
  // What reclaim and swap will count (the counters exist; LRU and swap fill them).
  os::PhysMem& pm = r.machine->kernel().physmem();
  const int cpu1 = r.machine->topology().node(NodeId(1)).cpus.front().value();
  pm.count_vm_events(CpuId(cpu1), os::PGSCAN_KSWAPD, 700);
  pm.count_vm_events(CpuId(cpu1), os::PGSTEAL_KSWAPD, 600);
  pm.count_vm_events(CpuId(0), os::PGSCAN_DIRECT, 50);
  pm.count_vm_events(CpuId(0), os::ALLOCSTALL_NORMAL, 3);
  pm.count_vm_events(CpuId(0), os::PSWPOUT, 40);
  pm.count_vm_events(CpuId(0), os::PGMAJFAULT, 7);
  pm.count_vm_event(os::PSWPIN, 9);  // counted without a CPU
  bool kswapd1 = false;
  for (const auto& k : r.machine->kthreads())
    if (k->name == "kswapd1") {
      k->kernel_time = Picoseconds(2'500'000'000);  // 2.5 ms of kswapd1's passes
      kswapd1 = true;
    }
  ASSERT_TRUE(kswapd1);
  const std::string text = r.report->text();
  const auto at = text.find("\nReclaim");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string table = text.substr(at, text.find("\n\n", at + 1) - at);
  EXPECT_NE(table.find("  0            0        50         0       0.0       3        0       40       7"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("  1          700         0       600    2500.0       0        0        0       0"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("  -            0         0         0       0.0       0        9        0       0"),
            std::string::npos)
      << table;
  for (std::size_t p = 0, e; (e = table.find('\n', p + 1)) != std::string::npos; p = e)
    EXPECT_LE(e - p - 1, 80u) << table.substr(p + 1, e - p - 1);
  const cli::RunReport::ReclaimFigures f1 = r.report->reclaim_figures(1);
  EXPECT_EQ(f1.pgscan_kswapd, 700u);
  EXPECT_EQ(f1.pgsteal_kswapd, 600u);
  EXPECT_EQ(f1.kswapd_time.value(), 2'500'000'000u);
  const std::string json = r.report->json();
  EXPECT_NE(json.find("\"pgscan_kswapd\": 700"), std::string::npos);
  EXPECT_NE(json.find("\"pswpout\": 40"), std::string::npos);
  EXPECT_NE(json.find("\"kswapd_time_ps\": 2500000000"), std::string::npos);
}

}  // namespace
