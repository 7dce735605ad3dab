// Memory cgroups v2 (os/memcontrol.h): the hierarchy's errors, charging with the
// per-CPU stock, memory.max reclaim within the limit (swap, verified contents),
// memory.low protection from global reclaim, memory.high throttling, cgroup OOM
// inside the cgroup only, memory.swap.max, the files' formats, and a property
// test of random work across cgroups with the checker after every step.
#include <gtest/gtest.h>

#include <random>

#include "os/kthread.h"
#include "tests/os/memcg_test_util.h"
#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

MemCgroupParams cg(const char* path, std::uint64_t max = 0, std::uint64_t low = 0, std::uint64_t high = 0,
                   std::optional<std::uint64_t> swap_max = std::nullopt) {
  MemCgroupParams p;
  p.path = path;
  if (max) p.max = max / kPageSize;
  if (high) p.high = high / kPageSize;
  p.low = low / kPageSize;
  if (swap_max) p.swap_max = *swap_max / kPageSize;
  return p;
}

class MemcgTest : public SwapTest {
 protected:
  std::uint64_t file_value(const std::string& path, const char* file) {
    auto s = k().cgroup_file_read(path, file);
    EXPECT_TRUE(s.has_value()) << path << " " << file;
    return s ? std::stoull(*s) : 0;
  }
  std::uint64_t keyed(const std::string& path, const char* file, const std::string& key) {
    return memcg_keyed(k(), path, file, key);
  }
  task_struct* spawn_in(const char* path, int cpu = 0) {
    task_struct* t = spawn(cpu);
    EXPECT_EQ(k().cgroup_attach_task(t->tgid, path), 0);
    return t;
  }
};

TEST_F(MemcgTest, HierarchyErrorsAreLocatedAndChangeNothing) {
  EXPECT_EQ(k().mem_cgroup_create(cg("/batch")), 1);
  EXPECT_EQ(k().mem_cgroup_create(cg("/batch/job")), 2);
  EXPECT_EQ(k().mem_cgroup_create(cg("/batch")), -EEXIST);
  EXPECT_EQ(k().mem_cgroup_create(cg("/nope/job")), -ENOENT);
  EXPECT_EQ(k().mem_cgroup_create(cg("batch")), -EINVAL);
  EXPECT_EQ(k().mem_cgroup_create(cg("/batch/")), -EINVAL);
  EXPECT_EQ(k().memcgs().by_id.size(), 3u);
  task_struct* t = spawn();
  EXPECT_EQ(k().cgroup_attach_task(t->tgid, "/other"), -ENOENT);
  EXPECT_EQ(k().cgroup_attach_task(9999, "/batch"), -ESRCH);
  EXPECT_EQ(k().task_cgroup(t->tgid), "/");
  EXPECT_EQ(k().cgroup_attach_task(t->tgid, "/batch/job"), 0);
  EXPECT_EQ(k().task_cgroup(t->tgid), "/batch/job");
  map_touched(t, 1);
  EXPECT_EQ(k().cgroup_attach_task(t->tgid, "/batch"), -EBUSY);  // it has pages now
  EXPECT_FALSE(k().cgroup_file_read("/batch", "memory.bogus").has_value());
  EXPECT_FALSE(k().cgroup_file_read("/", "memory.current").has_value());  // not on the root
  EXPECT_EQ(k().cgroup_file_write("/batch", "memory.max", "12x", t->cpu, cost_), -EINVAL);
  EXPECT_EQ(*k().cgroup_file_read("/batch", "memory.max"), "max\n");
}

TEST_F(MemcgTest, ChargesGoThroughThePerCpuStockAndUpTheHierarchy) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/a")), 1);
  ASSERT_EQ(k().mem_cgroup_create(cg("/a/b")), 2);
  task_struct* t = spawn_in("/a/b");
  const long a = map_touched(t, 10);
  // One batch of 64 pages pre-charged; 10 used, 54 in the CPU's stock.
  EXPECT_EQ(file_value("/a/b", "memory.current"), 64 * kPageSize);
  EXPECT_EQ(file_value("/a", "memory.current"), 64 * kPageSize);
  EXPECT_EQ(keyed("/a/b", "memory.stat", "anon"), 10 * kPageSize);
  EXPECT_EQ(keyed("/a", "memory.stat", "anon"), 10 * kPageSize);  // hierarchical
  EXPECT_GE(keyed("/a/b", "memory.stat", "pgfault"), 10u);
  k().check_consistency();
  // 60 more: the stock covers 54, then a new batch.
  map_touched(t, 60);
  EXPECT_EQ(file_value("/a/b", "memory.current"), 128 * kPageSize);
  EXPECT_EQ(k().sys_munmap(t, a, 10 * kPageSize, cost_), 0);
  k().lru_add_drain_all();
  EXPECT_EQ(file_value("/a/b", "memory.current"), 118 * kPageSize);  // uncharged at free, not to the stock
  k().check_consistency();
  // Pages charged to the cgroup live on its own lruvec, not the node's.
  EXPECT_GT(pm().NODE_DATA(NodeId(0)).memcg_lruvec[2]->nr_pages[LRU_INACTIVE_ANON] +
                pm().NODE_DATA(NodeId(0)).memcg_lruvec[2]->nr_pages[LRU_ACTIVE_ANON],
            0u);
  const std::string numa = *k().cgroup_file_read("/a/b", "memory.numa_stat");
  EXPECT_EQ(numa.rfind("anon N0=" + std::to_string(60 * kPageSize) + " N1=0\n", 0), 0u) << numa;
  k().exit_task(t);
  k().check_consistency();
}

