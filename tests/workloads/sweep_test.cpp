// Sweep files: parsing and its errors (grid size limit, [collect] path
// syntax), grid expansion, run outcomes and the CSV, and the JSON path lookup
// the figure columns use. The runners are tested in tests/cli/sweep_test.cpp.
#include "workloads/sweep.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "workloads/json_path.h"

using namespace numasim::workloads;

namespace {
const char* kSweep =
    "configs = [\"a.toml\", \"/abs/b.toml\"]\n"
    "jobs = 3\n"
    "[grid]\n"
    "\"workload[0].policy\" = [\"local\", \"bind:1\"]\n"
    "\"workload[0].threads\" = [1, 2, 4]\n"
    "[collect]\n"
    "secs = \"sim.simulated_seconds\"\n"
    "hit = \"nodes.1.numastat.numa_hit\"\n";

std::string sweep_error(const std::string& text) {
  try {
    parse_sweep_text(text, "s.toml", "/d");
  } catch (const SweepError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(JsonLookup, FollowsObjectsAndArrays) {
  std::string j = R"({"sim": {"simulated_seconds": 0.0125, "name": "a \"b\""},
    "nodes": [{"numastat": {"numa_hit": 10}}, {"numastat": {"numa_hit": 42, "x": [1, {"y": null}]}}],
    "ok": true})";
  EXPECT_EQ(json_lookup(j, "sim.simulated_seconds"), "0.0125");
  EXPECT_EQ(json_lookup(j, "sim.name"), "a \"b\"");
  EXPECT_EQ(json_lookup(j, "nodes.1.numastat.numa_hit"), "42");
  EXPECT_EQ(json_lookup(j, "nodes.1.numastat.x.1.y"), "null");
  EXPECT_EQ(json_lookup(j, "ok"), "true");
  EXPECT_EQ(json_lookup(j, "nodes.2.numastat"), std::nullopt);
  EXPECT_EQ(json_lookup(j, "nodes.0"), std::nullopt);  // an object, not a scalar
  EXPECT_EQ(json_lookup(j, "sim.missing"), std::nullopt);
  EXPECT_EQ(json_lookup("{\"a\": [1, 2", "a.1"), "2");
  EXPECT_EQ(json_lookup("{\"a\": [1, 2", "a.2"), std::nullopt);
}

TEST(Sweep, ParsesAndExpandsTheCartesianProduct) {
  SweepSpec s = parse_sweep_text(kSweep, "s.toml", "/d");
  EXPECT_EQ(s.configs, (std::vector<std::string>{"/d/a.toml", "/abs/b.toml"}));
  EXPECT_EQ(s.jobs, 3);
  ASSERT_EQ(s.grid.size(), 2u);
  EXPECT_EQ(s.grid[0].first, "workload[0].policy");  // file order
  EXPECT_EQ(s.grid[0].second, (std::vector<std::string>{"\"local\"", "\"bind:1\""}));
  EXPECT_EQ(s.grid[1].second, (std::vector<std::string>{"1", "2", "4"}));
  auto points = expand_sweep(s);
  ASSERT_EQ(points.size(), 2u * 2 * 3);
  EXPECT_EQ(points[0].config, "/d/a.toml");
  EXPECT_EQ(points[1].sets[1].second, "2");  // last key fastest
  EXPECT_EQ(points[3].sets[0].second, "\"bind:1\"");
  EXPECT_EQ(points[6].config, "/abs/b.toml");
  EXPECT_EQ(points[11].index, 11u);
  EXPECT_EQ(points[4].command({"--sample", "1us"}, "/t/4.json"),
            (std::vector<std::string>{"run", "/d/a.toml", "--set", "workload[0].policy=\"bind:1\"", "--set",
                                      "workload[0].threads=2", "--sample", "1us", "--json", "/t/4.json", "--quiet"}));
  // No grid: one run per configuration.
  EXPECT_EQ(expand_sweep(parse_sweep_text("configs = [\"x.toml\"]\n", "s", "")).size(), 1u);
}

TEST(Sweep, BadFilesNameTheirPosition) {
  EXPECT_EQ(sweep_error("jobs = 2\n"), "s.toml: error: missing required key 'configs'\n");
  EXPECT_EQ(sweep_error("configs = [\"a\"]\n[grid]\nx = []\n"),
            "s.toml:3:5: error: grid.x: expected a non-empty array of values\n");
  EXPECT_EQ(sweep_error("configs = [\"a\"]\njbos = 2\n"),
            "s.toml:2:8: error: unknown key 'jbos'; valid keys are: args collect configs grid jobs\n");
  EXPECT_EQ(sweep_error("configs = [\"a\"]\n[collect]\nx = 3\n"),
            "s.toml:3:5: error: collect.x: expected a dotted JSON path string, e.g. \"sim.simulated_seconds\"\n");
  EXPECT_NE(sweep_error("configs = [\n").find("s.toml:"), std::string::npos);
}

