// DDR5 as a node's memory device (`ddr5`, see memory_device.h): the DDR
// timing engine (DramController) with each DDR5 channel split into its two
// independent 32-bit subchannels, 8 bank groups x 4 banks per rank (JEDEC
// JESD79-5 for 8-32 Gb x4/x8 devices), BL16 (64 B per subchannel burst in
// 8 tCK), and DDR5's same-bank refresh.
//
// Same-bank refresh (JESD79-5, 4.13): in fine-granularity refresh mode the
// controller may refresh with REFsb instead of REFab. A REFsb refreshes one
// bank address in every bank group of a rank (a "bank set": bank k of all 8
// groups) and holds only those banks for tRFCsb (16 Gb: 130 ns), while the
// other 24 banks keep serving. Every bank must be refreshed once per tREFI2
// (= tREFI1 / 2 = 1.95 us), so a rank receives one REFsb every tREFI2 / 4,
// rotating through the four bank sets. Here REFsb commands are issued at
// fixed, staggered instants: bank set k of rank r of subchannel c at
// offset(c, r) + k * tREFI2/4 + n * tREFI2; a request whose command would
// reach a bank inside its window waits for the window's end.
// Postponement and pull-in (refsb_postpone = P > 0): the controller may
// postpone up to P REFsb of a bank set while it has requests for it, and pull
// up to P in ahead of their slots while it is idle (JESD79-5's refresh
// flexibility, as the DDR4 controller's 8 x tREFI; P = 4 as issue 16 quotes
// JESD79-5 for REFsb). Per bank set the device keeps how many REFsb it owes
// (negative: pulled in) and when its last request finished; a request finds
// the refreshes due since the previous one added to what is owed, and the
// idle gap since that request (no request of the bank set in it) pays what
// it can hold (one REFsb per tRFCsb of gap), owed ones first, then up to P
// pulled in. A request inside a REFsb slot waits only when more than P would
// be owed: then the refresh is issued at the slot (or after the bank set's
// last request, if later) and the request waits for its end. An idle bank set
// thus never makes a request wait (the pull-in is decided once the next request
// shows the gap was long enough: hindsight a controller does not have); a
// saturated one pays every slot, as without postponement. A request stamped
// inside a REFsb issued in a gap (a core behind the others within its quantum)
// waits for it.
// With refresh = "all_bank" the engine's own all-bank refresh (tRFC1 every
// tREFI1, the whole rank) is used instead: JEDEC's normal refresh mode, the
// DDR5-4800 preset's (no source says whether SPR's or Genoa's controllers issue
// REFsb; the preset explains the choice); "none" disables refresh.
//
// Parameters ([device.<name>] with impl = "ddr5"; preset
// configs/devices/ddr5-4800.toml):
//   channels      DDR5 channels (one DIMM each) of the node, default 8
//   subchannels   32-bit subchannels per channel, default 2
//   refresh       same_bank | all_bank | none, default same_bank
//   trfcsb        same-bank refresh cycle time, default 130ns (16 Gb)
//   trefi2        fine-granularity refresh interval, default 1.95us
//   refsb_postpone  REFsb a bank set may postpone (and pull in), default 0
//                 (fixed slots); the preset sets 4
//   [subchannel]  the DRAM of one subchannel: timing in tCK and organisation
//                 (the [dram] keys; defaults DramParams::ddr5_4800, JEDEC
//                 DDR5-4800B 40-39-39); channels and refresh are set above.
// Statistics: the engine's under system.node<n>.mc.* plus
// system.node<n>.mc.refsb_delays / refsb_delay_ps (and, with refsb_postpone,
// refsb_idle_issued / refsb_postponed).
// Simplifications: rows are closed by refresh once per tREFI2 for a whole rank
// at once (the engine's refresh instant with tRFC 0), not bank set by bank set
// at each REFsb; without refsb_postpone refresh is never postponed or pulled
// in (with it, a late request (stamped before the bank set's latest) waits
// only for the last forced refresh); the delay is taken at the request's
// arrival plus the controller's front end, not at the exact command slot;
// read/write turnarounds and write back-pressure are the engine's write queue
// ([subchannel] write_queue, on in the DDR5-4800 preset); no read queue
// (reads are timed on arrival).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/dram_controller.h"
#include "hw/dram_timing.h"
#include "hw/fast_divider.h"
#include "hw/memory_device.h"

namespace numasim::hw {

enum class Ddr5Refresh : std::uint8_t { SameBank, AllBank, None };

// The REFsb schedule of a set of ranks (see above): schedule s (a subchannel's
// rank, s = channel * ranks + rank) refreshes bank set k at
// s * stagger + k * tREFI2/banks_per_group + n * tREFI2 for tRFCsb. Also used
// by the CXL expander's DDR5 media (cxl_memory_device.h).
class SameBankRefresh {
 public:
  SameBankRefresh() = default;
  // `schedules`: ranks x channels of the engine; trfcsb < trefi2 / banks_per_group.
  SameBankRefresh(Picoseconds trfcsb, Picoseconds trefi2, int banks_per_group, std::uint64_t schedules);
  // REFsb slots of bank set `bank` of `schedule` that have started at or
  // before t (0 before the first).
  std::uint64_t slots_started(std::uint64_t schedule, std::uint32_t bank, Picoseconds t) const {
    const std::uint64_t start = schedule * stagger_ps_ + bank * spacing_ps_;
    return t.value() < start ? 0 : trefi2_.divide(t.value() - start) + 1;
  }
  // Start of the slot that contains t (or the latest before it); t must be at
  // or after the first slot.
  Picoseconds slot_start(std::uint64_t schedule, std::uint32_t bank, Picoseconds t) const {
    const std::uint64_t start = schedule * stagger_ps_ + bank * spacing_ps_;
    return Picoseconds(start + trefi2_.divide(t.value() - start) * trefi2_.divisor());
  }
  // Earliest time at or after t when bank `bank` (within its group) of schedule
  // `schedule` is outside its REFsb window.
  Picoseconds ready(std::uint64_t schedule, std::uint32_t bank, Picoseconds t) const {
    const std::uint64_t start = schedule * stagger_ps_ + bank * spacing_ps_;  // < trefi2
    if (t.value() < start) return t;
    const std::uint64_t u = t.value() - start;
    const std::uint64_t phase = u - trefi2_.divide(u) * trefi2_.divisor();
    return phase < trfcsb_ps_ ? Picoseconds(t.value() + (trfcsb_ps_ - phase)) : t;
  }