// The done criterion: a cgroup with memory.max = 4 MiB running an 8 MiB hog swaps
// within its limit (contents verified after swap), without global direct reclaim.
TEST_F(MemcgTest, MaxReclaimsWithinTheLimitAndSwapsVerified) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 64 * MiB), 0);
  ASSERT_EQ(k().mem_cgroup_create(cg("/batch", 4 * MiB)), 1);
  task_struct* t = spawn_in("/batch");
  const int n = static_cast<int>(8 * MiB / kPageSize);
  const long a = mmap_anon(t, 8 * MiB);
  ASSERT_GT(a, 0);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled)
        << i << *k().cgroup_file_read("/batch", "memory.stat") << *k().cgroup_file_read("/batch", "memory.events")
        << " thp_fault_alloc " << ev(THP_FAULT_ALLOC) << " pswpout " << ev(PSWPOUT);
    set_token(t, a + i * kPageSize, 1000 + i);
    EXPECT_LE(file_value("/batch", "memory.current"), 4 * MiB);
    complete_io();
  }
  k().check_consistency();
  EXPECT_GT(ev(PSWPOUT), static_cast<std::uint64_t>(n / 3));
  EXPECT_EQ(ev(ALLOCSTALL_NORMAL) + ev(ALLOCSTALL_DMA32), 0u);  // cgroup reclaim is not global direct reclaim
  EXPECT_GT(keyed("/batch", "memory.events", "max"), 0u);
  EXPECT_GT(keyed("/batch", "memory.stat", "pgsteal"), 0u);
  EXPECT_EQ(keyed("/batch", "memory.events", "oom_kill"), 0u);
  EXPECT_GT(file_value("/batch", "memory.swap.current"), 0u);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled) << i;
    ASSERT_EQ(token_at(t, a + i * kPageSize), 1000u + static_cast<std::uint64_t>(i)) << i;
    complete_io();
  }
  EXPECT_GT(ev(PSWPIN), 0u);
  EXPECT_GT(keyed("/batch", "memory.stat", "pgmajfault"), 0u);
  EXPECT_LE(file_value("/batch", "memory.current"), 4 * MiB);
  k().check_consistency();
  k().exit_task(t);
  complete_io();
  k().check_consistency();
  EXPECT_EQ(file_value("/batch", "memory.swap.current"), 0u);  // every slot uncharged when freed
}

// A cgroup's OOM kills only inside it: the bigger process outside is spared.
TEST_F(MemcgTest, CgroupOomKillsOnlyInsideTheCgroup) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/small", 2 * MiB)), 1);
  task_struct* big = spawn();
  map_touched(big, static_cast<int>(16 * MiB / kPageSize));
  task_struct* in1 = spawn_in("/small");
  task_struct* in2 = spawn_in("/small");
  map_touched(in1, static_cast<int>(3 * MiB / 2 / kPageSize));
  // in2 needs more than is left and there is no swap: the cgroup OOM kills the larger, in1;
  // in2 then gets its memory.
  const long a = mmap_anon(in2, 1 * MiB);
  for (std::uint64_t off = 0; off < 1 * MiB; off += kPageSize) ASSERT_EQ(touch(in2, a + off), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].pid, in1->tgid);
  EXPECT_FALSE(in2->oom_killed);
  for (const OomKill& kill : k().oom_kills()) {
    EXPECT_NE(kill.pid, big->tgid);
    EXPECT_EQ(kill.constraint, OomConstraint::Memcg);
    EXPECT_EQ(kill.oom_memcg, "/small");
    EXPECT_NE(oom_kill_summary(kill).find("constraint=CONSTRAINT_MEMCG"), std::string::npos);
  }
  EXPECT_TRUE(in1->oom_killed);
  EXPECT_FALSE(big->oom_killed);
  EXPECT_GE(keyed("/small", "memory.events", "oom"), 1u);
  EXPECT_GE(keyed("/small", "memory.events", "oom_kill"), 1u);
  EXPECT_LE(file_value("/small", "memory.current"), 2 * MiB);
  k().check_consistency();
}

