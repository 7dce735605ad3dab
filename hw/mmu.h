// Memory-management unit of one CPU: translation of a user virtual address
// through the L1 TLB, the second-level TLB and, on a miss, a page walk that reads
// the OS's x86-64 page tables entry by entry at their physical addresses through
// the memory system (so where the tables live and whether they are cached decides
// what a walk costs), helped by the paging-structure caches. The walker sets
// accessed and dirty bits through the OS (a locked write to the entry). A
// non-present or protection-violating entry raises a page fault to the OS
// (os::KernelEntry::page_fault); the MMU drops the TLB entries for the address (as x86 does on
// #PF), charges the OS's cost, and retries the walk. SIGSEGV, SIGBUS or an OOM
// kill end the translation (Translation::ok false, with the outcome).
//
// Simplifications: one walker (walks are serial), user-mode data accesses only
// (no NX check), the paging-structure caches do not cache access rights (Linux
// sets RW and US on every non-leaf user entry), 4-level paging, a write through
// a TLB entry whose dirty bit is not known set re-walks (like Intel's assist).
#pragma once

#include <array>
#include <cstdint>

#include "common/units.h"
#include "hw/memory_port.h"
#include "hw/page_walk_cache.h"
#include "hw/tlb.h"
#include "os/kernel_cost.h"
#include "os/kernel_entry.h"

namespace numasim {
class Config;
}
namespace numasim::os {
struct task_struct;
class PageTables;
}

namespace numasim::hw {

// x86-64 page-table entry bits (the architecture's, as the walker sees them).
namespace pte {
inline constexpr std::uint64_t kPresent = 1ull << 0;
inline constexpr std::uint64_t kRw = 1ull << 1;
inline constexpr std::uint64_t kUser = 1ull << 2;
inline constexpr std::uint64_t kAccessed = 1ull << 5;
inline constexpr std::uint64_t kDirty = 1ull << 6;
inline constexpr std::uint64_t kPse = 1ull << 7;  // 2 MiB / 1 GiB leaf in a PD / PDPT entry
inline constexpr std::uint64_t kNx = 1ull << 63;
inline constexpr std::uint64_t kAddrMask = 0x000ffffffffff000ull;  // bits 12..51
}  // namespace pte

// The address space a CPU runs in: CR3 (physical address of the PML4) and PCID.
struct MmuContext {
  PhysAddr cr3 = 0;
  Asid asid = 0;
  os::task_struct* task = nullptr;
};

struct MmuParams {
  TlbParams tlb = TlbParams::skylake();
  PageWalkCacheParams pwc;
  std::uint32_t walk_start_cycles = 0;  // fixed walker overhead per walk, on top of its memory reads
  std::uint32_t max_fault_retries = 4;  // a fault the OS "handled" that keeps faulting is a kernel bug

  // [tlb] (see TlbParams::from_config) and [mmu] walk_start_cycles, [mmu.page_walk_cache].
  static MmuParams from_config(Config root);
};

struct Translation {
  PhysAddr pa = 0;
  Picoseconds ready{0};  // absolute time at which the physical address is known
  bool ok = true;        // false: the fault killed the task (see fault)
  os::EntryResult fault = os::EntryResult::Ok;  // SIGSEGV, SIGBUS or OOM kill when !ok
  // Part of `ready` the task slept on I/O in its faults (os::KernelCost::io_wait): a core
  // that schedules blocks the task until `ready` and runs others from ready - io_wait.
  Picoseconds io_wait{0};
};

struct MmuStats {
  std::uint64_t walks = 0;
  std::uint64_t walk_reads = 0;      // page-table entries read by the walker
  std::uint64_t walk_ad_writes = 0;  // accessed/dirty bit updates
  std::uint64_t walk_ps = 0;         // time spent walking (excluding faults)
  std::uint64_t faults = 0;
  std::uint64_t fault_ps = 0;        // time charged for OS fault handling
  std::uint64_t sigsegv = 0;
  std::uint64_t sigbus = 0;
  std::uint64_t general_protection = 0;  // non-canonical addresses (#GP, SIGSEGV)
  std::uint64_t oom_kills = 0;       // faults that ended in an OOM kill of the faulting task
  std::uint64_t context_switches = 0;
};

class MemorySystem;

// What a machine's MMU may call without the MemoryPort and KernelEntry
// indirections (as Core's direct memory): the memory system behind `memory`
// and the page tables behind the kernel's read_pte and prefetch_pte. A walk
// reads two to four entries, each a virtual call to an adapter and one to the
// kernel before; the answers are the same. Null: through the interfaces
// (unit tests with stubs).
struct MmuDirect {
  MemorySystem* memory = nullptr;
  const os::PageTables* tables = nullptr;
};

class Mmu {
 public:
  Mmu(CpuId cpu, Frequency clock, const MmuParams& params, MemoryPort& memory, os::KernelEntry& os,
      MmuDirect direct = {});

  CpuId cpu() const { return cpu_; }
  // CR3 write on a context switch: without PCID every translation is flushed.
  void switch_context(const MmuContext& ctx);
  const MmuContext& context() const { return ctx_; }

