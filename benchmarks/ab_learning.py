"""A/B learning check for the fast PEARL gradient step (issue 4 item 3): fast path vs plain fp32.

Usage::

    python benchmarks/ab_learning.py --root ab_runs                      # all 6 runs (2 arms x 3 seeds), report
    python benchmarks/ab_learning.py --root ab_runs --arm fast --seed 1  # one run only (split across sessions)
    python benchmarks/ab_learning.py --root ab_runs --stop-after 10      # at most 10 more iterations per run
    python benchmarks/ab_learning.py --root ab_runs --report             # plot and compare what is finished
    python benchmarks/ab_learning.py --root /tmp/ab --set num_iterations=1 --set num_train_steps_per_itr=5  # smoke

Arms (point robot, ``--preset fast``, seeds 0 1 2 by default):

* ``plain``: every speed option off and fp32: the reference's computation;
* ``fast``: every speed option on and ``--fast-precision`` (default ``bf16``: the lossy part that needs this
  check; the lossless options are exact and tested in tests/unit/test_pearl_fast_paths.py).

Each (arm, seed) trains in ``ROOT/<arm>-s<seed>`` with nacre's training loop and checkpoints every
iteration; a run that is interrupted resumes from its newest checkpoint (as ``nacre train --resume``),
and a finished run (final evaluation written) is skipped. The report overlays both arms' adaptation
curves (and learning curves) in ``ROOT/ab_learning.png`` via ``nacre.evaluation.plots.plot_runs`` and prints
the difference of the arms' mean returns per trajectory against the seed-to-seed noise.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from nacre.algos.pearl import PearlTrainer, preset
from nacre.evaluation.plots import latest_eval, plot_runs
from nacre.training.checkpoint import atomic_write_bytes
from nacre.training.loop import RunDirError, latest_checkpoint, load_trainer, train

ENV = "point-robot"
PLAIN = dict(q_ensemble="split", detach_critic_in_policy_loss=False, fused_v_policy_backward=False,
             inplace_relu=False, fused_linear_relu=False, precision="fp32")  # fmt: skip
FAST = dict(
    q_ensemble="split",
    detach_critic_in_policy_loss=True,
    fused_v_policy_backward=True,
    inplace_relu=True,
    fused_linear_relu=True,
)


def arm_overrides(arm: str, fast_precision: str) -> dict:
    return dict(PLAIN) if arm == "plain" else dict(FAST, precision=fast_precision)


def final_eval_path(run_dir: Path) -> Path | None:
    found = sorted((run_dir / "eval").glob("adaptation_iter*_final.npz")) if (run_dir / "eval").is_dir() else []
    return found[-1] if found else None


def run_one(run_dir: Path, cfg, stop_after: int | None) -> str:
    """Train (or resume) one run to the end and write its final evaluation; returns what was done."""
    if final_eval_path(run_dir) is not None:
        return "finished earlier: skipped"
    resumed = False
    if (run_dir / "config.json").is_file():
        try:
            latest_checkpoint(run_dir)
            resumed = True
        except RunDirError:  # stopped before its first checkpoint: nothing to keep
            shutil.rmtree(run_dir)
    if resumed:
        trainer = load_trainer(run_dir)
        saved = {k: v for k, v in trainer.cfg.to_dict().items() if k not in trainer.cfg.run_only_fields}
        wanted = {k: v for k, v in cfg.to_dict().items() if k not in cfg.run_only_fields}
        if saved != wanted:
            raise SystemExit(f"{run_dir} holds a run with another config; use another --root")
        trainer.set_run_options(**{k: getattr(cfg, k) for k in cfg.run_only_fields if k != "device"})
    else:
        trainer = PearlTrainer(cfg)
    start_iter, start = trainer.iteration, time.perf_counter()
    train(trainer, run_dir, resumed=resumed, stop_after=stop_after, tensorboard=False)
    seconds = time.perf_counter() - start
    done = f"iterations {start_iter} -> {trainer.iteration} of {cfg.num_iterations} in {seconds:.0f} s"
    if trainer.iteration >= cfg.num_iterations:
        result = trainer.evaluate(rng=np.random.default_rng(cfg.seed + 1))  # as `nacre train` does at the end
        out = run_dir / "eval" / f"adaptation_iter{trainer.iteration:06d}_final.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **result.to_dict(), iteration=trainer.iteration, env_steps=trainer.env_steps)
        atomic_write_bytes(out, buf.getvalue())
        done += ", final evaluation written"
    return done


def report(root: Path, arms: list[str], seeds: list[int]) -> None:
    finished = {arm: [root / f"{arm}-s{s}" for s in seeds if final_eval_path(root / f"{arm}-s{s}")] for arm in arms}
    missing = [f"{arm}-s{s}" for arm in arms for s in seeds if root / f"{arm}-s{s}" not in finished[arm]]
    if missing:
        print(f"not finished yet: {', '.join(missing)}")
    if not all(finished.values()):
        print("report needs at least one finished run per arm")
        return
    curves = {}  # arm -> [seeds, trajectories]: mean return of trajectory k over test tasks and runs
    for arm, dirs in finished.items():
        per_seed = [latest_eval(d)["returns"].astype(float).mean(axis=(0, 1)) for d in dirs]
        n = min(len(c) for c in per_seed)
        curves[arm] = np.stack([c[:n] for c in per_seed])
    png = root / "ab_learning.png"
    plot_runs([d for arm in arms for d in finished[arm]], png,
              labels=[f"{arm} ({arm_label(root, finished[arm][0])})" for arm in arms])  # fmt: skip
    a, b = (curves[arm] for arm in arms[:2])
    n = min(a.shape[1], b.shape[1])
    test_k = json.loads((finished[arms[0]][0] / "config.json").read_text())["config"]["num_exp_traj_eval"]
    print(f"mean test return per trajectory (over test tasks and runs; mean +- s.d. over seeds), {png}")
    print(f"{'trajectory':>10}  {arms[0] + f' ({len(a)} seeds)':>22}  {arms[1] + f' ({len(b)} seeds)':>22}"
          f"{'difference':>12}{'s.e.':>8}{'|diff|/s.e.':>12}")  # fmt: skip
    for k in range(n):
        sa = a[:, k].std(ddof=1) if len(a) > 1 else float("nan")
        sb = b[:, k].std(ddof=1) if len(b) > 1 else float("nan")
        diff = b[:, k].mean() - a[:, k].mean()
        se = float(np.sqrt(sa**2 / len(a) + sb**2 / len(b)))
        mark = "  <- paper's number" if k == test_k else ""
        print(f"{k + 1:>10}  {a[:, k].mean():>13.2f} +- {sa:5.2f}  {b[:, k].mean():>13.2f} +- {sb:5.2f}"
              f"{diff:12.2f}{se:8.2f}{abs(diff) / se if se > 0 else float('nan'):12.2f}{mark}")  # fmt: skip
    k = min(test_k, n - 1)
    diff = b[:, k].mean() - a[:, k].mean()
    se = float(np.sqrt(a[:, k].var(ddof=1) / len(a) + b[:, k].var(ddof=1) / len(b))) if min(len(a), len(b)) > 1 else 0
    if se > 0:
        verdict = "inside" if abs(diff) <= 2 * se else "OUTSIDE"
        print(f"trajectory {k + 1}: {arms[1]} - {arms[0]} = {diff:.2f}, {verdict} seed noise (2 s.e. = {2 * se:.2f})")
    else:
        print("seed noise needs at least 2 seeds per arm")


def arm_label(root: Path, run_dir: Path) -> str:
    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    return cfg["precision"] + (", plain step" if not cfg.get("fused_v_policy_backward", True) else ", fast step")


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("ab_runs"), help="directory of the A/B run dirs")
    parser.add_argument("--arm", choices=["plain", "fast"], default=None, help="run only this arm")
    parser.add_argument("--seed", type=int, default=None, help="run only this seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fast-precision", choices=["bf16", "auto", "fp32"], default="bf16")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for both arms (e.g. num_iterations=1), repeatable")  # fmt: skip
    parser.add_argument("--stop-after", type=int, default=None, help="at most this many more iterations per run")
    parser.add_argument("--report", action="store_true", help="only plot and compare the finished runs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    arms = ["plain", "fast"]
    if not args.report:
        extra = parse_set(args.set)
        for arm in [args.arm] if args.arm else arms:
            for seed in [args.seed] if args.seed is not None else args.seeds:
                cfg = preset(args.preset, ENV, seed=seed, **arm_overrides(arm, args.fast_precision), **extra)
                run_dir = args.root / f"{arm}-s{seed}"
                print(f"{run_dir}: {run_one(run_dir, cfg, args.stop_after)}", flush=True)
    seeds = args.seeds if args.seed is None else sorted({*args.seeds, args.seed})
    report(args.root, arms, seeds)


if __name__ == "__main__":
    sys.exit(main())
