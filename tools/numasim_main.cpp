// numasim: entry point. Finds the subcommand, parses its options against the
// command's declared option list, prints help, and maps errors to exit codes.
#include <cstring>
#include <exception>
#include <iostream>

#include "cli.h"
#include "common/config.h"

using namespace numasim::cli;

namespace {

void print_global_help(std::ostream& out) {
  out << "numasim: a discrete-event NUMA machine simulator\n\n"
         "usage: numasim COMMAND [ARGS...]\n"
         "       numasim COMMAND --help\n\ncommands:\n";
  for (const auto& c : commands()) {
    out << "  " << c.name << std::string(c.name.size() < 18 ? 18 - c.name.size() : 1, ' ') << c.summary << "\n";
  }
  out << "\nWith no CONFIG, commands use the embedded default configuration (configs/default.toml).\n"
         "Exit status: 0 success, 1 simulation failure, 2 usage or configuration error.\n";
}

void print_command_help(const Command& c, std::ostream& out) {
  out << "usage: numasim " << c.name << " " << c.synopsis << "\n\n" << c.summary << "\n";
  if (!c.details.empty()) out << "\n" << c.details << "\n";
  out << "\noptions:\n";
  for (const auto& o : c.options) {
    std::string left = o.name + (o.value.empty() ? "" : " " + o.value);
    out << "  " << left << std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') << o.help << "\n";
  }
  out << "  --help" << std::string(16, ' ') << "show this help\n";
}

Args parse(const Command& c, int argc, char** argv) {
  Args a;
  a.command = &c;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() > 1 && arg[0] == '-') {
      std::string name = arg, value;
      bool inline_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inline_value = true;
      }
      const OptionSpec* spec = nullptr;
      for (const auto& o : c.options)
        if (o.name == name) spec = &o;
      if (!spec) throw UsageError{"unknown option " + name};
      if (!spec->value.empty() && !inline_value) {
        if (i + 1 >= argc) throw UsageError{name + " needs a value (" + spec->value + ")"};
        value = argv[++i];
      } else if (spec->value.empty() && inline_value) {
        throw UsageError{name + " takes no value"};
      }
      if (!spec->repeatable && a.value(name)) throw UsageError{name + " given twice"};
      a.options.emplace_back(name, value);
    } else {
      a.positionals.push_back(arg);
    }
  }
  if (static_cast<int>(a.positionals.size()) > c.max_positionals)
    throw UsageError{"unexpected argument \"" + a.positionals[c.max_positionals] + "\""};
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_global_help(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_global_help(std::cout);
    return kExitOk;
  }
  if (name == "--version") {
    std::cout << "numasim 0.1.0\n";
    return kExitOk;
  }
  const Command* cmd = nullptr;
  for (const auto& c : commands())
    if (c.name == name) cmd = &c;
  if (!cmd) {
    std::cerr << "numasim: unknown command \"" << name << "\"\n\n";
    print_global_help(std::cerr);
    return kExitUsage;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      print_command_help(*cmd, std::cout);
      return kExitOk;
    }
  }
  try {
    Args args = parse(*cmd, argc, argv);
    return cmd->run(args);
  } catch (const UsageError& e) {
    std::cerr << "numasim " << cmd->name << ": " << e.message << "\n";
    std::cerr << "usage: numasim " << cmd->name << " " << cmd->synopsis << "\n";
    return kExitUsage;
  } catch (const numasim::ConfigErrors& e) {
    return report_config_errors(e);
  } catch (const std::exception& e) {
    std::cerr << "numasim " << cmd->name << ": simulation failed: " << e.what() << "\n";
    return kExitSimulation;
  }
}
