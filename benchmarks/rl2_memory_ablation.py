"""RL2's in-trial adaptation, measured: the trained policy with its memory against the same policy with its memory
wiped before every step (``rl2_meta_test(..., memory=False)``: each action then depends on the current observation,
previous action and reward only).

Usage::

    python benchmarks/rl2_memory_ablation.py [--distribution point-robot] [--iterations 40] [--every 20] [--seed 0]

Trains RL2-PPO (``fast`` preset, meta-batch 20, 2 trials per task, as the slow learning test does) and prints, before
training and every ``--every`` iterations, the mean return of episodes 1 and 2 of a trial on the held-out tasks
(4 runs each) with memory and with memory wiped, and the gain of memory per episode with its standard error over
(run, task) pairs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nacre.algos.rl2 import Rl2Trainer, preset
from nacre.algos.rl2.adapter import rl2_meta_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distribution", default="point-robot")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tr = Rl2Trainer(preset("fast", args.distribution, num_iterations=args.iterations, meta_batch=20,
                           trials_per_task=2, seed=args.seed))  # fmt: skip

    def returns(memory: bool) -> np.ndarray:
        return rl2_meta_test(tr.learner.policy, tr.split.test, tr.distribution.make_env, 4, tr.cfg.test_episodes,
                             tr.horizon, np.random.default_rng(0), sparse=tr.cfg.sparse_rewards,
                             action_scale=tr.cfg.action_scale, memory=memory).returns  # fmt: skip

    def show(label: str) -> None:
        kept, wiped = returns(True), returns(False)
        gain = (kept - wiped).mean(axis=-1).reshape(-1)
        print(
            f"{label:>14}  memory {np.round(kept.mean(axis=(0, 1)), 2)}  wiped {np.round(wiped.mean(axis=(0, 1)), 2)}"
            f"  gain {gain.mean():.2f} (SE {gain.std(ddof=1) / np.sqrt(len(gain)):.2f})",
            flush=True,
        )

    start = time.perf_counter()
    show("before")
    for i in range(1, args.iterations + 1):
        tr.train_iteration()
        if i % args.every == 0 or i == args.iterations:
            show(f"iter {i} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
