// The page cache (mm/filemap.c, mm/truncate.c, the page cache's part of
// mm/vmscan.c): filemap_add_folio (charged to the memcg seam, refault detection
// from the shadow left at the index, onto the file LRU through the lru_add
// batch), filemap_read with its readahead calls, generic_perform_write,
// truncate_inode_pages_range, invalidate_mapping_pages, __remove_mapping for
// reclaim, and the I/O completion of reads (PG_locked until the device is done).
// Page-cache pages: not PG_anon, not PG_swapbacked (page_is_file_lru), owner =
// the mapping's id, index = the page's offset in the file, one reference held by
// the cache. Counters: nr_file_pages, nr_dirty, nr_writeback, nr_dirtied,
// nr_written, pgpgin/pgpgout (kB), workingset_refault_file/activate_file.
// File mmap's side (filemap_fault with the mmap read-around of
// do_sync_mmap_readahead and do_async_mmap_readahead, get_file for a VMA,
// folio_mark_dirty): a mapped cache page holds one more reference per mapping
// (page_add_file_rmap, os/rmap.cpp), so reclaim and invalidation skip it until
// try_to_unmap / unmap_mapping_range took its mappings away.
// Simplified: no mmap_miss heuristic (read-around on every miss of a mapping
// that is neither VM_RAND_READ nor VM_SEQ_READ), no large folios, a read of a page needed now waits for its I/O in the
// caller's KernelCost::io_wait (the task sleeps: hw::Core blocks it); bios leave and
// waits start at the task's own time, a wait ends at the completion (os::KernelClock).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "os/fs.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mm_inline.h"
#include "os/vm_fault.h"

namespace numasim::os {

page* FileSystem::find_get_page(const inode& ino, std::uint64_t index) const {
  const std::uint64_t e = ino.i_mapping.i_pages.load(index);
  return (e && !(e & 1)) ? k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e))) : nullptr;
}

std::uint64_t FileSystem::shadow_at(const inode& ino, std::uint64_t index) const {
  const std::uint64_t e = ino.i_mapping.i_pages.load(index);
  return (e & 1) ? e : 0;
}

// filemap_alloc_folio (under the task's memory policy: page-cache placement follows
// it as Linux's alloc_pages does) + filemap_add_folio.
page* FileSystem::add_page(inode& ino, std::uint64_t index, task_struct* t, CpuId cpu, KernelCost& cost) {
  mempolicy* pol = t ? t->mempolicy.get() : nullptr;
  const gfp_t gfp = GFP_HIGHUSER_MOVABLE;
  page* pg = alloc_pages_mpol(k_.pm_, cpu, gfp, 0, pol, NO_INTERLEAVE_INDEX, cost);
  if (!pg) return nullptr;
  pg->owner = ino.i_mapping.id;
  pg->index = index;
  if (k_.mem_cgroup_charge(pg, t ? t->mm : nullptr, gfp, cost) != 0) {
    pg->owner = 0;
    k_.pm_.free_pages(cpu, pg, 0, cost);
    return nullptr;
  }
  const std::uint64_t old = ino.i_mapping.i_pages.load(index);
  if (old && !(old & 1)) {
    std::fprintf(stderr, "numasim: internal error: page-cache index %llu already holds a page\n",
                 static_cast<unsigned long long>(index));
    std::abort();
  }
  if (old & 1) k_.workingset_refault(pg, old);  // a refault: maybe activated at once
  if (k_.page_tokens_.enabled()) {  // the page's contents as on disk (its token, if one was saved)
    auto it = disk_tokens_.find({ino.i_mapping.id, index});
    k_.page_tokens_.set(k_.pm_.page_to_pfn(pg).value(), it == disk_tokens_.end() ? 0 : it->second);
  }
  ino.i_mapping.i_pages.store(index, PageIndex::page_entry(k_.pm_.page_to_pfn(pg).value()));
  ++ino.i_mapping.nrpages;
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_FILE_PAGES, 1);
  k_.lru_cache_add(pg, cpu);
  return pg;
}

