// Times kept sorted in a ring (SortedRing), and the completion times of a
// fixed number of interchangeable entries kept in one (CompletionRing: a
// core's line fill buffers, its L2 super queue), of which a new request takes
// the one that frees first. Models nothing itself: only the multiset of the
// times is observable (the earliest, and how many lie above a time), so they
// are kept sorted in a ring: the entry that frees first is the head; it
// leaves, and the new request's completion time is inserted from the tail. A
// core's requests complete nearly in time order, so that is a step or two,
// where a search of every entry for the least (10 fill buffers on every L1
// miss) cost a compare and select per entry. The L2 streamer's prefetches in
// flight keep their arrival keys in a SortedRing too (PrefetchesInFlight,
// hw/stream_prefetcher.h). Fixed storage, no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace numasim::hw {

// Up to kMaxEntries values ascending from a head, in a ring of fixed storage.
// The owner keeps the count (`n` below: the values held).
template <class T>
class SortedRing {
 public:
  static constexpr std::uint32_t kMaxEntries = 256;

  // The i-th least value held (i < n).
  T at(std::uint32_t i) const { return v_[(head_ + i) & kMask]; }
  // The least value leaves.
  void pop_head() { head_ = (head_ + 1) & kMask; }
  // Inserts `x` among the n values held (n < kMaxEntries), from the tail:
  // a step per value greater than `x`.
  void insert_from_tail(std::uint32_t n, T x) {
    std::uint32_t pos = head_ + n;  // the free slot at the tail (unmasked)
    while (pos != head_ && v_[(pos - 1) & kMask] > x) {
      v_[pos & kMask] = v_[(pos - 1) & kMask];
      --pos;
    }
    v_[pos & kMask] = x;
  }
  // The i-th least of the n values held leaves.
  void erase(std::uint32_t n, std::uint32_t i) {
    for (; i + 1 < n; ++i) v_[(head_ + i) & kMask] = v_[(head_ + i + 1) & kMask];
  }
  // Every slot holds `x`, the head at slot 0.
  void reset(T x) {
    v_.fill(x);
    head_ = 0;
  }

 private:
  static_assert((kMaxEntries & (kMaxEntries - 1)) == 0, "the ring's index is masked");
  static constexpr std::uint32_t kMask = kMaxEntries - 1;
  std::array<T, kMaxEntries> v_;
  std::uint32_t head_ = 0;
};

template <class Time>
class CompletionRing {
 public:
  static constexpr std::uint32_t kMaxEntries = SortedRing<Time>::kMaxEntries;

  // `entries` entries, every one free from time `zero` on. Throws
  // std::invalid_argument unless 1 <= entries <= kMaxEntries (`what` names the owner).
  CompletionRing(std::uint32_t entries, Time zero, const char* what) : n_(entries) {
    if (entries == 0 || entries > kMaxEntries)
      throw std::invalid_argument(std::string(what) + ": entries must be 1.." + std::to_string(kMaxEntries));
    done_.reset(zero);
  }

  std::uint32_t size() const { return n_; }
  // The i-th earliest completion time (0: when the first entry frees).
  Time at(std::uint32_t i) const { return done_.at(i); }
  // The entry that frees first is taken by a request that completes at `done`.
  void replace_earliest(Time done) {
    done_.pop_head();
    done_.insert_from_tail(n_ - 1, done);
  }

 private:
  SortedRing<Time> done_;  // n_ completion times
  std::uint32_t n_;
};

}  // namespace numasim::hw
