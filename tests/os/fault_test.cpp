// Page faults: what a demand-zero fault costs (entry/exit cycles, allocation,
// a 4 KiB clear_page on the page's node, PTE writes), the zero page and the
// write-protect fault that replaces it, SIGSEGV for accesses outside VMAs or
// against their protection (counted, never fatal), 2 MiB hugetlb leaves from
// the per-node pool, and placement under memory policies.
#include <gtest/gtest.h>

#include "os/mempolicy.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class FaultTest : public KernelTest {};

TEST_F(FaultTest, DemandZeroFaultChargesCyclesAndZeroingOnThePagesNode) {
  task_struct* t = spawn(2);  // node 1
  long a = mmap_anon(t, 4 * kPageSize);
  ASSERT_GT(a, 0);
  // First fault also builds PUD/PMD/PTE tables: fault the neighbour first.
  ASSERT_EQ(touch(t, a + kPageSize), Kernel::FaultResult::Handled);
  platform_.calls.clear();
  KernelCost c;
  ASSERT_EQ(k().handle_mm_fault(t, a, FAULT_FLAG_WRITE | FAULT_FLAG_USER, c), Kernel::FaultResult::Handled);
  const KernelCosts& kc = params_.costs;
  EXPECT_GE(c.cycles.value(),
            kc.fault_entry_cycles + kc.fault_exit_cycles + kc.fault_handle_cycles + kc.pte_update_cycles);
  // Exactly one clear_page (4 KiB) and one 8-byte PTE store, both from CPU 2.
  ASSERT_EQ(platform_.count(FakePlatform::Kind::Write), 2u);
  const auto& clear = platform_.calls[0];
  EXPECT_EQ(clear.len.value(), kPageSize);
  EXPECT_EQ(clear.cpu.value(), 2);
  EXPECT_EQ(topo_.phys_node(clear.addr).value(), 1);  // local allocation
  EXPECT_EQ(clear.addr, k().follow_page(*t->mm, a)->phys);
  EXPECT_EQ(platform_.calls[1].len.value(), 8u);
  // Memory time is what the platform returned: 64 lines + 1 line at 1 ns each.
  EXPECT_EQ(c.memory.value(), 65u * 1000u);
  EXPECT_EQ(t->min_flt, 2u);
  EXPECT_EQ(pm().sum_vm_event(PGFAULT), 2u);
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_ANON_MAPPED), 2);
  k().check_consistency();
}

TEST_F(FaultTest, ReadMapsZeroPageAndWriteReplacesIt) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, kPageSize);
  ASSERT_EQ(touch(t, a, /*write=*/false), Kernel::FaultResult::Handled);
  // The VMA's anon_vma exists already (as after an earlier write fault), so the
  // write below costs the page and its PTE only, not the anon_vma objects.
  ASSERT_EQ(anon_vma_prepare(k().anon_vmas(), *vma_lookup(*t->mm, a), CpuId(0), cost_), 0);
  auto fr = k().follow_page(*t->mm, a);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->phys, k().zero_page_phys());
  EXPECT_FALSE(fr->leaf & _PAGE_RW);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  platform_.calls.clear();
  ASSERT_EQ(touch(t, a, /*write=*/true), Kernel::FaultResult::Handled);  // do_wp_page
  fr = k().follow_page(*t->mm, a);
  EXPECT_NE(fr->phys, k().zero_page_phys());
  EXPECT_TRUE(fr->leaf & _PAGE_RW);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 1);
  EXPECT_EQ(t->min_flt, 2u);
  // The new page was zeroed, and the stale read-only translation shot down.
  EXPECT_EQ(platform_.bytes(FakePlatform::Kind::Write).value(), kPageSize + 8);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 1u);
  k().check_consistency();
}

