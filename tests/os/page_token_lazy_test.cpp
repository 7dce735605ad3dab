// Verify mode's page-token table takes host memory only for the frames whose
// tokens were written (issue 17 review: 8 bytes per frame whether used or not
// was 2 GiB on the 1 TiB machine). Measured as this process's resident set
// (/proc/self/statm) around a 256 MiB table: enabling it, reading every
// token, clearing and copying never-written frames stay near zero; writing
// tokens costs one host page per 512 frames touched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "os/page_token.h"

namespace numasim::os {
namespace {

std::uint64_t rss_bytes() {
  unsigned long size = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

constexpr std::uint64_t kMiB = 1ull << 20;

TEST(PageTokensLazy, UnwrittenFramesTakeNoHostMemory) {
  constexpr std::uint64_t kFrames = 1ull << 25;  // 128 GiB of simulated memory: a 256 MiB table
  if (rss_bytes() == 0) GTEST_SKIP() << "no /proc/self/statm";
  PageTokens t;
  const std::uint64_t before = rss_bytes();
  t.enable(kFrames);
  ASSERT_TRUE(t.enabled());
  EXPECT_EQ(t.reserved_bytes(), kFrames * 8);
  EXPECT_LT(rss_bytes(), before + 8 * kMiB) << "enable() made the whole table resident";
  std::uint64_t sum = 0;
  for (std::uint64_t pfn = 0; pfn < kFrames; pfn += 512) sum += t.get(pfn);  // one read per host page
  EXPECT_EQ(sum, 0u);
  for (std::uint64_t pfn = 0; pfn < kFrames; pfn += 512) t.clear(pfn, 9);        // clear_huge_page of everything
  for (std::uint64_t pfn = 0; pfn + 512 < kFrames; pfn += 1024) t.copy(pfn + 512, pfn, 9);  // copies of zeros
  EXPECT_LT(rss_bytes(), before + 8 * kMiB) << "reads, clears or copies of zero tokens made the table resident";
  // 1000 tokens in 1000 different host pages: about 4 MiB.
  for (std::uint64_t i = 0; i < 1000; ++i) t.set(i * 4096, i + 1);
  const std::uint64_t written = rss_bytes();
  EXPECT_GE(written, before + 3 * kMiB);
  EXPECT_LT(written, before + 16 * kMiB);
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(t.get(i * 4096), i + 1);
  t.copy(7, 4096);
  EXPECT_EQ(t.get(7), 2u);
  t.clear(4096);
  EXPECT_EQ(t.get(4096), 0u);
  EXPECT_EQ(t.get(kFrames - 1), 0u);
}

}  // namespace
}  // namespace numasim::os
