// Sweep parsing, expansion, run outcomes and the CSV.
#include "workloads/sweep.h"

#include <toml++/toml.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "workloads/json_path.h"

namespace numasim::workloads {

namespace {
std::string where(const toml::source_region& r, const std::string& name) {
  return name + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column) + ": error: ";
}

std::string toml_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A grid value as --set text.
std::optional<std::string> set_text(const toml::node& n) {
  if (auto s = n.value_exact<std::string>()) return toml_quote(*s);
  if (auto i = n.value_exact<std::int64_t>()) return std::to_string(*i);
  if (auto b = n.value_exact<bool>()) return std::string(*b ? "true" : "false");
  if (auto d = n.value_exact<double>()) {
    std::ostringstream o;
    o << *d;
    return o.str();
  }
  return std::nullopt;
}

// Why a [collect] path cannot name a JSON value, or "" (dotted keys, numbers
// index arrays: "nodes.1.numastat.numa_hit").
std::string json_path_error(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path.find_first_of("[]") != std::string_view::npos)
    return "brackets are not path syntax; index arrays with a dotted number (\"nodes.1.x\", not \"nodes[1].x\")";
  for (char c : path)
    if (c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '{' || c == '}' || c == ',')
      return std::string("character '") + (c == '\t' ? "\\t" : c == '\n' ? "\\n" : std::string(1, c)) +
             "' cannot appear in a key";
  if (path.front() == '.' || path.back() == '.' || path.find("..") != std::string_view::npos)
    return "empty key (a path is keys separated by single dots)";
  return "";
}
}  // namespace

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

SweepSpec parse_sweep_text(std::string_view text, const std::string& name, const std::string& base_dir) {
  toml::table t;
  try {
    t = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw SweepError(where(e.source(), name) + "invalid TOML: " + std::string(e.description()));
  }
  SweepSpec spec;
  std::vector<std::string> errors;
  auto err = [&](const toml::node& n, const std::string& m) { errors.push_back(where(n.source(), name) + m); };
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    if (key == "configs") {
      const toml::array* a = v.as_array();
      if (!a || a->empty()) {
        err(v, "configs: expected a non-empty array of configuration file names");
        continue;
      }
      for (const auto& e : *a) {
        auto s = e.value_exact<std::string>();
        if (!s) {
          err(e, "configs: expected a file name string");
          continue;
        }
        std::filesystem::path p(*s);
        if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
        spec.configs.push_back(p.lexically_normal().string());
      }
    } else if (key == "jobs") {
      auto j = v.value_exact<std::int64_t>();
      if (!j || *j < 1 || *j > 256)
        err(v, "jobs: expected an integer in [1, 256]");
      else
        spec.jobs = static_cast<int>(*j);
    } else if (key == "args") {
      const toml::array* a = v.as_array();
      if (!a) {
        err(v, "args: expected an array of strings");
        continue;
      }
      for (const auto& e : *a) {
        auto s = e.value_exact<std::string>();
        if (!s)
          err(e, "args: expected a string");
        else
          spec.args.push_back(*s);
      }
    } else if (key == "grid" || key == "collect") {
      const toml::table* g = v.as_table();
      if (!g) {
        err(v, key + ": expected a table");
        continue;
      }
      // File order (toml++ iterates keys sorted).
      std::vector<std::pair<const toml::key*, const toml::node*>> entries;
      for (auto&& [gk, gv] : *g) entries.push_back({&gk, &gv});
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return std::make_pair(a.first->source().begin.line, a.first->source().begin.column) <
               std::make_pair(b.first->source().begin.line, b.first->source().begin.column);
      });
      for (const auto& [gk, gv] : entries) {
        std::string kk(gk->str());
        if (key == "collect") {
          auto s = gv->value_exact<std::string>();
          if (!s) {
            err(*gv, "collect." + kk + ": expected a dotted JSON path string, e.g. \"sim.simulated_seconds\"");
          } else if (std::string why = json_path_error(*s); !why.empty()) {
            err(*gv, "collect." + kk + ": bad JSON path \"" + *s + "\": " + why);
          } else {
            spec.collect.emplace_back(kk, *s);
          }
          continue;
        }
        const toml::array* a = gv->as_array();
        if (!a || a->empty()) {
          err(*gv, "grid." + kk + ": expected a non-empty array of values");
          continue;
        }
        std::vector<std::string> vals;
        for (const auto& e : *a) {
          auto s = set_text(e);
          if (!s)
            err(e, "grid." + kk + ": expected strings, integers, floats or booleans");
          else
            vals.push_back(*s);
        }
        spec.grid.emplace_back(kk, std::move(vals));
      }
    } else {
      err(v, "unknown key '" + key + "'; valid keys are: args collect configs grid jobs");
    }
  }
  if (spec.configs.empty() && errors.empty()) errors.push_back(name + ": error: missing required key 'configs'");
  if (errors.empty()) {
    // The grid's size before anything is expanded (saturating: 10^30 points stay "too many").
    std::uint64_t points = spec.configs.size();
    std::string product = std::to_string(spec.configs.size()) +
                          (spec.configs.size() == 1 ? " configuration" : " configurations");
    for (const auto& [k, vals] : spec.grid) {
      if (__builtin_mul_overflow(points, static_cast<std::uint64_t>(vals.size()), &points)) points = UINT64_MAX;
      product += " x " + std::to_string(vals.size());
    }
    if (points > kMaxSweepPoints) {
      const toml::node* g = t.get("grid");
      std::string at = g ? where(g->source(), name) : name + ": error: ";
      errors.push_back(at + "the sweep expands to " +
                       (points == UINT64_MAX ? "more than " + std::to_string(UINT64_MAX - 1) : std::to_string(points)) +
                       " points (" + product + "); at most " + std::to_string(kMaxSweepPoints) +
                       " points are allowed per sweep: split it into several sweep files");
    }
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    throw SweepError(all);
  }
  return spec;
}

