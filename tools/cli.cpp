// Argument parsing, help text and the helpers shared by the subcommands.
#include "cli.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/config.h"

namespace numasim {
std::string_view embedded_default_config();
}

namespace numasim::cli {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

RegisterCommand::RegisterCommand(Command c) { commands().push_back(std::move(c)); }

bool Args::flag(const std::string& name) const {
  for (const auto& [k, v] : options)
    if (k == name) return true;
  return false;
}

std::optional<std::string> Args::value(const std::string& name) const {
  std::optional<std::string> out;
  for (const auto& [k, v] : options)
    if (k == name) out = v;
  return out;
}

std::vector<std::string> Args::values(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : options)
    if (k == name) out.push_back(v);
  return out;
}

std::optional<std::uint64_t> Args::unsigned_value(const std::string& name) const {
  auto v = value(name);
  if (!v) return std::nullopt;
  if (v->empty() || v->find_first_not_of("0123456789") != std::string::npos || v->size() > 19)
    throw UsageError{name + ": expected a non-negative integer, got \"" + *v + "\""};
  return std::stoull(*v);
}

std::vector<OptionSpec> config_options() {
  return {{"--set", "KEY=VALUE", "override a configuration parameter (repeatable), e.g. --set cpu.frequency=3GHz", true}};
}

std::unique_ptr<ConfigDocument> load_config(const Args& args) {
  std::unique_ptr<ConfigDocument> doc;
  if (args.positionals.empty()) {
    doc = ConfigDocument::from_string(embedded_default_config(), "<embedded default.toml>");
  } else {
    doc = ConfigDocument::from_file(args.positionals[0]);
  }
  for (const auto& s : args.values("--set")) doc->apply_override(s);
  return doc;
}

int report_config_errors(const std::exception& e) {
  if (auto* ce = dynamic_cast<const ConfigErrors*>(&e)) {
    for (const auto& d : ce->diagnostics()) std::cerr << d.str() << "\n";
    std::cerr << ce->diagnostics().size() << " configuration error" << (ce->diagnostics().size() == 1 ? "" : "s")
              << "\n";
  } else {
    std::cerr << "numasim: " << e.what() << "\n";
  }
  return kExitUsage;
}

bool write_output(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return true;
  }
  std::ofstream out(path);
  out << text;
  if (!out) {
    std::cerr << "numasim: cannot write " << path << "\n";
    return false;
  }
  return true;
}

}  // namespace numasim::cli
