// Page identity for "nothing lost" verification: one optional 64-bit token per
// frame standing for the page's contents. A workload in verify mode writes a
// token when it stores to a page and checks it when it reads the page back;
// the kernel carries the token wherever Linux carries the data: clear_page
// zeroes it, copy_page (COW, migration, compaction, THP collapse) copies it,
// swap-out saves it with the slot and swap-in restores it. A page that comes
// back with the wrong token was lost or mixed up, and the run fails.
// Off (no host memory) until a workload enables it; then 8 host bytes per
// frame. Simplified: a token per 4 KiB page, not the bytes; huge pages carry
// 2^order tokens (one per subpage).
#pragma once

#include <cstdint>
#include <vector>

namespace numasim::os {

class PageTokens {
 public:
  bool enabled() const { return !tok_.empty(); }
  // Allocates the table (all zero: every frame "cleared").
  void enable(std::uint64_t max_pfn) {
    if (!enabled()) tok_.assign(max_pfn, 0);
  }
  std::uint64_t get(std::uint64_t pfn) const { return enabled() ? tok_[pfn] : 0; }
  void set(std::uint64_t pfn, std::uint64_t token) {
    if (enabled()) tok_[pfn] = token;
  }
  // clear_page / clear_huge_page of 2^order frames.
  void clear(std::uint64_t pfn, unsigned order = 0) {
    if (!enabled()) return;
    for (std::uint64_t i = 0; i < (1ull << order); ++i) tok_[pfn + i] = 0;
  }
  // copy_page / copy_huge_page of 2^order frames.
  void copy(std::uint64_t dst_pfn, std::uint64_t src_pfn, unsigned order = 0) {
    if (!enabled()) return;
    for (std::uint64_t i = 0; i < (1ull << order); ++i) tok_[dst_pfn + i] = tok_[src_pfn + i];
  }

 private:
  std::vector<std::uint64_t> tok_;
};

}  // namespace numasim::os
