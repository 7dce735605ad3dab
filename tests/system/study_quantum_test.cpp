// The MLC-style studies run at quantum 0 unless the configuration's [sim]
// quantum or a --set sim.quantum gives one (studies/study_quantum.h), and say
// so in their results. On the small two-socket machine with tiny studies.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "studies/studies.h"
#include "tests/system/quick_studies.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

using namespace studies;

constexpr const char* kDefaultJson = "\"quantum_ps\": 0, \"quantum_from\": \"default for studies\"";

void expect_studies_default(const StudyQuantum& q, const std::string& json, const std::string& table) {
  EXPECT_EQ(q.quantum.value(), 0u);
  EXPECT_EQ(q.from, StudyQuantum::From::StudiesDefault);
  EXPECT_NE(json.find(kDefaultJson), std::string::npos) << json;
  EXPECT_NE(table.find("(quantum 0 (default for studies"), std::string::npos) << table;
}

LoadedLatencyOptions tiny_loaded() {
  LoadedLatencyOptions o;
  o.delays = {0};
  o.loads = 300;
  o.warmup_loads = 60;
  o.latency_buffer = Bytes(16ull << 20);
  o.traffic_buffer_per_cpu = Bytes(4ull << 20);
  return o;
}

BandwidthMatrixOptions tiny_bandwidth() {
  BandwidthMatrixOptions o;
  o.buffer_per_cpu = Bytes(4ull << 20);
  o.lines_per_cpu = 3000;
  return o;
}

TEST(StudyQuantum, EveryMlcStyleStudyRunsAtQuantumZeroByDefault) {
  LatencyMatrixOptions lo = testing::quick_latency_matrix();
  lo.buffer = Bytes(32ull << 20);
  lo.loads = 500;
  lo.warmup_loads = 100;
  const MatrixResult l = latency_matrix(testing::small_machine()->root(), lo);
  expect_studies_default(l.quantum, l.to_json(), l.to_table());
  const MatrixResult b = bandwidth_matrix(testing::small_machine()->root(), tiny_bandwidth());
  expect_studies_default(b.quantum, b.to_json(), b.to_table());
  C2cOptions co;
  co.lines = 50;
  const MatrixResult c = c2c_latency(testing::small_machine()->root(), co);
  expect_studies_default(c.quantum, c.to_json(), c.to_table());
  const LoadedLatencyResult ll = loaded_latency(testing::small_machine()->root(), tiny_loaded());
  expect_studies_default(ll.quantum, ll.to_json(), ll.to_table());
  const MessCurvesResult mc = mess_curves(testing::small_machine()->root(), {100}, tiny_loaded());
  expect_studies_default(mc.quantum, mc.to_json(), mc.to_table());
}

// The default is quantum 0 itself, not a label: the same figures as a
// configuration that asks for 0, and not those of the 1 us quantum `numasim run` keeps.
TEST(StudyQuantum, TheDefaultRunsTheMachineAtQuantumZero) {
  const MatrixResult by_default = bandwidth_matrix(testing::small_machine()->root(), tiny_bandwidth());
  const MatrixResult zero =
      bandwidth_matrix(testing::small_machine("\n[sim]\nquantum = \"0ns\"\n")->root(), tiny_bandwidth());
  const MatrixResult one_us =
      bandwidth_matrix(testing::small_machine("\n[sim]\nquantum = \"1us\"\n")->root(), tiny_bandwidth());
  EXPECT_EQ(by_default.matrix, zero.matrix) << by_default.to_table() << zero.to_table();
  EXPECT_NE(by_default.matrix, one_us.matrix) << by_default.to_table() << one_us.to_table();
}

TEST(StudyQuantum, TheConfigurationsQuantumIsUsedAndNamed) {
  C2cOptions co;
  co.lines = 50;
  auto doc = testing::small_machine("\n[sim]\nquantum = \"1us\"\n");
  const MatrixResult c = c2c_latency(doc->root(), co);
  EXPECT_EQ(c.quantum.quantum.value(), 1'000'000u);
  EXPECT_EQ(c.quantum.from, StudyQuantum::From::Config);
  // kSmallMachineToml ends on line 12; the key follows an empty line and [sim].
  EXPECT_EQ(c.quantum.where, "small-machine.toml:14");
  EXPECT_NE(c.to_json().find("\"quantum_ps\": 1000000, \"quantum_from\": \"configuration\", "
                             "\"quantum_where\": \"small-machine.toml:14\""),
            std::string::npos)
      << c.to_json();
  EXPECT_NE(c.to_table().find("(quantum 1us (from the configuration, small-machine.toml:14))"), std::string::npos)
      << c.to_table();
}

// A quantum set in a `base =` file is the configuration's too, and its position
// names the base file (where the key stands), not the file that was opened.
TEST(StudyQuantum, AQuantumInABaseFileIsUsedAndNamedThere) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("numasim-study-quantum-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "machine.toml") << testing::kSmallMachineToml << "\n[sim]\nquantum = \"1us\"\n";
  std::ofstream(dir / "top.toml") << "base = \"machine.toml\"\n";
  auto doc = ConfigDocument::from_file((dir / "top.toml").string());
  C2cOptions co;
  co.lines = 50;
  const MatrixResult c = c2c_latency(doc->root(), co);
  fs::remove_all(dir);
  EXPECT_EQ(c.quantum.quantum.value(), 1'000'000u);
  EXPECT_EQ(c.quantum.from, StudyQuantum::From::Config);
  // kSmallMachineToml's 12 lines, the empty line, [sim]: the key on line 14 of the base file.
  EXPECT_EQ(c.quantum.where, (dir / "machine.toml").string() + ":14") << c.to_table();
}

TEST(StudyQuantum, SetOverridesTheDefaultAndTheConfiguration) {
  C2cOptions co;
  co.lines = 50;
  for (const std::string extra : {"", "\n[sim]\nquantum = \"1us\"\n"}) {
    auto doc = testing::small_machine(extra);
    doc->apply_override("sim.quantum=250ns");
    const MatrixResult c = c2c_latency(doc->root(), co);
    EXPECT_EQ(c.quantum.quantum.value(), 250'000u) << extra;
    EXPECT_EQ(c.quantum.from, StudyQuantum::From::Set) << extra;
    EXPECT_NE(c.to_json().find("\"quantum_ps\": 250000, \"quantum_from\": \"--set\""), std::string::npos)
        << c.to_json();
    EXPECT_NE(c.to_table().find("(quantum 250ns (from --set sim.quantum=250ns))"), std::string::npos) << c.to_table();
  }
}

}  // namespace
}  // namespace numasim::hw
