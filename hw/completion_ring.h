// Completion times of a fixed number of interchangeable entries (a core's line
// fill buffers, its L2 super queue), of which a new request takes the one that
// frees first. Models nothing itself: only the multiset of the times is
// observable (the earliest, and how many lie above a time), so they are kept
// sorted in a ring: the entry that frees first is the head; it leaves, and the
// new request's completion time is inserted from the tail. A core's requests
// complete nearly in time order, so that is a step or two, where a search of
// every entry for the least (10 fill buffers on every L1 miss) cost a compare
// and select per entry. Fixed storage, no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace numasim::hw {

template <class Time>
class CompletionRing {
 public:
  static constexpr std::uint32_t kMaxEntries = 256;

  // `entries` entries, every one free from time `zero` on. Throws
  // std::invalid_argument unless 1 <= entries <= kMaxEntries (`what` names the owner).
  CompletionRing(std::uint32_t entries, Time zero, const char* what) : n_(entries) {
    if (entries == 0 || entries > kMaxEntries)
      throw std::invalid_argument(std::string(what) + ": entries must be 1.." + std::to_string(kMaxEntries));
    done_.fill(zero);
  }

  std::uint32_t size() const { return n_; }
  // The i-th earliest completion time (0: when the first entry frees).
  Time at(std::uint32_t i) const { return done_[(head_ + i) & kMask]; }
  // The entry that frees first is taken by a request that completes at `done`.
  void replace_earliest(Time done) {
    head_ = (head_ + 1) & kMask;
    std::uint32_t pos = head_ + n_ - 1;  // the free slot at the tail (unmasked)
    while (pos != head_ && done_[(pos - 1) & kMask] > done) {
      done_[pos & kMask] = done_[(pos - 1) & kMask];
      --pos;
    }
    done_[pos & kMask] = done;
  }

 private:
  static_assert((kMaxEntries & (kMaxEntries - 1)) == 0, "the ring's index is masked");
  static constexpr std::uint32_t kMask = kMaxEntries - 1;
  std::array<Time, kMaxEntries> done_;  // n_ completion times sorted from head_ (a ring)
  std::uint32_t n_;
  std::uint32_t head_ = 0;
};

}  // namespace numasim::hw
