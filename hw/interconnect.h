// The interconnect between NUMA nodes (UPI/QPI links, CXL, AMD Infinity Fabric)
// built from the topology's link graph: a message from node A to node B follows
// the shortest path (Topology::path_links) and on each link direction pays the
// serialisation of its bytes (header + payload at the link's bandwidth), the
// link's latency and a per-hop router latency. Each link direction keeps its
// busy intervals (a next-free timestamp that can also fill idle gaps), so a
// saturated link queues messages. A message sent while the link is busy (or
// was within a message's time) starts on a slot of its own length (slots back
// to back from time 0): under temporal decoupling messages are reserved out
// of time order, and without slots the gaps they leave between each other,
// shorter than a message, cost a saturated link 4-6% of its bandwidth at a
// 1 us quantum (issue 16 item 6). A message on an idle link starts when sent,
// so idle latencies are the sums of their parts. Counters per link
// direction: messages, bytes, busy time, queueing; utilisation at dump time.
// Simplifications: store-and-forward per hop, no credits or virtual channels,
// no flit-level packing, coherence snoops not modelled.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/fast_divider.h"
#include "hw/hw_stats.h"
#include "hw/tail_window.h"

namespace numasim {
class Config;
class Topology;
}  // namespace numasim

namespace numasim::hw {

// What the interconnect needs of the topology (built from a Topology, or by hand in tests).
struct InterconnectLayout {
  struct Link {
    NodeId a, b;
    Picoseconds latency;  // one-way
    Bandwidth bandwidth;  // per direction
    std::string name;
  };
  int num_nodes = 0;
  std::vector<Link> links;
  std::vector<std::vector<int>> paths;  // [from * num_nodes + to]: link indices in order

  static InterconnectLayout from_topology(const Topology& topo);
  const std::vector<int>& path(NodeId from, NodeId to) const {
    return paths[static_cast<std::size_t>(from.value()) * num_nodes + static_cast<std::size_t>(to.value())];
  }
};

struct InterconnectParams {
  Bytes header = Bytes(16);           // request / response header (no data)
  Picoseconds hop_latency = Picoseconds(0);  // router / agent latency per hop, on top of link latency
  static InterconnectParams from_config(Config c);  // the [interconnect] table
};

// Busy intervals of one link direction, kept sorted, so that a message may use
// an idle gap before messages reserved by earlier calls (calls come in
// program order, not time order: a response computed later may be due
// earlier). Only the latest `capacity` intervals are kept (about 8 us of a
// saturated 41.6 GB/s link, so a core lagging the others by a quantum of a few
// microseconds finds its gaps); earlier time counts as busy.
class LinkCalendar {
 public:
  // capacity >= 1 (the in-order append drops the oldest interval in the same step).
  explicit LinkCalendar(std::size_t capacity = 4096) : busy_(capacity) {}
  // Earliest start >= t of an idle interval of length len.
  Picoseconds earliest(Picoseconds t, Picoseconds len) const;
  // The same on a grid of slots of length len from time 0 (what the links
  // use: gaps between messages of one size are then whole messages).
  Picoseconds earliest_slot(Picoseconds t, Picoseconds len) const;
  void reserve(Picoseconds start, Picoseconds len);
  // earliest_slot(t, len) and reserve() of its answer, with one search for
  // both (the gap found is where the interval goes); `grid` divides by len
  // (a divider built once per message size, not a division per message).
  // Returns the start. len > 0. Inline: a message on an idle link, or one
  // whose slot lies after every reservation (messages in time order), is an
  // append; reserve_slot_among() searches the others.
  [[gnu::always_inline]] Picoseconds reserve_slot(Picoseconds t, Picoseconds len, const FastDivider& grid) {
    const Picoseconds at = std::max(t, floor_);
    if (busy_.empty()) [[unlikely]] {
      insert_at(busy_.end(), at, len);
      return at;
    }
    const Picoseconds last_end = (busy_.end() - 1)->end;
    // An idle link (the latest reservation ended a message or more before
    // `at`) leaves no gap a message could use: it starts when sent.
    if (last_end + len <= at) {
      append(at, len);
      return at;
    }
    const Picoseconds s = std::max(slot_from(t, len, grid), floor_);
    if (last_end > s) return reserve_slot_among(s, len, grid);
    // Every reservation ends by s: the slot at or after s (floor_ may be off the grid).
    const Picoseconds on = slot_from(s, len, grid);
    append(on, len);
    return on;
  }

