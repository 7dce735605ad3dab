// Op-stream shape of each synthetic generator, run against the fake
// ThreadContext: which arrays, how many loads and stores, which syscalls, in
// which order, with which address distribution.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "tests/workloads/fake_thread_context.h"
#include "workloads/gups_workload.h"
#include "workloads/madvise_churn_workload.h"
#include "workloads/memory_hog_workload.h"
#include "workloads/mmap_churn_workload.h"
#include "workloads/phases_workload.h"
#include "workloads/pointer_chase_workload.h"
#include "workloads/producer_consumer_workload.h"
#include "workloads/stream_workload.h"
#include "workloads/strided_workload.h"
#include "workloads/working_set_workload.h"
#include "workloads/zipf_workload.h"

using namespace numasim;
using namespace numasim::workloads;
using wltest::FakeThreadContext;
using wltest::run_source;

namespace {
ThreadInfo info(int index = 0, int count = 1, std::uint64_t seed = 7) {
  ThreadInfo i;
  i.workload = "t";
  i.index = index;
  i.count = count;
  i.seed = seed;
  i.results = std::make_shared<WorkloadResults>("t", "test");
  return i;
}

struct OpCounts {
  std::uint64_t loads = 0, stores = 0, computes = 0, markers = 0, dependent = 0;
};
OpCounts counts(const std::vector<hw::Op>& ops) {
  OpCounts c;
  for (const auto& op : ops) {
    if (op.kind == hw::OpKind::Load)
      ++c.loads, c.dependent += op.dependent();
    else if (op.kind == hw::OpKind::Store)
      ++c.stores;
    else if (op.kind == hw::OpKind::Compute)
      ++c.computes;
    else
      ++c.markers;
  }
  return c;
}
}  // namespace

TEST(Stream, TriadTouchesThreeArraysWithTwoLoadsAndOneStorePerElement) {
  StreamParams p;
  p.kernel = StreamKernel::Triad;
  p.array_bytes = 64 * 1024;
  p.iterations = 2;
  p.init = false;
  StreamSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  const std::uint64_t n = p.array_bytes / 8;
  ASSERT_EQ(src.elements(), n);
  OpCounts c = counts(ctx.ops);
  EXPECT_EQ(c.loads, 2 * n * 2);
  EXPECT_EQ(c.stores, 1 * n * 2);
  EXPECT_EQ(c.markers, 2u);
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
  EXPECT_EQ(ctx.count("mmap"), 3);
  EXPECT_EQ(ctx.count("munmap"), 3);
  // a = b + s*c: loads from b and c, store to a, element by element.
  VirtAddr a = ctx.calls[0].ret, b = ctx.calls[1].ret, cc = ctx.calls[2].ret;
  ASSERT_EQ(ctx.ops[0].kind, hw::OpKind::Marker);
  EXPECT_EQ(ctx.ops[1].addr, b);
  EXPECT_EQ(ctx.ops[2].addr, cc);
  EXPECT_EQ(ctx.ops[3].addr, a);
  EXPECT_EQ(ctx.ops[3].kind, hw::OpKind::Store);
  EXPECT_EQ(ctx.ops[4].addr, b + 8);
  std::set<VirtAddr> stored;
  for (const auto& op : ctx.ops)
    if (op.kind == hw::OpKind::Store) stored.insert(op.addr);
  EXPECT_EQ(stored.size(), n);
  EXPECT_EQ(*stored.begin(), a);
  EXPECT_EQ(*stored.rbegin(), a + (n - 1) * 8);
}

TEST(Stream, AllKernelsAndInitInStreamOrder) {
  StreamParams p;
  p.kernel = StreamKernel::All;
  p.array_bytes = 4096;
  p.iterations = 1;
  p.compute_cycles = 2;
  StreamSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  const std::uint64_t n = 512;
  OpCounts c = counts(ctx.ops);
  // init 3 stores; copy 1+1; scale 1+1; add 2+1; triad 2+1
  EXPECT_EQ(c.stores, n * (3 + 1 + 1 + 1 + 1));
  EXPECT_EQ(c.loads, n * (1 + 1 + 2 + 2));
  EXPECT_EQ(c.computes, n * 5);
  std::vector<std::uint32_t> markers;
  for (const auto& op : ctx.ops)
    if (op.kind == hw::OpKind::Marker) markers.push_back(op.count);
  EXPECT_EQ(markers, (std::vector<std::uint32_t>{0, 1, 2, 3}));
}

