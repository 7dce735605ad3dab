// The file system calls from workloads: scripted file steps (and their
// located configuration errors), the file_stream and database generators on
// the fake kernel, and the same on the real machine (the simulated kernel's
// page cache behind hw::Core's system calls).
#include <gtest/gtest.h>

#include <set>

#include "common/config.h"
#include "common/topology.h"
#include "hw/machine.h"
#include "os/kernel.h"
#include "tests/workloads/built_workloads.h"
#include "tests/workloads/fake_thread_context.h"
#include "workloads/machine_placement.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
using wltest::Built;
using wltest::kTwoNodeMachine;
Built build(const std::string& workload) {
  return wltest::build_config(std::string(kTwoNodeMachine) + workload, "f.toml");
}

std::uint64_t counter(const WorkloadSpec& s, const std::string& name) {
  for (const auto& [k, v] : s.results->counters())
    if (k == name) return v;
  return ~0ull;
}
}  // namespace

TEST(FileScript, FileCallsRunInOrderWithTheirArguments) {
  Built b = build(
      "[[workload]]\nkind = \"script\"\n"
      "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"64KiB\"\n"
      "[[workload.step]]\ncall = \"open\"\npath = \"/data/f\"\nflags = \"O_RDWR|O_CREAT\"\nas = \"fd\"\n"
      "[[workload.step]]\ncall = \"write\"\nfd = \"$fd\"\nbuf = \"$buf\"\nlen = \"64KiB\"\n"
      "[[workload.step]]\ncall = \"pread64\"\nfd = \"$fd\"\nbuf = \"$buf\"\nlen = \"8KiB\"\noffset = \"60KiB\"\n"
      "[[workload.step]]\ncall = \"lseek\"\nfd = \"$fd\"\noffset = \"0\"\nwhence = \"SEEK_END\"\n"
      "[[workload.step]]\ncall = \"fadvise64\"\nfd = \"$fd\"\nadvice = \"POSIX_FADV_DONTNEED\"\n"
      "[[workload.step]]\ncall = \"ftruncate\"\nfd = \"$fd\"\nlen = \"4KiB\"\n"
      "[[workload.step]]\ncall = \"fsync\"\nfd = \"$fd\"\n"
      "[[workload.step]]\ncall = \"close\"\nfd = \"$fd\"\n"
      "[[workload.step]]\ncall = \"close\"\nfd = \"$fd\"\n"
      "[[workload.step]]\ncall = \"open\"\npath = \"/data/missing\"\n"
      "[[workload.step]]\ncall = \"unlink\"\npath = \"/data/f\"\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  const auto& calls = b.specs[0].results->calls();
  ASSERT_EQ(calls.size(), 12u) << b.specs[0].results->to_json();
  EXPECT_EQ(calls[1].ret, 3);                // the first free fd
  EXPECT_EQ(ctx.calls[1].flags, 0102u);      // O_RDWR|O_CREAT
  EXPECT_EQ(calls[2].ret, 65536);            // write
  EXPECT_EQ(calls[3].ret, 4096);             // pread64 at 60 KiB: the last 4 KiB
  EXPECT_EQ(calls[4].ret, 65536);            // lseek(SEEK_END)
  EXPECT_EQ(ctx.calls[5].flags, 4u);         // POSIX_FADV_DONTNEED
  EXPECT_EQ(calls[6].ret, 0);                // ftruncate
  EXPECT_EQ(ctx.calls[6].len, 4096u);
  EXPECT_TRUE(ctx.files().empty());  // unlinked at the end
  EXPECT_EQ(calls[8].ret, 0);                // close
  EXPECT_EQ(calls[9].ret, -9);               // close again: EBADF
  EXPECT_EQ(calls[10].ret, -2);              // ENOENT
  EXPECT_EQ(calls[11].ret, 0);               // unlink
  std::string j = b.specs[0].results->to_json(false);
  EXPECT_NE(j.find("{\"call\":\"close\",\"ret\":-1,\"errno\":\"EBADF\"}"), std::string::npos) << j;
}

TEST(FileScript, MissingFileArgumentsAreLocatedErrors) {
  Built b = build(
      "[[workload]]\nkind = \"script\"\n"                                      // lines 9-10
      "[[workload.step]]\ncall = \"open\"\nflags = \"O_RDONLY\"\n"             // 11-13
      "[[workload.step]]\ncall = \"read\"\nbuf = \"0\"\nlen = \"1\"\n"         // 14-17
      "[[workload.step]]\ncall = \"lseek\"\nfd = \"3\"\noffset = \"0\"\nwhence = \"SEEK_NOWHERE\"\n"  // 18-22
      "[[workload.step]]\ncall = \"unlink\"\npath = 7\n");                     // 23-25
  EXPECT_NE(b.errors.find("f.toml:11:1: error: missing required key 'path' in [workload[0].step[0]] (file path, e.g. "
                          "/data/table, required by open)"),
            std::string::npos)
      << b.errors;
  EXPECT_NE(b.errors.find("f.toml:14:1: error: missing required key 'fd' in [workload[0].step[1]]"), std::string::npos)
      << b.errors;
  EXPECT_NE(b.errors.find("f.toml:22:10: error: workload[0].step[2].whence:"), std::string::npos) << b.errors;
  EXPECT_NE(b.errors.find("SEEK_NOWHERE"), std::string::npos) << b.errors;
  EXPECT_NE(b.errors.find("f.toml:25:8: error: workload[0].step[3].path"), std::string::npos) << b.errors;
}

TEST(FileStream, SequentialReadCoversTheFileWithReadCalls) {
  Built b = build(
      "[[workload]]\nkind = \"file_stream\"\npath = \"/data/in\"\nrequest_size = \"1MiB\"\npasses = 2\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  ctx.files()["/data/in"] = (8u << 20) + 4096;  // 8 MiB and a page: the last request is short
  wltest::run_source(*src, ctx);
  EXPECT_TRUE(b.specs[0].results->errors().empty()) << b.specs[0].results->to_json();
  EXPECT_EQ(ctx.count("open"), 1);
  EXPECT_EQ(ctx.count("read"), 2 * 9);
  EXPECT_EQ(ctx.count("write") + ctx.count("pread64"), 0);
  EXPECT_EQ(ctx.count("close"), 1);
  EXPECT_EQ(counter(b.specs[0], "bytes_read"), 2 * ((8u << 20) + 4096));
  EXPECT_EQ(counter(b.specs[0], "requests"), 18u);
  EXPECT_NE(counter(b.specs[0], "pass1_ns"), ~0ull);
  // The program reads its buffer after each read: one load per 4 KiB read.
  std::uint64_t loads = 0;
  for (const auto& op : ctx.ops) loads += op.kind == hw::OpKind::Load;
  EXPECT_EQ(loads, 2u * (8 * 256 + 1));
  EXPECT_TRUE(ctx.mm().maps.empty());
}

TEST(FileStream, RandomWritesUsePwriteAndFsyncEveryN) {
  Built b = build(
      "[[workload]]\nkind = \"file_stream\"\npath = \"/data/out\"\nsize = \"4MiB\"\naccess = \"random\"\n"
      "op = \"write\"\nrequest_size = \"64KiB\"\nrequests = 40\nfsync_every = 8\nseed = 7\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  EXPECT_TRUE(b.specs[0].results->errors().empty()) << b.specs[0].results->to_json();
  EXPECT_EQ(ctx.calls[0].name, "open");
  EXPECT_EQ(ctx.calls[0].flags, 0101u);  // O_WRONLY|O_CREAT (create defaults to true for writers)
  EXPECT_EQ(ctx.count("pwrite64"), 40);
  EXPECT_EQ(ctx.count("fsync"), 40 / 8 + 1);  // and one at the end
  std::set<std::uint64_t> offsets;
  for (const auto& c : ctx.calls)
    if (c.name == "pwrite64") {
      EXPECT_EQ(c.len, 65536u);
      offsets.insert(c.addr);  // the fake records the buffer in addr; the offset is implied by the file size
    }
  EXPECT_LE(ctx.files().at("/data/out"), 4u << 20);
  EXPECT_EQ(counter(b.specs[0], "bytes_written"), 40u * 65536);
}

TEST(FileStream, MmapModeFailsWithTheKernelsEbadfUntilFileMappingsExist) {
  Built b = build(
      "[[workload]]\nkind = \"file_stream\"\npath = \"/data/in\"\nio = \"mmap\"\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;  // file_mmap = false: mmap(fd) is EBADF as in a kernel without it
  ctx.files()["/data/in"] = 1u << 20;
  wltest::run_source(*src, ctx);
  ASSERT_EQ(b.specs[0].results->errors().size(), 1u);
  EXPECT_EQ(b.specs[0].results->errors()[0],
            "thread 0: mmap(MAP_SHARED) of \"/data/in\" (fd 3, returned -9) failed: EBADF");
  EXPECT_EQ(ctx.count("close"), 1);  // the fd is closed all the same
  // With file mappings the same workload reads through the mapping: loads, no read calls.
  Built b2 = build("[[workload]]\nkind = \"file_stream\"\npath = \"/data/in\"\nio = \"mmap\"\n");
  auto src2 = b2.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx2;
  ctx2.file_mmap = true;
  ctx2.files()["/data/in"] = 1u << 20;
  wltest::run_source(*src2, ctx2);
  EXPECT_TRUE(b2.specs[0].results->errors().empty()) << b2.specs[0].results->to_json();
  EXPECT_EQ(ctx2.count("read"), 0);
  EXPECT_EQ(ctx2.ops.size(), 256u);
  EXPECT_EQ(ctx2.unmapped_accesses, 0u);
}

TEST(FileStream, BadKeysAreLocatedErrors) {
  Built b = build(
      "[[workload]]\nkind = \"file_stream\"\naccess = \"zigzag\"\nrequests = 3\nop = \"read\"\n"
      "write_fraction = 0.3\n");
  EXPECT_NE(b.errors.find("missing required key 'path'"), std::string::npos) << b.errors;
  EXPECT_NE(b.errors.find("f.toml:11:10: error: workload[0].access"), std::string::npos) << b.errors;
  EXPECT_NE(b.errors.find("f.toml:12:12: error: workload[0].requests: only with access = \"random\""),
            std::string::npos)
      << b.errors;
  EXPECT_NE(b.errors.find("workload[0].write_fraction: only with op = \"readwrite\""), std::string::npos) << b.errors;
}

TEST(Database, TransactionsReadPagesAppendTheLogAndCommit) {
  Built b = build(
      "[[workload]]\nkind = \"database\"\ntable = \"/db/t\"\nbuffer_pool = \"1MiB\"\npage_size = \"16KiB\"\n"
      "transactions = 200\nreads_per_txn = 4\ncommit_every = 2\nwrite_fraction = 0.5\n"
      "table_io = \"pread\"\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  ctx.files()["/db/t"] = 64u << 20;  // 4096 pages for a pool of 64 frames: mostly misses
  wltest::run_source(*src, ctx);
  const WorkloadSpec& s = b.specs[0];
  EXPECT_TRUE(s.results->errors().empty()) << s.results->to_json();
  EXPECT_EQ(counter(s, "transactions"), 200u);
  EXPECT_EQ(counter(s, "page_hits") + counter(s, "page_misses"), 800u);
  EXPECT_GT(counter(s, "page_misses"), 400u);
  EXPECT_EQ(static_cast<std::uint64_t>(ctx.count("pread64")), counter(s, "page_misses"));
  EXPECT_EQ(static_cast<std::uint64_t>(ctx.count("pwrite64")), counter(s, "pages_written_back"));
  EXPECT_GT(counter(s, "pages_written_back"), 0u);
  EXPECT_EQ(ctx.count("write"), 200);  // one log append per transaction
  EXPECT_EQ(ctx.count("fdatasync"), 100);
  EXPECT_EQ(ctx.files().at("/db/redo.log"), counter(s, "log_bytes"));
  EXPECT_EQ(ctx.count("close"), 2);
  EXPECT_TRUE(ctx.mm().maps.empty());
}

TEST(Database, AMissingTableFailsTheThreadWithEnoent) {
  Built b = build("[[workload]]\nkind = \"database\"\ntable = \"/db/none\"\ntransactions = 3\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  ASSERT_EQ(b.specs[0].results->errors().size(), 1u);
  EXPECT_EQ(b.specs[0].results->errors()[0], "thread 0: open(\"/db/none\") failed: ENOENT");
}

// ---- on the machine: hw::Core forwards the calls to the simulated kernel ----

namespace {
using wltest::MachineRun;
void run_on_machine(MachineRun& r, const std::string& text) {
  wltest::run_machine(r, ConfigDocument::from_string(std::string(kTwoNodeMachine) + text, "m.toml"));
}
}  // namespace

TEST(FileOnMachine, ScriptedFileCallsGetTheKernelsAnswers) {
  MachineRun r;
  run_on_machine(r,
                 "[[os.file]]\npath = \"/data/t\"\nsize = \"1MiB\"\n"
                 "[[workload]]\nkind = \"script\"\ncpus = [0]\n"
                 "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"64KiB\"\n"
                 "[[workload.step]]\ncall = \"open\"\npath = \"/data/t\"\nflags = \"O_RDWR\"\nas = \"fd\"\n"
                 "[[workload.step]]\ncall = \"read\"\nfd = \"$fd\"\nbuf = \"$buf\"\nlen = \"64KiB\"\n"
                 "[[workload.step]]\ncall = \"read\"\nfd = \"$fd\"\nbuf = \"0x7ffffffff000\"\nlen = \"8KiB\"\n"
                 "[[workload.step]]\ncall = \"pwrite64\"\nfd = \"$fd\"\nbuf = \"$buf\"\nlen = \"8KiB\"\n"
                 "offset = \"1MiB\"\n"
                 "[[workload.step]]\ncall = \"fsync\"\nfd = \"$fd\"\n"
                 "[[workload.step]]\ncall = \"lseek\"\nfd = \"$fd\"\noffset = \"0\"\nwhence = \"SEEK_END\"\n"
                 "[[workload.step]]\ncall = \"lseek\"\nfd = \"$fd\"\noffset = \"0\"\nwhence = \"7\"\n"
                 "[[workload.step]]\ncall = \"close\"\nfd = \"$fd\"\n"
                 "[[workload.step]]\ncall = \"fsync\"\nfd = \"$fd\"\n"
                 "[[workload.step]]\ncall = \"creat\"\npath = \"/data/new\"\n"
                 "[[workload.step]]\ncall = \"unlink\"\npath = \"/data/new\"\n"
                 "[[workload.step]]\ncall = \"unlink\"\npath = \"/data/new\"\n");
  const auto& calls = r.specs[0].results->calls();
  ASSERT_EQ(calls.size(), 13u) << r.specs[0].results->to_json();
  EXPECT_EQ(calls[1].ret, 0);  // the lowest free fd (no stdin, stdout, stderr)
  EXPECT_EQ(calls[2].ret, 65536);
  EXPECT_EQ(calls[3].ret, -14);  // EFAULT: the buffer crosses TASK_SIZE
  EXPECT_EQ(calls[4].ret, 8192);
  EXPECT_EQ(calls[5].ret, 0);
  EXPECT_EQ(calls[6].ret, (1 << 20) + 8192);
  EXPECT_EQ(calls[7].ret, -22);  // bad whence
  EXPECT_EQ(calls[8].ret, 0);
  EXPECT_EQ(calls[9].ret, -9);  // fsync of a closed fd
  EXPECT_EQ(calls[10].ret, 0);  // creat: fd 0 again
  EXPECT_EQ(calls[11].ret, 0);
  EXPECT_EQ(calls[12].ret, -2);
  const os::PhysMem& pm = r.machine->kernel().physmem();
  EXPECT_GE(pm.sum_vm_event(os::PGPGIN), 64u);  // kB read from the device
  EXPECT_GE(pm.sum_vm_event(os::PGPGOUT), 8u);  // the fsync's write
  EXPECT_EQ(pm.global_node_page_state(os::NR_FILE_DIRTY), 0);
}

TEST(FileOnMachine, ASecondPassIsServedFromThePageCache) {
  MachineRun r;
  run_on_machine(r,
                 "[[os.file]]\npath = \"/data/s\"\nsize = \"64MiB\"\n"
                 "[[workload]]\nkind = \"file_stream\"\ncpus = [0]\npath = \"/data/s\"\nrequest_size = \"1MiB\"\n"
                 "passes = 2\n");
  const WorkloadSpec& s = r.specs[0];
  ASSERT_TRUE(s.results->errors().empty()) << s.results->to_json();
  EXPECT_EQ(counter(s, "bytes_read"), 2u * (64u << 20));
  const os::PhysMem& pm = r.machine->kernel().physmem();
  EXPECT_EQ(pm.sum_vm_event(os::PGPGIN), 64u * 1024);  // each page read from the device once
  // The first pass waits for the device (64 MiB at 3.2 GB/s: at least 20 ms);
  // the second copies from the page cache, several times faster (the first is
  // device-bound, about 23 ms, the second about 8 ms).
  EXPECT_GT(counter(s, "pass0_ns"), 20'000'000u);
  EXPECT_LT(counter(s, "pass1_ns") * 2, counter(s, "pass0_ns"));
  EXPECT_EQ(pm.global_node_page_state(os::WORKINGSET_REFAULT_FILE), 0);
  // The reader slept on I/O (a system call's wait blocks the task).
  ASSERT_FALSE(r.placed.empty());
  EXPECT_GT(r.placed[0].threads[0]->iowait_count, 0u);
}
