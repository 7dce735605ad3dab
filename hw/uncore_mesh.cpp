// The uncore's mesh or ring (see uncore_mesh.h): tile placement, hop counts and
// the latencies of the LLC, local-memory and remote paths; request trackers.
#include "hw/uncore_mesh.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

namespace {
std::vector<std::pair<std::uint32_t, std::uint32_t>> tiles_from(Config& c, std::string_view key,
                                                               std::vector<std::pair<std::uint32_t, std::uint32_t>> def,
                                                               std::string_view what) {
  std::vector<std::vector<std::int64_t>> d;
  for (const auto& [r, col] : def) d.push_back({r, col});
  const auto v = c.get<std::vector<std::vector<std::int64_t>>>(key, d, what);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const auto& t : v) {
    if (t.size() != 2 || t[0] < 0 || t[1] < 0) {
      c.error(key, "each tile is [row, column] with non-negative numbers");
      return def;
    }
    out.emplace_back(static_cast<std::uint32_t>(t[0]), static_cast<std::uint32_t>(t[1]));
  }
  return out;
}
}  // namespace

UncoreParams UncoreParams::from_config(Config c) {
  UncoreParams d;
  UncoreParams p;
  p.impl = c.get_choice("impl", d.impl, {"lumped", "mesh", "ring"},
                        "uncore model: lumped (LLC latency in core cycles, link latencies), mesh or ring of tiles");
  p.cols = c.get<unsigned>("cols", d.cols, "tiles per row (ring: stops = cols x rows)", {1u, 64u});
  p.rows = c.get<unsigned>("rows", d.rows, "rows of tiles", {1u, 64u});
  p.io_rows = c.get<unsigned>("io_rows", d.io_rows, "top rows of I/O tiles (no cores)", {0u, 63u});
  p.imc_tiles = tiles_from(c, "imc_tiles", d.imc_tiles, "[row, column] of each memory controller");
  p.upi_tiles = tiles_from(c, "upi_tiles", d.upi_tiles, "[row, column] of each UPI agent");
  p.clock = c.get<Frequency>("clock", d.clock, "uncore (mesh) clock",
                             {Frequency(100'000'000), Frequency(10'000'000'000ull)});
  p.hop_cycles = c.get<unsigned>("hop_cycles", d.hop_cycles, "uncore cycles per tile crossed", {0u, 100u});
  p.llc_cycles = c.get<unsigned>("llc_cycles", d.llc_cycles, "CHA LLC lookup, uncore cycles", {0u, 1000u});
  p.core_stop_cycles = c.get<unsigned>("core_stop_cycles", d.core_stop_cycles,
                                       "core's L2 miss onto the mesh and the fill back, uncore cycles", {0u, 1000u});
  p.home_cycles = c.get<unsigned>("home_cycles", d.home_cycles,
                                  "remote path: home CHA's tracker and directory step, uncore cycles", {0u, 10000u});
  p.upi_agent_cycles = c.get<unsigned>("upi_agent_cycles", d.upi_agent_cycles,
                                       "each crossing of a UPI agent (M3UPI), uncore cycles", {0u, 10000u});
  p.home_tracker = c.get<unsigned>("home_tracker", d.home_tracker, "requests a node's home agent tracks at once",
                                   {1u, 65536u});
  p.upi_credits = c.get<unsigned>("upi_credits", d.upi_credits,
                                  "requests a socket may have outstanding at remote home agents", {1u, 65536u});
  p.io_rows_bottom = c.get<unsigned>("io_rows_bottom", d.io_rows_bottom,
                                     "bottom rows of I/O tiles (no cores; mirrored dies)", {0u, 63u});
  p.die_cols = c.get<unsigned>("die_cols", d.die_cols, "tiles per die across (0: one die)", {0u, 64u});
  p.die_rows = c.get<unsigned>("die_rows", d.die_rows, "tiles per die down (0: one die)", {0u, 64u});
  p.die_crossing_cycles = c.get<unsigned>("die_crossing_cycles", d.die_crossing_cycles,
                                          "uncore cycles per die boundary crossed (EMIB), beyond the hop",
                                          {0u, 1000u});
  p.upi_route = c.get_choice("upi_route", d.upi_route, {"nearest", "address"},
                             "UPI agent of a remote request: nearest (shortest legs) or address (link interleaved by line address)");
  p.io_stack_cycles = c.get<unsigned>("io_stack_cycles", d.io_stack_cycles,
                                      "each crossing of the I/O stack between an I/O stop and the CXL root port of a "
                                      "node on it (io_tile), uncore cycles",
                                      {0u, 10000u});
  if (p.enabled()) {
    if (p.io_rows + p.io_rows_bottom >= p.rows)
      c.error(p.io_rows_bottom ? "io_rows_bottom" : "io_rows", "must leave at least one row of core tiles");
    if (p.die_cols > p.cols) c.error("die_cols", "a die cannot be wider than the mesh");
    if (p.die_rows > p.rows) c.error("die_rows", "a die cannot be taller than the mesh");
    if (p.impl == "ring" && (p.die_cols || p.die_rows)) c.error("die_cols", "dies are a property of a mesh, not a ring");
    if (p.imc_tiles.empty()) c.error("imc_tiles", "at least one memory controller tile is needed");
    if (p.upi_tiles.empty()) c.error("upi_tiles", "at least one UPI agent tile is needed");
    for (const auto& [r, col] : p.imc_tiles)
      if (r >= p.rows || col >= p.cols) c.error("imc_tiles", "tile outside the mesh");
    for (const auto& [r, col] : p.upi_tiles)
      if (r >= p.rows || col >= p.cols) c.error("upi_tiles", "tile outside the mesh");
  }
  return p;
}

std::vector<std::int32_t> UncoreParams::node_io_tiles(Config root) const {
  std::vector<std::int32_t> out;
  for (Config& node : root.tables("node", "a NUMA node: memory, its socket and its CPUs")) {
    out.push_back(-1);
    if (!node.has("io_tile")) continue;  // read only where given: a key of its own for the nodes on I/O stops
    const auto t = node.get<std::vector<std::int64_t>>(
        "io_tile", {}, "[row, column] of the mesh's I/O stop a CPU-less node (a CXL expander) is attached to");
    if (t.size() != 2 || t[0] < 0 || t[1] < 0) {
      node.error("io_tile", "expected [row, column] with non-negative numbers");
      continue;
    }
    std::string at = std::to_string(t[0]);  // "[row, column]", built in place (GCC 12 warns on "[" + ...)
    at.insert(0, 1, '[');
    at.append(", ").append(std::to_string(t[1])).append("]");
    if (!enabled()) {
      node.error("io_tile",
                 "needs the uncore model ([uncore] impl = \"mesh\" or \"ring\"): the lumped uncore has "
                 "no I/O stops (attach the node by a [[link]] instead)");
      continue;
    }
    if (t[0] >= static_cast<std::int64_t>(rows) || t[1] >= static_cast<std::int64_t>(cols)) {
      node.error("io_tile", "tile " + at + " lies outside the " + std::to_string(rows) + " x " + std::to_string(cols) +
                                " mesh ([uncore] rows x cols)");
      continue;
    }
    const auto r = static_cast<std::uint32_t>(t[0]), c = static_cast<std::uint32_t>(t[1]);
    if (r >= io_rows && r < rows - io_rows_bottom) {
      node.error("io_tile", "tile " + at + " is not on an I/O row (the top " + std::to_string(io_rows) +
                                " rows, [uncore] io_rows, and the bottom " + std::to_string(io_rows_bottom) +
                                ", io_rows_bottom): the rows between hold cores");
      continue;
    }
    const std::pair<std::uint32_t, std::uint32_t> rc{r, c};
    if (std::find(upi_tiles.begin(), upi_tiles.end(), rc) != upi_tiles.end() ||
        std::find(imc_tiles.begin(), imc_tiles.end(), rc) != imc_tiles.end()) {
      node.error("io_tile",
                 "tile " + at + " is a UPI agent's or a memory controller's ([uncore] upi_tiles, imc_tiles)");
      continue;
    }
    out.back() = static_cast<std::int32_t>(r * cols + c);
  }
  return out;
}

RequestTracker::RequestTracker(std::uint32_t entries, Picoseconds bucket, std::size_t buckets)
    : entries_(entries), bucket_ps_(bucket.value()), window_(buckets) {
  if (entries == 0 || bucket.value() == 0 || buckets < 2 || buckets > (std::size_t{1} << 40))
    throw std::invalid_argument("request tracker: entries, bucket and buckets must be positive (buckets at most 2^40)");
  // The calendar's buckets span at most (buckets + 62) / 64 + 1 blocks (its
  // ends partly inside theirs); a ring of at least one more, so a block's
  // slot is reused only after the whole block left the calendar.
  std::size_t ring = 2;
  while (ring < (buckets + 2 * kBlockBuckets) / kBlockBuckets + 1) ring <<= 1;
  blocks_.assign(ring, Block{});
  block_mask_ = ring - 1;
  diff_.assign(ring * kBlockBuckets, 0);
  diff_mask_ = diff_.size() - 1;
  bucket_ = FastDivider(bucket_ps_);
}

std::uint32_t RequestTracker::count(std::uint64_t b) const {
  const std::uint64_t first = b & ~(kBlockBuckets - 1);
  std::uint32_t c = block(b >> kBlockShift).start;
  for (std::uint64_t x = first + 1; x <= b; ++x) c += diff_[static_cast<std::size_t>(x & diff_mask_)];
  return c;
}

std::uint32_t RequestTracker::busy(Picoseconds t) const {
  const std::uint64_t b = bucket_.divide(t.value());
  if (b > head_ || b < oldest()) return 0;
  return count(b);
}

Picoseconds RequestTracker::available_slow(Picoseconds now, std::uint64_t b) const {
  // The first bucket from b on (within the calendar) with an entry free, or
  // the one after the calendar's latest.
  std::uint32_t c = count(b);
  while (c >= entries_) {
    if (++b > head_) break;
    if ((b & (kBlockBuckets - 1)) == 0) {
      const Block& k = block(b >> kBlockShift);
      if (k.touched < entries_) break;  // every bucket of this block has one
      c = k.start;
    } else {
      c += diff_[static_cast<std::size_t>(b & diff_mask_)];
    }
  }
  return std::max(now, Picoseconds(b * bucket_ps_));
}

void RequestTracker::enter_blocks(std::uint64_t last) {
  // Blocks the calendar enters, apart from those wholly before it then.
  const std::uint64_t oldest_then = last + 1 >= window_ ? last + 1 - window_ : 0;
  const std::uint64_t from = std::max((head_ >> kBlockShift) + 1, oldest_then >> kBlockShift);
  for (std::uint64_t n = from; n <= last >> kBlockShift; ++n) {
    block(n) = Block{};
    std::uint32_t* const d = diff_.data() + static_cast<std::size_t>((n << kBlockShift) & diff_mask_);
    std::fill(d, d + kBlockBuckets, 0u);
  }
}

void RequestTracker::take(Picoseconds now, Picoseconds start, Picoseconds done) {
  ++requests_;
  if (start > now) {
    ++waits_;
    wait_ps_ += (start - now).value();
  }
  std::uint64_t first = bucket_.divide(start.value());
  const std::uint64_t last = done > start ? bucket_.divide(done.value() - 1) : first;
  if (last > head_) {
    // The calendar moves on (on most requests; into a new block on a few).
    if ((last >> kBlockShift) != (head_ >> kBlockShift)) enter_blocks(last);
    head_ = last;
  }
  first = std::max(first, oldest());  // the buckets before the calendar are forgotten
  if (first > last) return;
  // +1 from `first`, -1 after `last` (none at a block's first bucket: there the
  // block's `start` counts the request); every block of the span touched.
  const std::uint64_t fb = first >> kBlockShift, lb = last >> kBlockShift;
  if ((first & (kBlockBuckets - 1)) != 0) ++diff(first);
  else ++block(fb).start;
  if (((last + 1) & (kBlockBuckets - 1)) != 0) --diff(last + 1);
  ++block(fb).touched;
  for (std::uint64_t n = fb + 1; n <= lb; ++n) {
    Block& k = block(n);
    ++k.start;
    ++k.touched;
  }
}

void RequestTracker::take_block(Picoseconds start, Picoseconds done, std::uint32_t held, std::uint64_t requests) {
  if (requests == 0) return;
  held = static_cast<std::uint32_t>(std::min<std::uint64_t>(held, requests));
  for (std::uint32_t i = 0; i < held; ++i) take(start, start, done);
  requests_ += requests - held;
}

UncoreMesh::UncoreMesh(const UncoreParams& p, std::uint32_t cores)
    : p_(p), address_routed_(p.address_routed_upi()), ring_(p.impl == "ring"), cores_(cores), tiles_(p.cols * p.rows) {
  if (p.cols > 255 || p.rows > 255) throw std::invalid_argument("uncore: more than 255 rows or columns");
  if (cores == 0) throw std::invalid_argument("uncore: a socket without cores");
  cycle_ = p.clock.to_time(Cycles(1));
  auto tile = [&](std::uint32_t r, std::uint32_t c) {
    if (r >= p.rows || c >= p.cols) throw std::invalid_argument("uncore: tile outside the mesh");
    return r * p.cols + c;
  };
  for (const auto& [r, c] : p.imc_tiles) imcs_.push_back(tile(r, c));
  for (const auto& [r, c] : p.upi_tiles) upis_.push_back(tile(r, c));
  if (imcs_.empty() || upis_.empty()) throw std::invalid_argument("uncore: IMC and UPI tiles are required");
  // Core tiles: every tile below the I/O rows that is not an IMC, row-major;
  // the active cores spread evenly over them (disabled cores leave holes).
  std::vector<std::uint32_t> free;
  if (p.io_rows + p.io_rows_bottom >= p.rows) throw std::invalid_argument("uncore: no row of core tiles");
  if ((p.die_cols || p.die_rows) && p.impl == "ring") throw std::invalid_argument("uncore: a ring has no dies");
  for (std::uint32_t r = p.io_rows; r < p.rows - p.io_rows_bottom; ++r)
    for (std::uint32_t c = 0; c < p.cols; ++c) {
      const std::uint32_t t = r * p.cols + c;
      if (std::find(imcs_.begin(), imcs_.end(), t) == imcs_.end() &&
          std::find(upis_.begin(), upis_.end(), t) == upis_.end())
        free.push_back(t);
    }
  if (free.size() < cores)
    throw std::invalid_argument("uncore: " + std::to_string(cores) + " cores do not fit the " +
                                std::to_string(free.size()) + " core tiles of the mesh");
  for (std::uint32_t i = 0; i < cores; ++i)
    core_tiles_.push_back(free[static_cast<std::size_t>(i) * free.size() / cores]);
  cores_div_ = FastDivider(cores);
  imcs_div_ = FastDivider(imcs_.size());
  upis_div_ = FastDivider(upis_.size());
  place_.resize(tiles_);
  for (std::uint32_t t = 0; t < tiles_; ++t) {
    Place& at = place_[t];
    at.row = static_cast<std::uint8_t>(t / p.cols);
    at.col = static_cast<std::uint8_t>(t % p.cols);
    at.die_row = static_cast<std::uint8_t>(p.die_rows ? at.row / p.die_rows : 0);
    at.die_col = static_cast<std::uint8_t>(p.die_cols ? at.col / p.die_cols : 0);
  }
  if (tiles_ <= kRouteTableTiles) {
    std::vector<std::uint32_t> route(static_cast<std::size_t>(tiles_) * tiles_);
    for (std::uint32_t a = 0; a < tiles_; ++a)
      for (std::uint32_t b = 0; b < tiles_; ++b)
        route[static_cast<std::size_t>(a) * tiles_ + b] = computed_route_cycles(a, b);
    route_ = std::move(route);
  }
  nearest_upi_.resize(tiles_);
  for (std::uint32_t t = 0; t < tiles_; ++t) {
    std::uint32_t best = upis_[0];
    for (const std::uint32_t u : upis_)
      if (route_cycles(t, u) < route_cycles(t, best)) best = u;
    nearest_upi_[t] = best;
  }
}

Picoseconds UncoreMesh::llc_hit(std::uint32_t core, PhysAddr pa) const {
  const std::uint32_t ct = tile_of_core(core), st = core_tiles_[slice_of(pa)];
  return cycles(p_.core_stop_cycles + p_.llc_cycles + 2 * route_cycles(ct, st));
}

Picoseconds UncoreMesh::to_upi(std::uint32_t core, PhysAddr pa) const {
  const std::uint32_t ct = tile_of_core(core), st = core_tiles_[slice_of(pa)];
  return cycles(p_.llc_cycles + p_.upi_agent_cycles + route_cycles(ct, st) + route_cycles(st, upi_for(st, pa)));
}

Picoseconds UncoreMesh::home_to_imc(PhysAddr pa) const {
  const std::uint32_t st = core_tiles_[slice_of(pa)];
  return cycles(p_.upi_agent_cycles + p_.home_cycles + route_cycles(upi_for(st, pa), st) +
                route_cycles(st, imcs_[imc_of(pa)]));
}

Picoseconds UncoreMesh::imc_to_upi(PhysAddr pa) const {
  const std::uint32_t it = imcs_[imc_of(pa)];
  return cycles(p_.upi_agent_cycles + route_cycles(it, upi_for(it, pa)));
}

Picoseconds UncoreMesh::upi_to_core(std::uint32_t core) const {
  const std::uint32_t ct = tile_of_core(core);
  return cycles(p_.upi_agent_cycles + p_.core_stop_cycles + route_cycles(nearest_upi(ct), ct));
}

Picoseconds UncoreMesh::upi_to_core(std::uint32_t core, PhysAddr pa) const {
  const std::uint32_t ct = tile_of_core(core);
  return cycles(p_.upi_agent_cycles + p_.core_stop_cycles + route_cycles(upi_for(ct, pa), ct));
}

Picoseconds UncoreMesh::remote_crossings(std::uint32_t core) const {
  const std::uint32_t ct = tile_of_core(core);
  return cycles(4 * p_.upi_agent_cycles + p_.home_cycles + 2 * route_cycles(ct, nearest_upi(ct)));
}

Picoseconds UncoreMesh::home_grant(PhysAddr pa) const {
  const std::uint32_t st = core_tiles_[slice_of(pa)];
  return cycles(2 * p_.upi_agent_cycles + p_.home_cycles + 2 * hops(upi_for(st, pa), st) * p_.hop_cycles);
}

Picoseconds UncoreMesh::to_io(std::uint32_t core, PhysAddr pa, std::uint32_t io) const {
  const std::uint32_t ct = tile_of_core(core), st = core_tiles_[slice_of(pa)];
  return cycles(p_.llc_cycles + route_cycles(ct, st) + route_cycles(st, io) + p_.io_stack_cycles);
}

Picoseconds UncoreMesh::from_io(std::uint32_t core, std::uint32_t io) const {
  return cycles(p_.io_stack_cycles + route_cycles(io, tile_of_core(core)) + p_.core_stop_cycles);
}

Picoseconds UncoreMesh::home_to_io(PhysAddr pa, std::uint32_t io) const {
  const std::uint32_t st = core_tiles_[slice_of(pa)];
  return cycles(p_.upi_agent_cycles + p_.home_cycles + route_cycles(upi_for(st, pa), st) + route_cycles(st, io) +
                p_.io_stack_cycles);
}

Picoseconds UncoreMesh::io_to_upi(PhysAddr pa, std::uint32_t io) const {
  return cycles(p_.io_stack_cycles + route_cycles(io, upi_for(io, pa)) + p_.upi_agent_cycles);
}

Picoseconds UncoreMesh::mean_llc_hit() const {
  std::uint64_t sum = 0;
  for (std::uint32_t c = 0; c < cores_; ++c)
    for (std::uint32_t s = 0; s < cores_; ++s) sum += route_cycles(core_tiles_[c], core_tiles_[s]);
  const std::uint64_t n = static_cast<std::uint64_t>(cores_) * cores_;
  return cycles(p_.core_stop_cycles + p_.llc_cycles) +
         Picoseconds((2 * sum * cycle_.value() + n / 2) / n);
}

}  // namespace numasim::hw
