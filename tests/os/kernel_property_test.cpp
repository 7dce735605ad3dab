// Property test: long random sequences of system calls (mmap with every flag
// combination, munmap, mprotect, madvise, brk, mbind, set_mempolicy,
// move_pages), user accesses, thread creation, fork, migration and exit on a small
// two-node machine, with Kernel::check_consistency() (VMAs, page tables, map
// counts, RSS, NR_* counters, hugetlb reservations, the buddy) after every
// step, and every failing call checked to have changed nothing. Some cases run
// with failslab at 5% (a twentieth of the kernel's slab allocations fail):
// every call that saw an injected failure and failed returned ENOMEM, and
// changed nothing. Others run with fail_page_alloc at 5% (a twentieth of the
// page allocations on every path fail: user pages, page tables, slab pages):
// calls that saw one and failed returned ENOMEM and changed nothing, faults
// that saw one were VM_FAULT_OOM without a kill or handled. At the end kmemleak
// finds nothing and no VMA, mm, policy or page-table-lock object is left.
#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>
#include <random>

#include "os/kmemleak.h"
#include "os/mempolicy.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

struct PropertyCase {
  std::uint64_t seed;
  const char* memory_per_node;  // small machines run out of memory: OOM paths get exercised
  int steps;
  unsigned failslab_percent = 0;  // [os.failslab] probability during the run
  unsigned fail_page_alloc_percent = 0;  // [os.fail_page_alloc] probability during the run
};

class KernelPropertyTest : public KernelTest, public ::testing::WithParamInterface<PropertyCase> {
 protected:
  KernelPropertyTest() : KernelTest({3, 3}, GetParam().memory_per_node) {}
};

constexpr VirtAddr kWindow = 0x10000000;
constexpr std::uint64_t kWindowSize = 32ull << 20;

