// Memory cgroups v2 (mm/memcontrol.c): the charge entry points of the memcg
// seam (os/memcontrol.h). Simplified: no cgroups yet, every page belongs to
// the root cgroup and charging always succeeds.
#include "os/kernel.h"
#include "os/memcontrol.h"

namespace numasim::os {

int Kernel::mem_cgroup_charge(page* pg, mm_struct* /*mm*/, gfp_t /*gfp*/, KernelCost& /*cost*/) {
  pg->memcg_id = kRootMemcgId;
  return 0;
}

int Kernel::mem_cgroup_swapin_charge_folio(page* pg, mm_struct* mm, gfp_t gfp, swp_entry_t /*entry*/,
                                           KernelCost& cost) {
  return mem_cgroup_charge(pg, mm, gfp, cost);
}

void Kernel::mem_cgroup_uncharge(page* pg) { pg->memcg_id = kRootMemcgId; }

}  // namespace numasim::os