TEST(Stream, ThreadsSplitTheArrays) {
  StreamParams p;
  p.array_bytes = 8 * 1001;
  p.iterations = 1;
  std::uint64_t total = 0;
  for (int t = 0; t < 4; ++t) total += StreamSource(info(t, 4), p).elements();
  EXPECT_EQ(total, 1001u);
}

TEST(Gups, ReadModifyWriteUniformOverTheTable) {
  GupsParams p;
  p.table_bytes = 1 << 20;  // 131072 words
  p.updates = 200000;
  p.init = false;
  auto table = std::make_shared<SharedRegion>();
  table->bytes = p.table_bytes;
  GupsSource src(info(), p, table);
  FakeThreadContext ctx;
  run_source(src, ctx);
  ASSERT_EQ(ctx.unmapped_accesses, 0u);
  VirtAddr base = ctx.calls[0].ret;
  // Every update: load, compute, store to the same word.
  ASSERT_EQ(ctx.ops.size(), 3 * p.updates);
  constexpr int kBuckets = 64;
  std::vector<double> hist(kBuckets, 0);
  for (std::size_t i = 0; i < ctx.ops.size(); i += 3) {
    ASSERT_EQ(ctx.ops[i].kind, hw::OpKind::Load);
    ASSERT_EQ(ctx.ops[i + 1].kind, hw::OpKind::Compute);
    ASSERT_EQ(ctx.ops[i + 2].kind, hw::OpKind::Store);
    ASSERT_EQ(ctx.ops[i].addr, ctx.ops[i + 2].addr);
    ASSERT_EQ((ctx.ops[i].addr - base) % 8, 0u);
    hist[(ctx.ops[i].addr - base) * kBuckets / p.table_bytes] += 1;
  }
  // Chi-square against uniform: 63 degrees of freedom, 99.9% quantile ~ 104.
  double expected = static_cast<double>(p.updates) / kBuckets, chi2 = 0;
  for (double h : hist) chi2 += (h - expected) * (h - expected) / expected;
  EXPECT_LT(chi2, 104.0);
  EXPECT_GT(chi2, 20.0);  // not suspiciously flat either (0.1% quantile ~ 30)
}

