// Property test of read()/write() copying through the user's page tables
// (os/uaccess.cpp) under memory pressure: a small two-node machine (16 MiB per
// node) with 32 MiB of NVMe swap and fail_page_alloc failing 5% of page
// allocations. A process keeps anonymous buffers (written page by page with
// identity tokens) larger than memory, a memfd and a file; random steps read()
// and pread64() from them into random ranges of the buffers, write() from them,
// munmap parts of the buffers (holes), touch buffer pages, and run kswapd.
// Buffer pages swapped out are faulted back in from kernel mode by the copies.
// After every step: check_consistency (LRU, swap slots, swap cache); each call
// returned a count no larger than asked, or -EFAULT/-ENOMEM with the file
// position unchanged, and no signal; every buffer page the test wrote still
// carries its token when it is next read by the process (nothing lost by a
// kernel-mode fault or its reclaim).
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <random>

#include "os/fail_page_alloc.h"
#include "os/kthread.h"
#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class UaccessPropertyTest : public SwapTest, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  UaccessPropertyTest() {
    kernel_.reset();
    topo_ = two_node_topology("16MiB");
    params_.nr_hugepages_node = {0, 0};
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
  long f_pos(task_struct* t, int fd) { return k().sys_lseek(t, fd, 0, OS_SEEK_CUR, cost_); }
};

TEST_P(UaccessPropertyTest, CopiesUnderPressureLoseNothingAndChangeNothingOnError) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 32 << 20), 0);
  ASSERT_EQ(k().fs().create_file("/data/f", 4 << 20, 0), 0);
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  task_struct* t = spawn(0);
  ASSERT_NE(t, nullptr);
  const int mfd = static_cast<int>(k().sys_memfd_create(t, "m", 0, cost_));
  ASSERT_GE(mfd, 0);
  ASSERT_EQ(k().sys_ftruncate(t, mfd, 4 << 20, cost_), 0);
  const int ffd = static_cast<int>(k().sys_open(t, "/data/f", O_RDWR, 0, cost_));
  ASSERT_GE(ffd, 0);
  // Buffers: 24 MiB of anonymous memory (more than one node), written once.
  constexpr std::uint64_t kBuf = 24 << 20;
  const long b = mmap_anon(t, kBuf);
  ASSERT_GT(b, 0);
  const VirtAddr buf = static_cast<VirtAddr>(b);
  std::map<VirtAddr, std::uint64_t> tokens;  // mapped buffer pages -> token last written
  std::uint64_t next_token = 1;
  std::map<VirtAddr, bool> mapped;  // buffer page -> still mapped
  for (VirtAddr va = buf; va < buf + kBuf; va += kPageSize) {
    mapped[va] = true;
    ASSERT_EQ(touch(t, va, true), Kernel::FaultResult::Handled);
    set_token(t, va, next_token);
    tokens[va] = next_token++;
  }
  FailPageAllocParams fp;
  fp.probability = 5;
  fp.seed = GetParam();
  pm().fail_page_alloc().configure(fp);
  std::uint64_t copies = 0, efaults = 0, shorts = 0, verified = 0;
  for (int step = 0; step < 600 && !t->oom_killed; ++step) {
    KernelCost c;
    const int op = static_cast<int>(rnd(100));
    const int fd = rnd(2) ? mfd : ffd;
    const VirtAddr at = buf + rnd(kBuf - kPageSize) + (rnd(4) ? 0 : rnd(kPageSize));
    const std::uint64_t len = 1 + rnd(std::min<std::uint64_t>(buf + kBuf - at, 256 << 10));
    if (op < 60) {  // read()/pread64 into the buffers (stores through the user's mapping)
      const bool pread = rnd(2);
      const std::uint64_t off = rnd(4 << 20);
      const long pos0 = f_pos(t, fd);
      const long r = pread ? k().sys_pread64(t, fd, at, len, static_cast<std::int64_t>(off), c)
                           : k().sys_read(t, fd, at, len, c);
      ASSERT_TRUE(r == -EFAULT || r == -ENOMEM || (r >= 0 && static_cast<std::uint64_t>(r) <= len))
          << "step " << step << " ret " << r;
      if (r < 0) ++efaults;
      else if (static_cast<std::uint64_t>(r) < len) ++shorts;
      else ++copies;
      const long expect_pos = (pread || r < 0) ? pos0 : pos0 + r;
      ASSERT_EQ(f_pos(t, fd), expect_pos) << "step " << step;
    } else if (op < 80) {  // write()/pwrite64 from the buffers (loads through the user's mapping)
      const long pos0 = f_pos(t, fd);
      const long r = k().sys_pwrite64(t, fd, at, std::min<std::uint64_t>(len, (4 << 20) - 1), rnd(2 << 20), c);
      ASSERT_TRUE(r == -EFAULT || r == -ENOMEM || r == -ENOSPC || (r >= 0 && static_cast<std::uint64_t>(r) <= len))
          << "step " << step << " ret " << r;
      ASSERT_EQ(f_pos(t, fd), pos0);
    } else if (op < 85) {  // a hole in the buffers
      const VirtAddr start = buf + rnd(kBuf / kPageSize) * kPageSize;
      const std::uint64_t n = std::min<std::uint64_t>(1 + rnd(8), (buf + kBuf - start) / kPageSize);
      ASSERT_EQ(k().sys_munmap(t, start, n * kPageSize, c), 0);
      for (std::uint64_t i = 0; i < n; ++i) {
        mapped[start + i * kPageSize] = false;
        tokens.erase(start + i * kPageSize);
      }
    } else {  // the process reads and writes buffer pages: the tokens it wrote are there
      for (int i = 0; i < 16 && !tokens.empty(); ++i) {
        auto it = tokens.begin();
        std::advance(it, static_cast<long>(rnd(tokens.size())));
        const bool write = rnd(3) == 0;
        if (touch(t, it->first, write) != Kernel::FaultResult::Handled) continue;  // an injected failure
        ASSERT_EQ(token_at(t, it->first), it->second) << "step " << step << " page " << std::hex << it->first;
        ++verified;
        if (write) {
          set_token(t, it->first, next_token);
          it->second = next_token++;
        }
      }
    }
    EXPECT_EQ(t->nr_sigsegv, 0u) << "a copy's fault must never signal";
    complete_io();
    for (int n = 0; n < 2; ++n) {
      Kthread* ks = k().kthreads().kswapd(NodeId(n));
      KernelCost kc;
      for (int runs = 0; runs < 8 && k().kthreads().run(&ks->task, kc); ++runs) {
      }
    }
    k().check_consistency();
  }
  pm().fail_page_alloc().configure(FailPageAllocParams{});
  // The run exercised what it is about: copies whole, short and refused,
  // buffer pages swapped out and back, and tokens checked.
  EXPECT_GT(copies, 50u);
  EXPECT_GT(efaults + shorts, 10u);
  EXPECT_GT(ev(PSWPOUT), 500u);
  EXPECT_GT(ev(PSWPIN), 50u);
  EXPECT_GT(verified, 500u);
  for (const auto& [va, tok] : tokens) {  // every buffer page the process wrote, read back once more
    if (touch(t, va, false) != Kernel::FaultResult::Handled) continue;
    ASSERT_EQ(token_at(t, va), tok) << std::hex << va;
  }
  k().exit_task(t);
  complete_io();
  k().check_consistency();
}

INSTANTIATE_TEST_SUITE_P(Seeds, UaccessPropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
