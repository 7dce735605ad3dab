// Swap and migration entries (include/linux/swapops.h, include/linux/swap.h and
// arch/x86/include/asm/pgtable_64.h): a non-present PTE that is neither none nor
// PROT_NONE holds a swap entry, a (type, offset) pair. Types 0..MAX_SWAPFILES-1
// name swap devices (offset = slot); the types above them are special entries,
// here the three migration types whose offset is the PFN of the page being
// migrated. In the PTE the layout is x86-64's: type in bits 59-63, the offset
// inverted in bits 9-58 (x86's L1TF mitigation: the PFN bits of a non-present
// entry point above real memory), bits 0 (_PAGE_PRESENT) and 8 (_PAGE_PROTNONE)
// always clear.
// Simplified: a kernel built without CONFIG_DEVICE_PRIVATE, CONFIG_MEMORY_FAILURE
// and CONFIG_PTE_MARKER (no device, hwpoison or marker types, so MAX_SWAPFILES
// is 32 - 3); no soft-dirty, uffd-wp or exclusive bits are carried in the PTE.
#pragma once

#include <cstdint>

#include "os/pgtable.h"

namespace numasim::os {

// swp_entry_t: the arch-independent form, type in the top bits (swp_entry).
struct swp_entry_t {
  std::uint64_t val = 0;
  friend bool operator==(swp_entry_t a, swp_entry_t b) { return a.val == b.val; }
};

inline constexpr unsigned MAX_SWAPFILES_SHIFT = 5;
inline constexpr unsigned SWP_MIGRATION_NUM = 3;  // read, read-exclusive, write
inline constexpr unsigned MAX_SWAPFILES = (1u << MAX_SWAPFILES_SHIFT) - SWP_MIGRATION_NUM;
inline constexpr unsigned SWP_MIGRATION_READ = MAX_SWAPFILES;
inline constexpr unsigned SWP_MIGRATION_READ_EXCLUSIVE = MAX_SWAPFILES + 1;
inline constexpr unsigned SWP_MIGRATION_WRITE = MAX_SWAPFILES + 2;

// Generic encoding (SWP_TYPE_SHIFT = BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT).
inline constexpr unsigned SWP_TYPE_SHIFT = 63 - MAX_SWAPFILES_SHIFT;
inline constexpr std::uint64_t SWP_OFFSET_MASK = (1ull << SWP_TYPE_SHIFT) - 1;

// x86-64 PTE encoding (__swp_entry / __swp_type / __swp_offset).
inline constexpr unsigned SWP_TYPE_BITS = MAX_SWAPFILES_SHIFT;
inline constexpr unsigned SWP_OFFSET_FIRST_BIT = 9;  // _PAGE_BIT_PROTNONE + 1
inline constexpr unsigned SWP_OFFSET_SHIFT = SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS;
// The largest offset a PTE holds: 50 bits (bits 9-58), all ones excepted (with
// type 0 it would encode as a none PTE; Linux never hands out that slot either).
inline constexpr std::uint64_t SWP_PTE_MAX_OFFSET = (1ull << (64 - SWP_OFFSET_SHIFT)) - 2;

// swp_entry.
constexpr swp_entry_t swp_entry(unsigned type, std::uint64_t offset) {
  return swp_entry_t{(static_cast<std::uint64_t>(type) << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK)};
}
// swp_type / swp_offset.
constexpr unsigned swp_type(swp_entry_t e) { return static_cast<unsigned>(e.val >> SWP_TYPE_SHIFT); }
constexpr std::uint64_t swp_offset(swp_entry_t e) { return e.val & SWP_OFFSET_MASK; }

// __swp_entry as a PTE value (x86-64 __swp_entry + __swp_entry_to_pte).
constexpr pteval_t __swp_entry(unsigned type, std::uint64_t offset) {
  return ((~offset << SWP_OFFSET_SHIFT) >> SWP_TYPE_BITS) | (static_cast<pteval_t>(type) << (64 - SWP_TYPE_BITS));
}
constexpr unsigned __swp_type(pteval_t v) { return static_cast<unsigned>(v >> (64 - SWP_TYPE_BITS)); }
constexpr std::uint64_t __swp_offset(pteval_t v) { return (~v << SWP_TYPE_BITS) >> SWP_OFFSET_SHIFT; }

// is_swap_pte: not none, not present and not PROT_NONE (Linux's pte_present
// counts PROT_NONE entries as present; ours does not, hence the extra test).
constexpr bool is_swap_pte(pteval_t v) { return !pte_none(v) && !pte_present(v) && !pte_protnone(v); }
// pte_to_swp_entry / swp_entry_to_pte.
constexpr swp_entry_t pte_to_swp_entry(pteval_t v) { return swp_entry(__swp_type(v), __swp_offset(v)); }
constexpr pteval_t swp_entry_to_pte(swp_entry_t e) { return __swp_entry(swp_type(e), swp_offset(e)); }

// non_swap_entry: a special entry, not a slot of a swap device.
constexpr bool non_swap_entry(swp_entry_t e) { return swp_type(e) >= MAX_SWAPFILES; }

// Migration entries (CONFIG_MIGRATION).
constexpr bool is_migration_entry(swp_entry_t e) {
  const unsigned t = swp_type(e);
  return t == SWP_MIGRATION_READ || t == SWP_MIGRATION_READ_EXCLUSIVE || t == SWP_MIGRATION_WRITE;
}
constexpr bool is_writable_migration_entry(swp_entry_t e) { return swp_type(e) == SWP_MIGRATION_WRITE; }
constexpr bool is_readable_exclusive_migration_entry(swp_entry_t e) {
  return swp_type(e) == SWP_MIGRATION_READ_EXCLUSIVE;
}
constexpr swp_entry_t make_readable_migration_entry(std::uint64_t pfn) { return swp_entry(SWP_MIGRATION_READ, pfn); }
constexpr swp_entry_t make_readable_exclusive_migration_entry(std::uint64_t pfn) {
  return swp_entry(SWP_MIGRATION_READ_EXCLUSIVE, pfn);
}
constexpr swp_entry_t make_writable_migration_entry(std::uint64_t pfn) { return swp_entry(SWP_MIGRATION_WRITE, pfn); }
// is_pfn_swap_entry / swp_offset_pfn: entries whose offset is a PFN.
constexpr bool is_pfn_swap_entry(swp_entry_t e) { return is_migration_entry(e); }
constexpr std::uint64_t swp_offset_pfn(swp_entry_t e) { return swp_offset(e); }

// The encodings must stay clear of the bits that give a PTE its kind.
static_assert((__swp_entry(0, 0) & (_PAGE_PRESENT | _PAGE_PROTNONE)) == 0);
static_assert((__swp_entry(31, SWP_PTE_MAX_OFFSET) & (_PAGE_PRESENT | _PAGE_PROTNONE)) == 0);
static_assert(__swp_entry(0, SWP_PTE_MAX_OFFSET) != 0);
static_assert(SWP_MIGRATION_WRITE == (1u << MAX_SWAPFILES_SHIFT) - 1);

}  // namespace numasim::os
