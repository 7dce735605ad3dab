// x86-64 page tables in simulated frames: walks that allocate intermediate
// tables, entry values and their physical addresses as the hardware walker reads
// them, the 8-byte kernel_write charged per entry, accessed/dirty set by the
// walker, 2 MiB leaves, free_pgd_range, 5-level tables; then through the kernel:
// table frames come from the faulting task's node and go back to the buddy.
#include <gtest/gtest.h>

#include <set>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

// Hands out frames 0x100000, 0x101000, ... and records frees.
class CountingFrames : public PgtableFrameSource {
 public:
  std::optional<PhysAddr> alloc_pgtable_frame(CpuId, KernelCost&) override {
    if (limit && live.size() >= limit) return std::nullopt;
    PhysAddr f = next;
    next += kPageSize;
    live.insert(f);
    return f;
  }
  void free_pgtable_frame(CpuId, PhysAddr frame, KernelCost&) override { ASSERT_EQ(live.erase(frame), 1u); }
  PhysAddr next = 0x100000;
  std::set<PhysAddr> live;
  std::size_t limit = 0;
};

TEST(PageTables, WalkAllocBuildsFourLevelsAndEntriesAreReadableByPhysicalAddress) {
  FakePlatform plat;
  CountingFrames frames;
  PageTables pt(plat, frames, PgtableParams{4, 7});
  KernelCost c;
  PhysAddr pgd = *pt.pgd_alloc(CpuId(0), c);
  EXPECT_EQ(pgd, 0x100000u);
  const VirtAddr va = 0x00007f1234567000;
  PteRef pte = pt.walk_alloc(CpuId(1), pgd, va, PTE_LEVEL, c);
  ASSERT_TRUE(pte);
  EXPECT_EQ(pte.level, PTE_LEVEL);
  EXPECT_EQ(frames.live.size(), 4u);  // PGD, PUD, PMD, PTE
  // Three table pointers were written, 8 bytes each, from CPU 1, plus 7 cycles each.
  EXPECT_EQ(plat.count(FakePlatform::Kind::Write), 3u);
  EXPECT_EQ(plat.bytes(FakePlatform::Kind::Write).value(), 24u);
  EXPECT_EQ(plat.calls[0].cpu.value(), 1);
  EXPECT_EQ(c.cycles.value(), 21u);
  // The PGD entry sits at pgd + 8 * index(va, 4) and points at the PUD frame.
  const PhysAddr pgd_entry = pgd + 8ull * level_index(va, 4);
  EXPECT_EQ(plat.calls[0].addr, pgd_entry);
  const pteval_t e4 = pt.read_pte(pgd_entry);
  EXPECT_EQ(e4 & ~PTE_PFN_MASK, _PAGE_TABLE);
  const PhysAddr pud_entry = pte_phys(e4) + 8ull * level_index(va, 3);
  const PhysAddr pmd_entry = pte_phys(pt.read_pte(pud_entry)) + 8ull * level_index(va, 2);
  const PhysAddr pte_entry = pte_phys(pt.read_pte(pmd_entry)) + 8ull * level_index(va, 1);
  EXPECT_EQ(pte_entry, pte.addr);

  // A leaf, then the walker's accessed/dirty bits.
  pt.set_entry(CpuId(1), pte, 0x40000000ull | _PAGE_PRESENT | _PAGE_USER | _PAGE_RW | _PAGE_NX, c);
  EXPECT_EQ(plat.calls.back().addr, pte_entry);
  pt.set_pte_bits(pte_entry, _PAGE_ACCESSED | _PAGE_DIRTY);
  EXPECT_EQ(pt.read_pte(pte_entry) & (_PAGE_ACCESSED | _PAGE_DIRTY), _PAGE_ACCESSED | _PAGE_DIRTY);
  auto tr = pt.translate(pgd, va + 0x123);
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->phys, 0x40000123u);
  EXPECT_FALSE(pt.translate(pgd, va + kPageSize));
  // Reading a frame that holds no table yields 0 (the walker sees "not present").
  EXPECT_EQ(pt.read_pte(0x9000000), 0u);
}

