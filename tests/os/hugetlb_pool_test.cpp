// hugetlb pools per node (mm/hugetlb.c semantics): boot counts per node and
// hstate, HugePages_Rsvd taken at mmap and consumed at fault, MAP_NORESERVE,
// nr_overcommit_hugepages and the surplus page lifecycle (gathered at mmap,
// allocated at fault, freed back to the buddy when unused), the sysfs
// nr_hugepages semantics per node (grow node-locally, shrink freeing free
// pages, in-use excess converted to surplus), meminfo figures, and bad
// arguments (-errno, nothing changed). The consistency checker runs after each step.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <random>

#include "tests/os/hugetlb_fixture.h"

namespace numasim::os {
namespace {

using testing::two_node_topology;

constexpr const char* kNode0_2M = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
constexpr const char* kNode1_2M = "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
constexpr const char* kGlobal2M = "/sys/kernel/mm/hugepages/hugepages-2048kB/";

KernelParams pool_params(std::vector<std::uint64_t> pool, std::uint64_t overcommit) {
  KernelParams p;
  p.nr_hugepages_node = std::move(pool);
  p.nr_overcommit_hugepages = overcommit;
  p.hugepagesz_1g = true;  // an empty 1 GiB hstate
  return p;
}

class HugetlbPoolTest : public testing::HugetlbKernelTest {
 protected:
  explicit HugetlbPoolTest(std::vector<std::uint64_t> pool = {4, 2}, std::uint64_t overcommit = 0)
      : HugetlbKernelTest(pool_params(std::move(pool), overcommit), "256MiB") {}
  long mmap_huge(task_struct* t, std::uint64_t len, int extra = 0) {
    return kernel_->sys_mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | extra, -1,
                             0, cost_);
  }
  std::uint64_t sysfs(const std::string& path) { return *kernel_->hugetlb_sysfs_read(path); }
  long set(const std::string& path, std::uint64_t v) { return kernel_->hugetlb_sysfs_write(path, v, CpuId(0), cost_); }
  // A task's own kernel objects (page tables, slab pages kept cached) are a few
  // dozen pages: buddy comparisons use kSlack, far below one huge page (512).
  static constexpr double kSlack = 64;
};

TEST_F(HugetlbPoolTest, BootPoolsArePerNodeAndShowInMeminfoAndSysfs) {
  EXPECT_EQ(pool().nr_huge_pages_node(0), 4u);
  EXPECT_EQ(pool().nr_huge_pages_node(1), 2u);
  EXPECT_EQ(pool().nr_huge_pages(), 6u);
  EXPECT_EQ(pool().nr_huge_pages(HSTATE_1G), 0u);
  EXPECT_EQ(sysfs(kNode0_2M), 4u);
  EXPECT_EQ(sysfs(kNode1_2M), 2u);
  EXPECT_EQ(sysfs(std::string(kGlobal2M) + "nr_hugepages"), 6u);
  EXPECT_EQ(sysfs("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"), 0u);
  const std::string mi = k().proc_meminfo();
  EXPECT_NE(mi.find("HugePages_Total:       6\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("Hugepagesize:       2048 kB\n"), std::string::npos);
  EXPECT_NE(mi.find("Hugetlb:           12288 kB\n"), std::string::npos);
  const std::string n1 = k().node_meminfo(NodeId(1));
  EXPECT_NE(n1.find("Node 1 HugePages_Total:     2\n"), std::string::npos) << n1;
  EXPECT_NE(n1.find("Node 1 HugePages_Surp:      0\n"), std::string::npos) << n1;
  k().check_consistency();
}

TEST_F(HugetlbPoolTest, RsvdIsTakenAtMmapAndConsumedAtFault) {
  task_struct* t = spawn(0);
  const long a = mmap_huge(t, 3 * HPAGE_SIZE);
  ASSERT_GT(a, 0);
  EXPECT_EQ(pool().resv_huge_pages(), 3u);
  EXPECT_EQ(pool().free_huge_pages(), 6u);  // reserved, not taken
  EXPECT_EQ(sysfs(std::string(kGlobal2M) + "resv_hugepages"), 3u);
  ASSERT_EQ(k().touch(t, a + 5, true, cost_), Kernel::FaultResult::Handled);
  EXPECT_EQ(pool().resv_huge_pages(), 2u);
  EXPECT_EQ(pool().free_huge_pages(), 5u);
  EXPECT_EQ(pool().free_huge_pages_node(0), 3u);  // from the faulting CPU's node
  k().check_consistency();
  // More than what is free and unreserved: ENOMEM, nothing changes.
  const long b = mmap_huge(t, 4 * HPAGE_SIZE);
  EXPECT_EQ(b, -ENOMEM);
  EXPECT_EQ(pool().resv_huge_pages(), 2u);
  // MAP_NORESERVE takes no reservation, and cannot eat into the reserved pages.
  const long c = mmap_huge(t, 4 * HPAGE_SIZE, MAP_NORESERVE);
  ASSERT_GT(c, 0);
  EXPECT_EQ(pool().resv_huge_pages(), 2u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(k().touch(t, c + i * HPAGE_SIZE, true, cost_), Kernel::FaultResult::Handled) << i;
  EXPECT_EQ(k().touch(t, c + 3 * HPAGE_SIZE, true, cost_), Kernel::FaultResult::Sigbus);
  k().check_consistency();
  // The reserved mapping still gets its pages.
  EXPECT_EQ(k().touch(t, a + HPAGE_SIZE, true, cost_), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().touch(t, a + 2 * HPAGE_SIZE, true, cost_), Kernel::FaultResult::Handled);
  EXPECT_EQ(pool().resv_huge_pages(), 0u);
  EXPECT_EQ(pool().free_huge_pages(), 0u);
  k().check_consistency();
  // munmap gives pages and nothing else back; exit the rest.
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(c), 4 * HPAGE_SIZE, cost_), 0);
  EXPECT_EQ(pool().free_huge_pages(), 3u);
  k().exit_task(t);
  EXPECT_EQ(pool().free_huge_pages(), 6u);
  EXPECT_EQ(pool().resv_huge_pages(), 0u);
  k().check_consistency();
}

class HugetlbOvercommitTest : public HugetlbPoolTest {
 protected:
  HugetlbOvercommitTest() : HugetlbPoolTest({1, 0}, 2) {}
};

TEST_F(HugetlbOvercommitTest, SurplusPagesAreGatheredAtMmapAndFreedWhenUnused) {
  const std::uint64_t buddy0 = buddy_free();
  task_struct* t = spawn(0);
  const long a = mmap_huge(t, 3 * HPAGE_SIZE);  // 1 persistent + 2 surplus
  ASSERT_GT(a, 0);
  EXPECT_EQ(pool().nr_huge_pages(), 3u);
  EXPECT_EQ(pool().surplus_huge_pages(), 2u);
  EXPECT_EQ(pool().resv_huge_pages(), 3u);
  EXPECT_EQ(sysfs(std::string(kGlobal2M) + "surplus_hugepages"), 2u);
  EXPECT_EQ(sysfs(std::string(kGlobal2M) + "nr_hugepages"), 3u);  // surplus pages included, as Linux shows
  EXPECT_NEAR(buddy_free(), buddy0 - 2 * 512, kSlack);
  EXPECT_NE(k().proc_meminfo().find("HugePages_Surp:        2\n"), std::string::npos);
  k().check_consistency();
  // Beyond the overcommit: ENOMEM, nothing changed.
  EXPECT_EQ(mmap_huge(t, HPAGE_SIZE), -ENOMEM);
  EXPECT_EQ(pool().nr_huge_pages(), 3u);
  EXPECT_NEAR(buddy_free(), buddy0 - 2 * 512, kSlack);
  // Fault two pages, unmap the mapping: the unused reservation's surplus page
  // goes back at once, the in-use ones when they are freed.
  ASSERT_EQ(k().touch(t, a, true, cost_), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().touch(t, a + HPAGE_SIZE, true, cost_), Kernel::FaultResult::Handled);
  k().check_consistency();
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(a), 3 * HPAGE_SIZE, cost_), 0);
  EXPECT_EQ(pool().surplus_huge_pages(), 0u);
  EXPECT_EQ(pool().nr_huge_pages(), 1u);
  EXPECT_EQ(pool().free_huge_pages(), 1u);
  EXPECT_NEAR(buddy_free(), buddy0, kSlack);
  k().check_consistency();
}