SweepSpec parse_sweep_file(const std::string& path) {
  std::ifstream in(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw SweepError(path + ": error: is a directory, not a sweep file");
  if (!in) throw SweepError(path + ": error: cannot open sweep file");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_sweep_text(buf.str(), path, std::filesystem::path(path).parent_path().string());
}

std::vector<SweepPoint> expand_sweep(const SweepSpec& spec) {
  std::vector<SweepPoint> out;
  std::vector<std::size_t> idx(spec.grid.size(), 0);
  for (const auto& config : spec.configs) {
    std::fill(idx.begin(), idx.end(), 0);
    for (;;) {
      SweepPoint p;
      p.index = out.size();
      p.config = config;
      for (std::size_t k = 0; k < spec.grid.size(); ++k)
        p.sets.emplace_back(spec.grid[k].first, spec.grid[k].second[idx[k]]);
      out.push_back(std::move(p));
      // Odometer: the last key fastest; done when every key wrapped (or there is no grid).
      bool wrapped = true;
      for (std::size_t k = spec.grid.size(); k-- > 0;) {
        if (++idx[k] < spec.grid[k].second.size()) {
          wrapped = false;
          break;
        }
        idx[k] = 0;
      }
      if (wrapped) break;
    }
  }
  return out;
}

std::vector<std::string> SweepPoint::arguments(const std::vector<std::string>& extra_args) const {
  std::vector<std::string> a = {"run", config};
  for (const auto& [k, v] : sets) {
    a.push_back("--set");
    a.push_back(k + "=" + v);
  }
  a.insert(a.end(), extra_args.begin(), extra_args.end());
  return a;
}

std::vector<std::string> SweepPoint::command(const std::vector<std::string>& extra_args,
                                             const std::string& json_path) const {
  std::vector<std::string> a = arguments(extra_args);
  a.push_back("--json");
  a.push_back(json_path);
  a.push_back("--quiet");
  return a;
}

std::string SweepPoint::describe() const {
  std::string s = config;
  for (const auto& [k, v] : sets) s += " --set " + k + "=" + v;
  return s;
}

std::string tail_lines(const std::string& path, std::size_t max_lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last.push_back(line);
    if (last.size() > max_lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += (out.empty() ? "" : "\n") + l;
  return out;
}

void record_run_failure(const SweepSpec& spec, SweepRunOutcome& o, std::string why) {
  o.ok = false;
  o.message = why.empty() ? "failed" : std::move(why);
  o.figures.assign(spec.collect.size(), std::string());
}

void record_run_exit(const SweepSpec& spec, SweepRunOutcome& o, int exit_code) {
  o.exit_code = exit_code;
  o.message.clear();
  std::string json;
  if (exit_code == 0) {
    std::ifstream in(o.json_path);
    std::stringstream buf;
    buf << in.rdbuf();
    json = buf.str();
    if (!in) o.message = "exit 0 but no JSON written to " + o.json_path;
  } else {
    // A shell reports a child killed by signal N as 128 + N, and so does the local runner.
    o.message = (exit_code > 128 && exit_code < 128 + 65 ? "killed by signal " + std::to_string(exit_code - 128)
                                                         : "exit code " + std::to_string(exit_code)) +
                "; log " + o.log_path;
    std::string l = tail_lines(o.log_path, 1);
    if (!l.empty()) o.message += ": " + l;
  }
  o.ok = o.message.empty();
  o.figures.clear();
  for (const auto& [col, path] : spec.collect) {
    std::optional<std::string> v;
    if (o.ok) v = json_lookup(json, path);
    o.figures.push_back(v ? *v : std::string());
  }
}

std::string sweep_csv(const SweepSpec& spec, const std::vector<SweepRunOutcome>& runs) {
  std::ostringstream csv;
  csv << "run,config";
  for (const auto& [k, v] : spec.grid) csv << "," << csv_field(k);
  csv << ",status";
  for (const auto& [c, p] : spec.collect) csv << "," << csv_field(c);
  csv << "\n";
  for (const auto& o : runs) {
    csv << o.point.index << "," << csv_field(o.point.config);
    for (const auto& [k, v] : o.point.sets) {
      // Strings without their TOML quotes.
      std::string shown = v.size() >= 2 && v.front() == '"' ? v.substr(1, v.size() - 2) : v;
      csv << "," << csv_field(shown);
    }
    csv << "," << (o.ok ? "ok" : csv_field("failed: " + o.message));
    for (const auto& f : o.figures) csv << "," << csv_field(f);
    csv << "\n";
  }
  return csv.str();
}

}  // namespace numasim::workloads
