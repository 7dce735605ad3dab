#!/usr/bin/env bash
# A sweep through a real Slurm cluster of one node on localhost: starts munged
# (as the munge user, with its own key and socket), slurmctld and slurmd (-D,
# with a slurm.conf in a temporary directory and ports nobody else uses), waits
# for the node to be idle, runs a 20-point sweep with --slurm and checks that its
# CSV is byte-identical to the local sweep of the same grid, that a rerun
# submits nothing (every result exists), that a failing point is reported with
# its stderr without hiding the other, and that a task Slurm cancels is reported
# with its state. Stops every daemon it started, by its pid, also on failure. Exit 77 (ctest SKIP) where Slurm or munge is not
# installed or the test does not run as root (slurmd and munged need it).
#   slurm_sweep_test.sh NUMASIM SOURCE_DIR
set -uo pipefail
numasim=$1
src=$2

skip() { echo "SKIP: $*"; exit 77; }
for c in munged slurmctld slurmd sbatch squeue sinfo scontrol setpriv python3; do
  command -v "$c" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null 2>&1 ||
    skip "'$c' is not installed (tools/install-deps.sh brings munge, slurmctld, slurmd and slurm-client)"
done
export PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" -eq 0 ] || skip "needs root to start munged as the munge user and slurmd"
id munge >/dev/null 2>&1 || skip "no munge user (is the munge package installed?)"

tmp=$(mktemp -d /tmp/numasim-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
failed=0
cleanup() {
  local pid
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
    pid=${pids[k]}
    kill "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$failed" -ne 0 ]; then
    for log in slurmctld.log slurmd.log munged.out slurm.err bad.err lost.err; do
      [ -f "$tmp/$log" ] && { echo "---- $log (last lines)"; tail -n 25 "$tmp/$log"; }
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; failed=1; exit 1; }

# munged: its own key, socket, pid, log and seed files in the temporary directory.
mkdir -p "$tmp/munge"
chown munge:munge "$tmp/munge"
chmod 700 "$tmp/munge"
if command -v mungekey >/dev/null 2>&1; then
  setpriv --reuid=munge --regid=munge --clear-groups mungekey --create --keyfile="$tmp/munge/munge.key" ||
    fail "mungekey could not create a key"
else
  dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1 count=128 status=none && chown munge:munge "$tmp/munge/munge.key"
  chmod 400 "$tmp/munge/munge.key"
fi
chmod 711 "$tmp/munge"  # clients (slurm, running as root here) reach the socket
setpriv --reuid=munge --regid=munge --clear-groups munged --foreground --socket="$tmp/munge/munge.socket" \
  --key-file="$tmp/munge/munge.key" --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
  --seed-file="$tmp/munge/munged.seed" >"$tmp/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$tmp/munge/munge.socket" ] || fail "munged did not create its socket"

# Two free TCP ports for slurmctld and slurmd (not the defaults 6817/6818).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# The node as slurmd sees it (CPUs, sockets, cores, threads, memory).
node=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]*//')
mkdir -p "$tmp/state" "$tmp/spool"
cat >"$tmp/slurm.conf" <<CONF
ClusterName=numasimtest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
# start array tasks as soon as CPUs free up (by default batch jobs wait up to 3 s)
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -D -i >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost >"$tmp/slurmd.out" 2>&1 &
pids+=($!)

