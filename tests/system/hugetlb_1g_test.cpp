// A 1 GiB hugetlb page end to end on the small machine with 2 GiB per node and
// hugepagesz=1G ([os.hugetlb.1G] nr_hugepages = [1, 0]): mmap(MAP_HUGETLB |
// MAP_HUGE_1GB), one store faults it in (the kernel clears the GiB as one
// streaming write through node 0's memory), then loads spread over the whole
// GiB all translate through one 1 GiB TLB entry: one page walk that stops at
// the PUD (two entries read: PML4E, PDPTE), the rest L1 DTLB hits in the 1G array.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hw/machine.h"
#include "os/syscalls.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr int kLoads = 256;

class GigaProgram : public OpSource {
 public:
  std::string name() const override { return "giga"; }
  void start(ThreadContext& ctx) override {
    const long r = ctx.sys_mmap(0, kGiB, os::PROT_READ | os::PROT_WRITE,
                                os::MAP_PRIVATE | os::MAP_ANONYMOUS | os::MAP_HUGETLB | os::MAP_HUGE_1GB, -1, 0);
    base_ = r > 0 ? static_cast<VirtAddr>(r) : 0;
    error_ = r < 0 ? r : 0;
  }
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (!base_) {
      done_ = true;
      return 0;
    }
    b.marker(1);
    b.store(base_ + 64);  // the fault
    b.marker(2);
    ctx.flush();
    for (int i = 0; i < kLoads; ++i) {
      if (b.room() < 2) ctx.flush();
      b.load(base_ + (static_cast<std::uint64_t>(i) * (kGiB / kLoads)) + 128);
    }
    b.marker(3);
    done_ = true;
    return b.size();
  }
  bool done() const override { return done_; }
  VirtAddr base() const { return base_; }
  long error() const { return error_; }

 private:
  VirtAddr base_ = 0;
  long error_ = 0;
  bool done_ = false;
};

TEST(Hugetlb1G, AGigabytePageMapsFaultsAndWalksToThePud) {
  auto doc = testing::small_machine("[os.hugetlb.1G]\nnr_hugepages = [1, 0]\n");
  doc->apply_override("machine.memory_per_node=\"2GiB\"");
  Machine m(doc->root());
  doc->finish();
  ASSERT_EQ(m.kernel().hugetlb().nr_huge_pages_node(0, os::HSTATE_1G), 1u);
  auto p = std::make_unique<GigaProgram>();
  GigaProgram* prog = p.get();
  TaskRun* run = m.add_task("giga", std::move(p), CpuId(0));
  m.run();
  ASSERT_EQ(prog->error(), 0);
  EXPECT_FALSE(run->killed);
  EXPECT_EQ(prog->base() & (kGiB - 1), 0u);

  const Mmu& mmu = m.mmu(CpuId(0));
  const int g = static_cast<int>(PageSize::k1G);
  // One fault, one successful walk, filled as a 1 GiB translation.
  EXPECT_EQ(mmu.stats().faults, 1u);
  EXPECT_EQ(mmu.tlb().stats(1).misses[g], 1u);
  EXPECT_EQ(mmu.tlb().stats(1).total_misses(), 1u);
  // Every load of the GiB hit the L1 1G array.
  EXPECT_GE(mmu.tlb().stats(0).hits[g], static_cast<std::uint64_t>(kLoads));
  // The walk after the fault read two entries (PML4E, PDPTE); the faulting walk read them too.
  EXPECT_LE(mmu.stats().walk_reads, 4u);
  // Clearing the GiB: at least 1 GiB written by the kernel, and it took time.
  EXPECT_GT(run->marker_interval(1, 2).value(), 0u);
  EXPECT_EQ(m.kernel().hugetlb().free_huge_pages(os::HSTATE_1G), 1u);  // back in the pool after exit
  std::printf("1 GiB hugetlb fault (clear_huge_page of 1 GiB): %.1f ms simulated\n",
              static_cast<double>(run->marker_interval(1, 2).value()) / 1e9);
}

}  // namespace
}  // namespace numasim::hw
