"""Single-environment steps/s: raw Gymnasium v5 MuJoCo envs vs the nacre task envs built on them.

Usage: ``python benchmarks/env_throughput.py [--steps 10000] [--repeats 3] [--families cheetah-vel ...]``

Every environment gets the same pre-drawn uniform actions in its action space and is reset when an
episode ends (fall, or the time limit: 200 steps for nacre, 1000 for ``gym.make``); reset time counts.
Columns, best of ``--repeats`` interleaved runs:

* ``gym.make``: the Gymnasium v5 env with its default wrappers (TimeLimit, OrderEnforcing, PassiveEnvChecker);
* ``unwrapped``: the same env without wrappers;
* ``nacre``: the task env from ``TaskDistribution.make_env`` for a sampled task (no wrappers);
* ``nacre/unwr``: ratio of the last two.

For walker-params / hopper-params a sampled task changes the dynamics (and how often the robot falls,
hence how many resets happen), so an extra row ``(base model)`` runs the nacre env with the empty task
``{}`` (unmodified model) to isolate the wrapper-free overhead of the nacre env itself.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from nacre.envs import make_distribution
from nacre.envs.mujoco._common import quiet_settotalmass_warning

FAMILIES = {
    "cheetah-vel": "HalfCheetah-v5",
    "cheetah-dir": "HalfCheetah-v5",
    "ant-dir": "Ant-v5",
    "ant-goal": "Ant-v5",
    "humanoid-dir": "Humanoid-v5",
    "walker-params": "Walker2d-v5",
    "hopper-params": "Hopper-v5",
}


def steps_per_second(env: gym.Env, actions: np.ndarray, seed: int = 0) -> float:
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def bench_row(label: str, gym_id: str, nacre_env: gym.Env, steps: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    low, high = nacre_env.action_space.low, nacre_env.action_space.high
    actions = rng.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)
    with quiet_settotalmass_warning():  # Gymnasium's half_cheetah.xml triggers a MuJoCo deprecation note
        envs = [gym.make(gym_id), gym.make(gym_id).unwrapped, nacre_env]
    for env in envs:
        steps_per_second(env, actions[: max(steps // 10, 1)])  # warm-up
    best = [0.0, 0.0, 0.0]
    for _ in range(repeats):
        for i, env in enumerate(envs):
            best[i] = max(best[i], steps_per_second(env, actions))
    for env in envs:
        env.close()
    columns = "".join(f"{value:>11,.0f}" for value in best)
    print(f"{label:<28}{gym_id:<16}{columns}{best[2] / best[1]:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    args = parser.parse_args()

    header = f"{'family':<28}{'gym id':<16}{'gym.make':>11}{'unwrapped':>11}{'nacre':>11}{'nacre/unwr':>12}"
    print(header)
    print("-" * len(header))
    for family in args.families:
        gym_id = FAMILIES[family]
        dist = make_distribution(family)
        task = dist.sample_tasks(np.random.default_rng(0), 1)[0]
        bench_row(family, gym_id, dist.make_env(task), args.steps, args.repeats)
        if family.endswith("-params"):
            bench_row(f"{family} (base model)", gym_id, dist.make_env({}), args.steps, args.repeats)


if __name__ == "__main__":
    main()
