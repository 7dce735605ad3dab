// The cache hierarchy's side of a deferred clear residue ([cache]
// clear_residue = "deferred", clear_residue.h): line counts by 4 KiB page
// (whether a page has any line cached), a recorded line made real at its
// level, a recorded page's lines entering the LLC as real lines in one batch
// as they leave L2, and the displacement of real lines of L1D and L2 that the
// recorded lines would have pushed out (a rolling sweep of each array by the
// age of its lines' replacement words, counted in the lines the array took;
// the LLC needs none: no virtual line enters it).
// Simplifications: see displace_for_clear in cache_hierarchy.h.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include "hw/cache_hierarchy.h"
#include "hw/clear_residue.h"

namespace numasim::hw {

void CacheHierarchy::FreeCounts::operator()(std::uint32_t* p) const { std::free(p); }

void CacheHierarchy::defer_clear_residue(PhysAddr end) {
  page_count_n_ = static_cast<std::size_t>((end + kPageSize - 1) >> kPageShift);
  page_counts_.reset(
      static_cast<std::uint32_t*>(std::calloc(std::max<std::size_t>(page_count_n_, 1), sizeof(std::uint32_t))));
  if (!page_counts_) {
    std::fprintf(stderr, "numasim: out of host memory for the caches' line counts by page\n");
    std::abort();
  }
  for (const auto* arrays : {&l1_, &l2_, &llc_})
    for (const auto& a : *arrays) a->count_pages(page_counts_.get(), page_count_n_);
  // Each set is visited every C / kDisplacementSweeps steps (C: the array's
  // capacity in pages) and loses the lines untouched for C (1 - 1 / (2
  // kDisplacementSweeps)) pages' worth of insertions: a line leaves within
  // C / (2 kDisplacementSweeps) of the exact model's C.
  auto history = [](const CacheArray& a) {
    Displacement d;
    const std::size_t lines = a.sets() * a.ways();
    const std::size_t pages = std::max<std::size_t>(lines * kCacheLineBytes / kPageSize, 1);
    d.reach = std::max<std::size_t>(lines - lines / (2 * kDisplacementSweeps), 1);
    d.at.assign(d.reach / ClearResidue::kPageLines + 2, 0);
    d.stamps.assign(d.at.size(), 0);
    d.sets_per_step = std::max<std::size_t>((kDisplacementSweeps * a.sets() + pages - 1) / pages, 1);
    return d;
  };
  for (const auto& a : l1_) displace_l1_.push_back(history(*a));
  for (const auto& a : l2_) displace_l2_.push_back(history(*a));
  displaced_.reserve(1024);
  displaced_line_.reserve(1024);
}

void CacheHierarchy::install_residue(CpuId cpu, PhysAddr line, int level, WritebackList& wb) {
  // The line's store into L1D (or its arrival in L2) and its snoop-filter
  // entry were counted when it was recorded (or moved; ClearResidue's
  // count_moved, displace_for_clear): what this install counts of them again
  // is taken back; what it pushes out stays counted.
  const std::uint64_t dir_evictions = dir_ ? dir_->evictions() : 0;
  if (level <= 1) {
    SnoopResult ignored;  // nobody else holds a recorded line: the snoop finds no copy
    CacheArray& l1 = *l1_[static_cast<std::size_t>(cpu.value())];
    const std::uint64_t stored = l1.stats().write_misses;
    write_full_line(cpu, line, wb, ignored, false);
    l1.count_virtual(-static_cast<std::int64_t>(l1.stats().write_misses - stored), 0, 0);
  } else if (level == 2) {
    if (dir_) track(cpu, line, wb);
    CacheArray& l2 = *l2_[static_cast<std::size_t>(cpu.value())];
    const std::uint64_t fills = l2.stats().fills;
    write_back_to_l2(cpu, line, wb);
    l2.count_virtual(0, -static_cast<std::int64_t>(l2.stats().fills - fills), 0);
  } else {
    write_back_to_llc(cpu_socket_[static_cast<std::size_t>(cpu.value())], line, wb);
  }
  if (dir_) dir_->uncount_evictions(dir_->evictions() - dir_evictions);
}

std::size_t CacheHierarchy::install_residue_page_in_llc(CpuId cpu, PhysAddr page, std::uint64_t mask,
                                                       PhysAddr* dirty, std::uint8_t* line_of) {
  // (A non-inclusive LLC, the deferred residue's condition: a victim has no private copy to invalidate.)
  return llc_[static_cast<std::size_t>(cpu_socket_[static_cast<std::size_t>(cpu.value())])]
      ->write_back_or_fill_page(page, mask, dirty, line_of);
}

void CacheHierarchy::displace(Displacement& d, CacheArray& a, unsigned lines, PhysAddr* dirty, std::size_t& n) {
  d.lines += lines;
  d.virtual_lines += lines;
  if (d.lines < ClearResidue::kPageLines) return;
  d.lines -= ClearResidue::kPageLines;
  if (a.renumberings() != d.renumberings) {  // clocks read before a renumbering compare with nothing after it
    d.renumberings = a.renumberings();
    d.steps = d.threshold = 0;
  }
  const std::size_t size = d.at.size();
  const std::uint64_t now = a.insertions() + d.virtual_lines;
  d.at[d.steps % size] = now;
  d.stamps[d.steps % size] = a.stamp_clock();
  ++d.steps;
  if (now < d.reach) return;
  const std::uint64_t target = now - d.reach;
  if (d.steps > size) d.threshold = std::max(d.threshold, d.steps - size);
  while (d.threshold + 1 < d.steps && d.at[(d.threshold + 1) % size] <= target) ++d.threshold;
  if (d.at[d.threshold % size] > target) return;  // no step that old is kept
  d.next_set = a.age_out(d.next_set, d.sets_per_step, d.stamps[d.threshold % size], dirty, n);
}

std::size_t CacheHierarchy::displace_for_clear(CpuId cpu, unsigned l1, unsigned l2) {
  const auto c = static_cast<std::size_t>(cpu.value());
  const int socket = cpu_socket_[c];
  displaced_.clear();
  // The recorded page's 64 lines would each have claimed a snoop-filter entry.
  if (dir_) dir_->count_virtual_claims(ClearResidue::kPageLines);
  // At most (64 / ways rounded up) x kDisplacementSweeps sets' lines per step.
  std::array<PhysAddr, 2 * kMaxBulkLines * kDisplacementSweeps> dirty;
  // A private array's dirty lines go one level down (L1D's into L2, L2's into
  // the LLC); what those write-backs push out of the LLC goes towards memory.
  auto step_down = [&](Displacement& d, CacheArray& a, unsigned lines, bool into_llc) {
    std::size_t n = 0;
    displace(d, a, lines, dirty.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      WritebackList wb;
      if (into_llc)
        write_back_to_llc(socket, dirty[i], wb);
      else
        write_back_to_l2(cpu, dirty[i], wb);
      for (int w = 0; w < wb.count; ++w) displaced_.push_back(wb.addr[static_cast<std::size_t>(w)]);
    }
  };
  step_down(displace_l1_[c], *l1_[c], l1, false);
  step_down(displace_l2_[c], *l2_[c], l2, true);
  return displaced_.size();
}

std::size_t CacheHierarchy::evict_l1_for_clear(CpuId cpu, PhysAddr page) {
  displaced_.clear();
  displaced_line_.clear();
  std::array<PhysAddr, ClearResidue::kPageLines> dirty;
  std::array<std::uint8_t, ClearResidue::kPageLines> from;
  const std::size_t n = l1_[static_cast<std::size_t>(cpu.value())]->evict_for_lines(page, ClearResidue::kPageLines,
                                                                                    dirty.data(), from.data());
  for (std::size_t i = 0; i < n; ++i) {
    WritebackList wb;
    write_back_to_l2(cpu, dirty[i], wb);
    for (int w = 0; w < wb.count; ++w) {
      displaced_.push_back(wb.addr[static_cast<std::size_t>(w)]);
      displaced_line_.push_back(from[i]);
    }
  }
  return displaced_.size();
}

}  // namespace numasim::hw
