// Property test under heavy memory pressure: a small two-node machine (24 MiB
// per node) with 48 MiB of NVMe swap runs random mmap / write / read / munmap /
// fork / exit sequences of up to four processes whose mappings together exceed
// memory, with fail_page_alloc failing 5% of page allocations. Direct reclaim
// and kswapd (run between steps) swap pages out and faults swap them back in.
// Every page written gets a fresh identity token; every read that succeeds
// checks the token the process last wrote there (a forked child inherits the
// parent's). check_consistency (LRU membership, swap-slot counts, swap cache)
// runs after every step; every step is bounded (no retry loop without a limit),
// so a deadlock shows as a hang. At the end every swap slot still in use is
// held by a page of the swap cache (nothing leaked). Simplified: the swap I/O completes when the fake clock is moved
// past each bio between steps.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>

#include "os/fail_page_alloc.h"
#include "os/kthread.h"
#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class PressurePropertyTest : public SwapTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  PressurePropertyTest() {
    kernel_.reset();
    topo_ = two_node_topology("24MiB");
    params_.nr_hugepages_node = {0, 0};
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
};

struct Proc {
  task_struct* t = nullptr;
  std::map<VirtAddr, std::uint64_t> tokens;  // page -> the token last written
};

TEST_P(PressurePropertyTest, RandomWorkUnderPressureLosesNothing) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 48 << 20), 0);
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  FailPageAllocParams fp;
  fp.probability = 5;
  fp.seed = GetParam();
  pm().fail_page_alloc().configure(fp);

  std::vector<Proc> procs(1);
  procs[0].t = spawn(0);
  ASSERT_NE(procs[0].t, nullptr);
  std::uint64_t next_token = 1, verified = 0, oom_kills = 0, forks = 0, exits = 0;
  constexpr int kSteps = 1500;
  for (int step = 0; step < kSteps; ++step) {
    if (procs.empty()) {  // everything died: start again
      procs.push_back(Proc{spawn(static_cast<int>(rnd(4))), {}});
      if (!procs.back().t) procs.pop_back();
      k().check_consistency();
      continue;
    }
    const std::size_t pi = rnd(procs.size());
    Proc& p = procs[pi];
    task_struct* t = p.t;
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    if (op < 20) {  // mmap 2..12 MiB, written at once (most of it)
      const std::uint64_t len = (2 + rnd(11)) << 20;
      const long a = mmap_anon(t, len);
      if (a > 0) {
        for (VirtAddr va = static_cast<VirtAddr>(a); va < static_cast<VirtAddr>(a) + len; va += kPageSize) {
          if (rnd(8) == 0) continue;
          if (touch(t, va, true) != Kernel::FaultResult::Handled) continue;  // an injected failure
          set_token(t, va, next_token);
          p.tokens[va] = next_token++;
        }
      }
    } else if (op < 80) {  // reads and writes of pages written before (swapped out or not)
      for (int i = 0; i < 32 && !p.tokens.empty() && !t->oom_killed; ++i) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        const bool write = rnd(3) == 0;
        if (touch(t, it->first, write) != Kernel::FaultResult::Handled) continue;
        ASSERT_EQ(token_at(t, it->first), it->second)
            << "step " << step << " pid " << t->pid << " page " << std::hex << it->first;
        ++verified;
        if (write) {
          set_token(t, it->first, next_token);
          it->second = next_token++;
        }
      }
    } else if (op < 87) {  // munmap part of a mapping
      if (!p.tokens.empty()) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        const VirtAddr start = it->first;
        const std::uint64_t len = (1 + rnd(512)) * kPageSize;
        ASSERT_EQ(k().sys_munmap(t, start, len, c), 0);
        p.tokens.erase(p.tokens.lower_bound(start), p.tokens.lower_bound(start + len));
      }
    } else if (op < 97) {  // fork: the child sees what the parent wrote
      if (procs.size() < 4) {
        const long pid = k().sys_fork(t, c);
        if (pid > 0) {
          task_struct* child = k().find_task_by_pid(static_cast<int>(pid));
          ASSERT_NE(child, nullptr);
          procs.push_back(Proc{child, procs[pi].tokens});
          ++forks;
        } else {
          EXPECT_EQ(pid, -ENOMEM);
        }
      }
    } else {  // exit
      k().exit_task(t);
      procs.erase(procs.begin() + static_cast<long>(pi));
      ++exits;
    }
    // The OOM killer's victims die (their memory is already reaped).
    for (std::size_t i = 0; i < procs.size();) {
      if (procs[i].t->oom_killed) {
        k().exit_task(procs[i].t);
        procs.erase(procs.begin() + static_cast<long>(i));
        ++oom_kills;
      } else {
        ++i;
      }
    }
    // Time passes: swap writes complete, and kswapd runs its passes (bounded).
    complete_io();
    for (int n = 0; n < 2; ++n) {
      Kthread* ks = k().kthreads().kswapd(NodeId(n));
      KernelCost kc;
      for (int runs = 0; runs < 8 && k().kthreads().run(&ks->task, kc); ++runs) {
      }
    }
    k().check_consistency();
  }
  pm().fail_page_alloc().configure(FailPageAllocParams{});
  std::printf("seed %llu: %llu reads/writes verified, pswpout %llu, pswpin %llu, %llu forks, %llu exits, "
              "%llu OOM kills, %llu injected page-allocation failures\n",
              static_cast<unsigned long long>(GetParam()), static_cast<unsigned long long>(verified),
              static_cast<unsigned long long>(ev(PSWPOUT)), static_cast<unsigned long long>(ev(PSWPIN)),
              static_cast<unsigned long long>(forks), static_cast<unsigned long long>(exits),
              static_cast<unsigned long long>(oom_kills),
              static_cast<unsigned long long>(pm().slowpath_stats().injected));
  // Heavy pressure really happened: pages went out and came back, verified.
  EXPECT_GT(ev(PSWPOUT), 1000u);
  EXPECT_GT(ev(PSWPIN), 100u);
  EXPECT_GT(verified, 5000u);
  EXPECT_GT(pm().slowpath_stats().injected, 100u);
  while (!procs.empty()) {
    k().exit_task(procs.back().t);
    procs.pop_back();
    k().check_consistency();
  }
  complete_io();
  // No slot leaked: every slot still in use belongs to a page left in the swap
  // cache (unmapped; as in Linux, reclaim frees it later), none to nobody.
  EXPECT_EQ(k().total_swap_pages() - k().nr_swap_pages(),
            static_cast<std::uint64_t>(pm().global_node_page_state(NR_SWAPCACHE)));
  k().check_consistency();
}

INSTANTIATE_TEST_SUITE_P(Seeds, PressurePropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
