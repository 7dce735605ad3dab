// CXL Type-3 expander timing (see cxl_memory_device.h): parameters, flit
// serialisation on each link direction, port latency, and the device's DRAM.
#include "hw/cxl_memory_device.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

namespace {
// The media engine's parameters. With same-bank refresh the engine still closes
// each rank's rows once per tREFI2 (as the rank's four REFsb precharge every
// bank once per tREFI2) but blocks nothing (tRFC 0): the device times the REFsb
// windows per bank set (as Ddr5Params::engine()).
DramParams media_engine(const CxlDeviceParams& p) {
  DramParams d = p.media;
  if (p.media_same_bank_refresh) {
    d.refresh = true;
    d.trfc = Picoseconds(0);
    d.trefi = p.media_trefi2;
  }
  return d;
}
}  // namespace

DramParams CxlDeviceParams::media_defaults() {
  DramParams d = DramParams::ddr5_4800(2);
  d.ranks = 2;  // see configs/devices/cxl-type3.toml
  d.frontend_latency = Picoseconds(40'000);
  return d;
}

std::string CxlDeviceParams::validate() const {
  if (lanes != 1 && lanes != 2 && lanes != 4 && lanes != 8 && lanes != 16) return "lanes must be 1, 2, 4, 8 or 16";
  if (lane_bandwidth.bytes_per_second() == 0) return "lane_bandwidth must be positive";
  if (flit_bytes < 64) return "flit_bytes must be at least the 64 B of slots it carries";
  if (media_same_bank_refresh &&
      (media_trfcsb.value() == 0 ||
       media_trfcsb.value() >= media_trefi2.value() / static_cast<std::uint64_t>(media.banks_per_group)))
    return "media_trfcsb must be positive and shorter than media_trefi2 / banks_per_group";
  return media.validate();
}

CxlDeviceParams CxlDeviceParams::from_config(Config c) {
  CxlDeviceParams d;
  CxlDeviceParams p;
  p.port_latency = c.get<Picoseconds>(
      "port_latency", d.port_latency,
      "one-way latency between the host's home agent and the device's controller: root port, flit packing, PHY, "
      "device port",
      {Picoseconds(0), Picoseconds(10'000'000)});
  p.retimer_latency = c.get<Picoseconds>(
      "retimer_latency", d.retimer_latency,
      "one-way latency of the retimers on the link between the root port and the device, together (0: none)",
      {Picoseconds(0), Picoseconds(10'000'000)});
  p.lanes = c.get<int>("lanes", d.lanes, "lanes of the CXL port (x8: 8, x16: 16)", {1, 16});
  if (p.lanes != 1 && p.lanes != 2 && p.lanes != 4 && p.lanes != 8 && p.lanes != 16) {
    c.error("lanes", "a CXL port has 1, 2, 4, 8 or 16 lanes, got " + std::to_string(p.lanes));
    p.lanes = d.lanes;
  }
  p.lane_bandwidth = c.get<Bandwidth>("lane_bandwidth", d.lane_bandwidth,
                                      "raw bandwidth of one lane in one direction (PCIe 5.0, 32 GT/s: 4GB/s)");
  p.flit_bytes = c.get<unsigned>("flit_bytes", d.flit_bytes,
                                 "bytes on the wire per flit carrying 64 B of slots (CXL 2.0: 68)", {64u, 256u});
  p.request_header = c.get<Bytes>("request_header", d.request_header,
                                  "M2S request header per line (read request, or write with its 64 B)",
                                  {Bytes(1), Bytes(256)});
  p.response_header = c.get<Bytes>("response_header", d.response_header,
                                   "S2M header per line (data response, or write completion)", {Bytes(1), Bytes(256)});
  p.media = DramParams::from_config(c.table("media", "the device's DRAM and its memory controller"), d.media);
  p.media_same_bank_refresh =
      c.get_choice("media_refresh", "all_bank", {"all_bank", "same_bank"},
                   "refresh of the media: all_bank (REFab: [media] trfc every trefi) or same_bank (DDR5 REFsb: one "
                   "bank set held for media_trfcsb, each bank once per media_trefi2)") == "same_bank";
  p.media_trfcsb = c.get<Picoseconds>("media_trfcsb", d.media_trfcsb,
                                      "same-bank refresh cycle time of the media (JESD79-5, 8 Gb: 115ns)",
                                      {Picoseconds(1), {}});
  p.media_trefi2 = c.get<Picoseconds>("media_trefi2", d.media_trefi2,
                                      "fine-granularity refresh interval of the media (1.95us)", {Picoseconds(1), {}});
  const std::string err = p.validate();
  if (!err.empty()) {
    c.error("", err);
    return d;
  }
  return p;
}

CxlMemoryDevice::CxlMemoryDevice(const CxlDeviceParams& params, PhysAddr base, std::string name)
    : p_(params), name_(std::move(name)), media_(media_engine(params), base, name_ + ".media") {
  const std::string err = p_.validate();
  if (!err.empty()) throw std::invalid_argument(name_ + ": " + err);
  if (p_.media_same_bank_refresh)
    refsb_ = SameBankRefresh(p_.media_trfcsb, p_.media_trefi2, p_.media.banks_per_group,
                             static_cast<std::uint64_t>(p_.media.channels) * static_cast<std::uint64_t>(p_.media.ranks));
  const Bytes line(kCacheLineBytes);
  read_req_ = wire_time(p_.request_header);
  write_req_ = wire_time(p_.request_header + line);
  read_resp_ = wire_time(p_.response_header + line);
  write_resp_ = wire_time(p_.response_header);
}

Picoseconds CxlMemoryDevice::wire_time(Bytes bytes) const {
  // bytes x flit_bytes / 64 at the link's raw rate, rounded up to a picosecond.
  const unsigned __int128 num = static_cast<unsigned __int128>(bytes.value()) * p_.flit_bytes * 1'000'000'000'000ull;
  const unsigned __int128 den = static_cast<unsigned __int128>(64) * p_.link_bandwidth().bytes_per_second();
  return Picoseconds(static_cast<std::uint64_t>((num + den - 1) / den));
}

MemoryAccessResult CxlMemoryDevice::access_line(PhysAddr pa, bool is_write, Picoseconds arrival) {
  const Picoseconds req = is_write ? write_req_ : read_req_;
  const Picoseconds resp = is_write ? write_resp_ : read_resp_;
  const Picoseconds down = down_.earliest(arrival, req);
  down_.reserve(down, req);
  Picoseconds at_media = down + req + p_.one_way();
  if (p_.media_same_bank_refresh) {
    const DramCoord c = media_.decode(pa);
    const Picoseconds cmd = at_media + p_.media.frontend_latency;
    const Picoseconds ready = refsb_.ready(static_cast<std::uint64_t>(c.channel) * p_.media.ranks + c.rank, c.bank, cmd);
    if (ready > cmd) {
      ++refsb_delays_;
      at_media += ready - cmd;
    }
  }
  const DramResult m = media_.access(pa, is_write, at_media);
  const Picoseconds up = up_.earliest(m.done, resp);
  up_.reserve(up, resp);
  MemoryAccessResult r;
  r.done = up + resp + p_.one_way();
  r.service = req + resp + p_.one_way() + p_.one_way() + m.service;
  const Picoseconds latency = r.done - arrival;
  r.queueing = latency > r.service ? latency - r.service : Picoseconds(0);

  Stats& s = stats_;
  ++(is_write ? s.writes : s.reads);
  s.total_latency_ps += latency.value();
  s.total_queueing_ps += r.queueing.value();
  s.link_wait_ps += (down - arrival).value() + (up - m.done).value();
  s.down_busy_ps += req.value();
  s.up_busy_ps += resp.value();
  s.down_bytes += (p_.request_header + Bytes(is_write ? kCacheLineBytes : 0)).value();
  s.up_bytes += (p_.response_header + Bytes(is_write ? 0 : kCacheLineBytes)).value();
  s.first_arrival_ps = std::min(s.first_arrival_ps, arrival.value());
  s.last_done_ps = std::max(s.last_done_ps, r.done.value());
  hist_.record(latency);
  return r;
}

Picoseconds CxlMemoryDevice::unloaded_latency(bool is_write) const {
  return (is_write ? write_req_ + write_resp_ : read_req_ + read_resp_) + p_.one_way() + p_.one_way() +
         media_.idle_latency(RowOutcome::Closed, is_write);
}

double CxlMemoryDevice::peak_bytes_per_second(bool is_write) const {
  // One line per wire time of the direction that carries the data.
  const Picoseconds per_line = std::max(is_write ? write_req_ : read_resp_, is_write ? write_resp_ : read_req_);
  const double link = static_cast<double>(kCacheLineBytes) / (static_cast<double>(per_line.value()) * 1e-12);
  return std::min(link, media_.peak_bytes_per_second(is_write));
}

void CxlMemoryDevice::reset_stats() {
  stats_ = Stats{};
  refsb_delays_ = 0;
  hist_.reset();
  media_.reset_stats();
}

void CxlMemoryDevice::dump(StatsVisitor& v) const {
  const std::string& n = name_;
  const Stats& s = stats_;
  v.counter(n + ".reads", s.reads, "count", "64B line reads served");
  v.counter(n + ".writes", s.writes, "count", "64B line writes served (write-backs, streaming stores)");
  v.counter(n + ".bytes_read", s.reads * kCacheLineBytes, "bytes", "data read from the device");
  v.counter(n + ".bytes_written", s.writes * kCacheLineBytes, "bytes", "data written to the device");
  v.counter(n + ".link_down_bytes", s.down_bytes, "bytes", "M2S headers and data, host to device (before flit overhead)");
  v.counter(n + ".link_up_bytes", s.up_bytes, "bytes", "S2M headers and data, device to host (before flit overhead)");
  v.counter(n + ".media_refsb_delays", refsb_delays_, "count",
            "requests that found their media bank in a same-bank refresh (REFsb) window");
  v.counter(n + ".link_wait_ps", s.link_wait_ps, "ps", "time requests and responses waited for a busy link direction");
  const double reqs = static_cast<double>(s.reads + s.writes);
  v.formula(n + ".avg_latency_ns", safe_ratio(static_cast<double>(s.total_latency_ps), reqs) / 1000.0, "ns",
            "mean time from the request leaving the host's home agent to the response back at it");
  v.formula(n + ".avg_queueing_ns", safe_ratio(static_cast<double>(s.total_queueing_ps), reqs) / 1000.0, "ns",
            "mean time above the unloaded latency (link and media queueing)");
  const double span = s.last_done_ps > s.first_arrival_ps && reqs > 0
                          ? static_cast<double>(s.last_done_ps - s.first_arrival_ps) * 1e-12
                          : 0.0;
  v.formula(n + ".bandwidth_bytes_per_s", safe_ratio(reqs * kCacheLineBytes, span), "bytes/s",
            "bytes moved / (last completion - first arrival)");
  v.formula(n + ".link_down_utilisation", safe_ratio(static_cast<double>(s.down_busy_ps), span * 1e12), "ratio",
            "host-to-device wire time / elapsed time");
  v.formula(n + ".link_up_utilisation", safe_ratio(static_cast<double>(s.up_busy_ps), span * 1e12), "ratio",
            "device-to-host wire time / elapsed time");
  const DramStats& m = media_.stats();
  v.formula(n + ".row_hit_ratio",
            safe_ratio(static_cast<double>(m.row_hits), static_cast<double>(m.reads + m.writes)), "ratio",
            "row hits / accesses of the device's DRAM");
  v.histogram(n + ".latency", hist_, "ps", "request latency at the device (home agent to home agent)");
  media_.dump(v);
}

MemoryDeviceSpec cxl_device_from_config(Config table, const DramParams&) {
  const CxlDeviceParams p = CxlDeviceParams::from_config(table);
  MemoryDeviceSpec s;
  s.impl = "cxl";
  s.make = [p](const MemoryDeviceSite& site) -> std::unique_ptr<MemoryDevice> {
    return std::make_unique<CxlMemoryDevice>(p, site.base, site.node_name + ".cxl");
  };
  return s;
}

}  // namespace numasim::hw
