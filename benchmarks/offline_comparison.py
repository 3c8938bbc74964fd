"""MACAW vs offline PEARL vs MT+FT, in and out of distribution (MACAW paper Fig. 1 and 2).

Usage::

    nacre dataset generate macaw-cheetah-vel --out data/macaw-cheetah-vel          # once (preset fast)
    python benchmarks/offline_comparison.py --dataset data/macaw-cheetah-vel --out runs/offline-cv \\
        [--domain cheetah-vel|walker-params] [--methods macaw offline-pearl mt-finetune] [--splits id ood] \\
        [--seeds 0 1 2 3 4] [--preset fast] [--iterations N] [--eval-only] [--archive DIR] [--jobs N]

One dataset serves a domain's splits: cheetah-vel has ``macaw-cheetah-vel`` (35 train / 5 test velocities) and
``macaw-cheetah-vel-ood`` (train v <= 1.95, test v >= 2.025); walker-params has ``macaw-walker-params`` (30 / 5).
Each (method, split, seed) is a run directory ``OUT/<method>-<split>-s<seed>``; an existing one is resumed, a
finished one skipped, so the benchmark can be split across sessions. After training, each run is evaluated on its
test tasks with k = 8 and k = 256 offline transitions and 0, 1, 2, 3, 5, 10, 15, 20 test-time steps (4 runs per
task; offline PEARL takes no gradient steps and is evaluated once). The script prints two Markdown tables:

* every method under **its own protocol** (MACAW after 1 step, MT+FT after 20 fine-tuning steps, offline PEARL from
  context only): median and 25/75 percentiles over tasks x runs x seeds, and the interquartile mean over
  ``[seeds, tasks]`` scores (each the mean over the 4 runs) with its 95% stratified-bootstrap interval
  (``nacre.evaluation.metrics``, 2000 resamples, seed 0);
* every method at n = 0, 1 and 20, with the share of diverged adaptations at every n.

Adaptations that diverged are left out of the statistics (their share is shown). It writes ``OUT/summary.json``
and one PNG per split and k, plus learning curves. The k = 256 evaluation of each run is also saved the way
``nacre eval`` saves one (``RUN/eval/adaptation_iterNNNNNN_test.npz``), so ``nacre report OUT/*`` reports the same
numbers across seeds; with ``--archive DIR`` every finished and evaluated run's small files (logs, config,
evaluations; no checkpoints) are copied to ``DIR/<run>`` as ``benchmarks/archive_runs.py`` does, so the results
survive the machine. The k = 8 evaluation is saved as ``nacre eval --name k8`` does (``_test-k8.npz``, read by
``nacre report OUT/* --evaluation k8``). A run already finished and archived in ``DIR`` (both evaluations cached at
the wanted length) is not run again, and its archived evaluations enter the tables: a benchmark continues from its
archive on a new machine.

With ``--jobs N`` the runs are trained and evaluated N at a time, each in a process of its own with one torch thread
(``OMP_NUM_THREADS=1``; use one job per core), seed by seed (every method and split of seed 0 first, so a stopped
benchmark leaves whole seeds); each run's output goes to ``OUT/logs/<run>.log``, and the tables follow once all
have finished. ``--jobs 1`` (the default) trains in this process, in the same seed-major order.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from archive_runs import archive_run  # benchmarks/archive_runs.py, beside this script

from nacre.algos.registry import preset
from nacre.evaluation.metrics import iqm, stratified_bootstrap_ci
from nacre.evaluation.offline_adaptation import nan_quantiles
from nacre.evaluation.runs import named_eval_tag
from nacre.evaluation.saving import save_evaluation
from nacre.logging import read_jsonl
from nacre.training.checkpoint import list_checkpoints
from nacre.training.loop import algorithm_classes, load_trainer, read_run_config, resume_trainer, train

DOMAINS = {
    "cheetah-vel": {"id": "macaw-cheetah-vel", "ood": "macaw-cheetah-vel-ood"},
    "walker-params": {"id": "macaw-walker-params"},
}
#: method name -> (nacre algorithm, config overrides on top of the preset)
METHODS = {
    "macaw": ("macaw", {}),
    "offline-pearl": ("offline-pearl", {"num_iterations": 50}),  # 25,000 outer steps as the others (PEARL's fast: 500)
    "mt-finetune": ("mt-finetune", {}),
    # MACAW with the reference's sub-sampled buffers (every 7th row; the ``paper`` preset's setting)
    "macaw-skip7": ("macaw", {"buffer_skip": 7, "inner_buffer_skip": 7}),
}
DEFAULT_METHODS = ["macaw", "offline-pearl", "mt-finetune"]
#: the number of test-time steps each algorithm is judged after (the papers' protocols)
PROTOCOL = {"macaw": 1, "offline-pearl": 0, "mt-finetune": 20}
KS = (8, 256)
STEPS = [0, 1, 2, 3, 5, 10, 15, 20]  # test-time gradient steps evaluated (MACAW, MT+FT)


def run_name(method: str, split: str, seed: int) -> str:
    """The directory name of one run of the grid (``OUT/<name>``, ``DIR/<name>`` in the archive, its log's stem)."""
    return f"{method}-{split}-s{seed}"


def newest_iteration(run_dir: Path) -> int:
    """The iteration of the run's newest checkpoint (0 without one), read from its file name."""
    found = list_checkpoints(run_dir / "checkpoints")
    return found[-1][0] if found else 0


def is_finished(run_dir: Path, args: argparse.Namespace) -> bool:
    """Whether the run has trained to ``--iterations`` (or its config's length), without loading it."""
    if not (run_dir / "config.json").exists():
        return False
    _, cfg = read_run_config(run_dir)
    return newest_iteration(run_dir) >= (args.iterations or cfg.num_iterations)


def archived_evaluations(method: str, split: str, seed: int, args: argparse.Namespace) -> dict[int, dict] | None:
    """The k = 8 and k = 256 evaluations of a run finished and archived earlier (``--archive DIR``), else None.

    A run whose archive copy ``DIR/<run>`` is of the same algorithm and seed and holds both cached evaluations at
    ``--iterations`` (or its config's length) is neither trained nor evaluated again, and its archived numbers
    enter the tables: a benchmark split across machines continues where the archive stands even when the earlier
    machine's run directories (and checkpoints) are gone.
    """
    if not args.archive:
        return None
    copy = args.archive / run_name(method, split, seed)
    caches = [copy / "eval" / f"offline_k{k}.json" for k in KS]
    if not (copy / "config.json").is_file() or not all(c.is_file() for c in caches):
        return None
    algorithm, cfg = read_run_config(copy)
    if algorithm != METHODS[method][0] or cfg.seed != seed:
        return None
    saved = {k: json.loads(c.read_text()) for k, c in zip(KS, caches, strict=True)}
    wanted = args.iterations or cfg.num_iterations
    return saved if all(e["iteration"] >= wanted for e in saved.values()) else None


def run_source(method: str, split: str, seed: int, args: argparse.Namespace) -> Path:
    """The run's directory under ``--out``, or its archive copy when only that exists (learning curves)."""
    run_dir = args.out / run_name(method, split, seed)
    if not run_dir.exists() and args.archive and (args.archive / run_dir.name).exists():
        return args.archive / run_dir.name
    return run_dir


def run_one(method: str, split: str, seed: int, args: argparse.Namespace) -> Path:
    """Train (or resume) one run to its preset's length (or ``--iterations``); return its directory."""
    run_dir = args.out / run_name(method, split, seed)
    if args.eval_only or is_finished(run_dir, args):
        return run_dir  # nothing to train: don't build the trainer (an offline one loads its whole dataset)
    if (run_dir / "config.json").exists():
        # as nacre train --resume: the newest intact checkpoint, or iteration 0 for a run stopped before its first
        trainer = resume_trainer(run_dir, warn=lambda line: print(f"{run_dir.name}: {line}", flush=True))
        resumed = True
    else:
        algorithm, extra = METHODS[method]
        _, trainer_cls = algorithm_classes(algorithm)
        overrides = {**extra, "seed": seed, "dataset": str(args.dataset)}
        if args.iterations:
            overrides["num_iterations"] = args.iterations
        trainer = trainer_cls(preset(algorithm, args.preset, DOMAINS[args.domain][split], **overrides))
        resumed = False
    if args.iterations and trainer.cfg.num_iterations != args.iterations:
        trainer.set_run_options(num_iterations=args.iterations)
    if trainer.iteration < trainer.cfg.num_iterations:
        start = time.perf_counter()
        train(trainer, run_dir, resumed=resumed, on_iteration=_log_iteration(run_dir.name, trainer.cfg.num_iterations),
              command=["python", *sys.argv])  # fmt: skip
        print(f"{run_dir.name}: trained to iteration {trainer.iteration} in {time.perf_counter() - start:.0f} s",
              flush=True)  # fmt: skip
    return run_dir


def _log_iteration(name: str, total: int):  # noqa: ANN202
    """A ``train`` callback printing one line per iteration (the run's log under ``--jobs``)."""
    start = time.perf_counter()

    def log(iteration: int, metrics: dict[str, float]) -> None:
        ret = metrics.get("returns/test")
        shown = f", test return {ret:.1f}" if ret is not None else ""
        print(f"{name}: iteration {iteration}/{total} after {time.perf_counter() - start:.0f} s{shown}", flush=True)

    return log


def worker_command(method: str, split: str, seed: int, args: argparse.Namespace) -> list[str]:
    """The command line that trains, evaluates (and archives) one run of the grid, without the report."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--dataset", str(args.dataset), "--out", str(args.out)]
    cmd += ["--domain", args.domain, "--methods", method, "--splits", split, "--seeds", str(seed)]
    cmd += ["--preset", args.preset, "--skip-report"]
    if args.iterations:
        cmd += ["--iterations", str(args.iterations)]
    if args.archive:
        cmd += ["--archive", str(args.archive)]
    return cmd


def seed_major_grid(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """The (method, split, seed) runs in training order: every method and split of a seed before the next seed."""
    return [(m, sp, seed) for seed in args.seeds for sp in args.splits for m in args.methods]


def finish_run(method: str, split: str, seed: int, args: argparse.Namespace) -> dict[int, dict] | None:
    """Train (or resume) one run, evaluate it at every k and archive it; None when it has no checkpoint yet."""
    run_dir = run_one(method, split, seed, args)
    if not list_checkpoints(run_dir / "checkpoints"):
        return None
    evals = {k: evaluate(run_dir, k) for k in KS}
    if args.archive and is_finished(run_dir, args):
        archive_run(run_dir, args.archive)
    return evals


def run_here(args: argparse.Namespace) -> None:
    """``--jobs 1``: train, evaluate and archive the grid in this process, seed-major as ``--jobs N`` does."""
    for cell in seed_major_grid(args):
        if archived_evaluations(*cell, args) is None:
            finish_run(*cell, args)


def run_in_parallel(args: argparse.Namespace) -> list[Path]:
    """Run the grid ``args.jobs`` runs at a time, seed-major; return the logs of the runs that failed."""
    grid = seed_major_grid(args)
    archived = [g for g in grid if archived_evaluations(*g, args) is not None]
    if archived:
        names = ", ".join(run_name(*g) for g in archived)
        print(f"{len(archived)} run(s) finished and archived in {args.archive}, not run again: {names}", flush=True)
        grid = [g for g in grid if g not in archived]
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending, running, failed = list(grid), {}, []
    start = time.perf_counter()
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                method, split, seed = pending.pop(0)
                name = run_name(method, split, seed)
                with open(logs / f"{name}.log", "a") as log:
                    proc = subprocess.Popen(worker_command(method, split, seed, args), stdout=log, stderr=log, env=env)
                running[proc] = (name, time.perf_counter())
                print(f"[{len(grid) - len(pending)}/{len(grid)}] started {name}", flush=True)
            time.sleep(0.2)
            for proc in [p for p in running if p.poll() is not None]:
                name, began = running.pop(proc)
                minutes = (time.perf_counter() - began) / 60
                status = "finished" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(
                    f"{status} {name} in {minutes:.1f} min ({(time.perf_counter() - start) / 60:.1f} min in all)",
                    flush=True,
                )
                if proc.returncode != 0:
                    failed.append(logs / f"{name}.log")
    finally:  # Ctrl-C or an error here: stop the workers (each keeps its last checkpoint on SIGTERM)
        for proc in running:
            proc.terminate()
        for proc in running:
            proc.wait()
    return failed


def evaluate(run_dir: Path, k: int) -> dict:
    """Returns ``[runs, tasks, steps]`` after k offline transitions, cached in the run's eval folder."""
    cache = run_dir / "eval" / f"offline_k{k}.json"
    algorithm, _ = read_run_config(run_dir)
    steps = [0] if algorithm == "offline-pearl" else STEPS  # PEARL takes no test-time gradient steps
    if cache.exists():  # checked before loading the trainer, which reads the whole dataset
        saved = json.loads(cache.read_text())
        if saved["iteration"] == newest_iteration(run_dir) and saved["steps"] == steps:
            return saved
    trainer = load_trainer(run_dir, weights_only=True)
    result = trainer.evaluate("test", num_runs=4, num_transitions=k, steps=steps, rng=np.random.default_rng(1234))
    # saved as `nacre eval` saves them, for `nacre report`: the config's k as the default evaluation, any other k
    # as `nacre eval --name kK` does (`nacre report OUT/* --evaluation k8`)
    tag = "test" if k == trainer.cfg.eval_transitions else named_eval_tag(f"k{k}")
    save_evaluation(run_dir, trainer, result, tag=tag)
    rows = read_jsonl(run_dir / "progress.jsonl")
    out = {"iteration": trainer.iteration, "grad_steps": trainer.grad_steps, "k": k, "steps": steps,
           "returns": result.returns.tolist(), "wall_clock": rows[-1]["time/wall_clock"] if rows else 0.0}  # fmt: skip
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=DEFAULT_METHODS,
        choices=list(METHODS),
        help="macaw-skip7: MACAW with the reference's every-7th-row buffers",
    )
    parser.add_argument("--domain", default="cheetah-vel", choices=list(DOMAINS))
    parser.add_argument("--splits", nargs="+", default=None, choices=["id", "ood"], help="default: the domain's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--iterations", type=int, default=None, help="override each preset's num_iterations")
    parser.add_argument("--eval-only", action="store_true", help="evaluate the newest checkpoints, no training")
    parser.add_argument(
        "--archive",
        type=Path,
        default=None,
        metavar="DIR",
        help="copy each finished run's logs and evaluations (no checkpoints) to DIR/<run>",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="train and evaluate N runs at a time, each in its own process with one thread (one per core)",
    )
    parser.add_argument("--skip-report", action="store_true", help=argparse.SUPPRESS)  # set for the --jobs workers
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    args.splits = args.splits or list(DOMAINS[args.domain])
    unknown = sorted(set(args.splits) - set(DOMAINS[args.domain]))
    if unknown:
        parser.error(f"{args.domain} has no split {', '.join(unknown)}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.jobs > 1 and not args.eval_only:
        failed = run_in_parallel(args)
        if failed:
            sys.exit(f"{len(failed)} run(s) failed: see {', '.join(str(f) for f in failed)}")
    elif not args.eval_only:
        run_here(args)  # seed-major, so that a stopped benchmark leaves whole seeds

    summary: dict[str, dict] = {}
    for split in args.splits:
        for method in args.methods:
            evals = {k: [] for k in KS}
            for seed in args.seeds:
                saved = archived_evaluations(method, split, seed, args)
                if saved is not None:
                    for k in KS:
                        evals[k].append(saved[k])
                    continue
                finished = finish_run(method, split, seed, args)
                for k in KS if finished else ():
                    evals[k].append(finished[k])
            summary[f"{method}/{split}"] = {str(k): v for k, v in evals.items()}
    if args.skip_report:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary))
    print(protocol_table(summary))
    print()
    print(table(summary))
    plot(summary, args)
    plot_learning_curves(args, args.out)


