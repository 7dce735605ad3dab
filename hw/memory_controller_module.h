// SystemC/TLM-2.0 face of a node's memory device (DESIGN.md: TLM-2.0
// models, loosely timed). A tlm_utils::simple_target_socket whose b_transport
// times the transaction with the same MemoryDevice (a DramController, a CXL
// expander ...) the fast path (MemorySystem::access) uses, and adds the
// latency to the annotated delay: it
// never calls wait(), so initiators with a quantum keeper run ahead freely.
// A transaction covering several 64-byte lines issues them all at the
// transaction's local time; the delay grows by the time until the last
// completes. Timing only: the data pointer is neither read nor written.
// Responses: TLM_OK_RESPONSE; TLM_ADDRESS_ERROR_RESPONSE outside [base, base+size);
// TLM_COMMAND_ERROR_RESPONSE for TLM_IGNORE_COMMAND; TLM_BYTE_ENABLE_ERROR_RESPONSE
// when byte enables are given. No DMI, no debug transport.
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "common/units.h"
#include "hw/memory_device.h"

namespace numasim::hw {

// Conversions between sc_time and picoseconds (requires a time resolution of
// whole picoseconds, the SystemC default of 1 ps).
Picoseconds to_picoseconds(const sc_core::sc_time& t);
sc_core::sc_time to_sc_time(Picoseconds t);

class MemoryControllerModule : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryControllerModule> socket;

  MemoryControllerModule(sc_core::sc_module_name name, MemoryDevice& device, PhysAddr base, Bytes size);

  MemoryDevice& device() { return dev_; }
  std::uint64_t transactions() const { return transactions_; }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);

  MemoryDevice& dev_;
  PhysAddr base_;
  std::uint64_t size_;
  std::uint64_t transactions_ = 0;
};

}  // namespace numasim::hw
