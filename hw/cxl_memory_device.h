// A CXL Type-3 memory expander as a node's memory device (`cxl`, see
// memory_device.h): its own port and link, its own controller and DRAM, so it
// has its own unloaded latency and its own loaded-latency curve instead of
// being a link in front of the host's DDR4 controller.
//
// A line request from the host's home agent crosses the link downstream
// (M2S: a request header, or a header and 64 B of data for a write), pays the
// port latency (host root port, flit packing and unpacking, PHY, device port),
// is served by the device's memory controller and DRAM (the DramController
// timing engine with the device's own channels, speed and controller latency:
// `media`), and the response crosses back upstream (S2M: a header and 64 B of
// data for a read, a completion header for a write) with the port latency
// again. Messages travel in 68-byte CXL 2.0 flits that carry 64 B of slots
// (the rest is CRC and protocol id), so each direction's wire time is
// (header + data) x 68/64 at the link's raw bandwidth (lanes x lane
// bandwidth); each direction keeps busy intervals (LinkCalendar), so reads
// saturate at the upstream link's payload rate, writes at the downstream one.
//
// Unloaded read = request serialisation + port latency + retimers + media
// (controller + DRAM, bank closed) + response serialisation + port latency +
// retimers.
// Parameters ([device.<name>] with impl = "cxl"; defaults below):
//   port_latency     25ns   one way (chosen: see configs/devices/cxl-type3.toml)
//   retimer_latency  0ns    one way, the retimers between root port and device
//                           together (none by default: see the preset)
//   lanes            16     x16 CXL 2.0 port (x8: 8)
//   lane_bandwidth   4GB/s  one PCIe 5.0 lane at 32 GT/s, one direction
//   flit_bytes       68     bytes on the wire per flit of 64 B of slots
//   request_header   16B    M2S request header (one 16 B slot)
//   response_header  8B     S2M data/completion header (assumed: two per slot)
//   [media]                 DRAM of the device: DDR5-4800 timing on the DDR
//                           engine (each 32-bit subchannel as a channel), 2
//                           DIMM channels = 4 subchannels, 2 ranks, controller 40ns.
//   media_refresh    all_bank  the media's refresh: all_bank (the engine's
//                           REFab, [media] trfc every trefi) or same_bank (DDR5
//                           REFsb, ddr5_device.h: one bank set of a rank held for
//                           media_trfcsb, each bank once per media_trefi2)
//   media_trfcsb     115ns  JESD79-5, 8 Gb (assumed density)
//   media_trefi2     1.95us tREFI1 / 2
// Statistics under system.node<n>.cxl.*, the media under system.node<n>.cxl.media.*.
// Simplifications: no credits or flow control beyond link busy time, no flit
// packing across messages (the 68/64 overhead is applied per message), no
// read/write turnaround in the media (same-bank refresh: as ddr5_device.h), no
// back-invalidation (CXL 3.0), writes are acknowledged after the media write.
#pragma once

#include <cstdint>
#include <string>

#include "common/units.h"
#include "hw/dram_controller.h"
#include "hw/ddr5_device.h"
#include "hw/dram_timing.h"
#include "hw/hw_stats.h"
#include "hw/interconnect.h"
#include "hw/memory_device.h"

namespace numasim::hw {

struct CxlDeviceParams {
  Picoseconds port_latency = Picoseconds(25'000);
  Picoseconds retimer_latency = Picoseconds(0);
  int lanes = 16;
  Bandwidth lane_bandwidth = Bandwidth(4'000'000'000ull);
  std::uint32_t flit_bytes = 68;
  Bytes request_header = Bytes(16);
  Bytes response_header = Bytes(8);
  DramParams media = media_defaults();
  bool media_same_bank_refresh = false;  // media_refresh = "same_bank"
  Picoseconds media_trfcsb = Picoseconds(115'000);
  Picoseconds media_trefi2 = Picoseconds(1'950'000);

  // Two DDR5-4800 channels (DramParams::ddr5_4800) of two ranks behind a 40 ns device controller.
  static DramParams media_defaults();
  // Reads a device table (impl = "cxl"); errors go to the document.
  static CxlDeviceParams from_config(Config c);
  // Empty if consistent, else what is wrong.
  std::string validate() const;

  // One way between the host's home agent and the device's controller: port and retimers.
  Picoseconds one_way() const { return port_latency + retimer_latency; }
  Bandwidth link_bandwidth() const {
    return Bandwidth(lane_bandwidth.bytes_per_second() * static_cast<std::uint64_t>(lanes));
  }
};

class CxlMemoryDevice final : public MemoryDevice {
 public:
  // `name`: statistics prefix (system.node<n>.cxl). Throws std::invalid_argument
  // if the parameters are inconsistent.
  CxlMemoryDevice(const CxlDeviceParams& params, PhysAddr base, std::string name);

  MemoryAccessResult access_line(PhysAddr pa, bool is_write, Picoseconds arrival) override;
  Picoseconds unloaded_latency(bool is_write) const override;
  double peak_bytes_per_second(bool is_write) const override;
  std::string_view impl() const override { return "cxl"; }
  const std::string& name() const override { return name_; }
  void dump(StatsVisitor& v) const override;
  void reset_stats() override;

  const CxlDeviceParams& params() const { return p_; }
  const DramController& media() const { return media_; }
  // Wire time of a message of `bytes` (header + data) in one direction.
  Picoseconds wire_time(Bytes bytes) const;

 private:
  struct Stats {
    std::uint64_t reads = 0, writes = 0;
    std::uint64_t total_latency_ps = 0, total_queueing_ps = 0;
    std::uint64_t link_wait_ps = 0;  // waiting for a busy link direction
    std::uint64_t down_busy_ps = 0, up_busy_ps = 0, down_bytes = 0, up_bytes = 0;
    std::uint64_t first_arrival_ps = ~0ull, last_done_ps = 0;
  };

  CxlDeviceParams p_;
  std::string name_;
  DramController media_;
  // Serialisation of each message kind, precomputed.
  Picoseconds read_req_, write_req_, read_resp_, write_resp_;
  LinkCalendar down_, up_;  // host -> device, device -> host
  SameBankRefresh refsb_;   // media_same_bank_refresh
  std::uint64_t refsb_delays_ = 0;
  Stats stats_;
  Histogram hist_{Picoseconds(10000)};
};

MemoryDeviceSpec cxl_device_from_config(Config table, const DramParams& dram);

}  // namespace numasim::hw
