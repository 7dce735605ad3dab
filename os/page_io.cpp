// Swap I/O (mm/page_io.c): swap_writepage and swap_readpage. An NVMe area's
// page goes through Platform::submit_bio at the area's start sector + slot * 8
// (writes asynchronously: PG_writeback is set and the platform's timer on the
// submitting CPU runs end_swap_bio_write at the completion time the device
// gave; a read of the faulting page is waited for: the time to its completion
// goes to KernelCost::io_wait, the task sleeps and its CPU runs something else). A zram area (de)compresses on the calling CPU (cycles from the area's
// parameters, the page and the pool object moved as kernel traffic) and
// completes at once (SWP_SYNCHRONOUS_IO). Page identity tokens (page_token.h)
// travel with the data: saved per slot at write, restored into the frame at read.
// Counters: pswpout/pswpin per page, pgpgout/pgpgin in kB, nr_writeback and
// nr_zone_write_pending while a write is in flight.
// Simplified: no bio plugging or merging of adjacent slots; a failed zram store
// (pool cannot grow) leaves the page dirty in the swap cache (PAGE_KEEP).
#include <algorithm>
#include <queue>
#include <vector>

#include "os/kernel.h"
#include "os/swapfile.h"
#include "os/zram.h"

namespace numasim::os {

namespace {
constexpr std::uint64_t kSectorsPerPage = kPageSize / 512;
}

// The writes in flight from one CPU, earliest completion first, and the timer for it.
struct Swap::Writeback {
  struct Item {
    Picoseconds done;
    std::uint64_t seq;
    std::uint64_t pfn;
    bool operator>(const Item& o) const { return done != o.done ? done > o.done : seq > o.seq; }
  };
  Swap* swap = nullptr;
  timer_list timer;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> q;

  static void fire(timer_list* t, KernelCost& cost) {
    auto* w = static_cast<Writeback*>(t->data);
    w->swap->complete_writeback(t->cpu, w->swap->k_.platform_.now(t->cpu), cost);
  }
};

Swap::Swap(Kernel& k, const SwapParams& params) : k_(k), params_(params) { areas_.resize(MAX_SWAPFILES); }

Swap::~Swap() {
  for (auto& w : writeback_)
    if (w && w->timer.pending) k_.platform_.del_timer(&w->timer);
}

void Swap::start_writeback(page* pg, CpuId cpu, Picoseconds done) {
  pg->set(PG_writeback);  // folio_start_writeback
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_WRITEBACK, 1);
  k_.pm_.mod_zone_page_state(*k_.pm_.page_zone(pg), NR_ZONE_WRITE_PENDING, 1);
  ++in_flight_;
  const auto c = static_cast<std::size_t>(cpu.value());
  if (writeback_.size() <= c) writeback_.resize(c + 1);
  if (!writeback_[c]) {
    writeback_[c] = std::make_unique<Writeback>();
    writeback_[c]->swap = this;
    writeback_[c]->timer.function = &Writeback::fire;
    writeback_[c]->timer.data = writeback_[c].get();
    writeback_[c]->timer.cpu = cpu;
  }
  Writeback& w = *writeback_[c];
  w.q.push({done, wb_seq_++, k_.pm_.page_to_pfn(pg).value()});
  if (!w.timer.pending || done < w.timer.expires) k_.platform_.mod_timer(&w.timer, done);
}

// end_swap_bio_write -> folio_end_writeback.
void Swap::end_page_writeback(page* pg, CpuId cpu, KernelCost& cost) {
  (void)cpu, (void)cost;
  pg->clear(PG_writeback);
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_WRITEBACK, -1);
  k_.pm_.mod_zone_page_state(*k_.pm_.page_zone(pg), NR_ZONE_WRITE_PENDING, -1);
  --in_flight_;
  k_.acct_reclaim_writeback(pg);
}

void Swap::complete_writeback(CpuId cpu, Picoseconds now, KernelCost& cost) {
  const auto c = static_cast<std::size_t>(cpu.value());
  if (c >= writeback_.size() || !writeback_[c]) return;
  Writeback& w = *writeback_[c];
  while (!w.q.empty() && w.q.top().done <= now) {
    const Writeback::Item it = w.q.top();
    w.q.pop();
    cost.add_cycles(params_.swap_bio_cycles / 2);  // the completion's share
    end_page_writeback(k_.pm_.pfn_to_page(Pfn(it.pfn)), cpu, cost);
  }
  if (!w.q.empty()) k_.platform_.mod_timer(&w.timer, w.q.top().done);
}

