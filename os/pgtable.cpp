// Page-table store and walkers: see pgtable.h.
#include "os/pgtable.h"

#include <cstdio>
#include <cstdlib>

namespace numasim::os {

namespace {
[[noreturn]] void pgtable_bug(const char* what, PhysAddr a) {
  std::fprintf(stderr, "numasim: page-table invariant broken: %s (0x%llx)\n", what, static_cast<unsigned long long>(a));
  std::abort();
}
constexpr PhysAddr kFrameMask = ~static_cast<PhysAddr>(kPageSize - 1);
}  // namespace

PageTables::PageTables(Platform& platform, PgtableFrameSource& frames, PgtableParams params)
    : platform_(platform), frames_(frames), params_(params) {
  if (params_.levels != 4 && params_.levels != 5) pgtable_bug("pgtable levels must be 4 or 5", 0);
}

PageTables::~PageTables() = default;

void PageTables::set_slot(std::uint64_t pfn, std::uint32_t slot_plus_one) {
  const std::uint64_t c = pfn >> kChunkShift;
  if (c >= chunks_.size()) chunks_.resize(c + 1, nullptr);
  if (!chunks_[c]) {
    chunk_blocks_.emplace_back((std::size_t{1} << kChunkShift) * sizeof(std::uint32_t));  // zeroed
    chunks_[c] = static_cast<std::uint32_t*>(chunk_blocks_.back().data());
  }
  chunks_[c][pfn & ((1u << kChunkShift) - 1)] = slot_plus_one;
}

// pte_alloc_one & co: a frame from the source (zeroed there), its host copy cleared.
std::optional<PhysAddr> PageTables::alloc_table(CpuId cpu, KernelCost& cost) {
  auto frame = frames_.alloc_pgtable_frame(cpu, cost);
  if (!frame) return std::nullopt;
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(used_.size());
    used_.push_back(0);
    if ((slot >> kPoolShift) == pools_.size()) pools_.emplace_back(sizeof(Table) << kPoolShift);  // zeroed
  }
  table_at(slot)->e.fill(0);
  used_[slot] = 0;
  if (slot_of(*frame >> kPageShift)) pgtable_bug("frame already holds a table", *frame);
  set_slot(*frame >> kPageShift, slot + 1);
  ++nr_tables_;
  return frame;
}

// pte_free & co.
void PageTables::free_table(CpuId cpu, PhysAddr frame, KernelCost& cost) {
  const std::uint32_t s = slot_of(frame >> kPageShift);
  if (!s) pgtable_bug("freeing a frame that holds no table", frame);
  if (used_[s - 1] != 0) pgtable_bug("freeing a non-empty table", frame);
  free_slots_.push_back(s - 1);
  ++upper_changes_;  // (walk_alloc's memo may lead through it)
  set_slot(frame >> kPageShift, 0);
  --nr_tables_;
  frames_.free_pgtable_frame(cpu, frame, cost);
}

std::optional<PhysAddr> PageTables::pgd_alloc(CpuId cpu, KernelCost& cost) { return alloc_table(cpu, cost); }

void PageTables::pgd_free(CpuId cpu, PhysAddr pgd, KernelCost& cost) { free_table(cpu, pgd, cost); }

void PageTables::set_pte_bits(PhysAddr entry_addr, pteval_t bits) {
  Table* t = table_of(entry_addr & kFrameMask);
  if (!t) return;
  pteval_t& e = t->e[(entry_addr & (kPageSize - 1)) >> 3];
  if (pte_present(e)) e |= bits;  // the hardware only updates present entries
}

unsigned PageTables::table_used(PhysAddr frame) const {
  const std::uint32_t s = slot_of(frame >> kPageShift);
  return s ? used_[s - 1] : 0;
}

