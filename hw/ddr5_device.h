// DDR5 as a node's memory device (`ddr5`, see memory_device.h): the DDR
// timing engine (DramController) with each DDR5 channel split into its two
// independent 32-bit subchannels, 8 bank groups x 4 banks per rank (JEDEC
// JESD79-5 for 8-32 Gb x4/x8 devices), BL16 (64 B per subchannel burst in
// 8 tCK), and DDR5's same-bank refresh.
//
// Same-bank refresh (JESD79-5, 4.13): in fine-granularity refresh mode the
// controller may refresh with REFsb instead of REFab. A REFsb refreshes one
// bank address in every bank group of a rank (a "bank set": bank k of all 8
// groups) and holds only those banks for tRFCsb (16 Gb: 115 ns), while the
// other 24 banks keep serving. Every bank must be refreshed once per tREFI2
// (= tREFI1 / 2 = 1.95 us), so a rank receives one REFsb every tREFI2 / 4,
// rotating through the four bank sets. Here REFsb commands are issued at
// fixed, staggered instants: bank set k of rank r of subchannel c at
// offset(c, r) + k * tREFI2/4 + n * tREFI2; a request whose command would
// reach a bank inside its window waits for the window's end.
// With refresh = "all_bank" the engine's own all-bank refresh (tRFC1 every
// tREFI1, the whole rank) is used instead; "none" disables refresh.
//
// Parameters ([device.<name>] with impl = "ddr5"; preset
// configs/devices/ddr5-4800.toml):
//   channels      DDR5 channels (one DIMM each) of the node, default 8
//   subchannels   32-bit subchannels per channel, default 2
//   refresh       same_bank | all_bank | none, default same_bank
//   trfcsb        same-bank refresh cycle time, default 115ns (16 Gb)
//   trefi2        fine-granularity refresh interval, default 1.95us
//   [subchannel]  the DRAM of one subchannel: timing in tCK and organisation
//                 (the [dram] keys; defaults DramParams::ddr5_4800, JEDEC
//                 DDR5-4800B 40-39-39); channels and refresh are set above.
// Statistics: the engine's under system.node<n>.mc.* plus
// system.node<n>.mc.refsb_delays / refsb_delay_ps.
// Simplifications: rows are closed by refresh once per tREFI2 for a whole rank
// at once (the engine's refresh instant with tRFC 0), not bank set by bank set
// at each REFsb; refresh is never postponed or pulled
// in; the delay is taken at the request's arrival plus the controller's front
// end, not at the exact command slot; no read/write turnaround (the engine's).
#pragma once

#include <cstdint>
#include <string>

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
  Picoseconds trfcsb = Picoseconds(115'000);   // JESD79-5, 16 Gb
  Picoseconds trefi2 = Picoseconds(1'950'000); // tREFI1 / 2
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

 private:
  Ddr5Params p_;
  std::string name_;
  DramController engine_;
  SameBankRefresh refsb_;
  std::uint64_t refsb_delays_ = 0, refsb_delay_ps_ = 0;
};

MemoryDeviceSpec ddr5_device_from_config(Config table, const DramParams& dram);

}  // namespace numasim::hw
