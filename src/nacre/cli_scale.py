"""``nacre sweep`` and ``nacre reproduce``: sweeps of training runs on Ray (:mod:`nacre.scale`, docs/scale.md).

Problems with what was asked (a malformed spec, a missing dataset, Ray not installed, a run directory of another
config) print one line ``nacre: error: ...`` and return 2, before anything runs. A sweep in which some trials
failed returns 1 (rerunning the same command resumes them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address",
        default=None,
        help="join this Ray cluster (e.g. auto, or HOST:6379); default: a local Ray on this machine",
    )
    parser.add_argument("--root", type=Path, default=None, metavar="DIR", help="where the run directories go")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="fills {data_root} in the spec's dataset paths (default: data)",
    )
    parser.add_argument(
        "--cpus-per-trial",
        type=float,
        default=1.0,
        metavar="N",
        help="Ray CPUs per trial; torch uses that many threads (default: 1)",
    )
    parser.add_argument(
        "--gpus-per-trial",
        type=float,
        default=0.0,
        metavar="F",
        help="Ray GPUs per trial, fractions allowed; trials then train on cuda (default: 0)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        metavar="N",
        help="at most N trials at once (default: as many as the resources allow)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="N",
        help="restart a failed trial up to N times; it resumes from its checkpoint (default: 0)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="run only these seeds' trials (the others can run later into the same root)",
    )
    parser.add_argument(
        "--algorithms",
        nargs="+",
        default=None,
        metavar="ALGO",
        help="run only these algorithms' trials (names as in the spec)",
    )
    parser.add_argument(
        "--distributions",
        nargs="+",
        default=None,
        metavar="DIST",
        help="run only the trials on these distributions (names as in the spec)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the spec and list every trial's state (new, resume, done, skipped); run nothing",
    )


def add_scale_parsers(sub: Any) -> None:
    """Create ``nacre sweep`` and ``nacre reproduce`` on the top-level subparsers ``sub``."""
    sweep = sub.add_parser("sweep", help="run a grid of training runs on Ray (resumable; see docs/scale.md)",
                           description="Run every trial of a sweep spec (YAML or TOML) as a Ray Tune trial that "
                                       "writes the run directory nacre train writes. Rerunning skips finished "
                                       "trials and resumes unfinished ones.")  # fmt: skip
    sweep.add_argument("spec", type=Path, metavar="SPEC", help="sweep spec file (.yaml, .yml or .toml)")
    sweep.add_argument("--scale", default=None, help="one of the spec's scales (when it defines some)")
    _common(sweep)
    sweep.set_defaults(handler=cmd_sweep)

    from nacre.scale.reproduce import available_specs

    names = available_specs()
    rep = sub.add_parser("reproduce", help="a paper figure: its sweep on Ray, then nacre report",
                         description="Run a shipped spec (a paper figure) and report on its runs. Specs: "
                                     f"{', '.join(names)}.")  # fmt: skip
    rep.add_argument("name", choices=names, metavar="NAME", help=f"one of: {', '.join(names)}")
    rep.add_argument("--scale", required=True, metavar="SCALE",
                     help="cpu: a few hours on 2 cores; paper: the papers' budgets; a spec may define more "
                          "(pearl-fig2: cpu-1m, PEARL to 1M env steps and the on-policy methods to 20M)")  # fmt: skip
    rep.add_argument("--no-report", action="store_true", help="run the sweep only")
    _common(rep)
    rep.set_defaults(handler=cmd_reproduce)


def _error(message: str) -> int:
    print(f"nacre: error: {message}", file=sys.stderr)
    return 2


def _selected(spec: Any, args: argparse.Namespace) -> Any:
    from nacre.scale.spec import select_trials

    return select_trials(spec, seeds=args.seeds, algorithms=args.algorithms, distributions=args.distributions)


def _dry_run(spec: Any, root: Path) -> int:
    from nacre.scale.sweep import describe_plan, plan, unavailable_lines

    plans = plan(spec, root)
    for line in unavailable_lines(plans):
        print(f"nacre: {line}", file=sys.stderr)
    width = max(len(p.trial.name) for p in plans)
    for p in plans:
        if p.state != "unavailable":
            print(f"{p.state:<7} {p.trial.name:<{width}}  {p.detail}".rstrip())
    print(f"nacre: dry run of {spec.name}{f' ({spec.scale})' if spec.scale else ''} in {root}: "
          f"{describe_plan(plans)}", file=sys.stderr)  # fmt: skip
    return 0


def _finish(result: Any, command: str) -> int:
    if result.failed:
        print(f"nacre: {len(result.failed)} of {len(result.plans)} trials failed; rerun the same command to resume "
              f"them ({command})", file=sys.stderr)  # fmt: skip
        return 1
    ran = len(result.finished)
    print(f"nacre: {ran} trial{'s' if ran != 1 else ''} trained in {result.seconds:.0f} s, "
          f"{len(result.skipped_done)} already done, {len(result.unavailable)} skipped; runs in {result.root}",
          file=sys.stderr)  # fmt: skip
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from nacre.scale import ScaleError
    from nacre.scale.spec import load_spec
    from nacre.scale.sweep import run_sweep

    try:
        spec = _selected(load_spec(args.spec, scale=args.scale, data_root=args.data_root), args)
        root = args.root or Path("runs") / spec.name
        if args.dry_run:
            return _dry_run(spec, root)
        from nacre.scale import require_ray

        require_ray()
        result = run_sweep(spec, root, address=args.address, cpus_per_trial=args.cpus_per_trial,
                           gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                           retries=args.retries)  # fmt: skip
    except ScaleError as exc:
        return _error(str(exc))
    return _finish(result, f"nacre sweep {args.spec}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    from nacre.scale import ScaleError
    from nacre.scale.reproduce import load_shipped, reproduce

    try:
        root = args.root or Path("runs") / f"{args.name}-{args.scale}"
        if args.dry_run:
            return _dry_run(_selected(load_shipped(args.name, args.scale, args.data_root), args), root)
        from nacre.scale import require_ray

        require_ray()
        done = reproduce(args.name, args.scale, root=root, data_root=args.data_root, address=args.address,
                         cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                         max_concurrent=args.max_concurrent, retries=args.retries,
                         report=not args.no_report, seeds=args.seeds, algorithms=args.algorithms,
                         distributions=args.distributions)  # fmt: skip
    except ScaleError as exc:
        return _error(str(exc))
    return _finish(done.sweep, f"nacre reproduce {args.name} --scale {args.scale}")
