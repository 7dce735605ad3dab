// Where the MLC-style studies' quantum comes from (see study_quantum.h).
#include "studies/study_quantum.h"

#include "common/config.h"
#include "common/json_writer.h"

namespace numasim::studies {

StudyQuantum study_quantum(Config root, Picoseconds configured) {
  Config sim = root.table("sim");
  if (!sim.has("quantum")) return StudyQuantum{};
  const SourcePos pos = sim.position("quantum");
  StudyQuantum q;
  q.quantum = configured;
  if (pos.file.rfind("--set", 0) == 0) {
    q.from = StudyQuantum::From::Set;
    q.where = pos.file;
  } else {
    q.from = StudyQuantum::From::Config;
    q.where = pos.file + ":" + std::to_string(pos.line);
  }
  return q;
}

std::string StudyQuantum::describe() const {
  const std::string value = quantum.value() == 0 ? std::string("quantum 0") : "quantum " + format_time(quantum);
  switch (from) {
    case From::StudiesDefault:
      return value + " (default for studies: [sim] quantum or --set sim.quantum=... gives another)";
    case From::Config:
      return value + " (from the configuration, " + where + ")";
    case From::Set:
      return value + " (from " + where + ")";
  }
  return value;
}

std::string StudyQuantum::json_fields() const {
  const char* source = from == From::StudiesDefault ? "default for studies"
                       : from == From::Config       ? "configuration"
                                                    : "--set";
  std::string out = "\"quantum_ps\": " + std::to_string(quantum.value()) + ", \"quantum_from\": " + json_escape(source);
  if (!where.empty()) out += ", \"quantum_where\": " + json_escape(where);
  return out;
}

}  // namespace numasim::studies
