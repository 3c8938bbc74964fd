#!/usr/bin/env bash
# PEARL on Meta-World ML1 reach and push at CPU scale (the `fast` preset), 3 seeds each, then the adaptation
# evaluation of every run and one report across seeds (success rates with IQM and bootstrap intervals).
#
#   JOBS=2 bash benchmarks/metaworld_pearl_ml1.sh [ROOT]    # ROOT defaults to runs/metaworld-ml1
#
# JOBS (default 2) runs that many runs side by side, each with one torch thread (one per core). Needs the
# metaworld extra (docs/metaworld.md). Rerunning the same command continues unfinished runs (nacre train --resume)
# and skips finished ones; each run's output goes to ROOT/ml1-ENV-sS.log. Cost: see docs/metaworld.md
# ("Reproducing").
set -euo pipefail
root="${1:-runs/metaworld-ml1}"
jobs="${JOBS:-2}"
mkdir -p "$root"

one_run() {  # ENV SEED: train (or resume) to the end, then evaluate once
  local run="$root/ml1-$1-s$2"
  if [ -f "$run/eval/DONE" ]; then return 0; fi
  if [ -f "$run/config.json" ]; then
    OMP_NUM_THREADS=1 nacre train --resume "$run" --no-progress
  else
    OMP_NUM_THREADS=1 nacre train pearl "ml1-$1-v3" --preset fast --seed "$2" --run-dir "$run" --no-progress
  fi
  OMP_NUM_THREADS=1 nacre eval "$run" --runs 5 --trajectories 3 --no-progress
  touch "$run/eval/DONE"
}

pids=()
for env in reach push; do
  for seed in 0 1 2; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    one_run "$env" "$seed" > "$root/ml1-$env-s$seed.log" 2>&1 &
    pids+=("$!")
  done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "some runs failed: see $root/ml1-*.log" >&2
  exit 1
fi
nacre report "$root"/ml1-reach-s* "$root"/ml1-push-s* --metric success --out "$root/report"