TEST_P(KernelPropertyTest, RandomSyscallsKeepTheKernelConsistent) {
  std::mt19937_64 rng(GetParam().seed);
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  std::vector<task_struct*> tasks{spawn(0)};
  ASSERT_NE(tasks[0], nullptr);
  if (GetParam().failslab_percent) {
    FailslabParams fp;
    fp.probability = GetParam().failslab_percent;
    fp.seed = GetParam().seed;
    k().slub().failslab().configure(fp);
  }
  if (GetParam().fail_page_alloc_percent) {
    FailPageAllocParams fp;
    fp.probability = GetParam().fail_page_alloc_percent;
    fp.seed = GetParam().seed;
    pm().fail_page_alloc().configure(fp);
  }
  std::uint64_t injected_page_failures = 0;
  std::uint64_t injected_failures = 0;
  std::uint64_t calls = 0, failures = 0, faults = 0;
  std::uint64_t ooms = 0;
  for (int step = 0; step < GetParam().steps; ++step) {
    task_struct* t = tasks[rnd(tasks.size())];
    KernelCost c;
    const VirtAddr addr = kWindow + rnd(kWindowSize / kPageSize) * kPageSize;
    const bool huge_aligned = rnd(4) == 0;
    const VirtAddr haddr = kWindow + rnd(kWindowSize >> 21) * (2ull << 20);
    const std::uint64_t len = (1 + rnd(rnd(3) == 0 ? 600 : 16)) * kPageSize - (rnd(4) == 0 ? rnd(kPageSize) : 0);
    const int prot = static_cast<int>(rnd(8));
    unsigned long mask = rnd(4);
    const int op = static_cast<int>(rnd(100));
    std::string before;
    long ret = 0;
    bool checked = true;  // ret < 0 must mean "nothing changed"
    auto snap = [&] { before = snapshot(t); };
    const std::uint64_t failslab_before = k().slub().failslab().nr_failed();
    const std::uint64_t page_failures_before = pm().slowpath_stats().injected;
    if (op < 18) {  // mmap
      int flags = (rnd(5) == 0 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
      if (rnd(2))
        flags |= MAP_FIXED;
      else if (rnd(3) == 0)
        flags |= MAP_FIXED_NOREPLACE;
      if (rnd(4) == 0) flags |= MAP_POPULATE;
      VirtAddr a = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) || rnd(2) ? addr : 0;
      std::uint64_t l = len;
      if (rnd(8) == 0) {
        flags |= MAP_HUGETLB;
        a = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) ? haddr : 0;
        l = (1 + rnd(2)) << 21;
      }
      snap();
      ret = k().sys_mmap(t, a, l, prot, flags, -1, rnd(20) == 0 ? 5 : 0, c);
    } else if (op < 30) {  // munmap
      snap();
      ret = k().sys_munmap(t, huge_aligned ? haddr : addr, huge_aligned ? 2ull << 20 : len, c);
    } else if (op < 42) {  // mprotect
      snap();
      ret = k().sys_mprotect(t, huge_aligned ? haddr : addr, huge_aligned ? 2ull << 20 : len, prot, c);
    } else if (op < 50) {  // madvise
      static const int advice[] = {MADV_DONTNEED,   MADV_DONTNEED, MADV_FREE,     MADV_RANDOM, MADV_NORMAL,
                                   MADV_SEQUENTIAL, MADV_WILLNEED, MADV_HUGEPAGE, 77};
      snap();
      ret = k().sys_madvise(t, huge_aligned ? haddr : addr, huge_aligned ? 2ull << 20 : len,
                            advice[rnd(std::size(advice))], c);
    } else if (op < 54) {  // brk
      const VirtAddr target = t->mm->start_brk + rnd(64) * kPageSize - (rnd(8) == 0 ? 2 * kPageSize : 0);
      ret = k().sys_brk(t, target, c);
      checked = false;     // brk reports failure by returning the old break
    } else if (op < 60) {  // mbind
      static const int modes[] = {MPOL_DEFAULT, MPOL_BIND,           MPOL_INTERLEAVE,          MPOL_PREFERRED,
                                  MPOL_LOCAL,   MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE, 99};
      const int mode = modes[rnd(std::size(modes))];
      const unsigned flags = static_cast<unsigned>(rnd(4) == 0 ? MPOL_MF_MOVE : rnd(4) == 0 ? MPOL_MF_STRICT : 0);
      snap();
      ret = k().sys_mbind(t, huge_aligned ? haddr : addr, huge_aligned ? 2ull << 20 : len, mode, &mask, 3, flags, c);
      checked = !(flags & MPOL_MF_MOVE);  // with MOVE, EIO may follow a partial move (as Linux)
    } else if (op < 63) {                 // set_mempolicy
      static const int modes[] = {MPOL_DEFAULT, MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED, MPOL_LOCAL};
      snap();
      ret = k().sys_set_mempolicy(t, modes[rnd(std::size(modes))], &mask, 3, c);
    } else if (op < 66) {  // move_pages
      VirtAddr pages[4];
      int nodes[4], status[4];
      for (int i = 0; i < 4; ++i) {
        pages[i] = kWindow + rnd(kWindowSize / kPageSize) * kPageSize;
        nodes[i] = static_cast<int>(rnd(2));
      }
      snap();
      ret = k().sys_move_pages(t, 0, 4, pages, rnd(2) ? nodes : nullptr, status, MPOL_MF_MOVE, c);
      for (int i = 0; i < 4; ++i)
        EXPECT_TRUE(status[i] == 0 || status[i] == 1 || status[i] == -EFAULT || status[i] == -ENOENT ||
                    status[i] == -ENOMEM || status[i] == -EACCES)  // EACCES: shared with a forked process
            << status[i];
    } else if (op < 95) {  // user accesses
      for (int i = 0; i < 8; ++i) {
        VirtAddr va = kWindow + rnd(kWindowSize);
        const auto& vmas = t->mm->mm_mt;
        if (!vmas.empty() && rnd(5) != 0) {  // mostly inside a mapping
          auto it = vmas.begin();
          std::advance(it, static_cast<long>(rnd(vmas.size())));
          va = it->second.vm_start + rnd(it->second.size());
        }
        auto r = k().touch(t, va, rnd(2), c);
        faults += r != Kernel::FaultResult::Handled;
        ooms += r == Kernel::FaultResult::Oom;
      }
      checked = false;
    } else if (op < 97) {  // scheduling
      k().migrate_task(t, CpuId(static_cast<int>(rnd(4))));
      checked = false;
    } else if (op < 99) {  // threads and processes come and go
      if (tasks.size() < 4) {
        const auto how = rnd(3);
        task_struct* n = how == 0   ? k().create_thread(t, CpuId(static_cast<int>(rnd(4))))
                         : how == 1 ? spawn(static_cast<int>(rnd(4)))  // nullptr when no PGD can be allocated
                                    : k().find_task_by_pid(static_cast<int>(k().sys_fork(t, c)));  // fork: COW
        if (n) tasks.push_back(n);
      } else {
        const std::size_t victim = rnd(tasks.size());
        k().exit_task(tasks[victim]);
        tasks.erase(tasks.begin() + static_cast<long>(victim));
      }
      checked = false;
    } else {  // memory pressure: a big mapping touched until it is full or memory runs out
      long big = k().sys_mmap(t, 0, 12 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
      if (big > 0) {
        for (VirtAddr va = static_cast<VirtAddr>(big); va < static_cast<VirtAddr>(big) + (12 << 20); va += kPageSize) {
          auto r = k().touch(t, va, true, c);
          if (r != Kernel::FaultResult::Handled) {
            ooms += r == Kernel::FaultResult::Oom;
            break;
          }
        }
        k().check_consistency();
        if (rnd(2)) k().sys_munmap(t, static_cast<VirtAddr>(big), 12 << 20, c);
      }
      checked = false;
    }
    ++calls;
    if (k().slub().failslab().nr_failed() != failslab_before) {
      ++injected_failures;
      // A slab allocation failed inside this call: if the call failed, it says ENOMEM.
      if (checked && ret < 0 && ret >= -4095) {
        EXPECT_EQ(ret, -ENOMEM) << "step " << step << " op " << op;
      }
    }
    if (pm().slowpath_stats().injected != page_failures_before) {
      ++injected_page_failures;
      // A page allocation failed inside this call: if the call failed, it says ENOMEM.
      if (checked && ret < 0 && ret >= -4095) {
        EXPECT_EQ(ret, -ENOMEM) << "step " << step << " op " << op;
      }
    }
    if (checked && ret < 0 && ret >= -4095) {
      ++failures;
      ASSERT_EQ(snapshot(t), before) << "step " << step << " op " << op << " ret " << ret;
    }
    k().check_consistency();
  }
  // The sequence must have exercised both paths.
  EXPECT_GT(failures, 50u);
  EXPECT_GT(faults, 0u);
  EXPECT_GT(pm().sum_vm_event(PGFAULT), 200u);
  RecordProperty("failures", static_cast<int>(failures));
  RecordProperty("ooms", static_cast<int>(ooms));
  std::printf("seed %llu: %llu failed calls (unchanged), %llu bad accesses, %llu OOM faults\n",
              static_cast<unsigned long long>(GetParam().seed), static_cast<unsigned long long>(failures),
              static_cast<unsigned long long>(faults), static_cast<unsigned long long>(ooms));
  if (GetParam().failslab_percent) {
    EXPECT_GT(injected_failures, 20u);
    std::printf("  failslab %u%%: %llu calls saw an injected slab failure\n", GetParam().failslab_percent,
                static_cast<unsigned long long>(injected_failures));
  }
  if (GetParam().fail_page_alloc_percent) {
    EXPECT_GT(injected_page_failures, 20u);
    std::printf("  fail_page_alloc %u%%: %llu calls saw an injected page-allocation failure\n",
                GetParam().fail_page_alloc_percent, static_cast<unsigned long long>(injected_page_failures));
    pm().fail_page_alloc().configure(FailPageAllocParams{});  // exit must not fail
  }
  while (!tasks.empty()) {
    k().exit_task(tasks.back());
    tasks.pop_back();
    k().check_consistency();
  }
  auto scan = k().kmemleak_scan();
  EXPECT_TRUE(scan.leaks.empty()) << Kmemleak::report(scan);
  EXPECT_EQ(scan.dangling_refs, 0u);
  for (const char* cache : {"vm_area_struct", "mm_struct", "numa_policy", "page->ptl"}) {
    const kmem_cache* s = k().slub().find_cache(cache);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(k().slub().cache_info(*s).inuse_objs, 0u) << cache;
  }
  EXPECT_EQ(k().pgtables().nr_tables(), 0u);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 0u);
  EXPECT_EQ(k().hugetlb().free_huge_pages(), k().hugetlb().nr_huge_pages());
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_MAPPED), 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, KernelPropertyTest,
                         ::testing::Values(PropertyCase{1, "64MiB", 2500}, PropertyCase{2, "64MiB", 2500},
                                           PropertyCase{3, "64MiB", 2500}, PropertyCase{20261125, "64MiB", 2500},
                                           PropertyCase{7, "16MiB", 3000}, PropertyCase{8, "16MiB", 3000},
                                           PropertyCase{11, "64MiB", 2500, 5}, PropertyCase{12, "64MiB", 2500, 5},
                                           PropertyCase{13, "16MiB", 3000, 5}, PropertyCase{21, "64MiB", 2500, 0, 5},
                                           PropertyCase{22, "16MiB", 3000, 0, 5},
                                           PropertyCase{23, "64MiB", 2500, 5, 5}));

}  // namespace
