#!/usr/bin/env python3
"""Runs `numasim run` twice with the same configuration and seed and checks the
JSON statistics are byte-identical once the host-time fields are removed; then
runs with another seed and checks that something does change."""
import json
import subprocess
import sys
import tempfile

HOST_FIELDS = ("host_seconds", "references_per_host_second")


def run(binary, config, seed, tmp):
    out = f"{tmp}/run-{seed}-{run.count}.json"
    run.count += 1
    subprocess.run([binary, "run", config, "--quiet", "--seed", str(seed), "--json", out], check=True)
    doc = json.load(open(out))
    for f in HOST_FIELDS:
        doc["sim"].pop(f)
    return json.dumps(doc, sort_keys=False)


run.count = 0


def main():
    binary, config = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        a, b, c = run(binary, config, 7, tmp), run(binary, config, 7, tmp), run(binary, config, 8, tmp)
    same = a == b
    differs = a != c
    print(f"same seed identical: {same}; other seed differs: {differs}")
    print(f"{int(same) + int(differs)} passed, {2 - int(same) - int(differs)} failed")
    return 0 if same and differs else 1


if __name__ == "__main__":
    sys.exit(main())