 private:
  FastDivider trefi2_;
  std::uint64_t trfcsb_ps_ = 0;
  std::uint64_t spacing_ps_ = 0;  // tREFI2 / banks per group
  std::uint64_t stagger_ps_ = 0;  // between consecutive schedules
};

struct Ddr5Params {
  int channels = 8;     // DDR5 channels (DIMMs)
  int subchannels = 2;  // 32-bit subchannels per channel
  Ddr5Refresh refresh = Ddr5Refresh::SameBank;
  Picoseconds trfcsb = Picoseconds(130'000);   // JESD79-5, 16 Gb (8 Gb: 115 ns)
  Picoseconds trefi2 = Picoseconds(1'950'000); // tREFI1 / 2
  int refsb_postpone = 0;                      // REFsb a bank set may postpone or pull in (0: fixed slots)
  DramParams subchannel = DramParams::ddr5_4800(4);  // channels/refresh overwritten by engine()

  // The engine's parameters: one engine channel per subchannel; in same_bank
  // mode the engine's refresh only closes rows (tRFC 0 every tREFI2).
  DramParams engine() const;
  // Empty if consistent, else what is wrong.
  std::string validate() const;
  // Reads the device table (errors located in the document; returns defaults on error).
  static Ddr5Params from_config(Config c);
};

class Ddr5Device final : public MemoryDevice {
 public:
  // `name`: statistics prefix (system.node<n>.mc). Throws std::invalid_argument
  // if the parameters are inconsistent.
  Ddr5Device(const Ddr5Params& params, PhysAddr base, std::string name);

  MemoryAccessResult access_line(PhysAddr pa, bool is_write, Picoseconds arrival) override;
  Picoseconds unloaded_latency(bool is_write) const override {
    return engine_.idle_latency(RowOutcome::Closed, is_write);
  }
  double peak_bytes_per_second(bool is_write) const override { return engine_.peak_bytes_per_second(is_write); }
  std::string_view impl() const override { return "ddr5"; }
  const std::string& name() const override { return name_; }
  void dump(StatsVisitor& v) const override;
  void reset_stats() override;

  const Ddr5Params& params() const { return p_; }
  const DramController& engine() const { return engine_; }
  // Earliest time at or after t (a command's time) when bank `bank` (within its
  // group) of rank `rank` of engine channel `channel` is outside a REFsb window.
  Picoseconds refsb_ready(std::uint32_t channel, std::uint32_t rank, std::uint32_t bank, Picoseconds t) const;
  std::uint64_t refsb_delays() const { return refsb_delays_; }
  // With refsb_postpone: REFsb issued in idle gaps (owed or pulled in), and
  // REFsb postponed at their slot because the bank set was busy.
  std::uint64_t refsb_idle_issued() const { return refsb_idle_; }
  std::uint64_t refsb_postponed() const { return refsb_postponed_; }

 private:
  Ddr5Params p_;
  std::string name_;
  DramController engine_;
  SameBankRefresh refsb_;
  std::uint64_t refsb_delays_ = 0, refsb_delay_ps_ = 0;
  // refsb_postpone: per bank set (schedule x banks_per_group) what it owes.
  struct BankSetRefresh {
    Picoseconds seen{0};                       // latest request time (command) seen
    Picoseconds last_done{0};                  // when the bank set's latest request finished
    std::uint64_t slots = 0;                   // REFsb slots started by `seen`
    std::int64_t owed = 0;                     // REFsb due and not issued (negative: pulled in)
    Picoseconds forced_from{0}, forced_to{0};  // the latest forced REFsb window
    Picoseconds idle_from{0}, idle_to{0};      // the latest idle-issued REFsb (back to back in a gap)
  };
  std::vector<BankSetRefresh> sets_;
  std::uint64_t refsb_idle_ = 0, refsb_postponed_ = 0;
  BankSetRefresh& bank_set(std::uint64_t schedule, std::uint32_t bank) {
    return sets_[schedule * static_cast<std::uint64_t>(p_.subchannel.banks_per_group) + bank];
  }
  // The wait of a request whose command reaches bank set `bank` of `schedule` (`b`) at `cmd`.
  Picoseconds postponed_refsb_wait(BankSetRefresh& b, std::uint64_t schedule, std::uint32_t bank, Picoseconds cmd);
};

MemoryDeviceSpec ddr5_device_from_config(Config table, const DramParams& dram);

}  // namespace numasim::hw
