// Stubs for one-module hw tests: a fixed-latency memory that records every
// access, and an x86-64 page-table builder with a fault handler that maps pages
// on demand (or refuses), standing in for os::Kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "hw/memory_port.h"
#include "hw/mmu.h"

namespace numasim::hw::testing {

struct RecordingMemory : MemoryPort {
  struct Access {
    PhysAddr pa;
    bool write;
    Picoseconds at;
  };
  Picoseconds latency = Picoseconds(100'000);  // 100 ns, served from "DRAM"
  std::uint8_t level = 4;
  std::vector<Access> log;
  // Optional per-address override (e.g. cached lines): returns 0 to use `latency`.
  std::function<Picoseconds(PhysAddr)> latency_of;

  Picoseconds access(CpuId, PhysAddr pa, bool is_write, Picoseconds now, std::uint8_t* level_hit) override {
    log.push_back({pa, is_write, now});
    if (level_hit) *level_hit = level;
    if (latency_of) {
      Picoseconds l = latency_of(pa);
      if (l.value() != 0) return l;
    }
    return latency;
  }
  // Host prefetch hints received (they must not count as accesses).
  mutable std::vector<PhysAddr> prefetched;
  void host_prefetch(CpuId, PhysAddr pa) const override { prefetched.push_back(pa); }
};

// Page tables stored in a map of entry address -> value; table frames are
// handed out from `next_table`.
struct FakePageTables : os::KernelEntry {
  std::map<PhysAddr, std::uint64_t> entries;
  PhysAddr cr3 = 0x100000;
  PhysAddr next_table = 0x101000;
  std::vector<std::pair<PhysAddr, std::uint64_t>> bit_sets;
  // Fault handling: called with (va, write); returns false for SIGSEGV. Default: SIGSEGV.
  std::function<bool(VirtAddr, bool)> on_fault;
  os::KernelCost fault_cost{Cycles(1000), Picoseconds(50'000)};
  int faults = 0;

  static PhysAddr slot(PhysAddr table, VirtAddr va, int level) {
    return table + ((va >> pt_index_shift(level)) & 511u) * 8u;
  }
  // Maps va -> pa with a leaf at level 3 (4K), 2 (2M) or 1 (1G).
  void map(VirtAddr va, PhysAddr pa, PageSize size = PageSize::k4K, std::uint64_t flags = pte::kRw) {
    const int leaf_level = size == PageSize::k4K ? 3 : (size == PageSize::k2M ? 2 : 1);
    PhysAddr table = cr3;
    for (int level = 0; level < leaf_level; ++level) {
      std::uint64_t& e = entries[slot(table, va, level)];
      if (!(e & pte::kPresent)) {
        e = next_table | pte::kPresent | pte::kRw | pte::kUser;
        next_table += 0x1000;
      }
      table = e & pte::kAddrMask;
    }
    entries[slot(table, va, leaf_level)] = pa | pte::kPresent | pte::kUser | flags |
                                           (leaf_level < 3 ? pte::kPse : 0);
  }
  // Physical address of the entry of `level` that maps va (0 if the walk stops earlier).
  PhysAddr entry_addr(VirtAddr va, int level) const {
    PhysAddr table = cr3;
    for (int l = 0; l < level; ++l) {
      auto it = entries.find(slot(table, va, l));
      if (it == entries.end() || !(it->second & pte::kPresent)) return 0;
      table = it->second & pte::kAddrMask;
    }
    return slot(table, va, level);
  }

  std::uint64_t read_pte(PhysAddr entry) const override {
    auto it = entries.find(entry);
    return it == entries.end() ? 0 : it->second;
  }
  mutable std::vector<PhysAddr> prefetched_ptes;  // prefetch_pte hints received
  void prefetch_pte(PhysAddr entry) const override { prefetched_ptes.push_back(entry); }
  void set_pte_bits(PhysAddr entry, std::uint64_t bits) override {
    entries[entry] |= bits;
    bit_sets.push_back({entry, bits});
  }
  os::EntryResult page_fault(os::task_struct*, VirtAddr va, bool write, Picoseconds, os::KernelCost& cost) override {
    ++faults;
    cost += fault_cost;
    if (on_fault && on_fault(va, write)) return os::EntryResult::Ok;
    return os::EntryResult::Sigsegv;
  }
  void syscall_enter(os::task_struct*, Picoseconds) override {}
  void task_exit(os::task_struct*, Picoseconds, os::KernelCost&) override {}
};

}  // namespace numasim::hw::testing
