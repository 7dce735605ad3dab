// The LRU side of the reclaim <-> swap seam (os/swap.h), Linux's mm/swap.c
// (folio_add_lru and the per-CPU lru_add batches, folio_mark_accessed) and
// mm/workingset.c (shadow entries). Until the LRU lists exist these do
// nothing: pages are on no list and nothing is ever evicted.
#include "os/kernel.h"

namespace numasim::os {

void Kernel::lru_cache_add(page* pg, CpuId cpu) { (void)pg, (void)cpu; }
void Kernel::mark_page_accessed(page* pg) { (void)pg; }
std::uint64_t Kernel::workingset_eviction(page* pg) {
  (void)pg;
  return 0;
}
void Kernel::workingset_refault(page* pg, std::uint64_t shadow) { (void)pg, (void)shadow; }

}  // namespace numasim::os
