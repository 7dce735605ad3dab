// Zipf / hot-cold generator over a shared footprint.
#include "workloads/zipf_workload.h"

#include <algorithm>
#include <cmath>

#include "workloads/rng.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

ZipfParams ZipfParams::from_config(Config cfg) {
  ZipfParams p;
  p.footprint_bytes = cfg.get<Bytes>("footprint", Bytes(p.footprint_bytes), "bytes accessed (shared by the threads)",
                                     {Bytes(64), std::nullopt})
                          .value();
  p.item_bytes = cfg.get<Bytes>("item_size", Bytes(4096), "granularity of hotness", {Bytes(64), std::nullopt}).value();
  p.hotcold = cfg.get_choice("distribution", "zipf", {"zipf", "hotcold"}, "popularity of items") == "hotcold";
  p.alpha = cfg.get<double>("alpha", 0.99, "Zipf exponent (zipf)", {0.01, 10.0});
  p.hot_fraction = cfg.get<double>("hot_fraction", 0.1, "fraction of items that are hot (hotcold)", {0.0, 1.0});
  p.hot_probability =
      cfg.get<double>("hot_probability", 0.9, "probability an access goes to a hot item (hotcold)", {0.0, 1.0});
  p.accesses = cfg.get<std::uint64_t>("accesses", p.accesses, "accesses per thread");
  p.write_ratio = cfg.get<double>("write_ratio", 0.0, "fraction of accesses that are stores", {0.0, 1.0});
  p.access_bytes = static_cast<std::uint32_t>(
      cfg.get<Bytes>("access_size", Bytes(8), "bytes per access", {Bytes(1), Bytes(64)}).value());
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work between accesses");
  p.scatter = cfg.get<bool>("scatter", true, "spread hot items over the footprint");
  if (p.item_bytes > p.footprint_bytes) cfg.error("item_size", "larger than the footprint");
  return p;
}

ZipfSource::ZipfSource(ThreadInfo info, const ZipfParams& p, std::shared_ptr<SharedRegion> region)
    : Generator(std::move(info)),
      p_(p),
      region_(std::move(region)),
      items_(std::max<std::uint64_t>(1, p.footprint_bytes / p.item_bytes)),
      zipf_(items_, p.alpha),
      scatter_(items_, derive_seed(this->info().seed, 0x5CA7u)),  // same map for every thread: shared hot set
      rng_(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0x21Fu)) {
  lines_per_item_ = std::max<std::uint64_t>(1, p_.item_bytes / 64);
  hot_items_ = std::clamp<std::uint64_t>(
      static_cast<std::uint64_t>(std::ceil(p_.hot_fraction * static_cast<double>(items_))), 1, items_);
  hot_threshold_ = ratio_threshold(p_.hot_probability);
  write_threshold_ = ratio_threshold(p_.write_ratio);
}

void ZipfSource::setup(hw::ThreadContext& ctx) {
  const bool maps_it = !region_->tried;
  base_ = map_shared_region(ctx, *region_);
  if (!base_ || !maps_it || p_.init_policy.is_default()) return;
  if (const long r = mbind_range(ctx, base_, region_->bytes, p_.init_policy); r < 0) {
    fail("mbind(footprint, init_policy " + p_.init_policy.text + ")", r);
    return;
  }
  first_touch_ = true;
}

void ZipfSource::teardown(hw::ThreadContext& ctx) {
  if (base_) unmap_shared_region(ctx, *region_);
  base_ = 0;
}

std::uint64_t ZipfSource::draw_rank() {
  if (!p_.hotcold) return zipf_.sample(rng_);
  bool hot = hot_items_ == items_ || (hot_threshold_ && (hot_threshold_ == UINT64_MAX || rng_.next() < hot_threshold_));
  if (hot) return 1 + rng_.below(hot_items_);
  return 1 + hot_items_ + rng_.below(items_ - hot_items_);
}

void ZipfSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  if (first_touch_) {  // one store per page of the footprint, in address order
    const std::uint64_t pages = region_->bytes / 4096;
    const std::uint64_t n = std::min<std::uint64_t>(batch.room(), pages - first_touch_next_);
    for (std::uint64_t i = 0; i < n; ++i) batch.store(base_ + (first_touch_next_ + i) * 4096, 8);
    first_touch_next_ += n;
    if (first_touch_next_ < pages) return;
    first_touch_ = false;
    count("first_touch_pages", pages);
    // The policy goes once every page is placed (the call runs the stores first).
    if (const long r = mbind_range(ctx, base_, region_->bytes, PolicySpec{}); r < 0) {
      fail("mbind(footprint, default)", r);
      return;
    }
  }
  const std::uint32_t cc = p_.compute_cycles;
  const std::size_t per = cc ? 2 : 1;
  std::uint64_t n = std::min<std::uint64_t>(batch.room() / per, p_.accesses - done_);
  const VirtAddr base = base_;
  const std::uint64_t item_bytes = p_.item_bytes, lines = lines_per_item_, thr = write_threshold_;
  const std::uint32_t size = p_.access_bytes;
  for (std::uint64_t k = 0; k < n; ++k) {
    std::uint64_t item = item_of_rank(draw_rank());
    VirtAddr addr = base + item * item_bytes + (lines > 1 ? rng_.below(lines) * 64 : 0);
    if (thr && (thr == UINT64_MAX || rng_.next() < thr))
      batch.store(addr, size);
    else
      batch.load(addr, size);
    if (cc) batch.compute(cc);
  }
  done_ += n;
  if (done_ >= p_.accesses && n) count("accesses", p_.accesses);
}

void build_zipf(WorkloadBuild& b) {
  ZipfParams p = ZipfParams::from_config(b.cfg);
  const std::string init = b.cfg.get<std::string>(
      "init_policy", "default", "memory policy of the footprint's first touch, then reset (numactl-like: bind:2)");
  std::string why;
  if (auto ps = parse_policy(init, b.topo.num_nodes(), &why))
    p.init_policy = *ps;
  else
    b.cfg.error("init_policy", why);
  auto region = std::make_shared<SharedRegion>();
  region->bytes = (p.footprint_bytes + 4095) / 4096 * 4096;
  region->threads = static_cast<int>(b.spec.threads.size());
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p, region] { return std::make_unique<ZipfSource>(info, p, region); };
  }
}

}  // namespace numasim::workloads