TEST(PageTables, HugeLeafAtPmdTranslatesTwoMegabytes) {
  FakePlatform plat;
  CountingFrames frames;
  PageTables pt(plat, frames, PgtableParams{});
  KernelCost c;
  PhysAddr pgd = *pt.pgd_alloc(CpuId(0), c);
  const VirtAddr va = 0x40000000;  // 1 GiB, 2 MiB aligned
  PteRef pmd = pt.walk_alloc(CpuId(0), pgd, va, PMD_LEVEL, c);
  ASSERT_EQ(pmd.level, PMD_LEVEL);
  pt.set_entry(CpuId(0), pmd, 0x80000000ull | _PAGE_PRESENT | _PAGE_USER | _PAGE_RW | _PAGE_PSE, c);
  EXPECT_EQ(frames.live.size(), 3u);  // no PTE table under a huge leaf
  auto tr = pt.translate(pgd, va + 0x1ff123);
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->level, PMD_LEVEL);
  EXPECT_EQ(tr->phys, 0x801ff123u);
  // A walk towards the PTE level stops at the huge leaf.
  PteRef r = pt.walk(pgd, va + 0x5000, PTE_LEVEL);
  EXPECT_EQ(r.level, PMD_LEVEL);
  EXPECT_EQ(r.addr, pmd.addr);
}

TEST(PageTables, FreePgdRangeFreesOnlyTablesInsideFloorAndCeiling) {
  FakePlatform plat;
  CountingFrames frames;
  PageTables pt(plat, frames, PgtableParams{});
  KernelCost c;
  PhysAddr pgd = *pt.pgd_alloc(CpuId(0), c);
  // Two pages in the same PTE table, one 2 MiB further (another PTE table).
  for (VirtAddr va : {0x10000000ull, 0x10001000ull, 0x10200000ull}) {
    PteRef p = pt.walk_alloc(CpuId(0), pgd, va, PTE_LEVEL, c);
    pt.set_entry(CpuId(0), p, 0x5000ull | _PAGE_PRESENT, c);
  }
  EXPECT_EQ(frames.live.size(), 5u);  // PGD PUD PMD + 2 PTE tables
  // Clear the first page only; a neighbour (floor) still maps 0x10001000.
  pt.set_entry(CpuId(0), pt.walk(pgd, 0x10000000, PTE_LEVEL), 0, c);
  EXPECT_EQ(pt.free_pgd_range(CpuId(0), pgd, 0x10000000, 0x10001000, 0, 0x10001000, c), 0u);
  EXPECT_EQ(frames.live.size(), 5u);
  // Clear the page at 2 MiB: its PTE table covers no VMA any more.
  pt.set_entry(CpuId(0), pt.walk(pgd, 0x10200000, PTE_LEVEL), 0, c);
  EXPECT_EQ(pt.free_pgd_range(CpuId(0), pgd, 0x10200000, 0x10201000, 0x10002000, 1ull << 48, c), 1u);
  EXPECT_EQ(frames.live.size(), 4u);
  EXPECT_EQ(pt.table_used(pte_phys(pt.read_pte(pt.walk(pgd, 0x10000000, PMD_LEVEL).addr))), 1u);
  // Everything gone: all but the PGD are freed.
  pt.set_entry(CpuId(0), pt.walk(pgd, 0x10001000, PTE_LEVEL), 0, c);
  EXPECT_EQ(pt.free_pgd_range(CpuId(0), pgd, 0, 1ull << 48, 0, 1ull << 48, c), 3u);
  EXPECT_EQ(frames.live.size(), 1u);
  pt.pgd_free(CpuId(0), pgd, c);
  EXPECT_TRUE(frames.live.empty());
  EXPECT_EQ(pt.nr_tables(), 0u);
}

TEST(PageTables, FiveLevelsUseAP4dTable) {
  FakePlatform plat;
  CountingFrames frames;
  PageTables pt(plat, frames, PgtableParams{5, 0});
  KernelCost c;
  PhysAddr pgd = *pt.pgd_alloc(CpuId(0), c);
  const VirtAddr va = 0x00ff000000000000ull;  // above 47 bits: needs LA57
  PteRef p = pt.walk_alloc(CpuId(0), pgd, va, PTE_LEVEL, c);
  ASSERT_TRUE(p);
  EXPECT_EQ(frames.live.size(), 5u);
  pt.set_entry(CpuId(0), p, 0x7000ull | _PAGE_PRESENT, c);
  EXPECT_EQ(pt.translate(pgd, va + 5)->phys, 0x7005u);
}