// __filemap_remove_folio + the cache's reference dropped (filemap_free_folio) when
// `free`; shadow (a workingset value) left at the index, or nothing.
void FileSystem::delete_from_page_cache(inode& ino, page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost) {
  if (ino.i_mapping.i_pages.load(pg->index) != PageIndex::page_entry(k_.pm_.page_to_pfn(pg).value())) {
    std::fprintf(stderr, "numasim: internal error: page-cache page %llu not at its index\n",
                 static_cast<unsigned long long>(pg->index));
    std::abort();
  }
  ino.i_mapping.i_pages.store(pg->index, shadow);
  --ino.i_mapping.nrpages;
  const NodeId nid = k_.pm_.page_to_nid(pg);
  k_.pm_.mod_node_page_state(nid, NR_FILE_PAGES, -1);
  if (pg->test(PG_dirty)) {  // truncation of a dirty page: folio_cancel_dirty
    pg->clear(PG_dirty);
    --ino.i_mapping.nr_dirty;
    k_.pm_.mod_node_page_state(nid, NR_FILE_DIRTY, -1);
    k_.pm_.mod_zone_page_state(*k_.pm_.page_zone(pg), NR_ZONE_WRITE_PENDING, -1);
  }
  (void)cpu, (void)cost;
}

void FileSystem::wait_on_page_locked(page* pg, CpuId cpu, KernelCost& cost) {
  const std::uint64_t pfn = k_.pm_.page_to_pfn(pg).value();
  auto it = io_.find(pfn);
  if (it != io_.end() && !it->second.write) {
    k_.kclock_.wait_until(cpu, it->second.done, cost);
    io_.erase(it);
  }
  pg->clear(PG_locked);
  pg->set(PG_uptodate);
}

void FileSystem::wait_on_page_writeback(page* pg, CpuId cpu, KernelCost& cost) {
  const std::uint64_t pfn = k_.pm_.page_to_pfn(pg).value();
  auto it = io_.find(pfn);
  if (it != io_.end() && it->second.write) {
    k_.kclock_.wait_until(cpu, it->second.done, cost);
    io_.erase(it);
  }
  if (pg->test(PG_writeback)) end_page_writeback(pg, cpu);
}

