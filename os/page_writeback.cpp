// Dirty pages and writeback (mm/page-writeback.c, fs/fs-writeback.c):
// filemap_dirty_folio with folio_account_dirtied (nr_dirty, nr_dirtied,
// nr_zone_write_pending, the inode onto the dirty list with its dirtied_when),
// write_cache_pages (folio_clear_dirty_for_io, folio_start_writeback, one bio per
// run of contiguous blocks, submitted without waiting), folio_end_writeback at the
// device's completion (nr_written), domain_dirty_limits with vm.dirty_ratio /
// dirty_background_ratio (or the _bytes forms) over global_dirtyable_memory,
// balance_dirty_pages (the flusher woken above the background threshold; above
// the freerun point (background + limit) / 2 the writer pauses, linearly longer
// up to MAX_PAUSE 200 ms at the limit), and the flusher's pass (wb_workfn:
// background writeback while over the background threshold, then inodes dirtied
// longer than dirty_expire_centisecs ago). The completion of reads and writes:
// per-CPU timers at the device's completion times.
// Simplified: no dirty_ratelimit / pos_ratio control loop or bandwidth estimate
// (the pause is linear in the distance to the limit), no per-bdi or per-memcg
// domains, the pause is charged to the writer's KernelCost (no task sleeping yet);
// writeback of a page already under writeback waits for it (WB_SYNC_ALL style).
#include <algorithm>

#include "os/fs.h"
#include "os/kernel.h"
#include "os/mm_inline.h"

