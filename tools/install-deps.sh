#!/usr/bin/env bash
# Installs the Debian packages numasim needs to build, test and plot, and only
# those that are missing (idempotent: a second run calls no apt-get at all).
# With --fuzz, also clang 14 and its runtimes for the fuzz preset.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libsystemc-dev            # SystemC 2.3.4 + TLM-2.0 (hardware models)
  libboost-graph-dev        # topology graph and shortest paths
  libtomlplusplus-dev       # configuration files
  libgtest-dev libgmock-dev # unit and system tests
  libbenchmark-dev          # benchmark programs
  python3 python3-matplotlib  # tools/numasim_plot.py
)

# Slurm for `numasim sweep --slurm` and its ctest (slurm_sweep), which starts a
# one-node cluster on localhost: the controller, the node daemon, the client
# commands (sbatch, squeue, sinfo, scontrol) and munge for authentication.
# Daemons the packages may start themselves do not matter: the test starts its
# own with a private configuration, munge key, socket and ports.
packages+=(
  slurmctld slurmd slurm-client
  munge
)

# Optional, only for the `fuzz` preset (libFuzzer) and the sanitizer runs:
# tools/install-deps.sh --fuzz
fuzz_packages=(
  clang-14                  # libFuzzer targets in fuzz/ (-fsanitize=fuzzer,address,undefined)
  libclang-rt-14-dev        # clang's sanitizer and libFuzzer runtimes
)
if [ "${1:-}" = "--fuzz" ]; then packages+=("${fuzz_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