TEST_F(FaultTest, SigsegvIsCountedNotFatal) {
  task_struct* t = spawn(0);
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, kPageSize, PROT_READ, MAP_FIXED, a), static_cast<long>(a));
  KernelCost c;
  // Outside every VMA.
  EXPECT_EQ(k().handle_mm_fault(t, a + kPageSize, FAULT_FLAG_USER, c), Kernel::FaultResult::Sigsegv);
  EXPECT_EQ(t->last_sigsegv_code, os::SEGV_MAPERR);
  EXPECT_EQ(t->last_sigsegv_addr, a + kPageSize);
  // Write to a read-only VMA; execute from a non-exec VMA.
  EXPECT_EQ(k().handle_mm_fault(t, a, FAULT_FLAG_WRITE | FAULT_FLAG_USER, c), Kernel::FaultResult::Sigsegv);
  EXPECT_EQ(t->last_sigsegv_code, os::SEGV_ACCERR);
  EXPECT_EQ(k().handle_mm_fault(t, a, FAULT_FLAG_INSTRUCTION | FAULT_FLAG_USER, c), Kernel::FaultResult::Sigsegv);
  // Beyond TASK_SIZE (a kernel address).
  EXPECT_EQ(touch(t, 0xffff888000000000ull, false), Kernel::FaultResult::Sigsegv);
  EXPECT_EQ(t->nr_sigsegv, 4u);
  EXPECT_EQ(pm().sum_vm_event(PGFAULT), 0u);  // bad_area faults never reach handle_mm_fault
  // PROT_NONE: no access at all; the task carries on and can read elsewhere.
  ASSERT_EQ(k().sys_mprotect(t, a, kPageSize, PROT_NONE, c), 0);
  EXPECT_EQ(touch(t, a, false), Kernel::FaultResult::Sigsegv);
  EXPECT_EQ(t->nr_sigsegv, 5u);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  k().check_consistency();
}

class HugetlbFaultTest : public KernelTest {};

TEST_F(HugetlbFaultTest, TwoMegabyteLeafFromThePoolOfThePolicysNode) {
  task_struct* t = spawn(0);
  EXPECT_EQ(k().hugetlb().nr_huge_pages_node(0), 4u);
  EXPECT_EQ(k().hugetlb().nr_huge_pages_node(1), 4u);
  long a = k().sys_mmap(t, 0, 3 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_);
  ASSERT_GT(a, 0);
  EXPECT_EQ(a % (2 << 20), 0);
  EXPECT_EQ(t->mm->mm_mt.begin()->second.size(), 4u << 20);  // rounded up to 2 huge pages
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 2u);
  platform_.calls.clear();
  KernelCost c;
  ASSERT_EQ(k().handle_mm_fault(t, a + 0x12345, FAULT_FLAG_WRITE | FAULT_FLAG_USER, c), Kernel::FaultResult::Handled);
  auto fr = k().follow_page(*t->mm, a + 0x12345);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->level, PMD_LEVEL);
  EXPECT_TRUE(fr->leaf & _PAGE_PSE);
  EXPECT_EQ(fr->phys % (2 << 20), 0x12345u);
  EXPECT_EQ(topo_.phys_node(fr->phys).value(), 0);
  // clear_huge_page: one 2 MiB write.
  EXPECT_EQ(platform_.calls[platform_.calls.size() - 2].len.value(), 2u << 20);
  EXPECT_EQ(k().hugetlb().free_huge_pages_node(0), 3u);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 1u);
  EXPECT_EQ(t->mm->hugetlb_usage, 1u);
  // The whole 2 MiB is now translated by that one leaf.
  EXPECT_EQ(k().follow_page(*t->mm, a + (2 << 20) - 1)->phys, fr->phys - 0x12345 + (2 << 20) - 1);
  // Bound to node 1: the second huge page comes from node 1's pool.
  unsigned long node1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a + (2 << 20), 2 << 20, MPOL_BIND, &node1, 3, 0, c), 0);
  ASSERT_EQ(touch(t, a + (2 << 20), false), Kernel::FaultResult::Handled);
  EXPECT_EQ(topo_.phys_node(k().follow_page(*t->mm, a + (2 << 20))->phys).value(), 1);
  EXPECT_FALSE(k().follow_page(*t->mm, a + (2 << 20))->leaf & _PAGE_RW);   // private read fault: read-only
  ASSERT_EQ(touch(t, a + (2 << 20), true), Kernel::FaultResult::Handled);  // hugetlb_wp reuses the page
  EXPECT_TRUE(k().follow_page(*t->mm, a + (2 << 20))->leaf & _PAGE_RW);
  EXPECT_EQ(k().hugetlb().free_huge_pages_node(1), 3u);
  k().check_consistency();
  // Unmapping returns both pages to the pool; munmap must be huge-aligned.
  EXPECT_EQ(k().sys_munmap(t, a + kPageSize, kPageSize, c), -EINVAL);
  ASSERT_EQ(k().sys_munmap(t, a, 4 << 20, c), 0);
  EXPECT_EQ(k().hugetlb().free_huge_pages(), 8u);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 0u);
  k().check_consistency();
}

