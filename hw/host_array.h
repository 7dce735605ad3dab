// Host storage for the simulator's large state arrays (the simulated caches'
// set blocks, the snoop filter): a zero-filled, fixed-size array that the host
// kernel may back with transparent huge pages. It models nothing: it only
// changes where the host keeps the arrays. The arrays are many megabytes
// (a socket's LLC tags 4.7 MiB, the snoop filter 4 MiB on the default machine)
// and every simulated miss touches a few of their sets at unrelated addresses,
// so with 4 KiB host pages nearly each such touch is also a host TLB miss and
// a page walk. Arrays of at least 2 MiB are mapped 2 MiB-aligned and advised
// MADV_HUGEPAGE (Debian's default THP mode is "madvise": without the advice
// they get 4 KiB pages); smaller ones are ordinary heap memory.
// Simplifications: trivially copyable element types only; no resizing after
// construction (assign() replaces the contents); if the host refuses the
// advice the array works the same on 4 KiB pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#include "common/host_pages.h"

namespace numasim::hw {

// bytes >= 2 MiB: mapped by host_map_huge (common/host_pages.h).
template <typename T>
class HostArray {
  static_assert(std::is_trivially_copyable_v<T>, "HostArray holds plain data");

 public:
  static constexpr std::size_t kHugeBytes = kHostHugePageBytes;

  HostArray() = default;
  HostArray(std::size_t n, T value) { assign(n, value); }
  ~HostArray() { release(); }
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
  HostArray(HostArray&& o) noexcept { swap(o); }
  HostArray& operator=(HostArray&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }

  // n elements, each `value` (the storage is replaced).
  void assign(std::size_t n, T value) {
    release();
    if (n == 0) return;
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHugeBytes) {
      data_ = static_cast<T*>(host_map_huge(bytes, map_, map_bytes_));
    } else {
      data_ = static_cast<T*>(std::aligned_alloc(128, (bytes + 127) & ~std::size_t{127}));
      if (!data_) throw std::bad_alloc();
    }
    size_ = n;
    if (!is_zero(value) || map_ == nullptr)
      for (std::size_t i = 0; i < n; ++i) data_[i] = value;  // a fresh mapping is zero already
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  static bool is_zero(const T& v) {
    unsigned char z[sizeof(T)] = {};
    return std::memcmp(&v, z, sizeof(T)) == 0;
  }
  void release() {
    if (map_)
      host_unmap(map_, map_bytes_);
    else
      std::free(data_);
    map_ = nullptr;
    data_ = nullptr;
    size_ = map_bytes_ = 0;
  }
  void swap(HostArray& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(map_, o.map_);
    std::swap(map_bytes_, o.map_bytes_);
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  void* map_ = nullptr;  // the mapping when mmapped (else data_ is heap memory)
  std::size_t map_bytes_ = 0;
};

}  // namespace numasim::hw
