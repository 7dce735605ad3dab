// khugepaged on the machine: a task fills 8 MiB with 4 KiB pages (THP
// enabled=madvise, not yet madvised), then madvise(MADV_HUGEPAGE)s it and keeps
// computing. The registration wakes khugepaged, which runs as a task on a
// simulated CPU, collapses the four 2 MiB ranges (its copies timed through the
// memory system: its kernel time), and the task's later accesses hit PMD leaves
// (AnonHugePages 8 MiB). With scan_sleep 300 us later passes find nothing more.
#include <gtest/gtest.h>

#include <memory>

#include "common/config.h"
#include "hw/machine.h"
#include "os/huge_memory.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kBytes = 8ull << 20;

class FillThenAdvise final : public OpSource {
 public:
  void start(ThreadContext& ctx) override {
    // 2 MiB-aligned: map 10 MiB and use the aligned 8 MiB inside.
    const long a = ctx.sys_mmap(0, kBytes + (2ull << 20), 3 /*PROT_READ|PROT_WRITE*/, 0x22 /*MAP_PRIVATE|MAP_ANONYMOUS*/,
                                -1, 0);
    ASSERT_GT(a, 0);
    base_ = (static_cast<VirtAddr>(a) + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  }
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    while (!b.full() && touched_ < kBytes) {
      b.store(base_ + touched_);
      touched_ += 4096;
    }
    if (touched_ >= kBytes && !advised_ && !b.full()) {
      if (b.size()) return b.size();  // the stores run first
      advised_ = true;
      EXPECT_EQ(ctx.sys_madvise(base_, kBytes, 14 /*MADV_HUGEPAGE*/), 0);
    }
    if (advised_) {
      b.compute(100'000);
      b.load(base_ + (spins_ % 4) * (2ull << 20));
      ++spins_;
    }
    return b.size();
  }
  bool done() const override { return spins_ >= 40; }

 private:
  VirtAddr base_ = 0;
  std::uint64_t touched_ = 0;
  bool advised_ = false;
  int spins_ = 0;
};

TEST(KhugepagedSystem, CollapsesAMadvisedRangeAsAKernelThreadOnTheMachine) {
  auto doc = testing::small_machine("\n[os.kthreads]\nkhugepaged_scan_sleep = \"300us\"\n");
  auto m = std::make_unique<Machine>(doc->root());
  doc->finish();
  m->add_task("fill", std::make_unique<FillThenAdvise>(), CpuId(2));
  m->run();
  const os::Kernel& k = m->kernel();
  EXPECT_EQ(k.khugepaged_stats().pages_collapsed, 4u);
  EXPECT_EQ(k.physmem().sum_vm_event(os::THP_COLLAPSE_ALLOC), 4u);
  const TaskRun* kh = nullptr;
  for (const auto& r : m->kthreads())
    if (r->name == "khugepaged") kh = r.get();
  ASSERT_NE(kh, nullptr);
  EXPECT_GE(kh->kthread_runs, 1u);
  // 4 x 512 copies of 4 KiB through the memory system: well above a stub pass.
  EXPECT_GT(kh->kernel_time, Picoseconds(100'000'000));
}

}  // namespace
}  // namespace numasim::hw
