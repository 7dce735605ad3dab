// Property test of page migration: random sequences of move_pages (random
// target per page, some pages twice, some unmapped), migrate_pages(2) between
// the two nodes, mbind(MPOL_BIND, MPOL_MF_MOVE[_ALL]) of ranges, writes and
// reads, munmap of parts of mappings, fork and exit, on a two-node machine with
// THPs enabled (so PMD-mapped, PTE-mapped and split THPs are migrated too).
// After every step the checker (check_consistency) runs and every page every
// process wrote is read back with the token it last wrote there (a forked
// child inherits the parent's); move_pages' status must name the node the page
// is really on afterwards, or an errno of the man page. A second suite runs with
// NUMA balancing on (hint faults, forced scans, tasks changing sockets).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>

#include "os/mempolicy.h"
#include "os/numa_balancing.h"
#include "tests/os/swap_test_util.h"

namespace numasim::os::testing {
namespace {

constexpr Picoseconds kMs = Picoseconds(1'000'000'000ull);

struct Proc {
  task_struct* t = nullptr;
  std::map<VirtAddr, std::uint64_t> tokens;  // page -> the token last written
};

class MigratePropertyTest : public SwapTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  MigratePropertyTest() {
    kernel_.reset();
    topo_ = two_node_topology("256MiB");
    params_.nr_hugepages_node = {0, 0};
    params_.thp.enabled = ThpEnabled::Always;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }

  // The steps both suites take, drawing from rng_.
  std::uint64_t rnd(std::uint64_t n) { return n ? rng_() % n : 0; }
  std::map<VirtAddr, std::uint64_t>::iterator pick(Proc& p) {
    auto it = p.tokens.begin();
    std::advance(it, static_cast<long>(rnd(p.tokens.size())));
    return it;
  }
  // mmap 1..6 MiB, about 5 in 6 of its pages written with fresh tokens.
  void map_and_write(Proc& p) {
    const std::uint64_t len = (1 + rnd(6)) << 20;
    const long a = mmap_anon(p.t, len);
    ASSERT_GT(a, 0);
    for (VirtAddr va = static_cast<VirtAddr>(a); va < static_cast<VirtAddr>(a) + len; va += kPageSize) {
      if (rnd(6) == 0) continue;
      ASSERT_EQ(touch(p.t, va, true), Kernel::FaultResult::Handled);
      put_token(p.t, va, next_token_);
      p.tokens[va] = next_token_++;
    }
  }
  // 32 writes of pages written before, each checking the old token first.
  void rewrite(Proc& p) {
    for (int i = 0; i < 32; ++i) {
      auto it = pick(p);
      ASSERT_EQ(touch(p.t, it->first, true), Kernel::FaultResult::Handled);
      ASSERT_EQ(get_token(p.t, it->first), it->second);
      put_token(p.t, it->first, next_token_);
      it->second = next_token_++;
    }
  }
  // munmap of 1..700 pages from a written page on.
  void unmap_part(Proc& p, KernelCost& c) {
    const VirtAddr start = pick(p)->first;
    const std::uint64_t len = (1 + rnd(700)) * kPageSize;
    ASSERT_EQ(k().sys_munmap(p.t, start, len, c), 0);
    p.tokens.erase(p.tokens.lower_bound(start), p.tokens.lower_bound(start + len));
  }
  // fork of procs[pi] (up to max_procs processes), or its exit.
  void fork_or_exit(std::vector<Proc>& procs, std::size_t pi, bool fork, std::size_t max_procs, KernelCost& c) {
    if (!fork) {
      k().exit_task(procs[pi].t);
      procs.erase(procs.begin() + static_cast<long>(pi));
    } else if (procs.size() < max_procs) {
      const long pid = k().sys_fork(procs[pi].t, c);
      ASSERT_GT(pid, 0);
      procs.push_back(Proc{k().find_task_by_pid(static_cast<int>(pid)), procs[pi].tokens});
    }
  }
  // After every step: the checker, every written page read back with its token, the checker.
  void check_all(std::vector<Proc>& procs) {
    k().check_consistency();
    for (Proc& q : procs)
      for (const auto& [va, tok] : q.tokens) {
        ASSERT_EQ(touch(q.t, va, false), Kernel::FaultResult::Handled);
        ASSERT_EQ(get_token(q.t, va), tok) << "pid " << q.t->pid << " page " << std::hex << va;
        ++verified_;
      }
    k().check_consistency();
  }
  void exit_all(std::vector<Proc>& procs) {
    while (!procs.empty()) {
      k().exit_task(procs.back().t);
      procs.pop_back();
      k().check_consistency();
    }
  }
  std::mt19937_64 rng_;
  std::uint64_t next_token_ = 1, verified_ = 0;
};

TEST_P(MigratePropertyTest, RandomMigrationsLoseNothing) {
  rng_.seed(GetParam());
  std::vector<Proc> procs(1);
  procs[0].t = spawn(0);
  std::uint64_t statuses = 0;
  const std::uint64_t m0 = ev(PGMIGRATE_SUCCESS);
  for (int step = 0; step < 200; ++step) {
    if (procs.empty()) procs.push_back(Proc{spawn(static_cast<int>(rnd(4))), {}});
    const std::size_t pi = rnd(procs.size());
    Proc& p = procs[pi];
    task_struct* t = p.t;
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    if (std::getenv("MIGRATE_PROPERTY_TRACE")) std::fprintf(stderr, "step %d op %d\n", step, op);
    SCOPED_TRACE("step " + std::to_string(step) + " op " + std::to_string(op));
    if (op < 15 || p.tokens.empty()) {  // mmap 1..6 MiB, mostly written
      map_and_write(p);
    } else if (op < 40) {  // move_pages of random pages (some twice, some never written)
      const std::size_t n = 1 + rnd(600);
      std::vector<VirtAddr> addrs;
      std::vector<int> nodes, status(n, 12345);
      for (std::size_t i = 0; i < n; ++i) {
        auto it = pick(p);
        addrs.push_back(rnd(20) == 0 ? it->first + kPageSize * (1 + rnd(4)) : it->first);
        nodes.push_back(static_cast<int>(rnd(2)));
      }
      const long r = k().sys_move_pages(t, 0, n, addrs.data(), nodes.data(), status.data(),
                                        rnd(2) ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL, c);
      ASSERT_GE(r, 0);
      k().check_consistency();
      for (std::size_t i = 0; i < n; ++i) {
        const int s = status[i];
        ASSERT_TRUE(s == 0 || s == 1 || s == -ENOENT || s == -EFAULT || s == -EBUSY || s == -EACCES ||
                    s == -ENOMEM)
            << s;
        if (s >= 0) {  // the page is on that node now (unless a later entry moved it again)
          // Moved again by a later entry: the same page, or another subpage of the same PMD-mapped THP.
          const bool pmd = k().follow_page(*t->mm, addrs[i])->level == PMD_LEVEL;
          const unsigned shift = pmd ? kPageShift + 9 : kPageShift;
          bool later = false;
          for (std::size_t j = i + 1; j < n; ++j) later |= (addrs[j] >> shift) == (addrs[i] >> shift);
          page* pg = page_at(t, addrs[i]);
          ASSERT_NE(pg, nullptr);
          if (!later) {
            ASSERT_EQ(pm().page_to_nid(pg).value(), s);
            ++statuses;
          }
        }
      }
    } else if (op < 50) {  // migrate_pages(2): everything from one node to the other
      const unsigned long from = rnd(2) ? 1 : 2, to = from == 1 ? 2 : 1;
      ASSERT_GE(k().sys_migrate_pages(t, 0, 3, &from, &to, c), 0);
    } else if (op < 60) {  // mbind MPOL_BIND of a range with MOVE
      auto it = pick(p);
      const unsigned long mask = rnd(2) ? 1 : 2;
      const std::uint64_t len = (1 + rnd(256)) * kPageSize;
      const long r = k().sys_mbind(t, it->first, len, MPOL_BIND, &mask, 3,
                                   rnd(2) ? MPOL_MF_MOVE : MPOL_MF_MOVE | MPOL_MF_MOVE_ALL, c);
      ASSERT_TRUE(r == 0 || r == -EFAULT) << r;  // -EFAULT: the range ran over a hole (nothing changed)
    } else if (op < 80) {  // writes of pages written before
      rewrite(p);
    } else if (op < 88) {  // munmap part of a mapping
      unmap_part(p, c);
    } else {  // fork or exit
      fork_or_exit(procs, pi, op < 96, 4, c);
    }
    check_all(procs);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf("seed %llu: %llu pages migrated, %llu statuses checked, %llu reads verified, thp_migration_success %llu "
              "split %llu\n",
              static_cast<unsigned long long>(GetParam()),
              static_cast<unsigned long long>(ev(PGMIGRATE_SUCCESS) - m0), static_cast<unsigned long long>(statuses),
              static_cast<unsigned long long>(verified_), static_cast<unsigned long long>(ev(THP_MIGRATION_SUCCESS)),
              static_cast<unsigned long long>(ev(THP_MIGRATION_SPLIT)));
  EXPECT_GT(ev(PGMIGRATE_SUCCESS) - m0, 10000u);  // about 300 k per seed
  EXPECT_GT(statuses, 1000u);
  exit_all(procs);
}

INSTANTIATE_TEST_SUITE_P(Seeds, MigratePropertyTest, ::testing::Values(1u, 2u, 3u));


// The same machine with NUMA balancing on (kernel.numa_balancing = 1, scan knobs
// scaled down): migrations race with PROT_NONE hint entries (PTEs and THP PMDs),
// forced task_numa_work passes (the fake clock advanced, then the scanner run by
// hand) and tasks moved to the other socket, whose hint faults find their pages
// misplaced and migrate them; nothing may be lost.
class NumaMigratePropertyTest : public MigratePropertyTest {
 protected:
  NumaMigratePropertyTest() {
    kernel_.reset();
    params_.numab.mode = NUMA_BALANCING_NORMAL;
    params_.numab.scan_delay_ms = 1;
    params_.numab.scan_period_min_ms = 1;
    params_.numab.scan_period_max_ms = 8;
    params_.numab.scan_size_mb = 4;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
};

TEST_P(NumaMigratePropertyTest, RandomMigrationsAndHintFaultsLoseNothing) {
  rng_.seed(GetParam());
  std::vector<Proc> procs(1);
  procs[0].t = spawn(0);
  std::uint64_t scans = 0;
  for (int step = 0; step < 150; ++step) {
    if (procs.empty()) procs.push_back(Proc{spawn(static_cast<int>(rnd(4))), {}});
    const std::size_t pi = rnd(procs.size());
    Proc& p = procs[pi];
    task_struct* t = p.t;
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    SCOPED_TRACE("step " + std::to_string(step) + " op " + std::to_string(op));
    if (op < 12 || p.tokens.empty()) {  // mmap 1..6 MiB, mostly written
      map_and_write(p);
    } else if (op < 24) {  // move_pages of random pages
      const std::size_t n = 1 + rnd(300);
      std::vector<VirtAddr> addrs;
      std::vector<int> nodes, status(n, 12345);
      for (std::size_t i = 0; i < n; ++i) {
        addrs.push_back(pick(p)->first);
        nodes.push_back(static_cast<int>(rnd(2)));
      }
      ASSERT_GE(k().sys_move_pages(t, 0, n, addrs.data(), nodes.data(), status.data(),
                                   rnd(2) ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL, c),
                0);
      for (int s : status)
        ASSERT_TRUE(s == 0 || s == 1 || s == -ENOENT || s == -EFAULT || s == -EBUSY || s == -EACCES || s == -ENOMEM)
            << s;
    } else if (op < 30) {  // migrate_pages(2) between the nodes
      const unsigned long from = rnd(2) ? 1 : 2, to = from == 1 ? 2 : 1;
      ASSERT_GE(k().sys_migrate_pages(t, 0, 3, &from, &to, c), 0);
    } else if (op < 38) {  // mbind MPOL_BIND with MOVE, then (sometimes) back to the default policy
      const VirtAddr start = pick(p)->first;
      const unsigned long mask = rnd(2) ? 1 : 2;
      const std::uint64_t len = (1 + rnd(256)) * kPageSize;
      long r = k().sys_mbind(t, start, len, MPOL_BIND, &mask, 3,
                             rnd(2) ? MPOL_MF_MOVE : MPOL_MF_MOVE | MPOL_MF_MOVE_ALL, c);
      ASSERT_TRUE(r == 0 || r == -EFAULT) << r;
      if (r == 0 && rnd(2)) {  // an explicit policy is never scanned: most ranges go back to the default
        r = k().sys_mbind(t, start, len, MPOL_DEFAULT, nullptr, 0, 0, c);
        ASSERT_EQ(r, 0);
      }
    } else if (op < 55) {  // task_numa_work forced: the clock past the next scan, then the scanner
      platform_.advance_to(platform_.clock + kMs * (1 + rnd(8)));
      if (t->numa) {
        k().numa_balancing().task_numa_work(t, c);
        ++scans;
      }
    } else if (op < 62) {  // the task moves to the other socket: its pages become misplaced
      ASSERT_TRUE(k().migrate_task(t, CpuId(t->cpu.value() < 2 ? 2 + static_cast<int>(rnd(2))
                                                                 : static_cast<int>(rnd(2)))));
    } else if (op < 80) {  // writes of pages written before (hint faults on the PROT_NONE ones)
      rewrite(p);
    } else if (op < 90) {  // munmap part of a mapping
      unmap_part(p, c);
    } else {  // fork or exit
      fork_or_exit(procs, pi, op < 96, 3, c);
    }
    check_all(procs);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf("seed %llu: %llu scans, numa_pte_updates %llu, numa_huge_pte_updates %llu, numa_hint_faults %llu, "
              "numa_pages_migrated %llu, pgmigrate_success %llu, thp_migration_success %llu, %llu reads verified\n",
              static_cast<unsigned long long>(GetParam()), static_cast<unsigned long long>(scans),
              static_cast<unsigned long long>(ev(NUMA_PTE_UPDATES)),
              static_cast<unsigned long long>(ev(NUMA_HUGE_PTE_UPDATES)),
              static_cast<unsigned long long>(ev(NUMA_HINT_FAULTS)),
              static_cast<unsigned long long>(ev(NUMA_PAGE_MIGRATE)),
              static_cast<unsigned long long>(ev(PGMIGRATE_SUCCESS)),
              static_cast<unsigned long long>(ev(THP_MIGRATION_SUCCESS)), static_cast<unsigned long long>(verified_));
  EXPECT_GT(ev(NUMA_PTE_UPDATES), 1000u);
  EXPECT_GT(ev(NUMA_HINT_FAULTS), 1000u);
  EXPECT_GT(ev(NUMA_PAGE_MIGRATE), 100u);
  EXPECT_GT(ev(NUMA_HUGE_PTE_UPDATES), 0u);  // THP PMDs made hints too (THP always)
  exit_all(procs);
}

INSTANTIATE_TEST_SUITE_P(Seeds, NumaMigratePropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
}  // namespace numasim::os::testing
