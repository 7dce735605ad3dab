// The uncore of one socket as components (issue 16, item 3): a mesh (Skylake-SP
// and later Xeons) or a ring (earlier Xeons) of tiles at the uncore clock; each
// core tile holds a core and its LLC slice with the slice's caching/home agent
// (CHA); memory-controller (IMC) tiles and UPI tiles sit at fixed positions.
// A line's CHA is chosen by a hash of its physical address over the socket's
// active slices (Intel's undocumented slice hash, here a multiplicative hash:
// uniform over the slices), its IMC by the address too (channels interleave
// over both IMCs). Latencies follow from hop counts (Manhattan distance on the
// mesh, the shorter way round a ring) times `hop_cycles`, plus the CHA's LLC
// lookup (`llc_cycles`), the core's own mesh stop (`core_stop_cycles`, L2 miss
// to the mesh and the data back into L2) and, on the remote path, the home CHA's
// directory/home-agent step (`home_cycles`) and the UPI agent's (M3UPI) crossing
// (`upi_agent_cycles`), all in uncore cycles.
// Outstanding requests: the home agent of each node tracks every request it
// serves (`home_tracker` entries, local and remote) and a socket's UPI agent
// may have at most `upi_credits` requests outstanding at remote homes (its
// request credits); a request that finds none free waits for the first to free
// (RequestTracker: the same structure as the core's super queue).
// Simplifications: no mesh link contention (only the hop latency); every
// request is routed through one CHA (no direct-to-core bypass of the home);
// the home agent's directory is a fixed lookup step (the directory bits come
// with the memory read on Skylake-SP: no separate directory memory access and
// no directory write-back on a remote read); a ring is one bidirectional ring.
// Multi-die sockets (Sapphire Rapids' four dies joined by EMIB): the mesh is cut
// into dies of `die_cols` x `die_rows` tiles; a route between tiles of different
// dies crosses one die boundary per die column and per die row between them
// (X-Y routing), each crossing `die_crossing_cycles` beyond its hop; I/O rows
// may sit at the bottom of the mesh too (`io_rows_bottom`: mirrored dies).
// I/O stops (CXLIO): a CPU-less node on an I/O stop of its socket's mesh
// ([[node]] io_tile = [row, column], a tile of an I/O row: a CXL expander on
// the root port of that stop's I/O stack) is reached like the socket's DRAM:
// core -> slice (LLC lookup; the CHA is the line's home and tracks the read
// with the socket's DRAM reads, in the socket's home tracker: Intel's Emerald
// Rapids uncore events count core reads of CXL expander memory in the CHA's
// TOR, UNC_CHA_TOR_INSERTS.IA_MISS_DRD_CXL_EXP_LOCAL, Linux perf's
// emeraldrapids/uncore-cache.json) -> the I/O stop -> the I/O stack (IIO and
// its mesh interface up to the CXL root port, `io_stack_cycles` each way) ->
// the device (hw/cxl_memory_device.h: root port's CXL port, flits, link,
// device) -> the stack -> the I/O stop -> the core (into L2, as from an IMC).
// Simplification: the I/O stack has no queue of its own (the device's link
// bounds an expander long before an x16 stack would).
// UPI link per line (`upi_route = "address"`, added for SPRFID): a socket pair
// joined by several links spreads its lines over all of them, so a remote
// request leaves by the agent of its line's link, wherever the slice is, and
// the home receives it, sends the data back and the requester takes it in at
// that link's agents; the default ("nearest") takes the agent nearest each leg.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/fast_divider.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