// set_pte / set_pmd / set_pud / set_p4d / set_pgd.
void PageTables::set_entry(CpuId cpu, const PteRef& r, pteval_t value, KernelCost& cost) {
  const std::uint32_t s = slot_of(r.addr >> kPageShift);
  if (!s || r.host != &table_at(s - 1)->e[(r.addr & (kPageSize - 1)) >> 3])
    pgtable_bug("stale entry reference", r.addr);
  pteval_t old = *r.host;
  std::uint32_t& used = used_[s - 1];
  if (old == 0 && value != 0) ++used;
  if (old != 0 && value == 0) --used;
  *r.host = value;
  if (r.level > PMD_LEVEL) ++upper_changes_;  // (walk_alloc's memo may lead through it)
  cost.add_cycles(params_.pte_update_cycles);
  cost.add_memory(platform_.kernel_write(cpu, r.addr, Bytes(8)));
}

PteRef PageTables::walk(PhysAddr pgd, VirtAddr va, int target_level) const {
  PhysAddr frame = pgd;
  for (int level = params_.levels;; --level) {
    Table* t = table_of(frame);
    if (!t) pgtable_bug("walk through a frame that holds no table", frame);
    PteRef r = ref(t, frame, level_index(va, level), level);
    pteval_t v = *r.host;
    if (level == target_level || !pte_present(v) || (level <= PUD_LEVEL && pte_huge(v))) return r;
    frame = pte_phys(v);
  }
}

std::optional<PhysAddr> PageTables::table_below(CpuId cpu, const PteRef& r, KernelCost& cost) {
  pteval_t v = *r.host;
  if (v == 0) {
    auto child = alloc_table(cpu, cost);
    if (!child) return std::nullopt;
    set_entry(cpu, r, *child | _PAGE_TABLE, cost);  // pmd_populate & co
    v = *r.host;
  }
  if (!pte_present(v)) pgtable_bug("non-present intermediate entry", r.addr);
  return pte_phys(v);
}

PteRef PageTables::walk_alloc_from(CpuId cpu, PhysAddr frame, int level, VirtAddr va, int target_level,
                                   KernelCost& cost) {
  for (;; --level) {
    Table* t = table_of(frame);
    if (!t) pgtable_bug("walk through a frame that holds no table", frame);
    PteRef r = ref(t, frame, level_index(va, level), level);
    if (level == target_level) return r;
    if (level <= PUD_LEVEL && pte_present(*r.host) && pte_huge(*r.host)) return r;
    const std::optional<PhysAddr> below = table_below(cpu, r, cost);
    if (!below) return PteRef{};
    frame = *below;
  }
}

// From the entry itself, not its table: the walk to `from` already found that
// table, and looking it up again would lengthen the walk's chain of dependent loads.
PteRef PageTables::walk_alloc_below(CpuId cpu, const PteRef& from, VirtAddr va, int target_level, KernelCost& cost) {
  if (from.level <= target_level) return from;
  if (from.level <= PUD_LEVEL && pte_present(*from.host) && pte_huge(*from.host)) return from;
  const std::optional<PhysAddr> below = table_below(cpu, from, cost);
  if (!below) return PteRef{};
  return walk_alloc_from(cpu, *below, from.level - 1, va, target_level, cost);
}

void PageTables::leaves_rec(PhysAddr frame, int level, VirtAddr base, VirtAddr start, VirtAddr end,
                            const std::function<void(VirtAddr, const PteRef&)>& fn) const {
  const std::uint32_t s = slot_of(frame >> kPageShift);
  if (!s) pgtable_bug("walk through a frame that holds no table", frame);
  if (used_[s - 1] == 0) return;
  Table* t = table_at(s - 1);
  const std::uint64_t step = level_size(level);
  unsigned first = start > base ? static_cast<unsigned>((start - base) >> level_shift(level)) : 0;
  for (unsigned i = first; i < PTRS_PER_TABLE; ++i) {
    VirtAddr va = base + i * step;
    if (va >= end) break;
    pteval_t v = t->e[i];
    if (v == 0) continue;
    bool leaf = level == PTE_LEVEL || (level <= PUD_LEVEL && pte_huge(v)) || !pte_present(v);
    if (leaf) {
      if (va >= start) fn(va, ref(t, frame, i, level));
    } else {
      leaves_rec(pte_phys(v), level - 1, va, start, end, fn);
    }
  }
}

