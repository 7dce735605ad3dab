// NUMA balancing in the OS layer (fake platform, manual clock): the [os.kernel]
// knobs and their errors; task_numa_work making a scan window PROT_NONE from the
// task's tick after scan_delay; hint faults restoring the entry with its write
// bit, counting numa_hint_faults(_local) and migrating a misplaced page; the
// last_cpupid two-reference filter; explicit policies left alone; the scan
// period slowing down when faults are local; numa groups for threads sharing
// pages; MEMORY_TIERING promotion (with a test-only tier: node 1 slow) by hot
// threshold, capped by the promotion rate limit. The checker runs after each.
#include <gtest/gtest.h>

#include <cerrno>

#include "common/config.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/numa_balancing.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

constexpr Picoseconds kMs = Picoseconds(1'000'000'000ull);

class NumaBalancingTest : public KernelTest {
 protected:
  void boot(int mode, unsigned rate_limit_MBps = 65536) {
    params_.numab.mode = mode;
    params_.numab.scan_delay_ms = 2;
    params_.numab.scan_period_min_ms = 1;
    params_.numab.scan_period_max_ms = 16;
    params_.numab.scan_size_mb = 4;
    params_.numab.hot_threshold_ms = 3;
    params_.numab.promote_rate_limit_MBps = rate_limit_MBps;
    kernel_.reset();
    platform_.drop_timers();  // the freed kernel's kthread timers must not fire into the new one
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
  NumaBalancing& nb() { return k().numa_balancing(); }
  pteval_t pte(task_struct* t, VirtAddr a) { return k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL).value(); }
  std::uint64_t ev(vm_event_item i) { return pm().sum_vm_event(i); }
  // n pages first touched from a CPU of node 1, the task back on CPU `home` afterwards.
  VirtAddr remote_pages(task_struct* t, int n, int home = 0) {
    const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, static_cast<std::uint64_t>(n) * kPageSize));
    EXPECT_TRUE(k().migrate_task(t, CpuId(2)));
    for (int i = 0; i < n; ++i) EXPECT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
    EXPECT_TRUE(k().migrate_task(t, CpuId(home)));
    return a;
  }
};

TEST(NumaBalancingConfig, KnobsAndLocatedErrors) {
  auto doc = ConfigDocument::from_string(
      "[os.kernel]\nnuma_balancing = 3\nnuma_balancing_scan_size_mb = 64\nnuma_balancing_hot_threshold_ms = 500\n",
      "nb.toml");
  NumaBalancingParams p = NumaBalancingParams::from_config(doc->root().table("os"));
  doc->finish();
  EXPECT_EQ(p.mode, NUMA_BALANCING_NORMAL | NUMA_BALANCING_MEMORY_TIERING);
  EXPECT_EQ(p.scan_size_mb, 64u);
  EXPECT_EQ(p.hot_threshold_ms, 500u);
  EXPECT_EQ(p.scan_delay_ms, 1000u);
  EXPECT_EQ(p.scan_period_min_ms, 1000u);
  EXPECT_EQ(p.scan_period_max_ms, 60000u);
  EXPECT_EQ(p.promote_rate_limit_MBps, 65536u);
  EXPECT_EQ(NumaBalancingParams{}.mode, NUMA_BALANCING_DISABLED);  // off by default

  auto bad = ConfigDocument::from_string(
      "[os.kernel]\nnuma_balancing = 4\nnuma_balancing_scan_period_min_ms = 100\n"
      "numa_balancing_scan_period_max_ms = 50\nnuma_balancing_scan_size_mb = 0\n",
      "bad.toml");
  NumaBalancingParams::from_config(bad->root().table("os"));
  std::vector<std::string> errors;
  try {
    bad->finish();
  } catch (const ConfigErrors& e) {
    for (const auto& d : e.diagnostics()) errors.push_back(d.str());
  }
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[0].find("bad.toml:2"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("numa_balancing"), std::string::npos);
  bool period = false, size = false;
  for (const auto& e : errors) {
    period |= e.find("numa_balancing_scan_period_max_ms") != std::string::npos;
    size |= e.find("numa_balancing_scan_size_mb") != std::string::npos;
  }
  EXPECT_TRUE(period);
  EXPECT_TRUE(size);
}

