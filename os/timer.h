// One CPU's queue of pending timers (kernel/time/timer.c's timer wheel, as an
// ordered map): timers fire in (expires, arming order) order, so that timers of
// equal expiry fire deterministically. Used by the platforms that implement
// os::Platform's timer calls (hw::MachinePlatform, the tests' fake).
// Simplified: exact expiry times (no wheel granularity, no slack).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include "os/platform.h"

namespace numasim::os {

class TimerQueue {
 public:
  static constexpr Picoseconds kNever = Picoseconds(std::numeric_limits<std::uint64_t>::max());

  // enqueue_timer: arm `t` at `expires` with arming order `seq` (removed first if pending).
  void add(timer_list* t, Picoseconds expires, std::uint64_t seq) {
    remove(t);
    t->expires = expires;
    t->seq = seq;
    t->pending = true;
    q_.emplace(Key{expires.value(), seq}, t);
  }
  // detach_timer: true when it was pending here.
  bool remove(timer_list* t) {
    if (!t->pending) return false;
    t->pending = false;
    return q_.erase(Key{t->expires.value(), t->seq}) != 0;
  }
  // Expiry of the first pending timer, kNever when none.
  Picoseconds next() const { return q_.empty() ? kNever : Picoseconds(q_.begin()->first.first); }
  // The first timer due at `now` and armed before `seq_limit` (taken off the queue), or nullptr.
  // __run_timers collects the expired timers first: those re-armed by a callback wait for
  // the next check.
  timer_list* pop_due(Picoseconds now, std::uint64_t seq_limit) {
    for (auto it = q_.begin(); it != q_.end() && it->first.first <= now.value(); ++it) {
      if (it->first.second >= seq_limit) continue;
      timer_list* t = it->second;
      q_.erase(it);
      t->pending = false;
      return t;
    }
    return nullptr;
  }
  bool empty() const { return q_.empty(); }
  std::size_t size() const { return q_.size(); }

 private:
  using Key = std::pair<std::uint64_t, std::uint64_t>;  // (expires ps, seq)
  std::map<Key, timer_list*> q_;
};

}  // namespace numasim::os
