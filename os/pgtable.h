// x86-64 page tables kept in simulated physical frames (arch/x86/include/asm/
// pgtable_types.h, mm/memory.c walkers). Each table is one 4 KiB frame obtained
// from a frame source (the buddy allocator, on the faulting task's node); its 512
// entries are stored host-side, indexed by frame, so that the hardware walker in
// hw/ can read them at their physical addresses (read_pte) and set accessed/dirty
// bits (set_pte_bits). Every entry the kernel writes costs a Platform::kernel_write
// of 8 bytes from the CPU doing it. 4-level (PGD/PUD/PMD/PTE) or 5-level (with
// P4D) radix; leaves at PMD level (2 MiB) and PUD level (1 GiB) carry _PAGE_PSE.
// Simplified: no split page-table locks, no PAT/PCD/PWT use, no protection keys;
// PROT_NONE entries are non-present entries with _PAGE_PROTNONE like Linux.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/host_pages.h"
#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/platform.h"

namespace numasim::os {

using pteval_t = std::uint64_t;

// Hardware bits (Intel SDM vol. 3 table 4-19, Linux's _PAGE_*).
inline constexpr pteval_t _PAGE_PRESENT = 1ull << 0;
inline constexpr pteval_t _PAGE_RW = 1ull << 1;
inline constexpr pteval_t _PAGE_USER = 1ull << 2;
inline constexpr pteval_t _PAGE_PWT = 1ull << 3;
inline constexpr pteval_t _PAGE_PCD = 1ull << 4;
inline constexpr pteval_t _PAGE_ACCESSED = 1ull << 5;
inline constexpr pteval_t _PAGE_DIRTY = 1ull << 6;
inline constexpr pteval_t _PAGE_PSE = 1ull << 7;  // leaf at PMD (2 MiB) or PUD (1 GiB) level
inline constexpr pteval_t _PAGE_GLOBAL = 1ull << 8;
inline constexpr pteval_t _PAGE_PROTNONE = _PAGE_GLOBAL;  // software: only meaningful when !present
inline constexpr pteval_t _PAGE_SPECIAL = 1ull << 9;      // software: no struct page refcounting (zero page)
inline constexpr pteval_t _PAGE_NX = 1ull << 63;
inline constexpr pteval_t PTE_PFN_MASK = 0x000ffffffffff000ull;
// Entry pointing to a lower-level user table (Linux's _PAGE_TABLE).
inline constexpr pteval_t _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

inline constexpr unsigned PTRS_PER_TABLE = 512;
// Levels: 1 = PTE (4 KiB), 2 = PMD (2 MiB), 3 = PUD (1 GiB), 4 = P4D or PGD, 5 = PGD.
inline constexpr int PTE_LEVEL = 1, PMD_LEVEL = 2, PUD_LEVEL = 3;
constexpr unsigned level_shift(int level) { return 12 + 9 * static_cast<unsigned>(level - 1); }
constexpr std::uint64_t level_size(int level) { return 1ull << level_shift(level); }
constexpr unsigned level_index(VirtAddr va, int level) { return (va >> level_shift(level)) & 511u; }
inline constexpr std::uint64_t PMD_SIZE = 1ull << 21;
inline constexpr std::uint64_t PUD_SIZE = 1ull << 30;

constexpr bool pte_present(pteval_t v) { return (v & _PAGE_PRESENT) != 0; }
constexpr bool pte_none(pteval_t v) { return v == 0; }
constexpr bool pmd_none(pteval_t v) { return v == 0; }
constexpr bool pte_protnone(pteval_t v) { return (v & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE; }
constexpr PhysAddr pte_phys(pteval_t v) { return v & PTE_PFN_MASK; }
constexpr bool pte_write(pteval_t v) { return (v & _PAGE_RW) != 0; }
constexpr bool pte_huge(pteval_t v) { return (v & _PAGE_PSE) != 0; }

// Where page-table frames come from (the kernel wires this to the buddy allocator).
class PgtableFrameSource {
 public:
  virtual ~PgtableFrameSource() = default;
  // pte_alloc_one / pmd_alloc_one...: a zeroed frame for a table, or nullopt (OOM).
  virtual std::optional<PhysAddr> alloc_pgtable_frame(CpuId cpu, KernelCost& cost) = 0;
  virtual void free_pgtable_frame(CpuId cpu, PhysAddr frame, KernelCost& cost) = 0;
};

// An entry found by a walk: its physical address, a host pointer to its value,
// and the level it sits at. `host == nullptr` means nothing was found.
struct PteRef {
  PhysAddr addr = 0;
  pteval_t* host = nullptr;
  int level = 0;
  explicit operator bool() const { return host != nullptr; }
  pteval_t value() const { return *host; }
};

struct PgtableParams {
  int levels = 4;                       // 4 or 5 (LA57)
  std::uint64_t pte_update_cycles = 0;  // CPU cycles per entry written, on top of its memory traffic
};

class PageTables {
 public:
  PageTables(Platform& platform, PgtableFrameSource& frames, PgtableParams params);
  ~PageTables();
  PageTables(const PageTables&) = delete;
  PageTables& operator=(const PageTables&) = delete;

  int levels() const { return params_.levels; }

  // pgd_alloc: a fresh, empty top-level table.
  std::optional<PhysAddr> pgd_alloc(CpuId cpu, KernelCost& cost);
  // pgd_free after free_pgtables emptied it (aborts if not empty).
  void pgd_free(CpuId cpu, PhysAddr pgd, KernelCost& cost);

  // --- hardware view (the walker in hw/) ---
  // Value of the 8-byte entry at entry_addr; 0 when the frame holds no table.
  // Inline: the hardware walker reads two to four entries per walk.
  pteval_t read_pte(PhysAddr entry_addr) const {
    const Table* t = table_of(entry_addr & ~static_cast<PhysAddr>(kPageSize - 1));
    return t ? t->e[(entry_addr & (kPageSize - 1)) >> 3] : 0;
  }
  // The entry's host copy (nullptr when the frame holds no table), for the
  // walker's host prefetches (hw/mmu.cpp keeps it between two of them). It
  // stays readable while these tables live (the pools are never released),
  // but once the table is freed it may hold another table's entry.
  const pteval_t* pte_host(PhysAddr entry_addr) const {
    const Table* t = table_of(entry_addr & ~static_cast<PhysAddr>(kPageSize - 1));
    return t ? &t->e[(entry_addr & (kPageSize - 1)) >> 3] : nullptr;
  }
  // A host prefetch of that entry's host memory (nothing when the frame holds no table).
  void prefetch_pte(PhysAddr entry_addr) const {
    if (const pteval_t* e = pte_host(entry_addr)) __builtin_prefetch(e);
  }
  // OR bits into an entry (the walker setting _PAGE_ACCESSED / _PAGE_DIRTY); no cost.
  void set_pte_bits(PhysAddr entry_addr, pteval_t bits);

  // --- kernel view ---
  // set_pte/set_pmd...: write an entry; charges kernel_write(8 bytes) + pte_update_cycles.
  void set_entry(CpuId cpu, const PteRef& ref, pteval_t value, KernelCost& cost);
  // Walk from pgd towards `target_level` without allocating. Returns the entry at
  // target_level, or an earlier huge leaf, or the first none/non-present
  // intermediate entry (ref.level tells which), never null for a valid pgd.
  PteRef walk(PhysAddr pgd, VirtAddr va, int target_level) const;
  // Walk allocating missing intermediate tables (__pte_alloc / __pmd_alloc...).
  // Returns the entry at target_level, an earlier huge leaf (ref.level > target),
  // or a null ref when a table frame could not be allocated.
  // A walk to the PMD level of the same 2 MiB as the last one (every fault of
  // a stream of pages within one PMD) returns that walk's entry again, while no
  // entry above the PMDs changed and no table was freed (upper_changes_): it
  // would read the same entries and allocate nothing.
  PteRef walk_alloc(CpuId cpu, PhysAddr pgd, VirtAddr va, int target_level, KernelCost& cost) {
    if (target_level == PMD_LEVEL) {
      if (pmd_memo_.host && pmd_memo_.changes == upper_changes_ && pmd_memo_.pgd == pgd &&
          pmd_memo_.span == va >> level_shift(PMD_LEVEL))
        return PteRef{pmd_memo_.addr, pmd_memo_.host, PMD_LEVEL};
      const PteRef r = walk_alloc_from(cpu, pgd, params_.levels, va, target_level, cost);
      if (r.level == PMD_LEVEL) pmd_memo_ = {pgd, va >> level_shift(PMD_LEVEL), r.addr, r.host, upper_changes_};
      return r;
    }
    return walk_alloc_from(cpu, pgd, params_.levels, va, target_level, cost);
  }
  // The same walk continued below `from`, an entry a walk of `va` returned
  // (__pte_alloc after the PMD stage of a fault): the result walk_alloc from the
  // top would give, without reading the levels above `from` again.
  PteRef walk_alloc_below(CpuId cpu, const PteRef& from, VirtAddr va, int target_level, KernelCost& cost);
  // Visit every non-none leaf entry (4 KiB PTE or huge PMD/PUD) mapping a page that
  // starts in [start, end), in address order. `va` is the leaf's first address.
  void for_each_leaf(PhysAddr pgd, VirtAddr start, VirtAddr end,
                     const std::function<void(VirtAddr va, const PteRef& ref)>& fn) const;
  // free_pgd_range: free page-table frames covering only [floor, ceiling) and
  // reachable from [start, end); every leaf there must already be none.
  // Returns the number of table frames freed.
  std::size_t free_pgd_range(CpuId cpu, PhysAddr pgd, VirtAddr start, VirtAddr end, VirtAddr floor, VirtAddr ceiling,
                             KernelCost& cost);

  // Software walk (follow_page-like): physical address that va translates to and
  // the leaf's value, or nullopt when there is no present leaf.
  struct Translation {
    PhysAddr phys;
    pteval_t leaf;
    int level;
  };
  std::optional<Translation> translate(PhysAddr pgd, VirtAddr va) const;

  bool is_table(PhysAddr frame) const { return slot_of(frame >> kPageShift) != 0; }
  std::size_t nr_tables() const { return nr_tables_; }
  // Non-none entries in a table frame (for the consistency checker).
  unsigned table_used(PhysAddr frame) const;
  // The 512 entries of the table in `frame` (nullptr when it holds no table) and
  // how many are non-none (*used), for walkers (pagewalk.cpp). Writes through
  // the pointer bypass accounting: write with set_entry.
  pteval_t* table_entries(PhysAddr frame, unsigned* used) const {
    const std::uint32_t s = slot_of(frame >> kPageShift);
    if (!s) return nullptr;
    *used = used_[s - 1];
    return table_at(s - 1)->e.data();
  }
  // Every table frame reachable from pgd (including it), each with its level.
  void for_each_table(PhysAddr pgd, const std::function<void(PhysAddr frame, int level)>& fn) const;

 private:
  // Host layout (models nothing). A table's 512 entries are one 4 KiB Table in
  // pools of 512 (2 MiB, advised for host huge pages: common/host_pages.h),
  // its count of non-none entries in used_. A frame finds its table's slot
  // through a two-level radix over PFNs whose chunks (2^19 frames, 2 GiB of
  // physical memory: 2 MiB of slots) are huge-page runs too. A walk on GUPS
  // reads entries of thousands of tables at random: with one heap block per
  // table on 4 KiB host pages, each read was also a host TLB miss. Three
  // dependent loads per look-up (chunk, slot, pool), the first and last small
  // arrays: this is on the hardware walker's path.
  struct Table {
    std::array<pteval_t, PTRS_PER_TABLE> e;
  };
  static constexpr unsigned kChunkShift = 19;
  static constexpr unsigned kPoolShift = 9;  // tables per pool: 2^9
  // Slot + 1 of the table in frame `pfn` (0: no table).
  std::uint32_t slot_of(std::uint64_t pfn) const {
    const std::uint64_t c = pfn >> kChunkShift;
    return c < chunks_.size() && chunks_[c] ? chunks_[c][pfn & ((1u << kChunkShift) - 1)] : 0;
  }
  void set_slot(std::uint64_t pfn, std::uint32_t slot_plus_one);
  Table* table_at(std::uint32_t slot) const {
    return static_cast<Table*>(pools_[slot >> kPoolShift].data()) + (slot & ((1u << kPoolShift) - 1));
  }
  Table* table_of(PhysAddr frame) const {
    const std::uint32_t s = slot_of(frame >> kPageShift);
    return s ? table_at(s - 1) : nullptr;
  }
  // Non-none entries of the table in `frame`, which must hold one.
  std::uint32_t used_of(PhysAddr frame) const { return used_[slot_of(frame >> kPageShift) - 1]; }
  std::optional<PhysAddr> alloc_table(CpuId cpu, KernelCost& cost);
  // walk_alloc from the table in `frame` at `level`.
  PteRef walk_alloc_from(CpuId cpu, PhysAddr frame, int level, VirtAddr va, int target_level, KernelCost& cost);
  // The frame of the table below the intermediate entry `r`, allocated and linked
  // when the entry is none (__pte_alloc, __pmd_alloc...); nullopt without a frame.
  std::optional<PhysAddr> table_below(CpuId cpu, const PteRef& r, KernelCost& cost);
  void free_table(CpuId cpu, PhysAddr frame, KernelCost& cost);
  PteRef ref(Table* t, PhysAddr frame, unsigned idx, int level) const {
    return PteRef{frame + idx * 8ull, &t->e[idx], level};
  }
  void leaves_rec(PhysAddr frame, int level, VirtAddr base, VirtAddr start, VirtAddr end,
                  const std::function<void(VirtAddr, const PteRef&)>& fn) const;
  std::size_t free_rec(CpuId cpu, PhysAddr frame, int level, VirtAddr base, VirtAddr start, VirtAddr end,
                       VirtAddr floor, VirtAddr ceiling, KernelCost& cost);

  Platform& platform_;
  PgtableFrameSource& frames_;
  PgtableParams params_;
  // Chunk c's slots (null: no table has been there), in chunk_blocks_.
  std::vector<std::uint32_t*> chunks_;
  std::vector<HostHugeBlock> chunk_blocks_;  // the chunks' host memory
  std::vector<HostHugeBlock> pools_;
  std::vector<std::uint32_t> used_;  // by slot
  std::size_t nr_tables_ = 0;
  std::vector<std::uint32_t> free_slots_;
  // walk_alloc's last walk to a PMD entry (host null: none). upper_changes_
  // counts the writes of entries above the PMD level and the tables freed:
  // either may change or end the path that walk took.
  struct PmdMemo {
    PhysAddr pgd = 0;
    std::uint64_t span = 0;  // va >> level_shift(PMD_LEVEL): the 2 MiB one PMD entry maps
    PhysAddr addr = 0;
    pteval_t* host = nullptr;
    std::uint64_t changes = 0;
  };
  PmdMemo pmd_memo_;
  std::uint64_t upper_changes_ = 0;
};

}  // namespace numasim::os
