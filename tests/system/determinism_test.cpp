// Same configuration and seed give byte-identical results: a study's JSON and
// a whole machine's statistics after a multi-core workload.
#include <gtest/gtest.h>

#include "hw/machine.h"
#include "studies/studies.h"
#include "os/syscalls.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

using namespace studies;

// Maps a buffer, then mixes random loads/stores with compute, from a seed.
class RandomProgram : public OpSource {
 public:
  RandomProgram(std::uint64_t seed, std::uint64_t ops) : s_(seed), left_(ops) {}
  void start(ThreadContext& ctx) override {
    long r = ctx.sys_mmap(0, 8 << 20, os::PROT_READ | os::PROT_WRITE, os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0);
    base_ = r > 0 ? static_cast<VirtAddr>(r) : 0;
  }
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    while (left_ && b.room() >= 2) {
      const std::uint64_t x = next();
      const VirtAddr a = base_ + (x % (8 << 20)) / 8 * 8;
      if (x & 1) b.store(a);
      else b.load(a, 8, (x & 6) == 0);
      if ((x & 0x30) == 0) b.compute(static_cast<std::uint32_t>(x >> 58));
      --left_;
    }
    return b.size();
  }
  bool done() const override { return left_ == 0 || base_ == 0; }

 private:
  std::uint64_t next() {
    s_ ^= s_ << 13, s_ ^= s_ >> 7, s_ ^= s_ << 17;
    return s_;
  }
  std::uint64_t s_;
  std::uint64_t left_;
  VirtAddr base_ = 0;
};

std::string run_machine(std::uint64_t seed) {
  auto doc = testing::small_machine();
  Machine m(doc->root());
  for (int c = 0; c < m.num_cpus(); ++c)
    m.add_task("rand" + std::to_string(c), std::make_unique<RandomProgram>(seed + c, 20000), CpuId(c));
  m.run();
  for (const auto& t : m.tasks()) EXPECT_FALSE(t->killed);
  return m.stats_json();
}

TEST(Determinism, SameSeedSameMachineStatistics) {
  const std::string a = run_machine(42);
  const std::string b = run_machine(42);
  EXPECT_EQ(a, b);
  const std::string c = run_machine(43);
  EXPECT_NE(a, c);
  EXPECT_NE(a.find("system.cpu3.dtlb.l1.hits_4K"), std::string::npos);
}

TEST(Determinism, SameConfigurationSameStudyJson) {
  TlbReachOptions o;
  o.min_working_set = Bytes(64ull << 10);
  o.max_working_set = Bytes(4ull << 20);
  o.loads = 2000;
  auto d1 = testing::small_machine();
  auto d2 = testing::small_machine();
  EXPECT_EQ(tlb_reach(d1->root(), o).to_json(), tlb_reach(d2->root(), o).to_json());
}

}  // namespace
}  // namespace numasim::hw
