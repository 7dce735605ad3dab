// Host mappings advised for transparent huge pages (see host_pages.h). Models nothing.
#include "common/host_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace numasim {

void* host_map_huge(std::size_t bytes, void*& map, std::size_t& map_bytes) {
  constexpr std::size_t huge = kHostHugePageBytes;
  // Over-map by one huge page so that a 2 MiB-aligned run of `bytes` fits.
  map_bytes = bytes + huge;
  void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  map = m;
  const auto a = reinterpret_cast<std::uintptr_t>(m);
  const std::uintptr_t aligned = (a + huge - 1) & ~(std::uintptr_t{huge} - 1);
#ifdef MADV_HUGEPAGE
  // Advice only: a host that refuses it leaves 4 KiB pages, and nothing else changes.
  madvise(reinterpret_cast<void*>(aligned), (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
  return reinterpret_cast<void*>(aligned);
}

void host_unmap(void* map, std::size_t map_bytes) { munmap(map, map_bytes); }

}  // namespace numasim