Picoseconds Swap::writeback_until(Picoseconds now, Picoseconds until, const bool* woken, CpuId cpu,
                                  KernelCost& cost) {
  Picoseconds woke = until;
  for (;;) {
    Writeback* first = nullptr;  // the CPU whose next write completes first (ties: lower CPU)
    for (auto& w : writeback_)
      if (w && !w->q.empty() && w->q.top().done <= until && (!first || w->q.top().done < first->q.top().done))
        first = w.get();
    if (!first) break;
    const Writeback::Item it = first->q.top();
    first->q.pop();
    cost.add_cycles(params_.swap_bio_cycles / 2);  // the completion's share
    end_page_writeback(k_.pm_.pfn_to_page(Pfn(it.pfn)), cpu, cost);
    if (woken && *woken) {
      woke = std::max(now, it.done);
      break;
    }
  }
  for (auto& w : writeback_) {  // each CPU's completion timer follows its queue
    if (!w) continue;
    if (!w->q.empty()) k_.platform_.mod_timer(&w->timer, w->q.top().done);
    else if (w->timer.pending) k_.platform_.del_timer(&w->timer);
  }
  return woke;
}

int Swap::swap_writepage(page* pg, CpuId cpu, KernelCost& cost) {
  if (try_to_free_swap(pg, cpu, cost)) return PAGE_SUCCESS;  // nobody needs the slot any more
  const swp_entry_t e = private_to_swp(pg->private_);
  swap_info_struct& si = *areas_[swp_type(e)];
  const std::uint64_t off = swp_offset(e);
  const PhysAddr phys = k_.pm_.page_to_phys(pg);
  if (k_.page_tokens_.enabled()) {
    if (si.token.empty()) si.token.assign(si.max, 0);
    si.token[off] = k_.page_tokens_.get(phys >> kPageShift);
  }
  cost.add_cycles(params_.swap_bio_cycles);
  if (si.zram) {
    cost.add_cycles(si.params.compress_cycles);
    if (!si.zram->store(off, cpu, cost)) return PAGE_KEEP;  // -ENOMEM: stays dirty
    pg->clear(PG_dirty);
    cost.add_memory(k_.platform_.kernel_read(cpu, phys, Bytes(kPageSize)));
    cost.add_memory(k_.platform_.kernel_write(cpu, si.zram->object_phys(off), si.zram->object_size()));
  } else {
    pg->clear(PG_dirty);  // folio_clear_dirty_for_io
    k_.kclock_.sync(cpu, cost);  // submitted at the task's own time
    const Picoseconds lat = k_.platform_.submit_bio_nowait(cpu, BioOp::Write, si.start_sector + off * kSectorsPerPage,
                                                           Bytes(kPageSize));
    start_writeback(pg, cpu, k_.platform_.now(cpu) + lat);
  }
  k_.pm_.count_vm_events(cpu, PSWPOUT);
  k_.pm_.count_vm_events(cpu, PGPGOUT, kPageSize / 1024);
  return PAGE_SUCCESS;
}

void Swap::swap_readpage(page* pg, swp_entry_t e, bool sync, CpuId cpu, KernelCost& cost) {
  swap_info_struct& si = *areas_[swp_type(e)];
  const std::uint64_t off = swp_offset(e);
  const PhysAddr phys = k_.pm_.page_to_phys(pg);
  cost.add_cycles(params_.swap_bio_cycles);
  if (si.zram) {
    cost.add_cycles(si.params.decompress_cycles);
    if (si.zram->stored(off))
      cost.add_memory(k_.platform_.kernel_read(cpu, si.zram->object_phys(off), si.zram->object_size()));
    cost.add_memory(k_.platform_.kernel_write(cpu, phys, Bytes(kPageSize)));
  } else {
    const std::uint64_t sector = si.start_sector + off * kSectorsPerPage;
    k_.kclock_.sync(cpu, cost);  // submitted at the task's own time
    const Picoseconds lat = k_.platform_.submit_bio_nowait(cpu, BioOp::Read, sector, Bytes(kPageSize));
    if (sync)  // swap_readpage_sync's wait (io_schedule until end_swap_bio_read)
      k_.kclock_.wait_until(cpu, k_.platform_.now(cpu) + lat, cost);
  }
  if (k_.page_tokens_.enabled()) k_.page_tokens_.set(phys >> kPageShift, si.token.empty() ? 0 : si.token[off]);
  pg->set(PG_uptodate);
  k_.pm_.count_vm_events(cpu, PSWPIN);
  k_.pm_.count_vm_events(cpu, PGPGIN, kPageSize / 1024);
}

}  // namespace numasim::os
