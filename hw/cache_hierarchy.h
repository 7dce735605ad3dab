// The cache levels of the machine: a private L1D and L2 per core and one shared
// last-level cache per socket, inclusive of the private levels or not per
// configuration. It decides at which level an access hits, keeps the arrays'
// contents up to date (fills on the way up, dirty victims written back into the
// next level down, inclusive back-invalidation) and reports the dirty lines that
// leave the hierarchy towards memory. Latencies are load-to-use cycles of a hit
// at each level, converted once to picoseconds with the core clock.
// Coherence (MESI, with a machine-wide snoop filter over the private caches,
// coherence_directory.h, and a probe of the other sockets' LLCs on each L1D
// miss): a write invalidates every other copy, a read downgrades a Modified or
// Exclusive copy elsewhere to Shared (its dirty data written back), and a
// write to a Shared L1 line first invalidates the others (an upgrade).
// MemorySystem times what the protocol reports (HITM transfers, invalidations).
// Simplifications: no Forward state (clean data always comes from the
// requester's own levels or memory); the snoop filter evicts by LRU and
// back-invalidates; L2 is not inclusive of L1; non-inclusive means
// fill-all-levels, no back-invalidation (NINE), not Skylake's exact
// victim-cache LLC; prefetchers live in MemorySystem; no MSHR limits (the core
// models line-fill buffers).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/units.h"
#include "hw/cache.h"
#include "hw/coherence_directory.h"
#include "hw/hw_stats.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

struct CacheHierarchyParams {
  // Defaults: Skylake-SP (DESIGN.md Reference figures; Intel optimization manual, 7-cpu).
  CacheParams l1d{Bytes(32 * 1024), 8, Bytes(64), Cycles(4), Replacement::Lru, 1, false};
  CacheParams l2{Bytes(1024 * 1024), 16, Bytes(64), Cycles(14), Replacement::Lru, 2, false};
  // 18 cores x 1.375 MiB, 11 ways; 50 cycles to a hit (and to know it missed).
  CacheParams llc{Bytes(18 * 1408 * 1024), 11, Bytes(64), Cycles(50), Replacement::Lru, 3, false};

  // Coherence between the private caches and the sockets' LLCs ([coherence]).
  bool coherence = true;
  double directory_coverage = 2.0;  // snoop-filter entries per private (L1D + L2) line
  std::size_t directory_ways = 8;

  // [cache] clear_residue: what a cached clear of a whole page leaves in the
  // caches. "exact" (default): its 64 lines installed one by one (L1D, snoop
  // filter, victims into L2 and the LLC); "deferred": the page recorded once and
  // its lines made real when touched (clear_residue.h, approximate).
  bool deferred_clear_residue = false;

  // Reads [cache.l1d], [cache.l2], [cache.llc] and [coherence] (enabled, directory_coverage,
  // directory_ways) of the root table.
  static CacheHierarchyParams from_config(Config root);
};

// What keeping the caches coherent took for one access, for MemorySystem to time.
struct SnoopResult {
  enum class Kind : std::uint8_t {
    None,        // no other copy had to change (or only clean copies were downgraded)
    Invalidate,  // a write: clean copies elsewhere were invalidated
    Hitm,        // another cache held the line Modified: it supplies the data
  };
  Kind kind = Kind::None;
  bool remote = false;  // another socket was involved (for Hitm: the owner's socket)
  int socket = -1;      // the farthest socket involved (the owner's, for Hitm)
};

// Dirty lines leaving the hierarchy towards memory during one access. Only
// addr[0, count) is meaningful: the array is left uninitialised (zeroing its
// 128 bytes took a `rep stos` per miss and per L2 prefetch, about 13% of
// the L2 streamer's prefetch issue, now MemorySystem::send_prefetches, in host time).
struct WritebackList {
  static constexpr int kCapacity = 16;
  std::array<PhysAddr, kCapacity> addr;
  int count = 0;
  void push(PhysAddr a) {
    if (count >= kCapacity) [[unlikely]]
      overflow();
    addr[static_cast<std::size_t>(count++)] = a;
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void overflow();
};

class CacheHierarchy {
 public:
  // cpu_socket[i]: socket of CPU i (its LLC); num_sockets LLCs are built.
  CacheHierarchy(const CacheHierarchyParams& params, const std::vector<int>& cpu_socket, int num_sockets,
                 Frequency core_clock);
  ~CacheHierarchy();

