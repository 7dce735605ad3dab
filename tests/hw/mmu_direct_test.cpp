// Mmu with MmuDirect (the machine's memory system and page tables called
// directly, as Machine builds its MMUs) against the same MMU through the
// MemoryPort and KernelEntry interfaces: on two machines built alike, the same
// translations of one process (first touches that fault, TLB hits, walks from
// the paging-structure caches) must give the same addresses, times and
// statistics, and leave the memory systems in the same state.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "common/config.h"
#include "hw/machine.h"
#include "hw/memory_system.h"
#include "hw/mmu.h"
#include "hw/system_port.h"
#include "os/kernel.h"
#include "os/syscalls.h"
#include "os/task.h"

namespace numasim::hw {
namespace {

struct Translations {
  std::vector<Translation> out;
  MmuStats stats;
  std::uint64_t pwc_misses = 0, l1d_misses = 0;
};

Translations translate_on_a_fresh_machine(bool direct) {
  // One socket of two cores, 64 MiB.
  auto doc = ConfigDocument::from_string("[machine]\nsockets = 1\ncores_per_socket = 2\nmemory_per_node = \"64MiB\"\n",
                                         "mmu-direct.toml");
  auto m = std::make_unique<Machine>(doc->root());
  doc->finish();
  os::Kernel& k = m->kernel();
  os::task_struct* t = k.create_task("walker", CpuId(0), os::CpuMask().set());
  os::KernelCost cost;
  k.syscall_enter(t, Picoseconds(0));
  const long base =
      k.sys_mmap(t, 0, 16ull << 20, os::PROT_READ | os::PROT_WRITE, os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0, cost);
  EXPECT_GT(base, 0);
  MemorySystemPort port(m->memory());  // the interfaces' path: the machine's own adapter
  Mmu mmu(CpuId(0), m->params().core.clock, m->params().mmu, port, k,
          direct ? MmuDirect{&m->memory(), &k.pgtables()} : MmuDirect{});
  mmu.switch_context({t->mm->pgd, t->mm->asid, t});
  Translations r;
  std::mt19937_64 rng(5);
  Picoseconds now(1'000'000);
  for (int i = 0; i < 6000; ++i) {
    // 4096 pages over eight page tables: faults first, then walks and TLB hits.
    const VirtAddr va = static_cast<VirtAddr>(base) + (rng() % 4096) * 4096 + (rng() % 512) * 8;
    const bool write = rng() % 3 == 0;
    r.out.push_back(mmu.translate(va, write, now));
    EXPECT_TRUE(r.out.back().ok);
    now = r.out.back().ready;
  }
  r.stats = mmu.stats();
  r.pwc_misses = mmu.pwc().stats().misses;
  r.l1d_misses = m->memory().caches().l1d(CpuId(0)).stats().read_misses;
  return r;
}

TEST(MmuDirect, TranslatesAsThroughTheInterfaces) {
  const Translations via = translate_on_a_fresh_machine(false), direct = translate_on_a_fresh_machine(true);
  ASSERT_EQ(via.out.size(), direct.out.size());
  for (std::size_t i = 0; i < via.out.size(); ++i) {
    ASSERT_EQ(via.out[i].pa, direct.out[i].pa) << i;
    ASSERT_EQ(via.out[i].ready, direct.out[i].ready) << i;
  }
  EXPECT_GT(via.stats.faults, 1000u);
  EXPECT_GT(via.stats.walks, via.stats.faults + 1000);
  EXPECT_EQ(via.stats.walks, direct.stats.walks);
  EXPECT_EQ(via.stats.walk_reads, direct.stats.walk_reads);
  EXPECT_EQ(via.stats.walk_ad_writes, direct.stats.walk_ad_writes);
  EXPECT_EQ(via.stats.walk_ps, direct.stats.walk_ps);
  EXPECT_EQ(via.stats.fault_ps, direct.stats.fault_ps);
  EXPECT_EQ(via.pwc_misses, direct.pwc_misses);
  EXPECT_EQ(via.l1d_misses, direct.l1d_misses);
}

}  // namespace
}  // namespace numasim::hw
