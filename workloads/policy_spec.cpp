// Parsing of numactl-like policy text and the system calls that install it
// (mm/mempolicy.c: do_set_mempolicy, do_mbind; get_nodes for the mask layout).
#include "workloads/policy_spec.h"

#include <algorithm>
#include <charconv>

#include "workloads/linux_abi.h"

namespace numasim::workloads {
namespace {
constexpr int kBitsPerLong = 64;

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}
}  // namespace

std::vector<unsigned long> PolicySpec::nodemask() const {
  int max_node = 0;
  for (int n : nodes) max_node = std::max(max_node, n);
  std::vector<unsigned long> mask(static_cast<std::size_t>(max_node / kBitsPerLong + 1), 0ul);
  for (int n : nodes) mask[static_cast<std::size_t>(n / kBitsPerLong)] |= 1ul << (n % kBitsPerLong);
  return mask;
}

unsigned long PolicySpec::maxnode() const {
  if (nodes.empty()) return 0;
  return nodemask().size() * kBitsPerLong + 1;
}

std::optional<std::vector<int>> parse_id_list(std::string_view text, std::string* why) {
  std::vector<int> out;
  std::string t = trim(text);
  std::string_view rest = t;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto dash = item.find('-');
    auto lo = parse_int(std::string_view(item).substr(0, dash));
    auto hi = dash == std::string::npos ? lo : parse_int(std::string_view(item).substr(dash + 1));
    if (!lo || !hi || *hi < *lo) {
      if (why) *why = "\"" + item + "\" is not a number or range like 0-3";
      return std::nullopt;
    }
    if (*hi > 65535) {
      if (why) *why = "\"" + item + "\": numbers above 65535 are not supported";
      return std::nullopt;
    }
    for (int i = *lo; i <= *hi; ++i) out.push_back(i);
    if (comma == std::string_view::npos) break;
    if (rest.empty()) {
      if (why) *why = "trailing comma";
      return std::nullopt;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<PolicySpec> parse_policy(std::string_view text, int num_nodes, std::string* why) {
  PolicySpec p;
  p.text = std::string(text);
  auto colon = text.find(':');
  std::string mode = trim(text.substr(0, colon));
  std::string args = colon == std::string_view::npos ? std::string() : trim(text.substr(colon + 1));
  struct ModeName {
    const char* name;
    int mode;
    bool needs_nodes;
  };
  static constexpr ModeName kModes[] = {
      {"default", abi::kMpolDefault, false},
      {"local", abi::kMpolLocal, false},
      {"bind", abi::kMpolBind, true},
      {"interleave", abi::kMpolInterleave, true},
      {"preferred", abi::kMpolPreferred, true},
      {"preferred-many", abi::kMpolPreferredMany, true},
      {"weighted-interleave", abi::kMpolWeightedInterleave, true},
  };
  const ModeName* m = nullptr;
  for (const auto& k : kModes)
    if (mode == k.name) m = &k;
  if (!m) {
    if (why)
      *why = "unknown policy mode \"" + mode +
             "\"; expected default, local, bind:N, interleave:N-M, preferred:N, preferred-many:N,M or "
             "weighted-interleave:N=W,M=W";
    return std::nullopt;
  }
  p.mode = m->mode;
  if (!m->needs_nodes) {
    if (!args.empty()) {
      if (why) *why = "policy \"" + mode + "\" takes no nodes";
      return std::nullopt;
    }
    return p;
  }
  if (args.empty()) {
    if (why) *why = "policy \"" + mode + "\" needs nodes, e.g. " + mode + ":0";
    return std::nullopt;
  }
  if (p.mode == abi::kMpolWeightedInterleave) {
    std::string_view rest = args;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string item = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      auto eq = item.find('=');
      auto node = parse_int(std::string_view(item).substr(0, eq));
      auto weight = eq == std::string::npos ? std::optional<int>(1) : parse_int(std::string_view(item).substr(eq + 1));
      if (!node || *node > 65535 || !weight || *weight < 1 || *weight > 255) {
        if (why) *why = "\"" + item + "\": expected NODE=WEIGHT with a weight in [1, 255]";
        return std::nullopt;
      }
      p.weights.emplace_back(*node, static_cast<unsigned>(*weight));
      p.nodes.push_back(*node);
    }
    std::sort(p.nodes.begin(), p.nodes.end());
    if (std::adjacent_find(p.nodes.begin(), p.nodes.end()) != p.nodes.end()) {
      if (why) *why = "a node appears twice in the weights";
      return std::nullopt;
    }
  } else {
    auto nodes = parse_id_list(args, why);
    if (!nodes) return std::nullopt;
    p.nodes = *nodes;
  }
  if (p.mode == abi::kMpolPreferred && p.nodes.size() != 1) {
    if (why) *why = "preferred takes exactly one node (use preferred-many for several)";
    return std::nullopt;
  }
  for (int n : p.nodes) {
    if (num_nodes > 0 && n >= num_nodes) {
      if (why)
        *why =
            "node " + std::to_string(n) + " does not exist (the machine has " + std::to_string(num_nodes) + " nodes)";
      return std::nullopt;
    }
  }
  return p;
}

long set_task_policy(hw::ThreadContext& ctx, const PolicySpec& policy) {
  auto mask = policy.nodemask();
  return ctx.sys_set_mempolicy(policy.mode, policy.nodes.empty() ? nullptr : mask.data(), policy.maxnode());
}

long mbind_range(hw::ThreadContext& ctx, VirtAddr addr, std::uint64_t len, const PolicySpec& policy, unsigned flags) {
  auto mask = policy.nodemask();
  return ctx.sys_mbind(addr, len, policy.mode, policy.nodes.empty() ? nullptr : mask.data(), policy.maxnode(), flags);
}

}  // namespace numasim::workloads