  // Fast path: true on an L1D hit (replacement and dirty state updated).
  bool l1_access(CpuId cpu, PhysAddr pa, bool is_write) { return l1_[cpu.value()]->access(pa, is_write); }
  // Slow path after an L1 miss: first keeps the caches coherent (`snoop` says
  // what that took: other copies invalidated on a write, downgraded to Shared
  // on a read, a Modified copy elsewhere supplying the data), then looks up L2
  // and the LLC and fills the missing levels (so call it once per access);
  // returns the level that hit (1 = a write upgrade of a Shared L1 line, 2 =
  // L2, 3 = LLC) or 4 when the line must come from memory (unless snoop is
  // Hitm). Dirty lines evicted to memory on the way are appended to `wb`.
  // (It and prefetch_into_l2 run a copy compiled for SSE4.1 on hosts that have
  // it, with way_scan.h's victim searches inline, as write_full_lines does.
  // Callgrind, hw_core_bench's L1-miss stream collecting Core::execute:
  // 2.027 G -> 1.961 G host instructions.)
  int access_below_l1(CpuId cpu, PhysAddr pa, bool is_write, WritebackList& wb, SnoopResult& snoop) {
#if defined(__x86_64__)
    if (sse41_in_use) {
      if (skylake_ways_) return access_below_l1_sse41_skylake(cpu, pa, is_write, wb, snoop);
      return access_below_l1_sse41(cpu, pa, is_write, wb, snoop);
    }
#endif
    return access_below_l1_plain(cpu, pa, is_write, wb, snoop);
  }
  int access_below_l1(CpuId cpu, PhysAddr pa, bool is_write, WritebackList& wb) {
    SnoopResult ignored;
    return access_below_l1(cpu, pa, is_write, wb, ignored);
  }
  // A hardware prefetch of the line holding `pa` into `cpu`'s L2: returns 2 if
  // L2 holds it already (nothing changes), 3 if the LLC does (L2 filled) or 4
  // if it must come from memory (LLC and L2 filled). Demand counters untouched.
  // A line that another CPU or socket holds is not prefetched (returns 2).
  // `l2_held`, when given, says whether L2 held the line (a redundant prefetch).
  int prefetch_into_l2(CpuId cpu, PhysAddr pa, WritebackList& wb, bool* l2_held = nullptr) {
#if defined(__x86_64__)
    if (sse41_in_use) {
      if (skylake_ways_) return prefetch_into_l2_sse41_skylake(cpu, pa, wb, l2_held);
      return prefetch_into_l2_sse41(cpu, pa, wb, l2_held);
    }
#endif
    return prefetch_into_l2_plain(cpu, pa, wb, l2_held);
  }
  // A store that overwrites the whole line holding `pa` (rep stosb / movsb in
  // clear_page and copy_page): the line is installed in L1D Modified without
  // reading its old data. Returns the level that held a copy (1..3) or 4 if
  // none did; a stale copy below L1 is refreshed when the line is written back.
  // Copies elsewhere are invalidated (`snoop`).
  // `llc_level` false: a line L2 does not hold is reported as level 4 without
  // looking it up in the LLC (for a caller that times an LLC hit and a local miss alike).
  int write_full_line(CpuId cpu, PhysAddr pa, WritebackList& wb, SnoopResult& snoop, bool llc_level = true);
  // [cache] clear_residue = "deferred" (clear_residue.h; hw/cache_hierarchy_residue.cpp).
  // Prepares what follows (MemorySystem calls it once, before any access):
  // counts of the lines every cache array holds by 4 KiB page of [0, end)
  // (zero-filled host memory on demand: only pages whose lines were ever
  // cached cost host memory), and each array's displacement history.
  void defer_clear_residue(PhysAddr end);
  // Whether any cache of the machine holds a line of the 4 KiB page at `page`.
  bool holds_any_line(PhysAddr page) const {
    const std::size_t p = static_cast<std::size_t>(page >> kPageShift);
    return p >= page_count_n_ || page_counts_.get()[p] != 0;
  }
  // A deferred clear's line made real where its age puts it: level 1 a
  // whole-line store into `cpu`'s L1D (write_full_line), 2 a dirty line into
  // its L2 (tracked by the snoop filter), 3 a dirty line into its socket's LLC;
  // victims as those operations leave them (dirty ones towards memory in `wb`).
  void install_residue(CpuId cpu, PhysAddr line, int level, WritebackList& wb);
  // Lines `mask` of the 4 KiB page at `page`, a deferred clear's, enter
  // `cpu`'s socket's LLC as dirty lines (its L2 giving them up) in one batch,
  // as install_residue at level 3 line by line: returns how many dirty lines
  // they pushed out, dirty[0, n), dirty[i] pushed out by line line_of[i] of the page.
  std::size_t install_residue_page_in_llc(CpuId cpu, PhysAddr page, std::uint64_t mask, PhysAddr* dirty,
                                          std::uint8_t* line_of);
  // What the lines deferred clears did not install would have pushed out of
  // the real lines. In an LRU array a line untouched while the array took as
  // many lines as it holds is gone; the virtual lines count among those it
  // took. Each array's sweep steps once per 64 virtual lines that entered it,
  // given here: `l1` (of `cpu`'s previous clear, those its next accesses left
  // virtual: its L1D), `l2` (leaving its L1D: its L2); a line made real takes
  // a real way instead, and so does a line leaving L2, installed in the LLC
  // (install_residue_page_in_llc), so the LLC needs no sweep. A step
  // visits a rolling share of the array's sets (kDisplacementSweeps x 64 /
  // ways of them) and removes the lines untouched since the array took about
  // its size in lines (real fills and virtual lines): L1D's dirty ones are
  // written back into L2, L2's into the LLC; the LLC victims of those
  // write-backs go towards memory, returned (displaced()[0, n)).
  // Simplification: the pressure is spread evenly over the sets, not set by
  // set, and a line leaves within 1/8 of the array's size of the exact age.
  std::size_t displace_for_clear(CpuId cpu, unsigned l1, unsigned l2);
  const PhysAddr* displaced() const { return displaced_.data(); }
  // A deferred clear of `page` by `cpu` (clear_residue.h): the real lines of
  // its L1D that the page's 64 lines would push out now leave at the clear,
  // as the exact clear's installs push them out, instead of at the stores
  // that make the lines real later (which then fill the ways freed). Their
  // dirty ones go into L2; what that pushes out of L2 and the LLC towards
  // memory is displaced()[0, n), displaced_line()[i] the page's line whose
  // install pushed it out (CacheArray::evict_for_lines).
  std::size_t evict_l1_for_clear(CpuId cpu, PhysAddr page);
  const std::uint8_t* displaced_line() const { return displaced_line_.data(); }
  // Removes the line holding `pa` from every cache of the machine (non-temporal
  // stores, DMA); returns whether a copy was dirty.
  bool invalidate_everywhere(PhysAddr pa);
  // Residency counts by 2 MiB region of physical memory [0, end) (MemorySystem
  // calls this once, before any access): one count per socket's LLC, kept by
  // the LLC on every fill and eviction. A write's snoop (and a prefetch's check)
  // skips another socket's LLC with no line in the region, and an invalidation
  // (streaming stores) skips the LLCs that hold nothing of its region. Exact: a
  // count of 0 means the lookup would have found nothing.
  static constexpr unsigned kRegionShift = 21;
  void count_regions(PhysAddr end);
  // Whether socket `socket`'s LLC holds no line of [first, last] (true only when counted).
  bool llc_clean(int socket, PhysAddr first, PhysAddr last) const;
  // llc_clean(socket, line, line) of one line, inline.
  bool llc_clean(int socket, PhysAddr line) const {
    const std::size_t r = static_cast<std::size_t>(line >> kRegionShift);
    return r < llc_region_n_ && llc_regions_[static_cast<std::size_t>(socket) * llc_region_n_ + r] == 0;
  }
  // The same counts for each CPU's private caches (L1D and L2 together, by
  // regions of 64 KiB, or larger so that a CPU has at most 2^16 of them): a
  // snoop-filter eviction's back-invalidation skips a CPU that holds no line
  // of the evicted line's region (exact: both look-ups would have missed; on a
  // swap-heavy run nearly every back-invalidation finds nothing).
  bool private_clean(int cpu, PhysAddr line) const {
    const std::size_t r = static_cast<std::size_t>(line >> private_shift_);
    return r < private_n_ && private_counts_[static_cast<std::size_t>(cpu) * private_n_ + r] == 0;
  }
  // The count private_clean reads: lines of `cpu`'s L1D and L2 in the region
  // of `pa` (a line in both counts twice; 0 when not counted), and the
  // regions' size (log2 bytes). For tests.
  std::uint32_t private_lines(int cpu, PhysAddr pa) const {
    const std::size_t r = static_cast<std::size_t>(pa >> private_shift_);
    return r < private_n_ ? private_counts_[static_cast<std::size_t>(cpu) * private_n_ + r] : 0;
  }
  unsigned private_region_shift() const { return private_shift_; }
  // invalidate_everywhere's part in the private caches (and the directory).
  bool invalidate_private(PhysAddr pa);

