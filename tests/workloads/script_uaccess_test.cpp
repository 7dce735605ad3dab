// Scripted read()/write() on the machine with bad user buffers: the simulated
// kernel copies through the task's page tables (os/uaccess.cpp), so a buffer that
// is not mapped, or mapped without the permission the copy needs, is -EFAULT with
// nothing read and the file position unchanged, and a buffer that ends at a hole
// gets a short copy; the task gets no signal and the script goes on.
#include <gtest/gtest.h>

#include "common/config.h"
#include "hw/machine.h"
#include "os/kernel.h"
#include "tests/workloads/built_workloads.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {

TEST(ScriptUaccessOnMachine, BadBuffersAreEfaultAndAHoleEndsTheCopy) {
  wltest::MachineRun r;
  wltest::run_machine(
      r, ConfigDocument::from_string(
             std::string(wltest::kTwoNodeMachine) +
                 "[[os.file]]\npath = \"/data/t\"\nsize = \"1MiB\"\n"
                 "[[workload]]\nkind = \"script\"\ncpus = [0]\n"
                 "[[workload.step]]\ncall = \"open\"\npath = \"/data/t\"\nflags = \"O_RDWR\"\nas = \"fd\"\n"  // 0
                 "[[workload.step]]\ncall = \"mmap\"\nas = \"ro\"\nlen = \"8KiB\"\nprot = \"PROT_READ\"\n"   // 1
                 "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"8KiB\"\n"                         // 2
                 "[[workload.step]]\ncall = \"munmap\"\naddr = \"$buf+4096\"\nlen = \"4KiB\"\n"                // 3
                 "[[workload.step]]\ncall = \"read\"\nfd = \"$fd\"\nbuf = \"$buf+4096\"\nlen = \"4KiB\"\n"     // 4
                 "[[workload.step]]\ncall = \"read\"\nfd = \"$fd\"\nbuf = \"$ro\"\nlen = \"4KiB\"\n"           // 5
                 "[[workload.step]]\ncall = \"pread64\"\nfd = \"$fd\"\nbuf = \"$ro\"\nlen = \"4KiB\"\n"
                 "offset = \"0\"\n"                                                                           // 6
                 "[[workload.step]]\ncall = \"lseek\"\nfd = \"$fd\"\noffset = \"0\"\nwhence = \"SEEK_CUR\"\n"  // 7
                 "[[workload.step]]\ncall = \"read\"\nfd = \"$fd\"\nbuf = \"$buf\"\nlen = \"8KiB\"\n"          // 8
                 "[[workload.step]]\ncall = \"lseek\"\nfd = \"$fd\"\noffset = \"0\"\nwhence = \"SEEK_CUR\"\n"  // 9
                 "[[workload.step]]\ncall = \"write\"\nfd = \"$fd\"\nbuf = \"$buf+4096\"\nlen = \"4KiB\"\n"    // 10
                 "[[workload.step]]\ncall = \"write\"\nfd = \"$fd\"\nbuf = \"$ro\"\nlen = \"4KiB\"\n",         // 11
             "uaccess.toml"));
  const auto& calls = r.specs[0].results->calls();
  ASSERT_EQ(calls.size(), 12u) << r.specs[0].results->to_json();
  ASSERT_TRUE(r.specs[0].results->errors().empty()) << r.specs[0].results->to_json();
  EXPECT_EQ(calls[0].ret, 0);
  EXPECT_EQ(calls[3].ret, 0);
  EXPECT_EQ(calls[4].ret, -14);  // EFAULT: nothing mapped there
  EXPECT_EQ(calls[5].ret, -14);  // EFAULT: read() stores into a PROT_READ buffer
  EXPECT_EQ(calls[6].ret, -14);
  EXPECT_EQ(calls[7].ret, 0);     // nothing was read: the file position did not move
  EXPECT_EQ(calls[8].ret, 4096);  // the first page's bytes, up to the hole
  EXPECT_EQ(calls[9].ret, 4096);
  EXPECT_EQ(calls[10].ret, -14);   // write() from the hole
  EXPECT_EQ(calls[11].ret, 4096);  // write() loads: PROT_READ is enough
  ASSERT_FALSE(r.placed.empty());
  const os::Kernel& k = r.machine->kernel();
  EXPECT_EQ(k.physmem().global_node_page_state(os::NR_FILE_DIRTY), 1);  // the one page written
}

}  // namespace