struct UncoreParams {
  // "lumped": no uncore model (the LLC latency of [cache.llc] in core cycles and
  // the link latencies of [[link]] say everything); "mesh" or "ring".
  std::string impl = "lumped";
  std::uint32_t cols = 6, rows = 6;    // mesh size in tiles (ring: stops = cols * rows)
  std::uint32_t io_rows = 1;           // top rows without cores (PCIe, UPI)
  // Positions (row, col) of the memory controllers and of the UPI agents.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> imc_tiles{{3, 0}, {3, 5}};
  std::vector<std::pair<std::uint32_t, std::uint32_t>> upi_tiles{{0, 1}, {0, 2}, {0, 4}};
  Frequency clock = Frequency(2'400'000'000);  // uncore (mesh, CHA) clock
  std::uint32_t hop_cycles = 1;        // per tile crossed
  std::uint32_t llc_cycles = 40;       // CHA: LLC slice lookup (tag and data), hit or miss
  std::uint32_t core_stop_cycles = 6;  // core's L2 miss onto the mesh and the fill back
  std::uint32_t home_cycles = 20;      // remote path: the home CHA's tracker, directory and ordering
  std::uint32_t upi_agent_cycles = 10; // each crossing of a socket's UPI agent (M3UPI), either way
  std::uint32_t home_tracker = 128;    // requests a node's home agent tracks at once
  std::uint32_t upi_credits = 128;     // requests a socket may have outstanding at remote homes
  std::uint32_t io_rows_bottom = 0;    // bottom rows without cores (the I/O of mirrored lower dies)
  // Dies: tiles per die across and down (0: the whole mesh is one die) and the
  // uncore cycles a route spends crossing one die boundary (EMIB), beyond its hop.
  std::uint32_t die_cols = 0, die_rows = 0;
  std::uint32_t die_crossing_cycles = 0;
  // Which UPI agent a remote request leaves by and its response comes back
  // through: "nearest" (the agent nearest the slice, at the home the agent
  // nearest the home slice, for the data the agent nearest the IMC and at the
  // requester the one nearest the core: every leg takes the shortest way) or
  // "address" (the link is chosen by the line's address, interleaving a socket
  // pair's traffic over all their links: request and response cross the same
  // link, which joins agent k of one socket to agent k of the other, so every
  // leg goes to or from that agent's tile, on whichever die it sits).
  std::string upi_route = "nearest";
  // Each crossing of the I/O stack between an I/O stop and the CXL root port of
  // a node on that stop (io_tile), either way.
  std::uint32_t io_stack_cycles = 10;

  bool address_routed_upi() const { return upi_route == "address"; }
  bool enabled() const { return impl != "lumped"; }
  // The [uncore] table.
  static UncoreParams from_config(Config c);
  // [[node]] io_tile of every node of `root`, checked against this uncore: by
  // node id the tile's index (row * cols + column), -1 for a node without one.
  std::vector<std::int32_t> node_io_tiles(Config root) const;
};

// Outstanding requests of many cores bounded by a number of entries (a home
// agent's tracker, a UPI agent's request credits). Cores reach it out of time
// order (temporal decoupling), so it keeps an occupancy calendar rather than a
// list of holders: time in buckets of `bucket` ps, each counting the requests
// that hold an entry during it; a request starts in the first bucket at or
// after its arrival with an entry free, and holds one in every bucket until it
// completes. The calendar covers the latest `buckets` buckets (earlier
// requests are not held back: they are older than anything it remembers).
// Host representation (no simulated effect): the counts are kept as
// differences in blocks of 64 buckets (+1 where a request starts, -1 after it
// ends, and per block the count at its first bucket and the requests that
// touch it), so a request writes a few words, not one count per bucket it
// holds (tens: a DRAM read's latency is 40 or more 2 ns buckets); a block
// touched by fewer requests than there are entries has an entry free in
// every bucket, which available() sees from the block alone, and only a
// block that may be full has its counts summed. Fixed storage, no allocation
// after construction; the ring of blocks is a power of two above the blocks
// the window spans, so the default 8192 buckets take 256 blocks (64 KiB
// of differences, twice the plain counts' 32 KiB).
class RequestTracker {
 public:
  explicit RequestTracker(std::uint32_t entries = 1, Picoseconds bucket = Picoseconds(2000),
                          std::size_t buckets = 8192);
  // When a request arriving at `now` gets an entry.
  Picoseconds available(Picoseconds now) const {
    const std::uint64_t b = bucket_.divide(now.value());
    // Older than the calendar, after its latest bucket (nothing held), or in
    // a block with an entry free throughout: at once.
    if (b < oldest() || b > head_ || block(b >> kBlockShift).touched < entries_) [[likely]]
      return now;
    return available_slow(now, b);
  }
  // The request holds an entry from `start` (available(now)) until `done`.
  void take(Picoseconds now, Picoseconds start, Picoseconds done);
  std::uint32_t entries() const { return entries_; }
  // Requests holding an entry during the bucket of `t` (0 outside the calendar).
  std::uint32_t busy(Picoseconds t) const;
  std::uint64_t requests() const { return requests_; }
  std::uint64_t waits() const { return waits_; }
  std::uint64_t wait_ps() const { return wait_ps_; }
  void reset_stats() { requests_ = waits_ = wait_ps_ = 0; }
  // A block of `requests` requests of which at most `held` are outstanding at
  // once, together from `start` to `done` (a bulk stream with a bounded window;
  // added for the UNCORE helper): `held` entries taken over the span, counted
  // as `requests` requests that did not wait.
  void take_block(Picoseconds start, Picoseconds done, std::uint32_t held, std::uint64_t requests);

