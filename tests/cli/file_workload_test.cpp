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

// The CSV file as columns by name.
std::map<std::string, std::vector<double>> read_csv(const std::string& path) { return csv_columns(slurp(path)); }

// Runs `workload` (appended to the small machine) with --sample; the report and the CSV's columns.
struct Sampled {
  Result r;
  std::map<std::string, std::vector<double>> cols;
  std::string csv_text;
};
Sampled run_sampled(const std::string& name, const std::string& workload, const std::string& interval) {
  const std::string cfg = write_config(name, std::string(kSmall) + workload), csv = cfg + ".csv";
  Sampled s;
  s.r = run_numasim("run " + cfg + " --sample " + interval + " --csv " + csv);
  s.cols = read_csv(csv);
  s.csv_text = slurp(csv);
  std::filesystem::remove(cfg);
  std::filesystem::remove(csv);
  return s;
}

long field(const std::string& text, const std::string& key) {
  auto at = text.find(key + " ");
  return at == std::string::npos ? -1 : std::stol(text.substr(at + key.size() + 1));
}
}  // namespace

TEST(FileEndToEnd, AFileLargerThanTheNodeReadTwiceRefaults) {
  Sampled s = run_sampled("file_refault",
                          "[[os.file]]\npath = \"/data/big\"\nsize = \"384MiB\"\n"
                          "[[workload]]\nkind = \"file_stream\"\nname = \"reader\"\ncpus = [0]\npolicy = \"bind:0\"\n"
                          "path = \"/data/big\"\nrequest_size = \"1MiB\"\npasses = 2\n",
                          "10ms");
  const Result& r = s.r;
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
  auto& cols = s.cols;
  ASSERT_TRUE(cols.count("workingset_refault_file_per_s")) << s.csv_text.substr(0, 400);
  ASSERT_TRUE(cols.count("pgpgin_kb_per_s"));
  EXPECT_GT(*std::max_element(cols["workingset_refault_file_per_s"].begin(), cols["workingset_refault_file_per_s"].end()),
            0.0);
  EXPECT_GT(*std::max_element(cols["pgpgin_kb_per_s"].begin(), cols["pgpgin_kb_per_s"].end()), 1e6);  // > 1 GB/s
}

