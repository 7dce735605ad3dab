// Property test for memory compaction (os/compaction.cpp) under fragmentation:
// a small two-node machine (64 MiB per node, THP enabled=always) runs random
// mmap (anywhere, or MAP_FIXED on 2 MiB boundaries so that THP faults happen),
// writes and verified reads, MADV_DONTNEED of three pages in four (the
// fragmentation the proactive-compaction evaluation used), munmap, fork and
// exit, interleaved with compact_node (valid and invalid nodes),
// compact_memory, kcompactd woken for order 9, direct compaction through
// order-9 allocations that may compact, the deferred-split shrinker and
// khugepaged. Every page written gets a fresh identity token (page_token.h;
// a forked child inherits its parent's); Kernel::check_consistency runs after
// every step, and every page of every process is verified (present, holding the
// token last written there) after every compaction step and at the end.
// Bounded: the mappings stay below the machine's memory (no swap here), and
// every step ends.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "os/huge_memory.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class CompactionPropertyTest : public KernelTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  CompactionPropertyTest() : KernelTest({0, 0}, "64MiB") {
    kernel_.reset();
    params_.thp.enabled = ThpEnabled::Always;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
  struct Proc {
    task_struct* t = nullptr;
    std::map<VirtAddr, std::uint64_t> tokens;  // page -> the token last written
  };
  // PFN backing `va` (a THP's subpage for a PMD leaf), or ~0 when nothing is mapped.
  std::uint64_t pfn_at(task_struct* t, VirtAddr va) {
    auto f = k().follow_page(*t->mm, va);
    if (!f || !f->pg || !pte_present(f->leaf)) return ~0ull;
    return f->phys >> kPageShift;
  }
  // Every page of every process mapped, holding its last token.
  void verify_all(const std::vector<Proc>& procs, int step) {
    for (const Proc& p : procs)
      for (const auto& [va, tok] : p.tokens) {
        const std::uint64_t pfn = pfn_at(p.t, va);
        ASSERT_NE(pfn, ~0ull) << "step " << step << " pid " << p.t->pid << " page " << std::hex << va;
        ASSERT_EQ(k().page_tokens().get(pfn), tok) << "step " << step << " pid " << p.t->pid << " page " << std::hex
                                                   << va;
        ++verified_;
      }
  }
  void run_woken() {
    for (int n = 0; n < 64 && !platform_.woken.empty(); ++n) {
      task_struct* t = platform_.woken.front();
      platform_.woken.erase(platform_.woken.begin());
      KernelCost c;
      for (int runs = 0; runs < 16 && k().kthreads().run(t, c); ++runs) {
      }
    }
  }
  std::uint64_t ev(vm_event_item i) const { return kernel_->physmem().sum_vm_event(i); }
  std::uint64_t verified_ = 0;
};

constexpr VirtAddr kWindow = 0x40000000ull;
constexpr std::uint64_t kWindowHuge = 16;  // 2 MiB slots for MAP_FIXED mappings
constexpr std::uint64_t kMaxPages = (40ull << 20) / kPageSize;  // written pages of all processes

