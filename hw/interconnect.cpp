// Interconnect timing (see interconnect.h): per-link-direction serialisation,
// latency and next-free occupancy along the topology's shortest paths.
#include "hw/interconnect.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"
#include "common/topology.h"

namespace numasim::hw {

const LinkCalendar::Busy* LinkCalendar::first_ending_after(Picoseconds s) const {
  const Busy* const b = busy_.begin();
  const Busy* it = busy_.end();
  // Four steps (eight: gups.toml +2.9 M host instructions; two: +1.2 M more):
  // in a loaded link's out-of-order messages, the answer lies 1-4 back for
  // about 40%, further for about half (then the hint's search finds it).
  for (int i = 0; i < 4 && it != b && (it - 1)->end > s; ++i) --it;
  if (it == b || (it - 1)->end <= s) return it;
  // The hint is an index: after pops or a move of the buffer it may lie past the
  // end, so it is clamped before it becomes a pointer (upper_bound_from then
  // falls back to a binary search).
  const std::size_t n = static_cast<std::size_t>(it - b);
  it = upper_bound_from(b, it, b + std::min(hint_, n), s, [](const Busy& x) { return x.end; });
  hint_ = static_cast<std::size_t>(it - b);
  return it;
}

Picoseconds LinkCalendar::earliest_at(Picoseconds t, Picoseconds len, const Busy** before) const {
  Picoseconds s = std::max(t, floor_);
  const Busy* const e = busy_.end();
  const Busy* it = first_ending_after(s);
  for (; it != e; ++it) {
    if (it->start >= s + len) break;  // the gap before it fits
    s = std::max(s, it->end);
  }
  *before = it;
  return s;
}

Picoseconds LinkCalendar::earliest(Picoseconds t, Picoseconds len) const {
  const Busy* before;
  return earliest_at(t, len, &before);
}

void LinkCalendar::reserve(Picoseconds start, Picoseconds len) {
  if (len.value() == 0) return;
  const Busy* const b = busy_.begin();
  const Busy* it = busy_.end();
  for (int i = 0; i < 8 && it != b && (it - 1)->start > start; ++i) --it;
  if (it != b && (it - 1)->start > start)
    it = upper_bound_by(b, it, start, [](const Busy& x) { return x.start; });
  insert_at(it, start, len);
}

// The first start of a slot of length len at or after x (slots of one
// message's length back to back from time 0).
static Picoseconds slot_at_or_after(Picoseconds x, Picoseconds len) {
  const std::uint64_t into = x.value() % len.value();
  return into == 0 ? x : x + Picoseconds(len.value() - into);
}

Picoseconds LinkCalendar::earliest_slot(Picoseconds t, Picoseconds len) const {
  if (len.value() == 0) return earliest(t, len);
  // A message on an idle link (the latest reservation ended a message or more
  // before it) leaves no gap a message could use: it starts when sent.
  const Picoseconds at = std::max(t, floor_);
  if (busy_.empty() || (busy_.end() - 1)->end + len <= at) return at;
  Picoseconds s = earliest(slot_at_or_after(t, len), len);
  // After a shorter message's end (a header among data messages) the gap may
  // start off the grid: try the next slot until one is free.
  for (Picoseconds on = slot_at_or_after(s, len); on != s; on = slot_at_or_after(s, len)) s = earliest(on, len);
  return s;
}

Picoseconds LinkCalendar::reserve_slot_among(Picoseconds s, Picoseconds len, const FastDivider& grid) {
  // As earliest_slot(): earliest() from s, then from the next slot until the
  // gap found starts on the grid. Every interval before `it` ends by s, and
  // `it` (when not the end) starts at or after s + len, so it also ends after
  // the next slot (less than len later): earliest() from there would find
  // `it` again, and the walk goes on from it. The intervals before the gap end
  // at or before s and those from it start at or after s + len, so `it` is
  // also where reserve()'s search by start would insert.
  const Busy* const e = busy_.end();
  const Busy* it = first_ending_after(s);
  for (;;) {
    for (; it != e && it->start < s + len; ++it) s = std::max(s, it->end);
    const Picoseconds on = slot_from(s, len, grid);
    if (on == s) break;
    s = on;
  }
  insert_at(it, s, len);
  return s;
}

// A message's serialisation on a link, out of line: inlined, GCC computed its
// 128-bit product on every traverse(), for the precomputed kinds too.
[[gnu::noinline]] static Picoseconds transfer_time_of(Bandwidth bw, Bytes bytes) { return bw.transfer_time(bytes); }

InterconnectLayout InterconnectLayout::from_topology(const Topology& topo) {
  InterconnectLayout l;
  l.num_nodes = topo.num_nodes();
  for (const LinkDesc& d : topo.links()) l.links.push_back({d.a, d.b, d.latency, d.bandwidth, d.name});
  l.paths.resize(static_cast<std::size_t>(l.num_nodes) * static_cast<std::size_t>(l.num_nodes));
  for (int a = 0; a < l.num_nodes; ++a)
    for (int b = 0; b < l.num_nodes; ++b)
      l.paths[static_cast<std::size_t>(a * l.num_nodes + b)] = topo.path_links(NodeId(a), NodeId(b));
  return l;
}

InterconnectParams InterconnectParams::from_config(Config c) {
  InterconnectParams d;
  InterconnectParams p;
  p.header = c.get<Bytes>("header", d.header, "header bytes of every message (request, response)", {Bytes(0), {}});
  p.hop_latency = c.get<Picoseconds>("hop_latency", d.hop_latency,
                                     "router/agent latency per hop, added to each link's latency");
  return p;
}

Interconnect::Interconnect(InterconnectLayout layout, const InterconnectParams& params)
    : layout_(std::move(layout)), params_(params) {
  const auto n = static_cast<std::size_t>(layout_.num_nodes);
  if (layout_.paths.size() != n * n)
    throw std::invalid_argument("interconnect: path table must have num_nodes^2 entries");
  for (const auto& path : layout_.paths)
    for (int li : path)
      if (li < 0 || static_cast<std::size_t>(li) >= layout_.links.size())
        throw std::invalid_argument("interconnect: path uses unknown link " + std::to_string(li));
  for (const auto& l : layout_.links)
    if (l.bandwidth.bytes_per_second() == 0) throw std::invalid_argument("interconnect: link " + l.name + " has no bandwidth");
  dirs_.resize(layout_.links.size() * 2);
  link_ser_.resize(layout_.links.size());
  precomputed_ = {true, true};
  for (std::size_t li = 0; li < layout_.links.size(); ++li) {
    for (std::size_t kind = 0; kind < 2; ++kind) {
      link_ser_[li][kind] = layout_.links[li].bandwidth.transfer_time(params_.header + Bytes(kind * kCacheLineBytes));
      if (link_ser_[li][kind].value() == 0) precomputed_[kind] = false;
    }
  }
  routes_.resize(layout_.paths.size());
  for (int a = 0; a < layout_.num_nodes; ++a) {
    for (int b = 0; b < layout_.num_nodes; ++b) {
      Route& r = routes_[static_cast<std::size_t>(a) * n + static_cast<std::size_t>(b)];
      r.first = static_cast<std::uint32_t>(hops_.size());
      NodeId at(a);
      for (int li : layout_.path(NodeId(a), NodeId(b))) {
        const auto& link = layout_.links[static_cast<std::size_t>(li)];
        const std::uint32_t dir = link.a == at ? 0 : 1;
        at = dir == 0 ? link.b : link.a;
        Hop h;
        h.link = static_cast<std::uint32_t>(li);
        h.dir = h.link * 2 + dir;
        h.latency = link.latency + params_.hop_latency;
        hops_.push_back(h);
        r.latency += h.latency;
        for (std::size_t kind = 0; kind < 2; ++kind) {
          KindHop k;
          k.dir = h.dir;
          k.ser = link_ser_[static_cast<std::size_t>(li)][kind];
          k.latency = h.latency;
          if (k.ser.value() > 0) k.grid = FastDivider(k.ser.value());
          kind_hops_[kind].push_back(k);
          r.ser[kind] += k.ser;
        }
      }
      r.count = static_cast<std::uint32_t>(hops_.size()) - r.first;
    }
  }
}

template <std::size_t K>
inline TraverseResult Interconnect::traverse_kind(const Route& rt, Picoseconds t) {
  const Picoseconds sent = t;
  Direction* const dirs = dirs_.data();
  const KindHop* h = kind_hops_[K].data() + rt.first;
  const KindHop* const end = h + rt.count;
  for (; h != end; ++h) {
    Direction& d = dirs[h->dir];
    const Picoseconds start = d.cal.reserve_slot(t, h->ser, h->grid);
    ++d.kind_messages[K];
    d.stats.queueing_ps += (start - t).value();
    t = start + h->ser + h->latency;
  }
  last_time_ = std::max(last_time_, t);
  // The arrival is the send time plus each hop's wait, serialisation and latency.
  return {t, rt.latency, rt.ser[K], t - sent - rt.latency - rt.ser[K]};
}

TraverseResult Interconnect::traverse(NodeId from, NodeId to, Bytes payload, Picoseconds t) {
  if (from == to) return {t, Picoseconds(0), Picoseconds(0), Picoseconds(0)};
  const Route& rt = route(from, to);
  // Header-only and line messages take their hops' precomputed times.
  if (payload.value() == kCacheLineBytes && precomputed_[1]) [[likely]]
    return traverse_kind<1>(rt, t);
  if (payload.value() == 0 && precomputed_[0]) [[likely]]
    return traverse_kind<0>(rt, t);
  const Bytes bytes = payload + params_.header;
  Direction* const dirs = dirs_.data();
  const Hop* h = hops_.data() + rt.first;
  const Hop* const end = h + rt.count;
  // Sums in locals (stores to the result inside the loop could alias the counters).
  Picoseconds latency(0), serialisation(0), queueing(0);
  for (; h != end; ++h) {
    Direction& d = dirs[h->dir];
    const Picoseconds ser = transfer_time_of(layout_.links[h->link].bandwidth, bytes);
    const Picoseconds start = d.cal.earliest_slot(t, ser);
    d.cal.reserve(start, ser);
    ++d.stats.messages;
    d.stats.bytes += bytes.value();
    d.stats.busy_ps += ser.value();
    d.stats.queueing_ps += (start - t).value();
    queueing += start - t;
    serialisation += ser;
    latency += h->latency;
    t = start + ser + h->latency;
  }
  last_time_ = std::max(last_time_, t);
  return {t, latency, serialisation, queueing};
}

Interconnect::DirStats Interconnect::link_stats(int link, int dir) const {
  const auto li = static_cast<std::size_t>(link);
  const Direction& d = dirs_[li * 2 + static_cast<std::size_t>(dir)];
  DirStats s = d.stats;
  for (std::size_t kind = 0; kind < 2; ++kind) {
    const std::uint64_t m = d.kind_messages[kind];
    s.messages += m;
    s.bytes += m * (params_.header.value() + kind * kCacheLineBytes);
    s.busy_ps += m * link_ser_[li][kind].value();
  }
  return s;
}

Picoseconds Interconnect::idle_time(NodeId from, NodeId to, Bytes payload) const {
  Picoseconds t(0);
  if (from == to) return t;
  for (int li : layout_.path(from, to)) {
    const auto& link = layout_.links[static_cast<std::size_t>(li)];
    t += link.bandwidth.transfer_time(payload + params_.header) + link.latency + params_.hop_latency;
  }
  return t;
}

Picoseconds Interconnect::serialisation(NodeId from, NodeId to, Bytes payload) const {
  Picoseconds m(0);
  if (from == to) return m;
  for (int li : layout_.path(from, to))
    m = std::max(m, layout_.links[static_cast<std::size_t>(li)].bandwidth.transfer_time(payload + params_.header));
  return m;
}

void Interconnect::stream(NodeId from, NodeId to, Bytes payload, std::uint64_t count, Picoseconds first,
                          Picoseconds last) {
  if (from == to || count == 0) return;
  const Bytes bytes = payload + params_.header;
  Picoseconds t = last;
  const Route& rt = route(from, to);
  const Hop* const end = hops_.data() + rt.first + rt.count;
  for (const Hop* h = hops_.data() + rt.first; h != end; ++h) {
    Direction& d = dirs_[h->dir];
    const Picoseconds ser = layout_.links[h->link].bandwidth.transfer_time(bytes);
    const Picoseconds start = d.cal.earliest_slot(t, ser);
    d.cal.reserve(start, ser);
    d.stats.messages += count;
    d.stats.bytes += bytes.value() * count;
    d.stats.busy_ps += ser.value() * count;
    t = start + ser + h->latency;
  }
  last_time_ = std::max(last_time_, std::max(t, first));
}

void Interconnect::reset_stats(Picoseconds now) {
  for (Direction& d : dirs_) {
    d.stats = DirStats{};
    d.kind_messages = {};
  }
  stats_start_ = now;
  last_time_ = now;
}

void Interconnect::dump(StatsVisitor& v) const {
  const double span = static_cast<double>((last_time_ - stats_start_).value());
  for (std::size_t li = 0; li < layout_.links.size(); ++li) {
    const auto& link = layout_.links[li];
    for (int dir = 0; dir < 2; ++dir) {
      const NodeId src = dir == 0 ? link.a : link.b;
      const NodeId dst = dir == 0 ? link.b : link.a;
      const std::string n = "system.interconnect." + link.name + ".n" + std::to_string(src.value()) + "_to_n" +
                            std::to_string(dst.value());
      const DirStats s = link_stats(static_cast<int>(li), dir);
      v.counter(n + ".messages", s.messages, "count", "messages sent in this direction");
      v.counter(n + ".bytes", s.bytes, "bytes", "bytes sent in this direction (headers included)");
      v.counter(n + ".busy_ps", s.busy_ps, "ps", "time spent serialising messages");
      v.formula(n + ".utilisation", safe_ratio(static_cast<double>(s.busy_ps), span), "ratio",
                "busy time / time since the statistics were reset");
      v.formula(n + ".avg_queueing_ns", safe_ratio(static_cast<double>(s.queueing_ps), static_cast<double>(s.messages)) / 1000.0,
                "ns", "mean wait for the link direction to be free");
    }
  }
}

}  // namespace numasim::hw