TEST_F(HugetlbOvercommitTest, NoreserveFaultsAllocateSurplusPagesFromTheBuddy) {
  const std::uint64_t buddy0 = buddy_free();
  task_struct* t = spawn(2);  // a CPU of node 1, where the pool has no page
  const long a = mmap_huge(t, 4 * HPAGE_SIZE, MAP_NORESERVE);
  ASSERT_GT(a, 0);
  EXPECT_EQ(pool().nr_huge_pages(), 1u);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(k().touch(t, a + i * HPAGE_SIZE, true, cost_), Kernel::FaultResult::Handled) << i;
  EXPECT_EQ(pool().surplus_huge_pages(), 2u);
  EXPECT_EQ(pool().surplus_huge_pages_node(1), 2u);  // allocated on the faulting node
  EXPECT_EQ(k().touch(t, a + 3 * HPAGE_SIZE, true, cost_), Kernel::FaultResult::Sigbus);  // overcommit used up
  k().check_consistency();
  k().exit_task(t);
  EXPECT_EQ(pool().surplus_huge_pages(), 0u);
  EXPECT_EQ(pool().nr_huge_pages(), 1u);
  EXPECT_NEAR(buddy_free(), buddy0, kSlack);
  k().check_consistency();
}

TEST_F(HugetlbOvercommitTest, ShrinkingBelowInUseMakesSurplusAndGrowingConvertsItBack) {
  task_struct* t = spawn(0);
  ASSERT_EQ(set(kNode0_2M, 3), 0);
  EXPECT_EQ(pool().nr_huge_pages_node(0), 3u);
  EXPECT_EQ(pool().nr_huge_pages_node(1), 0u);  // node-local growth
  const long a = mmap_huge(t, 2 * HPAGE_SIZE);
  ASSERT_GT(a, 0);
  ASSERT_EQ(k().touch(t, a, true, cost_), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().touch(t, a + HPAGE_SIZE, true, cost_), Kernel::FaultResult::Handled);
  // Shrink to 0: the free page goes, the two in use become surplus.
  ASSERT_EQ(set(kNode0_2M, 0), 0);
  EXPECT_EQ(pool().nr_huge_pages(), 2u);
  EXPECT_EQ(pool().surplus_huge_pages_node(0), 2u);
  EXPECT_EQ(sysfs(kNode0_2M), 2u);
  k().check_consistency();
  // Growing back converts surplus into persistent pages before allocating.
  ASSERT_EQ(set(kNode0_2M, 1), 0);
  EXPECT_EQ(pool().nr_huge_pages(), 2u);
  EXPECT_EQ(pool().surplus_huge_pages(), 1u);
  k().check_consistency();
  // Freeing the pages: the surplus one leaves the pool, the persistent one stays.
  k().exit_task(t);
  EXPECT_EQ(pool().nr_huge_pages(), 1u);
  EXPECT_EQ(pool().surplus_huge_pages(), 0u);
  EXPECT_EQ(pool().free_huge_pages_node(0), 1u);
  k().check_consistency();
}

