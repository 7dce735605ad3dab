// MemorySystem's side of a deferred clear residue ([cache] clear_residue =
// "deferred", clear_residue.h): a cached page clear recorded instead of
// installed, and a recorded page's virtual lines made real (at the level its
// age implies, in the clearing CPU's caches) before any access, prefetch,
// clear, copy or streamed transfer touches them, so that what touches them
// finds them where the exact model would have left them (a HITM for another
// CPU, an L2 or LLC hit for an older page). Write-backs that making a line real
// causes are posted when it is touched, in L1D at the clear's pace from the
// page's first touch (ClearResidue::write_back_time; a whole page made real in
// L1D at once, by a clear, copy or streamed transfer over it, without that
// shift: ClearResidue::write_time); the L1D's real lines a clear's lines would
// push out leave at the clear itself (CacheHierarchy::evict_l1_for_clear),
// their write-backs among the clear's lines. A page leaving its CPU's L2 enters
// the LLC as real lines, at that CPU's next clear (their LLC victims posted
// among the clear's lines) or its next miss; a miss into an LLC set where a
// page that left the LLC by age still has a virtual line writes that line back.
// Simplifications: clear_residue.h's.
#include "hw/memory_system.h"

#include <algorithm>
#include <array>

namespace numasim::hw {

namespace {
// When the write-backs of making line i of entry e real at `level` go out: in
// L1D at the exact clear's pace (its install pushed the same cascade out);
// else now.
Picoseconds write_back_time(ClearResidue& r, std::uint32_t e, unsigned i, int level, Picoseconds now) {
  return level == 1 ? r.write_back_time(e, i, now) : now;
}

// Lines `mask` of `page`, virtual until now, leave `cpu`'s L2 for its
// socket's LLC as real dirty lines (the exact clear's L2 victims): the LLC's
// own LRU choice per set then says what they and the lines around them push
// out; each dirty victim goes to victim(j, line), j the line of the page that pushed it.
template <typename Victim>
void install_in_llc(CacheHierarchy& caches, CpuId cpu, PhysAddr page, std::uint64_t mask, Victim victim) {
  std::array<PhysAddr, ClearResidue::kPageLines> dirty;
  std::array<std::uint8_t, ClearResidue::kPageLines> line_of;
  const std::size_t n = caches.install_residue_page_in_llc(cpu, page, mask, dirty.data(), line_of.data());
  for (std::size_t k = 0; k < n; ++k) victim(line_of[k], dirty[k]);
}
}  // namespace

ClearResidue::Fills MemorySystem::residue_fills(CpuId cpu) {
  return {caches_.l1d(cpu).insertions(), caches_.l2(cpu).insertions(),
          caches_.llc(caches_.socket_of(cpu)).insertions()};
}

void MemorySystem::residue_l2_fill(CpuId cpu, PhysAddr pa, Picoseconds now) {
  const PhysAddr line = residue_->l2_fill(cpu, pa);
  if (line == ClearResidue::kNoLine) return;
  residue_into_llc(cpu, line & ~(kPageSize - 1), std::uint64_t{1} << ((line >> 6) & (ClearResidue::kPageLines - 1)),
                   now);
}

void MemorySystem::residue_into_llc(CpuId cpu, PhysAddr page, std::uint64_t mask, Picoseconds now) {
  const NodeId node = socket_node_[static_cast<std::size_t>(caches_.socket_of(cpu))];
  install_in_llc(caches_, cpu, page, mask, [&](std::size_t, PhysAddr out) { post_writeback(node, out, now); });
}

bool MemorySystem::settle_residue_line(CpuId cpu, PhysAddr pa, Picoseconds now) {
  // Called only where ClearResidue::may_hold(cpu, pa): a new condition under
  // which this acts belongs in may_hold too.
  if (residue_->exit_due(cpu)) {
    // Recorded pages of this CPU that its L2 gave up by now enter its LLC.
    residue_->leave_l2(cpu);
    for (std::size_t k = 0; k < residue_->entered(); ++k)
      residue_into_llc(cpu, residue_->entered_page(k), residue_->entered_mask(k), now);
  }
  if (residue_->set_due(pa)) {
    // A fill into pa's LLC set pushes out a line of a page that left the LLC by age: to memory now.
    const int socket = caches_.socket_of(cpu);
    if (const PhysAddr out = residue_->age(socket, pa); out != ClearResidue::kNoLine)
      post_writeback(socket_node_[static_cast<std::size_t>(socket)], out, now);
    if (!residue_->region_holds(pa)) return false;
  } else if (!residue_->region_holds(pa)) {
    return false;
  }
  const std::uint32_t e = residue_->find(pa);
  if (e == ClearResidue::kNone) return false;
  const PhysAddr line = pa & ~(kCacheLineBytes - 1);
  const CpuId owner = residue_->cpu(e);
  const int level = residue_->level(e, residue_fills(owner));
  const NodeId node = cpu_node_[static_cast<std::size_t>(owner.value())];
  if (level >= 4) {
    settle_residue_page(e, now);  // its page left the LLC: every line to memory, then the access
    return false;
  }
  const auto i = static_cast<unsigned>((line >> 6) & (ClearResidue::kPageLines - 1));
  if (!residue_->take_line(e, i, level)) return false;
  if (level <= 2) mark_private(line);
  install_residue_line(owner, node, line, level, write_back_time(*residue_, e, i, level, now));
  return owner == cpu && level == 1;
}

void MemorySystem::install_residue_line(CpuId owner, NodeId node, PhysAddr line, int level, Picoseconds now) {
  WritebackList wb;
  caches_.install_residue(owner, line, level, wb);
  for (int w = 0; w < wb.count; ++w) post_writeback(node, wb.addr[static_cast<std::size_t>(w)], now);
}

void MemorySystem::settle_residue_page(std::uint32_t e, Picoseconds now) {
  const PhysAddr page = residue_->page(e);
  const CpuId owner = residue_->cpu(e);
  const int level = residue_->level(e, residue_fills(owner));
  const NodeId node = cpu_node_[static_cast<std::size_t>(owner.value())];
  if (level <= 2) mark_private(page);
  for (std::uint64_t m = residue_->take_all(e, level); m != 0; m &= m - 1) {
    const PhysAddr line = page + static_cast<PhysAddr>(__builtin_ctzll(m)) * kCacheLineBytes;
    if (level >= 4) {
      post_writeback(node, line, now);
      continue;
    }
    // A whole page made real in L1D at once (a clear, copy or streamed
    // transfer over it): its lines' write-backs go as the clear's timing pass
    // stands, at `now` for the lines already due, without the first touch's
    // shift, which would post them up to a clear's span ahead of the transfer
    // that follows (a re-clear of a page still in L1D: 1722 late DRAM requests
    // against exact's 0 and activates +14.6%; ClearResidue test
    // APageReclearedWhileStillInL1d...).
    const auto i = static_cast<unsigned>((line >> 6) & (ClearResidue::kPageLines - 1));
    const Picoseconds at = level == 1 ? residue_->write_time(e, i, now) : now;
    install_residue_line(owner, node, line, level, at);
  }
}

void MemorySystem::settle_residue_range(PhysAddr first, std::uint64_t n, Picoseconds now) {
  const PhysAddr last = first + (n - 1) * kCacheLineBytes;
  for (PhysAddr page = first & ~(kPageSize - 1); page <= last; page += kPageSize) {
    if (!residue_->region_holds(page)) {
      // Nothing recorded in this 2 MiB region: on to the next one.
      page = (page | ((PhysAddr{1} << ClearResidue::kRegionShift) - 1)) + 1 - kPageSize;
      continue;
    }
    const std::uint32_t e = residue_->find(page);
    if (e != ClearResidue::kNone) settle_residue_page(e, now);
  }
}

bool MemorySystem::defer_clear(CpuId cpu, PhysAddr page, Picoseconds now, WritebackList* wb) {
  // A page cleared again while recorded holds real lines once settled: exact passes.
  if (residue_->region_holds(page)) {
    const std::uint32_t e = residue_->find(page);
    if (e != ClearResidue::kNone) {
      settle_residue_page(e, now);
      ++residue_->stats().pages_exact;
      return false;
    }
  }
  if (caches_.holds_any_line(page)) {
    ++residue_->stats().pages_exact;
    return false;
  }
  if (!residue_->watching()) {
    for (int s = 0; s < static_cast<int>(socket_node_.size()); ++s) residue_->watch(s, &caches_.llc(s));
    for (int c = 0; c < static_cast<int>(cpu_node_.size()); ++c)
      residue_->watch_private(CpuId(c), &caches_.l1d(CpuId(c)), &caches_.l2(CpuId(c)));
    residue_->pipeline(kernel_mlp(), params_.core_clock.to_time(Cycles(1)));
  }
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  ClearResidue::Moved moved;
  residue_->record(cpu, page, residue_fills(cpu), moved);
  // (Unrolled: one store a line, not four instructions.)
#pragma GCC unroll 8
  for (std::size_t j = 0; j < ClearResidue::kPageLines; ++j) wb[j].count = 0;
  // Write-backs go with the clear's lines (posted with them), as its lines'
  // LLC victims would: line j of each page that left the LLC with line j, the
  // real lines the clear's lines would have pushed out spread over them; what
  // does not fit is posted at once.
  auto add = [&](std::size_t j, PhysAddr line) {
    WritebackList& w = wb[j % ClearResidue::kPageLines];
    if (w.count < WritebackList::kCapacity)
      w.push(line);
    else
      post_writeback(me, line, now);
  };
  for (std::size_t k = 0; k < residue_->aged(); ++k)
    for (std::uint64_t m = residue_->aged_mask(k); m != 0; m &= m - 1) {
      const auto j = static_cast<std::size_t>(__builtin_ctzll(m));
      add(j, residue_->aged_page(k) + j * kCacheLineBytes);
    }
  const std::size_t n = caches_.displace_for_clear(cpu, moved.previous, moved.to_l2);
  const PhysAddr* out = caches_.displaced();
  for (std::size_t i = 0; i < n; ++i) add(i, out[i]);
  // The L1D's real lines this clear's lines would replace leave now, as the
  // exact clear's installs push them out, their write-backs posted with the
  // line that pushed each: the stores that make the lines real later fill
  // the freed ways. (Pushed out by those stores, after the clear and paced
  // up to a clear's span on, they put the next clears' ownership requests
  // behind them on the link; the figures: README, Bulk kernel transfers.)
  const std::size_t evicted = caches_.evict_l1_for_clear(cpu, page);
  const PhysAddr* pushed = caches_.displaced();
  const std::uint8_t* by = caches_.displaced_line();
  for (std::size_t i = 0; i < evicted; ++i) add(by[i], pushed[i]);
  for (std::size_t k = 0; k < residue_->entered(); ++k)
    install_in_llc(caches_, cpu, residue_->entered_page(k), residue_->entered_mask(k), add);
  return true;
}

void MemorySystem::dump_residue(StatsVisitor& v) const {
  const ClearResidue::Stats& s = residue_->stats();
  v.counter("system.mem.clear_residue.pages_deferred", s.pages_deferred, "count",
            "cached page clears recorded instead of installed line by line");
  v.counter("system.mem.clear_residue.pages_exact", s.pages_exact, "count",
            "cached page clears that found a line of the page cached (installed exactly)");
  v.counter("system.mem.clear_residue.lines_to_l1d", s.lines_to_level[1], "count",
            "recorded lines made real in the clearing CPU's L1D when touched");
  v.counter("system.mem.clear_residue.lines_to_l2", s.lines_to_level[2], "count",
            "recorded lines made real in the clearing CPU's L2 when touched");
  v.counter("system.mem.clear_residue.lines_to_llc", s.lines_to_level[3], "count",
            "recorded lines made real in the clearing socket's LLC when touched");
  v.counter("system.mem.clear_residue.lines_written_back", s.lines_written_back, "count",
            "recorded lines written to memory after their page left the socket's LLC");
  v.counter("system.mem.clear_residue.lines_into_llc", s.lines_into_llc, "count",
            "recorded lines installed in the clearing socket's LLC as they left the CPU's L2");
  v.counter("system.mem.clear_residue.virtual_lines", residue_->virtual_lines(), "count",
            "recorded lines still held (no cache array holds them) at the dump");
}

}  // namespace numasim::hw
