// `numasim run --proc DIR` (issue 17): every file is written, and each one's
// layout matches a recorded sample of Linux 6.1's (tests/cli/data/linux-6.1/,
// written from the kernel's seq_file formats: fs/proc/meminfo.c, mm/vmstat.c,
// drivers/base/node.c, mm/slab_common.c). Layout: the same text, with every
// number placed the same way (starting or ending as far from the text before
// it: fields are left- or right-aligned), whatever the values. meminfo, node meminfo, numastat,
// buddyinfo and pagetypeinfo are compared whole (the samples have the test
// machine's shape: node 0 with DMA and DMA32, node 1 with DMA32); vmstat, node
// vmstat and zoneinfo are excerpts whose lines must appear in order.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include "run_numasim.h"

using namespace numasim_cli_test;

namespace {

struct Token {
  bool number = false;
  std::string text;         // text tokens, the spaces before a number removed
  std::size_t gap = 0, width = 0;  // a number's spaces before it and its digits
};

std::vector<Token> tokens_of(const std::string& line) {
  std::vector<Token> out;
  std::string text;
  std::size_t i = 0;
  auto boundary_before = [&](std::size_t k) {
    return k == 0 || line[k - 1] == ' ' || line[k - 1] == ':' || line[k - 1] == '(' || line[k - 1] == '>';
  };
  while (i < line.size()) {
    if (std::isdigit(static_cast<unsigned char>(line[i])) && boundary_before(i)) {
      std::size_t j = i;
      while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j]))) ++j;
      if (j == line.size() || line[j] == ' ' || line[j] == ',' || line[j] == ')') {
        std::size_t gap = 0;
        while (!text.empty() && text.back() == ' ') text.pop_back(), ++gap;
        out.push_back({false, text, 0, 0});
        text.clear();
        out.push_back({true, "", gap, j - i});
        i = j;
        continue;
      }
    }
    text += line[i++];
  }
  out.push_back({false, text, 0, 0});
  return out;
}

// Same layout: equal text; each number starts as far from the text before it
// (left-aligned or free) or ends as far from it (right-aligned in a field).
bool same_layout(const std::string& a, const std::string& b) {
  auto ta = tokens_of(a), tb = tokens_of(b);
  if (ta.size() != tb.size()) return false;
  for (std::size_t i = 0; i < ta.size(); ++i) {
    if (ta[i].number != tb[i].number) return false;
    if (!ta[i].number && ta[i].text != tb[i].text) return false;
    if (ta[i].number && ta[i].gap != tb[i].gap && ta[i].gap + ta[i].width != tb[i].gap + tb[i].width) return false;
  }
  return true;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

class ProcLayout : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("numasim_proc_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    result_ = run_numasim("run " + source_path("configs/workloads/gups.toml") + " --quiet --sample 2ms --csv " +
                          (dir_ / "s.csv").string() + " --proc " + dir_.string());
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static std::string ours(const std::string& rel) { return slurp((dir_ / rel).string()); }
  static std::string sample(const std::string& rel) { return slurp(source_path("tests/cli/data/linux-6.1/" + rel)); }

  void expect_whole(const std::string& rel) {
    ASSERT_EQ(result_.status, 0) << result_.err;
    auto a = lines_of(ours(rel)), s = lines_of(sample(rel));
    ASSERT_FALSE(s.empty()) << rel;
    ASSERT_EQ(a.size(), s.size()) << rel << ":\n" << ours(rel);
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(same_layout(a[i], s[i])) << rel << " line " << i + 1 << ":\n  ours:  '" << a[i] << "'\n  linux: '"
                                           << s[i] << "'";
  }
  void expect_excerpt(const std::string& rel) {
    ASSERT_EQ(result_.status, 0) << result_.err;
    auto a = lines_of(ours(rel)), s = lines_of(sample(rel));
    ASSERT_FALSE(s.empty()) << rel;
    std::size_t k = 0;
    for (const auto& want : s) {
      while (k < a.size() && !same_layout(a[k], want)) ++k;
      ASSERT_LT(k, a.size()) << rel << ": no line laid out as '" << want << "' (in order)\n" << ours(rel);
      ++k;
    }
  }

  static inline std::filesystem::path dir_;
  static inline Result result_;
};

}  // namespace

