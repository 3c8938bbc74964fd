"""Cost of one MAML-TRPO / ProMP iteration: sampling throughput against the raw environment, the outer step's
time, and peak memory.

Usage: ``python benchmarks/onpolicy_throughput.py [--env cheetah-vel] [--preset fast] [--iterations 2]``

Prints, in one run on this machine:

* ``raw env``: single-environment steps/s of the family's environment with zero actions (resets included);
* per method and iteration: env steps sampled, sampling steps/s (``time/env_steps_per_second``: all
  ``(inner_steps + 1) x meta_batch x rollouts_per_task`` rollouts stepped in lockstep, one policy call per step),
  sampling seconds, outer-step seconds (TRPO through the inner step; ProMP's Adam steps), and the process's peak
  resident memory so far (it includes the previous method's).

The ratio sampling / raw says what the lockstep loop costs over bare stepping.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import time

import numpy as np

from nacre.envs import make_distribution
from nacre.training.loop import algorithm_classes


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
    parser.add_argument("--methods", nargs="+", default=["maml-trpo", "promp"])
    args = parser.parse_args()
    print(f"raw env {args.env}: {raw_steps_per_second(args.env):,.0f} steps/s")
    for method in args.methods:
        config_cls, trainer_cls = algorithm_classes(method)
        cfg = importlib.import_module(config_cls.__module__).preset(args.preset, args.env)
        trainer = trainer_cls(cfg)
        print(f"{method} {args.preset}: {cfg.meta_batch} tasks x {cfg.rollouts_per_task} rollouts x "
              f"{trainer.horizon} steps, {cfg.inner_steps} inner step(s)")  # fmt: skip
        for it in range(args.iterations):
            before = trainer.env_steps
            m = trainer.train_iteration()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  iteration {it + 1}: {trainer.env_steps - before:,} env steps, sampling "
                  f"{m['time/env_steps_per_second']:,.0f} steps/s ({m['time/sampling_seconds']:.1f} s), outer step "
                  f"{m['time/optimization_seconds']:.1f} s, peak memory {peak:,.0f} MB")  # fmt: skip
        trainer.close()


if __name__ == "__main__":
    main()