def _pooled(evals: list[dict]) -> np.ndarray:
    """``[runs * tasks * seeds, len(STEPS)]``; a method evaluated at 0 steps only (PEARL) is constant in n."""
    out = []
    for e in evals:
        values = np.asarray(e["returns"]).reshape(-1, len(e["steps"]))
        out.append(values if e["steps"] == STEPS else np.repeat(values[:, :1], len(STEPS), axis=1))
    return np.concatenate(out)


def protocol_scores(evals: list[dict], n: int) -> np.ndarray:
    """``[seeds, tasks]`` scores after ``n`` test-time steps: each the mean over the evaluation runs that did not
    diverge (NaN if all diverged)."""
    out = []
    for e in evals:
        returns = np.asarray(e["returns"], dtype=float)  # [runs, tasks, steps]
        col = e["steps"].index(n) if n in e["steps"] else 0  # offline PEARL: the same value for every n
        with warnings.catch_warnings():  # a task whose runs all diverged: NaN (the mean of nothing)
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(np.nanmean(returns[:, :, col], axis=0))
    return np.stack(out)


def protocol_table(summary: dict[str, dict]) -> str:
    """Each method after its own protocol's number of test-time steps: median [IQR] and IQM [95% CI]."""
    lines = ["| method | split | k | seeds | outer steps | judged after n steps | median [25%, 75%] "
             "| IQM [95% CI] over seeds x tasks | diverged |", "|---" * 9 + "|"]  # fmt: skip
    for key, by_k in summary.items():
        method, split = key.split("/")
        n = PROTOCOL[METHODS[method][0]]
        for k, evals in by_k.items():
            if not evals:
                continue
            pooled = _pooled(evals)[:, STEPS.index(n)]
            q = nan_quantiles(pooled[:, None])[:, 0]
            scores = protocol_scores(evals, n)
            finite = scores[:, np.isfinite(scores).all(0)]  # a task with a fully diverged seed is left out
            ci = stratified_bootstrap_ci(finite, iqm, reps=2000, rng=0) if finite.size else None
            ci_text = f"{ci.estimate:.1f} [{ci.low:.1f}, {ci.high:.1f}]" if ci else "-"
            steps = int(np.mean([e["grad_steps"] for e in evals]))
            lines.append(f"| {method} | {split} | {k} | {len(evals)} | {steps} | {n} | {q[1]:.1f} [{q[0]:.1f}, "
                         f"{q[2]:.1f}] | {ci_text} | {np.isnan(pooled).mean():.0%} |")  # fmt: skip
    return "\n".join(lines)