TEST_F(NumaBalancingTest, OffNothingScansOrFaults) {
  boot(NUMA_BALANCING_DISABLED);
  task_struct* t = spawn(0);
  const VirtAddr a = remote_pages(t, 8);
  platform_.advance_to(50 * kMs);
  EXPECT_EQ(t->numa, nullptr);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 0u);
  EXPECT_TRUE(pte_present(pte(t, a)));
  EXPECT_EQ(nb().set_mode(4), -EINVAL);
}

TEST_F(NumaBalancingTest, TheTickScansAfterTheDelayAndHintFaultsMigrate) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  const VirtAddr a = remote_pages(t, 8);
  platform_.advance_to(1 * kMs);  // before scan_delay: nothing
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 0u);
  platform_.advance_to(3 * kMs);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 8u);
  EXPECT_EQ(t->numa->numa_work_runs, 1u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(pte_protnone(pte(t, a + i * kPageSize))) << i;
    EXPECT_TRUE(pte(t, a + i * kPageSize) & _PAGE_RW) << "the saved write bit";
  }
  k().check_consistency();
  // Each page's first hint fault: unset last_cpupid, early in the task's life -> migrate.
  for (int i = 0; i < 8; ++i) ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(NUMA_HINT_FAULTS), 8u);
  EXPECT_EQ(ev(NUMA_HINT_FAULTS_LOCAL), 0u);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), 8u);
  EXPECT_EQ(ev(PGMIGRATE_SUCCESS), 8u);
  EXPECT_EQ(t->numa->numa_pages_migrated, 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(nid_of(t, a + i * kPageSize), 0) << i;
    EXPECT_TRUE(pte_present(pte(t, a + i * kPageSize)));
    EXPECT_TRUE(pte(t, a + i * kPageSize) & _PAGE_RW) << "write bit restored";
  }
  k().check_consistency();
}

TEST_F(NumaBalancingTest, LocalPagesOfASingleThreadedTaskAreNotScanned) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  for (int i = 0; i < 4; ++i) touch(t, a + i * kPageSize);
  platform_.advance_to(10 * kMs);
  EXPECT_GT(t->numa->numa_work_runs, 0u);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 0u);
  // With a second thread the same pages are scanned and fault locally.
  task_struct* t2 = k().create_thread(t, CpuId(1));
  ASSERT_NE(t2, nullptr);
  platform_.advance_to(100 * kMs);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 4u);
  touch(t, a, false);
  EXPECT_EQ(ev(NUMA_HINT_FAULTS), 1u);
  EXPECT_EQ(ev(NUMA_HINT_FAULTS_LOCAL), 1u);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), 0u);
  k().check_consistency();
}

TEST_F(NumaBalancingTest, TwoReferenceFilterNeedsTwoFaultsFromTheSameNode) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  const VirtAddr a = remote_pages(t, 1);
  // Past the early-life window, with a preferred node: the multi-stage filter applies.
  t->numa->numa_scan_seq = 10;
  t->numa->numa_preferred_nid = 0;
  page* pg = k().follow_page(*t->mm, a)->pg;
  page_cpupid_xchg_last(pg, cpu_pid_to_cpupid(2, 999));  // another task on node 1 touched it last
  ASSERT_EQ(k().change_prot_numa(t, *find_vma(*t->mm, a), a, a + kPageSize, cost_), 1u);
  touch(t, a, false);
  EXPECT_EQ(ev(NUMA_HINT_FAULTS), 1u);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), 0u) << "the previous reference came from node 1";
  EXPECT_EQ(nid_of(t, a), 1);
  EXPECT_EQ(cpupid_to_pid(page_cpupid_last(pg)), t->pid & LAST__PID_MASK) << "last_cpupid now names this task";
  // The second reference from node 0, by the same task (a private fault): migrate.
  ASSERT_EQ(k().change_prot_numa(t, *find_vma(*t->mm, a), a, a + kPageSize, cost_), 1u);
  touch(t, a, false);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), 1u);
  EXPECT_EQ(nid_of(t, a), 0);
  page* moved = k().follow_page(*t->mm, a)->pg;
  EXPECT_EQ(cpupid_to_pid(page_cpupid_last(moved)), t->pid & LAST__PID_MASK) << "last_cpupid follows the page";
  k().check_consistency();
}

