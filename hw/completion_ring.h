// Times kept sorted in a ring (SortedRing), and the completion times of a
// fixed number of interchangeable entries kept in one (CompletionRing: a
// core's line fill buffers, its L2 super queue), of which a new request takes
// the one that frees first. Models nothing itself: only the multiset of the
// times is observable (the earliest, and how many lie above a time), so they
// are kept sorted from a head: the entry that frees first is the head; it
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

// Up to kMaxEntries values ascending from a head, in fixed storage. The
// owner keeps the count (`n` below: the values held). The values lie
// contiguously from head_ on (no index wraps, so an insert's step is a load,
// a compare and a store: the masked ring's indices cost as much again); the
// head advances as values leave, and when the tail reaches the storage's end
// the values move back to its front (every kSpare inserts or more, n moves).
// The slot below the head always holds T{}, the least T (the times and keys
// kept here are unsigned): an insert's walk from the tail ends there at the
// latest, with no bound or count test (a value that leaves writes it).
template <class T>
class SortedRing {
 public:
  static constexpr std::uint32_t kMaxEntries = 256;

  // The i-th least value held (i < n).
  T at(std::uint32_t i) const { return v_[head_ + i]; }
  // The least value leaves (its slot becomes the one below the head: T{}).
  void pop_head() { v_[head_++] = T{}; }
  // Inserts `x` among the n values held (n < kMaxEntries), from the tail:
  // a step per value greater than `x` (after every value equal to it).
  void insert_from_tail(std::uint32_t n, T x) {
    if (head_ + n >= kSlots) [[unlikely]]
      to_front(n);
    T* p = v_.data() + head_ + n;  // the free slot after the tail
    while (p[-1] > x) {  // (v_[head_ - 1], T{}, is not greater than x)
      *p = p[-1];
      --p;
    }
    *p = x;
  }
  // The k least of the n values held (k <= n) leave and the k values x[0, k)
  // (ascending, each converted to T) come in, each not less than any value that leaves; the
  // values held are then what k calls of pop_head() and insert_from_tail()
  // in that order leave (each pop takes a value that leaves: the ones that
  // come in are not less), merged in one pass from the tail.
  template <class U>
  void replace_least_run(std::uint32_t n, const U* x, std::uint32_t k) {
    head_ += k;
    v_[head_ - 1] = T{};
    const std::uint32_t kept = n - k;  // old values that stay, from head_ on
    if (head_ + kept + k > kSlots) [[unlikely]]
      to_front(kept);
    T* const base = v_.data() + head_;
    T* out = base + kept + k;  // one past the merged tail
    T* old = base + kept;      // one past the old values kept
    const U* in = x + k;       // one past the values coming in
    // The later of the two tails goes last; on equal keys the one coming in
    // goes after the old one, as insert_from_tail() puts it.
    while (in != x) {
      if (old != base && old[-1] > T(in[-1])) {
        *--out = *--old;
      } else {
        *--out = T(*--in);
      }
    }
  }
  // The i-th least of the n values held leaves.
  void erase(std::uint32_t n, std::uint32_t i) {
    for (; i + 1 < n; ++i) v_[head_ + i] = v_[head_ + i + 1];
  }
  // Every slot holds `x`, the head at slot 1 (slot 0: T{}).
  void reset(T x) {
    v_.fill(x);
    v_[0] = T{};
    head_ = 1;
  }

 private:
  // Slots beyond kMaxEntries: how far the head advances between moves to the front.
  static constexpr std::uint32_t kSpare = 128;
  static constexpr std::uint32_t kSlots = 1 + kMaxEntries + kSpare;  // slot 0: the least T, below the front
  // The n values held move to the storage's front (slot 1 on).
  [[gnu::noinline]] void to_front(std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) v_[1 + i] = v_[head_ + i];
    head_ = 1;
    v_[0] = T{};
  }
  std::array<T, kSlots> v_{};  // value-initialised: the slot below the head (the sentinel) reads T{} before any reset()
  std::uint32_t head_ = 1;
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
  // replace_earliest() of done[0], done[1] ... done[k - 1] (ascending, k <=
  // size(), each not less than the k earliest completion times), in one merge.
  template <class U>
  void replace_earliest_run(const U* done, std::uint32_t k) {
    done_.replace_least_run(n_, done, k);
  }

 private:
  SortedRing<Time> done_;  // n_ completion times
  std::uint32_t n_;
};

}  // namespace numasim::hw