  // Hot path: an L1 TLB hit that permits the access. Sets pa and the TLB latency.
  bool translate_fast(VirtAddr va, bool write, PhysAddr& pa, std::uint32_t& latency_cycles) {
    if (!is_canonical(va)) [[unlikely]] return false;  // translate_slow raises #GP
    TlbHit h = tlb_.lookup_l1(ctx_.asid, va);
    if (!h.entry) [[unlikely]] {
      l1_missed_ = true;
      return false;
    }
    if (write && (h.entry->flags & (kTlbWritable | kTlbDirty)) != (kTlbWritable | kTlbDirty)) [[unlikely]] {
      l1_missed_ = false;
      return false;
    }
    pa = h.entry->page_base | (va & (page_bytes(h.entry->size()) - 1));
    latency_cycles = h.latency_cycles;
    return true;
  }
  // Slow path after translate_fast failed for the same access, from absolute time `now`:
  // STLB, walk, page faults.
  Translation translate_slow(VirtAddr va, bool write, Picoseconds now);
  // A host prefetch, no effect on the simulation: the page-table entries a walk
  // for `va` would read below the levels the paging-structure caches hold are
  // brought into the host's caches (the upper entries are read, the leaf only
  // prefetched). For a core that walks on most accesses (GUPS), issued a few
  // operations ahead, it hides the host cache miss on the leaf entry.
  void prefetch_walk(VirtAddr va) const;
  // Closer to the access: reads the walk's entries (the leaf now in the host's
  // caches) and prefetches what the data access at the translated address will
  // look up in the memory system (nothing if `va` is not mapped).
  void prefetch_data(VirtAddr va) const;
  // Both paths (tests and non-hot callers).
  Translation translate(VirtAddr va, bool write, Picoseconds now);
  // x86-64 with 4-level paging: bits 63..47 all copies of bit 47.
  static bool is_canonical(VirtAddr va) {
    return static_cast<VirtAddr>(static_cast<std::int64_t>(va << 16) >> 16) == va;
  }

  // Shootdowns and INVLPG: TLB entries of the range and every paging-structure entry of the ASID.
  void invalidate_page(Asid asid, VirtAddr va);
  void invalidate_range(Asid asid, VirtAddr start, VirtAddr end);
  void invalidate_asid(Asid asid);
  void invalidate_all();

  Tlb& tlb() { return tlb_; }
  const Tlb& tlb() const { return tlb_; }
  PageWalkCache& pwc() { return pwc_; }
  const MmuStats& stats() const { return stats_; }
  void reset_stats();
  Frequency clock() const { return clock_; }

 private:
  // The host prefetches' look at the tables, with no effect on the simulation:
  // from the deepest level the paging-structure caches hold, reads the upper
  // entries that map `va` (each hinted to the memory system first if `hint`)
  // down to the leaf entry, which it does not read: its address and level
  // (3, or 2 / 1 for a 2 MiB / 1 GiB leaf). False at an entry not present.
  bool peek_leaf(VirtAddr va, bool hint, PhysAddr& entry, int& level) const;
  // The leaf entries prefetch_walk found, by 4 KiB page and address space: a
  // few operations later prefetch_data asks for the same page and reads its
  // leaf from here instead of peeking the tables again. Host state only: an
  // entry the tables have since changed is read as they are now (read_pte
  // answers 0 for a frame that holds no table), so at worst a prefetch misses.
  // `host`: the entry's host copy (os::PageTables::pte_host, direct
  // tables only; else null), prefetched by prefetch_walk and read through by
  // prefetch_data, where each looked its table up again. The table pools are
  // never released, so it stays readable; a table freed meanwhile makes it
  // read another entry or zero: a wrong or no host prefetch, nothing else.
  struct PeekedLeaf {
    VirtAddr page = ~VirtAddr{0};
    PhysAddr cr3 = 0;
    PhysAddr entry = 0;
    int level = 0;
    const std::uint64_t* host = nullptr;
  };
  static constexpr std::size_t kPeekedLeaves = 16;  // above the operations between the two prefetches
  mutable std::array<PeekedLeaf, kPeekedLeaves> peeked_{};
  // Walk from `t`; on success fills the TLBs. Returns false at a fault (sets fault_write_ok).
  // `absent`: no TLB level holds a translation of va (Tlb::fill_after_walk).
  bool walk(VirtAddr va, bool write, Picoseconds& t, PhysAddr& pa, bool absent);

  CpuId cpu_;
  Frequency clock_;
  MmuParams params_;
  // The STLB probe's and a walk's start cycles in picoseconds, converted once
  // (a 128-bit division each, on every STLB look-up and walk otherwise).
  Picoseconds l2_probe_ps_{0}, walk_start_ps_{0};
  MemoryPort& memory_;
  os::KernelEntry& os_;
  MmuDirect direct_;
  // The walker's page-table reads and timed accesses, direct when it can.
  std::uint64_t read_pte(PhysAddr entry) const;
  Picoseconds walker_access(PhysAddr pa, bool is_write, Picoseconds now);
  void host_prefetch(PhysAddr pa) const;
  Tlb tlb_;
  PageWalkCache pwc_;
  MmuContext ctx_;
  MmuStats stats_;
  Translation general_protection(Picoseconds now);  // #GP: SIGSEGV without a page fault
  bool l1_missed_ = true;  // last translate_fast failure was a miss (not a permission/dirty miss)
};

}  // namespace numasim::hw
