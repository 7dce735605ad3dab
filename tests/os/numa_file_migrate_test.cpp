// Migration of mapped page-cache (file) pages (os/migrate.cpp migrate_file_page,
// Linux's filemap_migrate_folio path): move_pages / mbind MPOL_MF_MOVE /
// migrate_pages(2) over MAP_SHARED and MAP_PRIVATE file mappings move the cache
// page with every mapping (both processes see the new page, the file's i_pages
// slot holds it), its dirty state and its token; nr_file_pages, nr_mapped and
// nr_dirty move between the nodes. A page under writeback waits for it
// (MIGRATE_SYNC) on move_pages and stays put on a hint fault (MIGRATE_ASYNC);
// dirty file pages are neither scanned nor migrated by NUMA balancing (Linux 6.1),
// clean ones of a shared mapping are; reclaim demotes file pages to the CXL node.
// A property test mixes anonymous, MAP_SHARED and MAP_PRIVATE file mappings with
// random migrations, msync, hint faults, munmap and fork, the checker after
// every step and every page read back with its token.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <random>

#include "os/kthread.h"
#include "os/memory_tiers.h"
#include "os/mempolicy.h"
#include "os/numa_balancing.h"
#include "os/syscalls.h"
#include "tests/os/file_test_util.h"

namespace numasim::os::testing {
namespace {

constexpr Picoseconds kMs = Picoseconds(1'000'000'000ull);
constexpr std::uint64_t kFilePages = 4096;  // 16 MiB files

class NumaFileMigrateTest : public FileTest {
 protected:
  // NUMA balancing off unless a test asks for it (its scanner would make entries
  // PROT_NONE behind the syscall tests' backs).
  NumaFileMigrateTest() { boot(two_node_topology("256MiB"), {0, 0}); }
  void boot(Topology topo, std::vector<std::uint64_t> hugepages, int numab = NUMA_BALANCING_DISABLED) {
    platform_.drop_timers();
    kernel_.reset();
    topo_ = std::move(topo);
    params_.nr_hugepages_node = std::move(hugepages);
    params_.numab.mode = numab;
    params_.numab.scan_delay_ms = 1;
    params_.numab.scan_period_min_ms = 1;
    params_.numab.scan_period_max_ms = 8;
    params_.numab.scan_size_mb = 4;
    params_.fs.files = {{"/shared", kFilePages * kPageSize, 0, "test"},
                        {"/private", kFilePages * kPageSize, 0, "test"}};
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
  long map_file(task_struct* t, const char* path, std::uint64_t pages, int prot, int flags, std::uint64_t first = 0) {
    const long fd = k().sys_open(t, path, O_RDWR, 0, cost_);
    if (fd < 0) return fd;
    const long a = k().sys_mmap(t, 0, pages * kPageSize, prot, flags, static_cast<int>(fd), first * kPageSize, cost_);
    k().sys_close(t, static_cast<int>(fd), cost_);
    return a;
  }
  page* page_at(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->pg : nullptr;
  }
  int nid_at(task_struct* t, VirtAddr a) {
    page* pg = page_at(t, a);
    return pg ? pm().page_to_nid(pg).value() : -1;
  }
  // The token of the 4 KiB frame mapped at va (a THP's subpage, not its head).
  std::uint64_t ev(vm_event_item e) { return pm().sum_vm_event(e); }
  inode& file(const char* path) { return *k().fs().lookup(path); }
  std::vector<int> move(task_struct* t, VirtAddr a, std::uint64_t pages, int nid, int flags) {
    std::vector<VirtAddr> addrs;
    std::vector<int> nodes(pages, nid), status(pages, 12345);
    for (std::uint64_t i = 0; i < pages; ++i) addrs.push_back(a + i * kPageSize);
    EXPECT_GE(k().sys_move_pages(t, 0, pages, addrs.data(), nodes.data(), status.data(), flags, cost_), 0);
    return status;
  }
};

TEST_F(NumaFileMigrateTest, MovePagesMovesASharedFilePageWithEveryMappingAndItsCounters) {
  task_struct* a = spawn(0);
  task_struct* b = spawn(1);
  const long va = map_file(a, "/shared", 32, PROT_READ | PROT_WRITE, MAP_SHARED);
  const long vb = map_file(b, "/shared", 32, PROT_READ | PROT_WRITE, MAP_SHARED);
  ASSERT_GT(va, 0);
  ASSERT_GT(vb, 0);
  for (std::uint64_t i = 0; i < 32; ++i) {
    ASSERT_EQ(touch(a, static_cast<VirtAddr>(va) + i * kPageSize, i < 16), Kernel::FaultResult::Handled);
    if (i < 16) put_token(a, static_cast<VirtAddr>(va) + i * kPageSize, 100 + i);
    ASSERT_EQ(touch(b, static_cast<VirtAddr>(vb) + i * kPageSize, false), Kernel::FaultResult::Handled);
    ASSERT_EQ(page_at(a, static_cast<VirtAddr>(va) + i * kPageSize), page_at(b, static_cast<VirtAddr>(vb) + i * kPageSize));
    ASSERT_EQ(nid_at(a, static_cast<VirtAddr>(va) + i * kPageSize), 0);
  }
  settle();
  k().check_consistency();
  const long mapped0 = node_stat(NR_FILE_MAPPED, 0), mapped1 = node_stat(NR_FILE_MAPPED, 1);
  const long file0 = node_stat(NR_FILE_PAGES, 0), file1 = node_stat(NR_FILE_PAGES, 1);
  const long dirty0 = node_stat(NR_FILE_DIRTY, 0), dirty1 = node_stat(NR_FILE_DIRTY, 1);
  const long rss_a = a->mm->rss_stat[MM_FILEPAGES], rss_b = b->mm->rss_stat[MM_FILEPAGES];
  const std::uint64_t m0 = ev(PGMIGRATE_SUCCESS);
  // Mapped twice: MPOL_MF_MOVE refuses (-EACCES), MPOL_MF_MOVE_ALL moves.
  for (int s : move(a, static_cast<VirtAddr>(va), 32, 1, MPOL_MF_MOVE)) EXPECT_EQ(s, -EACCES);
  for (int s : move(a, static_cast<VirtAddr>(va), 32, 1, MPOL_MF_MOVE_ALL)) EXPECT_EQ(s, 1);
  k().check_consistency();
  EXPECT_EQ(ev(PGMIGRATE_SUCCESS) - m0, 32u);
  for (std::uint64_t i = 0; i < 32; ++i) {
    page* pg = page_at(a, static_cast<VirtAddr>(va) + i * kPageSize);
    ASSERT_EQ(pm().page_to_nid(pg).value(), 1);
    EXPECT_EQ(pg, page_at(b, static_cast<VirtAddr>(vb) + i * kPageSize));  // one page, both mappings
    EXPECT_EQ(pg, k().fs().find_get_page(file("/shared"), i));            // in the file's slot
    EXPECT_EQ(pg->mapcount, 2);
    EXPECT_EQ(pg->test(PG_dirty), i < 16);
    EXPECT_EQ(get_token(b, static_cast<VirtAddr>(vb) + i * kPageSize), i < 16 ? 100 + i : 0);
  }
  EXPECT_EQ(node_stat(NR_FILE_MAPPED, 0), mapped0 - 32);
  EXPECT_EQ(node_stat(NR_FILE_MAPPED, 1), mapped1 + 32);
  EXPECT_EQ(node_stat(NR_FILE_PAGES, 0), file0 - 32);
  EXPECT_EQ(node_stat(NR_FILE_PAGES, 1), file1 + 32);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY, 0), dirty0 - 16);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY, 1), dirty1 + 16);
  EXPECT_EQ(a->mm->rss_stat[MM_FILEPAGES], rss_a);
  EXPECT_EQ(b->mm->rss_stat[MM_FILEPAGES], rss_b);
  // Still shared: b's write is what a reads.
  ASSERT_EQ(touch(b, static_cast<VirtAddr>(vb) + 20 * kPageSize, true), Kernel::FaultResult::Handled);
  put_token(b, static_cast<VirtAddr>(vb) + 20 * kPageSize, 777);
  EXPECT_EQ(get_token(a, static_cast<VirtAddr>(va) + 20 * kPageSize), 777u);
  // The dirty pages written back from node 1 and the file unmapped: nothing is lost.
  ASSERT_EQ(k().sys_msync(a, static_cast<VirtAddr>(va), 32 * kPageSize, MS_SYNC, cost_), 0);
  ASSERT_EQ(k().sys_munmap(a, static_cast<VirtAddr>(va), 32 * kPageSize, cost_), 0);
  ASSERT_EQ(k().sys_munmap(b, static_cast<VirtAddr>(vb), 32 * kPageSize, cost_), 0);
  settle();
  k().check_consistency();
  EXPECT_EQ(node_stat(NR_FILE_MAPPED), 0);
}

