// TLM-2.0 wrappers driven by a stub initiator: the memory controller module
// adds exactly the DRAM timing (or another memory device's: a CXL expander)
// to the annotated delay without advancing
// SystemC time, reports bad transactions, and the interconnect module adds the
// link traversals of a remote access, agreeing with the fast path
// (MemorySystem::memory_access) that calls the same timing classes.
// SystemC cannot elaborate new modules after a simulation ran, and other hw
// tests run simulations in this process, so each scenario runs in a fresh
// child process (a "threadsafe" death test) and reports through its exit code.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <tlm_utils/simple_initiator_socket.h>

#include "hw/cxl_memory_device.h"
#include "hw/interconnect_module.h"
#include "hw/memory_controller_module.h"
#include "hw/memory_system.h"

namespace numasim::hw {
namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}
void finish() {
  std::fprintf(stderr, failures == 0 ? "scenario ok\n" : "scenario failed\n");
  std::exit(failures == 0 ? 0 : 1);
}

// Sends one transaction from a thread and records the delay and response.
struct StubInitiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<StubInitiator> socket;
  struct Request {
    tlm::tlm_command cmd;
    std::uint64_t addr;
    unsigned len;
    sc_core::sc_time delay_in;
    bool byte_enable = false;
  };
  struct Reply {
    sc_core::sc_time delay;
    tlm::tlm_response_status status;
    sc_core::sc_time time_after;  // sc_time_stamp() right after b_transport
  };
  std::vector<Request> requests;
  std::vector<Reply> replies;
  unsigned char buffer[4096] = {};
  unsigned char enables[4] = {0xff, 0xff, 0xff, 0xff};

  SC_HAS_PROCESS(StubInitiator);
  explicit StubInitiator(sc_core::sc_module_name n) : sc_core::sc_module(n), socket("socket") { SC_THREAD(run); }
  void run() {
    for (const Request& r : requests) {
      tlm::tlm_generic_payload p;
      p.set_command(r.cmd);
      p.set_address(r.addr);
      p.set_data_ptr(buffer);
      p.set_data_length(r.len);
      p.set_streaming_width(r.len);
      p.set_byte_enable_ptr(r.byte_enable ? enables : nullptr);
      p.set_byte_enable_length(r.byte_enable ? 4 : 0);
      p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      sc_core::sc_time d = r.delay_in;
      socket->b_transport(p, d);
      replies.push_back({d, p.get_response_status(), sc_core::sc_time_stamp()});
    }
  }
};

DramParams exact_dram() {
  DramParams p;
  p.refresh = false;
  return p;
}

void controller_scenario() {
  DramParams p = exact_dram();
  DramController ctrl(p, 0, "system.node0.mc");
  MemoryControllerModule mc("mc", ctrl, 0, Bytes(1ull << 30));
  StubInitiator init("init");
  init.socket.bind(mc.socket);
  const sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
  init.requests = {
      {tlm::TLM_READ_COMMAND, 0x0, 64, zero},                           // cold bank
      {tlm::TLM_READ_COMMAND, 0x40, 64, sc_core::sc_time(1, sc_core::SC_US)},  // same granule: row hit
      {tlm::TLM_WRITE_COMMAND, 0x80, 64, sc_core::sc_time(2, sc_core::SC_US)},  // row hit, write
      {tlm::TLM_READ_COMMAND, 1ull << 30, 64, zero},                    // outside the node
      {tlm::TLM_IGNORE_COMMAND, 0x0, 64, zero},
      {tlm::TLM_READ_COMMAND, 0x0, 4, zero, true},                      // byte enables
      {tlm::TLM_READ_COMMAND, 0x100000, 256, sc_core::sc_time(3, sc_core::SC_US)},  // 4 lines
  };
  sc_core::sc_start();
  check(init.replies.size() == init.requests.size(), "every request answered");
  if (init.replies.size() != init.requests.size()) finish();
  const auto& r = init.replies;
  check(r[0].status == tlm::TLM_OK_RESPONSE, "read ok");
  check(to_picoseconds(r[0].delay) == ctrl.idle_latency(RowOutcome::Closed),
        "cold read delay " + std::to_string(to_picoseconds(r[0].delay).value()) + " ps = tFE + tRCD + CL + tBURST");
  check(to_picoseconds(r[1].delay) - 1_us == ctrl.idle_latency(RowOutcome::Hit), "row hit adds FE + CL + tBURST");
  check(to_picoseconds(r[2].delay) - 2_us == ctrl.idle_latency(RowOutcome::Hit, true), "write hit adds FE + CWL + tBURST");
  check(r[3].status == tlm::TLM_ADDRESS_ERROR_RESPONSE, "address error outside the node");
  check(r[4].status == tlm::TLM_COMMAND_ERROR_RESPONSE, "ignore command rejected");
  check(r[5].status == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE, "byte enables rejected");
  check(r[6].status == tlm::TLM_OK_RESPONSE, "multi-line read ok");
  check(to_picoseconds(r[6].delay) - 3_us > ctrl.idle_latency(RowOutcome::Closed), "four lines take longer than one");
  // Targets never wait(): simulated time did not move while the thread ran.
  for (const auto& x : r) check(x.time_after == sc_core::SC_ZERO_TIME, "no wait() in b_transport");
  check(ctrl.stats().reads == 6 && ctrl.stats().writes == 1, "controller saw 6 line reads and 1 write");
  check(mc.transactions() == 7, "7 transactions");
  finish();
}

