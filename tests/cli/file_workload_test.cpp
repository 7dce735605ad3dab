// Files end to end through the numasim binary: a file read twice on a node
// smaller than it (the second pass refaults: workingset_refault_file), and a
// dirty-heavy writer throttled near dirty_ratio while the flusher writes in
// the background, both visible in the --sample CSV and the report's Files line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "tests/cli/run_numasim.h"

using namespace numasim_cli_test;

namespace {
// A two-node machine of 256 MiB per node (default.toml otherwise).
const char* kSmall =
    "base = \"" NUMASIM_SOURCE_DIR
    "/configs/default.toml\"\n"
    "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"256MiB\"\n";

std::string write_config(const std::string& name, const std::string& text) {
  std::string path = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}

// The CSV as columns by name.
std::map<std::string, std::vector<double>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream h(line);
  for (std::string f; std::getline(h, f, ',');) names.push_back(f);
  std::map<std::string, std::vector<double>> cols;
  while (std::getline(in, line)) {
    std::stringstream r(line);
    std::size_t i = 0;
    for (std::string f; std::getline(r, f, ',') && i < names.size(); ++i) cols[names[i]].push_back(std::stod(f));
  }
  return cols;
}

long field(const std::string& text, const std::string& key) {
  auto at = text.find(key + " ");
  return at == std::string::npos ? -1 : std::stol(text.substr(at + key.size() + 1));
}
}  // namespace

TEST(FileEndToEnd, AFileLargerThanTheNodeReadTwiceRefaults) {
  std::string cfg = write_config("file_refault", std::string(kSmall) +
                                                     "[[os.file]]\npath = \"/data/big\"\nsize = \"384MiB\"\n"
                                                     "[[workload]]\nkind = \"file_stream\"\nname = \"reader\"\n"
                                                     "cpus = [0]\npolicy = \"bind:0\"\npath = \"/data/big\"\n"
                                                     "request_size = \"1MiB\"\npasses = 2\n");
  std::string csv = cfg + ".csv";
  Result r = run_numasim("run " + cfg + " --sample 10ms --csv " + csv);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  // Files: the first pass read all 384 MiB into a 256 MiB node; the second pass
  // starts where reclaim evicted first and, LRU-ordered, finds nothing left by
  // the time it gets there: every page is read again and is a refault (a shadow
  // left at its index), too distant to activate.
  const long pgpgin = field(r.out, "pgpgin"), refaults = field(r.out, "workingset_refault_file");
  EXPECT_GT(pgpgin, 384l * 1024) << r.out;
  EXPECT_LE(pgpgin, 2 * 384l * 1024) << r.out;
  EXPECT_GT(refaults, 0) << r.out;
  EXPECT_EQ((pgpgin - 384l * 1024) / 4, refaults) << "every page read again had left a shadow\n" << r.out;
  auto cols = read_csv(csv);
  ASSERT_TRUE(cols.count("workingset_refault_file_per_s")) << slurp(csv).substr(0, 400);
  ASSERT_TRUE(cols.count("pgpgin_kb_per_s"));
  EXPECT_GT(*std::max_element(cols["workingset_refault_file_per_s"].begin(), cols["workingset_refault_file_per_s"].end()),
            0.0);
  EXPECT_GT(*std::max_element(cols["pgpgin_kb_per_s"].begin(), cols["pgpgin_kb_per_s"].end()), 1e6);  // > 1 GB/s
  std::filesystem::remove(cfg);
  std::filesystem::remove(csv);
}

TEST(FileEndToEnd, ADirtyHeavyWriterIsThrottledNearDirtyRatioWhileTheFlusherWrites) {
  std::string cfg = write_config("file_dirty", std::string(kSmall) +
                                                   "[[workload]]\nkind = \"file_stream\"\nname = \"writer\"\n"
                                                   "cpus = [0]\npath = \"/data/out\"\nsize = \"320MiB\"\n"
                                                   "op = \"write\"\nrequest_size = \"1MiB\"\n");
  std::string csv = cfg + ".csv";
  Result r = run_numasim("run " + cfg + " --sample 5ms --csv " + csv);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  auto cols = read_csv(csv);
  ASSERT_TRUE(cols.count("dirty_kb")) << slurp(csv).substr(0, 400);
  const auto& dirty = cols["dirty_kb"];
  const auto& written = cols["nr_written_per_s"];
  double max_dirty = 0, max_bg = 0;
  for (std::size_t i = 0; i < dirty.size(); ++i) {
    max_dirty = std::max(max_dirty, dirty[i] + cols["writeback_kb"][i]);  // what balance_dirty_pages counts
    max_bg = std::max(max_bg, dirty[i]);
  }
  // dirty_ratio 20 of about 480 MiB of dirtyable memory: about 96 MiB; the
  // background threshold about 48 MiB, the freerun point halfway. The flusher
  // keeps Dirty near the background threshold; Dirty + Writeback rises past the
  // freerun point, where the writer is paused, and stays below the limit.
  EXPECT_GT(max_dirty, 70.0 * 1024) << slurp(csv);
  EXPECT_LT(max_dirty, 100.0 * 1024) << slurp(csv);
  EXPECT_LT(max_bg, 60.0 * 1024) << slurp(csv);
  // The flusher writes while the writer still dirties pages: an interval with both.
  bool both = false;
  for (std::size_t i = 0; i < written.size(); ++i)
    both |= written[i] > 0 && cols["nr_dirtied_per_s"][i] > 0 && dirty[i] > 0;
  EXPECT_TRUE(both) << slurp(csv);
  EXPECT_GT(field(r.out, "nr_written"), 80000) << r.out;  // 320 MiB = 81920 pages, all written by the end (fsync)
  auto at = r.out.find("dirty throttled ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stol(r.out.substr(at + 16)), 0) << r.out;
  std::filesystem::remove(cfg);
  std::filesystem::remove(csv);
}