TEST(PageTables, AllocationFailureReturnsNullWithoutLeaks) {
  FakePlatform plat;
  CountingFrames frames;
  frames.limit = 2;
  PageTables pt(plat, frames, PgtableParams{});
  KernelCost c;
  PhysAddr pgd = *pt.pgd_alloc(CpuId(0), c);
  EXPECT_FALSE(pt.walk_alloc(CpuId(0), pgd, 0x1000000, PTE_LEVEL, c));
  EXPECT_EQ(frames.live.size(), 2u);  // the PUD stays linked, usable later
  EXPECT_EQ(pt.nr_tables(), 2u);
}

// walk_alloc_below continues a walk to the PMD (the fault's PMD stage) down to the
// PTE: the same entry, tables, frames, 8-byte writes and cycles as walk_alloc from
// the top, whichever upper tables already exist; a huge PMD stops it, an entry at
// or below the target level is returned as is, and a failed table allocation
// gives a null ref.
TEST(PageTables, WalkAllocBelowAPmdEqualsWalkAllocFromTheTop) {
  FakePlatform plat_top, plat_below;
  CountingFrames frames_top, frames_below;
  PageTables top(plat_top, frames_top, PgtableParams{4, 7});
  PageTables below(plat_below, frames_below, PgtableParams{4, 7});
  KernelCost c_top, c_below;
  const PhysAddr pgd = *top.pgd_alloc(CpuId(0), c_top);
  ASSERT_EQ(*below.pgd_alloc(CpuId(0), c_below), pgd);
  // Fresh tables, a neighbour in the same PTE table, another PMD, another PUD, another PGD slot.
  for (VirtAddr va : {0x7f0000001000ull, 0x7f0000002000ull, 0x7f0000200000ull, 0x7f0040000000ull, 0x100000000ull}) {
    const PteRef want = top.walk_alloc(CpuId(1), pgd, va, PTE_LEVEL, c_top);
    const PteRef pmd = below.walk_alloc(CpuId(1), pgd, va, PMD_LEVEL, c_below);
    ASSERT_EQ(pmd.level, PMD_LEVEL);
    const PteRef got = below.walk_alloc_below(CpuId(1), pmd, va, PTE_LEVEL, c_below);
    ASSERT_TRUE(want);
    ASSERT_TRUE(got);
    EXPECT_EQ(got.addr, want.addr);
    EXPECT_EQ(got.level, PTE_LEVEL);
    top.set_entry(CpuId(1), want, 0x5000ull | _PAGE_PRESENT, c_top);
    below.set_entry(CpuId(1), got, 0x5000ull | _PAGE_PRESENT, c_below);
  }
  EXPECT_EQ(frames_below.live, frames_top.live);
  EXPECT_EQ(below.nr_tables(), top.nr_tables());
  EXPECT_EQ(c_below.cycles.value(), c_top.cycles.value());
  ASSERT_EQ(plat_below.calls.size(), plat_top.calls.size());
  for (std::size_t i = 0; i < plat_top.calls.size(); ++i) {
    EXPECT_EQ(plat_below.calls[i].addr, plat_top.calls[i].addr) << "write " << i;
    EXPECT_EQ(plat_below.calls[i].len.value(), plat_top.calls[i].len.value()) << "write " << i;
  }
  // A huge PMD is where both walks stop.
  const VirtAddr huge = 0x7f0080000000ull;
  const PteRef hpmd = below.walk_alloc(CpuId(0), pgd, huge, PMD_LEVEL, c_below);
  below.set_entry(CpuId(0), hpmd, 0x80000000ull | _PAGE_PRESENT | _PAGE_PSE, c_below);
  const PteRef at_huge = below.walk_alloc_below(CpuId(0), hpmd, huge + 0x3000, PTE_LEVEL, c_below);
  EXPECT_EQ(at_huge.level, PMD_LEVEL);
  EXPECT_EQ(at_huge.addr, hpmd.addr);
  EXPECT_EQ(below.walk_alloc(CpuId(0), pgd, huge + 0x3000, PTE_LEVEL, c_below).addr, hpmd.addr);
  // An entry already at the target level is the answer.
  const PteRef pte = below.walk(pgd, 0x7f0000001000ull, PTE_LEVEL);
  EXPECT_EQ(below.walk_alloc_below(CpuId(0), pte, 0x7f0000001000ull, PTE_LEVEL, c_below).addr, pte.addr);
  // No frame for the PTE table: a null ref, the PMD stays none.
  frames_below.limit = frames_below.live.size();
  const VirtAddr fresh = 0x7f0000400000ull;
  const PteRef none_pmd = below.walk_alloc(CpuId(0), pgd, fresh, PMD_LEVEL, c_below);
  ASSERT_TRUE(none_pmd);
  EXPECT_FALSE(below.walk_alloc_below(CpuId(0), none_pmd, fresh, PTE_LEVEL, c_below));
  EXPECT_EQ(none_pmd.value(), 0u);
}

