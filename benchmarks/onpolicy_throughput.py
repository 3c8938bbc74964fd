"""Cost of one iteration of the on-policy methods (MAML-TRPO, ProMP, RL2-PPO, MAESN): sampling throughput against
the raw environment, the optimisation time, and peak memory.

Usage: ``python benchmarks/onpolicy_throughput.py [--env cheetah-vel] [--preset fast] [--iterations 2]
[--methods maml-trpo promp rl2-ppo maesn]``

Prints, in one run on this machine:

* ``raw env``: single-environment steps/s of the family's environment with zero actions (resets included);
* per method and iteration: env steps sampled, sampling steps/s (``time/env_steps_per_second``: every rollout
  of a sampling phase stepped in lockstep, one batched policy call per step; MAML-TRPO / ProMP / MAESN step
  ``meta_batch x rollouts_per_task`` environments per phase, RL2 ``meta_batch x trials_per_task`` trials),
  sampling seconds, optimisation seconds (TRPO through the inner step; ProMP's Adam steps; RL2's PPO epochs), and
  the process's peak resident memory so far (it includes the previous methods').

The ratio sampling / raw says what the lockstep loop costs over bare stepping.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from nacre.algos.registry import preset
from nacre.envs import make_distribution
from nacre.training.loop import algorithm_classes

METHODS = ("maml-trpo", "promp", "rl2-ppo", "maesn")


def raw_steps_per_second(env_id: str, steps: int = 4000) -> float:
    dist = make_distribution(env_id)
    env = dist.make_env(dist.split(0, 2, 1).train[0])
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=env.action_space.dtype)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="cheetah-vel")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    print(f"raw env {args.env}: {raw_steps_per_second(args.env):,.0f} steps/s")
    for method in args.methods:
        _, trainer_cls = algorithm_classes(method)
        cfg = preset(method, args.preset, args.env)
        trainer = trainer_cls(cfg)
        shape = {k: getattr(cfg, k) for k in ("meta_batch", "rollouts_per_task", "inner_steps", "trials_per_task",
                                               "episodes_per_trial") if hasattr(cfg, k)}  # fmt: skip
        print(f"{method} {args.preset}: " + ", ".join(f"{k}={v}" for k, v in shape.items()))
        for it in range(args.iterations):
            before = trainer.env_steps
            m = trainer.train_iteration()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  iteration {it + 1}: {trainer.env_steps - before:,} env steps, sampling "
                  f"{m['time/env_steps_per_second']:,.0f} steps/s ({m['time/sampling_seconds']:.1f} s), optimisation "
                  f"{m['time/optimization_seconds']:.1f} s, peak memory {peak:,.0f} MB")  # fmt: skip
        trainer.close()


if __name__ == "__main__":
    main()
