// libFuzzer target: the TOML configuration front end with the whole machine's
// validation, as `numasim validate` runs it: parse (with --set-style values in
// the text), read every parameter of the topology, the hardware, the kernel and
// the workloads, and report unknown keys. Every outcome must be a value or
// ConfigErrors; anything else (a crash, a sanitizer report, another exception)
// is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config.h"
#include "machine_description.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = numasim::ConfigDocument::from_string(text, "fuzz.toml");
  try {
    doc->check();
    numasim::cli::declare_machine(*doc);
    doc->finish();
    (void)doc->resolved_toml();
  } catch (const numasim::ConfigErrors&) {
  }
  return 0;
}