TEST_F(HugetlbPoolTest, SysfsResizeKeepsReservedPagesAndWorksPerNode) {
  const std::uint64_t buddy0 = buddy_free();
  ASSERT_EQ(set(kNode1_2M, 5), 0);
  EXPECT_EQ(pool().nr_huge_pages_node(1), 5u);
  EXPECT_EQ(pool().nr_huge_pages_node(0), 4u);
  EXPECT_EQ(buddy_free(), buddy0 - 3 * 512);
  EXPECT_GE(k().physmem().sum_vm_event(HTLB_BUDDY_PGALLOC), 3u + 6u);
  task_struct* t = spawn(0);
  ASSERT_GT(mmap_huge(t, 7 * HPAGE_SIZE), 0);  // 7 of 9 reserved
  // The whole pool to 0: only the 2 unreserved free pages can go.
  ASSERT_EQ(set(std::string(kGlobal2M) + "nr_hugepages", 0), 0);
  EXPECT_EQ(pool().nr_huge_pages(), 7u);
  EXPECT_EQ(pool().surplus_huge_pages(), 7u);  // kept for the reservation, as surplus
  k().check_consistency();
  k().exit_task(t);  // the reservation goes, and with it the surplus pages
  EXPECT_EQ(pool().nr_huge_pages(), 0u);
  EXPECT_NEAR(buddy_free(), buddy0 + 6 * 512, kSlack);
  k().check_consistency();
}

