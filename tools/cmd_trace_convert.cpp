// `numasim trace-convert IN.lackey OUT.trace`: converts a Valgrind Lackey
// --trace-mem=yes text trace to numasim's compact binary trace format.
#include <iostream>

#include "cli.h"
#include "workloads/trace_convert.h"
#include "workloads/trace_format.h"

namespace numasim::cli {
namespace {

int run_trace_convert(Args& args) {
  if (args.positionals.size() != 2) throw UsageError{"expected an input Lackey trace and an output file"};
  try {
    auto s = workloads::convert_lackey_to_binary(args.positionals[0], args.positionals[1]);
    std::cout << "converted " << s.records << " records (" << s.instr << " instruction, " << s.loads << " load, "
              << s.stores << " store, " << s.modifies << " modify): " << s.text_bytes << " -> " << s.binary_bytes
              << " bytes\n";
  } catch (const workloads::TraceError& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

RegisterCommand reg{Command{"trace-convert", "IN.lackey OUT.trace",
                            "convert a Valgrind Lackey --trace-mem=yes trace to the binary trace format",
                            "Produce the input with: valgrind --tool=lackey --trace-mem=yes PROGRAM 2> IN.lackey\n"
                            "Both formats replay with a [[workload]] of kind = \"trace\".",
                            2,
                            {},
                            run_trace_convert}};

}  // namespace
}  // namespace numasim::cli