 private:
  struct Busy {
    Picoseconds start, end;
  };
  // The first start of a slot of length len at or after x (slots of one
  // message's length back to back from time 0), by the grid's divider.
  static Picoseconds slot_from(Picoseconds x, Picoseconds len, const FastDivider& grid) {
    const std::uint64_t into = grid.remainder(x.value(), grid.divide(x.value()));
    return into == 0 ? x : x + Picoseconds(len.value() - into);
  }
  // reserve_slot() of a message whose slot s (at or after floor_) lies before
  // the latest reservation's end: one search for the first interval ending
  // after s, then a walk over the intervals in the way (each slot tried is
  // later than the last, so the walk goes on from where it stopped), the
  // interval inserted where the walk ends.
  Picoseconds reserve_slot_among(Picoseconds s, Picoseconds len, const FastDivider& grid);
  // First interval ending after s (intervals are disjoint, so ends are sorted
  // too): a few steps back from the end (messages in time order), else a
  // search from where the previous search ended (a core lagging the others
  // asks about times near each other), galloping out from there.
  const Busy* first_ending_after(Picoseconds s) const;
  // earliest() of s = max(t, floor) and the interval its gap lies before (where it is inserted).
  Picoseconds earliest_at(Picoseconds t, Picoseconds len, const Busy** before) const;
  // The interval [s, s + len) inserted before `pos` (sorted by start), the oldest dropped beyond capacity.
  void insert_at(const Busy* pos, Picoseconds s, Picoseconds len) {
    busy_.insert(pos, Busy{s, s + len});
    if (busy_.size() > busy_.capacity()) {
      floor_ = std::max(floor_, busy_.front().end);
      busy_.pop_front();
    }
  }
  // insert_at(busy_.end(), s, len) for an interval after every other: the
  // append and the drop of the oldest beyond capacity in one step (the
  // window's indices read once), the move back to the buffer's front by insert_at.
  [[gnu::always_inline]] void append(Picoseconds s, Picoseconds len) {
    Busy dropped;
    const int r = busy_.append_bounded(Busy{s, s + len}, &dropped);
    if (r == 2) floor_ = std::max(floor_, dropped.end);
    else if (r == 0) insert_at(busy_.end(), s, len);
  }
  TailWindow<Busy> busy_;  // sorted, non-overlapping; capacity = intervals kept
  Picoseconds floor_{0};
  // Where the last search from the hint ended, as an index from the window's
  // first interval (host bookkeeping only: any value gives the same answers).
  mutable std::size_t hint_ = 0;
};

struct TraverseResult {
  Picoseconds arrival;     // when the message is fully received at the destination
  Picoseconds latency;     // link and hop latencies along the path
  Picoseconds serialisation;
  Picoseconds queueing;    // waiting for busy link directions
};

class Interconnect {
 public:
  Interconnect(InterconnectLayout layout, const InterconnectParams& params);

  // A message of header + `payload` bytes sent from `from` to `to` at time `t`.
  // from == to returns immediately with arrival == t.
  TraverseResult traverse(NodeId from, NodeId to, Bytes payload, Picoseconds t);