TEST(Gups, SameSeedSameStreamOtherSeedOther) {
  GupsParams p;
  p.table_bytes = 1 << 16;
  p.updates = 1000;
  auto run = [&](std::uint64_t seed) {
    auto table = std::make_shared<SharedRegion>();
    table->bytes = p.table_bytes;
    GupsSource src(info(0, 1, seed), p, table);
    FakeThreadContext ctx;
    run_source(src, ctx);
    std::vector<VirtAddr> a;
    for (const auto& op : ctx.ops) a.push_back(op.addr);
    return a;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST(Gups, ThreadsShareOneTableAndInitialiseTheirSlices) {
  GupsParams p;
  p.table_bytes = 1 << 16;
  p.updates = 10;
  auto table = std::make_shared<SharedRegion>();
  table->bytes = p.table_bytes;
  table->threads = 2;
  auto mm = std::make_shared<wltest::FakeMm>();
  GupsSource s0(info(0, 2), p, table), s1(info(1, 2), p, table);
  FakeThreadContext c0(mm), c1(mm);
  run_source(s0, c0);
  run_source(s1, c1);
  EXPECT_EQ(c0.count("mmap"), 1);
  EXPECT_EQ(c1.count("mmap"), 0);
  EXPECT_EQ(c0.count("munmap"), 0);  // the last thread unmaps
  EXPECT_EQ(c1.count("munmap"), 1);
  // Thread 1's init stores cover the upper half, one per line.
  std::uint64_t init_stores = 0;
  for (const auto& op : c1.ops)
    if (op.kind == hw::OpKind::Store && op.addr >= table->addr + p.table_bytes / 2) ++init_stores;
  EXPECT_GE(init_stores, p.table_bytes / 2 / 64);
}

TEST(PointerChase, RandomRingVisitsEveryElementOncePerLap) {
  PointerChaseParams p;
  p.footprint_bytes = 64 * 1000;
  p.laps = 3;
  p.init = false;
  PointerChaseSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  const std::uint64_t n = 1000;
  ASSERT_EQ(ctx.ops.size(), 3 * n);
  VirtAddr base = ctx.calls[0].ret;
  for (int lap = 0; lap < 3; ++lap) {
    std::set<VirtAddr> seen;
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto& op = ctx.ops[lap * n + i];
      ASSERT_TRUE(op.dependent());
      seen.insert(op.addr);
    }
    EXPECT_EQ(seen.size(), n) << "lap " << lap;
    EXPECT_EQ(*seen.begin(), base);
  }
  // The order follows the ring and is not address order.
  std::uint64_t in_order = 0;
  for (std::uint64_t i = 1; i < n; ++i) {
    EXPECT_EQ(ctx.ops[i].addr, base + src.next_of((ctx.ops[i - 1].addr - base) / 64) * 64);
    in_order += ctx.ops[i].addr == ctx.ops[i - 1].addr + 64;
  }
  EXPECT_LT(in_order, 20u);
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
}

TEST(PointerChase, StridedRingInAddressOrderAfterInit) {
  PointerChaseParams p;
  p.random = false;
  p.stride_bytes = 256;
  p.footprint_bytes = 256 * 100;
  p.laps = 2;
  PointerChaseSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  OpCounts c = counts(ctx.ops);
  EXPECT_EQ(c.stores, 100u);  // init
  EXPECT_EQ(c.loads, 200u);
  EXPECT_EQ(c.dependent, 200u);
  VirtAddr base = ctx.calls[0].ret;
  for (std::size_t i = 100; i < ctx.ops.size(); ++i) EXPECT_EQ(ctx.ops[i].addr, base + ((i - 100) % 100) * 256);
}

TEST(Strided, WalksAtTheStrideAndWritesTheRequestedShare) {
  StridedParams p;
  p.footprint_bytes = 1 << 20;
  p.stride_bytes = 128;
  p.passes = 2;
  p.write_ratio = 0.25;
  auto region = std::make_shared<SharedRegion>();
  region->bytes = p.footprint_bytes;
  StridedSource src(info(), p, region);
  FakeThreadContext ctx;
  run_source(src, ctx);
  const std::uint64_t n = (1 << 20) / 128;
  ASSERT_EQ(ctx.ops.size(), 2 * n);
  VirtAddr base = ctx.calls[0].ret;
  for (std::size_t i = 0; i < ctx.ops.size(); ++i) ASSERT_EQ(ctx.ops[i].addr, base + (i % n) * 128);
  double writes = static_cast<double>(counts(ctx.ops).stores) / ctx.ops.size();
  EXPECT_NEAR(writes, 0.25, 0.02);
}

TEST(Zipf, SamplerMatchesZipfProbabilities) {
  ZipfSampler z(1000, 0.99);
  Rng rng(3);
  std::vector<std::uint64_t> hist(1001, 0);
  const int draws = 400000;
  for (int i = 0; i < draws; ++i) {
    auto k = z.sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, 1000u);
    ++hist[k];
  }
  for (std::uint64_t k : {1, 2, 3, 10, 100}) {
    double expected = z.probability(k) * draws;
    EXPECT_NEAR(hist[k], expected, 5 * std::sqrt(expected) + 1) << "rank " << k;
  }
  // Skew: the top 10% of ranks take most of the accesses (about 69% for alpha 0.99, n 1000).
  std::uint64_t top = 0;
  double top_expected = 0;
  for (int k = 1; k <= 100; ++k) top += hist[k], top_expected += z.probability(k);
  EXPECT_NEAR(top_expected, 0.69, 0.01);
  EXPECT_NEAR(static_cast<double>(top) / draws, top_expected, 0.01);
}

TEST(Zipf, HotItemsAreScatteredAndDominate) {
  ZipfParams p;
  p.footprint_bytes = 4096 * 512;
  p.accesses = 100000;
  p.alpha = 1.2;
  auto region = std::make_shared<SharedRegion>();
  region->bytes = p.footprint_bytes;
  ZipfSource src(info(), p, region);
  FakeThreadContext ctx;
  run_source(src, ctx);
  ASSERT_EQ(ctx.unmapped_accesses, 0u);
  std::map<std::uint64_t, std::uint64_t> per_item;
  const VirtAddr base = ctx.calls[0].ret;
  for (const auto& op : ctx.ops) ++per_item[(op.addr - base) / 4096];
  std::vector<std::pair<std::uint64_t, std::uint64_t>> by_count;
  for (auto [item, n] : per_item) by_count.push_back({n, item});
  std::sort(by_count.rbegin(), by_count.rend());
  EXPECT_EQ(by_count[0].second, src.item_of_rank(1));
  EXPECT_EQ(by_count[1].second, src.item_of_rank(2));
  EXPECT_NE(src.item_of_rank(1) + 1, src.item_of_rank(2));    // scattered
  EXPECT_GT(by_count[0].first, 2 * by_count[1].first * 0.8);  // 2^1.2 = 2.3 ratio
}

