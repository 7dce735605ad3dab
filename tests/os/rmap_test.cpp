// The reverse map (os/rmap.*) and migration on top of it (os/migrate.cpp):
// try_to_unmap of a page mapped by parent and child, page_referenced reading
// and clearing accessed bits with timed 8-byte PTE accesses, anon_vma chains
// through VMA split and merge, migration of a page shared by parent and child
// moving both mappings, and a property test of random fork / mmap / munmap /
// mprotect / exit / accesses with the consistency checker after every step,
// where rmap_walk finds exactly the mappings of sampled pages that a
// brute-force scan of every page table finds; some cases run with failslab.
#include "os/rmap.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <random>
#include <set>

#include "os/kmemleak.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

using MappingSet = std::set<std::pair<const mm_struct*, VirtAddr>>;

// Every (mm, address) whose PTE maps pg, as rmap_walk finds them.
MappingSet rmap_mappings(Kernel& k, page* pg, KernelCost& cost) {
  MappingSet r;
  k.rmap_walk(pg, CpuId(0), cost, [&](const Kernel::RmapMapping& m) {
    r.insert({m.vma->vm_mm, m.addr});
    return true;
  });
  return r;
}

class RmapTest : public KernelTest {
 protected:
  PhysAddr phys(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->phys : 0;
  }
  page* page_at(task_struct* t, VirtAddr a) { return pm().phys_to_page(phys(t, a) & ~(kPageSize - 1)); }
  task_struct* fork(task_struct* t) {
    long pid = k().sys_fork(t, cost_);
    return pid > 0 ? k().find_task_by_pid(static_cast<int>(pid)) : nullptr;
  }
  MappingSet walk(page* pg) { return rmap_mappings(k(), pg, scratch_); }
};

TEST_F(RmapTest, TryToUnmapClearsEveryMapping) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 2 * kPageSize));
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(p, a + kPageSize), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(k().migrate_task(c, CpuId(2)));
  page* pg = page_at(p, a);
  pm().drain_all_pages(scratch_);
  const std::uint64_t free_before = free_pages();
  platform_.calls.clear();
  EXPECT_TRUE(k().try_to_unmap(pg, CpuId(0), cost_));
  EXPECT_EQ(k().follow_page(*p->mm, a), std::nullopt);
  EXPECT_EQ(k().follow_page(*c->mm, a), std::nullopt);
  EXPECT_EQ(p->mm->rss_stat[MM_ANONPAGES], 1);
  EXPECT_EQ(c->mm->rss_stat[MM_ANONPAGES], 1);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 2u);  // one per mm
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_MAPPED), 1);
  pm().drain_all_pages(scratch_);
  EXPECT_EQ(free_pages(), free_before + 1);  // the page was freed with its last mapping
  k().check_consistency();
  // Both fault again: new pages, zero-filled.
  ASSERT_EQ(touch(c, a, /*write=*/false), Kernel::FaultResult::Handled);
  EXPECT_EQ(phys(c, a), k().zero_page_phys());
  k().check_consistency();
}

TEST_F(RmapTest, PageReferencedReadsAndClearsAccessedBits) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, kPageSize));
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  page* pg = page_at(p, a);
  // The parent's entry is young (the fault set it); the child's copy is old.
  platform_.calls.clear();
  EXPECT_EQ(k().page_referenced(pg, CpuId(1), cost_), 1);
  std::size_t reads = 0, writes = 0;
  for (const auto& call : platform_.calls) {
    EXPECT_EQ(call.cpu, CpuId(1));
    EXPECT_EQ(call.len.value(), 8u);
    reads += call.kind == FakePlatform::Kind::Read;
    writes += call.kind == FakePlatform::Kind::Write;
  }
  EXPECT_EQ(reads, 2u);   // one PTE read per mapping
  EXPECT_EQ(writes, 1u);  // the young one cleared
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 0u);
  EXPECT_EQ(k().page_referenced(pg, CpuId(1), cost_), 0);
  // Accesses by both (the walker's accessed bits) count twice.
  ASSERT_EQ(touch(p, a, false), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(c, a, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().page_referenced(pg, CpuId(0), cost_), 2);
  k().check_consistency();
}

