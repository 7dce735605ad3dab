// `numasim loaded-latency` with MLC's options and `numasim mess-curves` (issue
// 16, item 1), as a user runs them: every option error is a usage error naming
// the option and the bad value; --whole-system injects from every node's CPUs
// (each node's injectors carry traffic); the Mess curves are monotone: less
// injection delay gives more bandwidth, latency does not fall as bandwidth
// rises (within the chase's noise), and lower read ratios carry more memory
// traffic at the same delay (a stored line moves 128 B). Small machines and few
// loads keep each run to seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "run_numasim.h"

using namespace numasim_cli_test;

namespace {

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("numasim_ll_" + std::to_string(::getpid()) + "_" + name)).string();
}

struct Point {
  long delay = -1;  // -1: idle
  double bandwidth = 0, latency = 0;
};

// read_percent -> points in file order (rising bandwidth).
std::map<int, std::vector<Point>> read_csv(const std::string& path) {
  std::map<int, std::vector<Point>> out;
  std::istringstream in(slurp(path));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "read_percent,delay,bandwidth_gbps,latency_ns");
  while (std::getline(in, line)) {
    int rp = 0;
    char delay[32] = {};
    Point p;
    if (std::sscanf(line.c_str(), "%d,%31[0-9],%lf,%lf", &rp, delay, &p.bandwidth, &p.latency) == 4) {
      p.delay = std::stol(delay);
    } else {
      EXPECT_EQ(std::sscanf(line.c_str(), "%d,,%lf,%lf", &rp, &p.bandwidth, &p.latency), 3) << line;
    }
    out[rp].push_back(p);
  }
  return out;
}

TEST(LoadedLatencyCli, OptionErrorsNameTheOptionAndValue) {
  struct Case {
    std::string args, message;
  } cases[] = {
      {"loaded-latency --mix W4", "--mix: expected R, W2, W3 or W5 (MLC's names), got \"W4\""},
      {"loaded-latency --delays 100,,0", "--delays: expected comma-separated integers (0 to 9999999), got \"100,,0\" "
                                         "(bad item \"\")"},
      {"loaded-latency --delays -5", "bad item \"-5\""},
      {"loaded-latency --loads 0", "--loads: expected a count from 1 to 100000000"},
      {"mess-curves --read-ratios 100,40", "--read-ratios: 40 is outside 50 to 100"},
      {"mess-curves --read-ratios 90,x", "--read-ratios: expected comma-separated integers"},
      {"mess-curves --mix W2", "--mix"},  // a loaded-latency option only
  };
  for (const Case& c : cases) {
    Result r = run_numasim(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << c.args;  // nothing simulated
  }
}

TEST(LoadedLatencyCli, WholeSystemInjectsFromEveryNodesCpus) {
  const std::string json = tmp("ws.json");
  Result r = run_numasim("loaded-latency " + source_path("configs/default.toml") +
                         " --whole-system --delays 200,0 --mix W2 --loads 500 --json " + json);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string doc = slurp(json);
  // default.toml: 2 sockets x 2 cores, one node each; CPU 0 chases, CPUs 1-3 inject.
  EXPECT_NE(doc.find("\"mix\": \"W2\", \"whole_system\": true, \"traffic_cpus\": 3, \"traffic_nodes\": [0, 1]"),
            std::string::npos)
      << doc;
  // Every loaded point: both nodes' injectors carry traffic, the second node
  // (two injectors) about twice the first's (one).
  std::regex per_node("\"delay\": (\\d+), \"bandwidth_gbps\": ([0-9.]+), \"latency_ns\": [0-9.]+, "
                      "\"node_bandwidth_gbps\": \\[([0-9.]+), ([0-9.]+)\\]");
  int loaded = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), per_node), end; it != end; ++it, ++loaded) {
    const double total = std::stod((*it)[2]), n0 = std::stod((*it)[3]), n1 = std::stod((*it)[4]);
    EXPECT_GT(n0, 0.0) << it->str();
    EXPECT_GT(n1, 1.5 * n0) << it->str();
    EXPECT_LE(n0 + n1, total) << it->str();  // the total adds the latency CPU's own reads
  }
  EXPECT_EQ(loaded, 2) << doc;
  EXPECT_NE(doc.find("{\"delay\": null,"), std::string::npos) << "idle point";
  std::filesystem::remove(json);

  // Without --whole-system only node 0's other CPU injects.
  r = run_numasim("loaded-latency " + source_path("configs/default.toml") + " --delays 0 --loads 500 --json " + json);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(slurp(json).find("\"traffic_cpus\": 1, \"traffic_nodes\": [0]"), std::string::npos) << slurp(json);
  std::filesystem::remove(json);
}

