// Test-only access to Kernel internals (the friend struct KernelTestAccess):
// hooks that stand for mechanisms which do not exist yet, such as a migration
// in flight finishing while a fault waits for it.
#pragma once

#include <functional>
#include <utility>

#include "os/kernel.h"

namespace numasim::os {

struct KernelTestAccess {
  // What migration_entry_wait runs: the completion of the migration in flight.
  static void set_migration_waiter(Kernel& k, std::function<void(task_struct*, VirtAddr)> fn) {
    k.migration_waiter_ = std::move(fn);
  }
  // Stop every migration between try_to_migrate and the copy: fn runs with the
  // old page unmapped (migration entries in its PTEs).
  static void set_migration_unmapped_hook(Kernel& k, std::function<void(page*)> fn) {
    k.migration_unmapped_hook_ = std::move(fn);
  }
  // Finish the migration in flight (copy + remove_migration_ptes), as its completion would.
  static void complete_migration(Kernel& k, KernelCost& cost) { k.migrate_in_flight_complete(cost); }
  static bool migration_in_flight(const Kernel& k) { return k.migration_in_flight_ != nullptr; }
  static void put_user_page(Kernel& k, CpuId cpu, page* pg, KernelCost& cost) { k.put_user_page(cpu, pg, cost); }
  // A page taken off its LRU list by someone else (isolate_lru_page) and put back (folio_add_lru + drain).
  static void isolate_lru_page(Kernel& k, page* pg) { k.isolate_lru_page(pg); }
  static void putback_lru_page(Kernel& k, page* pg) {
    k.lru_cache_add(pg, CpuId(0));
    k.lru_add_drain(CpuId(0));
  }
};

}  // namespace numasim::os