 private:
  static constexpr unsigned kBlockShift = 6;
  static constexpr std::uint64_t kBlockBuckets = std::uint64_t{1} << kBlockShift;
  struct Block {
    std::uint32_t start = 0;    // requests holding an entry in the block's first bucket
    std::uint32_t touched = 0;  // requests holding one in any of its buckets (no bucket counts more)
  };
  std::uint64_t oldest() const { return head_ + 1 >= window_ ? head_ + 1 - window_ : 0; }
  // Block n's record and bucket b's difference (+1 per request starting in
  // b, -1 per request ending in b - 1; a block's first bucket keeps none:
  // its count is the block's `start`), in rings of blocks that hold every
  // block from oldest()'s to head_'s (a block's slot is reused only once
  // the block lies wholly before the calendar).
  const Block& block(std::uint64_t n) const { return blocks_[static_cast<std::size_t>(n & block_mask_)]; }
  Block& block(std::uint64_t n) { return blocks_[static_cast<std::size_t>(n & block_mask_)]; }
  std::uint32_t& diff(std::uint64_t b) { return diff_[static_cast<std::size_t>(b & diff_mask_)]; }
  // The requests holding an entry in bucket b (oldest() <= b <= head_).
  std::uint32_t count(std::uint64_t b) const;
  // available(now) when bucket b's block may have a full bucket.
  Picoseconds available_slow(Picoseconds now, std::uint64_t b) const;
  // The calendar moves on to `last` in a later block than head_'s: the blocks it enters start empty.
  void enter_blocks(std::uint64_t last);
  std::uint32_t entries_;
  std::uint64_t bucket_ps_;
  // Bucket of a time without a hardware division (two per request).
  FastDivider bucket_;
  std::uint64_t window_;  // buckets the calendar covers
  std::vector<Block> blocks_;
  std::uint64_t block_mask_;          // blocks_.size() - 1 (a power of two)
  std::vector<std::uint32_t> diff_;   // kBlockBuckets per block, modulo 2^32 (a -1 is 2^32 - 1)
  std::uint64_t diff_mask_;           // diff_.size() - 1
  std::uint64_t head_ = 0;            // latest bucket the calendar covers
  std::uint64_t requests_ = 0, waits_ = 0, wait_ps_ = 0;
};

// Hop geometry and latencies of one socket's uncore (every socket alike).
class UncoreMesh {
 public:
  // `cores` active cores (and LLC slices) per socket. Throws std::invalid_argument
  // when the tiles do not fit the mesh or there are fewer core tiles than cores.
  UncoreMesh(const UncoreParams& p, std::uint32_t cores);

