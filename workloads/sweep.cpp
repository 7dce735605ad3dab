// Sweep parsing, expansion and the parallel runner (posix_spawn + waitpid).
#include "workloads/sweep.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "workloads/json_path.h"

extern char** environ;

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
          if (!s)
            err(*gv, "collect." + kk + ": expected a dotted JSON path string, e.g. \"sim.simulated_seconds\"");
          else
            spec.collect.emplace_back(kk, *s);
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
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    throw SweepError(all);
  }
  return spec;
}

SweepSpec parse_sweep_file(const std::string& path) {
  std::ifstream in(path);
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

std::vector<std::string> SweepPoint::command(const std::vector<std::string>& extra_args,
                                             const std::string& json_path) const {
  std::vector<std::string> a = {"run", config};
  for (const auto& [k, v] : sets) {
    a.push_back("--set");
    a.push_back(k + "=" + v);
  }
  a.insert(a.end(), extra_args.begin(), extra_args.end());
  a.push_back("--json");
  a.push_back(json_path);
  a.push_back("--quiet");
  return a;
}

namespace {
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

std::string describe(const SweepPoint& p) {
  std::string s = p.config;
  for (const auto& [k, v] : p.sets) s += " --set " + k + "=" + v;
  return s;
}
}  // namespace

SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  if (options.binary.empty() || access(options.binary.c_str(), X_OK) != 0)
    throw SweepError("sweep: error: cannot execute \"" + options.binary + "\"");
  std::error_code ec;
  std::filesystem::create_directories(options.work_dir, ec);
  if (ec) throw SweepError("sweep: error: cannot create work directory \"" + options.work_dir + "\": " + ec.message());
  const int jobs = std::max(1, options.jobs > 0 ? options.jobs : spec.jobs);

  SweepResult result;
  for (auto& p : expand_sweep(spec)) {
    SweepRunOutcome o;
    o.point = std::move(p);
    std::string stem = (std::filesystem::path(options.work_dir) / ("run_" + std::to_string(o.point.index))).string();
    o.json_path = stem + ".json";
    o.log_path = stem + ".log";
    std::filesystem::remove(o.json_path, ec);
    result.runs.push_back(std::move(o));
  }

  std::vector<std::pair<pid_t, std::size_t>> running;
  std::size_t next = 0, finished = 0;
  auto finish = [&](std::size_t i, int status) {
    SweepRunOutcome& o = result.runs[i];
    if (WIFEXITED(status))
      o.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      o.exit_code = 128 + WTERMSIG(status);
    else
      o.exit_code = -1;
    std::string json;
    if (o.exit_code == 0) {
      std::ifstream in(o.json_path);
      std::stringstream buf;
      buf << in.rdbuf();
      json = buf.str();
      if (!in) o.message = "exit 0 but no JSON written to " + o.json_path;
    } else {
      o.message = (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                       : "exit code " + std::to_string(o.exit_code)) +
                  "; log " + o.log_path;
      std::string l = last_line(o.log_path);
      if (!l.empty()) o.message += ": " + l;
    }
    o.ok = o.message.empty();
    for (const auto& [col, path] : spec.collect) {
      std::optional<std::string> v;
      if (o.ok) v = json_lookup(json, path);
      o.figures.push_back(v ? *v : std::string());
    }
    ++finished;
    if (!o.ok) ++result.failed;
    if (options.progress) {
      *options.progress << "[" << finished << "/" << result.runs.size() << "] " << (o.ok ? "ok" : "FAILED") << ": run "
                        << o.point.index << " " << describe(o.point);
      if (!o.ok) *options.progress << ": " << o.message;
      *options.progress << "\n";
    }
  };
  auto spawn = [&](std::size_t i) {
    SweepRunOutcome& o = result.runs[i];
    std::vector<std::string> args = o.point.command(spec.args, o.json_path);
    args.insert(args.begin(), options.binary);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, o.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, options.binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      o.message = "cannot start " + options.binary + ": " + std::strerror(rc);
      o.exit_code = -1;
      ++finished;
      ++result.failed;
      for (std::size_t c = 0; c < spec.collect.size(); ++c) o.figures.emplace_back();
      return;
    }
    running.emplace_back(pid, i);
  };

  while (finished < result.runs.size()) {
    while (running.size() < static_cast<std::size_t>(jobs) && next < result.runs.size()) spawn(next++);
    if (running.empty()) continue;
    bool reaped = false;
    for (std::size_t r = 0; r < running.size(); ++r) {
      int status = 0;
      pid_t got = waitpid(running[r].first, &status, WNOHANG);
      if (got == running[r].first) {
        std::size_t i = running[r].second;
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(r));
        finish(i, status);
        reaped = true;
        break;
      }
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  // CSV: run, config, one column per grid key, status, one per collected figure.
  std::ostringstream csv;
  csv << "run,config";
  for (const auto& [k, v] : spec.grid) csv << "," << csv_field(k);
  csv << ",status";
  for (const auto& [c, p] : spec.collect) csv << "," << csv_field(c);
  csv << "\n";
  for (const auto& o : result.runs) {
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
  result.csv = csv.str();
  return result;
}

}  // namespace numasim::workloads
