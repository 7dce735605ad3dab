// DDR5 memory device (see ddr5_device.h): subchannels as channels of the DDR
// timing engine, and same-bank refresh (REFsb) windows per bank set.
#include "hw/ddr5_device.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

DramParams Ddr5Params::engine() const {
  DramParams d = subchannel;
  d.channels = channels * subchannels;
  d.refresh = refresh != Ddr5Refresh::None;
  if (refresh == Ddr5Refresh::SameBank) {
    // The engine keeps closing each rank's rows once per tREFI2, as the four
    // REFsb of a rank precharge each bank once per tREFI2, but blocks nothing
    // (tRFC 0): the REFsb windows are timed by the device, per bank set.
    d.trfc = Picoseconds(0);
    d.trefi = trefi2;
  }
  return d;
}

std::string Ddr5Params::validate() const {
  if (channels < 1 || channels > 32) return "channels must be 1 to 32";
  if (subchannels != 1 && subchannels != 2) return "subchannels must be 1 or 2";
  if (refsb_postpone < 0 || refsb_postpone > 8) return "refsb_postpone must be 0 to 8";
  if (refresh == Ddr5Refresh::SameBank) {
    if (trefi2.value() == 0) return "trefi2 must be positive";
    const std::uint64_t spacing = trefi2.value() / static_cast<std::uint64_t>(subchannel.banks_per_group);
    if (trfcsb.value() == 0 || trfcsb.value() >= spacing)
      return "trfcsb must be positive and shorter than trefi2 / banks_per_group (one REFsb per bank set per trefi2)";
  }
  return engine().validate();
}

Ddr5Params Ddr5Params::from_config(Config c) {
  const Ddr5Params d;
  Ddr5Params p;
  p.channels = c.get<int>("channels", d.channels, "DDR5 channels of the node (one DIMM each); each has `subchannels`",
                          {1, 32});
  p.subchannels = c.get<int>("subchannels", d.subchannels, "independent 32-bit subchannels per DDR5 channel", {1, 2});
  const std::string mode =
      c.get_choice("refresh", "same_bank", {"same_bank", "all_bank", "none"},
                   "same_bank: REFsb per bank set every trefi2/4 (tRFCsb); all_bank: REFab (the subchannel's trfc "
                   "every trefi); none");
  p.refresh = mode == "all_bank" ? Ddr5Refresh::AllBank : mode == "none" ? Ddr5Refresh::None : Ddr5Refresh::SameBank;
  p.trfcsb = c.get<Picoseconds>(
      "trfcsb", d.trfcsb, "same-bank refresh cycle time (JESD79-5, 16 Gb: 130ns; 8 Gb: 115ns)", {Picoseconds(1), {}});
  p.trefi2 = c.get<Picoseconds>("trefi2", d.trefi2,
                                "fine-granularity refresh interval: every bank gets one REFsb per trefi2 (1.95us)",
                                {Picoseconds(1), {}});
  p.refsb_postpone = c.get<int>("refsb_postpone", d.refsb_postpone,
                                "REFsb a bank set may postpone while busy and pull in while idle (JESD79-5 refresh "
                                "flexibility; 0: fixed REFsb slots)",
                                {0, 8});
  Config sub = c.table("subchannel", "the DRAM of one 32-bit subchannel: DDR timing in tCK and organisation");
  if (sub.has("channels")) sub.error("channels", "set `channels` (DDR5 channels) in the device table, not per subchannel");
  if (sub.has("refresh")) sub.error("refresh", "set `refresh` (same_bank, all_bank, none) in the device table");
  p.subchannel = DramParams::from_config(sub, DramParams::ddr5_4800(p.channels));
  const std::string err = p.validate();
  if (!err.empty()) {
    c.error("", err);
    return d;
  }
  return p;
}

SameBankRefresh::SameBankRefresh(Picoseconds trfcsb, Picoseconds trefi2, int banks_per_group,
                                 std::uint64_t schedules)
    : trefi2_(trefi2.value()), trfcsb_ps_(trfcsb.value()) {
  spacing_ps_ = trefi2.value() / static_cast<std::uint64_t>(banks_per_group);
  stagger_ps_ = spacing_ps_ / (schedules == 0 ? 1 : schedules);
}

Ddr5Device::Ddr5Device(const Ddr5Params& params, PhysAddr base, std::string name)
    : p_(params), name_(std::move(name)), engine_(params.engine(), base, name_) {
  const std::string err = p_.validate();
  if (!err.empty()) throw std::invalid_argument(name_ + ": " + err);
  const std::uint64_t schedules = static_cast<std::uint64_t>(p_.channels) * p_.subchannels * p_.subchannel.ranks;
  refsb_ = SameBankRefresh(p_.trfcsb, p_.trefi2, p_.subchannel.banks_per_group, schedules);
  sets_.assign(schedules * static_cast<std::uint64_t>(p_.subchannel.banks_per_group), BankSetRefresh{});
}

