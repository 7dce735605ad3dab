// Swap and migration entries in non-present PTEs (os/swapops.h): every type and
// offsets up to the largest a PTE holds survive the round trip through the PTE
// encoding, the entry never looks present, PROT_NONE or none, the bits sit where
// x86-64 puts them, and the migration types sit at the top of the type space.
#include "os/swapops.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace numasim::os;

namespace {

std::vector<std::uint64_t> interesting_offsets() {
  std::vector<std::uint64_t> v{0, 1, 2, 3, SWP_PTE_MAX_OFFSET - 1, SWP_PTE_MAX_OFFSET};
  for (unsigned b = 1; b < 50; ++b) {
    v.push_back((1ull << b) - 1);
    v.push_back(1ull << b);
    v.push_back((1ull << b) + 1);
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) v.push_back(rng() % (SWP_PTE_MAX_OFFSET + 1));
  return v;
}

TEST(SwapOps, EveryTypeAndOffsetRoundTripsThroughThePte) {
  const auto offsets = interesting_offsets();
  for (unsigned type = 0; type < (1u << MAX_SWAPFILES_SHIFT); ++type) {
    for (std::uint64_t off : offsets) {
      const swp_entry_t e = swp_entry(type, off);
      ASSERT_EQ(swp_type(e), type);
      ASSERT_EQ(swp_offset(e), off);
      const pteval_t pte = swp_entry_to_pte(e);
      ASSERT_FALSE(pte_present(pte)) << type << " " << off;
      ASSERT_FALSE(pte_protnone(pte)) << type << " " << off;
      ASSERT_FALSE(pte_none(pte)) << type << " " << off;
      ASSERT_TRUE(is_swap_pte(pte)) << type << " " << off;
      ASSERT_EQ(pte_to_swp_entry(pte), e) << type << " " << off;
      ASSERT_EQ(__swp_type(pte), type);
      ASSERT_EQ(__swp_offset(pte), off);
    }
  }
}

TEST(SwapOps, X86LayoutTypeOnTopOffsetInvertedFromBitNine) {
  // Type in bits 59-63.
  EXPECT_EQ(__swp_entry(31, 5) >> 59, 31u);
  EXPECT_EQ(__swp_entry(1, 5) >> 59, 1u);
  // Offset 0 is stored as all ones in bits 9-58; bits 0-8 stay clear.
  EXPECT_EQ(__swp_entry(0, 0), ((1ull << 50) - 1) << 9);
  EXPECT_EQ(__swp_entry(0, 1), ((1ull << 50) - 2) << 9);
  for (std::uint64_t off : interesting_offsets()) EXPECT_EQ(__swp_entry(7, off) & 0x1ff, 0u);
  // The largest offset still gives a non-none entry with type 0.
  EXPECT_NE(__swp_entry(0, SWP_PTE_MAX_OFFSET), 0u);
}

TEST(SwapOps, PresentProtNoneAndNoneEntriesAreNotSwapEntries) {
  EXPECT_FALSE(is_swap_pte(0));
  EXPECT_FALSE(is_swap_pte(0x1234000 | _PAGE_PRESENT | _PAGE_RW));
  EXPECT_FALSE(is_swap_pte(0x1234000 | _PAGE_PROTNONE | _PAGE_ACCESSED));
  EXPECT_FALSE(is_swap_pte(0x1234000 | _PAGE_PROTNONE | _PAGE_PSE));
}

TEST(SwapOps, MigrationTypesAreTheTopOfTheTypeSpace) {
  EXPECT_EQ(MAX_SWAPFILES, 29u);
  EXPECT_EQ(SWP_MIGRATION_READ, 29u);
  EXPECT_EQ(SWP_MIGRATION_READ_EXCLUSIVE, 30u);
  EXPECT_EQ(SWP_MIGRATION_WRITE, 31u);
  const std::uint64_t pfn = 0xabcdef;
  const swp_entry_t r = make_readable_migration_entry(pfn);
  const swp_entry_t rx = make_readable_exclusive_migration_entry(pfn);
  const swp_entry_t w = make_writable_migration_entry(pfn);
  for (swp_entry_t e : {r, rx, w}) {
    EXPECT_TRUE(is_migration_entry(e));
    EXPECT_TRUE(non_swap_entry(e));
    EXPECT_TRUE(is_pfn_swap_entry(e));
    EXPECT_EQ(swp_offset_pfn(e), pfn);
    EXPECT_EQ(pte_to_swp_entry(swp_entry_to_pte(e)), e);
  }
  EXPECT_FALSE(is_writable_migration_entry(r));
  EXPECT_FALSE(is_writable_migration_entry(rx));
  EXPECT_TRUE(is_writable_migration_entry(w));
  EXPECT_TRUE(is_readable_exclusive_migration_entry(rx));
  for (unsigned type = 0; type < MAX_SWAPFILES; ++type) {
    EXPECT_FALSE(non_swap_entry(swp_entry(type, 9)));
    EXPECT_FALSE(is_migration_entry(swp_entry(type, 9)));
  }
}

}  // namespace