// filemap_read: filemap_get_pages (filemap_get_read_batch: up to 15 cached pages
// from the position, ending at a page not yet up to date or at a PG_readahead
// marker; sync readahead when there is none; async readahead when the batch's
// last page is a marker, before waiting for that page), then per page of the
// batch copy_page_to_iter (the page's bytes copied to the user's buffer through
// its page tables, Kernel::uaccess_phys: a fault from kernel mode where the
// buffer is not present, a short read or -EFAULT where it cannot be written) and
// folio_mark_accessed unless it is the page the previous read ended in.
long FileSystem::filemap_read(task_struct* t, file& f, std::uint64_t pos, VirtAddr buf, std::uint64_t count,
                              KernelCost& cost) {
  inode& ino = *f.f_inode;
  const CpuId cpu = t->cpu;
  if (count == 0) return 0;
  complete_io(cpu, cost);
  if (pos >= ino.i_size) return 0;
  count = std::min(count, ino.i_size - pos);
  const std::uint64_t last_index = (pos + count + kPageSize - 1) / kPageSize;
  // The page holding the previous read's last byte (pos_same_folio(ki_pos, last_pos - 1)).
  const std::uint64_t prev_index =
      f.f_ra.prev_pos == ~0ull || f.f_ra.prev_pos == 0 ? ~0ull : (f.f_ra.prev_pos - 1) / kPageSize;
  constexpr std::size_t kFolioBatch = 15;  // PAGEVEC_SIZE: a folio_batch in 6.1
  page* batch[kFolioBatch];
  std::size_t nr = 0;
  // filemap_get_read_batch over [idx, last_index): a page whose read the device has
  // completed by now is up to date (its end_io ran); one still under read ends the batch.
  auto get_read_batch = [&](std::uint64_t idx) {
    nr = 0;
    k_.kclock_.sync(cpu, cost);
    for (std::uint64_t j = idx; j < last_index && nr < kFolioBatch; ++j) {
      page* pg = find_get_page(ino, j);
      if (!pg) break;
      if (pg->test(PG_locked)) {
        auto it = io_.find(k_.pm_.page_to_pfn(pg).value());
        if (it == io_.end() || (!it->second.write && it->second.done <= k_.kclock_.now(cpu, cost))) wait_on_page_locked(pg, cpu, cost);
      }
      batch[nr++] = pg;
      if (pg->test(PG_locked) || pg->test(PG_readahead)) break;
    }
  };
  std::uint64_t done = 0;
  // The file page whose copy has begun (charged and marked accessed once, even
  // when a fault on the user's side sends the loop back to look it up again).
  std::uint64_t started = ~0ull;
  while (done < count) {
    const std::uint64_t idx = (pos + done) / kPageSize;
    get_read_batch(idx);
    if (!nr) {
      page_cache_sync_readahead(t, f, idx, last_index - idx, cost);
      get_read_batch(idx);
      if (!nr) {  // filemap_create_folio: this page alone, read now
        do_page_cache_ra(t, ino, idx, 1, 0, cpu, cost);
        page* pg = find_get_page(ino, idx);
        if (!pg) return done ? static_cast<long>(done) : -ENOMEM;
        batch[nr++] = pg;
      }
    }
    page* last = batch[nr - 1];
    if (last->test(PG_readahead)) page_cache_async_readahead(t, f, last, last->index, last_index - last->index, cost);
    if (last->test(PG_locked)) wait_on_page_locked(last, cpu, cost);
    // copy_page_to_iter: each piece goes to the user's buffer through its page
    // tables (a piece ends at a page boundary of either side). A buffer page that
    // had to be faulted in first sends the loop back to look the batch up again:
    // the fault may have reclaimed pages of it (Linux holds references instead).
    for (std::size_t i = 0; i < nr && done < count;) {
      page* pg = batch[i];
      const std::uint64_t p = pos + done;
      const std::uint64_t off = p & (kPageSize - 1);
      const VirtAddr ubuf = buf + done;
      const std::uint64_t n =
          std::min({kPageSize - off, count - done, kPageSize - (ubuf & (kPageSize - 1))});
      bool faulted = false;
      const PhysAddr dst = k_.uaccess_phys(t, ubuf, true, cost, &faulted);
      if (!dst) {  // the exception fixup: what was copied, or -EFAULT
        f.f_ra.prev_pos = pos + done;
        return done ? static_cast<long>(done) : -EFAULT;
      }
      if (faulted) break;
      if (started != pg->index) {
        started = pg->index;
        cost.add_cycles(params_.filemap_page_cycles);
        if (pg->index != prev_index || done) k_.mark_page_accessed(pg);
      }
      cost.add_memory(k_.platform_.kernel_copy(cpu, dst, k_.pm_.page_to_phys(pg) + off, Bytes(n)));
      done += n;
      if (((pos + done) & (kPageSize - 1)) == 0) ++i;
    }
  }
  f.f_ra.prev_pos = pos + done;
  return static_cast<long>(done);
}