TEST_F(NumaBalancingTest, AnExplicitPolicyIsNeitherScannedNorMigrated) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  const VirtAddr a = remote_pages(t, 4);
  unsigned long node1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a, 4 * kPageSize, MPOL_BIND, &node1, 3, 0, cost_), 0);
  platform_.advance_to(10 * kMs);
  EXPECT_GT(t->numa->numa_work_runs, 0u);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 0u);
  // A hint entry there anyway (made before the policy) is restored without moving.
  ASSERT_EQ(k().change_prot_numa(t, *find_vma(*t->mm, a), a, a + kPageSize, cost_), 1u);
  touch(t, a, false);
  EXPECT_EQ(ev(NUMA_HINT_FAULTS), 1u);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), 0u);
  EXPECT_EQ(nid_of(t, a), 1);
  k().check_consistency();
}

TEST_F(NumaBalancingTest, ScanPeriodGrowsWhenFaultsAreLocal) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  task_struct* t2 = k().create_thread(t, CpuId(1));  // two users: local pages are scanned too
  ASSERT_NE(t2, nullptr);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 64 * kPageSize));
  for (int i = 0; i < 64; ++i) touch(t, a + i * kPageSize);
  auto round = [&] {
    k().change_prot_numa(t, *find_vma(*t->mm, a), a, a + 64 * kPageSize, cost_);
    for (int i = 0; i < 64; ++i) touch(t, a + i * kPageSize, false);
  };
  round();  // 64 local private faults
  platform_.advance_to(platform_.clock + 2000 * kMs);  // past numa_migrate_retry; new scan seqs from the ticks
  t->numa->numa_scan_period = 4;
  round();  // placement runs on the first fault of the new sequence: the window above was all local
  EXPECT_GT(t->numa->numa_scan_period, 4u);
  EXPECT_EQ(t->numa->numa_preferred_nid, 0);
  k().check_consistency();
}

TEST_F(NumaBalancingTest, ThreadsSharingPagesFormOneNumaGroup) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  task_struct* t2 = k().create_thread(t, CpuId(2));  // node 1
  ASSERT_NE(t2, nullptr);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 8 * kPageSize));
  for (int i = 0; i < 8; ++i) touch(t, a + i * kPageSize);
  vm_area_struct& vma = *find_vma(*t->mm, a);
  for (int r = 0; r < 3; ++r)
    for (task_struct* who : {t, t2}) {
      k().change_prot_numa(who, vma, a, a + 8 * kPageSize, cost_);
      for (int i = 0; i < 8; ++i) touch(who, a + i * kPageSize, false);
    }
  ASSERT_NE(t->numa->group, nullptr);
  EXPECT_EQ(t->numa->group, t2->numa->group);
  EXPECT_EQ(t->numa->group->nr_tasks, 2);
  k().check_consistency();
  k().exit_task(t2);
  EXPECT_EQ(t->numa->group->nr_tasks, 1);
  EXPECT_EQ(t2->numa->group, t->numa->group);  // a zombie keeps its pointer
}

TEST_F(NumaBalancingTest, TieringPromotesHotSlowTierPagesWithinTheRateLimit) {
  boot(NUMA_BALANCING_MEMORY_TIERING, 1);  // 1 MB/s: 256 candidates per second
  nb().set_toptier_override([](int nid) { return nid == 0; });  // test-only tiers: node 1 is the slow tier
  task_struct* t = spawn(0);
  k().kthreads().task_work_cancel(t);  // scans by hand: their time stamps the pages
  const VirtAddr a = remote_pages(t, 512);
  // A top-tier page is not scanned in tiering-only mode.
  const VirtAddr local = static_cast<VirtAddr>(mmap_anon(t, kPageSize));
  touch(t, local);
  platform_.advance_to(10 * kMs);
  nb().task_numa_work(t, cost_);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 512u);
  EXPECT_TRUE(pte_present(pte(t, local)));
  platform_.advance_to(11 * kMs);  // 1 ms after the scan: hotter than hot_threshold (3 ms)
  for (int i = 0; i < 512; ++i) touch(t, a + i * kPageSize, false);
  const NodeId n0(0), n1(1);
  const auto cand = node_page_state(pm().NODE_DATA(n0), PGPROMOTE_CANDIDATE);
  const auto promoted = node_page_state(pm().NODE_DATA(n0), PGPROMOTE_SUCCESS);
  EXPECT_EQ(cand, 512);  // every hot fault is a candidate, also past the limit
  EXPECT_EQ(promoted, 255);
  EXPECT_LE(promoted, 256) << "promotions never exceed the rate limit";
  EXPECT_EQ(node_page_state(pm().NODE_DATA(n1), PGPROMOTE_SUCCESS), 0);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), static_cast<std::uint64_t>(promoted));
  EXPECT_EQ(ev(NUMA_HINT_FAULTS), 512u);
  // Cold pages: faulting 5 ms after their scan (>= the threshold) are no candidates.
  platform_.advance_to(2000 * kMs);  // a new rate-limit second
  nb().task_numa_work(t, cost_);
  platform_.advance_to(2005 * kMs);
  const auto cand_before = node_page_state(pm().NODE_DATA(n0), PGPROMOTE_CANDIDATE);
  const auto promoted_before = node_page_state(pm().NODE_DATA(n0), PGPROMOTE_SUCCESS);
  for (int i = 0; i < 512; ++i) touch(t, a + i * kPageSize, false);
  EXPECT_EQ(node_page_state(pm().NODE_DATA(n0), PGPROMOTE_CANDIDATE), cand_before);
  EXPECT_EQ(node_page_state(pm().NODE_DATA(n0), PGPROMOTE_SUCCESS), promoted_before);
  k().check_consistency();
}