TEST_P(CompactionPropertyTest, RandomWorkWithCompactionLosesNothing) {
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  std::vector<Proc> procs(1);
  procs[0].t = spawn(0);
  ASSERT_NE(procs[0].t, nullptr);
  std::uint64_t next_token = 1, thp_mapped = 0, order9_got = 0;
  auto total_pages = [&] {
    std::uint64_t n = 0;
    for (const Proc& p : procs) n += p.tokens.size();
    return n;
  };
  auto write_page = [&](Proc& p, VirtAddr va) {
    if (touch(p.t, va, true) != Kernel::FaultResult::Handled) return;
    const std::uint64_t pfn = pfn_at(p.t, va);
    ASSERT_NE(pfn, ~0ull);
    k().page_tokens().set(pfn, next_token);
    p.tokens[va] = next_token++;
  };
  constexpr int kSteps = 700;
  for (int step = 0; step < kSteps; ++step) {
    if (procs.empty()) {
      procs.push_back(Proc{spawn(static_cast<int>(rnd(4))), {}});
      ASSERT_NE(procs.back().t, nullptr);
    }
    const std::size_t pi = rnd(procs.size());
    Proc& p = procs[pi];
    task_struct* t = p.t;
    KernelCost c;
    bool compacted = false;
    const int op = static_cast<int>(rnd(100));
    if (op < 16) {  // mmap and write most of it: anywhere, or fixed on 2 MiB boundaries (THP faults)
      const bool fixed = rnd(2) == 0;
      const std::uint64_t len = fixed ? (1 + rnd(2)) * HPAGE_PMD_SIZE : (1 + rnd(8 * 256)) * kPageSize;
      if (total_pages() + len / kPageSize <= kMaxPages) {
        const VirtAddr at = fixed ? kWindow + rnd(kWindowHuge - 1) * HPAGE_PMD_SIZE : 0;
        const long a = mmap_anon(t, len, PROT_READ | PROT_WRITE, fixed ? MAP_FIXED : 0, at);
        ASSERT_GT(a, 0);
        const VirtAddr base = static_cast<VirtAddr>(a);
        p.tokens.erase(p.tokens.lower_bound(base), p.tokens.lower_bound(base + len));  // MAP_FIXED replaced them
        for (VirtAddr va = base; va < base + len; va += kPageSize)
          if (rnd(8) != 0 || fixed) write_page(p, va);
        if (fixed) {
          auto f = k().follow_page(*t->mm, base);
          if (f && f->level == PMD_LEVEL) ++thp_mapped;
        }
      }
    } else if (op < 44) {  // reads and writes of written pages
      for (int i = 0; i < 24 && !p.tokens.empty(); ++i) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        const VirtAddr va = it->first;
        if (rnd(3) == 0) {
          write_page(p, va);
        } else {
          ASSERT_EQ(touch(t, va, false), Kernel::FaultResult::Handled);
          ASSERT_EQ(k().page_tokens().get(pfn_at(t, va)), it->second)
              << "step " << step << " pid " << t->pid << " page " << std::hex << va;
          ++verified_;
        }
      }
    } else if (op < 54) {  // fragment: drop three pages of every four in a stretch
      if (!p.tokens.empty()) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        const VirtAddr start = it->first;
        for (VirtAddr va = start; va < start + 256 * kPageSize; va += 4 * kPageSize) {
          const long r = k().sys_madvise(t, va + kPageSize, 3 * kPageSize, MADV_DONTNEED, c);
          if (r != 0) break;  // left the mapping
          p.tokens.erase(p.tokens.lower_bound(va + kPageSize), p.tokens.lower_bound(va + 4 * kPageSize));
        }
      }
    } else if (op < 60) {  // munmap part of a mapping
      if (!p.tokens.empty()) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        const std::uint64_t len = (1 + rnd(600)) * kPageSize;
        ASSERT_EQ(k().sys_munmap(t, it->first, len, c), 0);
        const VirtAddr start = it->first;
        p.tokens.erase(p.tokens.lower_bound(start), p.tokens.lower_bound(start + len));
      }
    } else if (op < 65) {  // fork (the child sees the parent's pages) or exit
      if (procs.size() < 3 && rnd(3) != 0) {
        const long pid = k().sys_fork(t, c);
        ASSERT_GT(pid, 0);
        task_struct* child = k().find_task_by_pid(static_cast<int>(pid));
        ASSERT_NE(child, nullptr);
        procs.push_back(Proc{child, procs[pi].tokens});
      } else {
        k().exit_task(t);
        procs.erase(procs.begin() + static_cast<long>(pi));
      }
    } else if (op < 74) {  // echo 1 > /sys/devices/system/node/nodeN/compact (N may not exist)
      const int nid = static_cast<int>(rnd(3));
      EXPECT_EQ(k().compact_node(NodeId(nid), CpuId(static_cast<int>(rnd(4))), c), nid < 2 ? 0 : -ENODEV);
      compacted = true;
    } else if (op < 78) {  // echo 1 > /proc/sys/vm/compact_memory
      k().compact_memory(CpuId(static_cast<int>(rnd(4))), c);
      compacted = true;
    } else if (op < 84) {  // kcompactd woken for a THP
      k().wakeup_kcompactd(NodeId(static_cast<int>(rnd(2))), 9, ZONE_NORMAL);
      run_woken();
      compacted = true;
    } else if (op < 90) {  // direct compaction: order-9 allocations that may compact, held until the
                           // free blocks are gone and the last ones must compact
      const int nid = static_cast<int>(rnd(2));
      std::vector<page*> held;
      for (int i = 0; i < 32; ++i) {  // a 64 MiB node has 32 pageblocks
        page* hp = pm().alloc_pages(CpuId(nid * 2), GFP_TRANSHUGE | __GFP_THISNODE | __GFP_NORETRY, 9, NodeId(nid),
                                    nullptr, c);
        if (!hp) break;
        held.push_back(hp);
      }
      order9_got += held.size();
      for (page* hp : held) pm().free_pages(CpuId(nid * 2), hp, 9, c);
      run_woken();
      compacted = true;
    } else if (op < 94) {
      k().deferred_split_scan(NodeId(static_cast<int>(rnd(2))), 1 + rnd(4), c);
    } else if (op < 97) {
      k().khugepaged_scan(CpuId(static_cast<int>(rnd(4))), c);
    } else {  // everything queued for the LRU reaches it (compaction isolates only pages on a list)
      k().lru_add_drain_all();
      pm().drain_all_pages(c);
    }
    run_woken();
    k().check_consistency();
    if (compacted) {
      verify_all(procs, step);
      if (HasFatalFailure()) return;
    }
  }
  verify_all(procs, kSteps);
  std::printf("seed %llu: %llu pages verified, compact_migrate_scanned %llu, compact_isolated %llu, "
              "pgmigrate_success %llu, compact_stall %llu, thp_fault_alloc %llu, %llu PMD-mapped at mmap, "
              "%llu order-9 allocations\n",
              static_cast<unsigned long long>(GetParam()), static_cast<unsigned long long>(verified_),
              static_cast<unsigned long long>(ev(COMPACTMIGRATE_SCANNED)),
              static_cast<unsigned long long>(ev(COMPACTISOLATED)),
              static_cast<unsigned long long>(ev(PGMIGRATE_SUCCESS)), static_cast<unsigned long long>(ev(COMPACTSTALL)),
              static_cast<unsigned long long>(ev(THP_FAULT_ALLOC)), static_cast<unsigned long long>(thp_mapped),
              static_cast<unsigned long long>(order9_got));
  // The run exercised what it is about: pages moved by compaction and were verified after.
  EXPECT_GT(ev(COMPACTISOLATED), 100u);
  EXPECT_GT(ev(PGMIGRATE_SUCCESS), 100u);
  EXPECT_GT(ev(THP_FAULT_ALLOC), 0u);
  EXPECT_GT(ev(COMPACTSTALL), 0u);  // direct compaction ran
  EXPECT_GT(verified_, 10'000u);
  while (!procs.empty()) {
    k().exit_task(procs.back().t);
    procs.pop_back();
    k().check_consistency();
  }
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_MAPPED), 0);
  EXPECT_EQ(pm().global_node_page_state(NR_ISOLATED_ANON), 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, CompactionPropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
