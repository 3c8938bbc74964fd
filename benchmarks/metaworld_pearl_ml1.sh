#!/usr/bin/env bash
# PEARL on Meta-World ML1 reach and push at CPU scale (the `fast` preset), 3 seeds each, then the adaptation
# evaluation of every run and one report across seeds (success rates with IQM and bootstrap intervals).
#
#   bash benchmarks/metaworld_pearl_ml1.sh [ROOT]        # ROOT defaults to runs/metaworld-ml1
#
# Needs the metaworld extra (docs/metaworld.md). Rerunning the same command continues unfinished runs
# (nacre train --resume) and skips finished ones. Cost: see docs/metaworld.md ("Reproducing").
set -euo pipefail
root="${1:-runs/metaworld-ml1}"
mkdir -p "$root"
for env in reach push; do
  for seed in 0 1 2; do
    run="$root/ml1-$env-s$seed"
    if [ -f "$run/eval/DONE" ]; then continue; fi
    if [ -f "$run/config.json" ]; then
      nacre train --resume "$run" --no-progress
    else
      nacre train pearl "ml1-$env-v3" --preset fast --seed "$seed" --run-dir "$run" --no-progress
    fi
    nacre eval "$run" --runs 5 --trajectories 3 --no-progress
    touch "$run/eval/DONE"
  done
done
nacre report "$root"/ml1-reach-s* "$root"/ml1-push-s* --metric success --out "$root/report"