TEST_F(NumaFileMigrateTest, PrivateFileMappingsMoveTheirCachePagesAndTheirCopies) {
  task_struct* t = spawn(0);
  const long v = map_file(t, "/private", 16, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  ASSERT_GT(v, 0);
  const VirtAddr base = static_cast<VirtAddr>(v);
  for (std::uint64_t i = 0; i < 16; ++i) ASSERT_EQ(touch(t, base + i * kPageSize, false), Kernel::FaultResult::Handled);
  for (std::uint64_t i = 0; i < 4; ++i) {  // four copy-on-write copies (anonymous pages)
    ASSERT_EQ(touch(t, base + i * kPageSize, true), Kernel::FaultResult::Handled);
    put_token(t, base + i * kPageSize, 50 + i);
  }
  settle();
  ASSERT_TRUE(PageAnon(page_at(t, base)));
  ASSERT_FALSE(PageAnon(page_at(t, base + 8 * kPageSize)));
  // mbind MPOL_BIND node 1 with MPOL_MF_MOVE: the copies and the cache pages mapped once.
  const unsigned long node1 = 2;
  ASSERT_EQ(k().sys_mbind(t, base, 16 * kPageSize, MPOL_BIND, &node1, 3, MPOL_MF_MOVE, cost_), 0);
  k().check_consistency();
  for (std::uint64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(nid_at(t, base + i * kPageSize), 1) << i;
    EXPECT_EQ(get_token(t, base + i * kPageSize), i < 4 ? 50 + i : 0u);
  }
  EXPECT_EQ(k().fs().find_get_page(file("/private"), 8), page_at(t, base + 8 * kPageSize));
  // migrate_pages(2) from node 1 back to node 0 takes them all.
  const unsigned long from = 2, to = 1;
  ASSERT_EQ(k().sys_migrate_pages(t, 0, 3, &from, &to, cost_), 0);
  k().check_consistency();
  for (std::uint64_t i = 0; i < 16; ++i) EXPECT_EQ(nid_at(t, base + i * kPageSize), 0) << i;
  // A copy-on-write fault after the move still copies the (moved) cache page.
  ASSERT_EQ(touch(t, base + 9 * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_TRUE(PageAnon(page_at(t, base + 9 * kPageSize)));
  EXPECT_EQ(k().fs().find_get_page(file("/private"), 9)->mapcount, 0);
  k().check_consistency();
}

TEST_F(NumaFileMigrateTest, WritebackWaitsForMovePagesAndKeepsHintFaultMigrationsAway) {
  task_struct* t = spawn(0);
  const long v = map_file(t, "/shared", 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  ASSERT_GT(v, 0);
  const VirtAddr base = static_cast<VirtAddr>(v);
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_EQ(touch(t, base + i * kPageSize, true), Kernel::FaultResult::Handled);
    put_token(t, base + i * kPageSize, 10 + i);
  }
  settle();
  NumaBalancing& nb = k().numa_balancing();
  KernelCost c;
  // Dirty: hint faults leave it (MIGRATE_ASYNC cannot move every file system's dirty page).
  page* pg0 = page_at(t, base);
  ASSERT_TRUE(pg0->test(PG_dirty));
  EXPECT_FALSE(nb.migrate_misplaced_page(t, pg0, 1, c));
  // Under writeback (filemap_fdatawrite_range started it): hint faults leave it too.
  k().fs().write_and_wait_range(file("/shared"), 0, 3, /*wait=*/false, CpuId(0), c);
  ASSERT_TRUE(pg0->test(PG_writeback));
  const std::uint64_t fail0 = ev(PGMIGRATE_FAIL), numa0 = ev(NUMA_PAGE_MIGRATE);
  EXPECT_FALSE(nb.migrate_misplaced_page(t, pg0, 1, c));
  EXPECT_EQ(ev(PGMIGRATE_FAIL), fail0 + 1);
  EXPECT_EQ(nid_at(t, base), 0);
  // move_pages (MIGRATE_SYNC) waits for the write and moves it.
  KernelCost mc;
  const VirtAddr a0 = base;
  int status = 12345, node = 1;
  ASSERT_EQ(k().sys_move_pages(t, 0, 1, &a0, &node, &status, MPOL_MF_MOVE, mc), 0);
  EXPECT_EQ(status, 1);
  EXPECT_GT(mc.io_wait.value(), 0u);  // the wait for the write
  EXPECT_FALSE(page_at(t, base)->test(PG_writeback));
  EXPECT_EQ(get_token(t, base), 10u);
  // A clean page (its write finished) moves on a hint fault's request.
  settle();
  page* pg1 = page_at(t, base + kPageSize);
  ASSERT_FALSE(pg1->test(PG_writeback));
  ASSERT_FALSE(pg1->test(PG_dirty));
  EXPECT_TRUE(nb.migrate_misplaced_page(t, pg1, 1, c));
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE), numa0 + 1);
  EXPECT_EQ(nid_at(t, base + kPageSize), 1);
  EXPECT_EQ(get_token(t, base + kPageSize), 11u);
  k().check_consistency();
}

// A task whose shared file mapping was first read on node 1 runs on node 0:
// the scanner makes the clean pages PROT_NONE and their hint faults bring them
// over; a read-only file mapping of the same task is never scanned.
TEST_F(NumaFileMigrateTest, HintFaultsMigrateCleanSharedFilePagesToTheTasksNode) {
  boot(two_node_topology("256MiB"), {0, 0}, NUMA_BALANCING_NORMAL);
  task_struct* t = spawn(2);  // node 1
  const long v = map_file(t, "/shared", 256, PROT_READ | PROT_WRITE, MAP_SHARED);
  const long ro = map_file(t, "/private", 256, PROT_READ, MAP_SHARED);
  ASSERT_GT(v, 0);
  ASSERT_GT(ro, 0);
  const VirtAddr base = static_cast<VirtAddr>(v);
  for (std::uint64_t i = 0; i < 256; ++i) {
    ASSERT_EQ(touch(t, base + i * kPageSize, false), Kernel::FaultResult::Handled);
    ASSERT_EQ(touch(t, static_cast<VirtAddr>(ro) + i * kPageSize, false), Kernel::FaultResult::Handled);
    ASSERT_EQ(nid_at(t, base + i * kPageSize), 1);
  }
  ASSERT_TRUE(k().migrate_task(t, CpuId(0)));
  const std::uint64_t m0 = ev(NUMA_PAGE_MIGRATE);
  for (int round = 0; round < 6; ++round) {
    platform_.advance_to(platform_.clock + kMs * 10);
    k().numa_balancing().task_numa_work(t, cost_);
    for (std::uint64_t i = 0; i < 256; ++i) {
      ASSERT_EQ(touch(t, base + i * kPageSize, false), Kernel::FaultResult::Handled);
      ASSERT_EQ(touch(t, static_cast<VirtAddr>(ro) + i * kPageSize, false), Kernel::FaultResult::Handled);
    }
    k().check_consistency();
  }
  int local = 0;
  for (std::uint64_t i = 0; i < 256; ++i) local += nid_at(t, base + i * kPageSize) == 0;
  EXPECT_EQ(local, 256);
  EXPECT_EQ(ev(NUMA_PAGE_MIGRATE) - m0, 256u);
  for (std::uint64_t i = 0; i < 256; ++i) EXPECT_EQ(nid_at(t, static_cast<VirtAddr>(ro) + i * kPageSize), 1);
  // numa_maps in Linux's format: "<start> default file=/shared mapped=256 N0=256 kernelpagesize_kB=4".
  const std::string maps = k().numa_balancing().numa_maps(t);
  char line[96];
  std::snprintf(line, sizeof line, "%08llx default file=/shared mapped=256 N0=256 kernelpagesize_kB=4\n",
                static_cast<unsigned long long>(base));
  EXPECT_NE(maps.find(line), std::string::npos) << maps;
  std::snprintf(line, sizeof line, "%08llx default file=/private mapped=256 N1=256 kernelpagesize_kB=4\n",
                static_cast<unsigned long long>(ro));
  EXPECT_NE(maps.find(line), std::string::npos) << maps;
}

Topology tiered_topology() {
  auto doc = ConfigDocument::from_string(
      "[machine]\nsockets = 2\ncores_per_socket = 2\ndistances = [[10, 21, 14], [21, 10, 24], [14, 24, 10]]\n"
      "[[node]]\nsocket = 0\nmemory = \"16MiB\"\n[[node]]\nsocket = 1\nmemory = \"16MiB\"\n"
      "[[node]]\ncpus = 0\nmemory = \"64MiB\"\n[[link]]\nnodes = [0, 1]\nlatency = \"27ns\"\nbandwidth = "
      "\"34.3GB/s\"\n[[link]]\nnodes = [0, 2]\nlatency = \"5ns\"\nbandwidth = \"256GB/s\"\n",
      "cxl_small.toml");
  Topology t = Topology::from_config(doc->root());
  doc->finish();
  return t;
}

// Reclaim on a node with a lower tier demotes page-cache pages (mapped and not,
// clean and dirty) to the CXL node: pgdemote_kswapd counts them, nothing is
// dropped or lost.
TEST_F(NumaFileMigrateTest, ReclaimDemotesFilePagesToTheLowerTier) {
  params_.memtier.adistance = {MEMTIER_ADISTANCE_DRAM, MEMTIER_ADISTANCE_DRAM, MEMTIER_DEFAULT_DAX_ADISTANCE};
  params_.memtier.demotion_enabled = true;
  boot(tiered_topology(), {0, 0, 0});
  ASSERT_TRUE(k().can_demote(0));
  task_struct* t = spawn(0);
  const unsigned long node0 = 1;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 64, cost_), 0);
  const std::uint64_t n = 3072;  // 12 MiB of a 16 MiB node, twice (two files)
  const long v = map_file(t, "/shared", n, PROT_READ | PROT_WRITE, MAP_SHARED);
  const long p = map_file(t, "/private", n, PROT_READ, MAP_PRIVATE);
  ASSERT_GT(v, 0);
  ASSERT_GT(p, 0);
  auto run_kswapd = [&] {
    settle();
    Kthread* ks = k().kthreads().kswapd(NodeId(0));
    KernelCost kc;
    for (int runs = 0; runs < 8 && k().kthreads().run(&ks->task, kc); ++runs) {
    }
    settle();
  };
  for (std::uint64_t i = 0; i < n; ++i) {
    const VirtAddr va = static_cast<VirtAddr>(v) + i * kPageSize;
    ASSERT_EQ(touch(t, va, i % 2 == 0), Kernel::FaultResult::Handled);
    if (i % 2 == 0) put_token(t, va, 5000 + i);
    ASSERT_EQ(touch(t, static_cast<VirtAddr>(p) + i * kPageSize, false), Kernel::FaultResult::Handled);
    if (i % 64 == 63) run_kswapd();
  }
  run_kswapd();
  k().check_consistency();
  const std::uint64_t demoted = ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT);
  EXPECT_GT(demoted, 1000u);
  EXPECT_GT(node_stat(NR_FILE_PAGES, 2), 1000);
  EXPECT_EQ(ev(PSWPOUT), 0u);
  int on2 = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const VirtAddr va = static_cast<VirtAddr>(v) + i * kPageSize;
    ASSERT_EQ(touch(t, va, false), Kernel::FaultResult::Handled);
    on2 += nid_at(t, va) == 2;
    if (i % 2 == 0) {
      ASSERT_EQ(get_token(t, va), 5000 + i) << i;
    }
    if (i % 64 == 63) run_kswapd();
  }
  EXPECT_GT(on2, 0);
  k().check_consistency();
}

