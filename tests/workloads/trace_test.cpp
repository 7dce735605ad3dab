// Lackey parsing (including error positions), the binary format round trip and
// its error checks, conversion, and replay of the checked-in real trace.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/workloads/fake_thread_context.h"
#include "workloads/trace_convert.h"
#include "workloads/trace_format.h"
#include "workloads/trace_workload.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
const std::string kTrace = std::string(NUMASIM_SOURCE_DIR) + "/tests/workloads/data/tiny_main.lackey";

std::vector<TraceRecord> parse(const std::string& text, const std::string& name = "t.lackey") {
  std::istringstream in(text);
  LackeyReader r(in, name);
  std::vector<TraceRecord> out;
  TraceRecord rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const TraceError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Lackey, ParsesTheFourRecordKinds) {
  auto recs = parse("==1== Lackey\nI  0401000,3\n L 1ffefffd48,8\n S 0422a00,4\n M 7ff00010,16\n\n");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0], (TraceRecord{0x401000, 3, TraceKind::Instr}));
  EXPECT_EQ(recs[1], (TraceRecord{0x1ffefffd48, 8, TraceKind::Load}));
  EXPECT_EQ(recs[2], (TraceRecord{0x422a00, 4, TraceKind::Store}));
  EXPECT_EQ(recs[3], (TraceRecord{0x7ff00010, 16, TraceKind::Modify}));
}

TEST(Lackey, ErrorsNameFileLineAndWhatWasExpected) {
  EXPECT_EQ(parse_error("I  0401000,3\n X 10,8\n"),
            "t.lackey:2: error: expected \"I  addr,size\" or \" L|S|M addr,size\", got \" X 10,8\"");
  EXPECT_EQ(parse_error("==1==\n\n L zz10,8\n"),
            "t.lackey:3: error: expected a hexadecimal address, got \" L zz10,8\"");
  EXPECT_EQ(parse_error(" S 10,eight\n"),
            "t.lackey:1: error: expected a decimal size after the comma, got \" S 10,eight\"");
  EXPECT_EQ(parse_error(" L 10\n"), "t.lackey:1: error: expected \"addr,size\" after the access kind, got \" L 10\"");
}

TEST(Lackey, TheCheckedInTraceOfARealProgramParses) {
  auto recs = read_trace_file(kTrace);
  std::size_t n[4] = {0, 0, 0, 0};
  for (const auto& r : recs) ++n[static_cast<int>(r.kind)];
  // Counted with `cut -c1-2 | sort | uniq -c` on the file.
  EXPECT_EQ(n[0], 11007u);
  EXPECT_EQ(n[1], 1382u);
  EXPECT_EQ(n[2], 1182u);
  EXPECT_EQ(n[3], 270u);
  // The program's first loop stores a[0..359] in order: a run of 360 stores 8 bytes apart.
  std::size_t best = 0, run = 0;
  std::uint64_t prev = 0;
  for (const auto& r : recs) {
    if (r.kind != TraceKind::Store) continue;
    run = (r.addr == prev + 8) ? run + 1 : 1;
    best = std::max(best, run);
    prev = r.addr;
  }
  EXPECT_GE(best, 360u);
}

TEST(BinaryTrace, RoundTripOfTheRealTraceIsExactAndCompact) {
  std::ifstream in(kTrace, std::ios::binary);
  std::stringstream out(std::ios::in | std::ios::out | std::ios::binary);
  TraceConvertStats st = convert_lackey_to_binary(in, kTrace, out);
  EXPECT_EQ(st.records, 11007u + 1382 + 1182 + 270);
  EXPECT_EQ(st.modifies, 270u);
  EXPECT_LT(st.binary_bytes * 4, st.text_bytes) << st.binary_bytes << " vs " << st.text_bytes;
  out.seekg(0);
  ASSERT_TRUE(is_binary_trace(out));
  BinaryTraceReader reader(out, "mem.bin");
  EXPECT_EQ(reader.declared_records(), st.records);
  std::vector<TraceRecord> back;
  TraceRecord r;
  while (reader.next(r)) back.push_back(r);
  EXPECT_EQ(back, read_trace_file(kTrace));
}

