// The configured machine's memory against the host's (issue 17's bound on
// quantities that make work): the kernel model keeps one struct page per
// simulated 4 KiB frame, so a machine whose descriptors exceed this host's
// physical memory is a located configuration error. The bound uses the real
// descriptor's size, sizeof(os::page) (48 bytes; it assumed 32 before), tested
// at its exact boundary in MiB steps on this host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "os/page.h"

using namespace numasim;

namespace {

std::uint64_t host_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size) : 0;
}

// Configuration errors of a one-socket, one-node machine with `mib` MiB.
std::vector<std::string> errors_for(std::uint64_t mib) {
  auto doc = ConfigDocument::from_string("[machine]\nsockets = 1\ncores_per_socket = 1\nmemory_per_node = \"" +
                                             std::to_string(mib) + "MiB\"\n",
                                         "host.toml");
  std::vector<std::string> out;
  try {
    Topology::from_config(doc->root());
    doc->finish();
  } catch (const ConfigErrors& e) {
    for (const auto& d : e.diagnostics()) out.push_back(d.str());
  }
  return out;
}

TEST(HostMemoryBound, PageDescriptorsOfTheRealSizeMustFitTheHost) {
  static_assert(sizeof(os::page) == 48, "the descriptor's size this test's figures assume");
  const std::uint64_t host = host_bytes();
  if (host == 0) GTEST_SKIP() << "the host's memory size is unknown (no bound is applied)";
  // The largest machine whose descriptors fit: frames <= host / 48, in whole MiB (256 frames each).
  const std::uint64_t max_mib = host / sizeof(os::page) / 256;
  if (((max_mib + 1) << 20) > (((1ull << 32) - 1) << 12))
    GTEST_SKIP() << "a host this large reaches the 16 TiB physical address space bound first";
  EXPECT_TRUE(errors_for(max_mib).empty()) << errors_for(max_mib).front();
  const std::vector<std::string> e = errors_for(max_mib + 1);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("host.toml:4:"), std::string::npos) << e[0];  // located
  EXPECT_NE(e[0].find("memory_per_node"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("48 bytes per 4KiB page"), std::string::npos) << e[0];
  // A machine between the two budgets (32 and 48 bytes per frame) is refused: 32 bytes would let it through.
  const std::uint64_t between_mib = host / 40 / 256;
  EXPECT_EQ(errors_for(between_mib).size(), 1u);
}

}  // namespace