// The property test: anonymous, MAP_SHARED (/shared) and MAP_PRIVATE (/private)
// file mappings; tokens of shared-file pages are kept per file index (every
// mapping of an index sees the last write), those of anonymous and private
// pages per process (a fork copies them); unwritten private-file pages read 0.
struct FProc {
  task_struct* t = nullptr;
  std::map<VirtAddr, std::uint64_t> tokens;  // anonymous and private-file pages
  std::map<VirtAddr, std::uint64_t> shared;  // shared-file page -> its index in /shared
};

class NumaFileMigratePropertyTest : public NumaFileMigrateTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  NumaFileMigratePropertyTest() {
    params_.thp.enabled = ThpEnabled::Always;
    boot(two_node_topology("256MiB"), {0, 0}, NUMA_BALANCING_NORMAL);
  }
  std::uint64_t rnd(std::uint64_t n) { return n ? rng_() % n : 0; }
  VirtAddr pick(FProc& p) {
    const std::size_t n = p.tokens.size() + p.shared.size();
    std::size_t i = rnd(n);
    auto& m = i < p.tokens.size() ? p.tokens : p.shared;
    if (i >= p.tokens.size()) i -= p.tokens.size();
    auto it = m.begin();
    std::advance(it, static_cast<long>(i));
    return it->first;
  }
  void write(FProc& p, VirtAddr va) {
    ASSERT_EQ(touch(p.t, va, true), Kernel::FaultResult::Handled);
    if (auto s = p.shared.find(va); s != p.shared.end()) {
      ASSERT_EQ(get_token(p.t, va), file_tokens_[s->second]);
      file_tokens_[s->second] = next_;
    } else {
      ASSERT_EQ(get_token(p.t, va), p.tokens[va]);
      p.tokens[va] = next_;
    }
    put_token(p.t, va, next_++);
  }
  void map_some(FProc& p) {
    const int kind = static_cast<int>(rnd(3));
    if (kind == 0) {  // anonymous, 1..4 MiB
      const std::uint64_t len = (1 + rnd(4)) << 20;
      const long a = mmap_anon(p.t, len);
      ASSERT_GT(a, 0);
      for (VirtAddr va = static_cast<VirtAddr>(a); va < static_cast<VirtAddr>(a) + len; va += kPageSize) {
        if (rnd(6) == 0) continue;
        p.tokens[va] = 0;
        ASSERT_EQ(touch(p.t, va, true), Kernel::FaultResult::Handled);
        put_token(p.t, va, next_);
        p.tokens[va] = next_++;
      }
      return;
    }
    const std::uint64_t pages = 1 + rnd(128), first = rnd(kFilePages - pages);
    const bool shared = kind == 1;
    const long a = map_file(p.t, shared ? "/shared" : "/private", pages, PROT_READ | PROT_WRITE,
                            shared ? MAP_SHARED : MAP_PRIVATE, first);
    ASSERT_GT(a, 0);
    for (std::uint64_t i = 0; i < pages; ++i) {
      const VirtAddr va = static_cast<VirtAddr>(a) + i * kPageSize;
      if (shared)
        p.shared[va] = first + i;
      else
        p.tokens[va] = 0;  // the file's contents (never written through a shared mapping)
      if (rnd(3) == 0) write(p, va);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  void check_all(std::vector<FProc>& procs) {
    k().check_consistency();
    for (FProc& q : procs) {
      for (const auto& [va, tok] : q.tokens) {
        ASSERT_EQ(touch(q.t, va, false), Kernel::FaultResult::Handled);
        ASSERT_EQ(get_token(q.t, va), tok) << "pid " << q.t->pid << " page " << std::hex << va;
      }
      for (const auto& [va, idx] : q.shared) {
        ASSERT_EQ(touch(q.t, va, false), Kernel::FaultResult::Handled);
        ASSERT_EQ(get_token(q.t, va), file_tokens_[idx]) << "pid " << q.t->pid << " index " << idx;
        page* pg = page_at(q.t, va);
        ASSERT_EQ(pg, k().fs().find_get_page(file("/shared"), idx));
        const int nid = pm().page_to_nid(pg).value();
        auto [it, fresh] = file_node_.try_emplace(idx, nid);
        if (!fresh && it->second != nid) ++file_moves_;
        it->second = nid;
      }
    }
    k().check_consistency();
  }
  void forget(FProc& p, VirtAddr start, VirtAddr end) {
    p.tokens.erase(p.tokens.lower_bound(start), p.tokens.lower_bound(end));
    p.shared.erase(p.shared.lower_bound(start), p.shared.lower_bound(end));
  }
  std::mt19937_64 rng_;
  std::uint64_t next_ = 1, file_moves_ = 0;
  std::map<std::uint64_t, std::uint64_t> file_tokens_;  // /shared index -> token (0: never written)
  std::map<std::uint64_t, int> file_node_;              // /shared index -> node last seen
};

TEST_P(NumaFileMigratePropertyTest, RandomMigrationsOfFileAndAnonymousPagesLoseNothing) {
  rng_.seed(GetParam());
  std::vector<FProc> procs(1);
  procs[0].t = spawn(0);
  std::uint64_t statuses = 0, scans = 0;
  const std::uint64_t numa0 = ev(NUMA_PAGE_MIGRATE);
  for (int step = 0; step < 150; ++step) {
    if (procs.empty()) procs.push_back(FProc{spawn(static_cast<int>(rnd(4))), {}, {}});
    const std::size_t pi = rnd(procs.size());
    FProc& p = procs[pi];
    task_struct* t = p.t;
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    SCOPED_TRACE("seed " + std::to_string(GetParam()) + " step " + std::to_string(step) + " op " + std::to_string(op));
    if (op < 14 || p.tokens.size() + p.shared.size() == 0) {
      map_some(p);
    } else if (op < 28) {  // move_pages of random pages, file and anonymous
      const std::size_t n = 1 + rnd(200);
      std::vector<VirtAddr> addrs;
      std::vector<int> nodes, status(n, 12345);
      for (std::size_t i = 0; i < n; ++i) {
        addrs.push_back(pick(p));
        nodes.push_back(static_cast<int>(rnd(2)));
      }
      ASSERT_GE(k().sys_move_pages(t, 0, n, addrs.data(), nodes.data(), status.data(),
                                   rnd(2) ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL, c),
                0);
      k().check_consistency();
      for (std::size_t i = 0; i < n; ++i) {
        const int s = status[i];
        ASSERT_TRUE(s == 0 || s == 1 || s == -ENOENT || s == -EFAULT || s == -EBUSY || s == -EACCES || s == -ENOMEM)
            << s;
        if (s < 0 || !p.shared.count(addrs[i])) continue;
        bool later = false;  // moved again by a later entry naming the same file page (maybe at another address)
        const std::uint64_t idx = p.shared[addrs[i]];
        for (std::size_t j = i + 1; j < n; ++j) {
          auto o = p.shared.find(addrs[j]);
          later |= o != p.shared.end() && o->second == idx;
        }
        if (!later) {
          ASSERT_EQ(nid_at(t, addrs[i]), s);
          ++statuses;
        }
      }
    } else if (op < 33) {  // migrate_pages(2) between the nodes
      const unsigned long from = rnd(2) ? 1 : 2, to = from == 1 ? 2 : 1;
      ASSERT_GE(k().sys_migrate_pages(t, 0, 3, &from, &to, c), 0);
    } else if (op < 40) {  // mbind MPOL_BIND with MOVE, mostly back to the default policy
      const VirtAddr start = pick(p);
      const unsigned long mask = rnd(2) ? 1 : 2;
      const std::uint64_t len = (1 + rnd(64)) * kPageSize;
      long r = k().sys_mbind(t, start, len, MPOL_BIND, &mask, 3,
                             rnd(2) ? MPOL_MF_MOVE : MPOL_MF_MOVE | MPOL_MF_MOVE_ALL, c);
      ASSERT_TRUE(r == 0 || r == -EFAULT) << r;
      if (r == 0 && rnd(3)) {
        ASSERT_EQ(k().sys_mbind(t, start, len, MPOL_DEFAULT, nullptr, 0, 0, c), 0);
      }
    } else if (op < 48) {  // msync of a shared-file range: written back (MS_SYNC) or under writeback (MS_ASYNC)
      if (!p.shared.empty()) {
        const VirtAddr start = p.shared.begin()->first;
        const long r = k().sys_msync(t, start, (1 + rnd(128)) * kPageSize, rnd(2) ? MS_SYNC : MS_ASYNC, c);
        ASSERT_TRUE(r == 0 || r == -ENOMEM) << r;  // -ENOMEM: the range ran past the mapping
        if (rnd(2)) platform_.advance_to(platform_.clock + kMs * 5);  // the writes complete
      }
    } else if (op < 62) {  // task_numa_work forced
      platform_.advance_to(platform_.clock + kMs * (1 + rnd(8)));
      if (t->numa) {
        k().numa_balancing().task_numa_work(t, c);
        ++scans;
      }
    } else if (op < 68) {  // the task moves to the other socket
      ASSERT_TRUE(k().migrate_task(t, CpuId(t->cpu.value() < 2 ? 2 + static_cast<int>(rnd(2))
                                                                 : static_cast<int>(rnd(2)))));
    } else if (op < 82) {  // writes
      for (int i = 0; i < 16; ++i) {
        write(p, pick(p));
        if (::testing::Test::HasFatalFailure()) return;
      }
    } else if (op < 90) {  // munmap of 1..100 pages from a mapped page on
      const VirtAddr start = pick(p);
      const std::uint64_t len = (1 + rnd(100)) * kPageSize;
      ASSERT_EQ(k().sys_munmap(t, start, len, c), 0);
      forget(p, start, start + len);
    } else if (op < 96 && procs.size() < 3) {  // fork
      const long pid = k().sys_fork(t, c);
      ASSERT_GT(pid, 0);
      FProc child{k().find_task_by_pid(static_cast<int>(pid)), p.tokens, p.shared};
      procs.push_back(child);
    } else if (op >= 96) {  // exit
      k().exit_task(t);
      procs.erase(procs.begin() + static_cast<long>(pi));
    }
    check_all(procs);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf("seed %llu: %llu scans, %llu shared-file statuses checked, %llu shared-file page moves seen, "
              "numa_pages_migrated %llu, pgmigrate_success %llu\n",
              static_cast<unsigned long long>(GetParam()), static_cast<unsigned long long>(scans),
              static_cast<unsigned long long>(statuses), static_cast<unsigned long long>(file_moves_),
              static_cast<unsigned long long>(ev(NUMA_PAGE_MIGRATE) - numa0),
              static_cast<unsigned long long>(ev(PGMIGRATE_SUCCESS)));
  EXPECT_GT(statuses, 50u);
  EXPECT_GT(file_moves_, 50u);
  while (!procs.empty()) {
    k().exit_task(procs.back().t);
    procs.pop_back();
    k().check_consistency();
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, NumaFileMigratePropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
}  // namespace numasim::os::testing