TEST(Zipf, HotColdSendsTheHotShareToTheHotItems) {
  ZipfParams p;
  p.hotcold = true;
  p.footprint_bytes = 4096 * 1000;
  p.hot_fraction = 0.1;
  p.hot_probability = 0.9;
  p.accesses = 50000;
  p.scatter = false;
  auto region = std::make_shared<SharedRegion>();
  region->bytes = p.footprint_bytes;
  ZipfSource src(info(), p, region);
  FakeThreadContext ctx;
  run_source(src, ctx);
  std::uint64_t hot = 0;
  const VirtAddr base = ctx.calls[0].ret;
  for (const auto& op : ctx.ops) hot += (op.addr - base) / 4096 < 100;
  EXPECT_NEAR(static_cast<double>(hot) / p.accesses, 0.9, 0.01);
}

TEST(MmapChurn, MapTouchUnmapEveryCycle) {
  ChurnParams p;
  p.region_bytes = 64 * 4096;
  p.cycles = 5;
  MmapChurnSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  ASSERT_EQ(ctx.calls.size(), 10u);
  for (int c = 0; c < 5; ++c) {
    EXPECT_EQ(ctx.calls[2 * c].name, "mmap");
    EXPECT_EQ(ctx.calls[2 * c + 1].name, "munmap");
    EXPECT_EQ(ctx.calls[2 * c + 1].addr, static_cast<VirtAddr>(ctx.calls[2 * c].ret));
    // All 64 touches ran between the two calls.
    EXPECT_EQ(ctx.calls[2 * c + 1].ops_before - ctx.calls[2 * c].ops_before, 64u);
  }
  EXPECT_EQ(counts(ctx.ops).stores, 5u * 64);
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
}

TEST(MmapChurn, FailedMmapStopsTheThreadAndIsReported) {
  ChurnParams p;
  p.cycles = 5;
  ThreadInfo i = info();
  MmapChurnSource src(i, p);
  FakeThreadContext ctx;
  ctx.fail_mmap_after = 2;
  run_source(src, ctx);
  EXPECT_TRUE(src.failed());
  EXPECT_EQ(ctx.count("mmap"), 3);
  ASSERT_EQ(i.results->errors().size(), 1u);
  EXPECT_NE(i.results->errors()[0].find("ENOMEM"), std::string::npos) << i.results->errors()[0];
}

TEST(MadviseChurn, TouchThenDontneedOnOneMapping) {
  ChurnParams p;
  p.region_bytes = 16 * 4096;
  p.cycles = 3;
  MadviseChurnSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  std::vector<std::string> names;
  for (const auto& c : ctx.calls) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mmap", "madvise", "madvise", "madvise", "munmap"}));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(ctx.calls[i].arg, workloads::abi::kMadvDontneed);
    EXPECT_EQ(ctx.calls[i].ops_before, 16u * i);
    EXPECT_EQ(ctx.calls[i].len, 16u * 4096);
  }
}

TEST(MemoryHog, AllocatesInChunksAndTouchesEveryPage) {
  MemoryHogParams p;
  p.total_bytes = 10 << 20;
  p.chunk_bytes = 4 << 20;
  p.passes = 2;
  MemoryHogSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  EXPECT_EQ(ctx.count("mmap"), 3);  // 4 + 4 + 2 MiB
  EXPECT_EQ(ctx.calls[2].len, 2u << 20);
  EXPECT_EQ(counts(ctx.ops).stores, 2u * (10 << 20) / 4096);
  EXPECT_EQ(ctx.count("munmap"), 3);
  std::set<VirtAddr> pages;
  for (const auto& op : ctx.ops) pages.insert(op.addr & ~4095ull);
  EXPECT_EQ(pages.size(), (10u << 20) / 4096);
}

