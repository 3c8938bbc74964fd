"""Markdown table of PEARL runs for BENCHMARKS.md: progress, wall-clock and the adaptation curve.

Usage: ``python benchmarks/summarize_runs.py RUN_DIR [RUN_DIR ...] [--trajectories 1 2 6 20]``

For each run: the newest evaluation saved in ``RUN_DIR/eval`` (by ``nacre eval`` or at the end of
training) gives the mean return and success rate at the chosen trajectories; ``progress.jsonl`` gives
iterations, env steps, gradient steps and training wall-clock.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from nacre.evaluation.metrics import bootstrap_ci
from nacre.evaluation.plots import latest_eval
from nacre.logging import read_jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+")
    parser.add_argument("--trajectories", type=int, nargs="+", default=[1, 2, 6, 20])
    args = parser.parse_args()
    ks = args.trajectories
    head = ["run", "IB", "seed", "iteration", "env steps", "grad steps", "wall-clock (s)"]
    head += [f"return k={k}" for k in ks] + [f"success k={k}" for k in ks]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for rd in args.run_dirs:
        cfg = json.loads((rd / "config.json").read_text())["config"]
        rows = read_jsonl(rd / "progress.jsonl")
        data = latest_eval(rd)
        at = int(data["iteration"]) if data is not None else rows[-1]["iteration"]
        last = next(r for r in rows if r["iteration"] == at)  # the row of the evaluated checkpoint
        cells = [
            rd.name,
            str(cfg["use_information_bottleneck"]),
            str(cfg["seed"]),
            str(last["iteration"]),
            f"{last['time/env_steps']:,}",
            f"{last['time/grad_steps']:,}",
            f"{last['time/wall_clock']:.0f}",
        ]
        if data is None:
            cells += ["-"] * (2 * len(ks))
        else:
            returns, success = data["returns"].mean(axis=(0, 1)), data["success"].mean(axis=(0, 1))
            cells += [f"{returns[k - 1]:.3f}" if k <= len(returns) else "-" for k in ks]
            cells += [f"{success[k - 1]:.0%}" if k <= len(success) else "-" for k in ks]
        print("| " + " | ".join(cells) + " |")
    aggregate(args.run_dirs, ks)


def aggregate(run_dirs: list[Path], ks: list[int]) -> None:
    """IQM over (seed x run, task) scores with a 95% stratified bootstrap CI, per information-bottleneck setting."""
    groups: dict[bool, list[np.ndarray]] = {}
    for rd in run_dirs:
        data = latest_eval(rd)
        if data is not None:
            ib = json.loads((rd / "config.json").read_text())["config"]["use_information_bottleneck"]
            groups.setdefault(ib, []).append(data["returns"])
    if not any(len(v) > 1 for v in groups.values()):
        return
    print()
    print("| IB | seeds | " + " | ".join(f"IQM return k={k} [95% CI]" for k in ks) + " |")
    print("|" + "---|" * (2 + len(ks)))
    for ib, arrays in groups.items():
        n = min(a.shape[2] for a in arrays)
        scores = np.concatenate([a[:, :, :n] for a in arrays], axis=0)  # [seeds*runs, tasks, traj]
        cells = []
        for k in ks:
            if k <= n:
                est, lo, hi = bootstrap_ci(scores[:, :, k - 1])
                cells.append(f"{est:.3f} [{lo:.3f}, {hi:.3f}]")
            else:
                cells.append("-")
        print(f"| {ib} | {len(arrays)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