// walk_alloc to a PMD entry again in the same 2 MiB gives the same entry
// without reading the tables above (its memo), and the walk from the top once
// an entry above the PMDs changed or a table was freed: a PUD made a huge
// leaf, the tables freed and built again, another PGD.
TEST(PageTables, WalkAllocToAPmdAgainFollowsChangedUpperTables) {
  FakePlatform plat;
  CountingFrames frames;
  PageTables pt(plat, frames, PgtableParams{});
  KernelCost c;
  const PhysAddr pgd = *pt.pgd_alloc(CpuId(0), c);
  const VirtAddr va = 0x7f0000200000ull;
  const PteRef pmd = pt.walk_alloc(CpuId(0), pgd, va, PMD_LEVEL, c);
  ASSERT_EQ(pmd.level, PMD_LEVEL);
  const std::size_t writes = plat.calls.size();
  const PteRef again = pt.walk_alloc(CpuId(0), pgd, va + 0x5000, PMD_LEVEL, c);
  EXPECT_EQ(again.addr, pmd.addr);
  EXPECT_EQ(again.host, pmd.host);
  EXPECT_EQ(again.level, PMD_LEVEL);
  EXPECT_EQ(plat.calls.size(), writes);
  EXPECT_EQ(pt.walk_alloc(CpuId(0), pgd, va + 0x200000, PMD_LEVEL, c).addr, pmd.addr + 8);
  EXPECT_EQ(pt.walk_alloc(CpuId(0), pgd, va, PMD_LEVEL, c).addr, pmd.addr);
  // Everything below the PGD freed: the walk builds new tables in new frames.
  EXPECT_EQ(pt.free_pgd_range(CpuId(0), pgd, 0, 1ull << 48, 0, 1ull << 48, c), 2u);
  const PteRef rebuilt = pt.walk_alloc(CpuId(0), pgd, va, PMD_LEVEL, c);
  ASSERT_EQ(rebuilt.level, PMD_LEVEL);
  EXPECT_NE(rebuilt.addr, pmd.addr);
  EXPECT_EQ(rebuilt.addr, pt.walk(pgd, va, PMD_LEVEL).addr);
  EXPECT_EQ(frames.live.size(), 3u);
  // Its PUD entry made a 1 GiB leaf: the walk stops there.
  const PteRef pud = pt.walk(pgd, va, PUD_LEVEL);
  pt.set_entry(CpuId(0), pud, 0x40000000ull | _PAGE_PRESENT | _PAGE_PSE, c);
  const PteRef leaf = pt.walk_alloc(CpuId(0), pgd, va, PMD_LEVEL, c);
  EXPECT_EQ(leaf.level, PUD_LEVEL);
  EXPECT_EQ(leaf.addr, pud.addr);
  // Another PGD: its own tables.
  const PhysAddr pgd2 = *pt.pgd_alloc(CpuId(0), c);
  const PteRef other = pt.walk_alloc(CpuId(0), pgd2, va, PMD_LEVEL, c);
  ASSERT_EQ(other.level, PMD_LEVEL);
  EXPECT_EQ(other.addr, pt.walk(pgd2, va, PMD_LEVEL).addr);
  EXPECT_NE(other.addr, rebuilt.addr);
}

class PgtableKernelTest : public KernelTest {};