TEST(ProcLayoutCheck, ComparesTextAndColumns) {
  EXPECT_TRUE(same_layout("MemFree:         1453216 kB", "MemFree:          702152 kB"));
  EXPECT_FALSE(same_layout("MemFree:         1453216 kB", "MemFree:        1453216 kB"));
  EXPECT_FALSE(same_layout("MemFree: 1 kB", "MemFre: 1 kB"));
  EXPECT_TRUE(same_layout("      nr_mlock     0", "      nr_mlock     123"));
  EXPECT_TRUE(same_layout("        protection: (0, 944, 944, 944)", "        protection: (0, 1008, 1008, 1008)"));
  EXPECT_FALSE(same_layout("HardwareCorrupted:     0 kB", "HardwareCorrupted:       0 kB"));
  EXPECT_TRUE(same_layout("Node 0, zone    DMA32    502    391 ", "Node 1, zone    DMA32      3      4 "));
}

TEST_F(ProcLayout, Meminfo) { expect_whole("meminfo"); }
TEST_F(ProcLayout, NodeMeminfo) { expect_whole("node0/meminfo"); }
TEST_F(ProcLayout, NodeNumastat) { expect_whole("node0/numastat"); }
TEST_F(ProcLayout, Buddyinfo) { expect_whole("buddyinfo"); }
TEST_F(ProcLayout, Pagetypeinfo) { expect_whole("pagetypeinfo"); }
TEST_F(ProcLayout, Vmstat) { expect_excerpt("vmstat"); }
TEST_F(ProcLayout, NodeVmstatHasNoWritebackThresholdsOrEvents) {
  expect_excerpt("node0/vmstat");
  const std::string v = ours("node0/vmstat");
  EXPECT_EQ(v.find("nr_dirty_threshold"), std::string::npos);
  EXPECT_EQ(v.find("pgfault"), std::string::npos);
  EXPECT_EQ(lines_of(v).back().rfind("pgpromote_candidate ", 0), 0u) << v;  // node stats come last
}
TEST_F(ProcLayout, Zoneinfo) { expect_excerpt("zoneinfo"); }

TEST_F(ProcLayout, Slabinfo) {
  ASSERT_EQ(result_.status, 0) << result_.err;
  auto a = lines_of(ours("slabinfo")), s = lines_of(sample("slabinfo"));
  ASSERT_GE(a.size(), 3u);
  EXPECT_EQ(a[0], s[0]);
  EXPECT_EQ(a[1], s[1]);
  // Every cache line: the name in 17 columns, then the figures where Linux puts them.
  auto unnamed = [](const std::string& l) {
    const std::size_t sp = l.find(' ');
    return sp <= 17 ? std::string(17, 'n') + l.substr(17) : l;
  };
  for (std::size_t i = 2; i < a.size(); ++i)
    EXPECT_TRUE(same_layout(unnamed(a[i]), unnamed(s[2]))) << "ours:  '" << a[i] << "'\nlinux: '" << s[2] << "'";
}

TEST_F(ProcLayout, EveryFileOfEveryNodeAndEverySample) {
  ASSERT_EQ(result_.status, 0) << result_.err;
  std::vector<std::filesystem::path> roots = {dir_};
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    if (e.is_directory() && e.path().filename().string().rfind("T", 0) == 0) roots.push_back(e.path());
  EXPECT_GE(roots.size(), 3u);  // the end and at least two samples (T2ms, T4ms ...)
  EXPECT_TRUE(std::filesystem::exists(dir_ / "T2ms" / "meminfo"));
  for (const auto& r : roots) {
    for (const char* f : {"meminfo", "vmstat", "zoneinfo", "buddyinfo", "pagetypeinfo", "slabinfo"})
      EXPECT_GT(std::filesystem::file_size(r / f), 0u) << r / f;
    for (const char* n : {"node0", "node1"})
      for (const char* f : {"meminfo", "numastat", "vmstat"}) EXPECT_GT(std::filesystem::file_size(r / n / f), 0u);
  }
}

TEST(ProcOption, AFileAsTheDirectoryIsAUsageError) {
  Result r = run_numasim("run " + source_path("configs/workloads/gups.toml") + " --quiet --proc " +
                         source_path("configs/default.toml"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--proc: \"" + source_path("configs/default.toml") + "\" is not a directory"),
            std::string::npos)
      << r.err;
}
