// Translation, page walks and page faults of one CPU (see mmu.h).
#include "hw/mmu.h"

#include <cstdio>
#include <cstdlib>

#include "common/config.h"
#include "hw/memory_system.h"
#include "os/pgtable.h"

namespace numasim::hw {

MmuParams MmuParams::from_config(Config root) {
  MmuParams p;
  p.tlb = TlbParams::from_config(root.table("tlb", "TLBs of each CPU"));
  Config mmu = root.table("mmu", "page walker of each CPU");
  p.walk_start_cycles =
      mmu.get<unsigned>("walk_start_cycles", p.walk_start_cycles, "fixed cycles per page walk", {0u, 10000u});
  p.max_fault_retries = mmu.get<unsigned>("max_fault_retries", p.max_fault_retries,
                                          "faults on one access before it is a kernel bug", {1u, 64u});
  p.pwc = PageWalkCacheParams::from_config(mmu.table("page_walk_cache", "paging-structure caches"));
  return p;
}

Mmu::Mmu(CpuId cpu, Frequency clock, const MmuParams& params, MemoryPort& memory, os::KernelEntry& os, MmuDirect direct)
    : cpu_(cpu),
      clock_(clock),
      params_(params),
      memory_(memory),
      os_(os),
      direct_(direct),
      tlb_(params.tlb),
      pwc_(params.pwc) {
  l2_probe_ps_ = clock_.to_time(Cycles(tlb_.l2_latency_cycles()));
  walk_start_ps_ = clock_.to_time(Cycles(params_.walk_start_cycles));
}

inline std::uint64_t Mmu::read_pte(PhysAddr entry) const {
  return direct_.tables ? direct_.tables->read_pte(entry) : os_.read_pte(entry);
}

inline Picoseconds Mmu::walker_access(PhysAddr pa, bool is_write, Picoseconds now) {
  // The walker does not look at where an access was served.
  return direct_.memory ? direct_.memory->access(cpu_, pa, is_write, now)
                        : memory_.access(cpu_, pa, is_write, now, nullptr);
}

inline void Mmu::host_prefetch(PhysAddr pa) const {
  if (direct_.memory)
    direct_.memory->host_prefetch(cpu_, pa);
  else
    memory_.host_prefetch(cpu_, pa);
}

void Mmu::switch_context(const MmuContext& ctx) {
  if (!params_.tlb.pcid && (ctx.asid != ctx_.asid || ctx.cr3 != ctx_.cr3)) {
    tlb_.invalidate_all();
    pwc_.invalidate_all();
  }
  ctx_ = ctx;
  ++stats_.context_switches;
}

Translation Mmu::translate(VirtAddr va, bool write, Picoseconds now) {
  PhysAddr pa = 0;
  std::uint32_t lat = 0;
  if (translate_fast(va, write, pa, lat)) return {pa, now + clock_.to_time(Cycles(lat)), true};
  return translate_slow(va, write, now);
}

// #GP for a non-canonical address, before any TLB or page-table lookup (the
// TLBs keep only the page-number bits a canonical address has, and the
// walker's indices ignore the rest: both would alias a mapped page); Linux's
// do_general_protection sends the user task SIGSEGV.
Translation Mmu::general_protection(Picoseconds now) {
  ++stats_.sigsegv;
  ++stats_.general_protection;
  return {0, now, false, os::EntryResult::Sigsegv};
}

Translation Mmu::translate_slow(VirtAddr va, bool write, Picoseconds now) {
  if (!is_canonical(va)) [[unlikely]] return general_protection(now);
  Picoseconds t = now;
  // No TLB level holds a translation of va: the L1 TLB missed (not a permission
  // miss) and so did the STLB. The first #PF's invalidation would drop nothing.
  bool no_tlb_entry = false;
  if (l1_missed_) {
    // Second-level TLB.
    t += l2_probe_ps_;
    TlbHit h = tlb_.lookup_l2(ctx_.asid, va);
    no_tlb_entry = !h.entry;
    if (h.entry) {
      const std::uint8_t need = write ? (kTlbWritable | kTlbDirty) : 0;
      if ((h.entry->flags & need) == need) {
        const TlbEntry e = *h.entry;
        tlb_.fill_l1(ctx_.asid, va, e.size(), e.page_base, e.flags);
        return {e.page_base | (va & (page_bytes(e.size()) - 1)), t, true};
      }
    }
  }
  Picoseconds io_wait{0};
  for (std::uint32_t attempt = 0; attempt <= params_.max_fault_retries; ++attempt) {
    PhysAddr pa = 0;
    // (Before the first fault nothing can have filled a TLB since both look-ups missed.)
    if (walk(va, write, t, pa, attempt == 0 && no_tlb_entry)) return {pa, t, true, os::EntryResult::Ok, io_wait};
    // #PF: x86 drops the TLB entries for the faulting address (none before the
    // first fault of a translation that missed every level; a probe that misses
    // changes no LRU stamp, so skipping it changes nothing).
    if (!(attempt == 0 && no_tlb_entry)) tlb_.invalidate_page(ctx_.asid, va);
    os::KernelCost cost;
    const auto outcome = os_.page_fault(ctx_.task, va, write, t, cost);
    const Picoseconds fault_time = clock_.to_time(cost.cycles) + cost.memory + cost.io_wait;
    io_wait += cost.io_wait;
    t += fault_time;
    ++stats_.faults;
    stats_.fault_ps += fault_time.value();
    switch (outcome) {
      case os::EntryResult::Ok: continue;
      case os::EntryResult::Sigsegv: ++stats_.sigsegv; break;
      case os::EntryResult::Sigbus: ++stats_.sigbus; break;
      case os::EntryResult::OomKill: ++stats_.oom_kills; break;
    }
    return {0, t, false, outcome, io_wait};
  }
  std::fprintf(stderr,
               "numasim: internal error: cpu %d: address 0x%llx still faults after %u faults the OS reported "
               "handled\n",
               cpu_.value(), static_cast<unsigned long long>(va), params_.max_fault_retries + 1);
  std::abort();
}

// Forced inline: prefetch_walk calls it once per GUPS update, and the call's
// saved registers and the results through memory were a sixth of its cost.
[[gnu::always_inline]] inline bool Mmu::peek_leaf(VirtAddr va, bool hint, PhysAddr& entry, int& level) const {
  const PageWalkCache::Hit hit = pwc_.peek(ctx_.asid, va);
  level = hit.next_level;
  PhysAddr table = level == 0 ? ctx_.cr3 : hit.table;
  for (;; ++level) {
    entry = table + ((va >> pt_index_shift(level)) & 511u) * 8u;
    if (level == 3) return true;
    if (hint) host_prefetch(entry);
    const std::uint64_t e = read_pte(entry);
    if (!(e & pte::kPresent)) return false;
    if (level > 0 && (e & pte::kPse)) return true;  // a 1 GiB or 2 MiB leaf
    table = e & pte::kAddrMask;
  }
}

void Mmu::prefetch_walk(VirtAddr va) const {
  PhysAddr entry;
  int level;
  if (!peek_leaf(va, true, entry, level)) return;
  PeekedLeaf& peeked = peeked_[(va >> kPageShift) % kPeekedLeaves];
  peeked = {va >> kPageShift, ctx_.cr3, entry, level, nullptr};
  if (level != 3) return;
  if (direct_.tables) {
    peeked.host = direct_.tables->pte_host(entry);
    if (peeked.host) __builtin_prefetch(peeked.host);
  } else {
    os_.prefetch_pte(entry);
  }
  host_prefetch(entry);
}

void Mmu::prefetch_data(VirtAddr va) const {
  PhysAddr entry;
  int level;
  const PeekedLeaf& peeked = peeked_[(va >> kPageShift) % kPeekedLeaves];
  const std::uint64_t* host = nullptr;
  if (peeked.page == va >> kPageShift && peeked.cr3 == ctx_.cr3) {
    entry = peeked.entry;
    level = peeked.level;
    host = peeked.host;
  } else if (!peek_leaf(va, false, entry, level)) {
    return;
  }
  const std::uint64_t e = host ? *host : read_pte(entry);
  if (!(e & pte::kPresent)) return;
  const PhysAddr size = PhysAddr(1) << pt_index_shift(level);
  host_prefetch((e & pte::kAddrMask & ~(size - 1)) | (va & (size - 1)));
}

// Forced inline into translate_slow, its one caller: once per walk, the call's
// saved registers and its results through memory cost about 20 host instructions.
[[gnu::always_inline]] inline bool Mmu::walk(VirtAddr va, bool write, Picoseconds& t, PhysAddr& pa, bool absent) {
  const Picoseconds start = t;
  ++stats_.walks;
  t += walk_start_ps_;
  PageWalkCache::Hit hit = pwc_.lookup(ctx_.asid, va);
  int level = hit.next_level;
  PhysAddr table = level == 0 ? ctx_.cr3 : hit.table;
  bool writable = true;
  for (;;) {
    const PhysAddr entry_pa = table + ((va >> pt_index_shift(level)) & 511u) * 8u;
    t += walker_access(entry_pa, false, t);
    ++stats_.walk_reads;
    const std::uint64_t e = read_pte(entry_pa);
    if (!(e & pte::kPresent) || !(e & pte::kUser)) break;
    writable = writable && (e & pte::kRw);
    if (write && !writable) break;
    const bool leaf = level == 3 || ((level == 1 || level == 2) && (e & pte::kPse));
    std::uint64_t set_bits = 0;
    if (!(e & pte::kAccessed)) set_bits |= pte::kAccessed;
    if (leaf && write && !(e & pte::kDirty)) set_bits |= pte::kDirty;
    if (set_bits) {
      os_.set_pte_bits(entry_pa, set_bits);
      t += walker_access(entry_pa, true, t);
      ++stats_.walk_ad_writes;
    }
    if (leaf) {
      const PageSize size = level == 3 ? PageSize::k4K : (level == 2 ? PageSize::k2M : PageSize::k1G);
      const PhysAddr base = e & pte::kAddrMask & ~(page_bytes(size) - 1);
      std::uint8_t flags = kTlbUser;
      if (writable) flags |= kTlbWritable;
      if ((e | set_bits) & pte::kDirty) flags |= kTlbDirty;
      tlb_.fill_after_walk(ctx_.asid, va, size, base, flags, absent);
      pa = base | (va & (page_bytes(size) - 1));
      stats_.walk_ps += (t - start).value();
      return true;
    }
    table = e & pte::kAddrMask;
    ++level;
    pwc_.insert_missing(ctx_.asid, va, level, table);  // below the lookup's hit: not held
  }
  stats_.walk_ps += (t - start).value();
  return false;
}

void Mmu::invalidate_page(Asid asid, VirtAddr va) {
  tlb_.invalidate_page(asid, va);
  pwc_.invalidate_asid(asid);
}

void Mmu::invalidate_range(Asid asid, VirtAddr start, VirtAddr end) {
  tlb_.invalidate_range(asid, start, end);
  pwc_.invalidate_asid(asid);
}

void Mmu::invalidate_asid(Asid asid) {
  tlb_.invalidate_asid(asid);
  pwc_.invalidate_asid(asid);
}

void Mmu::invalidate_all() {
  tlb_.invalidate_all();
  pwc_.invalidate_all();
}

void Mmu::reset_stats() {
  stats_ = {};
  tlb_.reset_stats();
  pwc_.reset_stats();
}

}  // namespace numasim::hw