TEST_F(RmapTest, ChainsFollowSplitAndMerge) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 4 * kPageSize));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  const std::size_t chains = k().anon_vmas().nr_chains();
  // mprotect splits the child's VMA in three: each part gets its own two chain records.
  ASSERT_EQ(k().sys_mprotect(c, a + kPageSize, kPageSize, PROT_READ, cost_), 0);
  EXPECT_EQ(c->mm->map_count, 3);
  EXPECT_EQ(k().anon_vmas().nr_chains(), chains + 4);
  k().check_consistency();
  EXPECT_EQ(walk(page_at(p, a + 2 * kPageSize)), (MappingSet{{p->mm, a + 2 * kPageSize}, {c->mm, a + 2 * kPageSize}}));
  // Back to read-write: the parts merge and the extra records go.
  ASSERT_EQ(k().sys_mprotect(c, a + kPageSize, kPageSize, PROT_READ | PROT_WRITE, cost_), 0);
  EXPECT_EQ(c->mm->map_count, 1);
  EXPECT_EQ(k().anon_vmas().nr_chains(), chains);
  // Shared pages stayed read-only through the mprotect (copy-on-write is kept).
  auto fr = k().follow_page(*c->mm, a + kPageSize);
  ASSERT_TRUE(fr);
  EXPECT_FALSE(fr->leaf & _PAGE_RW);
  k().check_consistency();
  // munmap of the middle of the parent's VMA: the pages there leave the rmap.
  page* mid = page_at(p, a + kPageSize);
  ASSERT_EQ(k().sys_munmap(p, a + kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(walk(mid), (MappingSet{{c->mm, a + kPageSize}}));
  k().check_consistency();
  EXPECT_TRUE(k().kmemleak_scan().leaks.empty());
}

TEST_F(RmapTest, MigrationOfASharedPageMovesEveryMapping) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, kPageSize));
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  page* old = page_at(p, a);
  ASSERT_EQ(pm().page_to_nid(old).value(), 0);
  const pteval_t child_leaf = k().follow_page(*c->mm, a)->leaf;
  // Without MPOL_MF_MOVE_ALL a page mapped twice is not moved.
  int node = 1, status = 0;
  VirtAddr pages[1] = {a};
  EXPECT_EQ(k().sys_move_pages(p, 0, 1, pages, &node, &status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status, -EACCES);
  const std::uint64_t success = pm().sum_vm_event(PGMIGRATE_SUCCESS);
  platform_.calls.clear();
  EXPECT_EQ(k().sys_move_pages(p, 0, 1, pages, &node, &status, MPOL_MF_MOVE_ALL, cost_), 0);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), success + 1);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 1u);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushMm), 2u);  // each mm flushed once for the batch
  page* moved = page_at(p, a);
  EXPECT_EQ(pm().page_to_nid(moved).value(), 1);
  EXPECT_EQ(page_at(c, a), moved);  // the child's mapping moved too, with its own bits
  EXPECT_EQ(k().follow_page(*c->mm, a)->leaf & ~PTE_PFN_MASK, child_leaf & ~PTE_PFN_MASK);
  EXPECT_EQ(moved->mapcount, 2);
  EXPECT_EQ(walk(moved), (MappingSet{{p->mm, a}, {c->mm, a}}));
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_ANON_MAPPED), 1);
  k().check_consistency();
  // migrate_pages on the page itself: back to node 0.
  EXPECT_EQ(k().migrate_pages({moved}, 0, p, cost_), std::vector<int>{0});
  EXPECT_EQ(pm().page_to_nid(page_at(c, a)).value(), 0);
  k().check_consistency();
  // COW still works on the migrated page.
  ASSERT_EQ(touch(c, a), Kernel::FaultResult::Handled);
  EXPECT_NE(phys(c, a), phys(p, a));
  k().check_consistency();
}

// Linux 6.1 moves it under MPOL_MF_MOVE_ALL: the file walk over its object's VMAs finds both mappings.
TEST_F(RmapTest, SharedShmemPageMovesWithBothMappingsUnderMoveAll) {
  task_struct* p = spawn(0);
  const VirtAddr s = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_));
  ASSERT_EQ(touch(p, s), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  int node = 1, status = 0;
  VirtAddr pages[1] = {s};
  EXPECT_EQ(k().sys_move_pages(p, 0, 1, pages, &node, &status, MPOL_MF_MOVE_ALL, cost_), 0);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(phys(p, s), phys(c, s));
  EXPECT_EQ(pm().page_to_nid(pm().phys_to_page(phys(p, s))).value(), 1);
  k().check_consistency();
}

// ---------------------------------------------------------------------------
// Property test
// ---------------------------------------------------------------------------

struct RmapCase {
  std::uint64_t seed;
  int steps;
  unsigned failslab_percent = 0;
};

class RmapPropertyTest : public KernelTest, public ::testing::WithParamInterface<RmapCase> {
 protected:
  RmapPropertyTest() : KernelTest({2, 2}, "64MiB") {}
};

constexpr VirtAddr kWindow = 0x20000000;
constexpr std::uint64_t kWindowPages = 512;