  const InterconnectLayout& layout() const { return layout_; }
  const InterconnectParams& params() const { return params_; }
  int hops(NodeId from, NodeId to) const { return static_cast<int>(layout_.path(from, to).size()); }
  // Idle one-way time of a message of header + payload bytes.
  Picoseconds idle_time(NodeId from, NodeId to, Bytes payload) const;
  // Longest serialisation of one such message on any link of the path (the
  // fastest a stream of them can follow each other).
  Picoseconds serialisation(NodeId from, NodeId to, Bytes payload) const;
  // A stream of `count` messages of header + `payload` bytes from `from` to
  // `to`, the first sent at `first` and the others spread evenly until `last`
  // (a bulk transfer's requests or responses, timed by its caller): counted in
  // the links' statistics as a block (messages, bytes, busy time) and, on each
  // link direction, the last message reserved in the calendar (what a later
  // message meets). Simplified: the block's earlier messages are not in the
  // calendars, so traffic lagging behind the transfer does not queue behind them.
  void stream(NodeId from, NodeId to, Bytes payload, std::uint64_t count, Picoseconds first, Picoseconds last);

  struct DirStats {
    std::uint64_t messages = 0, bytes = 0, busy_ps = 0, queueing_ps = 0;
  };
  // dir 0: a -> b, dir 1: b -> a. Computed (the precomputed kinds' messages are counted by kind).
  DirStats link_stats(int link, int dir) const;
  void reset_stats(Picoseconds now = Picoseconds(0));
  // Names: system.interconnect.<link>.<a>to<b>.bytes, .utilisation, ...
  void dump(StatsVisitor& v) const;

 private:
  InterconnectLayout layout_;
  InterconnectParams params_;
  // One hop of a route, computed once per (source, destination) pair: the
  // link direction taken (link * 2 + dir: its calendar and counters) and the
  // link's latency plus the hop latency (messages of any size).
  struct Hop {
    std::uint32_t dir = 0;
    std::uint32_t link = 0;
    Picoseconds latency{0};
  };
  // The same hop for a message of one of the two precomputed kinds (payload
  // 0, a header-only request, and 64 bytes, a line: nearly every message),
  // one table per kind: its serialisation, the divider of its slot grid.
  struct KindHop {
    std::uint32_t dir = 0;
    Picoseconds ser{0}, latency{0};
    FastDivider grid;
  };
  // A route: its hops, hops_[first, first + count) (and kind_hops_[kind][...]),
  // with the sums over them of the latencies and of each kind's
  // serialisations (a message's queueing is then what its arrival adds).
  struct Route {
    std::uint32_t first = 0, count = 0;
    Picoseconds latency{0};
    std::array<Picoseconds, 2> ser{};
  };
  std::vector<Hop> hops_;
  std::array<std::vector<KindHop>, 2> kind_hops_;
  std::vector<Route> routes_;  // [from * num_nodes + to]
  const Route& route(NodeId from, NodeId to) const {
    return routes_[static_cast<std::size_t>(from.value()) * static_cast<std::size_t>(layout_.num_nodes) +
                   static_cast<std::size_t>(to.value())];
  }
  std::array<bool, 2> precomputed_{};  // every link has a time of that kind above 0 (a grid to divide by)
  // traverse() of a message of precomputed kind K along rt, sent at t.
  template <std::size_t K>
  [[gnu::always_inline]] TraverseResult traverse_kind(const Route& rt, Picoseconds t);
  // A link direction's calendar and counters side by side, [link * 2 + dir].
  // Messages of a precomputed kind are counted by kind alone (their bytes
  // and busy time are the kind's, added up in link_stats()); `stats` holds
  // the others' counts and every message's queueing.
  struct Direction {
    LinkCalendar cal;
    DirStats stats;
    std::array<std::uint64_t, 2> kind_messages{};
  };
  // Serialisation of each precomputed kind on each link, [link][kind].
  std::vector<std::array<Picoseconds, 2>> link_ser_;
  std::vector<Direction> dirs_;
  Picoseconds stats_start_{0};
  Picoseconds last_time_{0};
};

}  // namespace numasim::hw
