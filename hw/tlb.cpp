// TLB arrays and the per-CPU TLB hierarchy (see tlb.h for what is modelled).
#include "hw/tlb.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/config.h"

namespace numasim::hw {

namespace {

bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "numasim: internal error: %s\n", msg.c_str());
  std::abort();
}

std::string mask_text(PageSizeMask m) {
  std::string out;
  for (int s = 0; s < kNumPageSizes; ++s)
    if (m & page_size_bit(PageSize(s))) out += (out.empty() ? "" : ",") + std::string(page_size_name(PageSize(s)));
  return out;
}

// "4K,2M" -> mask; 0 on error.
PageSizeMask parse_mask(const std::string& text) {
  PageSizeMask m = 0;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item == "4K" || item == "4KiB") m |= page_size_bit(PageSize::k4K);
    else if (item == "2M" || item == "2MiB") m |= page_size_bit(PageSize::k2M);
    else if (item == "1G" || item == "1GiB") m |= page_size_bit(PageSize::k1G);
    else return 0;
  }
  return m;
}

}  // namespace

const char* page_size_name(PageSize s) {
  switch (s) {
    case PageSize::k4K: return "4K";
    case PageSize::k2M: return "2M";
    case PageSize::k1G: return "1G";
  }
  return "?";
}

TlbArrayParams TlbArrayParams::from_config(Config cfg, const TlbArrayParams& def) {
  TlbArrayParams p = def;
  p.name = cfg.get<std::string>("name", def.name, "name of this TLB array in statistics");
  p.entries = cfg.get<unsigned>("entries", def.entries, "number of entries", {1u, 1u << 20});
  p.ways = cfg.get<unsigned>("ways", def.ways, "associativity (ways = entries: fully associative)", {1u, 1u << 20});
  p.latency_cycles = cfg.get<unsigned>("latency", def.latency_cycles, "hit latency in core cycles", {0u, 1000u});
  std::string sizes = cfg.get<std::string>("page_sizes", mask_text(def.page_sizes),
                                           "page sizes held, comma-separated from 4K, 2M, 1G");
  PageSizeMask m = parse_mask(sizes);
  if (m == 0) {
    cfg.error("page_sizes", "expected a comma-separated list of 4K, 2M, 1G, got \"" + sizes + "\"");
    m = def.page_sizes;
  }
  p.page_sizes = m;
  if (p.ways == 0 || p.entries % p.ways != 0 || !is_pow2(p.entries / p.ways)) {
    cfg.error("entries", "entries (" + std::to_string(p.entries) + ") must be ways (" + std::to_string(p.ways) +
                             ") times a power of two (the number of sets)");
    p.entries = def.entries;
    p.ways = def.ways;
  }
  return p;
}

TlbArray::TlbArray(const TlbArrayParams& params, bool recency_order)
    : params_(params), ways_(params.ways), ordered_(recency_order) {
  if (params.ways == 0 || params.entries % params.ways != 0 || !is_pow2(params.entries / params.ways))
    die("TLB array " + params.name + ": entries must be ways times a power of two");
  if (recency_order && params.ways > 16) die("TLB array " + params.name + ": a recency order holds at most 16 ways");
  set_mask_ = params.entries / params.ways - 1;
  entries_.resize(params.entries);
  if (ordered_) {
    all_ways_ = (1u << ways_) - 1;
    order_top_ = 4 * (ways_ - 1);
    // Any order to start with: ways are filled, invalid first, before it decides.
    std::uint64_t identity = 0;
    for (std::uint32_t w = 0; w < ways_; ++w) identity |= std::uint64_t{w} << (4 * w);
    order_.assign(set_mask_ + 1, identity);
    valid_ways_.assign(set_mask_ + 1, 0);
  } else {
    stamps_.resize(params.entries);
  }
}

int TlbArray::invalidate_page(Asid asid, VirtAddr va) {
  int n = 0;
  for (int s = 0; s < kNumPageSizes; ++s) {
    if (valid_of(PageSize(s)) == 0) continue;  // none held (a size the array does not hold has none)
    if (TlbEntry* e = probe(asid, va, PageSize(s))) {
      drop(*e);
      ++n;
    }
  }
  return n;
}

int TlbArray::invalidate_range(Asid asid, VirtAddr start, VirtAddr end) {
  if (end <= start) return 0;
  // Few pages: probe each; otherwise scan the whole array.
  // (an entry of any size overlapping the range covers one of its 4 KiB pages).
  if ((end - start) / kPageSize <= 8) {
    int n = 0;
    for (VirtAddr va = start & ~(kPageSize - 1); va < end; va += kPageSize) n += invalidate_page(asid, va);
    return n;
  }
  int n = 0;
  for (TlbEntry& e : entries_) {
    if (!e.valid() || e.asid() != asid) continue;
    const VirtAddr b = e.va_base();
    const VirtAddr eend = b + page_bytes(e.size());
    if (b < end && start < eend) {
      drop(e);
      ++n;
    }
  }
  return n;
}