TEST(Phases, EachPhaseInstallsItsPolicyAndMarksItsStart) {
  PhasesParams p;
  p.regions = {"main"};
  Phase alloc;
  alloc.action = Phase::Action::Allocate;
  alloc.bytes = 8 * 4096;
  alloc.policy = parse_policy("bind:1", 2, nullptr);
  alloc.via_mbind = true;
  Phase touch;
  touch.action = Phase::Action::Touch;
  touch.passes = 2;
  touch.policy = parse_policy("interleave:0-1", 2, nullptr);
  Phase compute;
  compute.action = Phase::Action::Compute;
  compute.cycles = 3000000000ull;  // more than one op holds
  Phase free;
  free.action = Phase::Action::Free;
  p.phases = {alloc, touch, compute, free};
  PhasesSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  std::vector<std::string> names;
  for (const auto& c : ctx.calls) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mmap", "mbind", "set_mempolicy", "munmap"}));
  EXPECT_EQ(ctx.calls[1].arg, workloads::abi::kMpolBind);
  EXPECT_EQ(ctx.calls[1].nodes, std::vector<int>{1});
  EXPECT_EQ(ctx.calls[2].arg, workloads::abi::kMpolInterleave);
  EXPECT_EQ(ctx.calls[2].nodes, (std::vector<int>{0, 1}));
  OpCounts c = counts(ctx.ops);
  EXPECT_EQ(c.markers, 4u);
  EXPECT_EQ(c.stores, 16u);
  std::uint64_t cycles = 0;
  for (const auto& op : ctx.ops)
    if (op.kind == hw::OpKind::Compute) cycles += op.count;
  EXPECT_EQ(cycles, 3000000000ull);
}

TEST(ProducerConsumer, ConsumerReadsAChunkOnlyAfterItWasProduced) {
  ProducerConsumerParams p;
  p.buffer_bytes = 4 * 4096;
  p.chunk_bytes = 4096;
  p.chunks = 10;
  auto shared = std::make_shared<ProducerConsumerShared>();
  shared->region.bytes = 128 + p.buffer_bytes;
  shared->region.flags = workloads::abi::kMapShared;
  shared->region.threads = 2;
  auto mm = std::make_shared<wltest::FakeMm>();
  ProducerConsumerSource prod(info(0, 2), p, shared), cons(info(1, 2), p, shared);
  FakeThreadContext cp(mm, 0, 0), cc(mm, 4, 1);
  hw::OpBatch bp, bc;
  cp.batch = &bp;
  cc.batch = &bc;
  cons.start(cc);  // the consumer may start first: it maps the buffer
  prod.start(cp);
  // Interleave fills; record how many chunks were published when the consumer's loads ran.
  std::vector<std::uint64_t> produced_at_consume;
  int guard = 0;
  while ((!prod.done() || !cons.done()) && guard++ < 100000) {
    if (!prod.done()) prod.fill(bp, cp), cp.flush();
    std::size_t before = cc.ops.size();
    if (!cons.done()) cons.fill(bc, cc), cc.flush();
    for (std::size_t i = before; i < cc.ops.size(); ++i)
      if (cc.ops[i].kind == hw::OpKind::Load && cc.ops[i].addr >= shared->region.addr + 128)
        produced_at_consume.push_back((cc.ops[i].addr - shared->region.addr - 128) / 4096 * 0 + shared->produced);
  }
  prod.finish(cp);
  cons.finish(cc);
  ASSERT_TRUE(prod.done() && cons.done());
  EXPECT_EQ(shared->produced, 10u);
  EXPECT_EQ(shared->consumed, 10u);
  EXPECT_EQ(cc.count("mmap"), 1);
  EXPECT_EQ(cc.calls[0].flags & workloads::abi::kMapShared, static_cast<unsigned long>(workloads::abi::kMapShared));
  EXPECT_EQ(cp.count("mmap"), 0);
  // The consumer read 10 chunks of 64 lines; every read happened with its chunk published.
  ASSERT_EQ(produced_at_consume.size(), 640u);
  for (std::size_t i = 0; i < produced_at_consume.size(); ++i) EXPECT_GT(produced_at_consume[i], i / 64);
  // The producer never ran more than 4 slots (the ring) ahead.
  EXPECT_GT(shared->polls, 0u);
  EXPECT_EQ(cp.unmapped_accesses + cc.unmapped_accesses, 0u);
}