// generic_perform_write: per page, write_begin (blocks allocated for a hole: ENOSPC
// stops the write there; the page found or added, read first when the write
// covers part of a page that holds data on disk), the copy from the user, then
// write_end (dirty, i_size) and balance_dirty_pages_ratelimited.
long FileSystem::generic_perform_write(task_struct* t, file& f, std::uint64_t pos, VirtAddr buf, std::uint64_t count,
                                       KernelCost& cost) {
  inode& ino = *f.f_inode;
  const CpuId cpu = t->cpu;
  complete_io(cpu, cost);
  std::uint64_t done = 0, dirtied = 0;
  long err = 0;
  while (done < count) {
    const std::uint64_t p = pos + done;
    const std::uint64_t idx = p / kPageSize;
    const std::uint64_t off = p & (kPageSize - 1);
    // fault_in_iov_iter_readable before write_begin: the user's pages under this
    // page's piece are faulted in (if they must be) before the page-cache page is
    // looked up or locked; a buffer that cannot be read ends the write there
    // (what was written, or -EFAULT). Simplified: should write_begin's allocation
    // reclaim such a user page, the copy is still timed from where it was
    // (Linux's atomic copy would fail and fault it in again).
    const Kernel::UserPieces up =
        k_.user_pieces(t, buf + done, std::min(kPageSize - off, count - done), false, cost);
    if (up.bytes == 0) {
      err = -EFAULT;
      break;
    }
    const std::uint64_t n = up.bytes;
    cost.add_cycles(params_.filemap_page_cycles);
    const bool had_block = bmap(ino, idx) != ~0ull;
    if (!had_block && free_blocks_ == 0) {
      err = -ENOSPC;
      break;
    }
    page* pg = find_get_page(ino, idx);
    if (!pg) {
      const bool partial = n < kPageSize && p - off < ino.i_size;  // bytes of the page outside the write hold data
      if (partial && had_block) {
        do_page_cache_ra(t, ino, idx, 1, 0, cpu, cost);  // the read of write_begin
        pg = find_get_page(ino, idx);
      } else {
        pg = add_page(ino, idx, t, cpu, cost);
        if (pg) {
          if (n < kPageSize) cost.add_memory(k_.platform_.kernel_write(cpu, k_.pm_.page_to_phys(pg), Bytes(kPageSize)));
          pg->set(PG_uptodate);
        }
      }
      if (!pg) {
        err = -ENOMEM;
        break;
      }
    }
    if (!had_block) alloc_blocks(ino, idx, idx);  // a free block exists (checked above)
    if (pg->test(PG_locked)) wait_on_page_locked(pg, cpu, cost);
    cost.add_memory(k_.copy_from_user_pieces(cpu, k_.pm_.page_to_phys(pg) + off, up));  // copy_page_from_iter_atomic
    if (!pg->test(PG_dirty)) ++dirtied;
    set_page_dirty(ino, pg, cpu);
    k_.mark_page_accessed(pg);
    done += n;
    if (p + n > ino.i_size) ino.i_size = p + n;
    if (dirtied >= 32) {  // balance_dirty_pages_ratelimited's ratelimit
      balance_dirty_pages(t, dirtied, cost);
      dirtied = 0;
    }
  }
  if (dirtied) balance_dirty_pages(t, dirtied, cost);
  if (done == 0 && err) return err;
  return static_cast<long>(done);
}

// truncate_inode_pages_range over pages [first, last]: each waits for its read or
// writeback, leaves its LRU list and the cache, and is freed when no one else holds it.
void FileSystem::truncate_inode_pages_range(inode& ino, std::uint64_t first, std::uint64_t last, CpuId cpu,
                                            KernelCost& cost) {
  if (!ino.i_mapping.nrpages && ino.i_mapping.i_pages.nodes().empty()) return;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;  // index, entry
  auto& nodes = ino.i_mapping.i_pages.nodes();
  for (auto it = nodes.lower_bound(first >> PageIndex::kShift); it != nodes.end(); ++it) {
    const std::uint64_t base = it->first << PageIndex::kShift;
    if (base > last) break;
    for (std::uint64_t s = 0; s < PageIndex::kSlots; ++s) {
      const std::uint64_t idx = base + s;
      if (idx < first || idx > last || !it->second->slots[s]) continue;
      entries.push_back({idx, it->second->slots[s]});
    }
  }
  if (!disk_tokens_.empty())  // the data beyond goes with the blocks
    disk_tokens_.erase(disk_tokens_.lower_bound({ino.i_mapping.id, first}),
                       last == ~0ull ? disk_tokens_.lower_bound({ino.i_mapping.id + 1, 0})
                                     : disk_tokens_.lower_bound({ino.i_mapping.id, last + 1}));
  for (auto [idx, e] : entries) {
    if (e & 1) {  // a shadow entry goes too
      ino.i_mapping.i_pages.store(idx, 0);
      continue;
    }
    page* pg = k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
    cost.add_cycles(params_.filemap_page_cycles);
    if (pg->test(PG_locked)) wait_on_page_locked(pg, cpu, cost);
    if (pg->test(PG_writeback)) wait_on_page_writeback(pg, cpu, cost);
    delete_from_page_cache(ino, pg, 0, cpu, cost);
    pg->clear(PG_readahead);
    if (pg->_refcount == 1) {
      k_.lru_page_release(pg);
      pg->flags &= ~((1u << PG_uptodate) | (1u << PG_dirty));
      pg->owner = 0;
      k_.mem_cgroup_uncharge(pg);
      k_.pm_.free_pages(cpu, pg, 0, cost);
    } else {
      // Isolated by reclaim (its reference): it finds the page gone from the cache and frees it.
      --pg->_refcount;
      pg->owner = 0;
    }
  }
}

