// Compaction of page-cache pages (os/compaction.cpp, Linux 6.1
// isolate_migratepages_block takes file LRU pages, filemap_migrate_folio moves
// them): a property test on a 64 MiB two-node machine with a 24 MiB file.
// Random steps map parts of the file MAP_SHARED and write pages (each write a
// fresh identity token on the page, os/page_token.h), unmap mappings (their pages
// stay cached, dirty or clean), read the file with read(), fsync it, fragment
// anonymous memory (MADV_DONTNEED of three pages in four), and compact a node or
// all memory. The checker runs after every step; after every compaction every
// written file page is verified: in the cache at its index with its token, and
// where it is mapped, mapped to that same page. Over the run, cached pages must
// have moved (mapped and unmapped ones) without anything lost.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {
namespace {

class CompactionFileTest : public KernelTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  static constexpr std::uint64_t kFilePages = (24ull << 20) / kPageSize;
  CompactionFileTest() : KernelTest({0, 0}, "64MiB") {
    params_.fs.files = {{"/f", kFilePages * kPageSize, 0, "test"}};
    platform_.drop_timers();
    kernel_.reset();
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
  std::uint64_t pfn_of(const page* pg) { return pm().page_to_pfn(pg).value(); }
};

TEST_P(CompactionFileTest, FilePagesMoveWithTheirContentsAndMappings) {
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  task_struct* t = spawn(0);
  const VirtAddr buf = user_buf(t);  // read()'s buffer: 256 pages
  const int fd = static_cast<int>(k().sys_open(t, "/f", O_RDWR, 0, cost_));
  ASSERT_GE(fd, 0);
  inode& ino = *k().fs().lookup("/f");
  std::map<std::uint64_t, std::uint64_t> tokens;  // file index -> token last written
  std::map<VirtAddr, std::uint64_t> maps;         // mapping start -> first file index (4 MiB each)
  constexpr std::uint64_t kMapPages = 1024;
  std::uint64_t next_token = 1, moved_mapped = 0, moved_unmapped = 0, compactions = 0;
  auto verify = [&](int step) {
    for (const auto& [idx, tok] : tokens) {
      page* pg = k().fs().find_get_page(ino, idx);
      ASSERT_NE(pg, nullptr) << "step " << step << " index " << idx;
      ASSERT_EQ(k().page_tokens().get(pfn_of(pg)), tok) << "step " << step << " index " << idx;
    }
    for (const auto& [va, first] : maps)
      for (std::uint64_t i = 0; i < kMapPages; i += 7) {
        auto fr = k().follow_page(*t->mm, va + i * kPageSize);
        if (!fr) continue;
        ASSERT_EQ(fr->pg, k().fs().find_get_page(ino, first + i)) << "step " << step << " index " << first + i;
      }
  };
  for (int step = 0; step < 160; ++step) {
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    if (op < 25 && maps.size() < 3) {  // map 4 MiB of the file and write some of it
      const std::uint64_t first = rnd(kFilePages / kMapPages) * kMapPages;
      const long a = k().sys_mmap(t, 0, kMapPages * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                                  first * kPageSize, c);
      ASSERT_GT(a, 0);
      maps[static_cast<VirtAddr>(a)] = first;
      for (std::uint64_t i = 0; i < kMapPages; i += 1 + rnd(3)) {
        const VirtAddr va = static_cast<VirtAddr>(a) + i * kPageSize;
        ASSERT_EQ(touch(t, va, true), Kernel::FaultResult::Handled);
        auto fr = k().follow_page(*t->mm, va);
        ASSERT_TRUE(fr.has_value());
        k().page_tokens().set(fr->phys >> kPageShift, next_token);
        tokens[first + i] = next_token++;
      }
    } else if (op < 40 && !maps.empty()) {  // unmap one: its pages stay in the cache
      auto it = maps.begin();
      std::advance(it, static_cast<long>(rnd(maps.size())));
      ASSERT_EQ(k().sys_munmap(t, it->first, kMapPages * kPageSize, c), 0);
      maps.erase(it);
    } else if (op < 55) {  // read a stretch of the file (clean cached pages, unmapped)
      const std::uint64_t at = rnd(kFilePages - 256) * kPageSize;
      ASSERT_EQ(k().sys_pread64(t, fd, buf, 256 * kPageSize, static_cast<std::int64_t>(at), c),
                static_cast<long>(256 * kPageSize));
    } else if (op < 62) {  // write back and let the I/O complete
      ASSERT_EQ(k().sys_fsync(t, fd, c), 0);
      platform_.advance_to(platform_.clock + Picoseconds(1'000'000'000'000ull));
    } else if (op < 80) {  // fragment: anonymous pages, three of four dropped
      const long a = mmap_anon(t, 512 * kPageSize);
      ASSERT_GT(a, 0);
      for (std::uint64_t i = 0; i < 512; ++i) touch(t, static_cast<VirtAddr>(a) + i * kPageSize);
      for (std::uint64_t i = 0; i < 512; i += 4)
        ASSERT_EQ(k().sys_madvise(t, static_cast<VirtAddr>(a) + i * kPageSize, 3 * kPageSize, MADV_DONTNEED, c), 0);
    } else {  // compaction: a node or all memory
      std::map<std::uint64_t, std::pair<std::uint64_t, bool>> before;  // index -> (pfn, mapped)
      for (std::uint64_t idx = 0; idx < kFilePages; ++idx)
        if (page* pg = k().fs().find_get_page(ino, idx)) before[idx] = {pfn_of(pg), pg->mapcount > 0};
      if (rnd(2))
        ASSERT_EQ(k().compact_node(NodeId(static_cast<int>(rnd(2))), CpuId(0), c), 0);
      else
        k().compact_memory(CpuId(static_cast<int>(rnd(4))), c);
      ++compactions;
      for (const auto& [idx, b] : before)
        if (page* pg = k().fs().find_get_page(ino, idx); pg && pfn_of(pg) != b.first) ++(b.second ? moved_mapped : moved_unmapped);
      verify(step);
      if (::testing::Test::HasFatalFailure()) return;
    }
    k().check_consistency();
    if (::testing::Test::HasFatalFailure()) return;
  }
  verify(-1);
  k().check_consistency();
  EXPECT_GT(compactions, 0u);
  EXPECT_GT(moved_mapped, 0u) << "mapped page-cache pages were compacted";
  EXPECT_GT(moved_unmapped, 0u) << "unmapped page-cache pages were compacted";
  std::printf("seed %llu: %llu compactions, %llu mapped and %llu unmapped file pages moved, %zu tokens\n",
              static_cast<unsigned long long>(GetParam()), static_cast<unsigned long long>(compactions),
              static_cast<unsigned long long>(moved_mapped), static_cast<unsigned long long>(moved_unmapped),
              tokens.size());
}

INSTANTIATE_TEST_SUITE_P(Seeds, CompactionFileTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace numasim::os::testing
