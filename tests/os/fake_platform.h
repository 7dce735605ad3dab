// A fake os::Platform for SystemC-free kernel tests: records every call and
// returns fixed, configurable latencies (no caches, no contention). Shared by
// all tests/os suites. Kernel threads and timers: wake-ups are recorded (a test
// runs the woken threads itself), timers wait on a manual clock that the test
// advances (advance_to fires the due timers in order).
#pragma once

#include <cstdint>
#include <vector>

#include "os/platform.h"
#include "os/timer.h"

namespace numasim::os::testing {

class FakePlatform : public Platform {
 public:
  enum class Kind { Read, Write, Copy, FlushRange, FlushMm, Bio };
  struct Call {
    Kind kind;
    CpuId cpu;
    PhysAddr addr = 0;  // read/write/copy destination; bio sector
    PhysAddr src = 0;   // copy source
    Bytes len{0};
    CpuMask targets;  // flushes
    Asid asid = 0;
    VirtAddr start = 0, end = 0;
  };

  // Latencies returned per call (read/write/copy per 64-byte line).
  Picoseconds line_latency{1000};
  Picoseconds flush_latency{2000000};
  Picoseconds bio_latency{100000000};
  bool record = true;  // benchmarks turn recording off
  std::vector<Call> calls;
  Picoseconds clock{0};

  Picoseconds kernel_read(CpuId cpu, PhysAddr addr, Bytes len) override {
    if (record) calls.push_back({Kind::Read, cpu, addr, 0, len, {}, 0, 0, 0});
    return lines(len);
  }
  Picoseconds kernel_write(CpuId cpu, PhysAddr addr, Bytes len) override {
    if (record) calls.push_back({Kind::Write, cpu, addr, 0, len, {}, 0, 0, 0});
    return lines(len);
  }
  Picoseconds kernel_copy(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len) override {
    if (record) calls.push_back({Kind::Copy, cpu, dst, src, len, {}, 0, 0, 0});
    return lines(len) * 2;
  }
  Picoseconds flush_tlb_range(CpuId initiator, const CpuMask& targets, Asid asid, VirtAddr start,
                              VirtAddr end) override {
    if (record) calls.push_back({Kind::FlushRange, initiator, 0, 0, Bytes(0), targets, asid, start, end});
    return flush_latency;
  }
  Picoseconds flush_tlb_mm(CpuId initiator, const CpuMask& targets, Asid asid) override {
    if (record) calls.push_back({Kind::FlushMm, initiator, 0, 0, Bytes(0), targets, asid, 0, 0});
    return flush_latency;
  }
  Picoseconds submit_bio(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) override {
    if (record) calls.push_back({Kind::Bio, cpu, sector, static_cast<PhysAddr>(op), len, {}, 0, 0, 0});
    if (record) bio_times.push_back(clock);
    return bio_latency;
  }
  // Writeback and readahead bios: the same record and latency (the fake's clock never runs ahead).
  Picoseconds submit_bio_nowait(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) override {
    return submit_bio(cpu, op, sector, len);
  }
  Bytes capacity{64ull << 30};
  Bytes block_capacity() const override { return capacity; }
  Picoseconds now(CpuId) const override { return clock; }
  void enter_kernel(CpuId, Picoseconds t) override {
    ++kernel_entries;
    if (cursor_clock) clock = t;
  }
  std::uint64_t kernel_entries = 0;
  // Opt-in for tests of the kernel's own clock: enter_kernel moves the clock (as
  // hw::MachinePlatform's per-CPU cursor) and a kernel cycle takes cycle_time.
  bool cursor_clock = false;
  Picoseconds cycle_time{0};
  Picoseconds cycles_to_time(CpuId, Cycles c) const override { return Picoseconds(cycle_time.value() * c.value()); }
  std::vector<Picoseconds> bio_times;  // the clock at each submit_bio

  // Kernel threads made runnable, in order (a test pops and runs them).
  std::vector<task_struct*> woken;
  KernelCost timer_cost;  // what the timer callbacks charged
  std::uint64_t timers_fired = 0;
  void wake_up_process(task_struct* t) override { woken.push_back(t); }
  void mod_timer(timer_list* t, Picoseconds expires) override {
    queue(t->cpu).add(t, expires, next_seq_++);
  }
  bool del_timer(timer_list* t) override { return t->pending && queue(t->cpu).remove(t); }
  // Moves the clock to `t`, firing every timer due by then in (expires, arming order), each at
  // its own expiry time; CPUs in id order for equal times.
  void advance_to(Picoseconds t) {
    for (;;) {
      TimerQueue* first = nullptr;
      for (auto& q : timers_)
        if (q.next() <= t && (!first || q.next() < first->next())) first = &q;
      if (!first) break;
      const Picoseconds when = first->next();
      if (when > clock) clock = when;
      timer_list* due = first->pop_due(when, next_seq_);
      ++timers_fired;
      due->function(due, timer_cost);
    }
    if (t > clock) clock = t;
  }
  // Forgets every pending timer. No longer needed before replacing a Kernel on this platform:
  // a destroyed kernel cancels its own timers (Kthreads, FileSystem and Swap destructors).
  void drop_timers() { timers_.clear(); }
  std::size_t pending_timers() const {
    std::size_t n = 0;
    for (const auto& q : timers_) n += q.size();
    return n;
  }

  std::size_t count(Kind k) const {
    std::size_t n = 0;
    for (const auto& c : calls) n += c.kind == k;
    return n;
  }
  Bytes bytes(Kind k) const {
    Bytes b{0};
    for (const auto& c : calls)
      if (c.kind == k) b += c.len;
    return b;
  }

 private:
  TimerQueue& queue(CpuId cpu) {
    const auto i = static_cast<std::size_t>(cpu.value());
    if (timers_.size() <= i) timers_.resize(i + 1);
    return timers_[i];
  }
  std::vector<TimerQueue> timers_;
  std::uint64_t next_seq_ = 0;
  Picoseconds lines(Bytes len) const { return line_latency * ((len.value() + kCacheLineBytes - 1) / kCacheLineBytes); }
};

}  // namespace numasim::os::testing