TEST_F(HugetlbFaultTest, PoolExhaustionIsEnomemAtMmapAndSigbusUnderBind) {
  task_struct* t = spawn(0);
  EXPECT_EQ(
      k().sys_mmap(t, 0, 18 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_),
      -ENOMEM);  // 9 pages > 8 in the pool
  long a =
      k().sys_mmap(t, 0, 10 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_);
  ASSERT_GT(a, 0);
  unsigned long node1 = 2;
  KernelCost c;
  ASSERT_EQ(k().sys_mbind(t, a, 10 << 20, MPOL_BIND, &node1, 3, 0, c), 0);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + (i << 21)), Kernel::FaultResult::Handled);
  // Node 1's pool is empty: the fifth page cannot be placed where the policy allows.
  EXPECT_EQ(touch(t, a + (4 << 21)), Kernel::FaultResult::Sigbus);
  k().check_consistency();
}

TEST_F(HugetlbFaultTest, NoreserveMapsBeyondThePoolAndFaultsSigbusWhenItRunsOut) {
  // Linux: MAP_HUGETLB|MAP_NORESERVE skips hugetlb_reserve_pages, so mmap
  // succeeds with a pool too small for it; the fault that finds no free page is
  // SIGBUS. Reserved mappings keep their pages: a NORESERVE fault never takes them.
  task_struct* t = spawn(0);
  const int huge_noreserve = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE;
  const long reserved =
      k().sys_mmap(t, 0, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_);
  ASSERT_GT(reserved, 0);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 2u);
  const long a = k().sys_mmap(t, 0, 18 << 20, PROT_READ | PROT_WRITE, huge_noreserve, -1, 0, cost_);
  ASSERT_GT(a, 0) << "9 pages > the 8 in the pool, but nothing is reserved";
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 2u);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(touch(t, a + (i << 21)), Kernel::FaultResult::Handled) << i;
  // The two pages left are promised to `reserved`.
  EXPECT_EQ(touch(t, a + (6 << 21)), Kernel::FaultResult::Sigbus);
  k().check_consistency();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(touch(t, reserved + (i << 21)), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 0u);
  KernelCost c;
  ASSERT_EQ(k().sys_munmap(t, a, 18 << 20, c), 0);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 0u) << "unmapping a NORESERVE mapping gives back no reservation";
  k().check_consistency();
}

TEST_F(FaultTest, BindPolicyPlacesPagesAndCountsNumaStats) {
  task_struct* t = spawn(0);  // runs on node 0
  unsigned long node1 = 2;
  KernelCost c;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node1, 3, c), 0);
  long a = mmap_anon(t, 8 * kPageSize);
  const auto other_before = pm().node_numa_event_state(NodeId(1), NUMA_OTHER);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(topo_.phys_node(k().follow_page(*t->mm, a + i * kPageSize)->phys).value(), 1);
  // 8 data pages, plus page tables (the task policy applies to them too).
  EXPECT_GE(pm().node_numa_event_state(NodeId(1), NUMA_OTHER) - other_before, 8u);
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_ANON_MAPPED), 8);
  k().check_consistency();
}

TEST_F(FaultTest, InterleaveVmaPolicySpreadsPagesByOffset) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 8 * kPageSize);
  unsigned long both = 3;
  KernelCost c;
  ASSERT_EQ(k().sys_mbind(t, a, 8 * kPageSize, MPOL_INTERLEAVE, &both, 3, 0, c), 0);
  int on[2] = {0, 0};
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
    int n = topo_.phys_node(k().follow_page(*t->mm, a + i * kPageSize)->phys).value();
    ++on[n];
    // Interleave by page index: neighbours alternate.
    if (i > 0) {
      EXPECT_NE(n, topo_.phys_node(k().follow_page(*t->mm, a + (i - 1) * kPageSize)->phys).value());
    }
  }
  EXPECT_EQ(on[0], 4);
  EXPECT_EQ(on[1], 4);
  k().check_consistency();
}

class SmallMachineFaultTest : public KernelTest {
 protected:
  SmallMachineFaultTest() : KernelTest({0, 0}, "16MiB") {}
};

