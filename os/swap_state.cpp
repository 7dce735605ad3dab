// The swap cache and swap I/O (mm/swap_state.c, mm/page_io.c): the swap side
// of the reclaim <-> swap seam (os/swap.h). Until swap areas exist there is no
// swap space: add_to_swap fails, so reclaim keeps anonymous pages (Linux
// without swap does the same).
#include "os/kernel.h"

namespace numasim::os {

bool Kernel::add_to_swap(page* pg, CpuId cpu, KernelCost& cost) {
  (void)pg, (void)cpu, (void)cost;
  return false;
}

pageout_t Kernel::pageout(page* pg, CpuId cpu, KernelCost& cost) {
  (void)pg, (void)cpu, (void)cost;
  return PAGE_KEEP;
}

bool Kernel::remove_swapcache_mapping(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost) {
  (void)pg, (void)shadow, (void)cpu, (void)cost;
  return false;
}

bool Kernel::try_to_free_swap(page* pg) {
  (void)pg;
  return false;
}

std::uint64_t Kernel::total_swap_pages() const { return 0; }
std::uint64_t Kernel::nr_swap_pages() const { return 0; }

}  // namespace numasim::os
