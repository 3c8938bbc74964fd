"""How much recomputing MuJoCo's derived constants after a walker-params task switch changes returns.

Usage: ``python benchmarks/walker_setconst.py [--tasks 20] [--seed 0]``

The reference wrote the randomised arrays into the model without ``mj_setConst``; nacre calls it. For ``--tasks``
walker-params tasks, the same 200 uniform random actions are replayed from the same reset with and without the
call, and the absolute difference of the episode returns is printed (median and max).
"""

from __future__ import annotations

import argparse

import numpy as np

import nacre.envs.mujoco.rand_params as rand_params
from nacre.envs import make_distribution


def episode_return(dist, task, actions: np.ndarray, set_const: bool) -> float:
    original = rand_params.mujoco.mj_setConst
    if not set_const:
        rand_params.mujoco.mj_setConst = lambda model, data: None
    try:
        env = dist.make_env(task)  # the constructor applies the task
    finally:
        rand_params.mujoco.mj_setConst = original
    env.reset(seed=0)
    total = 0.0
    for a in actions:
        _, r, terminated, truncated, _ = env.step(a)
        total += float(r)
        if terminated or truncated:
            break
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    dist = make_distribution("walker-params")
    rng = np.random.default_rng(args.seed)
    diffs = []
    for task in dist.sample_tasks(rng, args.tasks):
        actions = rng.uniform(-1, 1, (dist.episode_length, 6))
        diffs.append(abs(episode_return(dist, task, actions, True) - episode_return(dist, task, actions, False)))
    print(f"|return with mj_setConst - without| over {args.tasks} tasks: median {np.median(diffs):.3f}, "
          f"max {np.max(diffs):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
