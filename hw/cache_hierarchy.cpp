// Per-core L1D/L2 and per-socket LLC (see cache_hierarchy.h): lookups below L1,
// fills, write-back of dirty victims into the next level, inclusive
// back-invalidation, and the dirty lines that leave towards memory.
#include "hw/cache_hierarchy.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/config.h"

namespace numasim::hw {

CacheHierarchyParams CacheHierarchyParams::from_config(Config root) {
  CacheHierarchyParams d;
  Config cache = root.table("cache", "cache hierarchy: private L1D and L2 per core, shared LLC per socket");
  CacheHierarchyParams p;
  p.l1d = CacheParams::from_config(cache.table("l1d", "private level-1 data cache"), d.l1d, false);
  p.l2 = CacheParams::from_config(cache.table("l2", "private level-2 cache"), d.l2, false);
  p.llc = CacheParams::from_config(cache.table("llc", "shared last-level cache of a socket (size is per socket)"),
                                   d.llc, true);
  return p;
}

void WritebackList::push(PhysAddr a) {
  if (count >= kCapacity) {
    std::fprintf(stderr, "numasim: internal error: more than %d write-backs in one access\n", kCapacity);
    std::abort();
  }
  addr[static_cast<std::size_t>(count++)] = a;
}

CacheHierarchy::CacheHierarchy(const CacheHierarchyParams& params, const std::vector<int>& cpu_socket,
                               int num_sockets, Frequency core_clock)
    : params_(params), cpu_socket_(cpu_socket), socket_cpus_(static_cast<std::size_t>(num_sockets)) {
  for (std::size_t i = 0; i < cpu_socket_.size(); ++i) {
    const int s = cpu_socket_[i];
    if (s < 0 || s >= num_sockets)
      throw std::invalid_argument("cache hierarchy: cpu " + std::to_string(i) + " has no valid socket");
    socket_cpus_[static_cast<std::size_t>(s)].push_back(CpuId(static_cast<int>(i)));
    l1_.push_back(std::make_unique<CacheArray>(params.l1d, "system.cpu" + std::to_string(i) + ".l1d"));
    l2_.push_back(std::make_unique<CacheArray>(params.l2, "system.cpu" + std::to_string(i) + ".l2"));
  }
  for (int s = 0; s < num_sockets; ++s)
    llc_.push_back(std::make_unique<CacheArray>(params.llc, "system.socket" + std::to_string(s) + ".llc"));
  latency_ps_[0] = Picoseconds(0);
  latency_ps_[1] = core_clock.to_time(params.l1d.latency);
  latency_ps_[2] = core_clock.to_time(params.l2.latency);
  latency_ps_[3] = core_clock.to_time(params.llc.latency);
}

CacheHierarchy::~CacheHierarchy() = default;

int CacheHierarchy::access_below_l1(CpuId cpu, PhysAddr pa, bool is_write, WritebackList& wb) {
  const auto c = static_cast<std::size_t>(cpu.value());
  const int socket = cpu_socket_[c];
  CacheArray& l1 = *l1_[c];
  CacheArray& l2 = *l2_[c];
  CacheArray& llc = *llc_[static_cast<std::size_t>(socket)];
  // The store itself is absorbed by L1 (write-allocate); lower levels see a read for ownership.
  int level;
  if (l2.access(pa, false)) {
    level = 2;
  } else {
    if (llc.access(pa, false)) {
      level = 3;
    } else {
      level = 4;
      handle_llc_victim(socket, llc.fill(pa, LineState::Exclusive), wb);
    }
    Eviction v2 = l2.fill(pa, LineState::Exclusive);
    if (v2.valid && v2.dirty) write_back_to_llc(socket, v2.addr, wb);
  }
  Eviction v1 = l1.fill(pa, is_write ? LineState::Modified : LineState::Exclusive);
  if (v1.valid && v1.dirty) write_back_to_l2(cpu, v1.addr, wb);
  return level;
}

int CacheHierarchy::prefetch_into_l2(CpuId cpu, PhysAddr pa, WritebackList& wb) {
  const auto c = static_cast<std::size_t>(cpu.value());
  const int socket = cpu_socket_[c];
  CacheArray& l2 = *l2_[c];
  CacheArray& llc = *llc_[static_cast<std::size_t>(socket)];
  if (l2.contains(pa)) return 2;
  int level = 3;
  if (!llc.contains(pa)) {
    level = 4;
    handle_llc_victim(socket, llc.fill(pa, LineState::Exclusive), wb);
  }
  Eviction v2 = l2.fill(pa, LineState::Exclusive);
  if (v2.valid && v2.dirty) write_back_to_llc(socket, v2.addr, wb);
  return level;
}

int CacheHierarchy::write_full_line(CpuId cpu, PhysAddr pa, WritebackList& wb) {
  const auto c = static_cast<std::size_t>(cpu.value());
  CacheArray& l1 = *l1_[c];
  if (l1.access(pa, true)) return 1;
  const int level = l2_[c]->contains(pa) ? 2 : (llc_[static_cast<std::size_t>(cpu_socket_[c])]->contains(pa) ? 3 : 4);
  Eviction v1 = l1.fill(pa, LineState::Modified);
  if (v1.valid && v1.dirty) write_back_to_l2(cpu, v1.addr, wb);
  return level;
}

void CacheHierarchy::write_back_to_l2(CpuId cpu, PhysAddr line, WritebackList& wb) {
  CacheArray& l2 = *l2_[static_cast<std::size_t>(cpu.value())];
  if (l2.write_back_into(line)) return;
  // L2 is not inclusive of L1: allocate the dirty line.
  Eviction v = l2.fill(line, LineState::Modified);
  if (v.valid && v.dirty) write_back_to_llc(cpu_socket_[static_cast<std::size_t>(cpu.value())], v.addr, wb);
}

void CacheHierarchy::write_back_to_llc(int socket, PhysAddr line, WritebackList& wb) {
  CacheArray& llc = *llc_[static_cast<std::size_t>(socket)];
  if (llc.write_back_into(line)) return;
  handle_llc_victim(socket, llc.fill(line, LineState::Modified), wb);
}

void CacheHierarchy::handle_llc_victim(int socket, const Eviction& victim, WritebackList& wb) {
  if (!victim.valid) return;
  bool dirty = victim.dirty;
  if (params_.llc.inclusive) {
    for (CpuId c : socket_cpus_[static_cast<std::size_t>(socket)]) {
      Eviction e1 = l1_[static_cast<std::size_t>(c.value())]->invalidate(victim.addr);
      Eviction e2 = l2_[static_cast<std::size_t>(c.value())]->invalidate(victim.addr);
      if (e1.valid || e2.valid) ++back_invalidations_;
      dirty = dirty || e1.dirty || e2.dirty;
    }
  }
  if (dirty) wb.push(victim.addr);
}

void CacheHierarchy::reset_stats() {
  for (auto& c : l1_) c->reset_stats();
  for (auto& c : l2_) c->reset_stats();
  for (auto& c : llc_) c->reset_stats();
  back_invalidations_ = 0;
}

void CacheHierarchy::dump(StatsVisitor& v) const {
  for (const auto& c : l1_) c->dump(v);
  for (const auto& c : l2_) c->dump(v);
  for (const auto& c : llc_) c->dump(v);
  v.counter("system.caches.back_invalidations", back_invalidations_, "count",
            "inclusive-LLC evictions that removed a copy from a core's L1D or L2");
}

}  // namespace numasim::hw
