// Memory tiering from the command line: configs/workloads/numa-tiering-cxl-first-touch.toml
// places a zipf workload's footprint on the CXL node (init_policy = "bind:2")
// and NUMA balancing in MEMORY_TIERING mode promotes its hot pages to node 0:
// the report counts pgpromote_success > 0 within the rate limit, the --sample
// CSV shows toptier_resident_pages rising and lowertier_resident_pages falling
// after the first touch, and the workload's numa_maps line (Linux's
// /proc/<pid>/numa_maps format) splits the footprint between N0 and N2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "tests/cli/run_numasim.h"

using namespace numasim_cli_test;

namespace {

// The number after `key` and one separator (' ', '=') in text, or -1; a key
// ending in ':' (a JSON member) is followed by its value directly.
long long number_after(const std::string& text, const std::string& key) {
  for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    std::size_t v = at + key.size();
    if (key.back() != ':') {
      if (v >= text.size() || (text[v] != ' ' && text[v] != '=')) continue;
      if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1]))) continue;
      ++v;
    }
    return std::stoll(text.substr(v));
  }
  return -1;
}

}  // namespace

TEST(NumaTieringCli, AHotSetFirstTouchedOnTheCxlNodeIsPromoted) {
  const std::string base =
      std::filesystem::temp_directory_path() / ("numa_tiering_cli_" + std::to_string(::getpid()));
  Result r = run_numasim("run " + source_path("configs/workloads/numa-tiering-cxl-first-touch.toml") +
                         " --sample 10ms --csv " + base + ".csv --json " + base + ".json");
  const std::string text = slurp(base + ".csv"), json = slurp(base + ".json");
  std::filesystem::remove(base + ".csv");
  std::filesystem::remove(base + ".json");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  // The first touch wrote the whole 48 MiB footprint (12 288 pages) on node 2.
  EXPECT_EQ(number_after(json, "\"first_touch_pages\":"), 12288) << json.substr(0, 2000);
  const long long promoted = number_after(json, "\"pgpromote_success\":");
  const long long candidates = number_after(json, "\"pgpromote_candidate\":");
  EXPECT_GT(promoted, 1000);
  EXPECT_LE(promoted, candidates);
  EXPECT_LE(candidates, 8192) << "32 MB/s: 8192 candidates per one-second window, and the run is shorter";
  EXPECT_EQ(number_after(json, "\"pswpout\":"), 0);
  auto cols = csv_columns(text);
  ASSERT_TRUE(cols.count("toptier_resident_pages")) << text.substr(0, 400);
  ASSERT_TRUE(cols.count("lowertier_resident_pages"));
  ASSERT_TRUE(cols.count("local_dram_fraction"));
  const auto& top = cols["toptier_resident_pages"];
  const auto& low = cols["lowertier_resident_pages"];
  const auto& local = cols["local_dram_fraction"];
  ASSERT_GE(top.size(), 4u) << text;
  // The first sample holds the whole footprint on the lower tier; later ones
  // move it up: the top tier gains what the lower tier loses.
  EXPECT_EQ(low[0], 12288.0) << text;
  EXPECT_EQ(top[0], 0.0) << text;
  const std::size_t best = static_cast<std::size_t>(std::max_element(top.begin(), top.end()) - top.begin());
  EXPECT_GT(top[best], 1000.0) << text;
  EXPECT_EQ(top[best] + low[best], 12288.0) << text;  // nothing lost, nothing on node 1
  for (std::size_t i = 1; i <= best; ++i) EXPECT_GE(top[i], top[i - 1]) << text;  // rising
  EXPECT_GT(local[best], 0.1) << text;
  EXPECT_LT(*std::min_element(local.begin(), local.begin() + static_cast<long>(best)), 0.05) << text;
  // numa_maps of the workload (the report's /proc/<pid>/numa_maps section):
  // the footprint on N0 (promoted) and N2, 4 KiB pages.
  EXPECT_GT(number_after(r.out, "N0"), 1000) << r.out;
  EXPECT_GT(number_after(r.out, "N2"), 1000) << r.out;
  EXPECT_NE(r.out.find("anon=12288"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernelpagesize_kB=4"), std::string::npos) << r.out;
}

// A bad init_policy is a located configuration error (exit 2), nothing run.
TEST(NumaTieringCli, ABadInitPolicyIsAConfigurationError) {
  const std::string cfg =
      std::filesystem::temp_directory_path() / ("numa_tiering_bad_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(cfg) << "base = \"" << source_path("configs/workloads/numa-tiering-cxl-first-touch.toml") << "\"\n"
                     << "[[workload]]\nkind = \"zipf\"\nfootprint = \"1MiB\"\naccesses = 10\ninit_policy = \"bind:7\"\n";
  Result r = run_numasim("run " + cfg);
  std::filesystem::remove(cfg);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("init_policy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":6:15: error: workload[0].init_policy: node 7 does not exist"), std::string::npos) << r.err;
}