  // (Each `%` below is a FastDivider's: a hardware division per call was most
  // of these functions' host time on every L2 miss.)
  std::uint32_t slice_of(PhysAddr pa) const { return mod(((pa >> 6) * 0x9E3779B97F4A7C15ull) >> 32, cores_div_); }
  std::uint32_t imc_of(PhysAddr pa) const { return mod((pa >> 8) ^ (pa >> 13), imcs_div_); }
  // The UPI agent (link) line `pa` crosses with upi_route = "address": a hash of
  // the line address independent of the slice hash (the selection Intel uses is
  // not published; this spreads lines uniformly over the links).
  std::uint32_t upi_of(PhysAddr pa) const { return mod(((pa >> 6) * 0xC2B2AE3D27D4EB4Full) >> 40, upis_div_); }
  // Hops between tiles (indices into tiles()).
  std::uint32_t hops(std::uint32_t a, std::uint32_t b) const {
    if (ring_) {
      const std::uint32_t d = a > b ? a - b : b - a;
      return d < tiles_ - d ? d : tiles_ - d;
    }
    return distance(place_[a].row, place_[b].row) + distance(place_[a].col, place_[b].col);
  }
  // Die boundaries crossed between tiles a and b (0 on a one-die mesh or a ring).
  std::uint32_t crossings(std::uint32_t a, std::uint32_t b) const {
    return distance(place_[a].die_row, place_[b].die_row) + distance(place_[a].die_col, place_[b].die_col);
  }
  // Uncore cycles of the route a -> b: hops x hop_cycles + crossings x die_crossing_cycles.
  std::uint32_t route_cycles(std::uint32_t a, std::uint32_t b) const {
    if (!route_.empty()) [[likely]]
      return route_[static_cast<std::size_t>(a) * tiles_ + b];
    return computed_route_cycles(a, b);
  }
  // Tiles of core i (its slice too), IMC j, UPI agent k.
  std::uint32_t core_tile(std::uint32_t i) const { return core_tiles_[i]; }
  std::uint32_t imc_tile(std::uint32_t j) const { return imcs_[j]; }
  std::uint32_t upi_tile(std::uint32_t k) const { return upis_[k]; }
  std::uint32_t upi_agents() const { return static_cast<std::uint32_t>(upis_.size()); }

  // Core `core` (its index in its socket) reading line `pa`:
  // an LLC hit (core -> slice, lookup, slice -> core),
  Picoseconds llc_hit(std::uint32_t core, PhysAddr pa) const;
  // a local DRAM read: `to` its local IMC after an LLC miss (core -> slice,
  // lookup, slice -> IMC) and `back` the data from the IMC to the core (IMC ->
  // core, into L2); the core's tile, the line's slice and its IMC found once
  // for both legs (on every such L2 miss and prefetch).
  struct Legs {
    Picoseconds to, back;
  };
  Legs local_imc_legs(std::uint32_t core, PhysAddr pa) const {
    const std::uint32_t ct = tile_of_core(core), st = core_tiles_[slice_of(pa)], it = imcs_[imc_of(pa)];
    return {cycles(p_.llc_cycles + route_cycles(ct, st) + route_cycles(st, it)),
            cycles(p_.core_stop_cycles + route_cycles(it, ct))};
  }
  // Remote: core -> slice (miss) -> nearest UPI agent, leaving the socket;
  Picoseconds to_upi(std::uint32_t core, PhysAddr pa) const;
  // at the home socket: UPI agent -> home slice (tracker, directory) -> IMC;
  Picoseconds home_to_imc(PhysAddr pa) const;
  // the data IMC -> UPI agent at the home, then UPI agent -> core at the requester.
  Picoseconds imc_to_upi(PhysAddr pa) const;
  Picoseconds upi_to_core(std::uint32_t core) const;
  // The same for the response of line `pa` (with upi_route = "address" it
  // arrives at the agent of the line's link; "nearest": as upi_to_core(core)).
  Picoseconds upi_to_core(std::uint32_t core, PhysAddr pa) const;
  // A cross-socket snoop's uncore part beyond the links: four UPI agent
  // crossings, the remote CHA's step and the hops between the core and its UPI agent.
  Picoseconds remote_crossings(std::uint32_t core) const;
  // A node on I/O stop `io` (a tile index, [[node]] io_tile): core -> slice
  // (lookup, miss) -> the I/O stop -> through the I/O stack to the root port,
  Picoseconds to_io(std::uint32_t core, PhysAddr pa, std::uint32_t io) const;
  // and the data back: the I/O stack -> the I/O stop -> the core (into L2).
  Picoseconds from_io(std::uint32_t core, std::uint32_t io) const;
  // The same from another socket: at the home socket UPI agent -> home slice
  // (tracker, directory) -> I/O stop -> I/O stack; the data I/O stack -> I/O stop -> UPI agent.
  Picoseconds home_to_io(PhysAddr pa, std::uint32_t io) const;
  Picoseconds io_to_upi(PhysAddr pa, std::uint32_t io) const;
  // Mean of llc_hit over every core and slice (what the LLC costs on average).
  Picoseconds mean_llc_hit() const;
  // Ownership without data at the home (a string store's InvItoE from the other
  // socket, added for the UNCORE helper): UPI agent -> home slice (tracker,
  // directory step) -> UPI agent, the two agent crossings included.
  Picoseconds home_grant(PhysAddr pa) const;
  // One crossing of a UPI agent (M3UPI), without hops.
  Picoseconds upi_agent() const { return cycles(p_.upi_agent_cycles); }