// The same module in front of another memory device: a CXL expander.
void cxl_scenario() {
  CxlMemoryDevice dev(CxlDeviceParams{}, 1ull << 30, "system.node1.cxl");
  MemoryControllerModule mc("cxl", dev, 1ull << 30, Bytes(4ull << 30));
  StubInitiator init("init");
  init.socket.bind(mc.socket);
  init.requests = {
      {tlm::TLM_READ_COMMAND, (1ull << 30) + 0x1000, 64, sc_core::SC_ZERO_TIME},
      {tlm::TLM_WRITE_COMMAND, (1ull << 30) + 0x8000000, 64, sc_core::sc_time(1, sc_core::SC_US)},
      {tlm::TLM_READ_COMMAND, 0x1000, 64, sc_core::SC_ZERO_TIME},  // below the node
  };
  sc_core::sc_start();
  check(init.replies.size() == 3, "every request answered");
  if (init.replies.size() != 3) finish();
  const auto& r = init.replies;
  check(mc.device().impl() == "cxl", "the module wraps the CXL device");
  check(to_picoseconds(r[0].delay) == dev.unloaded_latency(false), "cold read: ports, flits and media");
  check(to_picoseconds(r[1].delay) - 1_us == dev.unloaded_latency(true), "cold write: ports, flits and media");
  check(r[2].status == tlm::TLM_ADDRESS_ERROR_RESPONSE, "address error outside the node");
  finish();
}

MemoryLayout two_nodes() {
  MemoryLayout l;
  l.num_sockets = 2;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(1ull << 30), {CpuId(0)}});
  l.nodes.push_back({NodeId(1), 1, 1ull << 30, Bytes(1ull << 30), {CpuId(1)}});
  l.interconnect.num_nodes = 2;
  l.interconnect.links.push_back({NodeId(0), NodeId(1), 27_ns, Bandwidth(34'300'000'000), "n0-n1"});
  l.interconnect.paths = {{}, {0}, {0}, {}};
  return l;
}

void interconnect_scenario() {
  MemorySystemParams params;
  params.dram = exact_dram();
  // The TLM path: node 0's agent -> interconnect module -> node controllers.
  Interconnect ic(two_nodes().interconnect, params.interconnect);
  DramController c0(params.dram, 0, "system.node0.mc"), c1(params.dram, 1ull << 30, "system.node1.mc");
  MemoryControllerModule m0("mc0", c0, 0, Bytes(1ull << 30)), m1("mc1", c1, 1ull << 30, Bytes(1ull << 30));
  InterconnectModule icm("ic0", ic, NodeId(0),
                         {{NodeId(0), 0, 1ull << 30}, {NodeId(1), 1ull << 30, 2ull << 30}});
  icm.to_memory.bind(m0.socket);
  icm.to_memory.bind(m1.socket);
  StubInitiator init("init");
  init.socket.bind(icm.target);
  const sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
  init.requests = {
      {tlm::TLM_READ_COMMAND, 0x1000, 64, zero},             // local
      {tlm::TLM_READ_COMMAND, (1ull << 30) + 0x1000, 64, zero},  // remote
      {tlm::TLM_READ_COMMAND, 3ull << 30, 64, zero},         // no node
  };
  sc_core::sc_start();
  // The fast path on an identical, separate memory system.
  MemorySystem fast(two_nodes(), params);
  const Picoseconds local_fast = fast.memory_access(NodeId(0), 0x1000, false, Picoseconds(0));
  const Picoseconds remote_fast = fast.memory_access(NodeId(0), (1ull << 30) + 0x1000, false, Picoseconds(0));
  const auto& r = init.replies;
  check(r.size() == 3, "three replies");
  if (r.size() != 3) finish();
  check(to_picoseconds(r[0].delay) == c0.idle_latency(RowOutcome::Closed), "local: DRAM only");
  const Picoseconds remote = c1.idle_latency(RowOutcome::Closed) + ic.idle_time(NodeId(0), NodeId(1), Bytes(0)) +
                             ic.idle_time(NodeId(1), NodeId(0), Bytes(64));
  check(to_picoseconds(r[1].delay) == remote, "remote: request + DRAM + response, got " +
                                                  std::to_string(to_picoseconds(r[1].delay).value()) + " ps, want " +
                                                  std::to_string(remote.value()));
  check(to_picoseconds(r[0].delay) == local_fast, "TLM and fast path agree (local)");
  check(to_picoseconds(r[1].delay) == remote_fast, "TLM and fast path agree (remote)");
  check(r[2].status == tlm::TLM_ADDRESS_ERROR_RESPONSE, "no route: address error");
  check(ic.link_stats(0, 0).messages == 1 && ic.link_stats(0, 1).messages == 1, "one message each way");
  finish();
}

TEST(TlmWrapper, MemoryControllerModuleAddsDramTimingToTheDelay) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(controller_scenario(), ::testing::ExitedWithCode(0), "scenario ok");
}

TEST(TlmWrapper, InterconnectModuleAddsLinkTraversalsAndMatchesTheFastPath) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(interconnect_scenario(), ::testing::ExitedWithCode(0), "scenario ok");
}

TEST(TlmWrapper, MemoryControllerModuleTimesAnyMemoryDevice) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(cxl_scenario(), ::testing::ExitedWithCode(0), "scenario ok");
}

TEST(TlmWrapper, TimeConversions) {
  EXPECT_EQ(to_picoseconds(sc_core::sc_time(1.5, sc_core::SC_NS)), Picoseconds(1500));
  EXPECT_EQ(to_sc_time(Picoseconds(2500)), sc_core::sc_time(2.5, sc_core::SC_NS));
}

}  // namespace
}  // namespace numasim::hw