  // Latency of a hit at `level` (1..3); level 4 returns the LLC miss-detection time.
  Picoseconds hit_latency(int level) const { return latency_ps_[level < 1 ? 1 : (level > 3 ? 3 : level)]; }

  CacheArray& l1d(CpuId cpu) { return *l1_[cpu.value()]; }
  // A host prefetch of what a miss of `cpu` at `pa` looks up below L1D (its L2
  // set, its socket's LLC set, the snoop-filter set); no effect on the simulation.
  void host_prefetch(CpuId cpu, PhysAddr pa) const {
    l2_[cpu.value()]->host_prefetch(pa);
    llc_[static_cast<std::size_t>(cpu_socket_[cpu.value()])]->host_prefetch(pa);
    if (dir_) dir_->host_prefetch(pa & ~PhysAddr(kCacheLineBytes - 1));
  }
  CacheArray& l2(CpuId cpu) { return *l2_[cpu.value()]; }
  CacheArray& llc(int socket) { return *llc_[socket]; }
  int socket_of(CpuId cpu) const { return cpu_socket_[cpu.value()]; }
  int num_cpus() const { return static_cast<int>(cpu_socket_.size()); }
  const CacheHierarchyParams& params() const { return params_; }
  std::uint64_t back_invalidations() const { return back_invalidations_; }
  const CoherenceDirectory* directory() const { return dir_.get(); }