  const UncoreParams& params() const { return p_; }

 private:
  // A tile's row and column, and its die's row and column (0 on a one-die mesh
  // or a ring), computed once: hops() and crossings() run a few times on every
  // L2 miss, and dividing tile indices there (and comparing p_.impl with
  // "ring") cost more than the rest of the latency arithmetic.
  struct Place {
    std::uint8_t row = 0, col = 0, die_row = 0, die_col = 0;
  };
  static std::uint32_t distance(std::uint32_t x, std::uint32_t y) { return x > y ? x - y : y - x; }
  static std::uint32_t mod(std::uint64_t x, const FastDivider& d) {
    return static_cast<std::uint32_t>(d.remainder(x, d.divide(x)));
  }
  // The UPI agent nearest `tile` (the first of equally near ones), from a table filled at construction.
  std::uint32_t nearest_upi(std::uint32_t tile) const { return nearest_upi_[tile]; }
  // The UPI agent tile a leg of line `pa` uses at `tile`: the line's link's
  // agent (upi_route = "address") or the agent nearest `tile`.
  std::uint32_t upi_for(std::uint32_t tile, PhysAddr pa) const {
    return address_routed_ ? upis_[upi_of(pa)] : nearest_upi(tile);
  }
  // Core `core`'s tile (`core` taken modulo the socket's cores; the memory
  // system's core indices are below cores_, which a compare tells).
  std::uint32_t tile_of_core(std::uint32_t core) const {
    return core_tiles_[core < cores_ ? core : mod(core, cores_div_)];
  }
  Picoseconds cycles(std::uint32_t n) const { return cycle_ * n; }
  std::uint32_t computed_route_cycles(std::uint32_t a, std::uint32_t b) const {
    return hops(a, b) * p_.hop_cycles + crossings(a, b) * p_.die_crossing_cycles;
  }
  // route_ is kept for meshes of at most this many tiles (a 64 KiB table;
  // Skylake-SP's 6 x 6 is 5 KiB); larger ones compute each route.
  static constexpr std::uint32_t kRouteTableTiles = 128;

  UncoreParams p_;
  bool address_routed_ = false;  // p_.address_routed_upi(), read once (upi_for is on every remote miss)
  bool ring_ = false;            // p_.impl == "ring", read once
  std::uint32_t cores_;
  std::uint32_t tiles_;  // cols x rows
  FastDivider cores_div_, imcs_div_, upis_div_;
  Picoseconds cycle_{0};
  std::vector<std::uint32_t> core_tiles_, imcs_, upis_;  // tile indices (row * cols + col)
  std::vector<Place> place_;               // by tile
  std::vector<std::uint32_t> nearest_upi_;  // by tile
  // route_cycles(a, b) at [a * tiles_ + b], computed once: an L2 miss to DRAM
  // takes three routes, and each computed one (four places' rows, columns
  // and dies compared) was about 25 host instructions.
  std::vector<std::uint32_t> route_;
};

}  // namespace numasim::hw
