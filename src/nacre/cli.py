"""The ``nacre`` command: train, eval, video, plot, list, dataset.

Every config field of the chosen algorithm is a flag of ``nacre train`` (``--meta-batch 8``), generated from the
algorithm's config dataclass by :mod:`nacre.cli_train`, so defaults live in one place: the chosen preset. A flag
of another algorithm's config is refused.
User errors print one line ``nacre: error: ...`` and exit with status 2; nothing is overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nacre import __version__


class UserError(Exception):
    """A problem with what the user asked for (exit status 2, no traceback)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a run stops the way Ctrl-C stops it (exit status 143)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes as one line ``nacre: error: ...`` (exit status 2) instead of the whole usage.

    With ``pass_through=NAME`` a (sub)parser parses nothing: its words go to ``NAME`` as a list (``nacre train``
    reads its own, :mod:`nacre.cli_train`).
    """

    def __init__(self, *args: Any, pass_through: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pass_through = pass_through

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self.pass_through is None:
            return super().parse_known_args(args, namespace)
        namespace = argparse.Namespace() if namespace is None else namespace
        setattr(namespace, self.pass_through, list(sys.argv[1:] if args is None else args))
        return namespace, []

    def error(self, message: str) -> Any:
        self.exit(2, f"nacre: error: {message} (see {self.prog} --help)\n")


def _held_out_overlap(trainer: Any) -> str | None:
    """A warning when some held-out tasks are also train tasks and the family does not say it means that
    (``test_equals_train``, as cheetah-dir): the meta-test would then measure the training tasks."""
    from nacre.envs.base import held_out_tasks_in_train

    if getattr(trainer.distribution, "test_equals_train", False):
        return None
    shared = held_out_tasks_in_train(trainer.split)
    if not shared:
        return None
    return (
        f"{len(shared)} of {len(trainer.split.test)} held-out tasks are also train tasks (e.g. {shared[0]}): "
        "the meta-test measures training tasks (a family that means it sets test_equals_train = True)"
    )


def _warn_line(message: str) -> None:
    print(f"nacre: warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nacre", description="Meta-reinforcement learning: PEARL and MACAW.")
    parser.add_argument("--version", action="version", version=f"nacre {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    # ALGORITHM, DISTRIBUTION, run options and the algorithm's settings: read by nacre.cli_train
    sub.add_parser("train", help="meta-train an agent (or --resume a run); nacre train ALGORITHM --help lists "
                                 "its settings", add_help=False, pass_through="train_argv")  # fmt: skip

    ev = sub.add_parser("eval", help="adaptation curves of a trained run on held-out tasks")
    ev.add_argument("run_dir", type=Path)
    ev.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (default: the newest)")
    ev.add_argument("--runs", type=int, default=None, help="independent runs per task (default: config num_evals)")
    ev.add_argument(
        "--trajectories", type=int, default=None, help="PEARL: trajectories per run (adaptation curve length)"
    )
    ev.add_argument(
        "--transitions",
        type=int,
        default=None,
        help="all but PEARL: transitions to adapt on per test task (offline methods: drawn from its data; "
        "MAML-TRPO/ProMP/MAESN: rollouts per step = ceil(N / horizon); not RL2)",
    )
    ev.add_argument(
        "--steps",
        type=int,
        default=None,
        help="all but PEARL: evaluate after 0, 1, ..., STEPS test-time steps (RL2: a trial of STEPS + 1 "
        "episodes; default: 0 and eval_steps)",
    )
    ev.add_argument(
        "--test-time-guard",
        choices=["true", "false"],
        default=None,
        help="MACAW: backtrack test-time steps beyond the meta-trained ones (default: the run's setting)",
    )
    ev.add_argument("--tasks", choices=["test", "train"], default="test")
    ev.add_argument("--device", default=None)
    ev.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes")
    ev.add_argument(
        "--name",
        default=None,
        metavar="NAME",
        help="save as eval/adaptation_iterN_test-NAME.npz, beside the default evaluation instead of "
        "replacing it (e.g. --transitions 8 --name k8); nacre report --evaluation NAME reads it",
    )
    ev.add_argument("--no-progress", action="store_true")

    vid = sub.add_parser("video", help="render the adaptation episodes on a held-out task (MP4 or GIF)")
    vid.add_argument("run_dir", type=Path)
    vid.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (default: the newest)")
    vid.add_argument("--task-index", type=int, default=0, help="which task of the split (default: 0)")
    vid.add_argument("--tasks", choices=["test", "train"], default="test")
    vid.add_argument(
        "--trajectories",
        type=int,
        default=None,
        help="trajectories to render (default: the exploration ones and the first adapted one)",
    )
    vid.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output .mp4 or .gif (default: RUN_DIR/videos/task<i>.mp4, .gif without imageio-ffmpeg)",
    )
    vid.add_argument("--fps", type=float, default=None, help="frames per second (default: real time; 5 top-down)")
    vid.add_argument("--max-steps", type=int, default=None, help="cap on steps per trajectory (default: all)")
    vid.add_argument("--every", type=int, default=1, help="keep one frame every N steps (default: 1)")
    vid.add_argument("--device", default=None)
    vid.add_argument("--seed", type=int, default=0, help="seed of the episodes")

    plot = sub.add_parser("plot", help="learning and adaptation curves of one or more runs (PNG)")
    plot.add_argument("run_dirs", type=Path, nargs="+")
    plot.add_argument("--out", type=Path, default=None, help="PNG path (default: <first run>/curves.png)")
    plot.add_argument("--label", action="append", default=None, help="legend label per group of runs")
    plot.add_argument("--log-x", action="store_true",
                      help="logarithmic x axis for the learning curve (env steps spanning decades, e.g. PEARL "
                           "against the on-policy methods)")  # fmt: skip

    sub.add_parser("list", help="task distributions and presets")

    from nacre.cli_dataset import add_dataset_parser

    add_dataset_parser(sub)
    from nacre.cli_report import add_report_parser

    add_report_parser(sub)
    from nacre.cli_scale import add_scale_parsers

    add_scale_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["nacre", *(sys.argv[1:] if argv is None else argv)]
    from nacre.algos.pearl.config import ConfigError
    from nacre.cli_dataset import cmd_dataset
    from nacre.datasets.store import DatasetError
    from nacre.envs.registry import TaskDistributionError
    from nacre.training.checkpoint import CheckpointError
    from nacre.training.errors import TrainingDiverged
    from nacre.training.loop import RunDirError

    handlers = {"train": _cmd_train, "eval": _cmd_eval, "video": _cmd_video, "plot": _cmd_plot, "list": _cmd_list}
    handlers["dataset"] = cmd_dataset
    from nacre.cli_report import cmd_report

    handlers["report"] = cmd_report
    from nacre.cli_scale import cmd_reproduce, cmd_sweep

    handlers.update(sweep=cmd_sweep, reproduce=cmd_reproduce)
    previous: Any = None
    with contextlib.suppress(ValueError):  # signal handlers can only be set from the main thread
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return handlers[args.command](args)
    except (UserError, ConfigError, TaskDistributionError, CheckpointError, RunDirError, DatasetError) as exc:
        print(f"nacre: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"nacre: training diverged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("nacre: terminated" if isinstance(exc, Terminated) else "nacre: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------- train
def _cmd_train(args: argparse.Namespace) -> int:
    from nacre import cli_train
    from nacre.algos.registry import preset
    from nacre.evaluation.saving import save_evaluation
    from nacre.training.loop import (
        algorithm_classes,
        change_run_options,
        check_device,
        read_run_config,
        resume_trainer,
        run_dir_name,
        train,
    )

    command = cli_train.parse_command(args.train_argv)
    for name in ("algorithm", "distribution", "preset", "run_dir", "resume", "iterations", "no_progress",
                 "no_tensorboard"):  # fmt: skip
        setattr(args, name, getattr(command, name))
    if command.help:
        return cli_train.show_help(command)
    if args.iterations is not None and args.iterations < 1:
        raise UserError(f"--iterations must be 1 or more, got {args.iterations}")
    if args.resume is not None:
        if args.algorithm or args.distribution:
            raise UserError("--resume continues an existing run: give no algorithm or distribution")
        saved_algorithm, saved_cfg = read_run_config(args.resume)
        allowed = saved_cfg.run_only_fields - cli_train.unused_fields(type(saved_cfg), saved_algorithm)
        bad = cli_train.unchangeable_settings(command.settings, allowed)
        if bad:
            raise UserError(f"cannot change {', '.join(bad)} when resuming (only {', '.join(sorted(allowed))})")
        overrides = cli_train.read_settings(type(saved_cfg), command.settings, "nacre train --resume RUN_DIR")
        trainer = resume_trainer(args.resume, device=overrides.pop("device", None), warn=_warn_line)
        change_run_options(trainer, args.resume, overrides, args.argv)
        run_dir, resumed = args.resume, True
    else:
        if args.algorithm is None or args.distribution is None:
            raise UserError(cli_train.usage_line())
        from nacre.envs.kwargs import check_env_kwargs
        from nacre.envs.registry import TaskDistributionError, make_distribution

        config_cls = cli_train.config_class(args.algorithm)  # the trainer (and torch) once the input is checked
        foreign = cli_train.foreign_settings(config_cls, command.settings, args.algorithm)
        if foreign:
            raise UserError(foreign)
        overrides = cli_train.read_settings(config_cls, command.settings, f"nacre train {args.algorithm}")
        try:
            check_env_kwargs(args.distribution, overrides.get("env_kwargs", {}))
        except TaskDistributionError as exc:  # "env_kwargs goal_radius=...: ... expects a number"
            raise UserError(f"--env-kwargs{str(exc).removeprefix('env_kwargs')}") from None
        make_distribution(args.distribution, **overrides.get("env_kwargs", {}))  # fail early on a bad id
        cfg = preset(args.algorithm, args.preset, args.distribution, **overrides)
        check_device(cfg.device)
        run_dir = args.run_dir or Path("runs") / run_dir_name(
            args.algorithm, args.distribution, cfg.seed, datetime.now().strftime("%Y%m%d-%H%M%S")
        )
        from nacre.training.loop import check_new_run_dir

        check_new_run_dir(run_dir)
        trainer = algorithm_classes(args.algorithm)[1](cfg)
        resumed = False
        overlap = _held_out_overlap(trainer)
        if overlap:
            _warn_line(overlap)
    cfg = trainer.cfg
    plural = "s" if cfg.num_iterations != 1 else ""
    print(f"nacre: {trainer.distribution.id}, run dir {run_dir}, {cfg.num_iterations} iteration{plural} "
          f"(starting at {trainer.iteration}), device {cfg.device}", file=sys.stderr)  # fmt: skip
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        total = cfg.num_iterations * cfg.grad_steps_per_iteration
        bar = tqdm(total=total, initial=trainer.iteration * cfg.grad_steps_per_iteration, unit="step",
                   desc="meta-train", mininterval=1.0, dynamic_ncols=True)  # fmt: skip

    def progress(kind: str, n: int) -> None:
        if bar is not None and kind == "grad_steps":
            bar.update(n)

    def on_iteration(it: int, metrics: dict[str, float]) -> None:
        if bar is not None and "returns/test" in metrics:
            bar.set_postfix(test_return=f"{metrics['returns/test']:.2f}", env_steps=int(metrics["time/env_steps"]))

    start, first = time.monotonic(), trainer.iteration
    try:
        train(trainer, run_dir, resumed=resumed, progress=progress, on_iteration=on_iteration,
              stop_after=args.iterations, tensorboard=not args.no_tensorboard, command=args.argv)  # fmt: skip
    except KeyboardInterrupt as exc:
        if bar is not None:
            bar.close()
            bar = None
        return _stopped(run_dir, trainer, exc)
    finally:
        if bar is not None:
            bar.close()
    if trainer.iteration >= cfg.num_iterations:
        result = trainer.evaluate(rng=np.random.default_rng(cfg.seed + 1))
        save_evaluation(run_dir, trainer, result, tag="final")
        print(_format_curve(trainer, result))
    done = trainer.iteration - first
    more = "" if trainer.iteration >= cfg.num_iterations else f"; continue with: nacre train --resume {run_dir}"
    print(f"nacre: {done} iteration{'s' if done != 1 else ''} in {time.monotonic() - start:.1f} s (iteration "
          f"{trainer.iteration} of {cfg.num_iterations}; {trainer.env_steps:,} env steps, {trainer.grad_steps:,} "
          f"gradient steps in all); run in {run_dir}{more}", file=sys.stderr)  # fmt: skip
    return 0


def _stopped(run_dir: Path, trainer: Any, exc: KeyboardInterrupt) -> int:
    """One line after Ctrl-C or SIGTERM stopped training: which checkpoint is kept and how to continue."""
    from nacre.training.checkpoint import list_checkpoints

    run_dir = Path(run_dir)
    for tmp in (*run_dir.glob(f".*.tmp-{os.getpid()}"), *(run_dir / "checkpoints").glob(f".*.tmp-{os.getpid()}")):
        tmp.unlink(missing_ok=True)  # a write cut short (its target file is intact)
    kept = list_checkpoints(run_dir / "checkpoints")
    saved = f"the checkpoint of iteration {kept[-1][0]} is kept" if kept else "no checkpoint yet (restarts at 0)"
    how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
    print(f"nacre: {how} during iteration {trainer.iteration + 1}; {saved}; continue with: "
          f"nacre train --resume {run_dir}", file=sys.stderr)  # fmt: skip
    return 143 if isinstance(exc, Terminated) else 130


# ---------------------------------------------------------------------- eval
def _format_curve(trainer: Any, result: Any) -> str:
    if hasattr(result, "steps"):
        return _format_offline(trainer, result)
    from nacre.evaluation.adaptation import format_adaptation

    return format_adaptation(
        result,
        trainer.cfg.test_return_index,
        trainer.iteration,
        trainer.env_steps,
        show_success=trainer.distribution.has_sparse_reward,
    )


def _format_offline(trainer: Any, result: Any) -> str:
    runs, tasks, _ = result.returns.shape
    q25, med, q75 = result.quantiles()
    asked = getattr(result, "requested_transitions", None)
    note = f" (of {asked} asked: the smallest task holds {result.num_transitions})" if asked else ""
    head = (f"offline adaptation on {tasks} held-out tasks x {runs} runs, {result.num_transitions} transitions "
            f"each{note} (iteration {trainer.iteration}, {trainer.grad_steps} outer steps):")  # fmt: skip
    column = "steps"
    if trainer.algorithm == "rl2-ppo":  # one trial per run: the points are the episodes of the trial
        head = (f"adaptation on {tasks} held-out tasks x {runs} runs, one trial of {len(result.steps)} episodes "
                f"each (iteration {trainer.iteration}, {trainer.env_steps:,} env steps):")  # fmt: skip
        column = "episode"
    elif getattr(result, "rollouts", 0):  # on-policy: each step samples its own rollouts
        rollouts = f"{result.rollouts} rollout{'s' if result.rollouts != 1 else ''}"
        head = (f"adaptation on {tasks} held-out tasks x {runs} runs, {rollouts} per step "
                f"(iteration {trainer.iteration}, {trainer.env_steps:,} env steps):")  # fmt: skip
    with_success = bool(getattr(result, "reports_success", False))
    header = f"  {column:>5}   mean return   median [25%, 75%]   diverged" + ("  success" if with_success else "")
    lines = [head, header]
    for j, n in enumerate(result.steps.tolist()):
        mean = np.nanmean(result.returns[:, :, j]) if not result.diverged[:, :, j].all() else float("nan")
        label = n + 1 if column == "episode" else n
        succ = f"  {np.asarray(result.success[:, :, j], dtype=float).mean():7.0%}" if with_success else ""
        lines.append(f"  {label:5d}  {mean:12.2f}   {med[j]:.2f} [{q25[j]:.2f}, {q75[j]:.2f}]"
                     f"   {result.diverged[:, :, j].mean():7.0%}{succ}")  # fmt: skip
    by_group = result.success_by_group(result.reported_column) if with_success else {}
    if len(by_group) > 1:
        n = int(result.steps[result.reported_column])
        lines.append(f"  success at {column} {n + 1 if column == 'episode' else n} per class:")
        lines += [f"    {g:<32} {v:6.0%}" for g, v in by_group.items()]
    return "\n".join(lines)


def _cmd_eval(args: argparse.Namespace) -> int:
    from nacre.evaluation.saving import save_evaluation
    from nacre.training.loop import load_trainer

    for name, value in (("--runs", args.runs), ("--trajectories", args.trajectories),
                        ("--transitions", args.transitions)):  # fmt: skip
        if value is not None and value <= 0:
            raise UserError(f"{name} must be positive, got {value}")
    if args.steps is not None and args.steps < 0:
        raise UserError(f"--steps must be 0 or more, got {args.steps}")
    from nacre.evaluation.runs import named_eval_tag

    tag = args.tasks
    if args.name is not None:
        if args.tasks != "test":
            raise UserError("--name is for evaluations on the test tasks")
        try:
            tag = named_eval_tag(args.name)
        except ValueError as exc:
            raise UserError(f"--name {exc}") from None
    trainer = load_trainer(args.run_dir, args.checkpoint, device=args.device, weights_only=True, warn=_warn_line)
    offline = trainer.algorithm != "pearl"
    if offline and args.trajectories is not None:
        raise UserError("--trajectories is for PEARL runs; offline methods take --transitions and --steps")
    if not offline and (args.transitions is not None or args.steps is not None):
        raise UserError(
            "--transitions and --steps are for the methods that adapt by test-time steps; PEARL takes --trajectories"
        )
    if args.test_time_guard is not None:
        if trainer.algorithm != "macaw":
            raise UserError("--test-time-guard is for MACAW runs")
        trainer.set_run_options(test_time_guard=args.test_time_guard == "true")
    steps = None if args.steps is None else list(range(args.steps + 1))
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=None, unit="episode batch" if offline else "trajectory", desc="meta-test",
                   mininterval=1.0)  # fmt: skip

    def progress(kind: str, n: int) -> None:  # the evaluator announces its total, then reports the work
        if bar is None:
            return
        if kind == "eval_total":
            bar.total = n
            bar.refresh()
        else:
            bar.update(n)

    rng = np.random.default_rng(args.seed)
    if offline:
        result = trainer.evaluate(args.tasks, args.runs, args.transitions, steps, rng=rng, progress=progress)
    else:
        result = trainer.evaluate(args.tasks, args.runs, args.trajectories, rng=rng, progress=progress)
    if bar is not None:
        bar.close()
    path = save_evaluation(args.run_dir, trainer, result, tag=tag)
    print(_format_curve(trainer, result))
    print(f"nacre: saved {path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- video
def _cmd_video(args: argparse.Namespace) -> int:
    from nacre.evaluation.video import SUFFIXES, VideoError, default_suffix, mp4_available, render_adaptation
    from nacre.training.loop import load_trainer

    for name, value in (("--trajectories", args.trajectories), ("--max-steps", args.max_steps), ("--fps", args.fps),
                        ("--every", args.every)):  # fmt: skip
        if value is not None and not value > 0:
            raise UserError(f"{name} must be positive, got {value}")
    if args.task_index < 0:
        raise UserError(f"--task-index must be 0 or more, got {args.task_index}")
    prefix = "" if args.tasks == "test" else "train_"
    out = args.out or Path(args.run_dir) / "videos" / f"{prefix}task{args.task_index}{default_suffix()}"
    if out.suffix.lower() not in SUFFIXES:
        raise UserError(f"--out must end in .mp4 or .gif, got {out.name!r}")
    if out.suffix.lower() == ".mp4" and not mp4_available():
        raise UserError("writing MP4 needs imageio-ffmpeg: pip install nacre-rl[video] (or pass --out PATH.gif)")
    trainer = load_trainer(args.run_dir, args.checkpoint, device=args.device, weights_only=True, warn=_warn_line)
    if trainer.algorithm != "pearl":
        raise UserError(f"nacre video renders PEARL's online adaptation; {trainer.algorithm} runs are not supported")
    try:
        path = render_adaptation(trainer, args.task_index, args.trajectories, out, fps=args.fps, tasks=args.tasks,
                                 rng=np.random.default_rng(args.seed), max_steps=args.max_steps,
                                 every=args.every)  # fmt: skip
    except VideoError as exc:
        raise UserError(str(exc)) from None
    print(f"nacre: wrote {path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- plot / list
#: image types ``nacre plot --out`` writes (matplotlib picks the format from the suffix)
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".tif", ".tiff")


def _plot_algorithm(run_dir: Path) -> str:
    """The algorithm of a run to plot; :class:`UserError` if there is no run or nothing logged yet."""
    from nacre.logging import read_jsonl

    if not run_dir.exists():
        raise UserError(f"{run_dir}: no such directory")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a directory")
    if not (run_dir / "config.json").is_file():
        raise UserError(f"{run_dir} is not a nacre run directory (no config.json)")
    try:
        algorithm = str(json.loads((run_dir / "config.json").read_text()).get("algorithm", "pearl"))
        logged = (run_dir / "progress.jsonl").is_file() and read_jsonl(run_dir / "progress.jsonl")
    except (OSError, ValueError, AttributeError) as exc:
        raise UserError(f"{run_dir} is unreadable: {exc}") from None
    if not logged:
        raise UserError(f"{run_dir} has no logged iteration yet (no rows in progress.jsonl): nothing to plot")
    return algorithm


def _check_writable(path: Path, flag: str) -> None:
    if path.is_dir():
        raise UserError(f"{flag} {path} is a directory")
    from nacre.training.loop import creation_problem

    problem = creation_problem(path.parent)
    if problem:
        raise UserError(f"cannot write {path}: {problem}")


def _cmd_plot(args: argparse.Namespace) -> int:
    from nacre.evaluation.plots import plot_runs

    out = args.out or Path(args.run_dirs[0]) / "curves.png"
    if not out.suffix:
        out = out.with_name(out.name + ".png")  # matplotlib's default format, named as written
    elif out.suffix.lower() not in PLOT_SUFFIXES:
        raise UserError(f"--out {out}: unknown image type {out.suffix!r} (use {', '.join(PLOT_SUFFIXES)})")
    from nacre.algos.onpolicy import ON_POLICY_ALGORITHMS

    algorithms = {rd: _plot_algorithm(Path(rd)) for rd in args.run_dirs}
    is_online = lambda a: a == "pearl" or a in ON_POLICY_ALGORITHMS  # they take env steps
    online = [str(rd) for rd, a in algorithms.items() if is_online(a)]
    if online and len(online) < len(algorithms):
        offline = [f"{rd} ({a})" for rd, a in algorithms.items() if not is_online(a)]
        raise UserError(f"cannot plot online runs ({', '.join(online)}) with offline runs ({', '.join(offline)}): "
                        "their axes differ (env steps vs gradient steps); plot them separately")  # fmt: skip
    _check_writable(out, "--out")
    try:
        plot_runs(args.run_dirs, out, labels=args.label, log_x=args.log_x)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"nacre: wrote {out}", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from nacre.algos.pearl.config import PRESETS
    from nacre.envs.registry import make_distribution, registered_ids

    print("task distributions:")
    for dist_id in registered_ids():
        print(f"  {make_distribution(dist_id).describe()}")
    from nacre.algos.macaw.config import PRESETS as MACAW_PRESETS
    from nacre.algos.registry import ALGORITHMS

    print(f"algorithms (nacre train ALGORITHM ...): {', '.join(ALGORITHMS)}")
    print(f"PEARL presets: {', '.join(PRESETS)}")
    print(
        f"offline presets (macaw, offline-pearl: PEARL's, mt-finetune): {', '.join(MACAW_PRESETS)}; "
        "offline methods train from a dataset (nacre dataset generate)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
