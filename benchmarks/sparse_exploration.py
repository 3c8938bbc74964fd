"""How far PEARL's posterior-sampling exploration can reach on the sparse point robot, and how far a run reaches.

Usage::

    python benchmarks/sparse_exploration.py RUN_DIR [RUN_DIR ...] [--samples 256] [--explore 5]

At meta-test time the first ``num_exp_traj_eval`` (5) trajectories use z drawn from the prior, so the goal can only
be found in them if prior samples send the robot to different parts of the goal arc. For each run this script
draws ``--samples`` prior z, rolls each out deterministically from the origin (as the evaluator does) and reports

* where the trajectories end (angle on the arc, spread),
* the share of the arc's goals a single prior trajectory enters (within ``goal_radius``),
* the share entered by at least one of ``--explore`` independent prior trajectories (Monte Carlo),

next to the **geometric ceiling** of an explorer whose trajectories each go to one point of the unit arc and stay:
a trajectory ending at angle t enters the radius-r disc of the goals with angle within 2 arcsin(r / 2) of t, so
``explore`` of them cover at most ``explore * 4 arcsin(r / 2) / pi`` of the arc (63.8% for 5 trajectories and
r = 0.2; 100% for r = 0.8).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from nacre.nn.distributions import Posterior
from nacre.training.loop import load_trainer
from nacre.vector_rollout import rollout_batch


def ceiling(explore: int, radius: float) -> float:
    """Most of the unit upper semicircle that ``explore`` go-to-a-point trajectories can bring within ``radius``."""
    return min(1.0, explore * 4 * math.asin(min(1.0, radius / 2)) / math.pi)


def prior_coverage(run_dir: Path, samples: int, explore: int, seed: int = 0) -> dict[str, float]:
    trainer = load_trainer(run_dir, weights_only=True)
    dist, learner = trainer.distribution, trainer.learner
    if not getattr(dist, "has_sparse_reward", False) or not hasattr(dist, "goal_radius"):
        raise SystemExit(f"{run_dir}: not a sparse point-robot run")
    gen = torch.Generator(device=learner.device).manual_seed(seed)
    z = learner.sample_z(Posterior.prior(samples, trainer.cfg.latent_dim, learner.device), gen)
    envs = [dist.make_env(trainer.split.test[0]) for _ in range(samples)]  # the start (origin) is the same for all
    trajs = rollout_batch(envs, lambda obs, idx: learner.act(obs, z[idx], True), np.random.default_rng(seed),
                          trainer.episode_length)  # fmt: skip
    points = np.stack([t.next_obs for t in trajs])  # [samples, steps, 2]
    angles = np.linspace(0.0, math.pi, 721)
    goals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    entered = (np.linalg.norm(points[:, :, None] - goals[None, None], axis=-1) <= dist.goal_radius).any(axis=1)
    rng = np.random.default_rng(seed)
    draws = [entered[rng.choice(samples, explore, replace=False)].any(axis=0).mean() for _ in range(500)]
    end = np.degrees(np.arctan2(points[:, -1, 1], points[:, -1, 0]))
    return {"iteration": trainer.iteration, "env_steps": trainer.env_steps, "radius": dist.goal_radius,
            "end_angle_p10": float(np.percentile(end, 10)), "end_angle_p50": float(np.median(end)),
            "end_angle_p90": float(np.percentile(end, 90)), "one": float(entered.mean()),
            "any": float(np.mean(draws)), "ceiling": ceiling(explore, dist.goal_radius)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--samples", type=int, default=256, help="prior z drawn per run")
    parser.add_argument("--explore", type=int, default=5, help="exploration trajectories (num_exp_traj_eval)")
    args = parser.parse_args()
    print(f"| run | iteration | env steps | end angle 10/50/90% (deg) | arc entered by 1 prior traj "
          f"| by any of {args.explore} | ceiling |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        r = prior_coverage(run, args.samples, args.explore)
        print(f"| {run.name} | {r['iteration']} | {r['env_steps']:,} | {r['end_angle_p10']:.0f} / "
              f"{r['end_angle_p50']:.0f} / {r['end_angle_p90']:.0f} | {r['one']:.1%} | {r['any']:.1%} "
              f"| {r['ceiling']:.1%} |")  # fmt: skip


if __name__ == "__main__":
    main()