namespace {
// Plays the ops against a model memory of page tokens as hw::Core does: a
// verified store must find the token it replaces and sets its own, a verified
// load must find the page's token.
struct TokenCheck {
  std::uint64_t stores = 0, loads = 0, mismatches = 0, plain = 0;
};
TokenCheck play_tokens(const FakeThreadContext& ctx) {
  TokenCheck c;
  std::map<VirtAddr, std::uint64_t> mem;
  for (std::size_t i = 0; i < ctx.ops.size(); ++i) {
    const hw::Op& op = ctx.ops[i];
    if (op.kind != hw::OpKind::Load && op.kind != hw::OpKind::Store) continue;
    if (!(op.flags & hw::kOpVerify)) {
      ++c.plain;
      continue;
    }
    const VirtAddr page = op.addr >> 12;
    auto it = mem.find(page);
    const std::uint64_t held = it == mem.end() ? 0 : it->second;
    if (op.kind == hw::OpKind::Store) {
      EXPECT_NE(ctx.tokens[i], 0u) << "a written page never holds the cleared token";
      c.mismatches += held != ctx.prev_tokens[i];
      mem[page] = ctx.tokens[i];
      ++c.stores;
    } else {
      ++c.loads;
      c.mismatches += held != ctx.tokens[i];
    }
  }
  return c;
}

// Runs a generator of kind Source in verify mode and plays its tokens: every
// access carries one and no load finds another than the last store left.
template <class Source, class Params>
TokenCheck verified_run(const Params& p, FakeThreadContext& ctx) {
  ThreadInfo i = info();
  i.verify = true;
  Source src(i, p);
  run_source(src, ctx);
  const TokenCheck t = play_tokens(ctx);
  EXPECT_EQ(t.plain, 0u);
  EXPECT_EQ(t.mismatches, 0u);
  return t;
}
}  // namespace

TEST(MemoryHog, RereadAndHotColdPhasesTouchWhatTheyPromise) {
  MemoryHogParams p;
  p.total_bytes = 4 << 20;  // 1024 pages
  p.chunk_bytes = 1 << 20;
  p.hot_fraction = 0.25;
  p.hot_passes = 3;
  p.reread_passes = 2;
  MemoryHogSource src(info(), p);
  ASSERT_EQ(src.phases().size(), 1u + 3u + 2u);
  FakeThreadContext ctx;
  run_source(src, ctx);
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
  const OpCounts c = counts(ctx.ops);
  EXPECT_EQ(c.stores, 1024u + 3u * 256u);         // allocation pass + hot read-modify-writes
  EXPECT_EQ(c.loads, 3u * 256u + 2u * 1024u);     // hot reads + re-reads
  std::map<VirtAddr, int> touches;
  for (const auto& op : ctx.ops) ++touches[op.addr & ~4095ull];
  std::map<int, int> pages_by_touches;
  for (const auto& [page, n] : touches) ++pages_by_touches[n];
  // Cold pages: one write, two re-reads; hot pages: also 3 x (load + store).
  EXPECT_EQ(pages_by_touches[3], 768);
  EXPECT_EQ(pages_by_touches[9], 256);
  EXPECT_TRUE(play_tokens(ctx).stores == 0) << "verify is off: plain accesses only";
}

TEST(MemoryHog, VerifyModeWritesATokenPerStoreAndExpectsTheLastOneOnEveryLoad) {
  MemoryHogParams p;
  p.total_bytes = 1 << 20;  // 256 pages
  p.chunk_bytes = 256 << 10;
  p.passes = 2;
  p.hot_fraction = 0.5;
  p.hot_passes = 2;
  p.reread_passes = 1;
  FakeThreadContext ctx;
  const TokenCheck t = verified_run<MemoryHogSource>(p, ctx);
  EXPECT_EQ(t.stores, 2u * 256u + 2u * 128u);
  EXPECT_EQ(t.loads, 2u * 128u + 256u);
  // Tokens: a function of (process, page, generation), so they differ per page and per write.
  std::set<std::uint64_t> distinct;
  for (std::size_t k = 0; k < ctx.ops.size(); ++k)
    if (ctx.ops[k].kind == hw::OpKind::Store) distinct.insert(ctx.tokens[k]);
  EXPECT_EQ(distinct.size(), t.stores);
  const VirtAddr first = ctx.ops.front().addr;
  EXPECT_EQ(ctx.tokens.front(), page_token(verify_process_id("t", 7), first >> 12, 1));
  EXPECT_NE(page_token(verify_process_id("t", 7), 5, 1), page_token(verify_process_id("t", 8), 5, 1));
  EXPECT_NE(page_token(verify_process_id("t", 7), 5, 1), page_token(verify_process_id("t", 7), 5, 2));
}