TEST_F(PgtableKernelTest, TablePagesLandOnTheFaultingTasksNode) {
  task_struct* t = spawn(3);  // CPU 3 is on node 1
  EXPECT_EQ(t->mm->pgd_node.value(), 1);
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, a), static_cast<long>(a));
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  int tables = 0;
  k().pgtables().for_each_table(t->mm->pgd, [&](PhysAddr frame, int) {
    ++tables;
    EXPECT_EQ(topo_.phys_node(frame).value(), 1) << std::hex << frame;
    EXPECT_TRUE(PageTable(pm().phys_to_page(frame)));
  });
  EXPECT_EQ(tables, 4);
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_PAGETABLE), 4);
  EXPECT_EQ(pm().node_page_state(NodeId(0), NR_PAGETABLE), 0);
  EXPECT_EQ(t->mm->pgtables_bytes, 4 * kPageSize);
  // A thread of the same mm faulting on node 0 puts new tables on node 0.
  task_struct* th = k().create_thread(t, CpuId(0));
  ASSERT_EQ(mmap_anon(th, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, 0x7f0000000000), 0x7f0000000000l);
  ASSERT_EQ(touch(th, 0x7f0000000000), Kernel::FaultResult::Handled);
  EXPECT_EQ(pm().node_page_state(NodeId(0), NR_PAGETABLE), 3);
  k().check_consistency();
}

TEST_F(PgtableKernelTest, WalkerViewMatchesSoftwareTranslation) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 2 * kPageSize, PROT_READ | PROT_WRITE);
  ASSERT_EQ(touch(t, a + 8), Kernel::FaultResult::Handled);
  // Walk the way hw::Mmu does: CR3, then one 8-byte read per level.
  PhysAddr table = k().pgd_phys(*t->mm);
  pteval_t e = 0;
  for (int level = 4; level >= 1; --level) {
    e = k().read_pte(table + 8ull * level_index(a, level));
    ASSERT_TRUE(pte_present(e)) << level;
    table = pte_phys(e);
  }
  EXPECT_TRUE(e & _PAGE_RW);
  EXPECT_TRUE(e & _PAGE_USER);
  EXPECT_TRUE(e & _PAGE_NX);
  EXPECT_TRUE(e & _PAGE_DIRTY);
  EXPECT_EQ(pte_phys(e) | 8, k().follow_page(*t->mm, a + 8)->phys);
}

}  // namespace

namespace {

class FiveLevelKernelTest : public ::testing::Test {
 protected:
  FiveLevelKernelTest() : topo_(two_node_topology("64MiB")) {
    params_.pgtable_levels = 5;
    params_.nr_hugepages_node = {0, 0};
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
  Topology topo_;
  KernelParams params_;
  FakePlatform platform_;
  std::unique_ptr<Kernel> kernel_;
};

TEST_F(FiveLevelKernelTest, HighAddressesOnlyOnRequestAndTheWalkerReadsFiveLevels) {
  CpuMask all;
  all.set();
  task_struct* t = kernel_->create_task("la57", CpuId(0), all);
  KernelCost c;
  EXPECT_EQ(t->mm->task_size, TASK_SIZE_5LEVEL);
  // Without a hint, mappings stay below 47 bits (DEFAULT_MAP_WINDOW).
  long low = kernel_->sys_mmap(t, 0, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
  EXPECT_LT(static_cast<std::uint64_t>(low), 1ull << 47);
  // A hint above the window gets the large address space.
  const VirtAddr high_hint = 0x00ff000000000000ull;
  long high = kernel_->sys_mmap(t, high_hint, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
  EXPECT_EQ(static_cast<VirtAddr>(high), high_hint);
  ASSERT_EQ(kernel_->touch(t, high_hint, true, c), Kernel::FaultResult::Handled);
  PhysAddr table = kernel_->pgd_phys(*t->mm);
  pteval_t e = 0;
  for (int level = 5; level >= 1; --level) {
    e = kernel_->read_pte(table + 8ull * level_index(high_hint, level));
    ASSERT_TRUE(pte_present(e)) << level;
    table = pte_phys(e);
  }
  EXPECT_EQ(pte_phys(e), kernel_->follow_page(*t->mm, high_hint)->phys);
  EXPECT_EQ(kernel_->pgtables().nr_tables(), 5u);  // PGD, P4D, PUD, PMD, PTE (the low page was never touched)
  kernel_->check_consistency();
  kernel_->exit_task(t);
  EXPECT_EQ(kernel_->pgtables().nr_tables(), 0u);
}

}  // namespace
