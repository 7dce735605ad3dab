// The L2 streamer's queue of prefetches in flight (PrefetchesInFlight) against
// the vector it replaced, kept here as the reference: entries in issue order,
// every arrived one erased on each request, the oldest dropped when a full
// queue takes one more, and a line's first entry in issue order still on its
// way reported. Random sequences of the three operations, with repeated lines,
// equal arrival times, times that go back and more issues than the queue holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

#include "hw/stream_prefetcher.h"

namespace numasim::hw {
namespace {

class VectorInFlight {
 public:
  explicit VectorInFlight(std::uint32_t entries) : entries_(entries) {}
  std::uint32_t retire(Picoseconds now) {
    std::erase_if(v_, [now](const auto& f) { return f.second <= now; });
    return entries_ - static_cast<std::uint32_t>(v_.size());
  }
  void add(PhysAddr line, Picoseconds ready) {
    if (v_.size() >= entries_) v_.erase(v_.begin());
    v_.push_back({line, ready});
  }
  Picoseconds pending(PhysAddr line, Picoseconds now) const {
    for (const auto& f : v_)
      if (f.first == line && f.second > now) return f.second;
    return Picoseconds(0);
  }
  void clear() { v_.clear(); }

 private:
  std::uint32_t entries_;
  std::vector<std::pair<PhysAddr, Picoseconds>> v_;
};

TEST(PrefetchesInFlight, EqualsTheVectorInIssueOrder) {
  for (const std::uint32_t entries : {1u, 2u, 5u, 16u, 48u, 256u}) {
    PrefetchesInFlight fast(entries);
    VectorInFlight ref(entries);
    std::mt19937_64 rng(entries);
    std::uint64_t now = 1'000'000, pending_hits = 0, overflows = 0, room_left = 0;
    for (int i = 0; i < 200'000; ++i) {
      // Mostly forward in time, sometimes back (a request stamped before the previous one).
      now = now + rng() % 3000 - ((rng() % 8) == 0 ? 2500 : 0);
      const Picoseconds t(now);
      // Lines from a small pool (repeats, and several per bucket of 64 lines).
      const PhysAddr line = (rng() % 24) * 64 + (rng() % 3) * 64 * 64;
      switch (rng() % 4) {
        case 0:
          ASSERT_EQ(fast.retire(t), ref.retire(t)) << "operation " << i;
          break;
        case 1:
        case 2: {
          // Arrival times near each other, some equal, mostly later than the
          // ones before; in every other phase long enough that the queue fills up.
          const std::uint64_t span = ((i / 10'000) % 2 ? 4000ull : 1000ull) * entries;
          const Picoseconds ready(now + (rng() % 2 ? rng() % (2 * span) : span));
          (fast.size() >= entries ? overflows : room_left) += 1;
          fast.add(line, ready);
          ref.add(line, ready);
          break;
        }
        default: {
          const Picoseconds at(now - rng() % 20'000 + (rng() % 2) * 3000ull * entries);
          const Picoseconds got = fast.pending(line, at);
          ASSERT_EQ(got, ref.pending(line, at)) << "operation " << i;
          pending_hits += got.value() != 0;
        }
      }
      if (i % 50'000 == 49'999) {
        fast.clear();
        ref.clear();
      }
    }
    EXPECT_EQ(fast.retire(Picoseconds(now)), ref.retire(Picoseconds(now)));
    EXPECT_GT(pending_hits, 500u) << entries;
    EXPECT_GT(overflows, 1000u) << entries;
    EXPECT_GT(room_left, 1000u) << entries;
  }
}

TEST(PrefetchesInFlight, ReportsTheEarliestIssuedCopyOfALine) {
  PrefetchesInFlight q(4);
  q.add(0x1000, Picoseconds(500));
  q.add(0x1000, Picoseconds(300));  // the same line again, arriving earlier
  EXPECT_EQ(q.pending(0x1000, Picoseconds(100)), Picoseconds(500));
  EXPECT_EQ(q.pending(0x1000, Picoseconds(400)), Picoseconds(500));
  EXPECT_EQ(q.retire(Picoseconds(300)), 3u);  // the copy arriving at 300 left
  EXPECT_EQ(q.pending(0x1000, Picoseconds(100)), Picoseconds(500));
  EXPECT_EQ(q.pending(0x2000, Picoseconds(100)), Picoseconds(0));
  EXPECT_THROW(PrefetchesInFlight(0), std::invalid_argument);
  EXPECT_THROW(PrefetchesInFlight(PrefetchesInFlight::kMaxEntries + 1), std::invalid_argument);
}

}  // namespace
}  // namespace numasim::hw
