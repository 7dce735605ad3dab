// TLM-2.0 target wrapper of a MemoryDevice (see memory_controller_module.h).
#include "hw/memory_controller_module.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace numasim::hw {

namespace {
std::uint64_t resolution_ps() {
  static const std::uint64_t res = [] {
    const double ps = sc_core::sc_get_time_resolution().to_seconds() * 1e12;
    const auto r = static_cast<std::uint64_t>(std::llround(ps));
    if (r == 0 || std::fabs(ps - static_cast<double>(r)) > 1e-6) {
      std::fprintf(stderr, "numasim: SystemC time resolution must be a whole number of picoseconds\n");
      std::abort();
    }
    return r;
  }();
  return res;
}
}  // namespace

Picoseconds to_picoseconds(const sc_core::sc_time& t) { return Picoseconds(t.value() * resolution_ps()); }

sc_core::sc_time to_sc_time(Picoseconds t) {
  return sc_core::sc_time::from_value(t.value() / resolution_ps());
}

MemoryControllerModule::MemoryControllerModule(sc_core::sc_module_name name, MemoryDevice& device, PhysAddr base,
                                               Bytes size)
    : sc_core::sc_module(name), socket("socket"), dev_(device), base_(base), size_(size.value()) {
  socket.register_b_transport(this, &MemoryControllerModule::b_transport);
}

void MemoryControllerModule::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  ++transactions_;
  const tlm::tlm_command cmd = trans.get_command();
  if (cmd == tlm::TLM_IGNORE_COMMAND) {
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  if (trans.get_byte_enable_ptr() != nullptr) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  const std::uint64_t addr = trans.get_address();
  const std::uint64_t len = trans.get_data_length();
  if (len == 0 || addr < base_ || addr - base_ >= size_ || len > size_ - (addr - base_)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  const Picoseconds t0 = to_picoseconds(sc_core::sc_time_stamp() + delay);
  const bool is_write = cmd == tlm::TLM_WRITE_COMMAND;
  Picoseconds done = t0;
  const std::uint64_t first = addr & ~(kCacheLineBytes - 1);
  for (std::uint64_t line = first; line < addr + len; line += kCacheLineBytes)
    done = std::max(done, dev_.access_line(line, is_write, t0).done);
  delay += to_sc_time(done - t0);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace numasim::hw

// libsystemc refers to sc_main; programs using these modules have their own
// main(). Weak, like the one in core.cpp, so that either (or a real sc_main) links.
__attribute__((weak)) int sc_main(int, char**) {
  std::fprintf(stderr, "numasim: sc_main is not used\n");
  return 1;
}
