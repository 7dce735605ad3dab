// The numasim command line: each subcommand is a function taking its parsed
// arguments. Exit status: 0 success, 1 simulation failure, 2 usage or
// configuration error (kExitOk, kExitSimulation, kExitUsage).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace numasim {
class ConfigDocument;
}

namespace numasim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitSimulation = 1;
inline constexpr int kExitUsage = 2;

// Thrown for a bad command line; main prints it with the subcommand's usage and exits 2.
struct UsageError {
  std::string message;
};

struct OptionSpec {
  std::string name;   // "--json"
  std::string value;  // metavariable ("FILE"); empty for a flag
  std::string help;
  bool repeatable = false;
};

struct Command {
  std::string name;
  std::string synopsis;  // "[CONFIG] [--set key=value]..."
  std::string summary;   // one line for the global help
  std::string details;   // paragraph for `numasim NAME --help`
  int max_positionals = 1;
  std::vector<OptionSpec> options;
  std::function<int(struct Args&)> run;
};

struct Args {
  const Command* command = nullptr;
  std::vector<std::string> positionals;
  std::vector<std::pair<std::string, std::string>> options;  // in command-line order

  bool flag(const std::string& name) const;
  std::optional<std::string> value(const std::string& name) const;             // last occurrence
  std::vector<std::string> values(const std::string& name) const;              // all occurrences
  std::optional<std::uint64_t> unsigned_value(const std::string& name) const;  // UsageError if malformed
};

// Options shared by every command that loads a configuration.
std::vector<OptionSpec> config_options();
// The configuration named by the first positional (or the embedded default),
// with every --set applied. Never throws: errors are in the document's diagnostics.
std::unique_ptr<ConfigDocument> load_config(const Args& args);
// Prints every diagnostic of `e` to stderr, returns kExitUsage.
int report_config_errors(const std::exception& e);
// Writes `text` to `path` ("-" = stdout); false with a message on stderr on failure.
bool write_output(const std::string& path, const std::string& text);

// Registered commands, in the order `numasim --help` lists them.
std::vector<Command>& commands();
struct RegisterCommand {
  explicit RegisterCommand(Command c);
};

}  // namespace numasim::cli
