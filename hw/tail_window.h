// A sorted window over the latest reservations of a calendar (SlotCalendar,
// LinkCalendar): entries live contiguously in one fixed buffer between head_
// and tail_, so searches are pointer walks and binary searches over plain
// memory. An insert moves the shorter side: the entries after it one slot on,
// or (when there is room before head_) the entries before it one slot back, so
// a reservation that lands early in the window (a core lagging the others, as
// 128 cores in a quantum do) moves few entries. Dropping the oldest entry only
// advances head_. When the tail reaches the buffer's end, the live entries move
// back to the front (the buffer holds span x capacity entries, 2 by default:
// one entry copy per drop; 4 x made a fresh machine's first reservations touch
// twice the host memory, 6% of a THP fault benchmark; the DRAM data buses'
// calendars take 3 x, half an entry copy per drop). The storage is allocated
// on the first insert and never grows after, so the hot path of a memory
// reference does not allocate. The oldest
// entries are prefetched a few host cache lines ahead of their removal (they
// are cold by then).
// Simplifications: none; it is a container (order of equal keys is the caller's).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

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

// upper_bound_by() started at `hint` (any element of [first, last), or last):
// steps of 1, 2, 4 ... out from it until the answer is bracketed, then a
// binary search between the last two steps, so a query landing d elements
// from the hint probes about 2 log2(d) elements instead of log2 of the range.
template <typename T, typename V, typename Key>
const T* upper_bound_from(const T* first, const T* last, const T* hint, V v, Key key) {
  if (hint <= first || hint >= last) return upper_bound_by(first, last, v, key);
  const T* lo;  // key(*lo) <= v, or lo == first - 1 (nothing known below)
  const T* hi;  // key(*hi) > v, or hi == last
  std::size_t step = 1;
  if (key(*hint) <= v) {
    lo = hint;
    for (;;) {
      if (static_cast<std::size_t>(last - lo) <= step) {
        hi = last;
        break;
      }
      if (key(lo[step]) > v) {
        hi = lo + step;
        break;
      }
      lo += step;
      step *= 2;
    }
    return upper_bound_by(lo + 1, hi, v, key);
  }
  hi = hint;
  for (;;) {
    if (static_cast<std::size_t>(hi - first) <= step) return upper_bound_by(first, hi, v, key);
    if (key(*(hi - step)) <= v) return upper_bound_by(hi - step + 1, hi, v, key);
    hi -= step;
    step *= 2;
  }
}

template <typename T>
class TailWindow {
 public:
  // span: buffer entries per entry of capacity (at least 2); the window moves
  // back to the buffer's front after (span - 1) x capacity appends.
  explicit TailWindow(std::size_t capacity = 0, std::size_t span = 2) : capacity_(capacity), span_(span) {
    assert(span >= 2);
  }
  TailWindow(const TailWindow& o) : capacity_(o.capacity_), span_(o.span_) { copy_live(o); }
  TailWindow(TailWindow&& o) noexcept
      : capacity_(o.capacity_),
        span_(o.span_),
        head_(o.head_),
        tail_(o.tail_),
        buf_size_(o.buf_size_),
        buf_(std::move(o.buf_)) {
    o.head_ = o.tail_ = o.buf_size_ = 0;
  }
  TailWindow& operator=(TailWindow o) noexcept {
    std::swap(capacity_, o.capacity_);
    std::swap(span_, o.span_);
    std::swap(head_, o.head_);
    std::swap(tail_, o.tail_);
    std::swap(buf_size_, o.buf_size_);
    std::swap(buf_, o.buf_);
    return *this;
  }

  const T* begin() const { return buf_.get() + head_; }
  const T* end() const { return buf_.get() + tail_; }
  std::size_t size() const { return tail_ - head_; }
  bool empty() const { return tail_ == head_; }
  const T& front() const { return buf_.get()[head_]; }
  std::size_t capacity() const { return capacity_; }