def table(summary: dict[str, dict]) -> str:
    lines = ["| method | split | seeds | outer steps | wall-clock (s) | steps/s | k | median [25%, 75%] at 0 steps "
             f"| at 1 step | at 20 steps | diverged at n = {', '.join(map(str, STEPS))} |",
             "|---" * 11 + "|"]  # fmt: skip
    for key, by_k in summary.items():
        method, split = key.split("/")
        for k, evals in by_k.items():
            if not evals:
                continue
            values = _pooled(evals)
            q = nan_quantiles(values)
            diverged = " / ".join(f"{d:.0%}" for d in np.isnan(values).mean(axis=0))
            cell = lambda n: f"{q[1, STEPS.index(n)]:.1f} [{q[0, STEPS.index(n)]:.1f}, {q[2, STEPS.index(n)]:.1f}]"  # noqa: B023
            steps = int(np.mean([e["grad_steps"] for e in evals]))
            wall = float(np.mean([e["wall_clock"] for e in evals]))
            lines.append(f"| {method} | {split} | {len(evals)} | {steps} | {wall:.0f} | {steps / max(wall, 1e-9):.1f} "
                         f"| {k} | {cell(0)} | {cell(1)} | {cell(20)} | {diverged} |")  # fmt: skip
    return "\n".join(lines)


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, ax, path: Path, **labels: str) -> None:  # noqa: ANN001
    """Label, grid and save one figure if anything was drawn on it; close it either way."""
    if ax.lines:
        ax.set(**labels)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    _pyplot().close(fig)


