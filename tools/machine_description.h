// Reads every parameter of the machine a configuration describes, without
// simulating: what `validate` checks and prints, and what `run` builds from.
#pragma once

namespace numasim {
class ConfigDocument;
}

namespace numasim::cli {
// Declares (reads) every parameter of the configuration; errors go to the document.
void declare_machine(ConfigDocument& doc);
}  // namespace numasim::cli
