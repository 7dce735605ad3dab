#!/usr/bin/env python3
"""numasim regression suite: runs (configuration, workload) cases with `numasim run
--json` and compares chosen figures with golden values within tolerances.

A suite file (TOML) holds [[case]] tables:

    [[case]]
    name = "default"
    config = "configs/default.toml"      # relative to the source tree
    set = ["workload[0].laps=1"]          # optional --set overrides
    [case.figures]                        # dotted JSON path -> [golden, relative tolerance]
    "sim.simulated_ps" = [88079371904, 0.05]

Exit status 0 when every figure is within its tolerance, 1 otherwise (with a
table of the figures that moved and by how much), 2 on a broken suite.
--update rewrites the golden values from a fresh run (tolerances kept).
--set K=V applies an extra override to every case (used to check that the
suite notices a deliberate change of a timing parameter).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib


def lookup(doc, path):
    """Follows a dotted path; a member whose own name has dots ("n0_to_n1.bytes") matches whole."""
    parts = path.split(".")
    node, i = doc, 0
    while i < len(parts):
        if isinstance(node, list):
            if not parts[i].isdigit() or int(parts[i]) >= len(node):
                return None
            node, i = node[int(parts[i])], i + 1
            continue
        if not isinstance(node, dict):
            return None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in node:
                node, i = node[key], j
                break
        else:
            return None
    return node


def run_case(binary, source_dir, case, extra_sets):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        cmd = [binary, "run", os.path.join(source_dir, case["config"]), "--quiet", "--json", out]
        for s in list(case.get("set", [])) + extra_sets:
            cmd += ["--set", s]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"case {case['name']}: `{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stderr}")
        with open(out) as f:
            return json.load(f)


def format_toml_value(v):
    return repr(v) if isinstance(v, int) else f"{v:.6g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="path of the numasim executable")
    ap.add_argument("--source-dir", required=True, help="top of the source tree")
    ap.add_argument("--suite", required=True, help="suite file (TOML)")
    ap.add_argument("--set", action="append", default=[], dest="sets", help="extra override for every case")
    ap.add_argument("--update", action="store_true", help="rewrite the golden values")
    args = ap.parse_args()

    try:
        with open(args.suite, "rb") as f:
            suite = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        print(f"{args.suite}: error: {e}", file=sys.stderr)
        return 2
    cases = suite.get("case", [])
    if not cases:
        print(f"{args.suite}: error: no [[case]]", file=sys.stderr)
        return 2

    moved = []
    checked = 0
    updated = {}
    for case in cases:
        for key in ("name", "config", "figures"):
            if key not in case:
                print(f"{args.suite}: error: a [[case]] has no '{key}'", file=sys.stderr)
                return 2
        try:
            doc = run_case(args.binary, args.source_dir, case, args.sets)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 1
        for path, (golden, tol) in case["figures"].items():
            value = lookup(doc, path)
            if value is None:
                moved.append((case["name"], path, golden, None, None))
                continue
            updated[(case["name"], path)] = value
            checked += 1
            rel = abs(value - golden) / abs(golden) if golden else abs(value)
            if rel > tol:
                moved.append((case["name"], path, golden, value, rel))

    if args.update:
        text = open(args.suite).read()
        for (name, path), value in updated.items():
            # Replace the golden value on the line of this figure (paths are unique per case).
            lines = text.split("\n")
            in_case = False
            for i, line in enumerate(lines):
                if line.strip().startswith("name") and f'"{name}"' in line:
                    in_case = True
                elif line.strip() == "[[case]]":
                    in_case = False
                if in_case and line.strip().startswith(f'"{path}"'):
                    tol = line.split(",")[-1].strip().rstrip("]")
                    lines[i] = f'"{path}" = [{format_toml_value(value)}, {tol}]'
            text = "\n".join(lines)
        open(args.suite, "w").write(text)
        print(f"updated {len(updated)} golden values in {args.suite}")
        return 0

    for name, path, golden, value, rel in moved:
        if value is None:
            print(f"MISSING {name}: {path} (golden {golden}) is not in the run's JSON")
        else:
            print(f"MOVED   {name}: {path}: golden {golden:.6g}, now {value:.6g} ({100 * rel:+.1f}% off, "
                  f"{'higher' if value > golden else 'lower'})")
    failed = len(moved)
    print(f"{checked - sum(1 for m in moved if m[3] is not None)} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
