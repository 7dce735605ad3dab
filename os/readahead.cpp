// Readahead (mm/readahead.c, Linux 6.1): page_cache_sync_ra / page_cache_async_ra
// into ondemand_readahead (initial window from the request size by
// get_init_ra_size, ramped by get_next_ra_size up to ra_pages = read_ahead_kb,
// the PG_readahead marker async_size pages before the window's end, context
// readahead from the pages a stream left behind), force_page_cache_ra for
// FMODE_RANDOM, and do_page_cache_ra / page_cache_ra_unbounded / read_pages:
// missing pages are allocated, added to the cache locked and read with one bio
// per run of contiguous blocks, submitted without waiting (submit_bio_nowait).
// Holes need no I/O: their pages are zeroed and up to date at once.
// bdi->io_pages is [os.fs] max_sectors_kb: a read request larger than the
// window may read ahead up to it (ondemand_readahead's "optimal hardware IO
// size"), and a bio larger is split into requests of that size that the
// device serves in parallel (bio_split_to_limits + blk-mq); so is a bio with
// more than [os.fs] max_segments runs of physically contiguous pages (NVMe's
// NVME_MAX_SEGS 127 in 6.1). Each request completes on its own, so a reader
// starts on a window's first part while the rest is still transferred.
// The bios leave at the task's own time (os::KernelClock: the kernel cycles
// spent so far included).
// Why a 128 KiB window with 128 KiB read() calls stays below the device's
// bandwidth (as on Linux): once ramped, the PG_readahead marker sits on the
// first page of each window, so at most two windows are in flight (the one
// waited for and the next); 256 KiB against 3.2 GB/s x (80 us + 41 us) of
// the default NVMe is about 62% (Little's law). Larger requests (dd bs=1M,
// cp of big files) or a larger read_ahead_kb reach the bandwidth.
// Simplified: no large folios (page_cache_ra_order reads order-0 pages); no
// mmap readahead yet.
#include <algorithm>

#include "os/fs.h"
#include "os/kernel.h"