// invalidate_mapping_pages (mapping_evict_folio): clean, unlocked, not under
// writeback, unmapped pages only; their LRU place and cache slot go.
std::uint64_t FileSystem::invalidate_mapping_pages(inode& ino, std::uint64_t first, std::uint64_t last, CpuId cpu,
                                                   KernelCost& cost) {
  std::vector<page*> victims;
  for_each_cached_page(ino, first, last, [&](page* pg) {
    if (pg->test(PG_dirty) || pg->test(PG_writeback) || pg->test(PG_locked) || pg->mapcount) return;
    if (pg->_refcount != 1 || !pg->test(PG_lru)) return;  // isolated or in a batch
    victims.push_back(pg);
  });
  for (page* pg : victims) {
    cost.add_cycles(params_.filemap_page_cycles);
    save_disk_token(ino, pg);
    k_.lru_page_release(pg);
    delete_from_page_cache(ino, pg, 0, cpu, cost);
    pg->flags &= ~((1u << PG_uptodate) | (1u << PG_readahead));
    pg->owner = 0;
    k_.mem_cgroup_uncharge(pg);
    k_.pm_.free_pages(cpu, pg, 0, cost);
  }
  return victims.size();
}

// __remove_mapping for reclaim: the page (isolated: cache + isolation references)
// leaves the cache with a workingset shadow at its index.
bool FileSystem::remove_mapping(page* pg, CpuId cpu, KernelCost& cost) {
  inode* ino = inode_of(pg);
  if (!ino) {  // truncated while isolated: only the isolation reference is left
    return pg->_refcount == 1 && pg->mapcount == 0;
  }
  if (pg->test(PG_locked) || pg->test(PG_writeback) || pg->test(PG_dirty) || pg->mapcount) return false;
  if (pg->_refcount != 2) return false;  // someone else holds it
  const std::uint64_t shadow = k_.workingset_eviction(pg);
  save_disk_token(*ino, pg);
  delete_from_page_cache(*ino, pg, shadow, cpu, cost);
  --pg->_refcount;  // the cache's reference
  pg->clear(PG_uptodate);
  pg->clear(PG_readahead);
  return true;
}

void FileSystem::for_each_cached_page(inode& ino, std::uint64_t first, std::uint64_t last,
                                      const std::function<void(page*)>& fn) {
  auto& nodes = ino.i_mapping.i_pages.nodes();
  for (auto it = nodes.lower_bound(first >> PageIndex::kShift); it != nodes.end(); ++it) {
    const std::uint64_t base = it->first << PageIndex::kShift;
    if (base > last) break;
    for (std::uint64_t s = 0; s < PageIndex::kSlots; ++s) {
      const std::uint64_t idx = base + s, e = it->second->slots[s];
      if (idx < first || idx > last || !e || (e & 1)) continue;
      fn(k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e))));
    }
  }
}

