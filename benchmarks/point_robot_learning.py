"""Adaptation gain on the dense point robot during meta-training (the learning test's measurement).

Usage: ``python benchmarks/point_robot_learning.py --seed 0 --iterations 40 --every 10 [--preset fast]``

Every ``--every`` iterations, evaluates the 10 held-out goals x 5 runs (seeded evaluation stream) and
prints the mean return of trajectory 1 (z from the prior), of trajectories 2-4 (z from the posterior)
and their paired difference with its standard error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nacre.algos.pearl import PearlTrainer, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cfg = preset(args.preset, "point-robot", num_iterations=args.iterations, seed=args.seed)
    trainer = PearlTrainer(cfg)
    start = time.perf_counter()
    print("| seed | iterations | grad steps | seconds | prior return | adapted return | improvement +- s.e. |")
    print("|---|---|---|---|---|---|---|")
    for i in range(1, args.iterations + 1):
        trainer.train_iteration()
        if i % args.every == 0:
            r = trainer.evaluate(num_runs=args.runs, num_trajectories=4, rng=np.random.default_rng(123))
            prior, adapted = r.returns[:, :, 0], r.returns[:, :, 1:].mean(-1)
            diff = (adapted - prior).ravel()
            sem = diff.std(ddof=1) / np.sqrt(diff.size)
            seconds = time.perf_counter() - start
            print(f"| {args.seed} | {i} | {trainer.grad_steps} | {seconds:.0f} | {prior.mean():.2f} "
                  f"| {adapted.mean():.2f} | {diff.mean():.2f} +- {sem:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
