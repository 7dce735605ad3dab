#!/usr/bin/env bash
# tools/pgo-build.sh: the profile-guided (GCC PGO) build of numasim, opt-in
# (issue 15). Three steps, each a preset of CMakePresets.json:
#   1. build/release-pgo-generate: the training programs, instrumented
#   2. training: the machine's hot paths (hw_core_bench's hit, L1-miss and GUPS
#      streams, hw_fault_bench's 4 KiB and THP fault streams in both clear
#      residue modes, four `numasim run` configurations), writing .gcda
#      profiles into build/pgo-profile (emptied first, so profiles of older
#      sources never mix in)
#   3. build/release-pgo: the requested targets optimised from those profiles
#      (without ccache: see cmake/Pgo.cmake; a new training changes every
#      compile line, so `cmake --build --preset release-pgo` by hand after it
#      recompiles everything too)
# Results are byte-identical to the release build's (PGO changes code layout,
# inlining and branch order, not floating-point semantics); the gain and how it
# was measured are in the README (Measured figures, "An optional profile-guided build"). Rerunning it is cheap when
# nothing changed: step 1 recompiles only what changed, step 2 is skipped while
# the profiles are newer than the instrumented programs, and step 3 recompiles
# everything only after a new training.
# Simplifications: GCC only; the training set is fixed here; code the training
# never ran (most tests, parts of the os_* benchmarks) keeps the release
# build's optimisation (-fprofile-partial-training).
#
# Usage: [NUMASIM_PGO_JOBS=N] tools/pgo-build.sh [TARGET...]
#   NUMASIM_PGO_JOBS  parallel compile jobs (default 2)
#   TARGET     what step 3 builds (default: numasim and the benchmark programs);
#              `all` builds everything, the test suite included
# Output: progress on stderr; at the end, where the optimised binaries are.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${NUMASIM_PGO_JOBS:-2}"
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "tools/pgo-build.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
targets=("$@")
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "tools/pgo-build.sh: NUMASIM_PGO_JOBS='$jobs' is not a positive number" >&2
  exit 2
fi
benches=(config_bench os_slub_bench os_page_alloc_bench os_fault_bench os_reclaim_bench os_swap_bench
         os_compaction_bench os_migrate_bench os_filemap_bench hw_core_bench hw_memory_bench
         workloads_bench hw_fault_bench)
if [ ${#targets[@]} -eq 0 ]; then
  targets=(numasim "${benches[@]}")
fi
gen="$src/build/release-pgo-generate"
use="$src/build/release-pgo"
profiles="$src/build/pgo-profile"
cd "$src"

step() { echo "tools/pgo-build.sh: $*" >&2; }
fail() { echo "tools/pgo-build.sh: $*" >&2; exit 1; }

step "1/3 instrumented build in $gen"
cmake --preset release-pgo-generate >/dev/null || fail "configuring the preset release-pgo-generate failed"
cmake --build "$gen" -j"$jobs" --target numasim hw_core_bench hw_fault_bench >&2 \
  || fail "the instrumented build failed (see above)"

stamp="$profiles/.trained"
trained_bins=("$gen/tools/numasim" "$gen/bench/hw_core_bench" "$gen/bench/hw_fault_bench")
fresh=1
for b in "${trained_bins[@]}"; do
  [ -f "$stamp" ] && [ "$stamp" -nt "$b" ] || fresh=0
done
if [ "$fresh" = 1 ]; then
  step "2/3 training skipped: the profiles in $profiles are newer than the instrumented programs"
else
  step "2/3 training (profiles in $profiles)"
  rm -rf "$profiles"
  mkdir -p "$profiles"
  train() {
    step "  $*"
    "$@" >/dev/null || fail "training run failed: $*"
  }
  # The benchmark programs run from their build directory, as tools/bench.sh runs them.
  (
    cd "$gen/bench"
    train ./hw_core_bench --benchmark_filter='L1TlbHit|L1Miss|Gups'
    train ./hw_fault_bench --benchmark_filter='BM_FaultEveryAccess/|DeferredResidue|Thp'
  )
  for cfg in configs/default.toml configs/workloads/gups.toml configs/workloads/memory_hog_swap.toml \
             configs/workloads/stream.toml; do
    train "$gen/tools/numasim" run "$cfg" --quiet
  done
  n=$(find "$profiles" -name '*.gcda' | wc -l)
  [ "$n" -gt 0 ] || fail "the training wrote no .gcda profile into $profiles"
  # The id of this training: cmake/Pgo.cmake hashes this line with the profiles
  # into every compile line of the optimised build.
  echo "trained $(date -u +%Y-%m-%dT%H:%M:%SZ) at $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')" >"$stamp"
  step "  $n profiles"
fi

step "3/3 optimised build in $use: ${targets[*]}"
cmake --preset release-pgo >/dev/null || fail "configuring the preset release-pgo failed"
# After a new training the build system recompiles everything by itself: the
# training's id is on every compile line (cmake/Pgo.cmake).
cmake --build "$use" -j"$jobs" --target "${targets[@]}" >&2 \
  || fail "the optimised build failed (see above)"

echo "PGO build done: $use/tools/numasim and $use/bench/ (benchmark programs);"
echo "compare with the release build: NUMASIM_BUILD_DIR=build/release-pgo tools/bench.sh"
