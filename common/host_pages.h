// Host memory that the host kernel may back with transparent huge pages, for
// the simulator's large state (the simulated caches' set blocks and snoop
// filter in hw/host_array.h, the page tables' host copies in os/pgtable.h).
// Models nothing: it only changes where the host keeps that state. Such state
// is many megabytes touched at unrelated addresses on every simulated miss or
// walk, so on 4 KiB host pages nearly each touch is also a host TLB miss and a
// host page walk. A mapping is 2 MiB-aligned anonymous memory advised
// MADV_HUGEPAGE (Debian's default THP mode is "madvise": without the advice it
// gets 4 KiB pages). Simplifications: if the host refuses the advice, the
// memory works the same on 4 KiB pages.
#pragma once

#include <cstddef>

namespace numasim {

inline constexpr std::size_t kHostHugePageBytes = std::size_t{2} << 20;

// A zero-filled, 2 MiB-aligned run of `bytes` advised MADV_HUGEPAGE. Returns the
// aligned start and sets `map`/`map_bytes` to what host_unmap must release;
// throws std::bad_alloc when the host has no memory.
void* host_map_huge(std::size_t bytes, void*& map, std::size_t& map_bytes);
void host_unmap(void* map, std::size_t map_bytes);

// One such run, released with its owner.
class HostHugeBlock {
 public:
  explicit HostHugeBlock(std::size_t bytes) : data_(host_map_huge(bytes, map_, map_bytes_)) {}
  ~HostHugeBlock() {
    if (map_) host_unmap(map_, map_bytes_);
  }
  HostHugeBlock(const HostHugeBlock&) = delete;
  HostHugeBlock& operator=(const HostHugeBlock&) = delete;
  HostHugeBlock(HostHugeBlock&& o) noexcept : map_(o.map_), map_bytes_(o.map_bytes_), data_(o.data_) {
    o.map_ = o.data_ = nullptr;
    o.map_bytes_ = 0;
  }
  HostHugeBlock& operator=(HostHugeBlock&&) = delete;
  void* data() const { return data_; }

 private:
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  void* data_ = nullptr;
};

}  // namespace numasim
