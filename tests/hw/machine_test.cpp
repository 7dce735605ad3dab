// hw::Machine end to end with the simulated kernel: how tasks end. A task that
// touches more than its node holds is OOM-killed (reported as such, with the
// kernel's record of the kill), one that touches an unmapped address gets
// SIGSEGV, and when a bigger process holds the node the OOM killer kills that
// one instead, frees its memory and the faulting task carries on.
#include "hw/machine.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/config.h"
#include "os/mempolicy.h"
#include "os/syscalls.h"

using namespace numasim;
using namespace numasim::hw;

namespace {

// Two sockets, two CPUs each, 32 MiB per node.
std::unique_ptr<Machine> tiny_machine() {
  auto doc = ConfigDocument::from_string(
      "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"32MiB\"\n"
      "distances = [[10, 21], [21, 10]]\n"
      "[[link]]\nnodes = [0, 1]\nlatency = \"27ns\"\nbandwidth = \"34.3GB/s\"\n",
      "tiny-machine.toml");
  auto m = std::make_unique<Machine>(doc->root());
  doc->finish();
  return m;
}

// Optionally waits `delay_cycles`, binds itself to node 0, maps `bytes` and writes one
// word per page, then computes for `spin_batches` batches of 100k cycles.
class Toucher final : public OpSource {
 public:
  Toucher(std::uint64_t bytes, std::uint64_t delay_cycles = 0, int spin_batches = 0)
      : bytes_(bytes), delay_(delay_cycles), spin_(spin_batches) {}
  void start(ThreadContext& ctx) override {
    unsigned long node0 = 1;
    ASSERT_EQ(ctx.sys_set_mempolicy(os::MPOL_BIND, &node0, 2), 0);
    long a = ctx.sys_mmap(0, bytes_, os::PROT_READ | os::PROT_WRITE, os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0);
    ASSERT_GT(a, 0);
    base_ = static_cast<VirtAddr>(a);
  }
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    while (delay_ > 0 && !b.full()) {
      const std::uint64_t c = std::min<std::uint64_t>(delay_, 1'000'000);
      b.compute(static_cast<std::uint32_t>(c));
      delay_ -= c;
    }
    while (next_ < bytes_ && !b.full()) {
      b.store(base_ + next_);
      next_ += kPageSize;
    }
    while (next_ >= bytes_ && spun_ < spin_ && !b.full()) {
      b.compute(100'000);
      ++spun_;
      break;  // one compute op per batch: the core checks for a pending kill between batches
    }
    return b.size();
  }
  bool done() const override { return delay_ == 0 && next_ >= bytes_ && spun_ >= spin_; }

 private:
  std::uint64_t bytes_, delay_;
  int spin_, spun_ = 0;
  VirtAddr base_ = 0;
  std::uint64_t next_ = 0;
};

// Writes to an address nothing maps.
class WildStore final : public OpSource {
 public:
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    b.store(0x10000000);
    done_ = true;
    return b.size();
  }
  bool done() const override { return done_; }

 private:
  bool done_ = false;
};

TEST(MachineKill, NodeExhaustionIsAnOomKillAndAWildStoreIsSigsegv) {
  auto m = tiny_machine();
  TaskRun* hog = m->add_task("hog", std::make_unique<Toucher>(64ull << 20), CpuId(0));
  TaskRun* wild = m->add_task("wild", std::make_unique<WildStore>(), CpuId(2));
  m->run();
  EXPECT_TRUE(hog->killed);
  EXPECT_EQ(hog->exit, TaskExit::OomKill);
  EXPECT_STREQ(task_exit_name(hog->exit), "oom-kill");
  EXPECT_NE(hog->fault_addr, 0u);
  EXPECT_TRUE(wild->killed);
  EXPECT_EQ(wild->exit, TaskExit::Sigsegv);
  EXPECT_STREQ(task_exit_name(wild->exit), "SIGSEGV");
  EXPECT_EQ(wild->fault_addr, 0x10000000u);
  // The kernel's side: one OOM kill, of the hog, and the MMU counted each outcome.
  EXPECT_EQ(m->kernel().physmem().sum_vm_event(os::OOM_KILL), 1u);
  ASSERT_EQ(m->kernel().oom_kills().size(), 1u);
  const os::OomKill& k = m->kernel().oom_kills()[0];
  EXPECT_EQ(k.pid, hog->pid);
  EXPECT_EQ(k.comm, "hog");
  EXPECT_GT(k.anon_rss_kb, 16u << 10);  // most of the 32 MiB node
  EXPECT_EQ(m->mmu(CpuId(0)).stats().oom_kills, 1u);
  EXPECT_EQ(m->mmu(CpuId(2)).stats().sigsegv, 1u);
  EXPECT_EQ(m->core(CpuId(0)).stats().tasks_killed, 1u);
  // Its memory went back when it exited.
  EXPECT_LT(m->kernel().physmem().node_zone_page_state(NodeId(0), os::NR_FREE_PAGES) * 4, 32ull << 10);
  EXPECT_GT(m->kernel().physmem().node_zone_page_state(NodeId(0), os::NR_FREE_PAGES) * 4, 24ull << 10);
  m->kernel().check_consistency();
}

TEST(MachineKill, OomKillsTheBiggerProcessAndTheFaultingTaskFinishes) {
  auto m = tiny_machine();
  // holder fills 20 MiB of node 0 at once, then keeps running; late starts later
  // and needs 16 MiB more: node 0 runs out under late's fault.
  TaskRun* holder = m->add_task("holder", std::make_unique<Toucher>(20ull << 20, 0, 1'000'000), CpuId(0));
  TaskRun* late = m->add_task("late", std::make_unique<Toucher>(16ull << 20, 20'000'000), CpuId(1));
  m->run();
  EXPECT_TRUE(holder->killed);
  EXPECT_EQ(holder->exit, TaskExit::OomKill);
  EXPECT_EQ(holder->fault_addr, 0u);  // killed from another CPU, not by its own fault
  EXPECT_FALSE(late->killed);
  EXPECT_EQ(late->exit, TaskExit::Ok);
  EXPECT_EQ(late->stores, (16ull << 20) / kPageSize);
  ASSERT_EQ(m->kernel().oom_kills().size(), 1u);
  const os::OomKill& k = m->kernel().oom_kills()[0];
  EXPECT_EQ(k.pid, holder->pid);
  EXPECT_EQ(k.invoker_pid, late->pid);
  EXPECT_EQ(k.anon_rss_kb, 20u << 10);
  EXPECT_EQ(m->kernel().physmem().sum_vm_event(os::OOM_KILL), 1u);
  // The victim did not run its million batches: it ended soon after the kill.
  EXPECT_LT(holder->end_time.value(), late->end_time.value() * 2);
  m->kernel().check_consistency();
}

}  // namespace
