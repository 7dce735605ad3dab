// The memory system below the cores, as one facade: per-core L1D/L2, per-socket
// LLC, the interconnect and one memory device per node with memory (by
// default a DDR4 controller; memory_device.h for the others, e.g. a CXL
// expander). A data
// access from a CPU at an absolute time returns its load-to-use latency; the
// caches, links and DRAM banks it touches are updated (contents and next-free
// timestamps). Used directly by hw::Core / hw::Mmu (page walks too) and by the
// OS platform for kernel traffic; the TLM-2.0 wrappers call the same timing
// classes. No SystemC here: an L1 hit is an inline tag check.
//
// Path of an access that misses every cache: LLC miss detection (its hit
// latency) -> request over the interconnect to the home node (header only) ->
// controller front end + DRAM (or the node's other memory device) -> response
// back (header + 64 B) -> fill. A DDR4 node's controller is called directly
// (no virtual call per access); other devices through MemoryDevice.
// Dirty victims are posted writes: they occupy the home controller (and links)
// but add nothing to the latency of the access that evicted them.
//
// Calibration with the defaults (Skylake-SP core at 2.3 GHz, DDR4-2666, open
// page) and configs/skylake-sp-2s.toml's UPI link (27 ns, 41.6 GB/s); where
// each fixed latency comes from:
//   LLC hit / miss detection 50 cycles = 21.7 ns (7-cpu, AnandTech: 50-70 cycles);
//   controller front end 22 ns (chosen: the MLC idle latency 90.2 ns minus the
//   LLC and the DRAM row-conflict time below);
//   DRAM tRP+tRCD+CL+tBURST = 61 tCK = 45.75 ns (JEDEC DDR4-2666 19-19-19).
//   Idle = 21.7 + 22 + 45.75 = 89.5 ns for a row conflict, 75.2 ns for a bank
//   closed by refresh; a random chase over 4 GiB mixes both: 87.0 ns measured
//   (MLC 90.2 / 89.1). Remote adds 2 x 27 ns of link latency and the
//   serialisation of a 16 B request and an 80 B response: 142.7 ns (MLC 144.3 / 143.2).
//   Read bandwidth, 18 cores streaming with 10 line-fill buffers and the L2
//   streamer's 16 prefetches in flight each: 103.3 GB/s local (MLC 104.4; 88
//   without the prefetcher), 31.5 GB/s remote, bound by the link's payload
//   rate 41.6 x 64/80 = 33.3 GB/s (MLC 34.3).
//   HITM: same socket 21.7 + 28 (same_socket_snoop) = 49.7 ns (about 50);
//   cross socket 21.7 + 27.4 (request) + 40 (remote_snoop) + 28.9 (data) =
//   118.0 ns (114-123).
// Each core's L1D misses train its L2 streamer (stream_prefetcher.h), whose
// prefetches are timed like demand misses (LLC lookup, links, DRAM) and fill L2
// and the LLC; a demand access that finds its line still on its way waits.
// Every request beyond L2 (a demand access served by the LLC, another cache or
// memory, and every prefetch) holds an entry of its core's super queue
// (uncore_super_queue.h) until its data returns; a demand miss that finds
// them all busy waits for the first to free (queueing in its breakdown), and
// the streamer is throttled when few are free. Kernel string stores of whole
// lines (write_full_line: clears, copies' destinations) take an entry for their
// ownership request too; streaming transfers do not use it.
// Coherence: CacheHierarchy's protocol reports what an access took; a HITM is
// timed as a transfer from the owner (same socket or over the link), and
// invalidations of other copies overlap the access, which waits for the last
// acknowledgement.
// With [uncore] impl = "mesh" or "ring" (uncore_mesh.h) a demand miss or a
// prefetch to a node of a socket takes the uncore path instead (uncore_fetch):
// the LLC hit and miss from hop counts and the CHA's lookup at the uncore
// clock, the home node's tracker, the requesting socket's UPI request credits,
// the agents and the home's directory step around the links (whose latency is
// then the UPI link and PHY only); cross-socket snoops add the same agents.
// Traffic that does not start in a core's L2 (write-backs, streamed and DMA
// lines, bulk streams) crosses the same UPI agents and home step when it goes
// to another socket (fetch_line, upi_steps; reads hold a request credit and a
// home-tracker entry, bulk streams their window's as a block), and a whole-line
// store's ownership from another socket goes through them too
// (uncore_ownership); within a socket they and CPU-less nodes keep the lumped path.
// A CPU-less node on an I/O stop ([[node]] io_tile, CXLIO) is a node of its
// socket with no [[link]]: demand misses and prefetches reach it like the
// socket's DRAM (uncore_fetch: core -> slice -> I/O stop and stack -> device ->
// back, holding an entry of its socket's home tracker, shared with the DRAM's
// reads), from another socket through the UPI link to its socket; traffic that
// does not start in a core's L2 (write-backs, DMA and streamed lines, a
// whole-line store's ownership) skips the mesh and the I/O stack (simplified);
// from another socket it crosses the UPI agents, the link to the stop's socket
// and that socket's home tracker as a DRAM line of that socket would
// (link_home).
// Simplifications: a store miss is timed like a load (RFO); no L1 prefetchers; the memory of other CPU-less nodes is
// reached from the socket's LLC like any remote memory.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/units.h"
#include "hw/memory_port.h"
#include "hw/cache_hierarchy.h"
#include "hw/clear_residue.h"
#include "hw/dram_controller.h"
#include "hw/hw_stats.h"
#include "hw/interconnect.h"
#include "hw/memory_device.h"
#include "hw/stream_prefetcher.h"
#include "hw/uncore_mesh.h"
#include "hw/uncore_super_queue.h"

