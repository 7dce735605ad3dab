// Page identity for "nothing lost" verification: one optional 64-bit token per
// frame standing for the page's contents. A workload in verify mode writes a
// token when it stores to a page and checks it when it reads the page back;
// the kernel carries the token wherever Linux carries the data: clear_page
// zeroes it, copy_page (COW, migration, compaction, THP collapse) copies it,
// swap-out saves it with the slot and swap-in restores it. A page that comes
// back with the wrong token was lost or mixed up, and the run fails.
// Off (no host memory) until a workload enables it. Then the table is one flat
// array indexed by PFN, reserved as anonymous MAP_NORESERVE memory: a host page
// of it (512 frames' tokens) takes host memory only when a token in it is first
// made non-zero; reading an untouched part reads the zero page, and clear/copy
// write only when the value changes. So the 1 TiB machine reserves 2 GiB of
// address space but holds only the tokens of frames workloads wrote (the
// hot path is unchanged: one indexed load or store).
// Simplified: a token per 4 KiB page, not the bytes; huge pages carry 2^order
// tokens (one per subpage).
#pragma once

#include <cstddef>
#include <cstdint>

namespace numasim::os {

class PageTokens {
 public:
  PageTokens() = default;
  ~PageTokens();
  PageTokens(const PageTokens&) = delete;
  PageTokens& operator=(const PageTokens&) = delete;

  bool enabled() const { return tok_ != nullptr; }
  // Reserves the table (all zero: every frame "cleared"); nothing resident yet.
  void enable(std::uint64_t max_pfn);
  std::uint64_t get(std::uint64_t pfn) const { return enabled() ? tok_[pfn] : 0; }
  void set(std::uint64_t pfn, std::uint64_t token) {
    if (enabled()) tok_[pfn] = token;
  }
  // clear_page / clear_huge_page of 2^order frames.
  void clear(std::uint64_t pfn, unsigned order = 0) {
    if (!enabled()) return;
    for (std::uint64_t i = 0; i < (1ull << order); ++i)
      if (tok_[pfn + i] != 0) tok_[pfn + i] = 0;  // a never-written frame stays untouched
  }
  // copy_page / copy_huge_page of 2^order frames.
  void copy(std::uint64_t dst_pfn, std::uint64_t src_pfn, unsigned order = 0) {
    if (!enabled()) return;
    for (std::uint64_t i = 0; i < (1ull << order); ++i)
      if (tok_[dst_pfn + i] != tok_[src_pfn + i]) tok_[dst_pfn + i] = tok_[src_pfn + i];
  }
  std::uint64_t reserved_bytes() const { return bytes_; }  // host address space, not memory

 private:
  std::uint64_t* tok_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace numasim::os