namespace numasim::os {

namespace {
constexpr std::uint64_t kCentisecondPs = 10'000'000'000ull;
constexpr std::uint64_t kMillisecondPs = 1'000'000'000ull;
std::uint64_t global_state(const PhysMem& pm, node_stat_item item) {
  long n = 0;
  for (int i = 0; i < pm.nr_node_ids(); ++i) n += pm.NODE_DATA(NodeId(i)).stats.vm_stat[item];
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}
}  // namespace

// filemap_dirty_folio + folio_account_dirtied + __mark_inode_dirty.
void FileSystem::set_page_dirty(inode& ino, page* pg, CpuId cpu) {
  if (pg->test(PG_dirty)) return;
  pg->set(PG_dirty);
  ++ino.i_mapping.nr_dirty;
  const NodeId nid = k_.pm_.page_to_nid(pg);
  k_.pm_.mod_node_page_state(nid, NR_FILE_DIRTY, 1);
  k_.pm_.mod_node_page_state(nid, NR_DIRTIED, 1);
  k_.pm_.mod_zone_page_state(*k_.pm_.page_zone(pg), NR_ZONE_WRITE_PENDING, 1);
  if (!ino.on_dirty_list) {
    ino.on_dirty_list = true;
    ino.dirtied_when = k_.platform_.now(cpu);
  }
}

void FileSystem::start_io(page* pg, bool write, Picoseconds done, CpuId cpu) {
  const std::uint64_t pfn = k_.pm_.page_to_pfn(pg).value();
  const std::uint64_t seq = io_seq_++;
  io_[pfn] = IoState{seq, done, write};
  const auto c = static_cast<std::size_t>(cpu.value());
  if (ioq_.size() <= c) ioq_.resize(c + 1);
  if (!ioq_[c]) {
    ioq_[c] = std::make_unique<IoQueue>();
    ioq_[c]->fs = this;
    ioq_[c]->timer = std::make_unique<timer_list>();
    ioq_[c]->timer->function = &FileSystem::io_timer_fire;
    ioq_[c]->timer->data = ioq_[c].get();
    ioq_[c]->timer->cpu = cpu;
  }
  IoQueue& q = *ioq_[c];
  q.q.push(IoItem{done, seq, pfn});
  if (!q.timer->pending || done < q.timer->expires) k_.platform_.mod_timer(q.timer.get(), done);
}

void FileSystem::io_timer_fire(timer_list* t, KernelCost& cost) {
  auto* q = static_cast<IoQueue*>(t->data);
  q->fs->complete_io(t->cpu, cost);
}

// The bios' end_io: reads unlock their pages (up to date), writes end writeback.
void FileSystem::complete_io(CpuId cpu, KernelCost& cost) {
  const Picoseconds now = k_.kclock_.now(cpu, cost);
  for (auto& qp : ioq_) {
    if (!qp) continue;
    IoQueue& q = *qp;
    bool popped = false;
    while (!q.q.empty() && q.q.top().done <= now) {
      const IoItem it = q.q.top();
      q.q.pop();
      popped = true;
      auto st = io_.find(it.pfn);
      if (st == io_.end() || st->second.seq != it.seq) continue;  // ended early by a waiter
      const bool write = st->second.write;
      io_.erase(st);
      page* pg = k_.pm_.pfn_to_page(Pfn(it.pfn));
      if (write) {
        end_page_writeback(pg, q.timer->cpu);
      } else {
        pg->clear(PG_locked);
        pg->set(PG_uptodate);
      }
    }
    if (popped && !q.q.empty()) k_.platform_.mod_timer(q.timer.get(), q.q.top().done);
  }
}

// folio_end_writeback.
void FileSystem::end_page_writeback(page* pg, CpuId cpu) {
  (void)cpu;
  if (!pg->test(PG_writeback)) return;
  pg->clear(PG_writeback);
  const NodeId nid = k_.pm_.page_to_nid(pg);
  k_.pm_.mod_node_page_state(nid, NR_WRITEBACK, -1);
  k_.pm_.mod_node_page_state(nid, NR_WRITTEN, 1);
  k_.pm_.mod_zone_page_state(*k_.pm_.page_zone(pg), NR_ZONE_WRITE_PENDING, -1);
  if (inode* ino = inode_of(pg)) --ino->i_mapping.nr_writeback;
}

// write_cache_pages over [first, last]: each dirty page cleared for I/O and put
// under writeback, bios per contiguous run of blocks.
std::uint64_t FileSystem::writeback_range(inode& ino, std::uint64_t first, std::uint64_t last,
                                          std::uint64_t nr_to_write, CpuId cpu, KernelCost& cost) {
  if (!ino.i_mapping.nr_dirty) return 0;
  std::vector<page*> pages;
  auto& nodes = ino.i_mapping.i_pages.nodes();
  for (auto it = nodes.lower_bound(first >> PageIndex::kShift); it != nodes.end() && pages.size() < nr_to_write; ++it) {
    const std::uint64_t base = it->first << PageIndex::kShift;
    if (base > last) break;
    for (std::uint64_t s = 0; s < PageIndex::kSlots && pages.size() < nr_to_write; ++s) {
      const std::uint64_t idx = base + s, e = it->second->slots[s];
      if (idx < first || idx > last || !e || (e & 1)) continue;
      page* pg = k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
      if (pg->test(PG_dirty)) pages.push_back(pg);
    }
  }
  std::size_t i = 0;
  while (i < pages.size()) {
    // Clear for I/O and start writeback for a run of contiguous blocks.
    const std::uint64_t sector = bmap(ino, pages[i]->index);
    if (sector == ~0ull) {  // no block (not expected: blocks come with the write)
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < pages.size() && j - i < 256 && pages[j]->index == pages[j - 1]->index + 1 &&
           bmap(ino, pages[j]->index) == sector + (j - i) * (kPageSize / 512))
      ++j;
    for (std::size_t p = i; p < j; ++p) {
      page* pg = pages[p];
      if (pg->test(PG_writeback)) wait_on_page_writeback(pg, cpu, cost);
      cost.add_cycles(params_.filemap_page_cycles);
      if (pg->mapcount) k_.page_mkclean(pg, cpu, cost);  // folio_clear_dirty_for_io: mappings write-protected again
      pg->clear(PG_dirty);  // folio_clear_dirty_for_io
      --ino.i_mapping.nr_dirty;
      const NodeId nid = k_.pm_.page_to_nid(pg);
      k_.pm_.mod_node_page_state(nid, NR_FILE_DIRTY, -1);
      pg->set(PG_writeback);  // folio_start_writeback (nr_zone_write_pending stays: dirty -> writeback)
      ++ino.i_mapping.nr_writeback;
      k_.pm_.mod_node_page_state(nid, NR_WRITEBACK, 1);
    }
    const std::uint64_t bytes = (j - i) * kPageSize;
    cost.add_cycles(params_.bio_cycles);
    k_.kclock_.sync(cpu, cost);  // submitted at the task's own time
    const Picoseconds lat = k_.platform_.submit_bio_nowait(cpu, BioOp::Write, sector, Bytes(bytes));
    const Picoseconds done = k_.platform_.now(cpu) + lat;
    for (std::size_t p = i; p < j; ++p) start_io(pages[p], true, done, cpu);
    k_.pm_.count_vm_events(cpu, PGPGOUT, bytes / 1024);
    i = j;
  }
  if (!ino.i_mapping.nr_dirty) ino.on_dirty_list = false;
  return pages.size();
}

// Reclaim's pageout of one dirty page-cache page (mapping->a_ops->writepage).
bool FileSystem::pageout(page* pg, CpuId cpu, KernelCost& cost) {
  inode* ino = inode_of(pg);
  if (!ino || pg->test(PG_writeback) || !pg->test(PG_dirty)) return false;
  if (writeback_range(*ino, pg->index, pg->index, 1, cpu, cost) != 1) return false;
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_VMSCAN_WRITE, 1);
  return true;
}

