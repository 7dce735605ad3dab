// End to end on configs/skylake-sp-2s.toml: what the kernel's work costs the
// faulting or calling task, against the figures DESIGN.md quotes for real
// hardware: a 4 KiB anonymous minor fault about 0.6-1 us, clearing a 2 MiB
// page 90-180 us, a cross-socket migration of a 4 KiB page a few us when
// batched (move_pages of many pages).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "hw/machine.h"
#include "os/syscalls.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t k4K = 4096, k2M = 2ull << 20;

// Maps `pages` pages of `page_size` (hugetlb for 2 MiB), then between two
// markers writes one line of each page (one fault per page); with `migrate`,
// then moves every page to node 1 with one move_pages call between two other markers.
class FaultProgram : public OpSource {
 public:
  FaultProgram(std::uint64_t pages, std::uint64_t page_size, bool migrate)
      : pages_(pages), size_(page_size), migrate_(migrate) {}
  std::string name() const override { return "faults"; }
  void start(ThreadContext& ctx) override {
    int flags = os::MAP_PRIVATE | os::MAP_ANONYMOUS;
    if (size_ == k2M) flags |= os::MAP_HUGETLB;
    const long r = ctx.sys_mmap(0, pages_ * size_, os::PROT_READ | os::PROT_WRITE, flags, -1, 0);
    base_ = r > 0 ? static_cast<VirtAddr>(r) : 0;
    error_ = r < 0 ? r : 0;
  }
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (!base_) {
      done_ = true;
      return 0;
    }
    b.marker(1);
    for (std::uint64_t i = 0; i < pages_; ++i) {
      if (b.room() < 2) ctx.flush();
      b.store(base_ + i * size_ + 64);
    }
    b.marker(2);
    ctx.flush();
    if (migrate_) {
      std::vector<VirtAddr> addrs(pages_);
      std::vector<int> nodes(pages_, 1), status(pages_, -1);
      for (std::uint64_t i = 0; i < pages_; ++i) addrs[i] = base_ + i * size_;
      b.marker(3);
      ctx.flush();
      moved_ = ctx.sys_move_pages(pages_, addrs.data(), nodes.data(), status.data(), os::MPOL_MF_MOVE);
      for (int s : status) moved_ok_ += s == 1;
      b.marker(4);
    }
    done_ = true;
    return b.size();
  }
  bool done() const override { return done_; }
  long error() const { return error_; }
  long moved() const { return moved_; }
  std::uint64_t moved_ok() const { return moved_ok_; }

 private:
  std::uint64_t pages_, size_;
  bool migrate_;
  VirtAddr base_ = 0;
  long error_ = 0, moved_ = -1;
  std::uint64_t moved_ok_ = 0;
  bool done_ = false;
};

struct FaultRun {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<Machine> machine;
  FaultProgram* prog = nullptr;
  TaskRun* run = nullptr;
};

FaultRun run_faults(std::uint64_t pages, std::uint64_t page_size, bool migrate, const std::string& extra = "") {
  FaultRun r;
  r.doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/skylake-sp-2s.toml");
  r.doc->apply_override("machine.memory_per_node=\"2GiB\"");
  if (!extra.empty()) r.doc->apply_override(extra);
  r.machine = std::make_unique<Machine>(r.doc->root());
  r.doc->root().ignore("workload");
  auto p = std::make_unique<FaultProgram>(pages, page_size, migrate);
  r.prog = p.get();
  r.run = r.machine->add_task("faults", std::move(p), CpuId(0));
  r.machine->run();
  return r;
}

double us(Picoseconds t) { return static_cast<double>(t.value()) / 1e6; }

TEST(OsCosts, A4KMinorFaultCostsLikeRealHardware) {
  FaultRun r = run_faults(2000, k4K, false);
  ASSERT_EQ(r.prog->error(), 0);
  EXPECT_FALSE(r.run->killed);
  const double per_fault = us(r.run->marker_interval(1, 2)) / 2000;
  std::printf("4 KiB minor fault: %.3f us (real hardware about 0.6-1 us)\n", per_fault);
  EXPECT_GE(per_fault, 0.6 * 0.8);
  EXPECT_LE(per_fault, 1.0 * 1.2);
}

TEST(OsCosts, Clearing2MPagesCostsLikeRealHardware) {
  FaultRun r = run_faults(16, k2M, false, "os.hugetlb.nr_hugepages=[32, 0]");
  ASSERT_EQ(r.prog->error(), 0);
  const double per_fault = us(r.run->marker_interval(1, 2)) / 16;
  std::printf("2 MiB hugetlb fault (clear_huge_page): %.1f us (real hardware 90-180 us)\n", per_fault);
  EXPECT_GE(per_fault, 90.0 * 0.8);
  EXPECT_LE(per_fault, 180.0 * 1.2);
}

TEST(OsCosts, BatchedCrossSocketMigrationCostsAFewMicrosecondsPerPage) {
  FaultRun r = run_faults(512, k4K, true);
  ASSERT_EQ(r.prog->error(), 0);
  EXPECT_EQ(r.prog->moved(), 0);
  EXPECT_EQ(r.prog->moved_ok(), 512u);
  const double per_page = us(r.run->marker_interval(3, 4)) / 512;
  std::printf("move_pages, 512 x 4 KiB to the other socket: %.2f us per page (real: a few us)\n", per_page);
  EXPECT_GE(per_page, 0.5);
  EXPECT_LE(per_page, 5.0);
}

}  // namespace
}  // namespace numasim::hw
