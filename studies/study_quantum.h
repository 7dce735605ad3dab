// The quantum the MLC-style studies (latency-matrix, bandwidth-matrix,
// c2c-latency, loaded-latency, mess-curves) run at, and where it came from.
// Their figures are contention between many cores, which temporal decoupling
// moves by several percent at `numasim run`'s 1 us default (issue 16 item 6;
// README, "Quantum fairness"); quantum 0, the model's time-order reference
// (every access synchronised), costs these studies about the same host time
// (README's table), so it is their default. A quantum set by the
// configuration's [sim] quantum or by --set sim.quantum=... is used as given.
// tlb-reach and thp (one core) keep the machine's default like `numasim run`.
#pragma once

#include <string>

#include "common/units.h"

namespace numasim {
class Config;
}

namespace numasim::studies {

struct StudyQuantum {
  enum class From { StudiesDefault, Config, Set };
  Picoseconds quantum{0};
  From from = From::StudiesDefault;
  std::string where;  // the configuration's file:line, or the --set assignment; empty for the default

  // "quantum 0 (default for studies: [sim] quantum or --set sim.quantum=... gives another)"
  std::string describe() const;
  // "\"quantum_ps\": 0, \"quantum_from\": \"default for studies\"" (no braces)
  std::string json_fields() const;
};

// The studies' quantum for the document behind `root`: [sim] quantum where the
// configuration or a --set gives it (already range-checked by MachineParams),
// else 0 with From::StudiesDefault.
StudyQuantum study_quantum(Config root, Picoseconds configured);

}  // namespace numasim::studies