void PageTables::for_each_leaf(PhysAddr pgd, VirtAddr start, VirtAddr end,
                               const std::function<void(VirtAddr, const PteRef&)>& fn) const {
  if (start < end) leaves_rec(pgd, params_.levels, 0, start, end, fn);
}

std::size_t PageTables::free_rec(CpuId cpu, PhysAddr frame, int level, VirtAddr base, VirtAddr start, VirtAddr end,
                                 VirtAddr floor, VirtAddr ceiling, KernelCost& cost) {
  Table* t = table_of(frame);
  std::size_t freed = 0;
  const std::uint64_t step = level_size(level);
  unsigned first = start > base ? static_cast<unsigned>((start - base) >> level_shift(level)) : 0;
  for (unsigned i = first; i < PTRS_PER_TABLE; ++i) {
    VirtAddr va = base + i * step;
    if (va >= end) break;
    pteval_t v = t->e[i];
    if (v == 0 || level == PTE_LEVEL || !pte_present(v) || (level <= PUD_LEVEL && pte_huge(v))) {
      if (level == PTE_LEVEL && v != 0 && va >= floor && va + step <= ceiling)
        pgtable_bug("free_pgd_range over a live PTE", va);
      continue;
    }
    PhysAddr child = pte_phys(v);
    VirtAddr cstart = va > start ? va : start;
    VirtAddr cend = va + step < end ? va + step : end;
    freed += free_rec(cpu, child, level - 1, va, cstart, cend, floor, ceiling, cost);
    // The child table covers [va, va+step): free it when no VMA can need it.
    if (va >= floor && va + step <= ceiling && va + step > va) {
      if (used_of(child) != 0) pgtable_bug("table to free still has entries", child);
      PteRef r = ref(t, frame, i, level);
      set_entry(cpu, r, 0, cost);  // pmd_clear & co
      free_table(cpu, child, cost);
      ++freed;
    }
  }
  return freed;
}

std::size_t PageTables::free_pgd_range(CpuId cpu, PhysAddr pgd, VirtAddr start, VirtAddr end, VirtAddr floor,
                                       VirtAddr ceiling, KernelCost& cost) {
  if (start >= end) return 0;
  return free_rec(cpu, pgd, params_.levels, 0, start, end, floor, ceiling, cost);
}

std::optional<PageTables::Translation> PageTables::translate(PhysAddr pgd, VirtAddr va) const {
  PteRef r = walk(pgd, va, PTE_LEVEL);
  pteval_t v = *r.host;
  if (!pte_present(v)) return std::nullopt;
  if (r.level != PTE_LEVEL && !pte_huge(v)) return std::nullopt;
  std::uint64_t mask = level_size(r.level) - 1;
  return Translation{(pte_phys(v) & ~mask) | (va & mask), v, r.level};
}

void PageTables::for_each_table(PhysAddr pgd, const std::function<void(PhysAddr, int)>& fn) const {
  struct Rec {
    const PageTables* self;
    const std::function<void(PhysAddr, int)>& fn;
    void go(PhysAddr frame, int level) const {
      fn(frame, level);
      if (level == PTE_LEVEL) return;
      const Table* t = self->table_of(frame);
      if (!t) pgtable_bug("reachable frame holds no table", frame);
      for (unsigned i = 0; i < PTRS_PER_TABLE; ++i) {
        pteval_t v = t->e[i];
        if (pte_present(v) && !(level <= PUD_LEVEL && pte_huge(v))) go(pte_phys(v), level - 1);
      }
    }
  };
  Rec{this, fn}.go(pgd, params_.levels);
}

}  // namespace numasim::os