TEST(Sweep, AGridBeyondTheLimitIsALocatedErrorNotAnExpansion) {
  // 10^9 points: nine keys of ten values; rejected before anything is expanded.
  std::string text = "configs = [\"a\"]\n[grid]\n";
  const std::string ten = " = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  for (char k = 'a'; k < 'a' + 9; ++k) text += std::string(1, k) + ten;
  EXPECT_EQ(sweep_error(text),
            "s.toml:2:1: error: the sweep expands to 1000000000 points (1 configuration x 10 x 10 x 10 x 10 x 10 x "
            "10 x 10 x 10 x 10); at most 100000 points are allowed per sweep: split it into several sweep files\n");
  // Saturating count: 10^36 does not wrap around to a small number.
  std::string huge = "configs = [\"a\", \"b\"]\n[grid]\n";
  for (int k = 0; k < 36; ++k) huge += std::string(1, static_cast<char>('a' + k / 26)) + std::string(1, static_cast<char>('a' + k % 26)) + ten;
  EXPECT_NE(sweep_error(huge).find("expands to more than 18446744073709551614 points (2 configurations x 10"),
            std::string::npos);
  // The limit itself is allowed: 2 configurations x 50000.
  std::string at_limit = "configs = [\"a\", \"b\"]\n[grid]\nk = [";
  for (int v = 0; v < 50000; ++v) at_limit += (v ? ", " : "") + std::to_string(v);
  EXPECT_EQ(parse_sweep_text(at_limit + "]\n", "s", "").grid[0].second.size(), 50000u);
  EXPECT_NE(sweep_error(at_limit + ", 50000]\n").find("expands to 100002 points"), std::string::npos);
}

TEST(Sweep, BadCollectPathsAreLocatedErrorsNotEmptyColumns) {
  auto bad = [](const std::string& path) { return sweep_error("configs = [\"a\"]\n[collect]\nx = \"" + path + "\"\n"); };
  EXPECT_EQ(bad("nodes[1].numa_hit"),
            "s.toml:3:5: error: collect.x: bad JSON path \"nodes[1].numa_hit\": brackets are not path syntax; index "
            "arrays with a dotted number (\"nodes.1.x\", not \"nodes[1].x\")\n");
  EXPECT_EQ(bad("sim..seconds"),
            "s.toml:3:5: error: collect.x: bad JSON path \"sim..seconds\": empty key (a path is keys separated by "
            "single dots)\n");
  EXPECT_NE(bad(".sim").find("empty key"), std::string::npos);
  EXPECT_NE(bad("sim.").find("empty key"), std::string::npos);
  EXPECT_NE(bad("").find("the path is empty"), std::string::npos);
  EXPECT_NE(bad("sim seconds").find("character ' ' cannot appear in a key"), std::string::npos);
  EXPECT_EQ(parse_sweep_text("configs = [\"a\"]\n[collect]\nx = \"nodes.1.numastat.numa_hit\"\n", "s", "").collect[0].second,
            "nodes.1.numastat.numa_hit");
}

TEST(Sweep, OutcomesAndTheCsv) {
  auto dir = std::filesystem::temp_directory_path() / ("numasim_wl_outcome_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SweepSpec s = parse_sweep_text("configs = [\"a.toml\"]\n[grid]\np = [\"x,y\", \"z\"]\n[collect]\nsecs = "
                                 "\"sim.simulated_seconds\"\n",
                                 "s.toml", "/d");
  auto points = expand_sweep(s);
  std::vector<SweepRunOutcome> runs(2);
  runs[0].point = points[0];
  runs[0].json_path = (dir / "0.json").string();
  std::ofstream(runs[0].json_path) << "{\"sim\": {\"simulated_seconds\": 0.5}}";
  record_run_exit(s, runs[0], 0);
  EXPECT_TRUE(runs[0].ok);
  runs[1].point = points[1];
  runs[1].log_path = (dir / "1.log").string();
  std::ofstream(runs[1].log_path) << "first\n\nerror: second\n";
  record_run_exit(s, runs[1], 128 + 9);
  EXPECT_FALSE(runs[1].ok);
  EXPECT_EQ(tail_lines(runs[1].log_path, 5), "first\nerror: second");
  EXPECT_EQ(sweep_csv(s, runs), "run,config,p,status,secs\n0,/d/a.toml,\"x,y\",ok,0.5\n1,/d/a.toml,z,failed: killed by "
                                "signal 9; log " + runs[1].log_path + ": error: second,\n");
  record_run_exit(s, runs[1], 3);
  EXPECT_EQ(runs[1].message, "exit code 3; log " + runs[1].log_path + ": error: second");
  record_run_failure(s, runs[1], "lost");
  EXPECT_EQ(runs[1].figures, std::vector<std::string>{""});
  std::filesystem::remove_all(dir);
}
