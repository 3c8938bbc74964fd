"""Ant-goal with and without the unhealthy-termination rule (the reference has none).

Usage::

    python benchmarks/ant_goal_termination.py [--episodes 30] [--seed 0]
    python benchmarks/ant_goal_termination.py --train --out runs/ant-goal-ab [--seeds 0 1] [--iterations 20]

Without ``--train``: random actions (uniform in [-1, 1]) on ``--episodes`` goals drawn with ``--seed``, env seeds 0,
1, ...: how many episodes terminate before the 200-step limit, and the median termination step, with the rule on
(the distribution's default) and off (``terminate_when_unhealthy=False``, the PEARL presets' setting).

With ``--train`` (the A/B run behind the presets' choice): PEARL ``--preset fast`` on ant-goal for ``--iterations``
iterations per seed, once with termination and once without (run directories ``OUT/terminate-sS`` and
``OUT/no-terminate-sS``, resumed if present). Both arms are then evaluated on the same non-terminating environment
(all 200 steps count), on their held-out goals, 2 runs x 3 trajectories: the return after 2 exploration
trajectories (the paper's number) and the final distance to the goal, mean over tasks and runs per seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


def train_arm(out: Path, terminate: bool, seed: int, iterations: int) -> Path:
    """Train (or resume) one arm's PEARL run to ``iterations``; return its directory."""
    from nacre.algos.pearl.config import preset
    from nacre.algos.pearl.trainer import PearlTrainer
    from nacre.training.checkpoint import list_checkpoints
    from nacre.training.loop import load_trainer, train

    run_dir = out / f"{'terminate' if terminate else 'no-terminate'}-s{seed}"
    if list_checkpoints(run_dir / "checkpoints"):
        trainer, resumed = load_trainer(run_dir), True
        trainer.set_run_options(num_iterations=iterations)
    else:
        cfg = preset("fast", "ant-goal", seed=seed, num_iterations=iterations,
                     env_kwargs={"terminate_when_unhealthy": terminate})  # fmt: skip
        trainer, resumed = PearlTrainer(cfg), False
    if trainer.iteration < iterations:
        train(trainer, run_dir, resumed=resumed, tensorboard=False)
    return run_dir


def evaluate_without_termination(run_dir: Path, seed: int) -> tuple[float, float, int]:
    """(return of trajectory 3, final goal distance of trajectory 3, env steps) on non-terminating envs."""
    import torch

    from nacre.algos.pearl.adapter import PearlAdapter
    from nacre.evaluation.adaptation import adaptation_curves
    from nacre.training.loop import load_trainer

    trainer = load_trainer(run_dir, weights_only=True)
    dist = make_distribution("ant-goal", terminate_when_unhealthy=False)
    wrappers: list[_RecordFinalDistance] = []

    def make_env(task):  # noqa: ANN001, ANN202  (one env per (run, task) pair)
        wrappers.append(_RecordFinalDistance(dist.make_env(task)))
        return wrappers[-1]

    gen = torch.Generator().manual_seed(seed)
    result = adaptation_curves(PearlAdapter(trainer.learner, deterministic=True, gen=gen), trainer.split.test,
                               make_env, 2, 3, dist.episode_length, np.random.default_rng(seed))  # fmt: skip
    final = np.asarray([w.distances[2] for w in wrappers])  # each pair's third trajectory
    return float(result.returns[:, :, 2].mean()), float(final.mean()), int(trainer.env_steps)


class _RecordFinalDistance:
    """Wrapper recording ``info["goal_distance"]`` at the end of each of its episodes."""

    def __init__(self, env) -> None:  # noqa: ANN001
        self.env, self.distances = env, []

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.env, name)

    def step(self, action):  # noqa: ANN001, ANN201
        out = self.env.step(action)
        if out[2] or out[3]:
            self.distances.append(float(out[4]["goal_distance"]))
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="store_true", help="run the PEARL A/B instead of random actions")
    ap.add_argument("--out", type=Path, default=Path("runs/ant-goal-ab"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    if args.train:
        print("| arm | seed | env steps | return of trajectory 3 (no termination at test) | final goal distance |")
        print("|---|---|---|---|---|")
        for seed in args.seeds:
            for terminate in (True, False):
                run_dir = train_arm(args.out, terminate, seed, args.iterations)
                ret, dist, steps = evaluate_without_termination(run_dir, seed)
                arm = "terminate" if terminate else "no termination"
                print(f"| {arm} | {seed} | {steps:,} | {ret:.1f} | {dist:.2f} |", flush=True)
        return
    for terminate in (True, False):
        ends = early_ends(terminate, args.episodes, args.seed)
        median = f", median step {np.median(ends):.0f}" if ends else ""
        print(f"terminate_when_unhealthy={terminate}: {len(ends)} of {args.episodes} random-action episodes "
              f"ended before step 200{median}")  # fmt: skip


if __name__ == "__main__":
    main()