TEST_F(NumaBalancingTest, AllTopTierTieringOnlyScansNothing) {
  boot(NUMA_BALANCING_MEMORY_TIERING);  // Kernel::node_is_toptier: every node (no tiers yet)
  task_struct* t = spawn(0);
  remote_pages(t, 16);
  platform_.advance_to(10 * kMs);
  EXPECT_EQ(ev(NUMA_PTE_UPDATES), 0u);
}

}  // namespace

namespace {

TEST_F(NumaBalancingTest, FaultsOnAnotherNodeMakeItPreferredAndAskTheSchedulerToMoveTheTask) {
  boot(NUMA_BALANCING_NORMAL);
  std::vector<std::pair<int, int>> moves;  // (pid, node) the scheduler was asked for
  nb().set_migrate_task_hook([&](task_struct* t, NodeId nid) {
    moves.emplace_back(t->pid, nid.value());
    return k().migrate_task(t, CpuId(nid.value() * 2));
  });
  task_struct* t = spawn(0);
  // Private faults on node 1 memory that could not move (TNF_MIGRATE_FAIL).
  for (int i = 0; i < 100; ++i) nb().task_numa_fault(t, cpu_pid_to_cpupid(0, t->pid), 1, 1, TNF_MIGRATE_FAIL);
  EXPECT_TRUE(moves.empty()) << "placement waits for the next scan sequence";
  // A full pass of the (empty) address space ends a scan sequence.
  platform_.advance_to(10 * kMs);
  EXPECT_GT(nb().mm_state(*t->mm)->numa_scan_seq, 0);
  nb().task_numa_fault(t, cpu_pid_to_cpupid(0, t->pid), 1, 1, TNF_MIGRATE_FAIL);
  EXPECT_EQ(t->numa->numa_preferred_nid, 1);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0], std::make_pair(t->pid, 1));
  EXPECT_EQ(t->cpu, CpuId(2));
  EXPECT_EQ(t->numa->numa_task_migrations, 1u);
  // On its preferred node now: no further request.
  platform_.advance_to(20 * kMs);
  nb().task_numa_fault(t, cpu_pid_to_cpupid(2, t->pid), 1, 1, TNF_FAULT_LOCAL);
  EXPECT_EQ(moves.size(), 1u);
}

TEST_F(NumaBalancingTest, NumaMapsCountsPagesPerNode) {
  boot(NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  ASSERT_TRUE(k().migrate_task(t, CpuId(2)));
  for (int i = 0; i < 3; ++i) touch(t, a + i * kPageSize);  // N1=3
  ASSERT_TRUE(k().migrate_task(t, CpuId(0)));
  touch(t, a + 3 * kPageSize);  // N0=1
  const std::string maps = nb().numa_maps(t);
  EXPECT_NE(maps.find(" default anon=4 dirty=4 N0=1 N1=3 kernelpagesize_kB=4\n"), std::string::npos) << maps;
  unsigned long node1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a, 3 * kPageSize, MPOL_BIND, &node1, 3, 0, cost_), 0);
  const std::string split = nb().numa_maps(t);
  EXPECT_NE(split.find(" bind:1 anon=3 dirty=3 N1=3 kernelpagesize_kB=4\n"), std::string::npos) << split;
  EXPECT_NE(split.find(" default anon=1 dirty=1 N0=1 kernelpagesize_kB=4\n"), std::string::npos) << split;
  const int tgid = t->tgid;
  k().exit_task(t);
  EXPECT_NE(nb().exit_numa_maps(tgid).find("N1=3"), std::string::npos);
}

}  // namespace