void FileSystem::save_disk_token(const inode& ino, const page* pg) {
  if (!k_.page_tokens_.enabled()) return;
  const std::uint64_t tok = k_.page_tokens_.get(k_.pm_.page_to_pfn(pg).value());
  if (tok)
    disk_tokens_[{ino.i_mapping.id, pg->index}] = tok;
  else
    disk_tokens_.erase({ino.i_mapping.id, pg->index});
}

// get_file for a VMA: the inode stays while any VMA copy maps it (i_count); the
// last copy's release is fput -> iput (an unlinked inode freed then).
std::shared_ptr<file> FileSystem::mmap_file(const file& f) {
  auto* copy = new file(f);
  ++copy->f_inode->i_count;
  return std::shared_ptr<file>(copy, [this](file* p) {
    inode* ino = p->f_inode;
    delete p;
    --ino->i_count;
    KernelCost cost;  // the release of the last mapping: not charged to anyone
    iput(ino, CpuId(0), cost);
  });
}

unsigned FileSystem::page_mkwrite(page* pg, CpuId cpu, bool& dirtied) {
  dirtied = false;
  inode* ino = inode_of(pg);
  if (!ino) return VM_FAULT_SIGBUS;  // truncated under the fault (not expected: faults are atomic here)
  if (bmap(*ino, pg->index) == ~0ull && alloc_blocks(*ino, pg->index, pg->index) != 0) return VM_FAULT_SIGBUS;
  dirtied = mark_page_dirty(pg, cpu);
  return 0;
}

bool FileSystem::mark_page_dirty(page* pg, CpuId cpu) {
  inode* ino = inode_of(pg);
  if (!ino || pg->test(PG_dirty)) return false;
  set_page_dirty(*ino, pg, cpu);
  return true;
}

// filemap_fault: the page at pgoff, found or read (do_sync_mmap_readahead on a
// miss: VM_SEQ_READ's sync readahead or the read-around window of ra_pages
// centred on it; do_async_mmap_readahead at a PG_readahead marker), waited for
// when its read is in flight. A miss is a major fault (PGMAJFAULT).
unsigned FileSystem::filemap_fault(task_struct* t, file& f, std::uint64_t pgoff, bool seq, bool rand, page*& out,
                                   KernelCost& cost) {
  inode& ino = *f.f_inode;
  const CpuId cpu = t->cpu;
  out = nullptr;
  const std::uint64_t max_idx = (ino.i_size + kPageSize - 1) / kPageSize;
  if (pgoff >= max_idx) return VM_FAULT_SIGBUS;
  complete_io(cpu, cost);
  cost.add_cycles(params_.filemap_page_cycles);
  unsigned ret = 0;
  file_ra_state& ra = f.f_ra;
  page* pg = find_get_page(ino, pgoff);
  if (pg) {
    if (!rand && ra.ra_pages && pg->test(PG_readahead)) page_cache_async_readahead(t, f, pg, pgoff, ra.ra_pages, cost);
  } else {
    k_.pm_.count_vm_events(cpu, PGMAJFAULT);
    if (t->mm) k_.count_memcg_events(t->mm->memcg_id, MEMCG_PGMAJFAULT);
    ret = VM_FAULT_MAJOR;
    if (!rand && ra.ra_pages) {
      if (seq) {
        page_cache_sync_readahead(t, f, pgoff, ra.ra_pages, cost);
      } else {  // mmap read-around
        ra.start = pgoff > ra.ra_pages / 2 ? pgoff - ra.ra_pages / 2 : 0;
        ra.size = ra.ra_pages;
        ra.async_size = ra.ra_pages / 4;
        do_page_cache_ra(t, ino, ra.start, ra.size, ra.async_size, cpu, cost);
      }
    }
    pg = find_get_page(ino, pgoff);
    if (!pg) {  // no readahead (or it stopped short): this page alone
      do_page_cache_ra(t, ino, pgoff, 1, 0, cpu, cost);
      pg = find_get_page(ino, pgoff);
      if (!pg) return VM_FAULT_OOM;
    }
  }
  if (pg->test(PG_locked)) wait_on_page_locked(pg, cpu, cost);
  out = pg;  // (no folio_mark_accessed: the PTE's accessed bit tells reclaim)
  return ret;
}

