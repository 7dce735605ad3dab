// Memory cgroups v2 end to end through `numasim run`: the container examples
// (configs/workloads/container_limit.toml, container_oom.toml) and the
// [[cgroup]] configuration's located errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tests/cli/run_numasim.h"

namespace {

using numasim_cli_test::Result;
using numasim_cli_test::slurp;

std::string config(const std::string& name) { return std::string(NUMASIM_SOURCE_DIR) + "/configs/" + name; }
std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name)).string();
}
// "name": N, the first after `from` in the JSON (from: a cgroup's "path" entry, or the start).
std::int64_t number_after(const std::string& json, const std::string& from, const std::string& name) {
  const std::size_t at = from.empty() ? 0 : json.find(from);
  if (at == std::string::npos) {
    ADD_FAILURE() << from << " not in the JSON";
    return -1;
  }
  std::smatch m;
  const std::string rest = json.substr(at);
  if (!std::regex_search(rest, m, std::regex("\"" + name + "\": (-?[0-9]+)"))) {
    ADD_FAILURE() << name << " not in the JSON after " << from;
    return -1;
  }
  return std::stoll(m[1]);
}

TEST(MemcgCli, LimitedContainerSwapsWithinItsLimitBesideAProtectedOne) {
  const std::string json = temp("containers.json");
  Result r = numasim_cli_test::run_numasim("run " + config("workloads/container_limit.toml") + " --quiet --json " + json);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const std::string j = slurp(json);
  const std::string batch = "\"path\": \"/batch\"", web = "\"path\": \"/web\"";
  EXPECT_EQ(number_after(j, batch, "memory_peak"), 256ll << 20) << "the hog stays within memory.max";
  EXPECT_GT(number_after(j, batch, "max"), 0) << "memory.events max";
  EXPECT_GT(number_after(j, batch, "pgsteal"), 0);
  EXPECT_GT(number_after(j, batch, "pgmajfault"), 0) << "the hog's pages came back from swap";
  EXPECT_EQ(number_after(j, batch, "oom_kill"), 0);
  EXPECT_EQ(number_after(j, web, "pgsteal"), 0) << "the protected container kept its pages";
  EXPECT_EQ(number_after(j, web, "pgmajfault"), 0);
  // 384 MiB of anonymous pages plus the kernel memory charged with them (Linux
  // 6.1 obj_cgroup): about 194 page-table pages and the VMA/anon_vma objects, in
  // 64-page charge batches: 1 MiB more.
  EXPECT_EQ(number_after(j, web, "memory_peak"), (384ll << 20) + (1ll << 20));
  EXPECT_GT(number_after(j, "", "pswpout"), 0);
  EXPECT_EQ(number_after(j, "", "allocstall_normal"), 0) << "cgroup reclaim is not global direct reclaim";
  EXPECT_EQ(number_after(j, "", "oom_kill"), 0);
  EXPECT_EQ(number_after(j, "", "mismatches"), 0) << "every page verified after swap";
  EXPECT_GT(number_after(j, "", "loads_checked"), 131072);
  std::filesystem::remove(json);
}

TEST(MemcgCli, ContainerOverItsLimitWithoutSwapIsKilledInsideItsCgroup) {
  const std::string json = temp("container_oom.json");
  Result r = numasim_cli_test::run_numasim("run " + config("workloads/container_oom.toml") + " --json " + json);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.out.find("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=/batch,task_memcg=/batch,"
                       "task=batch,pid=1,uid=0"),
            std::string::npos)
      << r.out;
  const std::string j = slurp(json);
  EXPECT_EQ(number_after(j, "\"path\": \"/batch\"", "oom_kill"), 1);
  EXPECT_EQ(number_after(j, "\"path\": \"/web\"", "oom_kill"), 0);
  EXPECT_EQ(number_after(j, "", "oom_kill"), 1);
  EXPECT_EQ(number_after(j, "", "pswpout"), 0) << "memory.swap.max = 0";
  EXPECT_EQ(number_after(j, "", "mismatches"), 0);
  std::filesystem::remove(json);
}

TEST(MemcgCli, BadCgroupTablesAreLocatedErrors) {
  const std::string path = temp("bad_cgroup.toml");
  std::ofstream(path) << "[[cgroup]]\npath = \"/a/b\"\nmemory.max = \"lots\"\n\n[[cgroup]]\npath = \"/c\"\nmemory.maxx = "
                         "\"1GiB\"\n\n[[workload]]\nkind = \"stream\"\ncgroup = \"/nope\"\n";
  Result r = numasim_cli_test::run_numasim("run " + path);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("parent cgroup \"/a\" is not defined before \"/a/b\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cgroup[0].memory.max: \"lots\" is not \"max\" or a size"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("maxx"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no [[cgroup]] with path \"/nope\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad_cgroup.toml:"), std::string::npos) << r.err;
  std::filesystem::remove(path);
}

}  // namespace