  void reset_stats();
  // Names: system.cpu<i>.l1d.*, system.cpu<i>.l2.*, system.socket<s>.llc.*
  void dump(StatsVisitor& v) const;

 private:
  void write_back_to_l2(CpuId cpu, PhysAddr line, WritebackList& wb);
  // write_back_to_l2 with L2's and the LLC's way counts known at compile time
  // (0: not known); Sse41 as CacheArray::read_access's.
  template <std::size_t L2W, std::size_t LLCW, bool Sse41 = false>
  [[gnu::always_inline]] void write_back_to_l2_ways(CpuId cpu, PhysAddr line, WritebackList& wb) {
    CacheArray& l2 = *l2_[static_cast<std::size_t>(cpu.value())];
    // L2 is not inclusive of L1: allocate the dirty line if absent.
    bool received;
    const Eviction v = l2.write_back_or_fill<L2W, Sse41, L2W != 0>(line, received);
    if (v.valid && v.dirty)
      write_back_to_llc<LLCW, Sse41>(cpu_socket_[static_cast<std::size_t>(cpu.value())], v.addr, wb);
  }
  // (Inline: every line of a cached clear ends with an L2 victim written into the LLC.)
  // LLCW: the LLC's way count when known at compile time (0: not known); Sse41 as above.
  template <std::size_t LLCW = 0, bool Sse41 = false>
  void write_back_to_llc(int socket, PhysAddr line, WritebackList& wb) {
    bool received;
    const Eviction v = llc_[static_cast<std::size_t>(socket)]->write_back_or_fill<LLCW, Sse41>(line, received);
    if (!received) handle_llc_victim(socket, v, wb);
  }
  // A line leaving the LLC: with an inclusive LLC its private copies too; a dirty one towards memory.
  void handle_llc_victim(int socket, const Eviction& victim, WritebackList& wb) {
    if (!victim.valid) return;
    if (params_.llc.inclusive) [[unlikely]] {
      back_invalidate_llc_victim(socket, victim, wb);
      return;
    }
    if (victim.dirty) wb.push(victim.addr);
  }
  void back_invalidate_llc_victim(int socket, const Eviction& victim, WritebackList& wb);
  // prefetch_into_l2's and access_below_l1's work, compiled for any host
  // (_plain) and, on x86-64 hosts with SSE4.1, with way_scan.h's victim
  // searches inline (_sse41), and once more for the default geometry
  // (_sse41_skylake: 8-way L1D, 16-way L2, 11-way LLC, skylake_ways_), its
  // way counts known at compile time (L1W, L2W, LLCW; 0: read from the
  // arrays). (Callgrind, hw_core_bench's L1-miss stream: the set scans' jump
  // tables on the way count were about 18 host instructions per prefetch.)
  // Sse41: compiled into a copy that runs only when the host has SSE4.1 (the
  // victim searches take it without testing sse41_in_use).
  template <std::size_t L1W, std::size_t L2W, std::size_t LLCW, bool Sse41>
  [[gnu::always_inline]] inline int prefetch_into_l2_body(CpuId cpu, PhysAddr pa, WritebackList& wb, bool* l2_held);
  int prefetch_into_l2_plain(CpuId cpu, PhysAddr pa, WritebackList& wb, bool* l2_held);
  template <std::size_t L1W, std::size_t L2W, std::size_t LLCW, bool Sse41>
  [[gnu::always_inline]] inline int access_below_l1_body(CpuId cpu, PhysAddr pa, bool is_write, WritebackList& wb,
                                                         SnoopResult& snoop);
  int access_below_l1_plain(CpuId cpu, PhysAddr pa, bool is_write, WritebackList& wb, SnoopResult& snoop);
#if defined(__x86_64__)
  __attribute__((target("sse4.1"))) int prefetch_into_l2_sse41(CpuId cpu, PhysAddr pa, WritebackList& wb,
                                                               bool* l2_held);
  __attribute__((target("sse4.1"))) int access_below_l1_sse41(CpuId cpu, PhysAddr pa, bool is_write,
                                                              WritebackList& wb, SnoopResult& snoop);
  __attribute__((target("sse4.1"))) int prefetch_into_l2_sse41_skylake(CpuId cpu, PhysAddr pa, WritebackList& wb,
                                                                       bool* l2_held);
  __attribute__((target("sse4.1"))) int access_below_l1_sse41_skylake(CpuId cpu, PhysAddr pa, bool is_write,
                                                                      WritebackList& wb, SnoopResult& snoop);
#endif
  bool skylake_ways_ = false;  // every L1D 8-way, every L2 16-way, every LLC 11-way; L1D's and L2's sets a power of two
  // The coherence actions before `cpu` reads or writes `line` (probing the
  // other sockets' LLCs too if `other_llcs`); true if another copy remains (Shared).
  bool snoop(CpuId cpu, PhysAddr line, bool is_write, WritebackList& wb, SnoopResult& out, bool other_llcs);
  // snoop() after track() gave the line's directory entry: the other CPUs' copies and the other LLCs.
  bool snoop_tracked(CpuId cpu, PhysAddr line, std::size_t entry, bool is_write, WritebackList& wb, SnoopResult& out,
                     bool other_llcs);
  // The snoop filter dropped `line`: remove the copies of `cpus`, dirty data into their LLC.
  void back_invalidate(PhysAddr line, const std::vector<int>& cpus, WritebackList& wb);
  // (Out of line, also in the flattened copies: the prefetch's and the miss's
  // other paths keep their registers. Callgrind, hw_core_bench L1Miss stream:
  // 1.568 G -> 1.556 G host instructions.)
  [[gnu::noinline]] void back_invalidate_cpu(PhysAddr line, int cpu, WritebackList& wb) {
    if (!private_clean(cpu, line)) back_invalidate_held(line, cpu, wb);
  }
  // back_invalidate_cpu of a CPU whose region count is not 0, with L1D's and
  // L2's way counts known at compile time (0: read from the arrays): their
  // look-ups inline. (Callgrind, hw_core_bench's GUPS stream, whose every
  // miss evicts a snoop-filter entry whose line the CPU may still hold.)
  template <std::size_t L1W = 0, std::size_t L2W = 0>
  [[gnu::noinline]] void back_invalidate_held(PhysAddr line, int cpu, WritebackList& wb) {
    const Eviction e1 = l1_[static_cast<std::size_t>(cpu)]->invalidate_ways<L1W, L1W != 0>(line);
    const Eviction e2 = l2_[static_cast<std::size_t>(cpu)]->invalidate_ways<L2W, L2W != 0>(line);
    if (!e1.valid && !e2.valid) return;
    ++snoop_filter_back_invalidations_;
    if (e1.dirty || e2.dirty) write_back_to_llc(cpu_socket_[static_cast<std::size_t>(cpu)], line, wb);
  }
  // The snoop filter's evicted line `evicted` leaves the CPUs of mask `cpus`
  // (up to 64 CPUs; a CPU holding nothing of its region is skipped without the call).
  [[gnu::always_inline]] void back_invalidate_cpus(PhysAddr evicted, std::uint64_t cpus, WritebackList& wb) {
    for (; cpus != 0; cpus &= cpus - 1) {
      const int cpu = __builtin_ctzll(cpus);
      if (private_clean(cpu, evicted)) continue;
      if (skylake_ways_)
        back_invalidate_held<8, 16>(evicted, cpu, wb);
      else
        back_invalidate_held(evicted, cpu, wb);
    }
  }
  // Tracks `cpu` as a holder of `line` (a new directory entry may back-invalidate another line).
  // `others`, when given, says whether the entry tracks another CPU (dir_->has_others after the call).
  // `probe`: dir_->find(line, *probe)'s look-up, the directory unchanged since.
  // Sse41 as CoherenceDirectory::claim_for's.
  template <bool Sse41 = false>
  [[gnu::always_inline]] std::size_t track(CpuId cpu, PhysAddr line, WritebackList& wb, bool* others = nullptr,
                                           const CoherenceDirectory::Probe* probe = nullptr) {
    PhysAddr evicted;
    std::size_t entry;
    if (dir_->cpu_words() == 1) {
      // Up to 64 CPUs: the evicted line's sharers as a mask, ascending as sharers() lists them.
      std::uint64_t cpus, other_cpus;
      entry = dir_->claim_for<Sse41>(line, cpu.value(), evicted, cpus, other_cpus, probe);
      if (others) *others = other_cpus != 0;
      back_invalidate_cpus(evicted, cpus, wb);
      return entry;
    }
    evicted_.clear();
    entry = dir_->find_or_insert(line, evicted, evicted_);
    if (evicted != ~PhysAddr(0)) back_invalidate(evicted, evicted_, wb);
    dir_->add(entry, cpu.value());
    if (others) *others = dir_->has_others(entry, cpu.value());
    return entry;
  }