std::uint64_t FileSystem::nr_cache_pages() const {
  std::uint64_t n = 0;
  for (const auto& [p, ino] : by_path_) n += ino->i_mapping.nrpages;
  for (const auto& [i, ino] : orphans_) n += ino->i_mapping.nrpages;
  return n;
}

// The page cache's consistency: every entry's page owned by its mapping at its
// index, referenced, not anonymous, not swap-backed; the counts of pages, dirty
// pages and pages under writeback per mapping; the node counters in sum.
void FileSystem::check_consistency() const {
  auto fail = [](const char* what, std::uint64_t a, std::uint64_t b) {
    std::fprintf(stderr, "numasim: DEBUG_VM check failed: %s (0x%llx, 0x%llx)\n", what,
                 static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
    std::abort();
  };
  std::uint64_t total = 0, dirty = 0, wb = 0;
  auto check_inode = [&](const inode& ino) {
    std::uint64_t n = 0, d = 0, w = 0;
    for (const auto& [key, node] : ino.i_mapping.i_pages.nodes()) {
      unsigned cnt = 0;
      for (std::uint64_t s = 0; s < PageIndex::kSlots; ++s) {
        const std::uint64_t e = node->slots[s];
        if (!e) continue;
        ++cnt;
        if (e & 1) continue;
        const page* pg = k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
        const std::uint64_t idx = (key << PageIndex::kShift) + s;
        if (pg->owner != ino.i_mapping.id || pg->index != idx) fail("page-cache page with another owner or index", PageIndex::entry_pfn(e), idx);
        if (pg->_refcount < 1 || PageBuddy(pg)) fail("free page in the page cache", PageIndex::entry_pfn(e), pg->flags);
        if (PageAnon(pg) || PageSwapBacked(pg)) fail("anonymous page in the page cache", PageIndex::entry_pfn(e), pg->flags);
        ++n;
        if (pg->test(PG_dirty)) ++d;
        if (pg->test(PG_writeback)) ++w;
      }
      if (cnt != node->count) fail("page-cache index node count", key, cnt);
    }
    if (n != ino.i_mapping.nrpages) fail("nrpages differs from the cached pages", n, ino.i_mapping.nrpages);
    if (d != ino.i_mapping.nr_dirty) fail("a mapping's dirty count differs from its PG_dirty pages", ino.i_ino, d);
    if (w != ino.i_mapping.nr_writeback) fail("a mapping's writeback count differs", ino.i_ino, w);
    total += n, dirty += d, wb += w;
    std::uint64_t blocks = 0;
    for (const fs_extent& e : ino.extents) blocks += e.len;
    if (blocks != ino.nr_blocks) fail("extents differ from the inode's block count", ino.i_ino, blocks);
  };
  for (const auto& [p, ino] : by_path_) check_inode(*ino);
  for (const auto& [i, ino] : orphans_) check_inode(*ino);
  long file_pages = 0, node_dirty = 0;
  for (int n = 0; n < k_.pm_.nr_node_ids(); ++n) {
    const pglist_data& pgdat = k_.pm_.NODE_DATA(NodeId(n));
    file_pages += pgdat.stats.vm_stat[NR_FILE_PAGES] - pgdat.stats.vm_stat[NR_SHMEM] -
                  pgdat.stats.vm_stat[NR_SWAPCACHE];
    node_dirty += pgdat.stats.vm_stat[NR_FILE_DIRTY];
  }
  if (static_cast<std::uint64_t>(file_pages) != total) fail("nr_file_pages differs from the page cache", file_pages, total);
  if (static_cast<std::uint64_t>(node_dirty) != dirty) fail("nr_dirty differs from the dirty cache pages", node_dirty, dirty);
  std::uint64_t free_sum = 0;
  for (const auto& [b, len] : free_extents_) free_sum += len;
  if (free_sum != free_blocks_) fail("free extents differ from the free block count", free_sum, free_blocks_);
}

}  // namespace numasim::os
