#!/usr/bin/env bash
# PEARL on Meta-World distributions at CPU scale (the `fast` preset): train every (distribution, seed), evaluate each
# run's adaptation once, then reports across seeds with IQM and bootstrap intervals: success rates in ROOT/report,
# returns in ROOT/report-return.
#
#   IDS="ml10-v3" SEEDS="0 1" JOBS=2 bash benchmarks/metaworld_pearl.sh ROOT [nacre train flags...]
#
# IDS (default "ml1-reach-v3 ml1-push-v3") and SEEDS (default "0 1 2") span the grid; run directories are
# ROOT/NAME-sSEED with NAME the id without its "-v3" (ROOT/ml1-reach-s0, ROOT/ml10-s1, ...). Further arguments go to
# every `nacre train`, new or resumed (e.g. --num-iterations 50; on resume only the settings `nacre train --help`
# marks changeable are accepted). JOBS (default 2) runs that many runs side by side, each
# with one torch thread (one per core). Needs the metaworld extra (docs/metaworld.md). Rerunning the same command
# continues unfinished runs (nacre train --resume) and skips finished ones; each run's output goes to
# ROOT/NAME-sSEED.log. Cost: see docs/metaworld.md ("Reproducing").
set -euo pipefail
root="${1:?usage: bash benchmarks/metaworld_pearl.sh ROOT [nacre train flags...]}"
shift
ids="${IDS:-ml1-reach-v3 ml1-push-v3}"
seeds="${SEEDS:-0 1 2}"
jobs="${JOBS:-2}"
mkdir -p "$root"

one_run() {  # ID NAME SEED [train flags]: train (or resume) to the end, then evaluate once
  local id="$1" seed="$3" run="$root/$2-s$3"
  shift 3
  if [ -f "$run/eval/DONE" ]; then return 0; fi
  if [ -f "$run/config.json" ]; then
    OMP_NUM_THREADS=1 nacre train --resume "$run" --no-progress "$@"
  else
    OMP_NUM_THREADS=1 nacre train pearl "$id" --preset fast --seed "$seed" --run-dir "$run" --no-progress "$@"
  fi
  OMP_NUM_THREADS=1 nacre eval "$run" --runs 5 --trajectories 3 --no-progress
  touch "$run/eval/DONE"
}

pids=()
runs=()
for id in $ids; do
  name="${id%-v3}"
  for seed in $seeds; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    one_run "$id" "$name" "$seed" "$@" > "$root/$name-s$seed.log" 2>&1 &
    pids+=("$!")
    runs+=("$root/$name-s$seed")
  done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "some runs failed: see $root/*.log" >&2
  exit 1
fi
nacre report "${runs[@]}" --metric success --out "$root/report"
# the same runs scored by return: adaptation shows there (trajectory 3 against 1) before successes do
nacre report "${runs[@]}" --metric return --out "$root/report-return"
