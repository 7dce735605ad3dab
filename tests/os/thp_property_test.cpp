// Property test for transparent huge pages: random mmap/munmap/mprotect/
// madvise(DONTNEED, HUGEPAGE, NOHUGEPAGE)/fork/move_pages/accesses over huge
// ranges (2 MiB aligned and not) with THP enabled=always, khugepaged passes and
// the deferred-split shrinker in between, and Kernel::check_consistency after
// every step (page tables, THP entire and subpage mapcounts, references, RSS,
// NR_ANON_MAPPED, NR_ANON_THPS). Every failing call must change nothing.
#include <gtest/gtest.h>

#include <random>

#include "os/huge_memory.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class ThpPropertyTest : public KernelTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  ThpPropertyTest() : KernelTest({0, 0}, "128MiB") {
    kernel_.reset();
    params_.thp.enabled = ThpEnabled::Always;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
};

constexpr VirtAddr kWindow = 0x40000000ull;
constexpr std::uint64_t kWindowSize = 32ull << 20;

TEST_P(ThpPropertyTest, RandomOperationsOverHugeRangesKeepTheKernelConsistent) {
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  std::vector<task_struct*> tasks{spawn(0)};
  std::uint64_t thp_seen = 0;
  for (int step = 0; step < 400; ++step) {
    task_struct* t = tasks[rnd(tasks.size())];
    KernelCost c;
    const bool aligned = rnd(3) == 0;
    const VirtAddr addr = aligned ? kWindow + rnd(kWindowSize >> 21) * HPAGE_PMD_SIZE
                                  : kWindow + rnd(kWindowSize / kPageSize) * kPageSize;
    const std::uint64_t len = aligned ? (1 + rnd(3)) * HPAGE_PMD_SIZE : (1 + rnd(rnd(2) ? 1100 : 8)) * kPageSize;
    const int op = static_cast<int>(rnd(100));
    long ret = 0;
    bool checked = true;
    std::string before = snapshot(t);
    if (op < 12) {
      ret = k().sys_mmap(t, addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, c);
    } else if (op < 22) {
      ret = k().sys_munmap(t, addr, len, c);
    } else if (op < 32) {
      static const int prots[] = {PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE, PROT_READ | PROT_WRITE | PROT_EXEC};
      ret = k().sys_mprotect(t, addr, len, prots[rnd(4)], c);
    } else if (op < 42) {
      static const int advice[] = {MADV_DONTNEED, MADV_DONTNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_FREE};
      ret = k().sys_madvise(t, addr, len, advice[rnd(5)], c);
    } else if (op < 45) {
      if (tasks.size() < 3) {
        long pid = k().sys_fork(t, c);
        if (pid > 0) tasks.push_back(k().find_task_by_pid(static_cast<int>(pid)));
      } else {
        const std::size_t victim = 1 + rnd(tasks.size() - 1);
        k().exit_task(tasks[victim]);
        tasks.erase(tasks.begin() + static_cast<long>(victim));
      }
      checked = false;
    } else if (op < 48) {
      VirtAddr pages[2] = {addr, addr + kPageSize * rnd(512)};
      int nodes[2] = {static_cast<int>(rnd(2)), static_cast<int>(rnd(2))};
      int status[2];
      k().sys_move_pages(t, 0, 2, pages, nodes, status, MPOL_MF_MOVE, c);
      checked = false;
    } else if (op < 51) {
      k().khugepaged_scan(CpuId(static_cast<int>(rnd(4))), c);
      checked = false;
    } else if (op < 53) {
      k().deferred_split_scan(NodeId(static_cast<int>(rnd(2))), 1 + rnd(4), c);
      checked = false;
    } else {
      for (int i = 0; i < 16; ++i) {
        VirtAddr va = kWindow + rnd(kWindowSize);
        const auto& vmas = t->mm->mm_mt;
        if (!vmas.empty() && rnd(4) != 0) {
          auto it = vmas.begin();
          std::advance(it, static_cast<long>(rnd(vmas.size())));
          va = it->second.vm_start + rnd(it->second.size());
        }
        k().touch(t, va, rnd(3) != 0, c);
      }
      checked = false;
    }
    if (checked && ret < 0) {
      ASSERT_EQ(snapshot(t), before) << "step " << step << " op " << op << " ret " << ret;
    }
    k().check_consistency();
    thp_seen = std::max<std::uint64_t>(thp_seen, static_cast<std::uint64_t>(
                                                     k().physmem().global_node_page_state(NR_ANON_THPS)));
  }
  // The run exercised what it is about.
  EXPECT_GT(thp_seen, 0u);
  EXPECT_GT(k().physmem().sum_vm_event(THP_SPLIT_PMD), 0u);
  EXPECT_GT(k().physmem().sum_vm_event(THP_SPLIT_PAGE), 0u);  // the deferred split shrinker
  EXPECT_GT(k().khugepaged_stats().pages_collapsed, 0u);
  for (std::size_t i = tasks.size(); i-- > 0;) k().exit_task(tasks[i]);
  k().check_consistency();
  EXPECT_EQ(k().physmem().global_node_page_state(NR_ANON_MAPPED), 0);
  EXPECT_EQ(k().physmem().global_node_page_state(NR_ANON_THPS), 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ThpPropertyTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u));

}  // namespace