// memory.low: global reclaim takes from the unprotected cgroup and leaves the
// protected one's pages in memory.
TEST_F(MemcgTest, LowProtectsFromGlobalReclaim) {
  platform_.drop_timers();  // the fixture's kernel's timers must not fire into the freed kernel (ASan)
  kernel_.reset();
  topo_ = two_node_topology("24MiB");
  params_.nr_hugepages_node = {0, 0};
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  k().page_tokens().enable(pm().max_pfn());
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 64 * MiB), 0);
  ASSERT_EQ(k().mem_cgroup_create(cg("/prot", 0, 12 * MiB)), 1);
  ASSERT_EQ(k().mem_cgroup_create(cg("/hog")), 2);
  task_struct* p = spawn_in("/prot");
  task_struct* h = spawn_in("/hog");
  const int np = static_cast<int>(8 * MiB / kPageSize);
  const long pa = map_touched(p, np, 5000);
  // The hog takes far more than node 0 has: global reclaim (kswapd and direct).
  const long ha = mmap_anon(h, 40 * MiB);
  for (std::uint64_t off = 0; off < 40 * MiB; off += kPageSize) {
    ASSERT_EQ(touch(h, ha + off), Kernel::FaultResult::Handled);
    complete_io();
    if ((off >> kPageShift) % 256 == 0)
      for (int n = 0; n < 2; ++n) {
        Kthread* ks = k().kthreads().kswapd(NodeId(n));
        KernelCost kc;
        for (int runs = 0; runs < 4 && k().kthreads().run(&ks->task, kc); ++runs) {
        }
      }
  }
  k().check_consistency();
  EXPECT_GT(ev(PSWPOUT), 1000u);
  int resident = 0;
  for (int i = 0; i < np; ++i) resident += page_at(p, pa + i * kPageSize) != nullptr;
  EXPECT_EQ(resident, np);  // nothing of the protected cgroup was swapped
  EXPECT_EQ(keyed("/prot", "memory.stat", "pgsteal"), 0u);
  EXPECT_GT(keyed("/hog", "memory.stat", "pgsteal"), 0u);
  EXPECT_EQ(keyed("/prot", "memory.events", "low"), 0u);  // never had to be reclaimed below memory.low
  for (int i = 0; i < np; ++i) ASSERT_EQ(token_at(p, pa + i * kPageSize), 5000u + static_cast<std::uint64_t>(i));
}

// memory.high: the allocating task reclaims its cgroup and is delayed, at most 2 s per batch.
TEST_F(MemcgTest, HighThrottlesTheAllocatingTask) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 64 * MiB), 0);
  ASSERT_EQ(k().mem_cgroup_create(cg("/hi", 0, 0, 2 * MiB)), 1);
  task_struct* t = spawn_in("/hi");
  const long a = mmap_anon(t, 8 * MiB);
  Picoseconds max_delay(0);
  for (std::uint64_t off = 0; off < 8 * MiB; off += kPageSize) {
    KernelCost c;
    ASSERT_EQ(k().touch(t, a + off, true, c), Kernel::FaultResult::Handled);
    max_delay = std::max(max_delay, c.memory);
    complete_io();
  }
  EXPECT_GT(keyed("/hi", "memory.events", "high"), 0u);
  EXPECT_EQ(keyed("/hi", "memory.events", "max"), 0u);
  EXPECT_GT(ev(PSWPOUT), 0u);
  // Reclaim keeps it near its high limit (within a batch of the stock and the reclaim granularity).
  EXPECT_LE(file_value("/hi", "memory.current"), 3 * MiB);
  EXPECT_LE(max_delay.value(), 2'000'000'000'000ull + 1'000'000'000ull);
  k().check_consistency();
}

// memory.swap.max: the cgroup's swap stops at its limit; then it OOMs.
TEST_F(MemcgTest, SwapMaxLimitsSwapUse) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 64 * MiB), 0);
  ASSERT_EQ(k().mem_cgroup_create(cg("/s", 2 * MiB, 0, 0, 1 * MiB)), 1);
  task_struct* t = spawn_in("/s");
  const long a = mmap_anon(t, 8 * MiB);
  Kernel::FaultResult r = Kernel::FaultResult::Handled;
  for (std::uint64_t off = 0; off < 8 * MiB && r == Kernel::FaultResult::Handled; off += kPageSize) {
    r = touch(t, a + off);
    complete_io();
    EXPECT_LE(file_value("/s", "memory.swap.current"), 1 * MiB);
  }
  EXPECT_EQ(r, Kernel::FaultResult::Oom);
  EXPECT_TRUE(t->oom_killed);
  EXPECT_GT(keyed("/s", "memory.swap.events", "max"), 0u);
  k().check_consistency();
}