start=$SECONDS
state=
while [ $((SECONDS - start)) -lt 60 ]; do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null)
  [ "$state" = idle ] && break
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a daemon (pid $pid) exited: $(cat "$tmp"/*.out)"; done
  sleep 0.5
done
[ "$state" = idle ] || fail "the node is not idle after 60 s (state '$state')"
echo "node idle after $((SECONDS - start)) s"

# 20 points of a tiny GUPS (1 MiB table, a few thousand updates): each run takes ~50 ms.
cd "$tmp"
cat >sweep.toml <<TOML
configs = ["$src/configs/workloads/gups.toml"]
args = ["--set", "workload[0].table_size=\"1MiB\""]
[grid]
"workload[0].policy" = ["local", "interleave:0-1"]
"workload[0].threads" = [1, 2]
"workload[0].updates" = [1000, 1500, 2000, 2500, 3000]
[collect]
sim_seconds = "sim.simulated_seconds"
references = "sim.references"
numa_hit = "vmstat.numa_hit"
numa_interleave = "vmstat.numa_interleave"
TOML
# Each sweep is bounded well below ctest's timeout, so the trap always stops the daemons.
timeout 60 "$numasim" sweep sweep.toml -j 2 --work-dir local --out local.csv 2>local.err || fail "local sweep: $(cat local.err)"
start=$SECONDS
timeout 90 "$numasim" sweep sweep.toml --slurm --array-limit 4 --time 5 --work-dir slurm --out slurm.csv 2>slurm.err ||
  fail "Slurm sweep: $(cat slurm.err)"
echo "20-point Slurm sweep took $((SECONDS - start)) s"
grep -q "submitted job array" slurm.err || fail "no job array submitted: $(cat slurm.err)"
[ "$(wc -l <slurm.csv)" -eq 21 ] || fail "expected 21 CSV lines: $(cat slurm.csv)"
[ "$(grep -c ',ok,' slurm.csv)" -eq 20 ] || fail "not every point ok: $(cat slurm.csv)"
cmp local.csv slurm.csv || { diff local.csv slurm.csv; fail "the Slurm CSV differs from the local one"; }
grep -q '^#SBATCH --array=0-19%4$' slurm/sweep.sbatch || fail "no --array=0-19%4 line in the script"

# A rerun finds every result and submits nothing.
timeout 30 "$numasim" sweep sweep.toml --slurm --work-dir slurm --out again.csv 2>again.err || fail "rerun: $(cat again.err)"
grep -q "20 of 20 points have results" again.err || fail "rerun did not reuse the results: $(cat again.err)"
grep -q "submitted" again.err && fail "rerun submitted a job: $(cat again.err)"
cmp local.csv again.csv || fail "the rerun's CSV differs"

# A failing point (an unknown policy) is reported with its stderr; the other point still runs.
cat >bad.toml <<TOML
configs = ["$src/configs/workloads/gups.toml"]
args = ["--set", "workload[0].table_size=\"1MiB\"", "--set", "workload[0].updates=1000"]
[grid]
"workload[0].policy" = ["local", "nonsense"]
[collect]
sim_seconds = "sim.simulated_seconds"
TOML
timeout 60 "$numasim" sweep bad.toml --slurm --work-dir bad --out bad.csv 2>bad.err
status=$?
[ "$status" -eq 1 ] || fail "a failed point must make the sweep exit 1, got $status: $(cat bad.err)"
sed -n 2p bad.csv | grep -q ',local,ok,0\.' || fail "the good point is missing: $(cat bad.csv)"
sed -n 3p bad.csv | grep -q ',nonsense,failed: exit code 2; log .*/bad/run_1.log: 1 configuration error,$' ||
  fail "the failing point is not reported with its error: $(cat bad.csv)"
grep -q "run 1 failed" bad.err && grep -q "stderr (last lines of" bad.err && grep -q "policy" bad.err ||
  fail "the failure report lacks the run's stderr: $(cat bad.err)"
# A task Slurm ends before it reports (cancelled while running: a long point) is
# reported with its Slurm state; the short point beside it is collected.
cat >lost.toml <<TOML
configs = ["$src/configs/workloads/gups.toml"]
args = ["--set", "workload[0].table_size=\"1MiB\""]
[grid]
"workload[0].updates" = [1000, 100000000]
[collect]
sim_seconds = "sim.simulated_seconds"
TOML
timeout 60 "$numasim" sweep lost.toml --slurm --work-dir lost --out lost.csv 2>lost.err &
sweep=$!
job=
for _ in $(seq 200); do
  job=$(cat lost/slurm.job 2>/dev/null)
  [ -n "$job" ] && squeue -h --jobs="$job" -o "%K %T" | grep -q "^1 RUNNING" && break
  sleep 0.1
done
[ -n "$job" ] || fail "the lost-task sweep submitted nothing: $(cat lost.err)"
scancel "${job}_1" || fail "scancel ${job}_1"
wait "$sweep"
status=$?
[ "$status" -eq 1 ] || fail "a lost task must make the sweep exit 1, got $status: $(cat lost.err)"
sed -n 2p lost.csv | grep -q ',1000,ok,0\.' || fail "the short point is missing: $(cat lost.csv)"
sed -n 3p lost.csv | grep -q ",100000000,failed: no result from Slurm array task ${job}_1 (CANCELLED); output .*/lost/slurm-${job}_1.out" ||
  fail "the cancelled task is not reported with its state: $(cat lost.csv)"
echo "PASS: Slurm and local CSVs identical (20 points), rerun resumed, failing point and lost task reported"
exit 0
