// MMU: exact costs of TLB hits, STLB hits, walks with cold and warm
// paging-structure caches, accessed/dirty updates, faults and retries,
// SIGSEGV, PCID across context switches, shootdown of a range. Also the host
// prefetch hints (prefetch_walk, prefetch_data): the entries and addresses they
// name, and that they change nothing a translation sees or counts.
// And what the TLB holds around a #PF (the first fault of a translation no
// level held skips the invalidation; a permission miss must still drop the
// stale entry), and look-ups of 2 MiB and 1 GiB entries once the arrays of
// the smaller sizes are empty (the probes skip a size an array holds none of).
#include "hw/mmu.h"

#include <gtest/gtest.h>

#include "tests/hw/hw_fakes.h"

namespace numasim::hw {
namespace {

using testing::FakePageTables;
using testing::RecordingMemory;

constexpr Frequency kClock(2'000'000'000);  // 500 ps per cycle
constexpr Picoseconds kMem(100'000);

// Entries of page size `s` the arrays of a TLB level hold (read without a probe: no LRU stamp moves).
std::uint32_t held(const Mmu& mmu, int level, PageSize s) {
  std::uint32_t n = 0;
  for (const auto& a : mmu.tlb().arrays(level)) n += a.valid_of(s);
  return n;
}

struct MmuFixture : ::testing::Test {
  RecordingMemory mem;
  FakePageTables pt;
  MmuParams params;
  std::unique_ptr<Mmu> mmu;
  void SetUp() override {
    params.tlb.l1[0].latency_cycles = 1;  // make an L1 hit visible
    mmu = std::make_unique<Mmu>(CpuId(0), kClock, params, mem, pt);
    mmu->switch_context({pt.cr3, 7, nullptr});
  }
  // A page read once, so that both TLB levels hold its translation without
  // write permission: a read-only page, or (`clean`) a writable page not yet
  // written whose PTE is then write-protected behind the TLB (no shootdown).
  VirtAddr read_once_without_write_permission(bool clean) {
    const VirtAddr va = clean ? 0x7000'0000 : 0x6000'0000;
    pt.map(va, 0x30'0000, PageSize::k4K, clean ? pte::kRw : 0);
    EXPECT_TRUE(mmu->translate(va, false, Picoseconds(0)).ok);
    if (clean) pt.entries[pt.entry_addr(va, 3)] &= ~pte::kRw;
    return va;
  }
};

TEST_F(MmuFixture, ColdWalkReadsFourEntriesAtTheirAddressesThenL1HitCostsItsLatency) {
  const VirtAddr va = 0x7f00'1234'5678;
  pt.map(va & ~0xfffull, 0x4000'0000, PageSize::k4K, pte::kRw | pte::kAccessed);
  const Picoseconds t0(1'000'000);
  Translation tr = mmu->translate(va, false, t0);
  ASSERT_TRUE(tr.ok);
  EXPECT_EQ(tr.pa, 0x4000'0000u + 0x678);
  // Reads of the 4 levels in order, each non-leaf one followed by its accessed-bit write.
  ASSERT_EQ(mem.log.size(), 7u);
  std::vector<PhysAddr> reads, writes;
  for (const auto& a : mem.log) (a.write ? writes : reads).push_back(a.pa);
  ASSERT_EQ(reads.size(), 4u);
  for (int level = 0; level < 4; ++level) EXPECT_EQ(reads[level], pt.entry_addr(va, level)) << level;
  ASSERT_EQ(writes.size(), 3u);
  for (int level = 0; level < 3; ++level) EXPECT_EQ(writes[level], pt.entry_addr(va, level)) << level;
  // STLB probe (9 cycles) then 4 dependent reads; non-leaf entries get their accessed bit set
  // (3 locked writes, each one memory access).
  EXPECT_EQ(pt.bit_sets.size(), 3u);
  EXPECT_EQ(tr.ready, t0 + kClock.to_time(Cycles(9)) + kMem * 7);
  EXPECT_EQ(mmu->stats().walk_reads, 4u);
  // Second access to the same page: L1 hit, its latency only, no memory access.
  mem.log.clear();
  Translation again = mmu->translate(va + 8, false, t0);
  EXPECT_EQ(again.ready, t0 + kClock.to_time(Cycles(1)));
  EXPECT_EQ(again.pa, 0x4000'0000u + 0x680);
  EXPECT_TRUE(mem.log.empty());
  EXPECT_EQ(mmu->tlb().stats(0).hits[0], 1u);
}

TEST_F(MmuFixture, PageWalkCacheHitSkipsUpperLevels) {
  // Pre-set accessed bits everywhere so only reads happen.
  pt.map(0x400000, 0x10000, PageSize::k4K, pte::kRw | pte::kAccessed);
  pt.map(0x401000, 0x11000, PageSize::k4K, pte::kRw | pte::kAccessed);
  pt.map(0x600000, 0x12000, PageSize::k4K, pte::kRw | pte::kAccessed);  // other PD entry, same PD
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  const Picoseconds t0(0);
  ASSERT_TRUE(mmu->translate(0x400000, false, t0).ok);
  EXPECT_EQ(mem.log.size(), 4u);
  mem.log.clear();
  Translation tr = mmu->translate(0x401000, false, t0);  // same PT: PDE-cache hit, one read
  ASSERT_EQ(mem.log.size(), 1u);
  EXPECT_EQ(mem.log[0].pa, pt.entry_addr(0x401000, 3));
  EXPECT_EQ(tr.ready, kClock.to_time(Cycles(9)) + kMem);
  mem.log.clear();
  tr = mmu->translate(0x600000, false, t0);  // same PD, other PT: PDPTE-cache hit, two reads
  ASSERT_EQ(mem.log.size(), 2u);
  EXPECT_EQ(mem.log[0].pa, pt.entry_addr(0x600000, 2));
  EXPECT_EQ(mem.log[1].pa, pt.entry_addr(0x600000, 3));
  EXPECT_EQ(tr.ready, kClock.to_time(Cycles(9)) + kMem * 2);
}

TEST_F(MmuFixture, WalkCostFollowsWhereTheTablesAreCached) {
  pt.map(0x400000, 0x10000, PageSize::k4K, pte::kRw | pte::kAccessed);
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  const PhysAddr leaf = pt.entry_addr(0x400000, 3);
  mem.latency_of = [leaf](PhysAddr pa) { return pa == leaf ? Picoseconds(2'000) : Picoseconds(0); };
  Translation tr = mmu->translate(0x400000, false, Picoseconds(0));
  EXPECT_EQ(tr.ready, kClock.to_time(Cycles(9)) + kMem * 3 + Picoseconds(2'000));
}

TEST_F(MmuFixture, TwoMegabytePageWalkStopsAtThePde) {
  pt.map(0x4000'0000, 0x8000'0000, PageSize::k2M, pte::kRw | pte::kAccessed | pte::kDirty);
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  Translation tr = mmu->translate(0x4012'3456, true, Picoseconds(0));
  ASSERT_TRUE(tr.ok);
  EXPECT_EQ(tr.pa, 0x8012'3456u);
  EXPECT_EQ(mem.log.size(), 3u);
  EXPECT_EQ(mmu->tlb().stats(1).misses[1], 1u);
  // The rest of the 2 MiB page hits the L1 2M array.
  mem.log.clear();
  EXPECT_TRUE(mmu->translate(0x401f'ff00, false, Picoseconds(0)).ok);
  EXPECT_TRUE(mem.log.empty());
  EXPECT_EQ(mmu->tlb().stats(0).hits[1], 1u);
}

TEST_F(MmuFixture, WriteSetsDirtyBitOnceAndReadOnlyPageFaults) {
  pt.map(0x5000, 0x9000, PageSize::k4K, pte::kRw);
  ASSERT_TRUE(mmu->translate(0x5000, false, Picoseconds(0)).ok);
  const PhysAddr leaf = pt.entry_addr(0x5000, 3);
  EXPECT_EQ(pt.entries[leaf] & (pte::kAccessed | pte::kDirty), pte::kAccessed);
  // First write through a clean entry re-walks and sets the dirty bit.
  mem.log.clear();
  ASSERT_TRUE(mmu->translate(0x5008, true, Picoseconds(0)).ok);
  EXPECT_TRUE(pt.entries[leaf] & pte::kDirty);
  EXPECT_FALSE(mem.log.empty());
  mem.log.clear();
  ASSERT_TRUE(mmu->translate(0x5010, true, Picoseconds(0)).ok);
  EXPECT_TRUE(mem.log.empty());

  // Read-only page: a write faults; the handler makes it writable; the retry succeeds.
  pt.map(0x6000, 0xa000, PageSize::k4K, 0);
  ASSERT_TRUE(mmu->translate(0x6000, false, Picoseconds(0)).ok);
  const PhysAddr ro_leaf = pt.entry_addr(0x6000, 3);
  pt.on_fault = [&](VirtAddr va, bool write) {
    EXPECT_EQ(va, 0x6004u);
    EXPECT_TRUE(write);
    pt.entries[ro_leaf] |= pte::kRw;
    return true;
  };
  Translation tr = mmu->translate(0x6004, true, Picoseconds(0));
  EXPECT_TRUE(tr.ok);
  EXPECT_EQ(pt.faults, 1);
  EXPECT_EQ(mmu->stats().faults, 1u);
}

TEST_F(MmuFixture, FaultOnNotPresentIsHandledChargedAndRetried) {
  pt.on_fault = [&](VirtAddr va, bool) {
    pt.map(va & ~0xfffull, 0x7000'0000, PageSize::k4K, pte::kRw);
    return true;
  };
  const Picoseconds t0(0);
  Translation tr = mmu->translate(0x1234'5000, false, t0);
  ASSERT_TRUE(tr.ok);
  EXPECT_EQ(tr.pa, 0x7000'0000u);
  EXPECT_EQ(pt.faults, 1);
  // First walk stops at the empty PML4 entry (1 read), then the fault (1000 cycles + 50 ns),
  // then a full walk: 4 reads and 4 accessed-bit updates.
  const Picoseconds fault = kClock.to_time(Cycles(1000)) + Picoseconds(50'000);
  EXPECT_EQ(tr.ready, kClock.to_time(Cycles(9)) + kMem + fault + kMem * 8);
  EXPECT_EQ(mmu->stats().fault_ps, fault.value());
}

TEST_F(MmuFixture, SigsegvEndsTheTranslation) {
  Translation tr = mmu->translate(0xdead'0000, true, Picoseconds(0));
  EXPECT_FALSE(tr.ok);
  EXPECT_EQ(mmu->stats().sigsegv, 1u);
  EXPECT_EQ(pt.faults, 1);
}

TEST_F(MmuFixture, NonCanonicalAddressesAreSigsegvAndNeverAliasAMappedPage) {
  pt.map(0x5000, 0x9000);
  ASSERT_TRUE(mmu->translate(0x5000, false, Picoseconds(0)).ok);
  const int faults = pt.faults;
  // Bits above 47 that are not copies of bit 47: the walker's indices would land on 0x5000's entries.
  for (VirtAddr alias : {0x0001'0000'0000'5000ull, 0x8000'0000'0000'5000ull, 0x0000'8000'0000'5000ull}) {
    Translation tr = mmu->translate(alias, false, Picoseconds(0));
    EXPECT_FALSE(tr.ok) << std::hex << alias;
    EXPECT_EQ(tr.fault, os::EntryResult::Sigsegv);
  }
  EXPECT_EQ(pt.faults, faults) << "#GP happens before any page fault";
  EXPECT_EQ(mmu->stats().general_protection, 3u);
  EXPECT_EQ(mmu->stats().sigsegv, 3u);
  EXPECT_TRUE(mmu->translate(0x5000, false, Picoseconds(0)).ok);
}

TEST_F(MmuFixture, PcidEntriesSurviveAContextSwitchWithoutPcidTheyDoNot) {
  pt.map(0x5000, 0x9000);
  ASSERT_TRUE(mmu->translate(0x5000, false, Picoseconds(0)).ok);
  FakePageTables other;
  other.cr3 = 0x900000;
  mmu->switch_context({other.cr3, 8, nullptr});
  mmu->switch_context({pt.cr3, 7, nullptr});
  mem.log.clear();
  ASSERT_TRUE(mmu->translate(0x5000, false, Picoseconds(0)).ok);
  EXPECT_TRUE(mem.log.empty()) << "PCID-tagged entry should have survived";

  MmuParams no_pcid = params;
  no_pcid.tlb.pcid = false;
  Mmu m2(CpuId(1), kClock, no_pcid, mem, pt);
  m2.switch_context({pt.cr3, 7, nullptr});
  ASSERT_TRUE(m2.translate(0x5000, false, Picoseconds(0)).ok);
  m2.switch_context({other.cr3, 8, nullptr});
  m2.switch_context({pt.cr3, 7, nullptr});
  mem.log.clear();
  ASSERT_TRUE(m2.translate(0x5000, false, Picoseconds(0)).ok);
  EXPECT_EQ(mem.log.size(), 4u) << "without PCID the switch flushes";
}

TEST_F(MmuFixture, OneGigabytePageWalkStopsAtThePdpteAndFillsTheGigabyteTlbs) {
  constexpr std::uint64_t kGiB = 1ull << 30;
  pt.map(0x40'0000'0000, 0x1'0000'0000, PageSize::k1G, pte::kRw | pte::kAccessed | pte::kDirty);
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  const Picoseconds t0(0);
  Translation tr = mmu->translate(0x40'1234'5678, true, t0);
  ASSERT_TRUE(tr.ok);
  EXPECT_EQ(tr.pa, 0x1'1234'5678u);
  // Two reads, PML4E then the PDPTE leaf (level 3 of Linux's numbering), no A/D writes.
  ASSERT_EQ(mem.log.size(), 2u);
  EXPECT_EQ(mem.log[0].pa, pt.entry_addr(0x40'1234'5678, 0));
  EXPECT_EQ(mem.log[1].pa, pt.entry_addr(0x40'1234'5678, 1));
  EXPECT_TRUE(pt.read_pte(mem.log[1].pa) & pte::kPse);
  EXPECT_EQ(tr.ready, t0 + kClock.to_time(Cycles(9)) + kMem * 2);
  EXPECT_EQ(mmu->tlb().stats(1).misses[static_cast<int>(PageSize::k1G)], 1u);
  EXPECT_EQ(mmu->stats().walk_reads, 2u);
  // The TLBs hold a 1 GiB entry in the 1G arrays: anywhere in the GiB hits L1.
  int l1_1g = 0, stlb_1g = 0;
  for (const auto& a : mmu->tlb().arrays(0)) l1_1g += a.holds(PageSize::k1G) ? a.valid_entries() : 0;
  for (const auto& a : mmu->tlb().arrays(1)) stlb_1g += a.holds(PageSize::k1G) ? a.valid_entries() : 0;
  EXPECT_EQ(l1_1g, 1);
  EXPECT_EQ(stlb_1g, 1);
  mem.log.clear();
  Translation far = mmu->translate(0x40'0000'0000 + kGiB - 8, false, t0);
  EXPECT_EQ(far.pa, 0x1'0000'0000u + kGiB - 8);
  EXPECT_TRUE(mem.log.empty());
  EXPECT_EQ(mmu->tlb().stats(0).hits[static_cast<int>(PageSize::k1G)], 1u);
  // A shootdown of 2 MiB inside the GiB drops the whole 1 GiB entry.
  mmu->invalidate_range(7, 0x40'2000'0000, 0x40'2020'0000);
  mem.log.clear();
  ASSERT_TRUE(mmu->translate(0x40'0000'0000, false, t0).ok);
  EXPECT_EQ(mem.log.size(), 2u);
}

TEST_F(MmuFixture, ShootdownInvalidatesOnlyTheRange) {
  for (int i = 0; i < 8; ++i) pt.map(0x10000 + i * 0x1000, 0x200000 + i * 0x1000);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(mmu->translate(0x10000 + i * 0x1000, false, Picoseconds(0)).ok);
  mmu->invalidate_range(7, 0x12000, 0x14000);
  for (int i = 0; i < 8; ++i) {
    mem.log.clear();
    ASSERT_TRUE(mmu->translate(0x10000 + i * 0x1000, false, Picoseconds(0)).ok);
    const bool walked = !mem.log.empty();
    EXPECT_EQ(walked, i == 2 || i == 3) << i;
  }
}

TEST_F(MmuFixture, HostPrefetchesNameTheWalksLeafAndTheDataAndChangeNothing) {
  // Two 4 KiB pages under one page table, a 2 MiB page, and an unmapped address.
  const VirtAddr a = 0x7f00'0040'0000, b = a + 0x5000, huge = 0x7f00'0080'0000, unmapped = 0x7e00'0000'0000;
  pt.map(a, 0x4000'0000, PageSize::k4K, pte::kRw | pte::kAccessed);
  pt.map(b, 0x4444'0000, PageSize::k4K, pte::kRw | pte::kAccessed);
  pt.map(huge, 0x8000'0000, PageSize::k2M, pte::kRw | pte::kAccessed);
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  ASSERT_TRUE(mmu->translate(a, false, Picoseconds(0)).ok);  // the PDE cache now holds a's page table
  const MmuStats before = mmu->stats();
  const PageWalkCacheStats pwc_before = mmu->pwc().stats();
  const std::size_t accesses = mem.log.size(), bit_sets = pt.bit_sets.size();

  mmu->prefetch_walk(b + 0x123);
  EXPECT_EQ(pt.prefetched_ptes, std::vector<PhysAddr>{pt.entry_addr(b, 3)});
  EXPECT_EQ(mem.prefetched, std::vector<PhysAddr>{pt.entry_addr(b, 3)});
  mem.prefetched.clear();
  mmu->prefetch_data(b + 0x123);
  EXPECT_EQ(mem.prefetched, std::vector<PhysAddr>{0x4444'0123});
  mem.prefetched.clear();
  // prefetch_data takes the leaf entry prefetch_walk found (not peeking the
  // tables again) but reads its value now: a page remapped in between is
  // prefetched at its new frame.
  mmu->prefetch_walk(b + 0x40);
  pt.map(b, 0x4555'0000, PageSize::k4K, pte::kRw | pte::kAccessed);
  mem.prefetched.clear();
  mmu->prefetch_data(b + 0x40);
  EXPECT_EQ(mem.prefetched, std::vector<PhysAddr>{0x4555'0040});
  mem.prefetched.clear();
  pt.prefetched_ptes.clear();
  // A 2 MiB leaf: the walk has no leaf table to prefetch (only the entries it reads),
  // the data address keeps the offset within the huge page.
  mmu->prefetch_walk(huge + 0x12'3456);
  EXPECT_TRUE(pt.prefetched_ptes.empty());
  EXPECT_EQ(mem.prefetched.back(), pt.entry_addr(huge, 2));
  mem.prefetched.clear();
  mmu->prefetch_data(huge + 0x12'3456);
  EXPECT_EQ(mem.prefetched, std::vector<PhysAddr>{0x8012'3456});
  mem.prefetched.clear();
  mmu->prefetch_data(unmapped);
  mmu->prefetch_walk(unmapped);
  EXPECT_TRUE(pt.prefetched_ptes.empty());  // no table below the missing entry
  // A 1 GiB leaf, and a walk the paging-structure caches know nothing of (from CR3).
  const VirtAddr giga = 0x7e80'0000'0000, cold = 0x5500'0000'1000;
  pt.map(giga, 0x1'4000'0000, PageSize::k1G, pte::kRw | pte::kAccessed);
  pt.map(cold, 0x6000'0000, PageSize::k4K, pte::kRw | pte::kAccessed);
  mem.prefetched.clear();
  mmu->prefetch_data(giga + 0x1234'5678);
  EXPECT_EQ(mem.prefetched, std::vector<PhysAddr>{0x1'4000'0000 + 0x1234'5678});
  mem.prefetched.clear();
  mmu->prefetch_walk(cold + 8);
  EXPECT_EQ(pt.prefetched_ptes, std::vector<PhysAddr>{pt.entry_addr(cold, 3)});
  EXPECT_EQ(mem.prefetched, (std::vector<PhysAddr>{pt.entry_addr(cold, 0), pt.entry_addr(cold, 1),
                                                   pt.entry_addr(cold, 2), pt.entry_addr(cold, 3)}));
  mem.prefetched.clear();

  // Nothing simulated moved: no access, no A/D update, no statistic, no TLB or PWC fill.
  EXPECT_EQ(mem.log.size(), accesses);
  EXPECT_EQ(pt.bit_sets.size(), bit_sets);
  EXPECT_EQ(mmu->stats().walks, before.walks);
  EXPECT_EQ(mmu->stats().walk_reads, before.walk_reads);
  EXPECT_EQ(mmu->pwc().stats().hits, pwc_before.hits);
  EXPECT_EQ(mmu->pwc().stats().misses, pwc_before.misses);
  Translation tr = mmu->translate(b, false, Picoseconds(0));  // still a walk from the PDE cache: one read
  ASSERT_TRUE(tr.ok);
  EXPECT_EQ(mem.log.size(), accesses + 1);
  EXPECT_EQ(mmu->stats().walks, before.walks + 1);
}

// Skylake's L1 4 KiB array has 16 sets: pages 16 apart share one.
constexpr VirtAddr kL1SetStride = 16 * 0x1000;

// A translation no TLB level holds faults: the fault handler finds the TLB
// as it was (nothing dropped, nothing filled), the retry fills both levels
// once, and the entries of the set keep their LRU order (the fault's page
// evicts the oldest of the four).
TEST_F(MmuFixture, MissInEveryLevelThenFaultThenRetryFillsOnceAndKeepsTheSetsOrder) {
  const VirtAddr base = 0x7f00'0000'0000;
  for (int i = 0; i < 4; ++i) pt.map(base + i * kL1SetStride, 0x10'0000 + i * 0x1000);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(mmu->translate(base + i * kL1SetStride, false, Picoseconds(0)).ok);
  const VirtAddr f = base + 4 * kL1SetStride;  // same L1 set, same page table, not mapped yet
  int handled = 0;
  pt.on_fault = [&](VirtAddr va, bool write) {
    ++handled;
    EXPECT_EQ(va, f + 0x18);
    EXPECT_FALSE(write);
    EXPECT_EQ(held(*mmu, 0, PageSize::k4K), 4u);
    EXPECT_EQ(held(*mmu, 1, PageSize::k4K), 4u);
    pt.map(f, 0x20'0000);
    return true;
  };
  mem.log.clear();
  const Picoseconds t0(1'000'000);
  const Translation tr = mmu->translate(f + 0x18, false, t0);
  ASSERT_TRUE(tr.ok);
  EXPECT_EQ(tr.pa, 0x20'0018u);
  EXPECT_EQ(handled, 1);
  // STLB probe, the leaf read (not present; the PDE cache holds the table),
  // the fault, the leaf again and its accessed bit.
  const Picoseconds fault = kClock.to_time(Cycles(1000)) + Picoseconds(50'000);
  EXPECT_EQ(tr.ready, t0 + kClock.to_time(Cycles(9)) + kMem + fault + kMem * 2);
  EXPECT_EQ(mem.log.size(), 3u);
  EXPECT_EQ(mmu->stats().faults, 1u);
  EXPECT_EQ(mmu->stats().walks, 6u);
  EXPECT_EQ(mmu->tlb().stats(0).misses[0], 5u);  // one miss per translation, counted at the fill
  EXPECT_EQ(mmu->tlb().stats(1).misses[0], 5u);
  EXPECT_EQ(held(*mmu, 0, PageSize::k4K), 4u);
  EXPECT_EQ(held(*mmu, 1, PageSize::k4K), 5u);
  // The oldest page left the L1 set; the other three and the new one hit it.
  mem.log.clear();
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(mmu->translate(base + i * kL1SetStride, false, t0).ok);
  EXPECT_TRUE(mem.log.empty());
  EXPECT_EQ(mmu->tlb().stats(0).hits[0], 4u);
  EXPECT_EQ(mmu->tlb().stats(1).hits[0], 0u);
  const Translation oldest = mmu->translate(base, false, t0);
  EXPECT_TRUE(mem.log.empty());
  EXPECT_EQ(oldest.ready, t0 + kClock.to_time(Cycles(9)));
  EXPECT_EQ(mmu->tlb().stats(1).hits[0], 1u);
}

// A write the L1 entry does not permit (read-only, or a clean entry whose
// PTE was write-protected behind the TLB) walks without an STLB look-up, and
// its #PF drops the entry from both levels before the OS runs. After a
// SIGSEGV, a read walks again instead of using the stale entry.
TEST_F(MmuFixture, L1PermissionMissThenFaultDropsTheStaleEntryFromBothLevels) {
  for (const bool clean : {false, true}) {
    SCOPED_TRACE(clean ? "clean entry" : "read-only entry");
    const VirtAddr va = read_once_without_write_permission(clean);
    const std::uint32_t l1 = held(*mmu, 0, PageSize::k4K), stlb = held(*mmu, 1, PageSize::k4K);
    const std::uint64_t stlb_probes = mmu->tlb().stats(1).total_hits();
    pt.on_fault = [&](VirtAddr, bool write) {
      EXPECT_TRUE(write);
      EXPECT_EQ(held(*mmu, 0, PageSize::k4K), l1 - 1);
      EXPECT_EQ(held(*mmu, 1, PageSize::k4K), stlb - 1);
      return false;  // SIGSEGV
    };
    const int faults = pt.faults;
    EXPECT_FALSE(mmu->translate(va + 8, true, Picoseconds(0)).ok);
    EXPECT_EQ(pt.faults, faults + 1);
    EXPECT_EQ(mmu->tlb().stats(1).total_hits(), stlb_probes);
    mem.log.clear();
    ASSERT_TRUE(mmu->translate(va, false, Picoseconds(0)).ok);
    EXPECT_FALSE(mem.log.empty()) << "the stale entry answered the read";
  }
}

// The same with the entry in the STLB only (the L1 set refilled by four
// other pages): the STLB hit does not permit the write, the walk faults and
// the #PF drops the STLB's entry. Copy-on-write then maps a new frame,
// writable: the retry's translation is the new one, in both levels.
TEST_F(MmuFixture, StlbPermissionMissThenFaultDropsTheStaleEntry) {
  for (const bool clean : {false, true}) {
    SCOPED_TRACE(clean ? "clean entry" : "read-only entry");
    const VirtAddr va = read_once_without_write_permission(clean);
    for (int i = 1; i <= 4; ++i) {
      pt.map(va + i * kL1SetStride, 0x40'0000 + i * 0x1000);
      ASSERT_TRUE(mmu->translate(va + i * kL1SetStride, false, Picoseconds(0)).ok);
    }
    const std::uint32_t l1 = held(*mmu, 0, PageSize::k4K), stlb = held(*mmu, 1, PageSize::k4K);
    const std::uint64_t stlb_hits = mmu->tlb().stats(1).hits[0];
    int handled = 0;
    pt.on_fault = [&](VirtAddr, bool write) {
      ++handled;
      EXPECT_TRUE(write);
      EXPECT_EQ(held(*mmu, 0, PageSize::k4K), l1) << "the L1 held no entry of the page";
      EXPECT_EQ(held(*mmu, 1, PageSize::k4K), stlb - 1) << "the STLB's stale entry is dropped at the #PF";
      pt.map(va, 0x50'0000, PageSize::k4K, pte::kRw);  // copy-on-write: a new frame
      return true;
    };
    const Translation tr = mmu->translate(va + 8, true, Picoseconds(0));
    ASSERT_TRUE(tr.ok);
    EXPECT_EQ(tr.pa, 0x50'0008u);
    EXPECT_EQ(handled, 1);
    EXPECT_EQ(mmu->tlb().stats(1).hits[0], stlb_hits + 1);  // the STLB answered, without the permission
    EXPECT_EQ(held(*mmu, 1, PageSize::k4K), stlb);
    mem.log.clear();
    const Translation again = mmu->translate(va + 16, true, Picoseconds(0));
    EXPECT_EQ(again.pa, 0x50'0010u);
    EXPECT_TRUE(mem.log.empty());
    pt.on_fault = nullptr;
    mmu->invalidate_all();
  }
}

// One L1 array for every page size (a shared 4K+2M+1G array): once its 4 KiB
// entries are gone, a 2 MiB translation still hits it at the L1's latency;
// once the 2 MiB ones are gone too, a 1 GiB one; an invalidation of the last
// size drops it (the next translation walks).
TEST(MmuSharedL1, LargerPagesHitOnceTheSmallerSizesAreEmpty) {
  testing::RecordingMemory mem;
  testing::FakePageTables pt;
  MmuParams params;
  const PageSizeMask all = page_size_bit(PageSize::k4K) | page_size_bit(PageSize::k2M) | page_size_bit(PageSize::k1G);
  params.tlb.l1 = {{"l1d", 64, 4, 1, all}};
  Mmu mmu(CpuId(0), kClock, params, mem, pt);
  mmu.switch_context({pt.cr3, 7, nullptr});
  const VirtAddr small = 0x10'0000'1000, huge = 0x10'4000'0000, giant = 0x20'0000'0000;
  pt.map(small, 0x1000'0000, PageSize::k4K, pte::kRw | pte::kAccessed);
  pt.map(huge, 0x8000'0000, PageSize::k2M, pte::kRw | pte::kAccessed);
  pt.map(giant, 0x1'0000'0000, PageSize::k1G, pte::kRw | pte::kAccessed);
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  for (VirtAddr va : {small, huge, giant}) ASSERT_TRUE(mmu.translate(va, false, Picoseconds(0)).ok);
  for (int s = 0; s < kNumPageSizes; ++s) EXPECT_EQ(held(mmu, 0, PageSize(s)), 1u) << s;
  const Picoseconds t0(1'000'000), l1_hit = t0 + kClock.to_time(Cycles(1));

  mmu.invalidate_page(7, small);
  EXPECT_EQ(held(mmu, 0, PageSize::k4K), 0u);
  mem.log.clear();
  Translation tr = mmu.translate(huge + 0x1'2345, false, t0);
  EXPECT_EQ(tr.pa, 0x8001'2345u);
  EXPECT_EQ(tr.ready, l1_hit);
  EXPECT_EQ(mmu.tlb().stats(0).hits[1], 1u);
  tr = mmu.translate(giant + 0x1234'5678, false, t0);
  EXPECT_EQ(tr.pa, 0x1'1234'5678u);
  EXPECT_EQ(tr.ready, l1_hit);

  mmu.invalidate_page(7, huge + 0x10'0000);
  EXPECT_EQ(held(mmu, 0, PageSize::k2M), 0u);
  EXPECT_EQ(held(mmu, 1, PageSize::k2M), 0u);
  tr = mmu.translate(giant + 8, false, t0);
  EXPECT_EQ(tr.ready, l1_hit);
  EXPECT_EQ(mmu.tlb().stats(0).hits[2], 2u);
  EXPECT_TRUE(mem.log.empty());

  mmu.invalidate_page(7, giant + 0x3000'0000);
  EXPECT_EQ(held(mmu, 0, PageSize::k1G), 0u);
  EXPECT_EQ(held(mmu, 1, PageSize::k1G), 0u);
  ASSERT_TRUE(mmu.translate(giant, false, t0).ok);
  EXPECT_EQ(mem.log.size(), 2u) << "the 1 GiB walk: PML4E and PDPTE";
}

// Skylake's STLB holds 4 KiB and 2 MiB pages in one array: with no 4 KiB
// entry in it, a 2 MiB translation the L1 lost (its 2 MiB set refilled by
// four other huge pages) is still an STLB hit.
TEST_F(MmuFixture, TwoMegabyteStlbHitWithNoFourKilobyteEntry) {
  constexpr VirtAddr k2M = 2ull << 20, l1_2m_set_stride = 8 * k2M;  // 32 entries, 4 ways: 8 sets
  const VirtAddr huge = 0x40'0000'0000;
  for (int i = 0; i <= 4; ++i)
    pt.map(huge + i * l1_2m_set_stride, 0x8000'0000 + i * k2M, PageSize::k2M, pte::kRw | pte::kAccessed);
  for (auto& [addr, e] : pt.entries) e |= pte::kAccessed;
  for (int i = 0; i <= 4; ++i) ASSERT_TRUE(mmu->translate(huge + i * l1_2m_set_stride, false, Picoseconds(0)).ok);
  EXPECT_EQ(held(*mmu, 1, PageSize::k4K), 0u);
  EXPECT_EQ(held(*mmu, 1, PageSize::k2M), 5u);
  EXPECT_EQ(held(*mmu, 0, PageSize::k2M), 4u);
  mem.log.clear();
  const Picoseconds t0(1'000'000);
  const Translation tr = mmu->translate(huge + 0x1'2345, false, t0);
  EXPECT_EQ(tr.pa, 0x8001'2345u);
  EXPECT_EQ(tr.ready, t0 + kClock.to_time(Cycles(9)));
  EXPECT_TRUE(mem.log.empty());
  EXPECT_EQ(mmu->tlb().stats(1).hits[1], 1u);
}

}  // namespace
}  // namespace numasim::hw
