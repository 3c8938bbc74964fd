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
trajectories (the paper's number), the final distance to the goal, mean over tasks and runs per seed, and the
share of all evaluation steps spent in a state the termination rule calls unhealthy (torso height outside
[0.2, 1.0]: fallen or flipped), the behaviour a terminating critic would pay for. For the terminating arm it
also reads the training data in the run's replay buffer: the mean episode length and the share of episodes cut
short by the rule, in the initial collection and in the data of the training iterations (a policy learning to
fall would shorten the later episodes).
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


def evaluate_without_termination(run_dir: Path, seed: int) -> tuple[float, float, float, int]:
    """(return of trajectory 3, final goal distance of trajectory 3, share of unhealthy steps over all
    trajectories, env steps) on non-terminating envs."""
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
    unhealthy = sum(w.unhealthy for w in wrappers) / sum(w.steps for w in wrappers)
    return float(result.returns[:, :, 2].mean()), float(final.mean()), unhealthy, int(trainer.env_steps)


def training_episodes(run_dir: Path) -> tuple[float, float, float, float]:
    """(mean length, share ended early) of the replay buffer's episodes, for the initial collection (episodes
    starting in a task's first ``num_initial_steps`` rows) and for the later ones (the training iterations')."""
    from nacre.training.loop import load_trainer

    trainer = load_trainer(run_dir)
    initial_rows = trainer.cfg.num_initial_steps
    first, later = [], []
    for buf in trainer.rl_buffer.tasks.values():
        starts = list(buf._episode_starts)  # noqa: SLF001 - the buffer's own episode bookkeeping
        ends = [*starts[1:], len(buf)]
        for start, end in zip(starts, ends, strict=True):
            (first if start < initial_rows else later).append(end - start)
    full = trainer.distribution.episode_length
    summary = []
    for lengths in (first, later):
        a = np.asarray(lengths, dtype=float)
        summary += [float(a.mean()) if len(a) else float("nan"), float((a < full).mean()) if len(a) else float("nan")]
    return tuple(summary)  # type: ignore[return-value]


class _RecordFinalDistance:
    """Wrapper recording ``info["goal_distance"]`` at the end of each of its episodes, and counting its steps
    and those that end in an unhealthy state."""

    def __init__(self, env) -> None:  # noqa: ANN001
        self.env, self.distances = env, []
        self.steps = self.unhealthy = 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.env, name)

    def step(self, action):  # noqa: ANN001, ANN201
        out = self.env.step(action)
        self.steps += 1
        self.unhealthy += not self.env.unwrapped.is_healthy
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
        print(
            "| arm | seed | env steps | return of trajectory 3 (no termination at test) | final goal distance "
            "| unhealthy steps |"
        )
        print("|---|---|---|---|---|---|")
        for seed in args.seeds:
            for terminate in (True, False):
                run_dir = train_arm(args.out, terminate, seed, args.iterations)
                ret, dist, unhealthy, steps = evaluate_without_termination(run_dir, seed)
                arm = "terminate" if terminate else "no termination"
                print(f"| {arm} | {seed} | {steps:,} | {ret:.1f} | {dist:.2f} | {unhealthy:.1%} |", flush=True)
                if terminate:
                    init_len, init_early, late_len, late_early = training_episodes(run_dir)
                    print(f"|   training data, seed {seed}: initial collection: mean episode {init_len:.0f} steps, "
                          f"{init_early:.0%} ended early; iterations: mean {late_len:.0f} steps, {late_early:.0%} "
                          "ended early | | | | | |", flush=True)  # fmt: skip
        return
    for terminate in (True, False):
        ends = early_ends(terminate, args.episodes, args.seed)
        median = f", median step {np.median(ends):.0f}" if ends else ""
        print(f"terminate_when_unhealthy={terminate}: {len(ends)} of {args.episodes} random-action episodes "
              f"ended before step 200{median}")  # fmt: skip


if __name__ == "__main__":
    main()
