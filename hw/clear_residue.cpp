// The deferred residue of cached page clears (see clear_residue.h): the rings
// of recorded pages by socket, their ages by CPU, and the frame index.
#include "hw/clear_residue.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace numasim::hw {

ClearResidue::ClearResidue(const Shape& shape)
    : shape_(shape), capacity_(shape.l1_pages + shape.l2_pages + shape.llc_pages) {
  if (shape_.sockets < 1 || capacity_ == 0) throw std::invalid_argument("clear residue: no socket or no cache");
  if ((shape_.mem_end >> 12) >= 0xFFFFFFFFull)
    throw std::invalid_argument("clear residue: physical memory beyond 16 TiB (frames are indexed in 32 bits)");
  entries_.resize(capacity_ * static_cast<std::uint64_t>(shape_.sockets));
  rings_.resize(static_cast<std::size_t>(shape_.sockets));
  clears_.assign(shape_.cpu_socket.size(), 0);
  // At most a quarter full: about 1.2 probes per look-up.
  std::size_t slots = 1;
  unsigned bits = 0;
  while (slots < 4 * entries_.size()) {
    slots *= 2;
    ++bits;
  }
  table_.assign(slots, 0);
  hash_shift_ = 64 - bits;
  regions_.assign(static_cast<std::size_t>((shape_.mem_end >> kRegionShift) + 1), 0);
}

std::uint32_t ClearResidue::find(PhysAddr pa) const {
  const std::uint64_t key = (pa >> 12) + 1;
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = slot_of(pa >> 12);; i = (i + 1) & mask) {
    const std::uint64_t v = table_[i];
    if (v == 0) return kNone;
    if ((v & 0xFFFFFFFFu) == key) return static_cast<std::uint32_t>(v >> 32);
  }
}

void ClearResidue::index(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::uint64_t frame = x.page >> 12;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = slot_of(frame);
  while (table_[i] != 0) i = (i + 1) & mask;
  table_[i] = (frame + 1) | (std::uint64_t{e} << 32);
  x.indexed = true;
  ++regions_[static_cast<std::size_t>(x.page >> kRegionShift)];
}

void ClearResidue::unindex(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::uint64_t key = (x.page >> 12) + 1;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = slot_of(x.page >> 12);
  while ((table_[i] & 0xFFFFFFFFu) != key) {
    if (table_[i] == 0) {
      std::fprintf(stderr, "numasim: internal error: clear residue lost page 0x%llx\n",
                   static_cast<unsigned long long>(x.page));
      std::abort();
    }
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: later entries of the probe run move up unless
  // their home slot lies cyclically in (i, j].
  for (std::size_t j = (i + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = slot_of((table_[j] & 0xFFFFFFFFu) - 1);
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    table_[i] = table_[j];
    i = j;
  }
  table_[i] = 0;
  x.indexed = false;
  --regions_[static_cast<std::size_t>(x.page >> kRegionShift)];
}

bool ClearResidue::take_line(std::uint32_t e, unsigned i) {
  Entry& x = entries_[e];
  const std::uint64_t bit = std::uint64_t{1} << i;
  if ((x.mask & bit) == 0) return false;
  x.mask &= ~bit;
  --virtual_lines_;
  ++stats_.lines_to_level[level(e)];
  if (x.mask == 0) unindex(e);
  return true;
}

std::uint64_t ClearResidue::take_all(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::uint64_t m = x.mask;
  if (m == 0) return 0;
  const auto n = static_cast<std::uint64_t>(__builtin_popcountll(m));
  virtual_lines_ -= n;
  stats_.lines_to_level[level(e)] += n;
  x.mask = 0;
  unindex(e);
  return m;
}

bool ClearResidue::record(CpuId cpu, PhysAddr page, PhysAddr& aged, std::uint64_t& aged_mask) {
  const auto c = static_cast<std::size_t>(cpu.value());
  const auto s = static_cast<std::size_t>(shape_.cpu_socket[c]);
  Ring& r = rings_[s];
  const auto e = static_cast<std::uint32_t>(s * capacity_ + r.head);
  Entry& x = entries_[e];
  bool out = false;
  if (r.count == capacity_) {
    // The oldest page leaves the socket's LLC: its virtual lines go to memory.
    aged = x.page;
    aged_mask = x.mask;
    out = x.mask != 0;
    if (out) {
      const auto n = static_cast<std::uint64_t>(__builtin_popcountll(x.mask));
      virtual_lines_ -= n;
      stats_.lines_written_back += n;
      unindex(e);
    }
  } else {
    ++r.count;
  }
  if (++r.head == capacity_) r.head = 0;
  x.page = page;
  x.mask = ~std::uint64_t{0};
  x.seq = ++clears_[c];
  x.cpu = cpu.value();
  index(e);
  virtual_lines_ += kPageLines;
  ++stats_.pages_deferred;
  return out;
}

}  // namespace numasim::hw
