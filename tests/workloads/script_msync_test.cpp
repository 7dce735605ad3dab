// The script workload's msync step (call = "msync": addr, len, flags [MS_SYNC])
// against the fake kernel: the call reaches hw::ThreadContext::sys_msync with its
// arguments, MS_* constants by name, and the result is recorded with its errno.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/topology.h"
#include "tests/workloads/fake_thread_context.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

TEST(ScriptMsync, StepCallsMsyncWithItsFlagsAndRecordsTheResult) {
  auto doc = ConfigDocument::from_string(
      "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"1GiB\"\n"
      "[[link]]\nnodes = [0, 1]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n"
      "[[workload]]\nkind = \"script\"\n"
      "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"8KiB\"\n"
      "[[workload.step]]\ncall = \"msync\"\naddr = \"$buf\"\nlen = \"8KiB\"\n"
      "[[workload.step]]\ncall = \"msync\"\naddr = \"$buf\"\nlen = \"4KiB\"\nflags = \"MS_ASYNC|MS_INVALIDATE\"\n"
      "[[workload.step]]\ncall = \"msync\"\naddr = \"$buf+1\"\nlen = \"4KiB\"\n",
      "s.toml");
  Topology topo = Topology::from_config(doc->root());
  auto specs = build_workloads(doc->root(), topo);
  doc->finish();
  auto src = specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  ASSERT_EQ(ctx.calls.size(), 4u);
  EXPECT_EQ(ctx.calls[1].name, "msync");
  EXPECT_EQ(ctx.calls[1].flags, 4u);  // MS_SYNC by default
  EXPECT_EQ(ctx.calls[1].len, 8192u);
  EXPECT_EQ(ctx.calls[2].flags, 3u);  // MS_ASYNC|MS_INVALIDATE
  const std::string j = specs[0].results->to_json(false);
  EXPECT_NE(j.find("{\"call\":\"msync\",\"ret\":0},{\"call\":\"msync\",\"ret\":0},"
                   "{\"call\":\"msync\",\"ret\":-1,\"errno\":\"EINVAL\"}"),
            std::string::npos)
      << j;
}