TEST(LoadedLatencyCli, DelaysMlcAreMlcsDefaultList) {
  const std::string json = tmp("mlc.json");
  Result r = run_numasim("loaded-latency --delays mlc --loads 200 --json " + json);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string doc = slurp(json);
  std::regex delay("\"delay\": (\\d+|null)");
  std::vector<std::string> got;
  for (std::sregex_iterator it(doc.begin(), doc.end(), delay), end; it != end; ++it) got.push_back((*it)[1]);
  std::sort(got.begin(), got.end(), [](const std::string& a, const std::string& b) {
    return a == "null" ? b != "null" : b != "null" && std::stol(a) < std::stol(b);
  });
  const std::vector<std::string> mlc = {"null", "0",   "2",    "8",    "15",   "50",   "100",  "200",  "300", "400",
                                        "500",  "700", "1000", "1300", "1700", "2500", "3500", "5000", "9000", "20000"};
  EXPECT_EQ(got, mlc) << doc;
  std::filesystem::remove(json);
}

TEST(LoadedLatencyCli, MessCurvesAreMonotone) {
  const std::string json = tmp("mess.json"), csv = tmp("mess.csv");
  // Four cores on one node: three injectors load node 0's six channels.
  Result r = run_numasim("mess-curves " + source_path("configs/default.toml") +
                         " --set machine.cores_per_socket=4 --read-ratios 100,75,50 --delays 1000,100,0 --loads 800"
                         " --json " + json + " --csv " + csv);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("100% reads (100%read)"), std::string::npos) << r.out;
  const auto curves = read_csv(csv);
  ASSERT_EQ(curves.size(), 3u);
  std::map<int, std::map<long, Point>> by_delay;
  for (const auto& [rp, pts] : curves) {
    SCOPED_TRACE("read percent " + std::to_string(rp));
    ASSERT_EQ(pts.size(), 4u);  // idle + 3 delays
    // Monotone as far as the chase's noise allows (a few ns at light load, where
    // the chase's lines meet the injectors' in a bank by chance): the file lists
    // rising bandwidth; no point falls more than 5% below the idle latency or
    // below a point of lower bandwidth; the saturated end is the slowest.
    double max_latency = 0;
    for (std::size_t i = 0; i < pts.size(); ++i) {
      if (i) {
        EXPECT_GE(pts[i].bandwidth, pts[i - 1].bandwidth);
      }
      EXPECT_GE(pts[i].latency, pts.front().latency * 0.95) << "point " << i;
      EXPECT_GE(pts[i].latency, max_latency * 0.95) << "point " << i;
      max_latency = std::max(max_latency, pts[i].latency);
    }
    EXPECT_GE(pts.back().latency, max_latency * 0.98);
    EXPECT_GT(pts.back().latency, pts.front().latency);
    for (const Point& p : pts) by_delay[rp][p.delay] = p;
    // Less delay, more bandwidth: the idle point is the lowest, delay 0 the highest.
    EXPECT_EQ(pts.front().delay, -1);
    EXPECT_EQ(pts.back().delay, 0);
    EXPECT_GT(pts.back().bandwidth, 2 * by_delay[rp][1000].bandwidth);
  }
  // At the same delay, stores (RFO + write-back) move more bytes.
  for (long d : {1000L, 100L, 0L}) {
    EXPECT_GT(by_delay[75][d].bandwidth, by_delay[100][d].bandwidth) << "delay " << d;
    EXPECT_GT(by_delay[50][d].bandwidth, by_delay[75][d].bandwidth) << "delay " << d;
  }
  // The JSON carries the same curves.
  const std::string doc = slurp(json);
  EXPECT_EQ(doc.rfind("{\"curves\": [{\"read_percent\": 100, \"mix\": \"100%read\"", 0), 0u) << doc.substr(0, 120);
  EXPECT_NE(doc.find("{\"read_percent\": 50, \"mix\": \"50%read\""), std::string::npos);
  std::filesystem::remove(json);
  std::filesystem::remove(csv);
}

}  // namespace