  CacheHierarchyParams params_;
  std::vector<int> cpu_socket_;
  std::vector<std::vector<CpuId>> socket_cpus_;
  std::vector<std::unique_ptr<CacheArray>> l1_, l2_, llc_;
  std::array<Picoseconds, 4> latency_ps_{};
  std::uint64_t back_invalidations_ = 0;
  std::unique_ptr<CoherenceDirectory> dir_;  // null without coherence
  std::vector<int> others_, evicted_;        // scratch (no allocation once grown)
  // The counts in one block each, llc_region_n_ per socket and private_n_ per
  // CPU (0 when not counted): a look-up is one load of the count, not three
  // through a vector of vectors (a prefetch asks each other socket's LLC and,
  // for the snoop-filter entry it evicts, the private caches' count).
  std::vector<std::uint32_t> llc_regions_;     // [socket * llc_region_n_ + region] (count_regions)
  std::vector<std::uint32_t> private_counts_;  // [cpu * private_n_ + region of 2^private_shift_ bytes]
  std::size_t llc_region_n_ = 0, private_n_ = 0;
  unsigned private_shift_ = 16;
  struct FreeCounts {
    void operator()(std::uint32_t* p) const;
  };
  std::unique_ptr<std::uint32_t, FreeCounts> page_counts_;  // calloc: zero pages on demand
  std::size_t page_count_n_ = 0;
  static constexpr std::size_t kDisplacementSweeps = 4;  // visits of each set while the array takes its size
  // displace_for_clear's rolling sweep of one array: a step per 64 virtual
  // lines that entered it; lines untouched since the array took `reach`
  // lines (its real fills and the virtual lines) are gone.
  struct Displacement {
    std::vector<std::uint64_t> at;      // the array's insertions at each of the last steps
    std::vector<std::uint32_t> stamps;  // its clock (CacheArray::stamp_clock) at the same steps
    std::uint64_t steps = 0;            // since its words were last renumbered
    std::uint64_t threshold = 0;        // the newest step at least `reach` insertions ago
    std::uint64_t renumberings = 0, virtual_lines = 0, reach = 1;
    std::size_t next_set = 0, sets_per_step = 1;
    unsigned lines = 0;  // virtual lines counted towards the next step
  };
  // One step of `d` over `a`: the dirty lines it removes appended to dirty[n...].
  static void displace(Displacement& d, CacheArray& a, unsigned lines, PhysAddr* dirty, std::size_t& n);
  std::vector<Displacement> displace_l1_, displace_l2_;  // by CPU
  std::vector<PhysAddr> displaced_;  // displace_for_clear's result (capacity set once)
  std::vector<std::uint8_t> displaced_line_;  // evict_l1_for_clear's: the line behind each of displaced_
  std::uint64_t snoop_filter_back_invalidations_ = 0, hitm_local_ = 0, hitm_remote_ = 0, invalidations_sent_ = 0,
                downgrades_ = 0;

