#!/usr/bin/env bash
# Installs the Debian packages numasim needs to build, test and plot, and only
# those that are missing (idempotent: a second run calls no apt-get at all).
# With --fuzz, also clang 14 and its runtimes for the fuzz preset.
# With --sanitizers, also a libsystemc for the asan-ubsan preset only, built from
# Debian's systemc source package with cmake/systemc/sc_cor_qt-asan-fibers.patch
# (AddressSanitizer fiber annotations of its coroutine switches) and installed
# under build/deps/systemc-asan (rebuilt only when the patch changes).
set -euo pipefail

want_fuzz=0
want_sanitizers=0
for arg in "$@"; do
  case "$arg" in
    --fuzz) want_fuzz=1 ;;
    --sanitizers) want_sanitizers=1 ;;
    *) echo "install-deps: unknown option '$arg' (expected --fuzz or --sanitizers)" >&2; exit 2 ;;
  esac
done

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
if [ "$want_fuzz" = 1 ]; then packages+=("${fuzz_packages[@]}"); fi
# Building libsystemc from its source package (build/deps/systemc-asan).
# Debian regenerates its autotools files (dh_autoreconf), so they are needed too.
if [ "$want_sanitizers" = 1 ]; then packages+=(dpkg-dev patch autoconf automake libtool); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_sanitizers" = 1 ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  patch_file="$root/cmake/systemc/sc_cor_qt-asan-fibers.patch"
  prefix="$root/build/deps/systemc-asan"
  version="$(dpkg-query -W -f='${Version}' libsystemc-dev)"
  stamp="$version $(sha256sum "$patch_file" | cut -d' ' -f1)"
  if [ -f "$prefix/.numasim-stamp" ] && [ "$(cat "$prefix/.numasim-stamp")" = "$stamp" ]; then
    echo "install-deps: sanitizer libsystemc $version present in $prefix"
    exit 0
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # The source package comes from the archive the system's binary packages come
  # from, through a private source list (the system's apt configuration is left
  # as it is).
  . /etc/os-release
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  if [ -z "$uri" ]; then uri="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"; fi
  if [ -z "$uri" ]; then echo "install-deps: no Debian archive found in the apt sources" >&2; exit 1; fi
  mkdir -p "$work/lists/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $VERSION_CODENAME main" >"$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" source -qq --download-only "systemc=$version" &&
     dpkg-source -x ./*.dsc src >/dev/null)
  (cd "$work/src" && patch -p1 <"$patch_file" && autoreconf -fi >/dev/null 2>&1)
  echo "install-deps: building sanitizer libsystemc $version into $prefix"
  # As Debian builds it (unix layout, C++17 so that SC_CPLUSPLUS matches).
  (cd "$work/src" && ./configure -q --with-unix-layout --prefix="$prefix" --disable-static \
       CXXFLAGS="-g -O2 -std=gnu++17" >/dev/null &&
     make -s -j"$(nproc)" >/dev/null && rm -rf "$prefix" && make -s install >/dev/null)
  echo "$stamp" >"$prefix/.numasim-stamp"
  echo "install-deps: sanitizer libsystemc installed in $prefix"
fi
