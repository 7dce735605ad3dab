# Writes OUTPUT, a C++ source defining numasim::embedded_default_config() that
# returns the text of INPUT (so `numasim run` works from any directory).
file(READ ${INPUT} content)
set(delim "NUMASIM_TOML")
file(WRITE ${OUTPUT} "// Generated from configs/default.toml; do not edit.\n#include <string_view>\nnamespace numasim {\nstd::string_view embedded_default_config() {\n  return R\"${delim}(${content})${delim}\";\n}\n}  // namespace numasim\n")