int TlbArray::invalidate_asid(Asid asid) {
  int n = 0;
  for (TlbEntry& e : entries_) {
    if (e.valid() && e.asid() == asid) {
      drop(e);
      ++n;
    }
  }
  return n;
}

int TlbArray::invalidate_all() {
  int n = valid_entries();
  for (TlbEntry& e : entries_) e = TlbEntry{};
  std::fill(stamps_.begin(), stamps_.end(), 0);
  std::fill(valid_ways_.begin(), valid_ways_.end(), 0);
  valid_by_size_ = {};
  return n;
}

int TlbArray::valid_entries() const {
  std::uint32_t n = 0;
  for (std::uint32_t c : valid_by_size_) n += c;
  return static_cast<int>(n);
}

TlbParams TlbParams::skylake() {
  TlbParams p;
  p.l1 = {
      {"l1d_4k", 64, 4, 0, page_size_bit(PageSize::k4K)},
      {"l1d_2m", 32, 4, 0, page_size_bit(PageSize::k2M)},
      {"l1d_1g", 4, 4, 0, page_size_bit(PageSize::k1G)},
  };
  p.l2 = {
      {"stlb", 1536, 12, 9, PageSizeMask(page_size_bit(PageSize::k4K) | page_size_bit(PageSize::k2M))},
      {"stlb_1g", 16, 4, 9, page_size_bit(PageSize::k1G)},
  };
  return p;
}

TlbParams TlbParams::from_config(Config tlb) {
  TlbParams def = skylake();
  TlbParams p;
  p.pcid = tlb.get<bool>("pcid", true, "entries tagged by PCID: a context switch does not flush");
  auto read_level = [&](const char* key, const std::vector<TlbArrayParams>& defaults) {
    std::vector<Config> arrays = tlb.tables(key, "TLB arrays of this level");
    if (arrays.empty()) return defaults;
    std::vector<TlbArrayParams> out;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      TlbArrayParams d = i < defaults.size() ? defaults[i] : defaults.back();
      out.push_back(TlbArrayParams::from_config(arrays[i], d));
    }
    // At most one array per page size and level.
    PageSizeMask seen = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (seen & out[i].page_sizes)
        arrays[i].error("page_sizes", "two arrays of [[tlb." + std::string(key) + "]] hold the same page size");
      seen |= out[i].page_sizes;
    }
    return out;
  };
  p.l1 = read_level("l1", def.l1);
  p.l2 = read_level("l2", def.l2);
  return p;
}

Tlb::Tlb(const TlbParams& params) : params_(params) {
  for (const auto& a : params.l1) l1_.emplace_back(a);
  // The first level keeps stamps: lookup_l1's probe (probe_as<false>) relies on it.
  for (const auto& a : l1_) assert(!a.recency_ordered());
  // The second level's arrays keep each set's order of use (TlbArray::order_):
  // they are filled on every walk and hit rarely.
  for (const auto& a : params.l2) l2_.emplace_back(a, a.ways <= 16);
  for (int s = 0; s < kNumPageSizes; ++s) {
    for (std::size_t i = 0; i < l1_.size(); ++i)
      if (l1_by_size_[s] < 0 && l1_[i].holds(PageSize(s))) l1_by_size_[s] = static_cast<int>(i);
    for (std::size_t i = 0; i < l2_.size(); ++i)
      if (l2_by_size_[s] < 0 && l2_[i].holds(PageSize(s))) l2_by_size_[s] = static_cast<int>(i);
  }
  for (const auto& a : l2_) l2_latency_ = std::max(l2_latency_, a.params().latency_cycles);
}

int Tlb::invalidate_page(Asid asid, VirtAddr va) {
  int n = 0;
  for (auto& a : l1_) n += a.invalidate_page(asid, va);
  for (auto& a : l2_) n += a.invalidate_page(asid, va);
  return n;
}

int Tlb::invalidate_range(Asid asid, VirtAddr start, VirtAddr end) {
  int n = 0;
  for (auto& a : l1_) n += a.invalidate_range(asid, start, end);
  for (auto& a : l2_) n += a.invalidate_range(asid, start, end);
  return n;
}

int Tlb::invalidate_asid(Asid asid) {
  int n = 0;
  for (auto& a : l1_) n += a.invalidate_asid(asid);
  for (auto& a : l2_) n += a.invalidate_asid(asid);
  return n;
}

int Tlb::invalidate_all() {
  int n = 0;
  for (auto& a : l1_) n += a.invalidate_all();
  for (auto& a : l2_) n += a.invalidate_all();
  return n;
}

std::uint64_t Tlb::reach_bytes(int level, PageSize s) const {
  std::uint64_t r = 0;
  for (const auto& a : arrays(level))
    if (a.holds(s)) r += std::uint64_t(a.params().entries) * page_bytes(s);
  return r;
}

}  // namespace numasim::hw
