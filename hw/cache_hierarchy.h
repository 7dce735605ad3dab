// The cache levels of the machine: a private L1D and L2 per core and one shared
// last-level cache per socket, inclusive of the private levels or not per
// configuration. It decides at which level an access hits, keeps the arrays'
// contents up to date (fills on the way up, dirty victims written back into the
// next level down, inclusive back-invalidation) and reports the dirty lines that
// leave the hierarchy towards memory. Latencies are load-to-use cycles of a hit
// at each level, converted once to picoseconds with the core clock.
// Simplifications: no coherence traffic between cores or sockets (each core
// sees its own copies; a line may sit in two sockets' LLCs at once); L2 is not
// inclusive of L1; non-inclusive means fill-all-levels, no back-invalidation
// (NINE), not Skylake's exact victim-cache LLC; prefetchers live in MemorySystem; no MSHR limits
// (the core models line-fill buffers).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/units.h"
#include "hw/cache.h"
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

  // Reads [cache.l1d], [cache.l2], [cache.llc] of the root table.
  static CacheHierarchyParams from_config(Config root);
};

// Dirty lines leaving the hierarchy towards memory during one access.
struct WritebackList {
  static constexpr int kCapacity = 8;
  std::array<PhysAddr, kCapacity> addr{};
  int count = 0;
  void push(PhysAddr a);
};

class CacheHierarchy {
 public:
  // cpu_socket[i]: socket of CPU i (its LLC); num_sockets LLCs are built.
  CacheHierarchy(const CacheHierarchyParams& params, const std::vector<int>& cpu_socket, int num_sockets,
                 Frequency core_clock);
  ~CacheHierarchy();

  // Fast path: true on an L1D hit (replacement and dirty state updated).
  bool l1_access(CpuId cpu, PhysAddr pa, bool is_write) { return l1_[cpu.value()]->access(pa, is_write); }
  // Slow path after an L1 miss: looks up L2 then the LLC; fills the missing
  // levels (so call it once per access); returns the level that hit (2 = L2,
  // 3 = LLC) or 4 when the line must come from memory. Dirty lines evicted to
  // memory on the way are appended to `wb`.
  int access_below_l1(CpuId cpu, PhysAddr pa, bool is_write, WritebackList& wb);
  // A hardware prefetch of the line holding `pa` into `cpu`'s L2: returns 2 if
  // L2 holds it already (nothing changes), 3 if the LLC does (L2 filled) or 4
  // if it must come from memory (LLC and L2 filled). Demand counters untouched.
  int prefetch_into_l2(CpuId cpu, PhysAddr pa, WritebackList& wb);
  // A store that overwrites the whole line holding `pa` (rep stosb / movsb in
  // clear_page and copy_page): the line is installed in L1D Modified without
  // reading its old data. Returns the level that held a copy (1..3) or 4 if
  // none did; a stale copy below L1 is refreshed when the line is written back.
  int write_full_line(CpuId cpu, PhysAddr pa, WritebackList& wb);

  // Latency of a hit at `level` (1..3); level 4 returns the LLC miss-detection time.
  Picoseconds hit_latency(int level) const { return latency_ps_[level < 1 ? 1 : (level > 3 ? 3 : level)]; }

  CacheArray& l1d(CpuId cpu) { return *l1_[cpu.value()]; }
  CacheArray& l2(CpuId cpu) { return *l2_[cpu.value()]; }
  CacheArray& llc(int socket) { return *llc_[socket]; }
  int socket_of(CpuId cpu) const { return cpu_socket_[cpu.value()]; }
  int num_cpus() const { return static_cast<int>(cpu_socket_.size()); }
  const CacheHierarchyParams& params() const { return params_; }
  std::uint64_t back_invalidations() const { return back_invalidations_; }

  void reset_stats();
  // Names: system.cpu<i>.l1d.*, system.cpu<i>.l2.*, system.socket<s>.llc.*
  void dump(StatsVisitor& v) const;

 private:
  void write_back_to_l2(CpuId cpu, PhysAddr line, WritebackList& wb);
  void write_back_to_llc(int socket, PhysAddr line, WritebackList& wb);
  void handle_llc_victim(int socket, const Eviction& victim, WritebackList& wb);

  CacheHierarchyParams params_;
  std::vector<int> cpu_socket_;
  std::vector<std::vector<CpuId>> socket_cpus_;
  std::vector<std::unique_ptr<CacheArray>> l1_, l2_, llc_;
  std::array<Picoseconds, 4> latency_ps_{};
  std::uint64_t back_invalidations_ = 0;
};

}  // namespace numasim::hw
