// A sorted window over the latest reservations of a calendar (SlotCalendar,
// LinkCalendar): entries live contiguously in one vector from index head_ to
// the end, so searches are pointer walks and binary searches over plain
// memory; an insert near the end moves only the few entries after it, and
// dropping the oldest entry only advances head_. When the dropped prefix grows
// as long as the window's capacity, the live entries move back to the front
// (amortised one entry copy per drop). The storage is reserved on the first
// insert (2 x capacity + 2 entries) and never grows after, so the hot path of a
// memory reference does not allocate. The oldest entries are prefetched a few
// host cache lines ahead of their removal (they are cold by then).
// Simplifications: none; it is a container (order of equal keys is the caller's).
#pragma once

#include <cstddef>
#include <vector>

namespace numasim::hw {

// First element of the sorted range [first, last) whose key(e) is greater than
// v, as std::upper_bound, with conditional moves instead of branches (the
// calendars' fallback search lands on unpredictable positions) and the next
// probe's two candidates prefetched (the older entries are cold in the host caches).
template <typename T, typename V, typename Key>
const T* upper_bound_by(const T* first, const T* last, V v, Key key) {
  auto n = static_cast<std::size_t>(last - first);
  if (n == 0) return first;
  while (n > 1) {
    const std::size_t half = n / 2;
    // Both candidates of the next probe, fetched while this one is compared.
    __builtin_prefetch(first + half / 2);
    __builtin_prefetch(first + half + half / 2);
    first = key(first[half]) <= v ? first + half : first;
    n -= half;
  }
  return first + (key(*first) <= v ? 1 : 0);
}

template <typename T>
class TailWindow {
 public:
  explicit TailWindow(std::size_t capacity = 0) : capacity_(capacity) {}

  const T* begin() const { return buf_.data() + head_; }
  const T* end() const { return buf_.data() + buf_.size(); }
  std::size_t size() const { return buf_.size() - head_; }
  bool empty() const { return buf_.size() == head_; }
  const T& front() const { return buf_[head_]; }
  std::size_t capacity() const { return capacity_; }

  // Inserts v before `pos` (a pointer into [begin(), end()]).
  void insert(const T* pos, const T& v) {
    const auto i = static_cast<std::size_t>(pos - buf_.data());
    if (buf_.capacity() == 0) buf_.reserve(2 * capacity_ + 2);
    buf_.insert(buf_.begin() + static_cast<std::ptrdiff_t>(i), v);
  }
  // Drops the oldest (first) entry.
  void pop_front() {
    ++head_;
    if (head_ >= capacity_ || head_ == buf_.size()) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    // The oldest entries are read only here, long after they were written, so
    // they have left the host caches: fetch a few entries ahead of use.
    if (head_ + kPrefetchAhead < buf_.size()) __builtin_prefetch(buf_.data() + head_ + kPrefetchAhead);
  }

 private:
  static constexpr std::size_t kPrefetchAhead = 256 / sizeof(T);
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::vector<T> buf_;
};

}  // namespace numasim::hw
