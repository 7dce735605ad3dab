// A CXL memory device driven directly, as the system tests of the CXL expander
// (cxl_fidelity_test.cpp, emerald_rapids_cxl_test.cpp) load it: random lines
// of a 4 GiB range, Poisson arrivals at an offered rate, one 64 B line per
// request, a share of them reads. Leaves out everything on the host's side of
// the device (the cores' limits on outstanding misses, the mesh, the link to
// the I/O stop): the tests add the host's part of the idle latency.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>

#include "common/config.h"
#include "hw/cxl_memory_device.h"

namespace numasim::testing {

// The [device.<name>] table of the configuration file `path` as a CXL device.
inline hw::CxlDeviceParams cxl_device_of(const std::string& path, const std::string& name) {
  auto doc = ConfigDocument::from_file(path);
  Config dev = doc->root().table("device").table(name);
  dev.ignore("impl");
  return hw::CxlDeviceParams::from_config(dev);
}

// Offered load `gbps` of random lines (a fraction `read_share` reads) on a fresh
// device; returns {achieved GB/s, mean read latency ns} over the last three
// quarters of `n` requests (the first quarter warms the device's queues up).
inline std::pair<double, double> drive_cxl(const hw::CxlDeviceParams& p, double gbps, double read_share,
                                           int n = 40000) {
  constexpr std::uint64_t kLines = (4ull << 30) / 64;
  hw::CxlMemoryDevice dev(p, 0, "cxl");
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> gap(gbps * 1e9 / 64.0 / 1e12);  // per ps
  std::uniform_real_distribution<double> u(0, 1);
  double t = 0, lat_sum = 0;
  int reads = 0;
  Picoseconds first_done{0}, last_done{0};
  for (int i = 0; i < n; ++i) {
    t += gap(rng);
    const Picoseconds at(static_cast<std::uint64_t>(t));
    const bool w = u(rng) >= read_share;
    const Picoseconds done = dev.access_line((rng() % kLines) * 64, w, at).done;
    if (i == n / 4) first_done = done;
    if (i > n / 4) {
      last_done = std::max(last_done, done);
      if (!w) {
        lat_sum += static_cast<double>((done - at).value());
        ++reads;
      }
    }
  }
  const double achieved =
      static_cast<double>((n - n / 4 - 1) * 64) / static_cast<double>((last_done - first_done).value()) * 1e3;
  return {achieved, lat_sum / reads / 1000.0};
}

// The device's unloaded read latency in ns.
inline double cxl_idle_ns(const hw::CxlDeviceParams& p) {
  return static_cast<double>(hw::CxlMemoryDevice(p, 0, "idle").unloaded_latency(false).value()) / 1000.0;
}

}  // namespace numasim::testing
