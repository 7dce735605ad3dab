// SystemC/TLM-2.0 face of the interconnect as seen from one node's agent: a
// target socket receiving memory transactions issued on node `src`, and a
// multi-passthrough initiator socket whose i-th binding leads to the memory
// controller module of routes[i]. b_transport finds the home node of the
// address, times the request message (header, plus data for a write) over
// the path with the same Interconnect the fast path uses, forwards the
// transaction, then times the response (header, plus data for a read) back,
// adding everything to the annotated delay. Never wait()s.
// Simplifications: one transaction = one message each way (no splitting into
// lines on the links); no snoops; TLM_ADDRESS_ERROR_RESPONSE if no route.
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "common/units.h"
#include "hw/interconnect.h"
#include "hw/memory_controller_module.h"

namespace numasim::hw {

class InterconnectModule : public sc_core::sc_module {
 public:
  struct Route {
    NodeId node;
    PhysAddr base = 0;
    PhysAddr end = 0;  // exclusive
  };

  tlm_utils::simple_target_socket<InterconnectModule> target;
  tlm_utils::multi_passthrough_initiator_socket<InterconnectModule> to_memory;

  // to_memory must be bound once per route, in the order of `routes`.
  InterconnectModule(sc_core::sc_module_name name, Interconnect& ic, NodeId src, std::vector<Route> routes)
      : sc_core::sc_module(name), target("target"), to_memory("to_memory"), ic_(ic), src_(src),
        routes_(std::move(routes)) {
    target.register_b_transport(this, &InterconnectModule::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    const PhysAddr addr = trans.get_address();
    std::size_t i = 0;
    while (i < routes_.size() && !(addr >= routes_[i].base && addr < routes_[i].end)) ++i;
    if (i == routes_.size()) {
      trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    const NodeId home = routes_[i].node;
    const Bytes data(trans.get_data_length());
    const bool is_write = trans.get_command() == tlm::TLM_WRITE_COMMAND;
    const Picoseconds t0 = to_picoseconds(sc_core::sc_time_stamp() + delay);
    const TraverseResult req = ic_.traverse(src_, home, is_write ? data : Bytes(0), t0);
    delay += to_sc_time(req.arrival - t0);
    to_memory[static_cast<int>(i)]->b_transport(trans, delay);
    if (!trans.is_response_ok()) return;
    const Picoseconds t1 = to_picoseconds(sc_core::sc_time_stamp() + delay);
    const TraverseResult resp = ic_.traverse(home, src_, is_write ? Bytes(0) : data, t1);
    delay += to_sc_time(resp.arrival - t1);
  }

  Interconnect& ic_;
  NodeId src_;
  std::vector<Route> routes_;
};

}  // namespace numasim::hw