TEST(WorkingSet, PopulatesBothSetsThenSweepsColdWithHotAccessesAtTheirShare) {
  WorkingSetParams p;
  p.hot_bytes = 1 << 20;   // 256 pages
  p.cold_bytes = 4 << 20;  // 1024 pages
  p.hot_share = 0.75;
  p.passes = 2;
  p.write_fraction = 0.25;
  WorkingSetSource src(info(), p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  EXPECT_EQ(ctx.count("mmap"), 2);
  EXPECT_EQ(ctx.count("munmap"), 2);
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
  const VirtAddr hot = ctx.calls[0].ret, cold = ctx.calls[1].ret;
  auto in = [](VirtAddr a, VirtAddr base, std::uint64_t pages) { return a >= base && a < base + pages * 4096; };
  // Populate: every page written once, hot first.
  for (std::size_t k = 0; k < 256 + 1024; ++k) {
    ASSERT_EQ(ctx.ops[k].kind, hw::OpKind::Store);
    ASSERT_EQ(ctx.ops[k].addr, k < 256 ? hot + k * 4096 : cold + (k - 256) * 4096);
  }
  // Passes: every cold page once per pass, in order; hot accesses three per cold one.
  std::uint64_t hot_n = 0, cold_n = 0, stores = 0;
  VirtAddr next_cold = cold;
  for (std::size_t k = 256 + 1024; k < ctx.ops.size(); ++k) {
    const hw::Op& op = ctx.ops[k];
    stores += op.kind == hw::OpKind::Store;
    if (in(op.addr, hot, 256)) {
      ++hot_n;
    } else {
      ASSERT_TRUE(in(op.addr, cold, 1024));
      ASSERT_EQ(op.addr, next_cold);
      ++cold_n;
      next_cold = next_cold + 4096 == cold + 1024 * 4096 ? cold : next_cold + 4096;
    }
  }
  EXPECT_EQ(cold_n, 2u * 1024u);
  EXPECT_NEAR(static_cast<double>(hot_n) / static_cast<double>(hot_n + cold_n), 0.75, 0.01);
  EXPECT_EQ(src.hot_accesses(), hot_n);
  EXPECT_NEAR(static_cast<double>(stores) / static_cast<double>(hot_n + cold_n), 0.25, 0.02);
  // Same seed, same stream.
  WorkingSetSource again(info(), p);
  FakeThreadContext ctx2;
  run_source(again, ctx2);
  ASSERT_EQ(ctx2.ops.size(), ctx.ops.size());
  for (std::size_t k = 0; k < ctx.ops.size(); ++k) ASSERT_EQ(ctx2.ops[k].addr - ctx2.calls[0].ret, ctx.ops[k].addr - hot);
}

TEST(WorkingSet, VerifyModeChecksEveryLoadAgainstTheLastStore) {
  WorkingSetParams p;
  p.hot_bytes = 256 << 10;
  p.cold_bytes = 1 << 20;
  p.hot_share = 0.9;
  p.passes = 3;
  p.write_fraction = 0.3;
  FakeThreadContext ctx;
  EXPECT_GT(verified_run<WorkingSetSource>(p, ctx).loads, 1000u);
  // A "lost" page: replay with one token changed, and the check notices.
  // (a store after the populate pass whose page is next read, not overwritten).
  FakeThreadContext broken = ctx;
  bool corrupted = false;
  for (std::size_t k = 2000; k < broken.ops.size() && !corrupted; ++k) {
    if (broken.ops[k].kind != hw::OpKind::Store) continue;
    for (std::size_t n = k + 1; n < broken.ops.size(); ++n) {
      if ((broken.ops[n].addr >> 12) != (broken.ops[k].addr >> 12)) continue;
      if (broken.ops[n].kind == hw::OpKind::Load) {
        broken.tokens[k] ^= 1;
        corrupted = true;
      }
      break;
    }
  }
  ASSERT_TRUE(corrupted);
  EXPECT_GE(play_tokens(broken).mismatches, 1u);  // every read of it until the next write
}