Picoseconds Ddr5Device::postponed_refsb_wait(BankSetRefresh& b, std::uint64_t schedule, std::uint32_t bank,
                                             Picoseconds cmd) {
  const Picoseconds zero(0);
  if (cmd < b.seen) {
    // Stamped before the bank set's latest request (another core ahead within
    // its quantum): what was decided stands; it waits only inside the latest
    // forced REFsb window or the latest REFsb issued in what looked like an
    // idle gap (a core ahead in its quantum sees the gap before the cores
    // behind fill it: in time order this request would have found the REFsb
    // there, or no gap). The two are kept apart: a pull-in after a forced
    // REFsb does not release the requests stamped inside the forced one.
    if (cmd >= b.forced_from && cmd < b.forced_to) return b.forced_to - cmd;
    return cmd >= b.idle_from && cmd < b.idle_to ? b.idle_to - cmd : zero;
  }
  const std::uint64_t slots = refsb_.slots_started(schedule, bank, cmd);
  b.owed += static_cast<std::int64_t>(slots - b.slots);
  b.slots = slots;
  // The idle gap since the bank set's latest request holds one REFsb per tRFCsb:
  // owed ones first, then pulled in, up to refsb_postpone ahead.
  const std::int64_t cap = p_.refsb_postpone;
  if (cmd > b.last_done && b.owed > -cap) {
    const auto fit = static_cast<std::int64_t>((cmd - b.last_done).value() / p_.trfcsb.value());
    const std::int64_t n = std::min(fit, b.owed + cap);
    b.owed -= n;
    refsb_idle_ += static_cast<std::uint64_t>(n);
    if (n > 0) {  // back to back from the gap's start
      b.idle_from = b.last_done;
      b.idle_to = b.last_done + p_.trfcsb * static_cast<std::uint64_t>(n);
    }
  }
  b.seen = cmd;
  if (b.owed > cap) {
    // More than refsb_postpone owed: one is issued now, at the latest slot (or
    // once the bank set's latest request is done, if later).
    const Picoseconds from = std::max(refsb_.slot_start(schedule, bank, cmd), std::min(b.last_done, cmd));
    b.forced_from = from;
    b.forced_to = from + p_.trfcsb;
    --b.owed;
  } else if (b.owed > 0 && refsb_.ready(schedule, bank, cmd) > cmd) {
    ++refsb_postponed_;  // inside its slot, the bank set busy: the REFsb waits
  }
  // Requests reaching the bank set during a forced REFsb wait for its end.
  return cmd >= b.forced_from && cmd < b.forced_to ? b.forced_to - cmd : zero;
}

Picoseconds Ddr5Device::refsb_ready(std::uint32_t channel, std::uint32_t rank, std::uint32_t bank,
                                    Picoseconds t) const {
  return refsb_.ready(static_cast<std::uint64_t>(channel) * p_.subchannel.ranks + rank, bank, t);
}

MemoryAccessResult Ddr5Device::access_line(PhysAddr pa, bool is_write, Picoseconds arrival) {
  // The same-bank refresh wait of the request's bank set, from its command time.
  Picoseconds wait(0);
  BankSetRefresh* set = nullptr;  // with postponement: the bank set whose last_done follows the request
  if (p_.refresh == Ddr5Refresh::SameBank) {
    const DramCoord c = engine_.decode(pa);
    const std::uint64_t schedule = static_cast<std::uint64_t>(c.channel) * p_.subchannel.ranks + c.rank;
    const Picoseconds cmd = arrival + p_.subchannel.frontend_latency;
    if (p_.refsb_postpone > 0) {
      set = &bank_set(schedule, c.bank);
      wait = postponed_refsb_wait(*set, schedule, c.bank, cmd);
    } else {
      const Picoseconds ready = refsb_.ready(schedule, c.bank, cmd);
      if (ready > cmd) wait = ready - cmd;
    }
    if (wait.value() > 0) {
      ++refsb_delays_;
      refsb_delay_ps_ += wait.value();
    }
  }
  const DramResult r = engine_.access(pa, is_write, arrival + wait);
  if (set) set->last_done = std::max(set->last_done, r.done);
  MemoryAccessResult out{r.done, r.service, r.queueing};
  // The refresh wait is queueing seen from the request's arrival.
  const Picoseconds latency = out.done - arrival;
  out.queueing = latency > out.service ? latency - out.service : Picoseconds(0);
  return out;
}

void Ddr5Device::reset_stats() {
  engine_.reset_stats();
  refsb_delays_ = 0;
  refsb_delay_ps_ = 0;
  refsb_idle_ = 0;
  refsb_postponed_ = 0;
}

void Ddr5Device::dump(StatsVisitor& v) const {
  engine_.dump(v);
  v.counter(name_ + ".refsb_delays", refsb_delays_, "count",
            "requests that found their bank in a same-bank refresh (REFsb) window");
  v.counter(name_ + ".refsb_delay_ps", refsb_delay_ps_, "ps", "time requests waited for REFsb windows to end");
  v.counter(name_ + ".refsb_idle_issued", refsb_idle_, "count",
            "REFsb issued in a bank set's idle gap, owed or pulled in (refsb_postpone > 0)");
  v.counter(name_ + ".refsb_postponed", refsb_postponed_, "count",
            "requests inside a REFsb slot that went ahead, the REFsb postponed (refsb_postpone > 0)");
}

MemoryDeviceSpec ddr5_device_from_config(Config table, const DramParams&) {
  const Ddr5Params p = Ddr5Params::from_config(table);
  MemoryDeviceSpec s;
  s.impl = "ddr5";
  s.make = [p](const MemoryDeviceSite& site) -> std::unique_ptr<MemoryDevice> {
    return std::make_unique<Ddr5Device>(p, site.base, site.node_name + ".mc");
  };
  return s;
}

}  // namespace numasim::hw
