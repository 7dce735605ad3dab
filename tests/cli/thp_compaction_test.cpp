// THP on a fragmented node and khugepaged, end to end through `numasim run`
// (configs/thp_fragment.toml, configs/khugepaged_collapse.toml): with no
// compaction allowed THP faults fall back; direct compaction (defrag=madvise)
// and kcompactd's proactive compaction bring thp_fault_alloc back; khugepaged
// collapses a 4 KiB-populated region, AnonHugePages growing across --sample
// rows; the THP/compaction --sample columns exist.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/run_numasim.h"

namespace {

using numasim_cli_test::Result;
using numasim_cli_test::slurp;

std::string config(const std::string& name) { return std::string(NUMASIM_SOURCE_DIR) + "/configs/" + name; }
std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name)).string();
}

// A vmstat event's total from the run's JSON ("name": N).
std::uint64_t counter(const std::string& json, const std::string& name) {
  std::smatch m;
  const std::regex re("\"" + name + "\": ([0-9]+)");
  if (!std::regex_search(json, m, re)) {
    ADD_FAILURE() << name << " not in the JSON";
    return 0;
  }
  return std::stoull(m[1]);
}

struct Counts {
  std::uint64_t alloc, fallback, stall, success, daemon_scanned;
};

Counts run_fragment(const std::string& sets) {
  const std::string json = temp("thp_fragment.json");
  Result r = numasim_cli_test::run_numasim("run " + config("thp_fragment.toml") + " " + sets + " --json " +
                                           json + " --quiet");
  EXPECT_EQ(r.status, 0) << r.err << r.out;
  const std::string j = slurp(json);
  std::filesystem::remove(json);
  return Counts{counter(j, "thp_fault_alloc"), counter(j, "thp_fault_fallback"), counter(j, "compact_stall"),
                counter(j, "compact_success"), counter(j, "compact_daemon_migrate_scanned")};
}

// 64 THP faults (128 MiB, one write per 2 MiB) on node 0 after it was fragmented.
TEST(ThpCompaction, FragmentedNodeFallsBackAndCompactionRecoversThpFaults) {
  const Counts none = run_fragment("--set os.thp.defrag=never --set os.vm.compaction_proactiveness=0");
  EXPECT_EQ(none.alloc + none.fallback, 63u);  // 63 aligned 2 MiB ranges in the mapping
  EXPECT_GT(none.fallback, 50u) << "no free 2 MiB block and no compaction: fallback";
  EXPECT_LT(none.alloc, 10u);
  EXPECT_EQ(none.stall, 0u);
  EXPECT_EQ(none.daemon_scanned, 0u);

  const Counts direct = run_fragment("--set os.thp.defrag=madvise --set os.vm.compaction_proactiveness=0");
  EXPECT_GT(direct.stall, 0u);
  EXPECT_GT(direct.success, 0u);
  EXPECT_GT(direct.alloc, 50u) << "direct compaction recovers the THP faults";
  EXPECT_LT(direct.fallback, 10u);

  const Counts kcompactd = run_fragment("--set os.thp.defrag=never --set os.vm.compaction_proactiveness=20");
  EXPECT_EQ(kcompactd.stall, 0u);
  EXPECT_GT(kcompactd.daemon_scanned, 0u);
  EXPECT_GT(kcompactd.alloc, 3 * none.alloc + 20) << "kcompactd's proactive passes recover the THP faults";
  EXPECT_LT(kcompactd.fallback, none.fallback / 2);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  return out;
}

TEST(ThpCompaction, KhugepagedCollapseGrowsAnonHugePagesInSamples) {
  const std::string csv = temp("khugepaged.csv");
  Result r = numasim_cli_test::run_numasim("run " + config("khugepaged_collapse.toml") +
                                           " --sample 2ms --csv " + csv + " --quiet");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  std::stringstream rows(slurp(csv));
  std::filesystem::remove(csv);
  std::string line;
  ASSERT_TRUE(std::getline(rows, line));
  const std::vector<std::string> header = split(line);
  auto col = [&](const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    ADD_FAILURE() << name << " not in " << line;
    return std::size_t{0};
  };
  for (const char* c : {"thp_fault_alloc_per_s", "thp_fault_fallback_per_s", "compact_stall_per_s",
                        "compact_success_per_s", "node1.anon_huge_kb"})
    col(c);
  const std::size_t huge = col("node0.anon_huge_kb"), collapsed = col("khugepaged_pages_collapsed");
  std::vector<double> anon_huge, nr_collapsed;
  while (std::getline(rows, line)) {
    const auto f = split(line);
    ASSERT_GT(f.size(), std::max(huge, collapsed));
    anon_huge.push_back(std::stod(f[huge]));
    nr_collapsed.push_back(std::stod(f[collapsed]));
  }
  ASSERT_GT(anon_huge.size(), 10u);
  EXPECT_EQ(anon_huge.front(), 0.0);
  // Grows over several samples (one khugepaged pass collapses at most 8 ranges),
  // never shrinks while the region is mapped, and ends at the 31 aligned ranges.
  double peak = 0;
  int steps = 0;
  for (std::size_t i = 1; i < anon_huge.size() - 1; ++i) {
    EXPECT_GE(anon_huge[i], anon_huge[i - 1]) << i;
    if (anon_huge[i] > anon_huge[i - 1]) ++steps;
    peak = std::max(peak, anon_huge[i]);
  }
  EXPECT_GE(steps, 3);
  EXPECT_EQ(peak, 31.0 * 2048);
  EXPECT_EQ(nr_collapsed.back(), 31.0);
}

}  // namespace
