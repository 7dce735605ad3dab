// Runs the numasim binary of this build with arguments and collects its exit
// status, stdout and stderr (for the CLI tests).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace numasim_cli_test {

struct Result {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline Result run_numasim(const std::string& args) {
  static int counter = 0;
  std::string base = std::filesystem::temp_directory_path() /
                     ("numasim_cli_h_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string cmd =
      std::string(NUMASIM_BINARY_DIR) + "/tools/numasim " + args + " >" + base + ".out 2>" + base + ".err";
  int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
  return r;
}

inline std::string source_path(const std::string& rel) { return std::string(NUMASIM_SOURCE_DIR) + "/" + rel; }

// A CSV text (the --sample output) as columns by name.
inline std::map<std::string, std::vector<double>> csv_columns(const std::string& text) {
  std::stringstream in(text);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream h(line);
  for (std::string f; std::getline(h, f, ',');) names.push_back(f);
  std::map<std::string, std::vector<double>> cols;
  while (std::getline(in, line)) {
    std::stringstream r(line);
    std::size_t i = 0;
    for (std::string f; std::getline(r, f, ',') && i < names.size(); ++i) cols[names[i]].push_back(std::stod(f));
  }
  return cols;
}

}  // namespace numasim_cli_test