TEST_F(HugetlbPoolTest, BadArgumentsFailWithErrnoAndChangeNothing) {
  task_struct* t = spawn(0);
  const std::uint64_t buddy0 = buddy_free();
  // No hstate for 64 KiB or 16 GiB pages.
  EXPECT_EQ(mmap_huge(t, HPAGE_SIZE, 16 << MAP_HUGE_SHIFT), -EINVAL);
  EXPECT_EQ(mmap_huge(t, HPAGE_SIZE, 34 << MAP_HUGE_SHIFT), -EINVAL);
  // Unknown or read-only sysfs files; a node that does not exist.
  EXPECT_EQ(set("/sys/devices/system/node/node7/hugepages/hugepages-2048kB/nr_hugepages", 1), -ENOENT);
  EXPECT_EQ(set("/sys/kernel/mm/hugepages/hugepages-4096kB/nr_hugepages", 1), -ENOENT);
  EXPECT_EQ(set(std::string(kGlobal2M) + "free_hugepages", 1), -EACCES);
  EXPECT_EQ(set(std::string(kGlobal2M) + "nr_hugepage", 1), -ENOENT);
  EXPECT_FALSE(k().hugetlb_sysfs_read("/sys/kernel/mm/hugepages/hugepages-2048kB/resv").has_value());
  // The empty 1 GiB hstate: ENOMEM (no page to reserve), not EINVAL.
  EXPECT_EQ(mmap_huge(t, HPAGE_SIZE, MAP_HUGE_1GB), -ENOMEM);
  // No overcommit for gigantic pages.
  EXPECT_EQ(set("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_overcommit_hugepages", 1), -EINVAL);
  EXPECT_EQ(pool().nr_huge_pages(), 6u);
  EXPECT_EQ(pool().resv_huge_pages(), 0u);
  EXPECT_EQ(pool().hs(HSTATE_1G).nr_overcommit_huge_pages, 0u);
  EXPECT_NEAR(buddy_free(), buddy0, kSlack);
  EXPECT_TRUE(t->mm->mm_mt.empty());
  k().check_consistency();
}

TEST(HugetlbConfig, WithoutHugepagesz1GThereIsNoGigantichstate) {
  Topology topo = two_node_topology("256MiB");
  KernelParams params;
  testing::FakePlatform platform;
  Kernel k(topo, params, platform);
  task_struct* t = k.create_task("x", CpuId(0), CpuMask().set());
  KernelCost cost;
  EXPECT_EQ(k.sys_mmap(t, 0, 1ull << 30, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0,
                       cost),
            -EINVAL);
  EXPECT_EQ(k.hugetlb_sysfs_write("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", 1, CpuId(0), cost),
            -ENOENT);
  EXPECT_EQ(k.hugetlb().nr_huge_pages(HSTATE_1G), 0u);
  EXPECT_TRUE(t->mm->mm_mt.empty());
}

TEST(HugetlbConfig, OvercommitAndOneGigabytePoolKeysAreRead) {
  auto doc = ConfigDocument::from_string(
      "[os.hugetlb]\nnr_hugepages = [2, 1]\nnr_overcommit_hugepages = 5\n[os.hugetlb.1G]\nnr_hugepages = [1, 0]\n",
      "hugetlb.toml");
  KernelParams p = KernelParams::from_config(doc->root().table("os"));
  doc->finish();
  EXPECT_EQ(p.nr_hugepages_node, (std::vector<std::uint64_t>{2, 1}));
  EXPECT_EQ(p.nr_hugepages_1g_node, (std::vector<std::uint64_t>{1, 0}));
  EXPECT_EQ(p.nr_overcommit_hugepages, 5u);
  EXPECT_TRUE(p.hugepagesz_1g);
}