namespace numasim::os {

namespace {
unsigned long roundup_pow_of_two(unsigned long n) {
  unsigned long r = 1;
  while (r < n) r <<= 1;
  return r;
}
// get_init_ra_size
unsigned long get_init_ra_size(unsigned long size, unsigned long max) {
  unsigned long newsize = roundup_pow_of_two(size);
  if (newsize <= max / 32)
    newsize = newsize * 4;
  else if (newsize <= max / 4)
    newsize = newsize * 2;
  else
    newsize = max;
  return newsize;
}
// get_next_ra_size
unsigned long get_next_ra_size(const file_ra_state& ra, unsigned long max) {
  const unsigned long cur = ra.size;
  if (cur < max / 16) return 4 * cur;
  if (cur <= max / 2) return 2 * cur;
  return max;
}
}  // namespace

void FileSystem::page_cache_sync_readahead(task_struct* t, file& f, std::uint64_t index, std::uint64_t req_count,
                                           KernelCost& cost) {
  bool forced = f.ra_random;
  if (!f.f_ra.ra_pages) {
    req_count = 1;
    forced = true;
  }
  if (forced) {  // force_page_cache_ra: the request itself, in 2 MiB chunks, up to max(io_pages, ra_pages)
    std::uint64_t nr = std::min<std::uint64_t>(req_count, std::max<unsigned>({f.f_ra.ra_pages, io_pages(), 1u}));
    while (nr) {
      const std::uint64_t chunk = std::min<std::uint64_t>(nr, (2u << 20) / kPageSize);
      do_page_cache_ra(t, *f.f_inode, index, chunk, 0, t->cpu, cost);
      index += chunk;
      nr -= chunk;
    }
    return;
  }
  ondemand_readahead(t, f, false, index, req_count, cost);
}

void FileSystem::page_cache_async_readahead(task_struct* t, file& f, page* pg, std::uint64_t index,
                                            std::uint64_t req_count, KernelCost& cost) {
  if (!f.f_ra.ra_pages) return;
  if (pg->test(PG_writeback)) return;
  pg->clear(PG_readahead);
  ondemand_readahead(t, f, true, index, req_count, cost);
}

void FileSystem::ondemand_readahead(task_struct* t, file& f, bool hit_marker, std::uint64_t index,
                                    std::uint64_t req_size, KernelCost& cost) {
  file_ra_state& ra = f.f_ra;
  inode& ino = *f.f_inode;
  unsigned long max_pages = ra.ra_pages;
  // A request larger than the window may read up to the optimal hardware I/O size.
  if (req_size > max_pages && io_pages() > max_pages) max_pages = std::min<unsigned long>(req_size, io_pages());
  bool initial = false;
  if (!index) {
    initial = true;
  } else if (index == ra.start + ra.size - ra.async_size || index == ra.start + ra.size) {
    // The expected callback index: sequential. Ramp up and push the window forward.
    ra.start += ra.size;
    ra.size = static_cast<unsigned>(get_next_ra_size(ra, max_pages));
    ra.async_size = ra.size;
  } else if (hit_marker) {
    // A marker without valid state (interleaved streams): the cached run after it
    // (page_cache_next_miss) is the old async_size.
    std::uint64_t start = index + 1;
    while (start - index <= max_pages && find_get_page(ino, start)) ++start;
    if (start - index > max_pages) return;
    ra.start = start;
    ra.size = static_cast<unsigned>(start - index + req_size);
    ra.size = static_cast<unsigned>(get_next_ra_size(ra, max_pages));
    ra.async_size = ra.size;
  } else if (req_size > max_pages) {
    initial = true;  // oversize read
  } else {
    const std::uint64_t prev_index = ra.prev_pos == ~0ull ? ~0ull : ra.prev_pos / kPageSize;
    if (prev_index != ~0ull && index - prev_index <= 1) {
      initial = true;  // sequential cache miss
    } else {
      // try_context_readahead: count_history_pages (page_cache_prev_miss backwards).
      std::uint64_t size = 0;
      while (size < max_pages && size < index && find_get_page(ino, index - 1 - size)) ++size;
      if (size > req_size) {
        if (size >= index) size *= 2;
        ra.start = index;
        ra.size = static_cast<unsigned>(std::min<std::uint64_t>(size + req_size, max_pages));
        ra.async_size = 1;
      } else {
        // Standalone, small random read: read as is, leave the state alone.
        do_page_cache_ra(t, ino, index, req_size, 0, t->cpu, cost);
        return;
      }
    }
  }
  if (initial) {
    ra.start = index;
    ra.size = static_cast<unsigned>(get_init_ra_size(req_size, max_pages));
    ra.async_size = ra.size > req_size ? static_cast<unsigned>(ra.size - req_size) : ra.size;
  }
  // readit: a read that would hit its own marker merges the next window now.
  if (index == ra.start && ra.size == ra.async_size) {
    const unsigned long add = get_next_ra_size(ra, max_pages);
    if (ra.size + add <= max_pages) {
      ra.async_size = static_cast<unsigned>(add);
      ra.size += static_cast<unsigned>(add);
    } else {
      ra.size = static_cast<unsigned>(max_pages);
      ra.async_size = static_cast<unsigned>(max_pages >> 1);
    }
  }
  do_page_cache_ra(t, ino, ra.start, ra.size, ra.async_size, t->cpu, cost);
}

unsigned FileSystem::do_page_cache_ra(task_struct* t, inode& ino, std::uint64_t index, unsigned long nr,
                                      unsigned long lookahead, CpuId cpu, KernelCost& cost) {
  if (ino.i_size == 0) return 0;
  const std::uint64_t end_index = (ino.i_size - 1) / kPageSize;
  if (index > end_index) return 0;
  if (nr > end_index - index) nr = end_index - index + 1;
  std::vector<page*> batch;
  unsigned started = 0;
  for (unsigned long i = 0; i < nr; ++i) {
    if (find_get_page(ino, index + i)) {  // already cached: submit what we have
      submit_read(ino, batch, cpu, cost);
      batch.clear();
      continue;
    }
    page* pg = add_page(ino, index + i, t, cpu, cost);
    if (!pg) break;
    if (i == nr - lookahead) pg->set(PG_readahead);
    ++started;
    batch.push_back(pg);
  }
  submit_read(ino, batch, cpu, cost);
  return started;
}

// read_pages -> the file system's readahead -> submit_bio: one bio per run of
// pages whose blocks are contiguous; hole pages zeroed without I/O.
void FileSystem::submit_read(inode& ino, const std::vector<page*>& pages, CpuId cpu, KernelCost& cost) {
  std::size_t i = 0;
  while (i < pages.size()) {
    page* pg = pages[i];
    const std::uint64_t sector = bmap(ino, pg->index);
    if (sector == ~0ull) {  // a hole
      cost.add_memory(k_.platform_.kernel_write(cpu, k_.pm_.page_to_phys(pg), Bytes(kPageSize)));
      pg->set(PG_uptodate);
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    // bio_split_to_limits: at most max_sectors_kb and max_segments (a segment is a run of
    // physically contiguous pages, biovec_phys_mergeable) per request.
    const std::size_t max_pages = std::max<unsigned>(1, io_pages());
    unsigned segs = 1;
    while (j < pages.size() && j - i < max_pages && pages[j]->index == pages[j - 1]->index + 1 &&
           bmap(ino, pages[j]->index) == sector + (j - i) * (kPageSize / 512)) {
      const bool contig = k_.pm_.page_to_pfn(pages[j]).value() == k_.pm_.page_to_pfn(pages[j - 1]).value() + 1;
      if (!contig && segs == params_.max_segments) break;
      segs += contig ? 0 : 1;
      ++j;
    }
    const std::uint64_t bytes = (j - i) * kPageSize;
    cost.add_cycles(params_.bio_cycles);
    k_.kclock_.sync(cpu, cost);  // submitted at the task's own time
    const Picoseconds lat = k_.platform_.submit_bio_nowait(cpu, BioOp::Read, sector, Bytes(bytes));
    const Picoseconds done = k_.platform_.now(cpu) + lat;
    for (std::size_t p = i; p < j; ++p) {
      pages[p]->set(PG_locked);
      start_io(pages[p], false, done, cpu);
    }
    k_.pm_.count_vm_events(cpu, PGPGIN, bytes / 1024);
    i = j;
  }
}

}  // namespace numasim::os
