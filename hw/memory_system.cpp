// The memory-system facade (see memory_system.h): construction from the
// topology, the miss path through LLC, interconnect and memory devices,
// posted write-backs, kernel range traffic with bounded overlap, and statistics.
#include "hw/memory_system.h"

#include "common/trace.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/config.h"
#include "common/topology.h"

namespace numasim::hw {

MemorySystemParams MemorySystemParams::from_config(Config root) {
  MemorySystemParams p;
  p.caches = CacheHierarchyParams::from_config(root);
  p.dram = DramParams::from_config(root.table("dram", "DRAM timing and organisation of every node's memory"));
  p.node_devices = memory_devices_from_config(root, p.dram);
  p.interconnect =
      InterconnectParams::from_config(root.table("interconnect", "message format and router latency of the links"));
  p.uncore = UncoreParams::from_config(root.table("uncore", "the sockets' uncore: mesh or ring, LLC slices, home agents, UPI agents"));
  p.node_io_tiles = p.uncore.node_io_tiles(root);
  p.l2_prefetch = StreamPrefetcherParams::from_config(
      root.table("prefetch", "hardware prefetchers of every core")
          .table("l2_streamer", "L2 streamer: runs ahead of line streams within a 4 KiB page (Intel L2 hardware prefetcher)"));
  Config coh = root.table("coherence", "MESI coherence of the private caches and the sockets' LLCs");
  p.same_socket_snoop = coh.get<Picoseconds>("same_socket_snoop", p.same_socket_snoop,
                                             "snoop of another core of the socket and its data, after the LLC lookup",
                                             {Picoseconds(0), Picoseconds(10'000'000)});
  p.remote_snoop = coh.get<Picoseconds>("remote_snoop", p.remote_snoop,
                                        "remote socket's caching agent and owner core, between the link crossings",
                                        {Picoseconds(0), Picoseconds(10'000'000)});
  return p;
}

MemoryLayout MemoryLayout::from_topology(const Topology& topo) {
  MemoryLayout l;
  for (const NodeDesc& n : topo.nodes()) l.nodes.push_back({n.id, n.socket, n.base, n.memory, n.cpus});
  l.num_sockets = topo.num_sockets();
  l.interconnect = InterconnectLayout::from_topology(topo);
  return l;
}

namespace {

std::vector<int> cpu_sockets(const MemoryLayout& l) {
  std::vector<int> out;
  for (const auto& n : l.nodes) {
    for (CpuId c : n.cpus) {
      const auto i = static_cast<std::size_t>(c.value());
      if (c.value() < 0) throw std::invalid_argument("memory system: negative cpu id");
      if (out.size() <= i) out.resize(i + 1, -1);
      if (n.socket < 0)
        throw std::invalid_argument("memory system: node " + std::to_string(n.id.value()) +
                                    " has CPUs but no socket");
      out[i] = n.socket;
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i] < 0) throw std::invalid_argument("memory system: cpu " + std::to_string(i) + " belongs to no node");
  return out;
}

[[noreturn]] void die_unmapped(PhysAddr pa) {
  std::fprintf(stderr, "numasim: internal error: access to physical address 0x%" PRIx64
                       " which lies in no node's memory\n",
               pa);
  std::abort();
}

}  // namespace

MemorySystem::MemorySystem(const Topology& topo, const MemorySystemParams& params)
    : MemorySystem(MemoryLayout::from_topology(topo), params) {}

MemorySystem::MemorySystem(MemoryLayout layout, const MemorySystemParams& params)
    : layout_(std::move(layout)),
      params_(params),
      caches_(params.caches, cpu_sockets(layout_), layout_.num_sockets, params.core_clock),
      interconnect_(layout_.interconnect, params.interconnect) {
  if (layout_.interconnect.num_nodes != static_cast<int>(layout_.nodes.size()))
    throw std::invalid_argument("memory system: interconnect layout and node list disagree on the node count");
  cpu_node_.assign(static_cast<std::size_t>(caches_.num_cpus()), NodeId(-1));
  memory_.resize(layout_.nodes.size());
  node_range_.assign(layout_.nodes.size(), {0, 0});
  for (std::size_t i = 0; i < layout_.nodes.size(); ++i) {
    const auto& n = layout_.nodes[i];
    if (n.id.value() != static_cast<int>(i))
      throw std::invalid_argument("memory system: nodes must be listed in id order");
    for (CpuId c : n.cpus) cpu_node_[static_cast<std::size_t>(c.value())] = n.id;
    if (n.memory.value() > 0) {
      const MemoryDeviceSite site{n.id, n.base, "system.node" + std::to_string(i)};
      NodeMemory& m = memory_[i];
      if (i < params.node_devices.size() && params.node_devices[i].make)
        m.device = params.node_devices[i].make(site);
      else
        m.device = std::make_unique<DramController>(params.dram, n.base, site.node_name + ".mc");
      m.dram = dynamic_cast<DramController*>(m.device.get());
      node_range_[i] = {n.base, n.base + n.memory.value()};
    }
  }
  // A node whose range no lower node's overlaps: its lines' home is it exactly
  // when they lie in its range (home_node takes the first match).
  node_range_alone_.assign(node_range_.size(), 1);
  for (std::size_t i = 0; i < node_range_.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (node_range_[j].first < node_range_[i].second && node_range_[i].first < node_range_[j].second)
        node_range_alone_[i] = 0;
  own_range_.assign(node_range_.size(), OwnRange{});
  for (std::size_t i = 0; i < node_range_.size(); ++i)
    if (node_range_alone_[i]) own_range_[i] = {node_range_[i].first, node_range_[i].second - node_range_[i].first};
  l1_latency_ = caches_.hit_latency(1);
  socket_node_.assign(static_cast<std::size_t>(std::max(layout_.num_sockets, 0)), NodeId(-1));
  auto on_io_stop = [&](NodeId n) {
    const auto i = static_cast<std::size_t>(n.value());
    return i < params.node_io_tiles.size() && params.node_io_tiles[i] >= 0;
  };
  for (const auto& n : layout_.nodes)
    if (n.socket >= 0 && n.socket < layout_.num_sockets && !on_io_stop(n.id) &&
        socket_node_[static_cast<std::size_t>(n.socket)].value() < 0)
      socket_node_[static_cast<std::size_t>(n.socket)] = n.id;
  PhysAddr mem_end = 0;
  for (const auto& r : node_range_) mem_end = std::max(mem_end, r.second);
  // Cache tags are 32-bit line quotients (cache.h): memory that ends beyond
  // what an array can tag is a configuration error, said once here instead of
  // checked on every access.
  if (caches_.num_cpus() > 0) {
    for (const CacheArray* a : {&caches_.l1d(CpuId(0)), &caches_.l2(CpuId(0)), &caches_.llc(0)}) {
      if (mem_end > a->tag_reach())
        throw std::invalid_argument("memory system: physical memory ends at " + std::to_string(mem_end >> 30) +
                                    " GiB, but cache " + a->name() + " (" + std::to_string(a->sets()) +
                                    " sets) can tag lines only below " + std::to_string(a->tag_reach() >> 30) +
                                    " GiB: give it more sets (size / ways / 64 B) or the machine less memory");
    }
  }
  caches_.count_regions(mem_end);
  private_regions_.assign(static_cast<std::size_t>((mem_end >> CacheHierarchy::kRegionShift) + 1), 0);
  if (params.caches.deferred_clear_residue && caches_.num_cpus() > 0) {
    ClearResidue::Shape shape;
    shape.cpu_socket = cpu_sockets(layout_);
    shape.sockets = std::max(layout_.num_sockets, 1);
    shape.l1_pages = params.caches.l1d.size.value() / kPageSize;
    shape.l2_pages = params.caches.l2.size.value() / kPageSize;
    shape.llc_pages = params.caches.llc.size.value() / kPageSize;
    shape.mem_end = mem_end;
    residue_ = std::make_unique<ClearResidue>(shape);
    caches_.defer_clear_residue(mem_end);
  }
  if (params.l2_prefetch.enabled)
    prefetchers_.assign(static_cast<std::size_t>(caches_.num_cpus()), StreamPrefetcher(params.l2_prefetch));
  super_queues_.assign(static_cast<std::size_t>(caches_.num_cpus()), SuperQueue(params.super_queue));
  if (params.uncore.enabled()) {
    // Every socket alike: its cores in the order the nodes list them.
    const auto ncpu = static_cast<std::size_t>(caches_.num_cpus());
    core_index_.assign(ncpu, 0);
    cpu_socket_ = cpu_sockets(layout_);
    std::vector<std::uint32_t> per_socket(static_cast<std::size_t>(std::max(layout_.num_sockets, 1)), 0);
    node_socket_.assign(layout_.nodes.size(), -1);
    for (const auto& n : layout_.nodes) {
      node_socket_[static_cast<std::size_t>(n.id.value())] = n.socket;
      for (CpuId c : n.cpus)
        core_index_[static_cast<std::size_t>(c.value())] = per_socket[static_cast<std::size_t>(n.socket)]++;
    }
    const std::uint32_t cores = *std::max_element(per_socket.begin(), per_socket.end());
    mesh_ = std::make_unique<UncoreMesh>(params.uncore, std::max<std::uint32_t>(cores, 1));
    home_trackers_.assign(layout_.nodes.size(), RequestTracker(params.uncore.home_tracker));
    upi_trackers_.assign(per_socket.size(), RequestTracker(params.uncore.upi_credits));
    node_io_tile_.assign(layout_.nodes.size(), -1);
  }
  for (const auto& n : layout_.nodes) {
    if (!on_io_stop(n.id)) continue;
    if (!mesh_ || n.socket < 0 || !n.cpus.empty() || socket_node_[static_cast<std::size_t>(n.socket)].value() < 0)
      throw std::invalid_argument("memory system: node " + std::to_string(n.id.value()) +
                                  " on an I/O stop: it needs the uncore model, no CPUs of its own and a socket with CPUs");
    node_io_tile_[static_cast<std::size_t>(n.id.value())] =
        params.node_io_tiles[static_cast<std::size_t>(n.id.value())];
  }
}

MemorySystem::~MemorySystem() = default;

NodeId MemorySystem::home_node(PhysAddr pa) const {
  for (std::size_t i = 0; i < node_range_.size(); ++i)
    if (pa >= node_range_[i].first && pa < node_range_[i].second) return NodeId(static_cast<int>(i));
  return NodeId(-1);
}

bool MemorySystem::has_controller(NodeId node) const {
  return node.value() >= 0 && static_cast<std::size_t>(node.value()) < memory_.size() &&
         memory_[static_cast<std::size_t>(node.value())].device != nullptr;
}

const MemoryDevice& MemorySystem::device(NodeId node) const {
  if (!has_controller(node)) {
    std::fprintf(stderr, "numasim: internal error: node %d has no memory device\n", node.value());
    std::abort();
  }
  return *memory_[static_cast<std::size_t>(node.value())].device;
}

MemoryDevice& MemorySystem::device(NodeId node) {
  return const_cast<MemoryDevice&>(static_cast<const MemorySystem&>(*this).device(node));
}

DramController& MemorySystem::controller(NodeId node) {
  MemoryDevice& d = device(node);
  DramController* c = memory_[static_cast<std::size_t>(node.value())].dram;
  if (!c) {
    std::fprintf(stderr, "numasim: internal error: node %d's memory device is %s, not a DDR4 controller\n",
                 node.value(), std::string(d.impl()).c_str());
    std::abort();
  }
  return *c;
}

inline MemoryAccessResult MemorySystem::device_line(NodeId home, PhysAddr pa, bool is_write, Picoseconds t) {
  const NodeMemory& m = memory_[static_cast<std::size_t>(home.value())];
  if (m.dram) [[likely]] {
    const DramResult r = m.dram->access(pa, is_write, t);
    return {r.done, r.service, r.queueing};
  }
  return m.device->access_line(pa, is_write, t);
}

inline void MemorySystem::trace_line(NodeId home, NodeId requester, PhysAddr pa, bool is_write,
                                     Picoseconds at_device, const MemoryAccessResult& d) {
  if (trace::enabled(trace::Flag::dram)) [[unlikely]]
    trace_line_emit(home, requester, pa, is_write, at_device, d);
}

Picoseconds MemorySystem::fetch_line(NodeId requester, PhysAddr pa, bool is_write, Picoseconds t,
                                     AccessBreakdown& br) {
  const NodeId home = home_node(pa);
  if (home.value() < 0) die_unmapped(pa);
  if (home != requester) return fetch_remote_line(requester, home, pa, is_write, t, br);
  // A line of the requester's own node: no link, uncore step or request
  // credit, what fetch_remote_line's steps come to for it. (Most lines: the
  // L2 streamer's reads and the posted write-backs of a local stream; their
  // own path keeps the remote one's registers and stack frame out of theirs.)
  const MemoryAccessResult d = device_line(home, pa, is_write, t);
  br.dram += d.service;
  br.queueing += d.queueing;
  br.level_hit = kServedLocalDram;
  trace_line(home, requester, pa, is_write, t, d);
  return d.done;
}

Picoseconds MemorySystem::fetch_remote_line(NodeId requester, NodeId home, PhysAddr pa, bool is_write, Picoseconds t,
                                            AccessBreakdown& br) {
  const Bytes line(kCacheLineBytes);
  // [uncore] mesh/ring across sockets: the same UPI agents, home step, request
  // credit and home tracker as a core's remote miss (uncore_fetch), so that the
  // links carry only the UPI link and PHY for every kind of traffic. Reads hold
  // a credit and a tracker entry; posted writes (write-backs, streamed stores)
  // pass the agents without them (simplified).
  const bool upi = upi_crossing(requester, home);
  // Across sockets the line goes by the links to the home's socket: for a node
  // on an I/O stop, its socket's node (whose home tracker holds its reads too).
  const NodeId link_to = upi ? link_home(home) : home;
  UpiSteps steps{};
  RequestTracker* credits = nullptr;
  RequestTracker* tracker = nullptr;
  Picoseconds at_upi{0}, credit{0};
  if (upi) {
    steps = upi_steps(pa);
    if (!is_write) {
      credits = &upi_trackers_[static_cast<std::size_t>(node_socket_[static_cast<std::size_t>(requester.value())])];
      tracker = &home_trackers_[static_cast<std::size_t>(link_to.value())];
    }
    t += steps.out;
    br.cache += steps.out;
    at_upi = t;
    if (credits) {
      credit = credits->available(t);
      br.queueing += credit - t;
      t = credit;
    }
  }
  const TraverseResult req = interconnect_.traverse(requester, link_to, is_write ? line : Bytes(0), t);
  br.interconnect += req.latency + req.serialisation;
  br.queueing += req.queueing;
  t = req.arrival;
  if (upi) {
    t += steps.home;
    br.cache += steps.home;
  }
  const Picoseconds at_device = t;
  if (tracker) {
    t = tracker->available(at_device);
    br.queueing += t - at_device;
  }
  const MemoryAccessResult d = device_line(home, pa, is_write, t);
  if (tracker) tracker->take(at_device, t, d.done);
  br.dram += d.service;
  br.queueing += d.queueing;
  t = d.done;
  if (upi) {
    t += steps.back;
    br.cache += steps.back;
  }
  const TraverseResult resp = interconnect_.traverse(link_to, requester, is_write ? Bytes(0) : line, t);
  br.interconnect += resp.latency + resp.serialisation;
  br.queueing += resp.queueing;
  t = resp.arrival;
  if (credits) credits->take(at_upi, credit, t);
  if (upi) {
    t += steps.in;
    br.cache += steps.in;
  }
  br.level_hit = kServedRemoteDram;
  trace_line(home, requester, pa, is_write, at_device, d);
  return t;
}

void MemorySystem::trace_line_emit(NodeId home, NodeId requester, PhysAddr pa, bool is_write, Picoseconds at_device,
                                   const MemoryAccessResult& d) {
  NUMASIM_TRACE(dram, at_device, -1, "node%d %s %#llx for node%d (%s): done after %.1f ns, %.1f ns of it queued",
                home.value(), is_write ? "write" : "read",
                static_cast<unsigned long long>(pa & ~(kCacheLineBytes - 1)), requester.value(),
                home != requester ? "remote" : "local", static_cast<double>((d.done - at_device).value()) / 1000.0,
                static_cast<double>(d.queueing.value()) / 1000.0);
}

Picoseconds MemorySystem::uncore_fetch(CpuId cpu, NodeId requester, NodeId home, PhysAddr pa, Picoseconds now,
                                       AccessBreakdown& br) {
  const std::size_t c = static_cast<std::size_t>(cpu.value());
  const std::uint32_t core = core_index_[c];
  const int my_socket = cpu_socket_[c];
  const int home_socket = node_socket_[static_cast<std::size_t>(home.value())];
  // A node on an I/O stop (a CXL expander on a root port): its stop's tile, and
  // its socket's node, whose links reach it from another socket and whose home
  // agent (the socket's CHAs: their TORs hold core reads of CXL memory with the
  // DRAM reads) tracks its reads.
  const std::int32_t io = node_io_tile_[static_cast<std::size_t>(home.value())];
  const auto stop = static_cast<std::uint32_t>(io);
  const NodeId via = link_home(home);
  RequestTracker& ht = home_trackers_[static_cast<std::size_t>(via.value())];
  // The home agent holds the request from its arrival until the data leaves the IMC.
  auto device = [&](Picoseconds at) {
    const Picoseconds start = ht.available(at);
    br.queueing += start - at;
    const MemoryAccessResult d = device_line(home, pa, false, start);
    ht.take(at, start, d.done);
    br.dram += d.service;
    br.queueing += d.queueing;
    return d.done;
  };
  if (home_socket == my_socket && io >= 0) {
    // Core -> slice (LLC miss) -> I/O stop -> I/O stack, the device, I/O stack -> I/O stop -> core.
    const Picoseconds to = mesh_->to_io(core, pa, stop), back = mesh_->from_io(core, stop);
    br.cache += to + back;
    br.level_hit = kServedRemoteDram;
    return device(now + to) + back;
  }
  if (home_socket == my_socket) {
    // Core -> slice (LLC miss) -> IMC, the device, IMC -> core.
    const auto [to, back] = mesh_->local_imc_legs(core, pa);
    br.cache += to + back;
    br.level_hit = home == requester ? kServedLocalDram : kServedRemoteDram;
    if (home != requester) {  // another node of the same socket (sub-NUMA clustering): its links too
      TraverseResult req = interconnect_.traverse(requester, home, Bytes(0), now + to);
      const Picoseconds done = device(req.arrival);
      TraverseResult resp = interconnect_.traverse(home, requester, Bytes(kCacheLineBytes), done);
      br.interconnect += req.latency + req.serialisation + resp.latency + resp.serialisation;
      br.queueing += req.queueing + resp.queueing;
      return resp.arrival + back;
    }
    return device(now + to) + back;
  }
  // Remote: core -> slice (miss) -> UPI agent, which needs a request credit for
  // remote homes; the link; UPI agent -> home slice (tracker, directory) -> IMC
  // (or I/O stop and stack); the device; IMC (I/O stack and stop) -> UPI agent;
  // the link back; UPI agent -> core.
  RequestTracker& upi = upi_trackers_[static_cast<std::size_t>(my_socket)];
  const Picoseconds at_upi = now + mesh_->to_upi(core, pa);
  const Picoseconds start = upi.available(at_upi);
  br.queueing += start - at_upi;
  const TraverseResult req = interconnect_.traverse(requester, via, Bytes(0), start);
  const Picoseconds home_mesh = io >= 0 ? mesh_->home_to_io(pa, stop) : mesh_->home_to_imc(pa);
  const Picoseconds back_mesh = io >= 0 ? mesh_->io_to_upi(pa, stop) : mesh_->imc_to_upi(pa);
  const Picoseconds done = device(req.arrival + home_mesh);
  const TraverseResult resp = interconnect_.traverse(via, requester, Bytes(kCacheLineBytes), done + back_mesh);
  const Picoseconds into_core = mesh_->upi_to_core(core, pa);  // the line's UPI agent (SPRFID)
  upi.take(at_upi, start, resp.arrival);
  br.cache += (at_upi - now) + home_mesh + back_mesh + into_core;
  br.interconnect += req.latency + req.serialisation + resp.latency + resp.serialisation;
  br.queueing += req.queueing + resp.queueing;
  br.level_hit = kServedRemoteDram;
  return resp.arrival + into_core;
}

Picoseconds MemorySystem::uncore_ownership(CpuId cpu, NodeId requester, NodeId home, PhysAddr line,
                                           Picoseconds now) {
  const std::size_t c = static_cast<std::size_t>(cpu.value());
  const std::uint32_t core = core_index_[c];
  RequestTracker& upi = upi_trackers_[static_cast<std::size_t>(cpu_socket_[c])];
  const NodeId via = link_home(home);  // an I/O-stop node: its socket's links and home tracker
  RequestTracker& ht = home_trackers_[static_cast<std::size_t>(via.value())];
  const Picoseconds at_upi = now + mesh_->to_upi(core, line);
  const Picoseconds start = upi.available(at_upi);
  const TraverseResult req = interconnect_.traverse(requester, via, Bytes(0), start);
  const Picoseconds at_home = ht.available(req.arrival);
  const Picoseconds granted = at_home + mesh_->home_grant(line);
  ht.take(req.arrival, at_home, granted);
  const TraverseResult resp = interconnect_.traverse(via, requester, Bytes(0), granted);
  upi.take(at_upi, start, resp.arrival);
  return resp.arrival + mesh_->upi_to_core(core, line);  // the line's UPI agent (SPRFID)
}

void MemorySystem::upi_block(NodeId requester, NodeId home, PhysAddr first, std::uint64_t n, Picoseconds start,
                             Picoseconds end) {
  const UpiSteps s = upi_steps(first);
  const Picoseconds at_home = start + s.out + interconnect_.idle_time(requester, home, Bytes(0)) + s.home;
  const Picoseconds left_home =
      end - s.in - interconnect_.idle_time(home, requester, Bytes(kCacheLineBytes)) - s.back;
  upi_trackers_[static_cast<std::size_t>(node_socket_[static_cast<std::size_t>(requester.value())])].take_block(
      start + s.out, end - s.in, kernel_mlp(), n);
  home_trackers_[static_cast<std::size_t>(home.value())].take_block(at_home, std::max(at_home, left_home),
                                                                    kernel_mlp(), n);
}

inline Picoseconds MemorySystem::line_done(NodeId requester, PhysAddr pa, bool is_write, Picoseconds t) {
  const NodeId home = home_node_from(requester, pa);
  if (home != requester) {
    if (home.value() < 0) die_unmapped(pa);
    AccessBreakdown ignored;
    return fetch_remote_line(requester, home, pa, is_write, t, ignored);
  }
  const MemoryAccessResult d = device_line(home, pa, is_write, t);
  trace_line(home, requester, pa, is_write, t, d);
  return d.done;
}

void MemorySystem::post_writeback(NodeId requester, PhysAddr line, Picoseconds t) {
  ++writebacks_;
  line_done(requester, line, true, t);
}

Picoseconds MemorySystem::access_miss(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, AccessBreakdown* br) {
  if (residue_ && residue_->may_hold(cpu, pa) && settle_residue_line(cpu, pa, now)) [[unlikely]] {
    // A deferred clear's line in this CPU's L1D: the L1D's look-up counted a
    // miss, the exact model a hit.
    caches_.l1d(cpu).count_miss_as_hit(is_write);
    return l1_hit(br);
  }
  AccessBreakdown local;
  AccessBreakdown& b = br ? *br : local;
  b = AccessBreakdown{};
  WritebackList wb;
  SnoopResult sn;
  mark_private(pa);
  const int level = caches_.access_below_l1(cpu, pa, is_write, wb, sn);
  // (A fill into L2 may push a deferred clear's line out of it: clear_residue.h.)
  if (level >= 3 && residue_ && residue_->l2_listed(cpu)) [[unlikely]]
    residue_l2_fill(cpu, pa, now);
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  // A request beyond L2 (LLC, another cache, memory) needs a super-queue entry
  // first: with every entry busy it leaves L2 when the first one frees.
  SuperQueue& sq = super_queues_[static_cast<std::size_t>(cpu.value())];
  const bool beyond_l2 = level >= 3 || sn.kind == SnoopResult::Kind::Hitm;
  const Picoseconds issue = now;
  if (beyond_l2) now = sq.available(issue);
  Picoseconds lat;
  if (sn.kind == SnoopResult::Kind::Hitm) {
    // Another cache's Modified copy supplies the line.
    lat = snoop_done(cpu, sn, now, b) - now;
    b.level_hit = kServedHitm;
    ++hitm_;
    hitm_latency_ps_ += lat.value();
  } else if (level <= 3) {
    lat = level == 3 && mesh_ ? mesh_->llc_hit(core_index_[static_cast<std::size_t>(cpu.value())], pa)
                              : caches_.hit_latency(level);
    b.cache = lat;
    b.level_hit = static_cast<std::uint8_t>(level);
    if (level == 1) ++l1_hits_;  // an upgrade of a Shared line
    else if (level == 2) ++l2_hits_;
    else ++llc_hits_;
    if (level == 2 && !prefetchers_.empty()) {
      // A line prefetched into L2 whose data is still on its way.
      StreamPrefetcher& pf = prefetchers_[static_cast<std::size_t>(cpu.value())];
      const Picoseconds ready = pf.pending(pa, now);
      if (ready > now + lat) {
        pf.count_late(ready - now - lat);
        b.queueing += ready - now - lat;
        lat = ready - now;
      }
    }
  } else {
    Picoseconds done;
    NodeId home(-1);
    if (mesh_ && uncore_home(home = home_node_from(me, pa))) {  // (home_node only when there is a mesh: fetch_line finds it too)
      done = uncore_fetch(cpu, me, home, pa, now, b);
    } else {
      b.cache = caches_.hit_latency(3);
      // The store of a write miss is absorbed by the cache: the line is read for ownership.
      done = fetch_line(me, pa, false, now + b.cache, b);
    }
    lat = done - now;
    if (b.level_hit == kServedRemoteDram) {
      ++remote_dram_;
      remote_latency_ps_ += lat.value();
    } else {
      ++local_dram_;
      local_latency_ps_ += lat.value();
    }
  }
  if (sn.kind == SnoopResult::Kind::Invalidate) {
    AccessBreakdown ack;
    const Picoseconds acked = snoop_done(cpu, sn, now, ack) - now;
    if (acked > lat) {
      b.queueing += acked - lat;
      lat = acked;
    }
  }
  if (beyond_l2) {
    sq.take(issue, now, now + lat);
    b.queueing += now - issue;
    lat += now - issue;
  }
  miss_latency_ps_ += lat.value();
  for (int i = 0; i < wb.count; ++i) post_writeback(me, wb.addr[static_cast<std::size_t>(i)], issue + lat);
  if (!prefetchers_.empty()) {
    // The L2 streamer learns from the request here; only when it asks for
    // lines does a call send them (GUPS: a new page per request, none asked).
    StreamPrefetcher& pf = prefetchers_[static_cast<std::size_t>(cpu.value())];
    PrefetchCandidates cand;
    pf.observe_with(pa, now, cand, [&] { return sq.free_up_to(now, pf.sq_free_told_apart()); });
    if (cand.count != 0) send_prefetches(cpu, me, cand, now);
  }
  return lat;
}

void MemorySystem::send_prefetches(CpuId cpu, NodeId requester, const PrefetchCandidates& cand, Picoseconds now) {
  StreamPrefetcher& pf = prefetchers_[static_cast<std::size_t>(cpu.value())];
  SuperQueue& sq = super_queues_[static_cast<std::size_t>(cpu.value())];
  for (std::uint32_t i = 0; i < cand.count; ++i) {
    const PhysAddr line = cand.line[i];
    WritebackList wb;
    if (residue_ && residue_->may_hold(cpu, line)) {
      if (residue_->virtual_in_own_l2(cpu, line, residue_fills(cpu))) {
        pf.count_redundant();  // a deferred clear's line in this L2: left virtual, at its page's age
        continue;
      }
      settle_residue_line(cpu, line, now);
    }
    // (No mark_private: the streamer's lines lie in the demand line's page,
    // whose 2 MiB region access_miss marked.)
    bool redundant;
    const int level = caches_.prefetch_into_l2(cpu, line, wb, &redundant);
    if (redundant) {
      pf.count_redundant();
      continue;
    }
    // A fill into L2 (not level 2: another cache holds the line, no fill) may
    // push a deferred clear's line out of it (clear_residue.h).
    if (level >= 3 && residue_ && residue_->l2_listed(cpu)) residue_l2_fill(cpu, line, now);
    // Like a demand miss: the LLC lookup, then (on a miss) memory.
    const bool mesh = mesh_ != nullptr;
    const std::uint32_t core = mesh ? core_index_[static_cast<std::size_t>(cpu.value())] : 0;
    Picoseconds ready = now + (mesh ? mesh_->llc_hit(core, line) : caches_.hit_latency(3));
    if (level == 4) {
      // (home_node only when there is a mesh: line_done finds it too)
      NodeId home(-1);
      if (mesh && uncore_home(home = home_node_from(requester, line))) {
        AccessBreakdown ignored;
        ready = uncore_fetch(cpu, requester, home, line, now, ignored);
      } else {
        ready = line_done(requester, line, false, ready);
      }
      ++prefetch_dram_;
    } else {
      ++prefetch_llc_;
    }
    pf.issued(line, ready);
    sq.hold(ready);
    for (int w = 0; w < wb.count; ++w) post_writeback(requester, wb.addr[static_cast<std::size_t>(w)], ready);
  }
}

namespace {
// Whether none of the m lines needed less than the LLC (level < 3) or a snoop:
// bulk_write_lines' chunk of common lines. A whole chunk eight levels to a
// word (a byte below 3 in x: (x - 0x03..03) & ~x & 0x80..80, exact for
// bytes up to 0x80) and the snoops' kinds (each result's first byte) or-ed
// word by word.
bool all_common(const std::uint8_t* level, const SnoopResult* sn, std::size_t m) {
  static_assert(sizeof(SnoopResult) == 8 && offsetof(SnoopResult, kind) == 0 &&
                    static_cast<unsigned>(SnoopResult::Kind::None) == 0,
                "a snoop result's kind is the low byte of its word");
  if (m != MemorySystem::kBulkChunk) {
    unsigned odd = 0;
    for (std::size_t j = 0; j < m; ++j)
      odd |= static_cast<unsigned>(level[j] < 3) | static_cast<unsigned>(sn[j].kind != SnoopResult::Kind::None);
    return odd == 0;
  }
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  std::uint64_t low = 0, kinds = 0;
  for (std::size_t j = 0; j < MemorySystem::kBulkChunk; j += 8) {
    std::uint64_t x;
    std::memcpy(&x, level + j, sizeof x);
    low |= (x - 3 * kOnes) & ~x & (0x80 * kOnes);
  }
#pragma GCC unroll 4
  for (std::size_t j = 0; j < MemorySystem::kBulkChunk; ++j) {
    std::uint64_t w;
    std::memcpy(&w, sn + j, sizeof w);
    kinds |= w;
  }
  return low == 0 && (kinds & 0xff) == 0;
}

// Issue times for a stream of lines with at most N outstanding (the core's
// line-fill buffers) and one line per issue gap. Lines go in order, each
// next_issue() followed by its complete(): line i takes slot i % N, kept as a
// rotating index instead of a division per line.
class RangePipeline {
 public:
  RangePipeline(Picoseconds start, Picoseconds gap, std::uint32_t n)
      : n_(n), issue_(start), gap_(gap), end_(start) {
    std::fill(slots_, slots_ + n_, start.value());
  }
  Picoseconds next_issue() {
    if (issued_) issue_ += gap_;
    issued_ = true;
    issue_ = std::max(issue_, Picoseconds(slots_[slot_]));
    return issue_;
  }
  void complete(Picoseconds done) {
    slots_[slot_] = done.value();
    if (++slot_ == n_) slot_ = 0;
    end_ = std::max(end_, done);
    fresh_ = false;
  }
  Picoseconds end() const { return end_; }
  // next_issue() and complete(t + latency(j, t)) for lines j in [0, m), line
  // 0's issue being the last next_issue()'s result (a chunk's first line,
  // issued before its cache pass): the same times, with the pipeline's state
  // in locals for the loop (the caller's stores of 64-bit write-backs would
  // otherwise make the compiler reload it after each).
  template <class Latency>
  void run(std::size_t m, Latency&& latency) {
    std::uint64_t slots[MemorySystem::kMaxKernelMlp];
    std::copy(slots_, slots_ + n_, slots);
    const std::uint32_t n = n_;
    std::uint32_t slot = slot_;
    Picoseconds issue = issue_, end = end_;
    for (std::size_t j = 0; j < m; ++j) {
      if (j != 0) issue = std::max(issue + gap_, Picoseconds(slots[slot]));
      const Picoseconds done = issue + latency(j, issue);
      slots[slot] = done.value();
      if (++slot == n) slot = 0;
      end = std::max(end, done);
    }
    std::copy(slots, slots + n_, slots_);
    slot_ = slot;
    issue_ = issue;
    end_ = end;
    fresh_ = fresh_ && m == 0;
  }
  // run(m, latency) for lines that all take `latency`, their completions
  // written to done[0, m). On a pipeline no line of which completed yet
  // (every slot at the start, line 0 issued there) line j issues at
  // start + (j / n) P + (j % n) gap, P = max(latency, n gap): the first n go
  // a gap apart, and each later one waits for the one n before it (latency
  // after it) or the gap after its predecessor, whichever is later, which
  // repeats the first n's spacing every P. Else run()'s steps.
  void run_fixed(std::size_t m, Picoseconds latency, std::uint64_t* done) {
    if (!fresh_ || m == 0) {
      run(m, [&](std::size_t j, Picoseconds t) {
        done[j] = (t + latency).value();
        return latency;
      });
      return;
    }
    const std::uint64_t start = issue_.value(), gap = gap_.value(), lat = latency.value();
    const std::uint64_t period = std::max(lat, n_ * gap);
    // The first n lines a gap apart; each later line one period after the
    // line n before it, two lines to a vector (GCC's generic vectors: SSE2
    // on x86-64) when n >= 2 (a pair then never reads itself).
    const std::size_t first = std::min<std::size_t>(n_, m);
    std::uint64_t t = start + lat;
    for (std::size_t r = 0; r < first; ++r, t += gap) done[r] = t;
    std::size_t j = first;
    if (n_ >= 2) {
      using Pair = std::uint64_t __attribute__((vector_size(16)));
      const Pair per = {period, period};
      for (; j + 2 <= m; j += 2) {
        Pair v;
        std::memcpy(&v, done + (j - n_), sizeof v);
        v += per;
        std::memcpy(done + j, &v, sizeof v);
      }
    }
    for (; j < m; ++j) done[j] = done[j - n_] + period;
    // Slot i holds the last completion of the lines i, i + n, ... (the start
    // if none): the last n lines' (m >= n), line m - n + t's in slot (m + t) % n.
    const std::size_t s = m % n_;
    if (m >= n_) {
      const std::uint64_t *last = done + (m - n_), *end = done + m;
      std::copy(last, last + (n_ - s), slots_ + s);
      std::copy(last + (n_ - s), end, slots_);
    } else {
      std::copy(done, done + m, slots_);
    }
    slot_ = static_cast<std::uint32_t>(s);
    issue_ = Picoseconds(done[m - 1] - lat);
    end_ = std::max(end_, Picoseconds(done[m - 1]));
    fresh_ = false;
  }

 private:
  // Completion times of the slots in use (raw values: only the first n_ are
  // set, so a pipeline per page does not zero all kMaxKernelMlp of them).
  std::uint64_t slots_[MemorySystem::kMaxKernelMlp];
  std::uint32_t n_, slot_ = 0;
  bool issued_ = false;
  bool fresh_ = true;  // no line completed yet: every slot holds the start
  Picoseconds issue_, gap_, end_;
};
}  // namespace

Picoseconds MemorySystem::access_range(CpuId cpu, PhysAddr pa, Bytes len, bool is_write, Picoseconds now) {
  if (len.value() == 0) return Picoseconds(0);
  const PhysAddr first = pa & ~(kCacheLineBytes - 1);
  const PhysAddr last = (pa + len.value() - 1) & ~(kCacheLineBytes - 1);
  const PhysAddr end = pa + len.value();
  if (transfer_path_ == TransferPath::Bulk && is_write && first == pa && (len.value() & (kCacheLineBytes - 1)) == 0)
    return bulk_write_lines(cpu, first, len.value() / kCacheLineBytes, now);
  // One line that is not a whole-line write (a PTE's 8 bytes): the pipeline
  // would issue it at `now` and end at its completion, so its latency is the access's.
  if (first == last && !(is_write && first == pa && len.value() == kCacheLineBytes)) {
    ++range_lines_;
    return access(cpu, first, is_write, now);
  }
  RangePipeline pipe(now, params_.core_clock.to_time(Cycles(1)), kernel_mlp());
  std::size_t i = 0;
  for (PhysAddr a = first; a <= last; a += kCacheLineBytes, ++i) {
    const Picoseconds t = pipe.next_issue();
    const bool whole = is_write && a >= pa && a + kCacheLineBytes <= end;
    pipe.complete(t + (whole ? write_full_line(cpu, a, t) : access(cpu, a, is_write, t)));
  }
  range_lines_ += i;
  return pipe.end() - now;
}

Picoseconds MemorySystem::bulk_write_lines(CpuId cpu, PhysAddr first, std::uint64_t n, Picoseconds now) {
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  RangePipeline pipe(now, params_.core_clock.to_time(Cycles(1)), kernel_mlp());
  // Per-line scratch kept in the MemorySystem (bulk_): not initialised per call.
  std::array<std::uint8_t, kBulkChunk>& level = bulk_.level;
  std::array<SnoopResult, kBulkChunk>& sn = bulk_.sn;
  std::array<WritebackList, kBulkChunk>& wb = bulk_.wb;
  const std::size_t batch = caches_.bulk_lines();
  // The line path's trace of each DRAM request (fetch_line) is kept by posting each at once.
  local_wb_.dram = trace::enabled(trace::Flag::dram) ? nullptr : memory_[static_cast<std::size_t>(me.value())].dram;
  local_wb_.node = me;
  // A write-back's home is `me` when its line is in me's range and no lower
  // node's range holds it (home_node picks the first): with me's range apart
  // from theirs, a range check instead of home_node's search per write-back.
  const auto mi = static_cast<std::size_t>(me.value());
  local_wb_.range_decides = mi < node_range_.size() && node_range_alone_[mi] != 0;
  if (local_wb_.range_decides) {
    const auto [lo, hi] = node_range_[mi];
    local_wb_.lo = lo;
    local_wb_.span = hi > lo ? hi - lo : 0;
  }
  // Pass 2's common line (below): its latency is the LLC's, whether the LLC
  // held the line or the local home gave ownership (write_full_line_timing).
  const Picoseconds llc_latency = caches_.hit_latency(3);
  SuperQueue& sq = super_queues_[static_cast<std::size_t>(cpu.value())];
  for (std::uint64_t base = 0; base < n; base += kBulkChunk) {
    const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(kBulkChunk, n - base));
    // Pass 1: the caches and the directory, level by level in batches of
    // bulk_lines() (exact: CacheHierarchy::write_full_lines). An ownership
    // request to the local home costs the LLC lookup whether the LLC has the
    // line or not: then the LLC is not asked.
    const PhysAddr chunk_first = first + base * kCacheLineBytes;
    const PhysAddr chunk_last = chunk_first + (m - 1) * kCacheLineBytes;
    const bool local = home_node(chunk_first) == me && home_node(chunk_last) == me;
    // [cache] clear_residue = "deferred": a whole page none of whose lines is
    // cached is recorded instead (clear_residue.h); its timing pass is the same.
    const bool page = m == kBulkChunk && (chunk_first & (kPageSize - 1)) == 0;
    const Picoseconds chunk_start = pipe.next_issue();  // when the chunk's first line issues (line 0 below)
    const bool deferred = residue_ && page && defer_clear(cpu, chunk_first, chunk_start, wb.data());
    if (deferred && !local) {
      // Only the general timing loop below reads a deferred page's levels and
      // snoops (a local one's lines are all common): 4 (no copy) and none.
      level.fill(4);
      sn.fill(SnoopResult{});
    }
    if (!deferred) {
      for (std::size_t j = 0; j < m; j += batch)
        caches_.write_full_lines(cpu, chunk_first + j * kCacheLineBytes, std::min(batch, m - j), !local,
                                 level.data() + j, sn.data() + j, wb.data() + j);
      mark_private(chunk_first);  // 64 lines span at most two 2 MiB regions
      mark_private(chunk_last);
    }
    // Pass 2: the timing, in the line path's order. A line of a local chunk
    // that needed the LLC or the home without a snoop (every line of a clear
    // of a page no cache held) takes write_full_line_timing's steps for that
    // case written out: the LLC's latency after a super queue entry, then
    // its write-backs (tests/hw/bulk_transfer_test.cpp holds them equal, and
    // tests/hw/bulk_clear_queue_test.cpp the super queue entry by entry).
    // A chunk of such lines only (checked without a branch per line) takes
    // them in two loops: the issue and completion times first (the pipeline
    // and the super queue alone), then the write-backs in the same order at
    // the same times. Exact: nothing a write-back reaches (the DRAM
    // controllers, the links) is read by the times, and the times touch
    // nothing else.
    // (A deferred page's lines are all common: their levels are 4, their snoops none.)
    bool common = local;
    if (common && !deferred) common = all_common(level.data(), sn.data(), m);
    // With every super queue entry free when the chunk's first line issues
    // and at least as many entries as lines in flight, no line waits for
    // one: line j's entry is an old one (free before the chunk) or that of
    // line j - entries (which completed before line j - kernel_mlp() did,
    // whose completion line j's issue waits for). Then every line's latency
    // is the LLC's, and the queue takes the completions as a run
    // (SuperQueue::took_run). Else each line asks the queue, as the line path does.
    if (common && sq.entries() >= kernel_mlp() && sq.entry(sq.entries() - 1) <= chunk_start) {
      std::uint64_t done[kBulkChunk];  // line j's completion; raw times on the stack: no zeroing, no alias
      pipe.run_fixed(m, llc_latency, done);
      sq.took_run(done, m);
      post_chunk_writebacks(me, wb.data(), done, m);
    } else if (common) {
      std::uint64_t done[kBulkChunk];
      pipe.run(m, [&](std::size_t j, Picoseconds t) {
        const Picoseconds end = sq.serve(t, llc_latency);
        done[j] = end.value();
        return end - t;
      });
      post_chunk_writebacks(me, wb.data(), done, m);
    } else {
      pipe.run(m, [&](std::size_t j, Picoseconds t) {
        if (local && level[j] >= 3 && sn[j].kind == SnoopResult::Kind::None) {
          const Picoseconds lat = sq.serve(t, llc_latency) - t;
          for (int w = 0; w < wb[j].count; ++w)
            post_or_collect_writeback(me, wb[j].addr[static_cast<std::size_t>(w)], t + lat);
          return lat;
        }
        return write_full_line_timing(cpu, chunk_first + j * kCacheLineBytes, level[j], sn[j], wb[j].addr.data(),
                                      wb[j].count, t, local);
      });
    }
    if (local_wb_.n > 0) local_wb_.dram->post_writes(local_wb_.pa.data(), local_wb_.at.data(), local_wb_.n);
    local_wb_.n = 0;
    if (deferred) {
      // A page of another node's memory: each of its lines' completions in
      // the exact clear sends the next line's ownership request over the link
      // ahead of the write-back it pushes out; here the requests went in the
      // timing pass, so a round's write-backs keep a header's serialisation
      // between them on top of the core cycle (ClearResidue::timed).
      const NodeId home = local ? me : home_node(chunk_first);
      const Picoseconds gap = home == me || home.value() < 0 ? Picoseconds(0)
                                                             : params_.core_clock.to_time(Cycles(1)) +
                                                                   interconnect_.serialisation(me, home, Bytes(0));
      residue_->timed(chunk_start, pipe.end(), gap);
    }
  }
  local_wb_.dram = nullptr;
  local_wb_.range_decides = false;
  full_line_writes_ += n;
  range_lines_ += n;
  return pipe.end() - now;
}

void MemorySystem::post_chunk_writebacks(NodeId me, const WritebackList* wb, const std::uint64_t* done, std::size_t m) {
  if (!(local_wb_.dram && local_wb_.node == me && local_wb_.range_decides)) {
    for (std::size_t j = 0; j < m; ++j)
      for (int w = 0; w < wb[j].count; ++w)
        post_or_collect_writeback(me, wb[j].addr[static_cast<std::size_t>(w)], Picoseconds(done[j]));
    return;
  }
  // post_or_collect_writeback's range check with local_wb_'s count and range
  // in locals (its stores of 64-bit times would make the compiler reload
  // them). A line's one write-back (an LLC victim, the common case) without
  // the inner loop's set-up; the count collected from the list's growth.
  const PhysAddr lo = local_wb_.lo, span = local_wb_.span;
  const std::size_t first = local_wb_.n;
  std::size_t n = first;
  auto collect = [&](PhysAddr line, std::uint64_t t) {
    if (line - lo < span) [[likely]] {
      local_wb_.pa[n] = line;
      local_wb_.at[n++] = Picoseconds(t);
    } else {
      local_wb_.n = n;
      post_writeback(me, line, Picoseconds(t));
      n = local_wb_.n;
    }
  };
  const std::uint64_t* t = done;
  for (const WritebackList *l = wb, *end = wb + m; l != end; ++l, ++t) {
    const int count = l->count;  // (read once: GCC read it again after each store below)
    if (count == 0) continue;
    if (count == 1) [[likely]] {
      collect(l->addr[0], *t);
      continue;
    }
    for (int w = 0; w < count; ++w) collect(l->addr[static_cast<std::size_t>(w)], *t);
  }
  local_wb_.n = n;
  writebacks_ += n - first;
}

Picoseconds MemorySystem::copy_range(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len, Picoseconds now) {
  if (len.value() == 0) return Picoseconds(0);
  if (((dst | src | len.value()) & (kCacheLineBytes - 1)) != 0) {
    const Picoseconds r = access_range(cpu, src, len, false, now);
    return r + access_range(cpu, dst, len, true, now + r);
  }
  const std::uint64_t n = len.value() / kCacheLineBytes;
  const Picoseconds gap = params_.core_clock.to_time(Cycles(1));
  // Loads and stores are issued in time order (the super queue they share
  // keeps completion times, which needs requests nearly in time order): the
  // next load or the oldest store not yet issued, whichever is due first.
  // Buffer i % mlp of each kind is free again when operation i - mlp
  // completed; load i also waits for store i - kStoreBuffer to
  // complete (the store buffer is full until then).
  const std::uint32_t mlp = kernel_mlp();
  std::array<Picoseconds, kMaxKernelMlp> load_slot, store_slot;
  std::array<Picoseconds, kStoreBuffer> stored_at, loaded_at;
  std::fill(load_slot.begin(), load_slot.begin() + mlp, now);
  std::fill(store_slot.begin(), store_slot.begin() + mlp, now);
  stored_at.fill(now);
  loaded_at.fill(now);
  Picoseconds cursor = now, store_cursor = now, end = now;
  std::uint64_t li = 0, si = 0;  // next load, next store
  while (si < n) {
    const bool can_load = li < n && li < si + kStoreBuffer;
    Picoseconds tl{0}, ts{0};
    if (can_load) tl = std::max(std::max(cursor, load_slot[li % mlp]), stored_at[li % kStoreBuffer]);
    const bool can_store = si < li;  // its line is loaded
    if (can_store) ts = std::max(std::max(store_cursor, store_slot[si % mlp]), loaded_at[si % kStoreBuffer]);
    if (can_store && (!can_load || ts <= tl)) {
      store_cursor = ts + gap;
      const Picoseconds stored = ts + write_full_line(cpu, dst + si * kCacheLineBytes, ts);
      store_slot[si % mlp] = stored;
      stored_at[si % kStoreBuffer] = stored;
      end = std::max(end, stored);
      ++si;
    } else {
      cursor = tl + gap;
      const Picoseconds loaded = tl + access(cpu, src + li * kCacheLineBytes, false, tl);
      load_slot[li % mlp] = loaded;
      loaded_at[li % kStoreBuffer] = loaded;
      ++li;
    }
  }
  range_lines_ += 2 * n;
  return end - now;
}

Picoseconds MemorySystem::snoop_done(CpuId cpu, const SnoopResult& sn, Picoseconds t, AccessBreakdown& br) {
  t += caches_.hit_latency(3);
  br.cache += caches_.hit_latency(3);
  const bool data = sn.kind == SnoopResult::Kind::Hitm;
  if (!sn.remote) {
    br.cache += params_.same_socket_snoop;
    return t + params_.same_socket_snoop;
  }
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  const NodeId owner = socket_node_[static_cast<std::size_t>(sn.socket)];
  const TraverseResult req = interconnect_.traverse(me, owner, Bytes(0), t);
  const TraverseResult resp =
      interconnect_.traverse(owner, me, data ? Bytes(kCacheLineBytes) : Bytes(0), req.arrival + params_.remote_snoop);
  br.interconnect += req.latency + req.serialisation + resp.latency + resp.serialisation;
  br.queueing += req.queueing + resp.queueing;
  br.cache += params_.remote_snoop;
  if (mesh_) {
    // The uncore model's links carry only the UPI link and PHY: the agents at both
    // ends (out and in, each way), the owner socket's CHA step and the hops to and
    // from the UPI agents are the mesh's.
    const Picoseconds agents = mesh_->remote_crossings(core_index_[static_cast<std::size_t>(cpu.value())]);
    br.cache += agents;
    return resp.arrival + agents;
  }
  return resp.arrival;
}

Picoseconds MemorySystem::write_full_line(CpuId cpu, PhysAddr line, Picoseconds now) {
  ++full_line_writes_;
  if (residue_ && residue_->may_hold(cpu, line)) settle_residue_line(cpu, line, now);
  WritebackList wb;
  SnoopResult sn;
  mark_private(line);
  const int level = caches_.write_full_line(cpu, line, wb, sn);
  return write_full_line_timing(cpu, line, level, sn, wb.addr.data(), wb.count, now);
}

Picoseconds MemorySystem::write_full_line_timing(CpuId cpu, PhysAddr line, int level, const SnoopResult& sn,
                                                 const PhysAddr* wb, int nwb, Picoseconds now, bool local_home) {
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  // A store that needs anything beyond L2 (ownership, other copies invalidated)
  // holds an entry of the core's super queue until that is done, as every
  // request beyond L2 does; with all busy it waits for the first to free.
  const bool beyond_l2 = level >= 3 || sn.kind != SnoopResult::Kind::None;
  SuperQueue& sq = super_queues_[static_cast<std::size_t>(cpu.value())];
  const Picoseconds issue = now;
  if (beyond_l2) now = sq.available(issue);
  Picoseconds lat = caches_.hit_latency(std::min(level, 3));
  if (level == 1) {
    ++l1_hits_;
  } else if (level == 4 && !local_home) {
    // Ownership from the line's home agent: a request and an acknowledgement, no
    // data (from the local home: the LLC's miss detection, as an LLC hit).
    const NodeId home = home_node(line);
    if (home.value() < 0) die_unmapped(line);
    if (upi_crossing(me, home)) {
      lat = uncore_ownership(cpu, me, home, line, now) - now;
    } else if (home != me) {
      const TraverseResult req = interconnect_.traverse(me, home, Bytes(0), now + lat);
      lat = interconnect_.traverse(home, me, Bytes(0), req.arrival).arrival - now;
    }
  }
  if (sn.kind != SnoopResult::Kind::None) {
    AccessBreakdown ack;
    lat = std::max(lat, snoop_done(cpu, sn, now, ack) - now);
  }
  if (beyond_l2) {
    sq.take(issue, now, now + lat);
    lat += now - issue;
  }
  for (int w = 0; w < nwb; ++w) post_or_collect_writeback(me, wb[w], issue + lat);
  return lat;
}

Picoseconds MemorySystem::access_range_nontemporal(CpuId cpu, PhysAddr pa, Bytes len, bool is_write,
                                                   Picoseconds now) {
  if (len.value() == 0) return Picoseconds(0);
  const PhysAddr first = pa & ~(kCacheLineBytes - 1);
  const PhysAddr last = (pa + len.value() - 1) & ~(kCacheLineBytes - 1);
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  if (residue_) settle_residue_range(first, (last - first) / kCacheLineBytes + 1, now);
  if (transfer_path_ == TransferPath::Bulk) {
    Picoseconds lat;
    if (bulk_stream(cpu, first, (last - first) / kCacheLineBytes + 1, is_write, now, lat)) return lat;
  }
  RangePipeline pipe(now, params_.core_clock.to_time(Cycles(1)), kernel_mlp());
  std::size_t i = 0;
  for (PhysAddr a = first; a <= last; a += kCacheLineBytes, ++i) {
    const Picoseconds t = pipe.next_issue();
    // Evict any cached copy on the issuing core and its socket's LLC; a dirty
    // copy must reach memory first when we read, and is overwritten when we write.
    const bool dirty = caches_.invalidate_everywhere(a);
    if (dirty && !is_write) post_writeback(me, a, t);
    AccessBreakdown b;
    pipe.complete(fetch_line(me, a, is_write, t, b));
  }
  nt_lines_ += i;
  return pipe.end() - now;
}

bool MemorySystem::bulk_stream(CpuId cpu, PhysAddr first, std::uint64_t n, bool is_write, Picoseconds now,
                               Picoseconds& lat) {
  if (n < kBulkStreamLines) return false;
  const PhysAddr last = first + (n - 1) * kCacheLineBytes;
  const NodeId home = home_node(first);
  if (home.value() < 0 || home_node(last) != home) return false;
  DramController* dram = memory_[static_cast<std::size_t>(home.value())].dram;
  if (!dram || dram->params().page_policy != PagePolicy::Open) return false;
  const NodeId me = cpu_node_[static_cast<std::size_t>(cpu.value())];
  if (is_write && home != me) return false;
  // Cached copies leave every cache; dirty ones reach memory first on a read
  // (posted, ahead of the stream) and are overwritten on a write.
  dirty_.clear();
  const std::size_t r0 = static_cast<std::size_t>(first >> CacheHierarchy::kRegionShift);
  const std::size_t r1 = static_cast<std::size_t>(last >> CacheHierarchy::kRegionShift);
  bool private_clean = r1 < private_regions_.size();
  for (std::size_t r = r0; private_clean && r <= r1; ++r) private_clean = private_regions_[r] == 0;
  caches_.invalidate_lines_everywhere(first, n, is_write ? nullptr : &dirty_, private_clean);
  // Regions the range covers whole hold no private copy now.
  const PhysAddr region = PhysAddr(1) << CacheHierarchy::kRegionShift;
  for (std::size_t r = r0; r <= r1 && r < private_regions_.size(); ++r) {
    const PhysAddr lo = static_cast<PhysAddr>(r) << CacheHierarchy::kRegionShift;
    if (lo >= first && lo + region <= last + kCacheLineBytes) private_regions_[r] = 0;
  }
  for (PhysAddr a : dirty_) post_writeback(me, a, now);
  const Bytes line(kCacheLineBytes);
  const Bytes req = is_write ? line : Bytes(0), resp = is_write ? Bytes(0) : line;
  Picoseconds to_ctrl = interconnect_.idle_time(me, home, req);
  Picoseconds back = interconnect_.idle_time(home, me, resp);
  const bool upi = upi_crossing(me, home);  // the uncore's agents as fetch_line's (UNCORE helper)
  if (upi) {
    const UpiSteps s = upi_steps(first);
    to_ctrl += s.out + s.home;
    back += s.back + s.in;
  }
  const Picoseconds ser = std::max(interconnect_.serialisation(me, home, req), interconnect_.serialisation(home, me, resp));
  const Picoseconds gap = params_.core_clock.to_time(Cycles(1));
  const Picoseconds end = dram->stream(first, n, is_write, now, to_ctrl, to_ctrl + back, ser, static_cast<int>(kernel_mlp()), gap);
  if (home != me) {
    interconnect_.stream(me, home, req, n, now, end - back - to_ctrl);
    interconnect_.stream(home, me, resp, n, now + to_ctrl, end - back);
  }
  if (upi && !is_write) upi_block(me, home, first, n, now, end);
  nt_lines_ += n;
  lat = end - now;
  return true;
}

Picoseconds MemorySystem::memory_access(NodeId from, PhysAddr pa, bool is_write, Picoseconds now,
                                        AccessBreakdown* br) {
  AccessBreakdown local;
  AccessBreakdown& b = br ? *br : local;
  b = AccessBreakdown{};
  return fetch_line(from, pa, is_write, now, b) - now;
}

void MemorySystem::reset_stats(Picoseconds now) {
  caches_.reset_stats();
  for (auto& m : memory_)
    if (m.device) m.device->reset_stats();
  interconnect_.reset_stats(now);
  l1_hits_ = l2_hits_ = llc_hits_ = local_dram_ = remote_dram_ = 0;
  writebacks_ = nt_lines_ = range_lines_ = prefetch_llc_ = prefetch_dram_ = full_line_writes_ = 0;
  hitm_ = hitm_latency_ps_ = 0;
  for (auto& pf : prefetchers_) pf.reset_stats();
  for (auto& q : super_queues_) q.reset_stats();
  for (auto& t : home_trackers_) t.reset_stats();
  for (auto& t : upi_trackers_) t.reset_stats();
  miss_latency_ps_ = local_latency_ps_ = remote_latency_ps_ = 0;
  if (residue_) residue_->stats() = ClearResidue::Stats{};
}

void MemorySystem::dump_stats(StatsVisitor& v) const {
  caches_.dump(v);
  for (const auto& m : memory_)
    if (m.device) m.device->dump(v);
  interconnect_.dump(v);
  v.counter("system.mem.l1_hits", l1_hits_, "count", "accesses served by L1D");
  v.counter("system.mem.l2_hits", l2_hits_, "count", "accesses served by L2");
  v.counter("system.mem.llc_hits", llc_hits_, "count", "accesses served by the socket's LLC");
  v.counter("system.mem.hitm", hitm_, "count", "accesses served by a Modified copy in another cache (HITM)");
  v.formula("system.mem.avg_hitm_latency_ns",
            safe_ratio(static_cast<double>(hitm_latency_ps_), static_cast<double>(hitm_)) / 1000.0, "ns",
            "mean load-to-use latency of HITM transfers");
  v.counter("system.mem.local_dram", local_dram_, "count", "accesses served by the CPU's own node's DRAM");
  v.counter("system.mem.remote_dram", remote_dram_, "count", "accesses served by another node's DRAM");
  for (std::size_t c = 0; c < prefetchers_.size(); ++c)
    prefetchers_[c].dump(v, "system.cpu" + std::to_string(c) + ".l2_prefetcher");
  for (std::size_t c = 0; c < super_queues_.size(); ++c) {
    const SuperQueueStats& q = super_queues_[c].stats();
    const std::string n = "system.cpu" + std::to_string(c) + ".l2_super_queue";
    v.counter(n + ".requests", q.requests, "count", "requests beyond L2 (demand misses and prefetches)");
    v.counter(n + ".full", q.full, "count", "demand misses that found every super-queue entry busy");
    v.counter(n + ".full_wait_latency", q.full_wait_ps, "ps", "latency added to demand misses waiting for a super-queue entry");
  }
  for (std::size_t i = 0; i < home_trackers_.size(); ++i) {
    const RequestTracker& t = home_trackers_[i];
    const std::string n = "system.node" + std::to_string(i) + ".home_agent";
    v.counter(n + ".requests", t.requests(), "count", "reads tracked by the node's home agent (uncore model)");
    v.counter(n + ".tracker_full", t.waits(), "count", "reads that waited for a home-tracker entry");
    v.counter(n + ".tracker_wait_latency", t.wait_ps(), "ps", "latency added waiting for home-tracker entries");
  }
  for (std::size_t i = 0; i < upi_trackers_.size(); ++i) {
    const RequestTracker& t = upi_trackers_[i];
    const std::string n = "system.socket" + std::to_string(i) + ".upi_agent";
    v.counter(n + ".remote_requests", t.requests(), "count", "reads sent to remote home agents (uncore model)");
    v.counter(n + ".credits_exhausted", t.waits(), "count", "remote reads that waited for a request credit");
    v.counter(n + ".credit_wait_latency", t.wait_ps(), "ps", "latency added waiting for request credits");
  }
  v.counter("system.mem.prefetches_from_llc", prefetch_llc_, "count", "L2 prefetches served by the socket's LLC");
  v.counter("system.mem.prefetches_from_dram", prefetch_dram_, "count", "L2 prefetches served by DRAM (local or remote)");
  v.counter("system.mem.writebacks", writebacks_, "count", "dirty lines written back to DRAM (posted)");
  v.counter("system.mem.range_lines", range_lines_, "count", "lines of kernel range traffic (cached)");
  v.counter("system.mem.full_line_writes", full_line_writes_, "count",
            "kernel string stores of whole lines (ownership without reading memory)");
  v.counter("system.mem.nontemporal_lines", nt_lines_, "count", "lines of streaming (uncached) kernel traffic");
  if (residue_) dump_residue(v);
  const double misses = static_cast<double>(l2_hits_ + llc_hits_ + local_dram_ + remote_dram_ + hitm_);
  v.formula("system.mem.avg_l1_miss_latency_ns", safe_ratio(static_cast<double>(miss_latency_ps_), misses) / 1000.0,
            "ns", "mean latency of accesses that missed L1D");
  v.formula("system.mem.avg_local_dram_latency_ns",
            safe_ratio(static_cast<double>(local_latency_ps_), static_cast<double>(local_dram_)) / 1000.0, "ns",
            "mean load-to-use latency of local DRAM accesses");
  v.formula("system.mem.avg_remote_dram_latency_ns",
            safe_ratio(static_cast<double>(remote_latency_ps_), static_cast<double>(remote_dram_)) / 1000.0, "ns",
            "mean load-to-use latency of remote DRAM accesses");
  v.formula("system.mem.local_ratio",
            safe_ratio(static_cast<double>(local_dram_), static_cast<double>(local_dram_ + remote_dram_)), "ratio",
            "local DRAM accesses / DRAM accesses");
}

const char* served_by_name(std::uint8_t level) {
  switch (level) {
    case kServedL1: return "L1";
    case kServedL2: return "L2";
    case kServedLlc: return "LLC";
    case kServedLocalDram: return "local DRAM";
    case kServedRemoteDram: return "remote DRAM";
    case kServedHitm: return "HITM";
    default: return "none";
  }
}

}  // namespace numasim::hw