 public:
  // invalidate_everywhere of the n lines from line-aligned `first` in one pass
  // (hw/cache_hierarchy_bulk.cpp): a socket whose LLC holds nothing of the
  // range (its region counts) is skipped for the whole range, and so are the
  // private caches when the caller knows they hold nothing of it
  // (`private_clean`). The dirty lines are appended to `dirty` when given.
  // Returns how many copies were dirty.
  std::uint64_t invalidate_lines_everywhere(PhysAddr first, std::uint64_t n, std::vector<PhysAddr>* dirty,
                                            bool private_clean = false);

  // write_full_line of the n <= bulk_lines() consecutive lines from line-aligned
  // `first`, level by level (hw/cache_hierarchy_bulk.cpp): every line's L1D
  // look-up, then every snoop-filter update and snoop, then every L1D install,
  // then the L1D victims into L2, then L2's victims into the LLC. Line j's
  // level, snoop result and write-backs (in the order write_full_line would
  // list them) go to level[j], snoop[j] and wb[j]. The same caches,
  // directory and statistics as n calls of write_full_line: n consecutive lines
  // fall in n different sets of every array whose set count is a multiple of
  // n, and so do all their victims and back-invalidations (a line's victims
  // share its set), so each set sees the same operations in the same order.
  static constexpr std::size_t kMaxBulkLines = 64;
  void write_full_lines(CpuId cpu, PhysAddr first, std::size_t n, bool llc_level, std::uint8_t* level,
                        SnoopResult* snoop, WritebackList* wb);
  // The largest n (a power of two up to kMaxBulkLines) for which write_full_lines
  // is exact: it divides the set count of L1D, L2, the LLC and the snoop filter;
  // 1 when an array replaces at random (its draws would come in another order).
  std::size_t bulk_lines() const { return bulk_lines_; }
  // Tests: write_full_lines runs its baseline copy even on a host with SSE4.1.
  void use_baseline_passes(bool on) { baseline_passes_ = on; }

