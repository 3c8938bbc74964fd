"""How often ant-goal episodes end early when the unhealthy-termination rule is on (the reference has none).

Usage: ``python benchmarks/ant_goal_termination.py [--episodes 30] [--seed 0]``

Random actions (uniform in [-1, 1]) on ``--episodes`` goals drawn with ``--seed``, env seeds 0, 1, ...: prints how
many episodes terminate before the 200-step limit and the median termination step, with the rule on (the
distribution's default) and off (``terminate_when_unhealthy=False``, the PEARL presets' setting).
"""

from __future__ import annotations

import argparse

import numpy as np

from nacre.envs import make_distribution


def early_ends(terminate: bool, episodes: int, seed: int) -> list[int]:
    dist = make_distribution("ant-goal", terminate_when_unhealthy=terminate)
    rng = np.random.default_rng(seed)
    ends = []
    for i, task in enumerate(dist.sample_tasks(rng, episodes)):
        env = dist.make_env(task)
        env.reset(seed=i)
        for step in range(1, dist.episode_length + 1):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            if terminated:
                ends.append(step)
            if terminated or truncated:
                break
        env.close()
    return ends


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for terminate in (True, False):
        ends = early_ends(terminate, args.episodes, args.seed)
        median = f", median step {np.median(ends):.0f}" if ends else ""
        print(f"terminate_when_unhealthy={terminate}: {len(ends)} of {args.episodes} random-action episodes "
              f"ended before step 200{median}")  # fmt: skip


if __name__ == "__main__":
    main()