TEST_P(RmapPropertyTest, RmapWalkFindsEveryMappingAcrossForks) {
  std::mt19937_64 rng(GetParam().seed);
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  std::vector<task_struct*> procs{spawn(0)};
  if (GetParam().failslab_percent) {
    FailslabParams fp;
    fp.probability = GetParam().failslab_percent;
    fp.seed = GetParam().seed;
    k().slub().failslab().configure(fp);
  }
  std::uint64_t forks = 0, fork_failures = 0, walks = 0, shared_seen = 0, cow = 0;
  for (int step = 0; step < GetParam().steps; ++step) {
    if (procs.empty()) procs.push_back(spawn(static_cast<int>(rnd(4))));
    if (!procs.back()) {  // spawn failed under failslab
      procs.pop_back();
      continue;
    }
    task_struct* t = procs[rnd(procs.size())];
    KernelCost c;
    const VirtAddr addr = kWindow + rnd(kWindowPages) * kPageSize;
    const std::uint64_t len = (1 + rnd(24)) * kPageSize;
    const int op = static_cast<int>(rnd(100));
    if (op < 12) {  // mmap, mostly private
      const int flags = (rnd(6) == 0 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | (rnd(2) ? MAP_FIXED : 0);
      k().sys_mmap(t, addr, len, static_cast<int>(rnd(4)) | PROT_READ, flags, -1, 0, c);
    } else if (op < 18) {
      k().sys_munmap(t, addr, len, c);
    } else if (op < 26) {
      k().sys_mprotect(t, addr, len, static_cast<int>(rnd(4)), c);
    } else if (op < 33) {  // fork
      if (procs.size() < 6) {
        const std::string before = snapshot(t);
        const long pid = k().sys_fork(t, c);
        if (pid > 0) {
          ++forks;
          procs.push_back(k().find_task_by_pid(static_cast<int>(pid)));
          if (rnd(2)) k().migrate_task(procs.back(), CpuId(static_cast<int>(rnd(4))));
        } else {
          ++fork_failures;
          EXPECT_EQ(pid, -ENOMEM) << "step " << step;
          EXPECT_EQ(snapshot(t), before) << "step " << step;
        }
      }
    } else if (op < 37) {  // exit
      const std::size_t v = rnd(procs.size());
      k().exit_task(procs[v]);
      k().release_task(procs[v]);
      procs.erase(procs.begin() + static_cast<long>(v));
    } else if (op < 40) {  // migrate a page with all its mappings
      if (auto fr = k().follow_page(*t->mm, addr); fr && !(fr->leaf & _PAGE_SPECIAL) && PageAnon(fr->pg)) {
        const int to = 1 - pm().page_to_nid(fr->pg).value();
        const int r = k().migrate_pages({fr->pg}, to, t, c)[0];
        EXPECT_TRUE(r == to || r == -ENOMEM) << "step " << step << " " << r;
      }
    } else {  // accesses, writes break copy-on-write
      for (int i = 0; i < 4; ++i) {
        const VirtAddr va = kWindow + rnd(kWindowPages) * kPageSize;
        const bool write = rnd(2);
        auto before = k().follow_page(*t->mm, va);
        if (k().touch(t, va, write, c) == Kernel::FaultResult::Handled && write && before &&
            !(before->leaf & _PAGE_RW)) {
          auto after = k().follow_page(*t->mm, va);
          cow += after && after->phys != before->phys;
        }
      }
    }
    for (task_struct* q : procs)
      if (q->oom_killed) k().exit_task(q);
    std::erase_if(procs, [&](task_struct* q) {
      if (!q->exited) return false;
      k().release_task(q);
      return true;
    });
    k().check_consistency();

    // Brute force: every PTE of every process mapping each anonymous page.
    std::map<page*, MappingSet> truth;
    for (task_struct* q : procs)
      k().pgtables().for_each_leaf(q->mm->pgd, 0, q->mm->task_size, [&](VirtAddr va, const PteRef& ref) {
        const pteval_t v = ref.value();
        if (ref.level != PTE_LEVEL || (v & _PAGE_SPECIAL)) return;
        page* pg = pm().phys_to_page(pte_phys(v));
        if (PageAnon(pg)) truth[pg].insert({q->mm, va});
      });
    // rmap_walk on a sample of pages finds exactly those mappings.
    int sampled = 0;
    for (const auto& [pg, where] : truth) {
      if (rnd(4) != 0 && where.size() == 1) continue;
      ASSERT_EQ(rmap_mappings(k(), pg, scratch_), where) << "step " << step;
      shared_seen += where.size() > 1;
      ++walks;
      if (++sampled == 16) break;
    }
  }
  for (task_struct* q : procs) k().exit_task(q);
  k().slub().failslab().configure(FailslabParams{});
  k().check_consistency();
  EXPECT_EQ(k().anon_vmas().nr_anon_vmas(), 0u);
  EXPECT_EQ(k().anon_vmas().nr_chains(), 0u);
  auto scan = k().kmemleak_scan();
  EXPECT_TRUE(scan.leaks.empty()) << Kmemleak::report(scan);
  std::printf("seed %llu: %llu forks (%llu failed), %llu rmap walks (%llu of shared pages), %llu COW copies\n",
              static_cast<unsigned long long>(GetParam().seed), static_cast<unsigned long long>(forks),
              static_cast<unsigned long long>(fork_failures), static_cast<unsigned long long>(walks),
              static_cast<unsigned long long>(shared_seen), static_cast<unsigned long long>(cow));
  EXPECT_GT(forks, 5u);
  EXPECT_GT(shared_seen, 10u);
  EXPECT_GT(cow, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RmapPropertyTest,
                         ::testing::Values(RmapCase{1, 1500}, RmapCase{2, 1500}, RmapCase{3, 1500},
                                           RmapCase{4, 1500, 5}, RmapCase{5, 1500, 5}));

}  // namespace