 private:
  // write_full_lines' work, compiled twice: for any host, and for an x86-64
  // host with SSE4.1, where way_scan.h's victim searches (four per line: L1D,
  // snoop filter, L2, LLC) are inline. The functions from write_back_or_fill
  // and claim down to first_least_word are always_inline for this: GCC does
  // not inline an SSE4.1 function into a function compiled without it.
  [[gnu::always_inline]] inline void write_full_lines_body(CpuId cpu, PhysAddr first, std::size_t n, bool llc_level,
                                                           std::uint8_t* level, SnoopResult* snoop, WritebackList* wb);
#if defined(__x86_64__)
  __attribute__((target("sse4.1"))) void write_full_lines_sse41(CpuId cpu, PhysAddr first, std::size_t n,
                                                                bool llc_level, std::uint8_t* level, SnoopResult* snoop,
                                                                WritebackList* wb);
#endif
  // write_full_lines' snoop-filter claims for the lines of bulk_.step not
  // done (CoherenceDirectory::claim_lines, `all` and `mine` as its, an evicted
  // line's CPUs narrowed by their private caches' region counts), out of line
  // with a copy for SSE4.1: inside write_full_lines' flattened copies the
  // claims' loop kept its values on the stack.
  template <bool Sse41>
  [[gnu::always_inline]] inline std::uint64_t claim_batch_body(CpuId cpu, PhysAddr first, std::size_t n, bool all,
                                                               CoherenceDirectory::Claim* out, std::uint64_t& mine);
  [[gnu::noinline]] std::uint64_t claim_batch(CpuId cpu, PhysAddr first, std::size_t n, bool all,
                                              CoherenceDirectory::Claim* out, std::uint64_t& mine);
#if defined(__x86_64__)
  [[gnu::noinline]] __attribute__((target("sse4.1"))) std::uint64_t claim_batch_sse41(CpuId cpu, PhysAddr first,
                                                                                      std::size_t n, bool all,
                                                                                      CoherenceDirectory::Claim* out,
                                                                                      std::uint64_t& mine);
#endif
  std::size_t bulk_lines_ = 1;
  bool baseline_passes_ = false;
  // write_full_lines' scratch, by line of the batch: the L1D slot of a miss
  // and what is left to do; then by write-back into L2 or the LLC, in line
  // order: its address, its line in the batch and its result.
  struct BulkScratch {
    std::array<CacheArray::FillSlot, kMaxBulkLines> slot;
    std::array<std::uint8_t, kMaxBulkLines> step;
    std::array<PhysAddr, kMaxBulkLines> victim;
    std::array<std::uint8_t, kMaxBulkLines> from;
    std::array<Eviction, kMaxBulkLines> out;
  };
  BulkScratch bulk_;
};

}  // namespace numasim::hw