TEST_F(SmallMachineFaultTest, OutOfMemoryIsReportedNotFatal) {
  task_struct* t = spawn(0);
  unsigned long node0 = 1;
  KernelCost c;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 3, c), 0);
  long a = mmap_anon(t, 32 << 20);
  ASSERT_GT(a, 0);
  Kernel::FaultResult r = Kernel::FaultResult::Handled;
  std::uint64_t i = 0;
  for (; i < (32 << 20) / kPageSize && r == Kernel::FaultResult::Handled; ++i) r = touch(t, a + i * kPageSize);
  EXPECT_EQ(r, Kernel::FaultResult::Oom);
  EXPECT_GT(i, 1000u);
  k().check_consistency();
  // The OOM killer chose the only process: counted, logged, and its next fault fails too.
  EXPECT_EQ(pm().sum_vm_event(OOM_KILL), 1u);
  EXPECT_TRUE(t->oom_killed);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  const OomKill& kill = k().oom_kills()[0];
  EXPECT_EQ(kill.pid, t->tgid);
  EXPECT_EQ(kill.invoker_pid, t->pid);
  EXPECT_EQ(kill.constraint, OomConstraint::MemoryPolicy);
  EXPECT_EQ(kill.anon_rss_kb, static_cast<std::uint64_t>(t->mm->get_mm_counter(MM_ANONPAGES)) * 4);
  EXPECT_EQ(kill.total_vm_kb, 32u << 10);
  EXPECT_EQ(oom_kill_message(kill), "Out of memory: Killed process " + std::to_string(t->tgid) +
                                        " (test) total-vm:32768kB, anon-rss:" + std::to_string(kill.anon_rss_kb) +
                                        "kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:" +
                                        std::to_string(kill.pgtables_kb) + "kB oom_score_adj:0");
  EXPECT_EQ(oom_kill_summary(kill), "oom-kill:constraint=CONSTRAINT_MEMORY_POLICY,nodemask=0,task=test,pid=" +
                                        std::to_string(t->tgid) + ",uid=0");
  EXPECT_EQ(k().oom_kill_of(t->tgid), &kill);
  EXPECT_EQ(touch(t, a + (i - 1) * kPageSize), Kernel::FaultResult::Oom);  // the page that failed
  EXPECT_EQ(pm().sum_vm_event(OOM_KILL), 1u);  // a dying task does not kill again
  ASSERT_EQ(k().sys_munmap(t, a, 32 << 20, c), 0);
  k().check_consistency();
}

// Fills node 0 with `pages` written pages of a fresh mapping of t (bound to node 0).
static long fill(Kernel& k, task_struct* t, std::uint64_t pages, KernelCost& c) {
  long a = k.sys_mmap(t, 0, pages * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
  if (a <= 0) return a;
  for (std::uint64_t i = 0; i < pages; ++i)
    if (k.touch(t, static_cast<VirtAddr>(a) + i * kPageSize, true, c) != Kernel::FaultResult::Handled) return -1;
  return a;
}

TEST_F(SmallMachineFaultTest, OomKillsTheLargestProcessAndTheFaultSucceeds) {
  unsigned long node0 = 1;
  KernelCost c;
  task_struct* big = spawn(2);  // runs on node 1 but bound to node 0: eligible
  task_struct* small = spawn(0);
  task_struct* big_thread = k().create_thread(big, CpuId(3));
  ASSERT_NE(big_thread, nullptr);
  ASSERT_EQ(k().sys_set_mempolicy(big, MPOL_BIND, &node0, 3, c), 0);
  ASSERT_EQ(k().sys_set_mempolicy(small, MPOL_BIND, &node0, 3, c), 0);
  ASSERT_GT(fill(k(), big, 2000, c), 0);  // 8 MiB of the 16 MiB node
  ASSERT_GT(fill(k(), small, 100, c), 0);
  const long big_rss = big->mm->get_mm_counter(MM_ANONPAGES);
  // small keeps faulting: when node 0 is full, big (the larger RSS) is killed and reaped.
  long a = k().sys_mmap(small, 0, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
  ASSERT_GT(a, 0);
  for (std::uint64_t i = 0; i < (8 << 20) / kPageSize; ++i)
    ASSERT_EQ(touch(small, a + i * kPageSize), Kernel::FaultResult::Handled) << "page " << i;
  EXPECT_EQ(pm().sum_vm_event(OOM_KILL), 1u);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].pid, big->tgid);
  EXPECT_EQ(k().oom_kills()[0].invoker_pid, small->pid);
  EXPECT_EQ(k().oom_kills()[0].anon_rss_kb, static_cast<std::uint64_t>(big_rss) * 4);
  EXPECT_TRUE(big->oom_killed);
  EXPECT_TRUE(big_thread->oom_killed);  // every task of the victim's mm
  EXPECT_FALSE(small->oom_killed);
  EXPECT_EQ(big->mm->get_mm_counter(MM_ANONPAGES), 0);  // reaped: its VMAs stay until it exits
  EXPECT_FALSE(big->mm->mm_mt.empty());
  EXPECT_EQ(touch(big_thread, big->mm->mm_mt.begin()->first), Kernel::FaultResult::Oom);
  k().check_consistency();
  k().exit_task(big_thread);
  k().exit_task(big);
  k().check_consistency();
}

