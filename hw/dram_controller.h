// The memory controller of one NUMA node and its DRAM: channels, ranks, bank
// groups and banks with row buffers, timed with DDR constraints (dram_timing.h).
// Contention is approximated with next-free timestamps (DESIGN.md, Timing):
// each bank remembers its open row and when it may next be activated,
// precharged or read; each rank its recent activates (tRRD, tFAW) and column
// commands (tCCD_S/L); each channel when its data bus is next free. A request
// is served in arrival order of calls: it takes the earliest instant that
// satisfies every constraint, and the resources it used are pushed forward. So
// bandwidth saturates at the burst-limited peak and latency rises with load.
// Simplifications: first-come first-served per call (no FR-FCFS reordering);
// requests whose timestamps go backwards in time still queue behind later ones
// (temporal-decoupling error); no command-bus conflicts; writes are timed like
// reads with CWL and write recovery, without read/write turnaround.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/dram_timing.h"
#include "hw/hw_stats.h"

namespace numasim::hw {

enum class RowOutcome : std::uint8_t { Hit, Closed, Conflict };

struct DramCoord {
  std::uint32_t channel = 0, rank = 0, bank_group = 0, bank = 0;  // bank within its group
  std::uint64_t row = 0, column = 0;
};

struct DramResult {
  Picoseconds done;       // last data beat transferred
  Picoseconds service;    // unloaded time this request would take (frontend + DRAM)
  Picoseconds queueing;   // done - arrival - service
  RowOutcome outcome = RowOutcome::Hit;
};

struct DramStats {
  std::uint64_t reads = 0, writes = 0;
  std::uint64_t row_hits = 0, row_closed = 0, row_conflicts = 0;
  std::uint64_t activates = 0, precharges = 0;
  std::uint64_t bytes_read = 0, bytes_written = 0;
  std::uint64_t refresh_delays = 0;     // requests pushed past a refresh window
  std::uint64_t total_latency_ps = 0;   // sum over requests of done - arrival
  std::uint64_t total_queueing_ps = 0;
  std::uint64_t bus_busy_ps = 0;        // summed over channels
  std::uint64_t first_arrival_ps = ~0ull, last_done_ps = 0;
};

class DramController {
 public:
  // `base`: first physical address of the node (subtracted before mapping).
  // Throws std::invalid_argument if params.validate() fails.
  DramController(const DramParams& params, PhysAddr base, std::string name);

  // One 64-byte line read or written, arriving at the controller at `arrival`.
  DramResult access(PhysAddr pa, bool is_write, Picoseconds arrival);

  DramCoord decode(PhysAddr pa) const;
  // Unloaded latency of each outcome (frontend + DRAM commands + burst).
  Picoseconds idle_latency(RowOutcome outcome, bool is_write = false) const;

  const DramParams& params() const { return p_; }
  const std::string& name() const { return name_; }
  const DramStats& stats() const { return stats_; }
  const Histogram& latency_histogram() const { return hist_; }
  void reset_stats();
  // Forget all row-buffer and timing state (closed rows, everything free at 0).
  void reset_state();
  // <name>.reads, .row_hits, .row_hit_ratio, .bandwidth_bytes_per_s, .latency (histogram) ...
  void dump(StatsVisitor& v) const;

 private:
  struct Bank {
    std::uint64_t open_row = kNoRow;
    std::uint64_t refresh_epoch = 0;
    Picoseconds next_act{0};  // earliest ACT (after precharge completes)
    Picoseconds next_pre{0};  // earliest PRE (tRAS, tRTP, tWR)
    Picoseconds next_cas{0};  // earliest column command to this bank
    Picoseconds last_act{0};
  };
  struct Rank {
    std::array<Picoseconds, 4> act_window{};  // last four ACT times (tFAW)
    int act_head = 0;
    Picoseconds last_act{0};
    int last_act_bg = -1;
    Picoseconds last_cas{0};
    int last_cas_bg = -1;
  };
  struct Channel {
    Picoseconds bus_free{0};
    int last_rank = -1;
  };
  static constexpr std::uint64_t kNoRow = ~0ull;

  Picoseconds refresh_adjust(std::uint32_t rank, Picoseconds t, bool* delayed) const;
  std::uint64_t refresh_epoch(std::uint32_t rank, Picoseconds t) const;
  Picoseconds activate_constraint(const Rank& r, std::uint32_t bg, Picoseconds t) const;

  DramParams p_;
  PhysAddr base_;
  std::string name_;
  std::vector<DramField> fields_;  // least significant first
  std::vector<std::uint64_t> radix_;
  std::vector<Bank> banks_;        // [channel][rank][bank_group][bank]
  std::vector<Rank> ranks_;        // [channel][rank]
  std::vector<Channel> channels_;
  DramStats stats_;
  Histogram hist_{Picoseconds(10000)};  // 10 ns buckets up to 640 ns
};

}  // namespace numasim::hw