TEST(HugetlbConfig, NegativeOneGigabyteCountIsALocatedError) {
  auto doc = ConfigDocument::from_string("[os.hugetlb.1G]\nnr_hugepages = [1, -2]\n", "bad.toml");
  KernelParams::from_config(doc->root().table("os"));
  try {
    doc->finish();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.toml"), std::string::npos) << msg;
    EXPECT_NE(msg.find("entry 1 is negative (-2)"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace numasim::os

namespace numasim::os {
namespace {

// Random sequences over both hstates: mmap (private/shared, NORESERVE), touch,
// munmap and mprotect at huge-page boundaries, MADV_DONTNEED, fork and exit,
// and sysfs resizes of random nodes; the checker (page tables, map counts,
// per-hstate reservations, pool and per-node counts) after every step, and
// every page back in its pool or the buddy at the end.
KernelParams mixed_params() {
  KernelParams p;
  p.nr_hugepages_node = {3, 2};
  p.nr_hugepages_1g_node = {1, 1};
  p.nr_overcommit_hugepages = 3;
  return p;
}

class HugetlbPropertyTest : public testing::HugetlbKernelTest, public ::testing::WithParamInterface<int> {
 protected:
  HugetlbPropertyTest() : HugetlbKernelTest(mixed_params(), "2GiB") {}
};

TEST_P(HugetlbPropertyTest, RandomHugetlbOperationsKeepTheKernelConsistent) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(GetParam()));
  const std::uint64_t buddy0 = buddy_free();
  std::vector<task_struct*> tasks{spawn(0)};
  std::uint64_t ok_ops = 0, faults = 0;
  for (int step = 0; step < 250; ++step) {
    task_struct* t = tasks[rng() % tasks.size()];
    const int h = rng() % 4 == 0 ? HSTATE_1G : HSTATE_2M;
    const std::uint64_t sz = hstate_size(h);
    std::vector<const vm_area_struct*> vmas;
    for (const auto& [start, v] : t->mm->mm_mt) vmas.push_back(&v);
    const vm_area_struct* v = vmas.empty() ? nullptr : vmas[rng() % vmas.size()];
    long r = 0;
    switch (rng() % 9) {
      case 0:
      case 1: {
        int flags = MAP_ANONYMOUS | MAP_HUGETLB | (h == HSTATE_1G ? MAP_HUGE_1GB : 0);
        flags |= rng() % 3 == 0 ? MAP_SHARED : MAP_PRIVATE;
        if (rng() % 3 == 0) flags |= MAP_NORESERVE;
        r = k().sys_mmap(t, 0, (1 + rng() % 2) * sz - rng() % 2, PROT_READ | PROT_WRITE, flags, -1, 0, cost_);
        break;
      }
      case 2:
      case 3:
        if (v) {
          const VirtAddr a = v->vm_start + (rng() % (v->size() / vma_hpage_size(*v))) * vma_hpage_size(*v);
          faults += k().touch(t, a + (rng() % 4096), rng() % 2, cost_) == Kernel::FaultResult::Handled;
        }
        break;
      case 4:
        if (v) r = k().sys_munmap(t, v->vm_start, vma_hpage_size(*v) * (1 + rng() % 2), cost_);
        break;
      case 5:
        if (v) r = k().sys_madvise(t, v->vm_start, v->size(), MADV_DONTNEED, cost_);
        break;
      case 6:
        if (v) r = k().sys_mprotect(t, v->vm_start, vma_hpage_size(*v), rng() % 2 ? PROT_READ : PROT_NONE, cost_);
        break;
      case 7:
        if (tasks.size() < 4) {
          const long pid = k().sys_fork(t, cost_);
          if (pid > 0) tasks.push_back(k().find_task_by_pid(static_cast<int>(pid)));
          r = pid > 0 ? 0 : pid;
        } else {
          const std::size_t i = 1 + rng() % (tasks.size() - 1);
          k().exit_task(tasks[i]);
          tasks.erase(tasks.begin() + static_cast<long>(i));
        }
        break;
      case 8: {
        const std::string path = "/sys/devices/system/node/node" + std::to_string(rng() % 2) + "/hugepages/hugepages-" +
                                 (h == HSTATE_1G ? "1048576" : "2048") + "kB/nr_hugepages";
        r = k().hugetlb_sysfs_write(path, rng() % (h == HSTATE_1G ? 3 : 6), CpuId(0), cost_);
        EXPECT_EQ(r, 0);
        break;
      }
    }
    ok_ops += r >= 0;
    ASSERT_TRUE(r >= 0 || r == -ENOMEM || r == -EINVAL) << "step " << step << ": " << r;
    k().check_consistency();
  }
  for (task_struct* t : tasks) k().exit_task(t);
  k().check_consistency();
  for (int h = 0; h < HUGE_MAX_HSTATE; ++h) {
    EXPECT_EQ(pool().resv_huge_pages(h), 0u);
    EXPECT_EQ(pool().surplus_huge_pages(h), 0u);
    EXPECT_EQ(pool().free_huge_pages(h), pool().nr_huge_pages(h));
  }
  // Every page not in a pool is back in the buddy (page tables and slab caches apart).
  const std::int64_t pool_delta = static_cast<std::int64_t>(pool().total_base_pages()) - (3 + 2) * 512 - 2 * 262144;
  EXPECT_NEAR(static_cast<double>(buddy_free()), static_cast<double>(buddy0) - static_cast<double>(pool_delta), 256.0);
  std::printf("seed %d: %llu calls succeeded, %llu faults handled\n", GetParam(),
              static_cast<unsigned long long>(ok_ops), static_cast<unsigned long long>(faults));
}

INSTANTIATE_TEST_SUITE_P(Seeds, HugetlbPropertyTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace numasim::os