// domain_dirty_limits for the global domain.
void FileSystem::dirty_limits(std::uint64_t& background, std::uint64_t& dirty) const {
  std::uint64_t x = global_state(k_.pm_, NR_INACTIVE_FILE) + global_state(k_.pm_, NR_ACTIVE_FILE);
  long free = 0;
  for (int i = 0; i < k_.pm_.nr_node_ids(); ++i)
    for (const zone& z : k_.pm_.NODE_DATA(NodeId(i)).node_zones) free += z.stats.vm_stat[NR_FREE_PAGES];
  std::uint64_t f = free > 0 ? static_cast<std::uint64_t>(free) : 0;
  f -= std::min(f, k_.pm_.totalreserve_pages());
  const std::uint64_t available = x + f + 1;
  dirty = params_.dirty_bytes ? params_.dirty_bytes / kPageSize : available * params_.dirty_ratio / 100;
  background = params_.dirty_background_bytes ? params_.dirty_background_bytes / kPageSize
                                              : available * params_.dirty_background_ratio / 100;
  if (background >= dirty) background = dirty / 2;
}

// balance_dirty_pages after `pages_dirtied` pages of the writer.
void FileSystem::balance_dirty_pages(task_struct* t, std::uint64_t pages_dirtied, KernelCost& cost) {
  const std::uint64_t nr_dirty = global_state(k_.pm_, NR_FILE_DIRTY) + global_state(k_.pm_, NR_WRITEBACK);
  std::uint64_t bg = 0, thresh = 0;
  dirty_limits(bg, thresh);
  if (global_state(k_.pm_, NR_FILE_DIRTY) > bg) k_.kthreads_->wakeup_flusher_threads();
  const std::uint64_t freerun = (bg + thresh) / 2;
  if (nr_dirty <= freerun) return;
  const std::uint64_t max_pause = params_.max_pause_ms * kMillisecondPs;
  std::uint64_t pause = max_pause;
  if (nr_dirty < thresh && thresh > freerun) {
    pause = max_pause * (nr_dirty - freerun) / (thresh - freerun) * std::min<std::uint64_t>(pages_dirtied, 32) / 32;
  }
  if (!pause) return;
  ++nr_throttled_;
  pause_total_ += Picoseconds(pause);
  k_.kclock_.sync(t->cpu, cost);  // the pause starts at the task's own time
  k_.kclock_.wait_until(t->cpu, k_.kclock_.now(t->cpu, cost) + Picoseconds(pause), cost);  // io_schedule_timeout
  complete_io(t->cpu, cost);
}

// wb_workfn -> wb_do_writeback: wb_check_background_flush, then wb_check_old_data_flush.
void FileSystem::flusher_pass(CpuId cpu, KernelCost& cost) {
  if (by_path_.empty() && orphans_.empty()) return;
  complete_io(cpu, cost);
  std::vector<inode*> dirty;
  for (auto& [p, ino] : by_path_)
    if (ino->i_mapping.nr_dirty) dirty.push_back(ino.get());
  for (auto& [i, ino] : orphans_)
    if (ino->i_mapping.nr_dirty) dirty.push_back(ino.get());
  if (dirty.empty()) return;
  std::sort(dirty.begin(), dirty.end(), [](const inode* a, const inode* b) {
    return a->dirtied_when != b->dirtied_when ? a->dirtied_when < b->dirtied_when : a->i_ino < b->i_ino;
  });
  std::uint64_t bg = 0, thresh = 0;
  dirty_limits(bg, thresh);
  const Picoseconds now = k_.platform_.now(cpu);
  const Picoseconds expire(params_.dirty_expire_centisecs * kCentisecondPs);
  for (inode* ino : dirty) {
    const bool background = global_state(k_.pm_, NR_FILE_DIRTY) > bg;
    const bool expired = ino->dirtied_when + expire <= now;
    if (!background && !expired) continue;
    if (background && !expired) {
      // Background writeback in MAX_WRITEBACK_PAGES (1024) chunks until under the threshold.
      while (ino->i_mapping.nr_dirty && global_state(k_.pm_, NR_FILE_DIRTY) > bg)
        writeback_range(*ino, 0, ~0ull, 1024, cpu, cost);
    } else {
      writeback_range(*ino, 0, ~0ull, ~0ull, cpu, cost);
    }
  }
}

}  // namespace numasim::os