// THPs: change_prot_numa makes a huge PMD one PROT_NONE hint (numa_huge_pte_updates,
// HPAGE_PMD_NR pages in numa_pte_updates); the hint fault (do_huge_pmd_numa_page)
// migrates the THP whole to the faulting CPU's node (thp_migration_success,
// numa_pages_migrated += 512), the PMD present again with its write bit, every
// subpage's contents kept; a huge PMD the scan window covers only in part is split.
TEST_F(NumaBalancingTest, HugePmdsTakeHintFaultsAndMigrateWhole) {
  params_.thp.enabled = ThpEnabled::Always;
  boot(NUMA_BALANCING_NORMAL);
  k().page_tokens().enable(pm().max_pfn());
  task_struct* t = spawn(0);
  const long m = mmap_anon(t, 8 * HPAGE_PMD_SIZE);
  ASSERT_GT(m, 0);
  const VirtAddr a = (static_cast<VirtAddr>(m) + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1);  // 2 MiB aligned
  ASSERT_TRUE(k().migrate_task(t, CpuId(2)));  // first touch from node 1
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().follow_page(*t->mm, a)->level, PMD_LEVEL);
  ASSERT_EQ(nid_of(t, a), 1);
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i)
    k().page_tokens().set((k().follow_page(*t->mm, a + i * kPageSize)->phys >> kPageShift), 77000 + i);
  ASSERT_TRUE(k().migrate_task(t, CpuId(0)));
  KernelCost c;
  platform_.advance_to(5 * kMs);
  const std::uint64_t huge0 = ev(NUMA_HUGE_PTE_UPDATES);
  EXPECT_GE(huge0, 1u);
  EXPECT_GE(ev(NUMA_PTE_UPDATES), HPAGE_PMD_NR);
  const PteRef pmd = k().pgtables().walk(t->mm->pgd, a, PMD_LEVEL);
  ASSERT_EQ(pmd.level, PMD_LEVEL);
  EXPECT_TRUE(pte_protnone(pmd.value()));
  EXPECT_TRUE(pte_huge(pmd.value()));
  EXPECT_TRUE(pmd.value() & _PAGE_RW) << "pmd_savedwrite";
  k().check_consistency();
  const std::uint64_t thp0 = ev(THP_MIGRATION_SUCCESS);
  ASSERT_EQ(touch(t, a + 5 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_GE(ev(NUMA_HINT_FAULTS), 1u);
  EXPECT_EQ(ev(THP_MIGRATION_SUCCESS), thp0 + 1);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), HPAGE_PMD_NR);
  EXPECT_EQ(t->numa->numa_pages_migrated, HPAGE_PMD_NR);
  EXPECT_EQ(ev(THP_MIGRATION_SPLIT), 0u);
  auto fr = k().follow_page(*t->mm, a);
  ASSERT_TRUE(fr.has_value());
  EXPECT_EQ(fr->level, PMD_LEVEL);  // still one huge PMD
  EXPECT_EQ(nid_of(t, a), 0);
  EXPECT_TRUE(pte_present(fr->leaf));
  EXPECT_TRUE(fr->leaf & _PAGE_RW) << "write bit restored";
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i)
    ASSERT_EQ(k().page_tokens().get(k().follow_page(*t->mm, a + i * kPageSize)->phys >> kPageShift), 77000 + i) << i;
  k().check_consistency();
  // A scan window that covers the PMD in part splits it: PTE hints, no huge update.
  const std::uint64_t splits = ev(THP_SPLIT_PMD), huge1 = ev(NUMA_HUGE_PTE_UPDATES);
  ASSERT_TRUE(k().create_thread(t, CpuId(1)));  // two users: local pages are scanned too
  vm_area_struct* vma = find_vma(*t->mm, a);
  ASSERT_NE(vma, nullptr);
  const unsigned long nr = k().change_prot_numa(t, *vma, a + HPAGE_PMD_SIZE / 2, a + HPAGE_PMD_SIZE, c);
  EXPECT_EQ(nr, HPAGE_PMD_NR / 2);
  EXPECT_EQ(ev(THP_SPLIT_PMD), splits + 1);
  EXPECT_EQ(ev(NUMA_HUGE_PTE_UPDATES), huge1);
  EXPECT_TRUE(pte_protnone(pte(t, a + HPAGE_PMD_SIZE / 2)));
  EXPECT_TRUE(pte_present(pte(t, a)));
  k().check_consistency();
}