TEST_F(SmallMachineFaultTest, OomSparesTasksBoundToOtherNodes) {
  unsigned long node0 = 1, node1 = 2;
  KernelCost c;
  task_struct* other = spawn(2);
  task_struct* t = spawn(0);
  ASSERT_EQ(k().sys_set_mempolicy(other, MPOL_BIND, &node1, 3, c), 0);
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 3, c), 0);
  ASSERT_GT(fill(k(), other, 3000, c), 0);  // larger than anything t will hold
  long a = k().sys_mmap(t, 0, 32 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
  ASSERT_GT(a, 0);
  Kernel::FaultResult r = Kernel::FaultResult::Handled;
  for (std::uint64_t i = 0; i < (32 << 20) / kPageSize && r == Kernel::FaultResult::Handled; ++i)
    r = touch(t, a + i * kPageSize);
  EXPECT_EQ(r, Kernel::FaultResult::Oom);
  // Killing `other` frees nothing on node 0 (mempolicy_in_oom_domain): t is the victim.
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].pid, t->tgid);
  EXPECT_FALSE(other->oom_killed);
  EXPECT_EQ(other->mm->get_mm_counter(MM_ANONPAGES), 3000);
  k().check_consistency();
}

}  // namespace

namespace {

TEST(KernelParamsConfig, ReadsCostsPoolAndLevelsAndReportsBadValues) {
  auto doc = ConfigDocument::from_string(
      "[os]\npgtable_levels = 5\nmax_map_count = 1000\n"
      "[os.costs]\nfault_entry_cycles = 1234\nvma_op_cycles = 7\n"
      "[os.hugetlb]\nnr_hugepages = [3, 1]\n",
      "os.toml");
  KernelParams p = KernelParams::from_config(doc->root().table("os"));
  doc->finish();  // every key was read
  EXPECT_EQ(p.pgtable_levels, 5);
  EXPECT_EQ(p.max_map_count, 1000);
  EXPECT_EQ(p.costs.fault_entry_cycles, 1234u);
  EXPECT_EQ(p.costs.vma_op_cycles, 7u);
  EXPECT_EQ(p.costs.fault_exit_cycles, KernelCosts{}.fault_exit_cycles);  // default kept
  EXPECT_EQ(p.nr_hugepages_node, (std::vector<std::uint64_t>{3, 1}));

  auto bad = ConfigDocument::from_string("[os]\npgtable_levels = 3\n[os.hugetlb]\nnr_hugepages = [-1]\n", "bad.toml");
  KernelParams q = KernelParams::from_config(bad->root().table("os"));
  EXPECT_EQ(q.nr_hugepages_node, (std::vector<std::uint64_t>{0}));
  try {
    bad->finish();
    FAIL() << "expected configuration errors";
  } catch (const ConfigErrors& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.str() + "\n";
    EXPECT_NE(all.find("pgtable_levels"), std::string::npos) << all;
    EXPECT_NE(all.find("nr_hugepages"), std::string::npos) << all;
    EXPECT_NE(all.find("negative"), std::string::npos) << all;
  }
}

class MeminfoTest : public KernelTest {};

TEST_F(MeminfoTest, MeminfoShowsHugetlbPoolAndPageTables) {
  task_struct* t = spawn(0);
  ASSERT_GT(
      k().sys_mmap(t, 0, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_), 0);
  std::string mi = k().proc_meminfo();
  EXPECT_NE(mi.find("HugePages_Total:       8\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("HugePages_Free:        8\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("HugePages_Rsvd:        2\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("Hugepagesize:       2048 kB\n"), std::string::npos) << mi;
  std::string n1 = k().node_meminfo(NodeId(1));
  EXPECT_NE(n1.find("Node 1 HugePages_Total:     4\n"), std::string::npos) << n1;
}

TEST_F(MeminfoTest, MigrateTaskHonoursAffinity) {
  CpuMask only01;
  only01.set(0);
  only01.set(1);
  task_struct* t = k().create_task("pinned", CpuId(0), only01);
  EXPECT_TRUE(k().migrate_task(t, CpuId(1)));
  EXPECT_FALSE(k().migrate_task(t, CpuId(2)));
  EXPECT_FALSE(k().migrate_task(t, CpuId(99)));
  EXPECT_EQ(t->cpu.value(), 1);
  EXPECT_EQ(t->mm->cpumask.count(), 2u);
}

}  // namespace