TEST(FileEndToEnd, ADirtyHeavyWriterIsThrottledNearDirtyRatioWhileTheFlusherWrites) {
  Sampled s = run_sampled("file_dirty",
                          "[[workload]]\nkind = \"file_stream\"\nname = \"writer\"\ncpus = [0]\n"
                          "path = \"/data/out\"\nsize = \"320MiB\"\nop = \"write\"\nrequest_size = \"1MiB\"\n",
                          "5ms");
  const Result& r = s.r;
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  auto& cols = s.cols;
  const std::string& csv_text = s.csv_text;
  ASSERT_TRUE(cols.count("dirty_kb")) << csv_text.substr(0, 400);
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
  EXPECT_GT(max_dirty, 70.0 * 1024) << csv_text;
  EXPECT_LT(max_dirty, 100.0 * 1024) << csv_text;
  EXPECT_LT(max_bg, 60.0 * 1024) << csv_text;
  // The flusher writes while the writer still dirties pages: an interval with both.
  bool both = false;
  for (std::size_t i = 0; i < written.size(); ++i)
    both |= written[i] > 0 && cols["nr_dirtied_per_s"][i] > 0 && dirty[i] > 0;
  EXPECT_TRUE(both) << csv_text;
  EXPECT_GT(field(r.out, "nr_written"), 80000) << r.out;  // 320 MiB = 81920 pages, all written by the end (fsync)
  auto at = r.out.find("dirty throttled ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stol(r.out.substr(at + 16)), 0) << r.out;
}

TEST(FileEndToEnd, AFileReadTwiceThroughASharedMappingIsServedFromThePageCache) {
  // file_stream with io = "mmap": the file is read through MAP_SHARED mappings
  // (filemap_fault, fault-around, readahead on the fault path).
  const std::string cfg = write_config("file_mmap",
                                       std::string(kSmall) +
                                           "[[os.file]]\npath = \"/data/table\"\nsize = \"64MiB\"\n"
                                           "[[workload]]\nkind = \"file_stream\"\nname = \"reader\"\ncpus = [0]\n"
                                           "policy = \"bind:0\"\npath = \"/data/table\"\nio = \"mmap\"\n"
                                           "request_size = \"1MiB\"\npasses = 2\n"),
                    json = cfg + ".json";
  const Result r = run_numasim("run " + cfg + " --json " + json);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const std::string doc = slurp(json);
  std::filesystem::remove(cfg);
  std::filesystem::remove(json);
  // The file came from the device once: the second pass found every page cached.
  EXPECT_EQ(field(r.out, "pgpgin"), 64l * 1024) << r.out;
  EXPECT_EQ(field(r.out, "workingset_refault_file"), 0) << r.out;
  // A miss is a major fault whose read-around and readahead bring the rest, and
  // fault-around maps up to 16 cached pages per fault: far fewer faults than the
  // 16384 pages of the file (at least one fault per 16 pages).
  auto counter = [&](const std::string& key) {
    auto at = doc.find("\"" + key + "\":");
    return at == std::string::npos ? -1l : std::stol(doc.substr(at + key.size() + 3));
  };
  EXPECT_GE(counter("pgmajfault"), 1) << r.out;
  EXPECT_GE(counter("pgfault"), 16384 / 16) << r.out;
  EXPECT_LT(counter("pgfault"), 16384) << r.out;
}

// The database workload reads its table through a MAP_SHARED mapping by default
// (issue 12 item 7): file-backed faults (major faults when the page is not
// cached, Mapped in meminfo while the mapping lives) and, from the same seed,
// the same logical work as table_io = "pread" (transactions, hits, misses,
// pages written back, log bytes), which faults in no file page.
TEST(FileEndToEnd, TheDatabaseReadsItsTableThroughMmapWithTheSameLogicalWorkAsPread) {
  struct Run {
    Sampled s;
    std::string json;
  };
  auto run = [](const std::string& name, const std::string& io) {
    const std::string cfg = write_config(name, std::string(kSmall) +
                                                   "[[os.file]]\npath = \"/db/table\"\nsize = \"64MiB\"\n"
                                                   "[[workload]]\nkind = \"database\"\nname = \"db\"\ncpus = [0]\n"
                                                   "table = \"/db/table\"\nbuffer_pool = \"8MiB\"\ntransactions = 1500\n" +
                                                   io),
                      csv = cfg + ".csv", json = cfg + ".json";
    Run r;
    r.s.r = run_numasim("run " + cfg + " --sample 1ms --csv " + csv + " --json " + json);
    r.s.cols = read_csv(csv);
    r.s.csv_text = slurp(csv);
    r.json = slurp(json);
    for (const auto& f : {cfg, csv, json}) std::filesystem::remove(f);
    return r;
  };
  const Run m = run("db_mmap", "");  // the default: table_io = "mmap"
  const Run p = run("db_pread", "table_io = \"pread\"\n");
  ASSERT_EQ(m.s.r.status, 0) << m.s.r.err << m.s.r.out;
  ASSERT_EQ(p.s.r.status, 0) << p.s.r.err << p.s.r.out;
  auto counter = [](const std::string& doc, const std::string& key) {
    auto at = doc.find("\"" + key + "\":");
    return at == std::string::npos ? -1l : std::stol(doc.substr(at + key.size() + 3));
  };
  for (const char* key : {"transactions", "page_hits", "page_misses", "pages_written_back", "log_bytes", "fsyncs"})
    EXPECT_EQ(counter(m.json, key), counter(p.json, key)) << key;
  EXPECT_EQ(counter(m.json, "transactions"), 1500);
  EXPECT_GT(counter(m.json, "page_misses"), 1000);
  // mmap: filemap_fault reads the table (major faults); pread faults in no file page.
  EXPECT_GT(counter(m.json, "pgmajfault"), 100) << m.s.r.out;
  EXPECT_EQ(counter(p.json, "pgmajfault"), 0) << p.s.r.out;
  EXPECT_GT(counter(m.json, "pgfault"), counter(p.json, "pgfault"));
  EXPECT_GT(field(m.s.r.out, "pgpgin"), 0);
  EXPECT_GT(field(p.s.r.out, "pgpgin"), 0);
  // meminfo Mapped: the table's pages mapped while the thread runs, none in pread mode.
  ASSERT_TRUE(m.s.cols.count("mapped_kb")) << m.s.csv_text.substr(0, 400);
  const auto& mm = m.s.cols.at("mapped_kb");
  const auto& pm = p.s.cols.at("mapped_kb");
  EXPECT_GT(*std::max_element(mm.begin(), mm.end()), 1024.0) << m.s.csv_text;
  EXPECT_EQ(*std::max_element(pm.begin(), pm.end()), 0.0);
}