TEST(BinaryTrace, LargeSizesAndBackwardDeltas) {
  std::vector<TraceRecord> recs = {{0xFFFFFFFFFFFFF000ull, 4096, TraceKind::Load},
                                   {0x10, 1, TraceKind::Store},
                                   {0x400000, 15, TraceKind::Instr},
                                   {0x8, 63, TraceKind::Modify},
                                   {0x3FF000, 2, TraceKind::Instr}};
  std::stringstream buf(std::ios::in | std::ios::out | std::ios::binary);
  BinaryTraceWriter w(buf);
  for (const auto& r : recs) w.write(r);
  w.finish();
  buf.seekg(0);
  BinaryTraceReader rd(buf, "x.bin");
  std::vector<TraceRecord> back;
  TraceRecord r;
  while (rd.next(r)) back.push_back(r);
  EXPECT_EQ(back, recs);
}

TEST(BinaryTrace, CorruptInputIsReportedWithItsOffset) {
  std::stringstream buf(std::ios::in | std::ios::out | std::ios::binary);
  BinaryTraceWriter w(buf);
  w.write({0x1000, 8, TraceKind::Load});
  w.write({0x123456789, 8, TraceKind::Load});
  w.finish();
  std::string good = buf.str();
  auto error_of = [](const std::string& bytes) -> std::string {
    std::istringstream in(bytes, std::ios::binary);
    try {
      BinaryTraceReader rd(in, "c.bin");
      TraceRecord r;
      while (rd.next(r)) {
      }
    } catch (const TraceError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of(good), "no error");
  EXPECT_EQ(error_of("NOTATRACE-----------------"), "c.bin: byte 0: error: not a numasim binary trace (bad magic)");
  std::string v2 = good;
  v2[8] = 2;
  EXPECT_EQ(error_of(v2), "c.bin: byte 0: error: unsupported trace version 2 (this build reads version 1)");
  EXPECT_EQ(error_of(good.substr(0, good.size() - 1)),
            "c.bin: byte " + std::to_string(good.size() - 1) + ": error: record 1: truncated address delta");
  std::string more = good;
  more[16] = 1;  // header says 1 record, there are 2
  EXPECT_EQ(error_of(more),
            "c.bin: byte " + std::to_string(24 + 3) + ": error: more records than the header declares (1)");
  std::string fewer = good;
  fewer[16] = 3;
  EXPECT_EQ(error_of(fewer), "c.bin: byte " + std::to_string(good.size()) +
                                 ": error: trace ends after 2 records, the header declares 3");
}

TEST(BinaryTrace, FileConversionAndBadPaths) {
  auto dir = std::filesystem::temp_directory_path() / "numasim_wl_trace_test";
  std::filesystem::create_directories(dir);
  std::string out = (dir / "tiny.bin").string();
  TraceConvertStats st = convert_lackey_to_binary(kTrace, out);
  EXPECT_EQ(std::filesystem::file_size(out), st.binary_bytes);
  EXPECT_EQ(read_trace_file(out), read_trace_file(kTrace));
  EXPECT_THROW(convert_lackey_to_binary((dir / "missing.lackey").string(), out), TraceError);
  std::filesystem::remove_all(dir);
}

TEST(TraceReplay, MapsCoveringRegionsFirstAndKeepsOffsets) {
  auto data = std::make_shared<TraceData>();
  data->records = read_trace_file(kTrace);
  data->compute_ranges(64 << 10);
  ASSERT_GE(data->ranges.size(), 2u);  // heap/data and stack at least
  ThreadInfo info;
  info.results = std::make_shared<WorkloadResults>("trace", "trace");
  TraceParams p;
  p.loops = 2;
  TraceSource src(info, p, data);
  wltest::FakeThreadContext ctx;
  hw::OpBatch batch;
  ctx.batch = &batch;
  src.start(ctx);
  ASSERT_EQ(ctx.count("mmap"), static_cast<long>(data->ranges.size()));
  EXPECT_TRUE(ctx.ops.empty());
  // Offsets inside a range survive the translation.
  const auto& r0 = data->ranges[0];
  EXPECT_EQ(src.translate(r0.start + 4104) - src.translate(r0.start), 4104u);
  while (!src.done()) {
    src.fill(batch, ctx);
    ctx.flush();
  }
  std::uint64_t loads = 0, stores = 0, cycles = 0;
  for (const auto& op : ctx.ops) {
    loads += op.kind == hw::OpKind::Load;
    stores += op.kind == hw::OpKind::Store;
    if (op.kind == hw::OpKind::Compute) cycles += op.count;
  }
  EXPECT_EQ(loads, 2u * (1382 + 270));
  EXPECT_EQ(stores, 2u * (1182 + 270));
  EXPECT_EQ(cycles, 2u * 11007);  // instr_cycles = 1
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
  src.finish(ctx);
  EXPECT_EQ(ctx.count("munmap"), static_cast<long>(data->ranges.size()));
}
