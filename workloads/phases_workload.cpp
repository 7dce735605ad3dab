// Phases generator: allocate / touch / compute / free with per-phase policies.
#include "workloads/phases_workload.h"

#include <algorithm>

#include "workloads/mmap_churn_workload.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

PhasesParams PhasesParams::from_config(Config cfg, int num_nodes) {
  PhasesParams p;
  auto tables = cfg.tables("phase", "one phase of the workload");
  if (tables.empty()) cfg.error("", "a phases workload needs at least one [[workload.phase]]");
  std::vector<bool> allocated;
  for (Config t : tables) {
    Phase ph;
    std::string action =
        t.get_choice("action", "compute", {"allocate", "touch", "compute", "free"}, "what the phase does");
    std::string region = t.get<std::string>("region", "main", "named region the phase works on");
    auto it = std::find(p.regions.begin(), p.regions.end(), region);
    ph.region = static_cast<int>(it - p.regions.begin());
    if (it == p.regions.end()) {
      p.regions.push_back(region);
      allocated.push_back(false);
    }
    if (t.has("policy")) {
      std::string text = t.get<std::string>("policy", "default", "memory policy from this phase on");
      std::string why;
      ph.policy = parse_policy(text, num_nodes, &why);
      if (!ph.policy) t.error("policy", why);
    }
    ph.via_mbind =
        t.get_choice("apply", "set_mempolicy", {"set_mempolicy", "mbind"}, "how the policy is installed") == "mbind";
    if (action == "allocate") {
      ph.action = Phase::Action::Allocate;
      ph.bytes = t.require<Bytes>("size", "bytes to map", {Bytes(1), std::nullopt}).value();
      if (allocated[ph.region]) t.error("region", "region \"" + region + "\" is already allocated");
      allocated[ph.region] = true;
    } else {
      if (ph.via_mbind) t.error("apply", "mbind applies to allocate phases only");
      if (action != "compute" && !allocated[ph.region])
        t.error("region", "region \"" + region + "\" is not allocated by an earlier phase");
      if (action == "touch") {
        ph.action = Phase::Action::Touch;
        ph.passes = t.get<std::uint32_t>("passes", 1, "times every page is touched", {1u, std::nullopt});
        ph.write = t.get<bool>("write", true, "touch with stores (else loads)");
        ph.touch_stride =
            t.get<Bytes>("touch_stride", Bytes(4096), "distance between touches", {Bytes(1), std::nullopt}).value();
      } else if (action == "compute") {
        ph.action = Phase::Action::Compute;
        ph.cycles = t.require<std::uint64_t>("cycles", "cycles of work");
      } else {
        ph.action = Phase::Action::Free;
        allocated[ph.region] = false;
      }
    }
    p.phases.push_back(std::move(ph));
  }
  return p;
}

void PhasesSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  while (phase_ < p_.phases.size() && !batch.full()) {
    const Phase& ph = p_.phases[phase_];
    const std::size_t r = static_cast<std::size_t>(ph.region);
    if (!entered_) {
      batch.marker(static_cast<std::uint32_t>(phase_));
      entered_ = true;
      pos_ = 0;
      if (ph.policy && !ph.via_mbind) {
        long ret = set_task_policy(ctx, *ph.policy);
        if (ret < 0) return fail("phase " + std::to_string(phase_) + " set_mempolicy(" + ph.policy->text + ")", ret);
      }
    }
    bool phase_done = true;
    switch (ph.action) {
      case Phase::Action::Allocate: {
        addr_[r] = map_anon(ctx, ph.bytes);
        if (!addr_[r]) return;
        len_[r] = ph.bytes;
        if (ph.policy && ph.via_mbind) {
          long ret = mbind_range(ctx, addr_[r], (ph.bytes + 4095) / 4096 * 4096, *ph.policy);
          if (ret < 0) return fail("phase " + std::to_string(phase_) + " mbind(" + ph.policy->text + ")", ret);
        }
        break;
      }
      case Phase::Action::Touch: {
        std::uint64_t per_pass = (len_[r] + ph.touch_stride - 1) / ph.touch_stride;
        std::uint64_t total = per_pass * ph.passes;
        while (pos_ < total && !batch.full()) {
          std::uint64_t in_pass = pos_ % per_pass;
          std::uint64_t next = emit_touches(batch, addr_[r], in_pass, per_pass, ph.touch_stride, ph.write, 0);
          pos_ += next - in_pass;
        }
        phase_done = pos_ >= total;
        break;
      }
      case Phase::Action::Compute: {
        constexpr std::uint64_t kMaxOp = 1u << 30;
        while (pos_ < ph.cycles && !batch.full()) {
          std::uint64_t c = std::min(kMaxOp, ph.cycles - pos_);
          batch.compute(static_cast<std::uint32_t>(c));
          pos_ += c;
        }
        phase_done = pos_ >= ph.cycles;
        break;
      }
      case Phase::Action::Free: {
        long ret = ctx.sys_munmap(addr_[r], len_[r]);
        addr_[r] = 0;
        if (ret < 0) return fail("phase " + std::to_string(phase_) + " munmap", ret);
        break;
      }
    }
    if (!phase_done) return;
    ++phase_;
    entered_ = false;
  }
}

void PhasesSource::teardown(hw::ThreadContext& ctx) {
  for (std::size_t r = 0; r < addr_.size(); ++r)
    if (addr_[r]) ctx.sys_munmap(addr_[r], len_[r]);
}

void build_phases(WorkloadBuild& b) {
  PhasesParams p = PhasesParams::from_config(b.cfg, b.topo.num_nodes());
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<PhasesSource>(info, p); };
  }
}

}  // namespace numasim::workloads
