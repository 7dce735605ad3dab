// Runs the numasim binary of this build with arguments and collects its exit
// status, stdout and stderr (for the CLI tests).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

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

}  // namespace numasim_cli_test