namespace numasim {
class Config;
class Topology;
}  // namespace numasim

namespace numasim::hw {

struct MemorySystemParams {
  CacheHierarchyParams caches;      // [cache.l1d], [cache.l2], [cache.llc]
  DramParams dram;                  // [dram]: the default device of every node (ddr4)
  // [[node]] device = "...": the device of each node, by node id; a missing or
  // empty entry (make == nullptr) is a DDR4 controller with `dram`.
  std::vector<MemoryDeviceSpec> node_devices;
  InterconnectParams interconnect;  // [interconnect]
  UncoreParams uncore;              // [uncore]: lumped (default), mesh or ring
  // [[node]] io_tile: by node id the mesh tile of the I/O stop a CPU-less node
  // sits on (a CXL expander on that stop's root port), -1 for none (uncore_mesh.h).
  std::vector<std::int32_t> node_io_tiles;
  StreamPrefetcherParams l2_prefetch;  // [prefetch.l2_streamer]
  // [coherence] timing. A miss served by a Modified copy in another core of the
  // socket costs the LLC lookup plus `same_socket_snoop` (about 50 ns in all on
  // Skylake-SP, DESIGN.md); one on another socket costs the LLC miss detection,
  // a request over the link, `remote_snoop` (the remote caching agent and the
  // owner core) and the data back (about 114-123 ns on Skylake-SP).
  Picoseconds same_socket_snoop = Picoseconds(28'000);
  Picoseconds remote_snoop = Picoseconds(40'000);
  // Clock the cache latencies (cycles) are converted with. Not read by
  // from_config: the Machine sets it from its core clock.
  Frequency core_clock = Frequency(2'300'000'000);
  // Entries of each core's L2 super queue (uncore_super_queue.h): requests
  // beyond L2 outstanding per core, demand misses and L2 prefetches together.
  // Not read by from_config: the Machine sets it from [cpu] super_queue.
  std::uint32_t super_queue = 16;
  // L1D line-fill buffers of each core: how many misses a kernel range
  // transfer (a clear, a copy's loads and its stores, a streamed transfer)
  // keeps in flight. Not read by from_config: the Machine sets it from [cpu]
  // line_fill_buffers (Skylake: 10; Golden Cove: 16; Zen 4: 24).
  std::uint32_t line_fill_buffers = 10;

  static MemorySystemParams from_config(Config root);
};

// What the memory system needs of the topology (from a Topology, or by hand in tests).
struct MemoryLayout {
  struct Node {
    NodeId id;
    int socket = -1;  // -1: no socket (CPU-less memory such as a CXL expander)
    PhysAddr base = 0;
    Bytes memory;
    std::vector<CpuId> cpus;
  };
  std::vector<Node> nodes;
  int num_sockets = 0;
  InterconnectLayout interconnect;

  static MemoryLayout from_topology(const Topology& topo);
};

struct AccessBreakdown {
  Picoseconds cache{0};         // cache lookups (L1 hit latency, ..., LLC miss detection)
  Picoseconds dram{0};          // controller front end + DRAM commands + burst, unloaded
  Picoseconds interconnect{0};  // link + hop latency + serialisation, both directions
  Picoseconds queueing{0};      // waiting for busy banks, buses and links
  std::uint8_t level_hit = kServedNone;  // ServedBy (memory_port.h)
};

class MemorySystem {
 public:
  MemorySystem(const Topology& topo, const MemorySystemParams& params);
  MemorySystem(MemoryLayout layout, const MemorySystemParams& params);
  ~MemorySystem();
  MemorySystem(const MemorySystem&) = delete;
  MemorySystem& operator=(const MemorySystem&) = delete;

  // Data access by `cpu` to physical address `pa` issued at absolute time
  // `now`; returns the completion (load-to-use) latency. An L1 hit is inline.
  Picoseconds access(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, AccessBreakdown* br = nullptr) {
    if (caches_.l1_access(cpu, pa, is_write)) [[likely]]
      return l1_hit(br);
    return access_miss(cpu, pa, is_write, now, br);
  }

  // Kernel traffic from `cpu` over [pa, pa+len), line by line through the
  // caches. Lines are issued back to back with up to `kernel_mlp()` misses in
  // flight (like a copy or clear loop with line-fill buffers); returns the time
  // until the last line completes. Writes of whole lines are string stores
  // (clear_page and copy_page use rep stosb/movsb): they take ownership of the
  // line without reading it from memory (write_full_line); a partial line is
  // read for ownership like any store.
  Picoseconds access_range(CpuId cpu, PhysAddr pa, Bytes len, bool is_write, Picoseconds now);
  // Non-temporal (streaming) writes or reads of [pa, pa+len) that bypass the
  // caches (clear_page of huge pages with movnt): any cached copy is
  // invalidated (dirty ones written back) and lines go straight to DRAM.
  Picoseconds access_range_nontemporal(CpuId cpu, PhysAddr pa, Bytes len, bool is_write, Picoseconds now);
  // copy_page / folio_copy of [src, src+len) to [dst, dst+len) by `cpu` as a
  // string move (rep movsb) runs it: the source loads and destination stores
  // interleaved line by line, each store issued once its line is loaded while
  // later loads go on (they do not wait for earlier stores); up to kernel_mlp()
  // loads and kernel_mlp() stores in flight (the load buffer's misses and the
  // store buffer draining whole-line stores); the L2 streamer, trained by the
  // source's L1 misses like any others, runs ahead of the loads with its own
  // prefetches in flight (L2's queue, not the fill buffers), so most loads find
  // their line in L2 or on its way. Destination lines are whole-line stores
  // (ownership without reading memory) whose ownership requests beyond L2 hold
  // super-queue entries like the loads' misses and prefetches
  // (write_full_line_timing): the core's 16 entries, not its fill buffers,
  // bound the copy's concurrency. Returns
  // the time until the last store completes. Ranges not made of whole lines are read, then written.
  // Replaces the read-then-write sequence of two access_range calls, which
  // overlaps nothing between the source and the destination.
  Picoseconds copy_range(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len, Picoseconds now);
  // One uncached line transfer between node `from`'s agent and memory at `pa`
  // (e.g. DMA), through links and controller, no caches.
  Picoseconds memory_access(NodeId from, PhysAddr pa, bool is_write, Picoseconds now, AccessBreakdown* br = nullptr);

  // The largest line_fill_buffers a core may have ([cpu] line_fill_buffers is checked to 1..256).
  static constexpr std::uint32_t kMaxKernelMlp = 256;
  // Misses a kernel range transfer keeps in flight: the core's line-fill buffers.
  std::uint32_t kernel_mlp() const { return params_.line_fill_buffers; }
  // `cpu`'s L2 super queue (its entries' completion times: tests compare the bulk and line paths').
  const SuperQueue& super_queue(CpuId cpu) const { return super_queues_[static_cast<std::size_t>(cpu.value())]; }
  // Store-buffer entries (Skylake: 56, Intel Optimization Reference Manual):
  // copy_range's loads run at most this many lines ahead of its stores' completion.
  static constexpr std::size_t kStoreBuffer = 56;

  // How kernel range traffic through the caches (access_range) is run. Lines:
  // the reference, each line through the caches and then its timing before the
  // next. Bulk (default): the transfer as one request in chunks of kBulkChunk
  // lines: first the chunk's cache and coherence updates level by level in
  // batches of CacheHierarchy::bulk_lines() (all L1D look-ups, all snoops, all
  // L1D installs, the L1D victims into L2, L2's victims into the LLC:
  // CacheHierarchy::write_full_lines, exact; an ownership request to the local
  // home does not look in the LLC, whose hit and miss cost the same there), then
  // the chunk's timing (the pipeline of kernel_mlp() lines, links, write-backs
  // and DRAM) in the same order of calls as the line path; the write-backs to
  // the CPU's own node's DDR4 controller are posted together at the chunk's
  // end, in runs of one bank and row (DramController::post_writes: the same
  // requests in the same order to a controller nothing else reaches meanwhile). Cache state never
  // depends on timing on these paths, so both give the same statistics and
  // latencies (tests/hw/bulk_transfer_test.cpp). Reads through the caches (a
  // copy's source) and ranges that begin or end inside a line keep the line
  // path; so do streaming transfers (access_range_nontemporal): splitting them
  // into the two passes gained nothing measurable (their host time is the DRAM
  // model's, line by line). Stores of whole lines (a clear, a copy's
  // destination) are what gains.
  enum class TransferPath : std::uint8_t { Bulk, Lines };
  void set_transfer_path(TransferPath p) { transfer_path_ = p; }
  TransferPath transfer_path() const { return transfer_path_; }
  static constexpr std::size_t kBulkChunk = 64;
  // Streaming transfers (access_range_nontemporal) of at least this many lines
  // (1 MiB: clear_huge_page) to one DDR4 node, reads from any node and writes
  // to the CPU's own node, take the analytic path on TransferPath::Bulk: every
  // cached copy invalidated line by line (the LLC region counts skip sockets
  // holding nothing of the range), then the DRAM controller and the links time
  // the burst as one block (DramController::stream, Interconnect::stream),
  // within 2% of the line path (tests/hw/bulk_transfer_test.cpp). Shorter
  // ones, and other devices, keep the line path: their host cost is small.
  // Streamed writes to a remote node keep it too: there the model stays 8%
  // above the line path (whose refresh stalls cost less when the requests'
  // link serialisation spreads the lines issued after a stall).
  static constexpr std::uint64_t kBulkStreamLines = 16384;

  // Node owning `pa`, or NodeId(-1).
  NodeId home_node(PhysAddr pa) const;
  NodeId cpu_node(CpuId cpu) const { return cpu_node_[cpu.value()]; }

  CacheHierarchy& caches() { return caches_; }
  // [cache] clear_residue = "deferred": the recorded pages of cached clears (null when "exact").
  const ClearResidue* clear_residue() const { return residue_.get(); }
  void host_prefetch(CpuId cpu, PhysAddr pa) const { caches_.host_prefetch(cpu, pa); }
  Interconnect& interconnect() { return interconnect_; }
  // Memory device of a node with memory (aborts on a node without memory).
  MemoryDevice& device(NodeId node);
  const MemoryDevice& device(NodeId node) const;
  // DDR4 controller of a node (aborts when the node's device is not one).
  DramController& controller(NodeId node);
  bool has_controller(NodeId node) const;  // the node has a memory device
  const MemoryLayout& layout() const { return layout_; }
  const MemorySystemParams& params() const { return params_; }

  // Statistics of every module, named system.cpu<i>.l1d.*, system.socket<s>.llc.*,
  // system.node<n>.mc.* (ddr4; system.node<n>.cxl.* for a CXL device),
  // system.interconnect.*, system.mem.*.
  void dump_stats(StatsVisitor& v) const;
  void reset_stats(Picoseconds now = Picoseconds(0));

 private:
  Picoseconds access_miss(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, AccessBreakdown* br);
  // Line from memory at `pa` to node `requester`; fills `br`'s dram/interconnect/queueing.
  Picoseconds fetch_line(NodeId requester, PhysAddr pa, bool is_write, Picoseconds t, AccessBreakdown& br);
  // fetch_line's line from another node `home` (links, and across sockets the uncore's steps).
  Picoseconds fetch_remote_line(NodeId requester, NodeId home, PhysAddr pa, bool is_write, Picoseconds t,
                                AccessBreakdown& br);
  // The dram trace of a line served at `home` from `at_device` (formatted only when the flag is on).
  static void trace_line(NodeId home, NodeId requester, PhysAddr pa, bool is_write, Picoseconds at_device,
                         const MemoryAccessResult& d);
  [[gnu::cold, gnu::noinline]] static void trace_line_emit(NodeId home, NodeId requester, PhysAddr pa, bool is_write,
                                                           Picoseconds at_device, const MemoryAccessResult& d);
  // fetch_line's completion time alone, for callers without a breakdown (the
  // L2 streamer's reads, posted write-backs): a line of the requester's own
  // node goes to its device without fetch_line's call and breakdown (about a
  // third of fetch_line's host instructions per line). Inline in memory_system.cpp.
  inline Picoseconds line_done(NodeId requester, PhysAddr pa, bool is_write, Picoseconds t);
  // Posted write of a dirty line from `requester`'s socket to its home.
  void post_writeback(NodeId requester, PhysAddr line, Picoseconds t);
  // One line at `home`'s memory device from `t` (a DDR4 controller called directly).
  // (Defined inline in memory_system.cpp, its only user: a call per DRAM line was 26 host
  // instructions of wrapper. Another file that calls it needs the definition moved here.)
  inline MemoryAccessResult device_line(NodeId home, PhysAddr pa, bool is_write, Picoseconds t);
  // [uncore] mesh/ring: line `pa` of node `home` (uncore_home) from memory to `cpu`'s L2 after its
  // L2 missed at `now` (mesh hops, LLC lookup, home tracker, UPI credits, links, device); fills `br`.
  Picoseconds uncore_fetch(CpuId cpu, NodeId requester, NodeId home, PhysAddr pa, Picoseconds now,
                           AccessBreakdown& br);
  // [uncore] mesh/ring: whether `a` and `b` are nodes of two different sockets,
  // so that traffic between them crosses both sockets' UPI agents.
  bool upi_crossing(NodeId a, NodeId b) const {
    return mesh_ && static_cast<std::size_t>(a.value()) < node_socket_.size() &&
           static_cast<std::size_t>(b.value()) < node_socket_.size() &&
           node_socket_[static_cast<std::size_t>(a.value())] >= 0 &&
           node_socket_[static_cast<std::size_t>(b.value())] >= 0 &&
           node_socket_[static_cast<std::size_t>(a.value())] != node_socket_[static_cast<std::size_t>(b.value())];
  }
  // The node whose links and home tracker carry traffic to `home` from another
  // socket: for a node on an I/O stop ([[node]] io_tile) its socket's node,
  // else `home` itself.
  NodeId link_home(NodeId home) const {
    const auto h = static_cast<std::size_t>(home.value());
    return h < node_io_tile_.size() && node_io_tile_[h] >= 0 ? socket_node_[static_cast<std::size_t>(node_socket_[h])]
                                                             : home;
  }
  // The uncore's steps of a cross-socket transaction for line `pa` that the links
  // do not carry, for traffic that does not start in a core's L2 (write-backs,
  // streamed and DMA lines, bulk streams: no hops to a core): the requester's
  // UPI agent on the way out, the home's agent, CHA step and hops to its IMC,
  // the home's IMC to its UPI agent, and the requester's agent on the way in.
  struct UpiSteps {
    Picoseconds out, home, back, in;
  };
  UpiSteps upi_steps(PhysAddr pa) const {
    return {mesh_->upi_agent(), mesh_->home_to_imc(pa), mesh_->imc_to_upi(pa), mesh_->upi_agent()};
  }
  // [uncore] mesh/ring: ownership of whole line `line` (a string store, no data)
  // from another socket's home: the core's LLC miss to its UPI agent, a request
  // credit, the link, the home CHA's grant (home tracker), the link back, the
  // agent into the core. Returns when the grant reaches the core.
  Picoseconds uncore_ownership(CpuId cpu, NodeId requester, NodeId home, PhysAddr line, Picoseconds now);
  // bulk_stream's n reads of lines from `first` at another socket's home, from
  // `start` until `end`: the request credits and home-tracker entries that its
  // window of kernel_mlp() lines holds, reserved as a block (counted as n requests).
  void upi_block(NodeId requester, NodeId home, PhysAddr first, std::uint64_t n, Picoseconds start,
                 Picoseconds end);
  // Whether `home` is reached through the uncore model (a node of a socket).
  bool uncore_home(NodeId home) const {
    return mesh_ && static_cast<std::size_t>(home.value()) < node_socket_.size() &&
           node_socket_[static_cast<std::size_t>(home.value())] >= 0;
  }
  // Sends the prefetches `cpu`'s L2 streamer asked for at `now` (access_miss trains it).
  void send_prefetches(CpuId cpu, NodeId requester, const PrefetchCandidates& cand, Picoseconds now);
  // A store of the whole line at `line` (no read for ownership); returns its latency.
  Picoseconds write_full_line(CpuId cpu, PhysAddr line, Picoseconds now);
  // Its timing once the caches said `level` and `sn` and left `nwb` dirty lines `wb` to write back
  // (`local_home`: the caller knows the line's home is the CPU's own node).
  // A store needing anything beyond L2 holds an entry of the core's super queue
  // (a whole-line fast-string store, ERMSB: its ownership request, an ItoM
  // without data, leaves L2 like any L2 miss; Intel Optimization Reference
  // Manual, Skylake Server microarchitecture; uncore_super_queue.h). The L2
  // streamer is not trained by these stores: an RFO prefetch would read the
  // data a whole-line string store does not need, out of the same 16 entries.
  // (Inline in memory_system.cpp, its only user: a call per line of a clear.)
  [[gnu::always_inline]] inline Picoseconds write_full_line_timing(CpuId cpu, PhysAddr line, int level,
                                                                   const SnoopResult& sn, const PhysAddr* wb, int nwb,
                                                                   Picoseconds now, bool local_home = false);
  // The analytic streaming path (kBulkStreamLines): sets `lat` and returns
  // true, or returns false (nothing done) when the range does not qualify.
  bool bulk_stream(CpuId cpu, PhysAddr first, std::uint64_t n, bool is_write, Picoseconds now, Picoseconds& lat);
  // The bulk path (TransferPath::Bulk) of n whole lines from `first`.
  Picoseconds bulk_write_lines(CpuId cpu, PhysAddr first, std::uint64_t n, Picoseconds now);
  // bulk_write_lines' per-chunk scratch: each line's level, snoop result and write-backs.
  struct BulkScratch {
    std::array<std::uint8_t, kBulkChunk> level;
    std::array<SnoopResult, kBulkChunk> sn;
    std::array<WritebackList, kBulkChunk> wb;
  };
  BulkScratch bulk_;
  // bulk_write_lines' write-backs to the CPU's own node, when its memory is a
  // DDR4 controller: collected during a chunk's timing pass (a chunk of
  // common lines: after it, post_chunk_writebacks) and posted together at
  // its end (DramController::post_writes, runs of one bank and row), in the
  // order the line path posts them. Nothing else reaches that
  // controller during the pass (the pass's other traffic is ownership and
  // snoops over the links, and write-backs to other nodes, posted at once),
  // so its requests come in the same order with the same times: exact.
  struct LocalWritebacks {
    DramController* dram = nullptr;  // null: each write-back posted at once (fetch_line)
    NodeId node{-1};
    // Whether a line's home is `node` exactly when it lies in [lo, lo + span)
    // (node's range, apart from every lower node's: home_node's first match).
    bool range_decides = false;
    PhysAddr lo = 0, span = 0;
    std::size_t n = 0;
    std::array<PhysAddr, kBulkChunk * WritebackList::kCapacity> pa;
    std::array<Picoseconds, kBulkChunk * WritebackList::kCapacity> at;
  };
  LocalWritebacks local_wb_;
  // Posts a write-back of `line` at `t` from `requester`'s socket: into
  // local_wb_ when it collects and the line's home is its node, else now.
  void post_or_collect_writeback(NodeId requester, PhysAddr line, Picoseconds t) {
    if (local_wb_.dram && requester == local_wb_.node &&
        (local_wb_.range_decides ? line - local_wb_.lo < local_wb_.span : home_node(line) == requester)) {
      ++writebacks_;
      local_wb_.pa[local_wb_.n] = line;
      local_wb_.at[local_wb_.n++] = t;
      return;
    }
    post_writeback(requester, line, t);
  }
  // post_or_collect_writeback of the m lines' write-backs wb[0, m) in order,
  // line j's at done[j] (bulk_write_lines' chunk of common lines).
  void post_chunk_writebacks(NodeId me, const WritebackList* wb, const std::uint64_t* done, std::size_t m);
  // Deferred clear residue (hw/memory_system_residue.cpp, clear_residue.h).
  // The virtual line at `pa`, if any, made real where its page's age puts it
  // (its write-backs posted at `now`); true when that is `cpu`'s own L1D.
  bool settle_residue_line(CpuId cpu, PhysAddr pa, Picoseconds now);
  // Every virtual line of recorded entry e made real (or, when its page left
  // the LLC, written back to memory), write-backs posted at `now`.
  void settle_residue_page(std::uint32_t e, Picoseconds now);
  // A recorded line of `owner`'s made real at `level` (1-3) in its caches; the
  // write-backs that causes are posted from `node` at `now`.
  void install_residue_line(CpuId owner, NodeId node, PhysAddr line, int level, Picoseconds now);
  // The real fills so far of `cpu`'s L1D and L2 and its socket's LLC.
  ClearResidue::Fills residue_fills(CpuId cpu);
  // A real fill of pa's line into `cpu`'s L2: the deferred clear's line it
  // pushes out of L2 (ClearResidue::l2_fill) enters the LLC now, its victim written back.
  void residue_l2_fill(CpuId cpu, PhysAddr pa, Picoseconds now);
  // Lines `mask` of `page` leave `cpu`'s L2 into its socket's LLC now, their
  // LLC victims written back now (a miss's leave_l2 and residue_l2_fill).
  void residue_into_llc(CpuId cpu, PhysAddr page, std::uint64_t mask, Picoseconds now);
  // settle_residue_page of every recorded page among the n lines from `first`.
  void settle_residue_range(PhysAddr first, std::uint64_t n, Picoseconds now);
  // bulk_write_lines' first pass for a whole page at `page` cleared by `cpu`,
  // when no cache holds a line of it: the page recorded, and each line's
  // write-backs (line j of the page leaving the ring, if still virtual) set
  // for the timing pass; every line's level is 4 (no copy) and its snoop none
  // (set by the caller when its timing pass reads them). False (nothing done)
  // when a line of the page is cached: then the exact passes run.
  bool defer_clear(CpuId cpu, PhysAddr page, Picoseconds now, WritebackList* wb);
  // An L1D hit's latency and breakdown (access() inline, and a virtual line made real in the CPU's own L1D).
  Picoseconds l1_hit(AccessBreakdown* br) {
    ++l1_hits_;
    if (br) {
      *br = AccessBreakdown{};
      br->cache = l1_latency_;
      br->level_hit = kServedL1;
    }
    return l1_latency_;
  }
  std::unique_ptr<ClearResidue> residue_;  // null: exact clear residue
  void dump_residue(StatsVisitor& v) const;

  // When the coherence action `sn` started at `t` by `cpu` completes (data for a HITM, acknowledgements otherwise).
  Picoseconds snoop_done(CpuId cpu, const SnoopResult& sn, Picoseconds t, AccessBreakdown& br);

  MemoryLayout layout_;
  MemorySystemParams params_;
  CacheHierarchy caches_;
  Interconnect interconnect_;
  // The memory of each node, by node id. `dram` is set when the device is a
  // DramController: the access path then calls it directly (no virtual call).
  struct NodeMemory {
    std::unique_ptr<MemoryDevice> device;  // null if no memory
    DramController* dram = nullptr;
  };
  std::vector<NodeMemory> memory_;
  std::vector<NodeId> cpu_node_;
  std::vector<NodeId> socket_node_;  // a node of each socket (where its caching agent sits)
  std::vector<std::pair<PhysAddr, PhysAddr>> node_range_;  // [base, end) by node id
  std::vector<std::uint8_t> node_range_alone_;  // by node id: no lower node's range overlaps its own
  // By node id: its range when no lower node's overlaps it (else empty), so
  // that a line of it has it as its home without home_node's search.
  struct OwnRange {
    PhysAddr lo = 0, span = 0;
  };
  std::vector<OwnRange> own_range_;
  // home_node(pa), found by one compare when pa lies in `node`'s own range
  // (most lines a node's CPUs, their prefetches and their write-backs reach).
  NodeId home_node_from(NodeId node, PhysAddr pa) const {
    const OwnRange& r = own_range_[static_cast<std::size_t>(node.value())];
    return pa - r.lo < r.span ? node : home_node(pa);
  }
  Picoseconds l1_latency_;
  std::vector<StreamPrefetcher> prefetchers_;  // by cpu; empty when disabled
  std::vector<SuperQueue> super_queues_;       // by cpu
  // [uncore] mesh/ring (null when lumped): geometry, each cpu's index in its
  // socket and socket, each node's socket, home trackers by node, UPI credits by socket.
  std::unique_ptr<UncoreMesh> mesh_;
  std::vector<std::uint32_t> core_index_;
  std::vector<int> cpu_socket_, node_socket_;
  std::vector<RequestTracker> home_trackers_, upi_trackers_;
  std::vector<std::int32_t> node_io_tile_;  // by node id: its I/O stop's tile ([[node]] io_tile), -1 none
  TransferPath transfer_path_ = TransferPath::Bulk;
  std::vector<PhysAddr> dirty_;  // bulk_stream's scratch: dirty lines of a streamed read
  // By 2 MiB region of physical memory: whether a line of it may have entered
  // a private cache (L1D/L2) since a streaming transfer last invalidated the
  // whole region. Every private fill goes through this class (access_miss,
  // the L2 streamer, full-line stores), so a 0 is exact: bulk_stream then
  // skips the per-line snoop-filter look-ups of the range. The streamer's
  // lines are not marked one by one: they lie in the demand line's 4 KiB page
  // (StreamPrefetcher::observe_with clamps them to it), whose region
  // access_miss has marked; a prefetcher that crosses a page must mark its own.
  std::vector<std::uint8_t> private_regions_;
  void mark_private(PhysAddr pa) {
    const std::size_t r = static_cast<std::size_t>(pa >> CacheHierarchy::kRegionShift);
    if (r < private_regions_.size()) private_regions_[r] = 1;
  }

  // system.mem.* counters
  std::uint64_t l1_hits_ = 0, l2_hits_ = 0, llc_hits_ = 0, local_dram_ = 0, remote_dram_ = 0;
  std::uint64_t writebacks_ = 0, nt_lines_ = 0, range_lines_ = 0, prefetch_llc_ = 0, prefetch_dram_ = 0;
  std::uint64_t full_line_writes_ = 0, hitm_ = 0, hitm_latency_ps_ = 0;
  std::uint64_t miss_latency_ps_ = 0, local_latency_ps_ = 0, remote_latency_ps_ = 0;
};

}  // namespace numasim::hw
