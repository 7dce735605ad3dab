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
  static void put_user_page(Kernel& k, CpuId cpu, page* pg, KernelCost& cost) { k.put_user_page(cpu, pg, cost); }
};

}  // namespace numasim::os
