"""Ray's overhead in ``nacre sweep``: the same trials through ``nacre sweep`` (2 at a time) and ``nacre train``
(one after another), wall-clock of each, and the share of the sweep's wall-clock not spent training.

    OMP_NUM_THREADS=1 python benchmarks/sweep_overhead.py --iterations 5 --out /tmp/sweep-bench

Needs the ray extra (run it with the interpreter that has it). Each trial is PEARL on the sparse point robot
(``fast`` preset, ``--iterations`` iterations, then the final evaluation ``nacre train`` makes), seeds 0..N-1.

Reported:

* ``sequential``: wall-clock of the N ``nacre train`` processes run one after another;
* ``sweep``: wall-clock of the ``nacre sweep`` process (Ray start, N trials at ``--concurrent`` at a time, Ray
  shutdown);
* ``in-trial``: each trial's own time inside its Ray worker (config to final evaluation, from Tune's records);
* Ray overhead = sweep - (sum of in-trial times) / concurrent, as a fraction of the sweep's wall-clock: what the
  sweep spends starting Ray and workers, scheduling, reporting and shutting down, plus any imbalance between
  the lanes (so it is an upper bound);
* speed-up = sequential / sweep (at most ``concurrent`` on idle cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _nacre(*args: str) -> list[str]:
    return [sys.executable, "-m", "nacre.cli", *args]


def _run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return time.monotonic() - start


def _trial_seconds(root: Path) -> dict[str, float]:
    out = {}
    for result in root.glob(".tune/*/*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        last = [r for r in rows if "trial_seconds" in r]
        if last:
            out[result.parent.name] = float(last[-1]["trial_seconds"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=5, help="PEARL iterations per trial (default: 5)")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--distribution", default="sparse-point-robot")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--out", type=Path, default=Path("/tmp/nacre-sweep-bench"))
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        sys.exit('needs Ray: pip install -e ".[ray]"')
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    seeds = list(range(args.trials))
    spec = args.out / "bench.toml"
    spec.write_text(
        f'name = "bench"\n[[entries]]\nalgorithm = "pearl"\ndistribution = "{args.distribution}"\n'
        f'preset = "{args.preset}"\nseeds = {seeds}\nconfig = {{ num_iterations = {args.iterations} }}\n'
    )

    sequential = []
    for seed in seeds:
        sequential.append(_run(_nacre("train", "pearl", args.distribution, "--preset", args.preset, "--seed",
                                      str(seed), "--num-iterations", str(args.iterations), "--run-dir",
                                      str(args.out / "train" / f"s{seed}"), "--no-progress"), env))  # fmt: skip
        print(f"nacre train seed {seed}: {sequential[-1]:.1f} s", flush=True)
    sweep = _run(_nacre("sweep", str(spec), "--root", str(args.out / "sweep"), "--max-concurrent",
                        str(args.concurrent), "--cpus-per-trial", "1"), env)  # fmt: skip
    inside = _trial_seconds(args.out / "sweep")
    if len(inside) != args.trials:
        sys.exit(f"found the in-trial times of {len(inside)} of {args.trials} trials under {args.out / 'sweep'}")
    busy = sum(inside.values()) / args.concurrent
    overhead = sweep - busy
    seq = sum(sequential)
    print(
        f"trials: {args.trials} x PEARL {args.distribution} ({args.preset}, {args.iterations} iterations), "
        f"ray {ray.__version__}, {os.cpu_count()} CPUs"
    )
    print(f"sequential nacre train: {seq:.1f} s (per trial {', '.join(f'{s:.1f}' for s in sequential)})")
    print(
        f"nacre sweep, {args.concurrent} concurrent: {sweep:.1f} s; in-trial times "
        f"{', '.join(f'{s:.1f}' for s in sorted(inside.values()))} s (sum / {args.concurrent} = {busy:.1f} s)"
    )
    print(
        f"Ray overhead: {overhead:.1f} s = {overhead / sweep:.1%} of the sweep's wall-clock; "
        f"speed-up over sequential: {seq / sweep:.2f}x"
    )


if __name__ == "__main__":
    main()