// Random faults, frees, forks and exits of processes in three cgroups (one limited,
// one protected, one with a high limit) on small nodes with swap: the checker
// (charges = pages per cgroup, lruvec sizes) after every step.
class MemcgPropertyTest : public MemcgTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  MemcgPropertyTest() {
    kernel_.reset();
    topo_ = two_node_topology("24MiB");
    params_.nr_hugepages_node = {0, 0};
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
};

TEST_P(MemcgPropertyTest, RandomChargesAcrossCgroupsKeepTheBooks) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 48 * MiB), 0);
  ASSERT_EQ(k().mem_cgroup_create(cg("/lim", 6 * MiB, 0, 0, 8 * MiB)), 1);
  ASSERT_EQ(k().mem_cgroup_create(cg("/prot", 0, 8 * MiB)), 2);
  ASSERT_EQ(k().mem_cgroup_create(cg("/prot/hi", 0, 0, 4 * MiB)), 3);
  const char* paths[] = {"/", "/lim", "/prot", "/prot/hi"};
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  struct P {
    task_struct* t;
    std::map<VirtAddr, std::uint64_t> tokens;
  };
  std::vector<P> procs;
  std::uint64_t next_token = 1, verified = 0;
  for (int step = 0; step < 600; ++step) {
    if (procs.size() < 2 || rnd(20) == 0) {
      if (procs.size() < 6) procs.push_back(P{spawn_in(paths[rnd(4)], static_cast<int>(rnd(4))), {}});
    }
    P& p = procs[rnd(procs.size())];
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    if (op < 30) {
      const std::uint64_t len = (1 + rnd(6)) * MiB;
      const long a = mmap_anon(p.t, len);
      if (a > 0)
        for (VirtAddr va = static_cast<VirtAddr>(a); va < static_cast<VirtAddr>(a) + len && !p.t->oom_killed;
             va += kPageSize) {
          if (touch(p.t, va, true) != Kernel::FaultResult::Handled) break;
          set_token(p.t, va, next_token);
          p.tokens[va] = next_token++;
        }
    } else if (op < 80) {
      for (int i = 0; i < 16 && !p.tokens.empty() && !p.t->oom_killed; ++i) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        if (touch(p.t, it->first, false) != Kernel::FaultResult::Handled) break;
        ASSERT_EQ(token_at(p.t, it->first), it->second) << "step " << step;
        ++verified;
      }
    } else if (op < 90) {
      if (!p.tokens.empty()) {
        auto it = p.tokens.begin();
        std::advance(it, static_cast<long>(rnd(p.tokens.size())));
        const VirtAddr start = it->first;
        const std::uint64_t len = (1 + rnd(256)) * kPageSize;
        ASSERT_EQ(k().sys_munmap(p.t, start, len, c), 0);
        p.tokens.erase(p.tokens.lower_bound(start), p.tokens.lower_bound(start + len));
      }
    } else if (op < 95) {
      if (procs.size() < 6) {
        const long pid = k().sys_fork(p.t, c);
        if (pid > 0) {
          task_struct* child = k().find_task_by_pid(static_cast<int>(pid));
          EXPECT_EQ(k().task_cgroup(child->tgid), k().task_cgroup(p.t->tgid));
          procs.push_back(P{child, p.tokens});
        }
      }
    } else {
      const std::size_t i = static_cast<std::size_t>(&p - procs.data());
      k().exit_task(procs[i].t);
      procs.erase(procs.begin() + static_cast<long>(i));
    }
    for (std::size_t i = 0; i < procs.size();) {
      if (procs[i].t->oom_killed) {
        k().exit_task(procs[i].t);
        procs.erase(procs.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    complete_io();
    for (int n = 0; n < 2; ++n) {
      Kthread* ks = k().kthreads().kswapd(NodeId(n));
      KernelCost kc;
      for (int runs = 0; runs < 4 && k().kthreads().run(&ks->task, kc); ++runs) {
      }
    }
    k().check_consistency();
    ASSERT_LE(file_value("/lim", "memory.current"), 6 * MiB);
  }
  EXPECT_GT(verified, 1000u);
  EXPECT_GT(ev(PSWPOUT), 100u);
  while (!procs.empty()) {
    k().exit_task(procs.back().t);
    procs.pop_back();
  }
  complete_io();
  k().check_consistency();
}

INSTANTIATE_TEST_SUITE_P(Seeds, MemcgPropertyTest, ::testing::Values(1u, 2u));

}  // namespace