  // Inserts v before `pos` (a pointer into [begin(), end()]).
  void insert(const T* pos, T v) {
    // The usual case inline: an append with room left, the entry stored from
    // registers (passed through memory, a 16-byte entry the caller wrote as
    // two words and the callee read as one waited for the host's store
    // buffer to drain: most of insert's samples in a fault benchmark's profile).
    if (pos == end() && tail_ < buf_size_) {
      buf_.get()[tail_++] = v;
      return;
    }
    insert_slow(pos, v);
  }
  // Appends v (not less than the last entry) when the buffer has room at its
  // end; false (nothing done) otherwise (insert() then moves the entries).
  [[gnu::always_inline]] bool append(T v) {
    if (tail_ >= buf_size_) return false;
    buf_.get()[tail_++] = v;
    return true;
  }
  // append(), and when the window then holds more than capacity() entries,
  // pop_front() of the oldest, copied into *dropped first. Returns 0 (no
  // room at the buffer's end: nothing done), 1 (appended) or 2 (appended and
  // dropped). The window's indices are read once, before the entry is
  // stored: after a store of a T holding 64-bit words the compiler reloads
  // them, as the store might have written them.
  // Needs capacity() >= 1 (with 0 the entry just stored would be the one dropped).
  [[gnu::always_inline]] int append_bounded(T v, T* dropped) {
    const std::size_t h = head_, t = tail_;
    if (t >= buf_size_) return 0;
    T* const d = buf_.get();
    d[t] = v;
    if (t + 1 - h <= capacity_) {
      tail_ = t + 1;
      return 1;
    }
    *dropped = d[h];  // h < t when capacity() >= 1, which callers need (SlotCalendar: kCalendarSlots)
    head_ = h + 1;
    tail_ = t + 1;
    if (h + 1 + kPrefetchAhead < t + 1) __builtin_prefetch(d + h + 1 + kPrefetchAhead);
    return 2;
  }
  // Entries append() may still add before the buffer's end (0 before the first insert).
  std::size_t room() const { return buf_size_ - tail_; }
  // Appends written in place: the caller fills spare()[0, n) (n <= room(),
  // each entry not less than the one before it), then keeps them with
  // commit_appends(n). Until then they are not part of the window.
  T* spare() { return buf_.get() + tail_; }
  void commit_appends(std::size_t n) { tail_ += n; }
  // Drops the oldest n entries (n < size(): some are left), as n calls of
  // pop_front().
  void pop_front_n(std::size_t n) {
    assert(n < size());  // (so the window never empties here: no reset of head_ and tail_)
    head_ += n;
    if (head_ + kPrefetchAhead < tail_) __builtin_prefetch(buf_.get() + head_ + kPrefetchAhead);
  }
  // Drops the oldest (first) entry.
  [[gnu::always_inline]] void pop_front() {
    ++head_;
    if (head_ == tail_) head_ = tail_ = 0;
    // The oldest entries are read only here, long after they were written, so
    // they have left the host caches: fetch a few entries ahead of use.
    if (head_ + kPrefetchAhead < tail_) __builtin_prefetch(buf_.get() + head_ + kPrefetchAhead);
  }

 private:
  // insert() other than an append with room: the first insert, inserts before
  // the last entries, the move back to the buffer's front.
  __attribute__((noinline)) void insert_slow(const T* pos, const T v) {
    auto i = static_cast<std::size_t>(pos - buf_.get());
    if (!buf_) {
      // Raw storage: the host touches only the entries the window really uses
      // (a zero-filled buffer costs every fresh machine a host page fault per
      // 4 KiB of every calendar).
      buf_size_ = span_ * capacity_ + 2;
      buf_.reset(allocate(buf_size_));
      i = head_ = tail_ = 0;
    }
    T* const d = buf_.get();
    if (tail_ < buf_size_ && tail_ - i <= kShortMove) {
      // An append or an insert among the last few entries (the usual cases:
      // reservations arrive nearly in time order): the entries after it move
      // one slot on by a rotation, without a memmove call.
      T carry = v;
      for (std::size_t k = i; k < tail_; ++k) std::swap(carry, d[k]);
      d[tail_++] = carry;
      return;
    }
    if (head_ > 0 && i - head_ < tail_ - i) {
      // The entries before pos move one slot back.
      std::memmove(static_cast<void*>(d + head_ - 1), d + head_, (i - head_) * sizeof(T));
      --head_;
      d[i - 1] = v;
      return;
    }
    if (tail_ == buf_size_) {
      // Back to the front of the buffer.
      const std::size_t n = tail_ - head_;
      std::memmove(static_cast<void*>(d), d + head_, n * sizeof(T));
      i -= head_;
      head_ = 0;
      tail_ = n;
    }
    std::memmove(static_cast<void*>(d + i + 1), d + i, (tail_ - i) * sizeof(T));
    ++tail_;
    d[i] = v;
  }

  static_assert(std::is_trivially_copyable_v<T>, "TailWindow moves its entries with memmove");
  static constexpr std::size_t kPrefetchAhead = 256 / sizeof(T);
  static constexpr std::size_t kShortMove = 8;  // inserts this near the end move entries without memmove
  std::size_t capacity_;
  std::size_t span_;
  std::size_t head_ = 0, tail_ = 0;
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
  }
  // A copy holds the live entries only, at the same positions.
  void copy_live(const TailWindow& o) {
    if (!o.buf_) return;
    buf_size_ = o.buf_size_;
    buf_.reset(allocate(buf_size_));
    head_ = o.head_;
    tail_ = o.tail_;
    std::memcpy(static_cast<void*>(buf_.get() + head_), o.buf_.get() + head_, (tail_ - head_) * sizeof(T));
  }
  struct RawDelete {
    void operator()(T* p) const { ::operator delete(p, std::align_val_t(alignof(T))); }
  };
  std::size_t buf_size_ = 0;
  std::unique_ptr<T, RawDelete> buf_;
};

}  // namespace numasim::hw
