#!/bin/sh
# Regenerates the README's fidelity table (tools/fidelity.py: every machine,
# figure, published value, model value and error). Usage from the top of the
# checkout, after building numasim:
#   tools/fidelity.sh --update-readme README.md
# Results are cached in build/release/fidelity/ (delete it to re-run every study).
exec /usr/bin/python3 "$(dirname "$0")/fidelity.py" "$@"