def plot(summary: dict[str, dict], args: argparse.Namespace) -> None:
    """One PNG per split and k: median and 25/75% return against the number of test-time steps."""
    plt = _pyplot()
    out, domain = args.out, args.domain
    for split in args.splits:
        for k in KS:
            fig, ax = plt.subplots(figsize=(5, 4))
            for key, by_k in summary.items():
                method, s = key.split("/")
                if s != split or not by_k.get(str(k)):
                    continue
                q = nan_quantiles(_pooled(by_k[str(k)]))
                (line,) = ax.plot(STEPS, q[1], marker="o", ms=3, label=f"{method} ({len(by_k[str(k)])} seeds)")
                ax.fill_between(STEPS, q[0], q[2], alpha=0.2, color=line.get_color())
            title = f"{domain} {split}, k = {k} offline transitions"
            _save_figure(
                fig,
                ax,
                out / f"{domain.replace('-', '_')}_{split}_k{k}.png",
                xlabel="test-time adaptation steps",
                ylabel="return (median, 25-75%)",
                title=title,
            )


def learning_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(outer steps, un-adapted return, return after the logged test-time steps)`` from a run's training log
    (means over its test tasks with the run's ``eval_transitions`` offline transitions)."""
    rows = [r for r in read_jsonl(run_dir / "progress.jsonl") if "returns/test" in r]
    steps = np.array([r["time/grad_steps"] for r in rows], dtype=float)
    before = np.array([r.get("returns/test_prior_only", np.nan) for r in rows], dtype=float)
    after = np.array([r["returns/test"] for r in rows], dtype=float)
    return steps, before, after


def plot_learning_curves(args: argparse.Namespace, out: Path) -> None:
    """One PNG per split: post-adaptation test return against meta-training (outer) steps, mean over seeds."""
    plt = _pyplot()
    for split in args.splits:
        fig, ax = plt.subplots(figsize=(5, 4))
        for method in args.methods:
            curves = [learning_curve(d) for s in args.seeds if (d := run_source(method, split, s, args)).exists()]
            curves = [c for c in curves if len(c[0])]
            if not curves:
                continue
            n = min(len(c[0]) for c in curves)
            steps, after = curves[0][0][:n], np.stack([c[2][:n] for c in curves])
            (line,) = ax.plot(steps, after.mean(0), marker="o", ms=3, label=f"{method} ({len(curves)} seeds)")
            if len(curves) > 1:
                ax.fill_between(steps, after.min(0), after.max(0), alpha=0.2, color=line.get_color())
        title = f"{args.domain} {split}: mean over test tasks"
        _save_figure(fig, ax, out / f"{args.domain.replace('-', '_')}_{split}_learning.png",
                     xlabel="meta-training (outer) steps",
                     ylabel="test return after adaptation", title=title)  # fmt: skip


if __name__ == "__main__":
    main()
