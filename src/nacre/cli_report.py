"""The ``nacre report`` command: statistics across seeds (IQM, bootstrap intervals, probability of improvement)
for run directories, written as ``report.md``, PNG/SVG figures, CSV and JSON (:mod:`nacre.evaluation.report`).

Errors in what was asked (a missing or non-run directory, a damaged file, an unwritable ``--out``) print one line
``nacre: error: ...`` and return 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

#: ``--metric`` choices (the arrays of ``nacre eval``'s files they read)
METRIC_CHOICES = ("return", "dense-return", "success")


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Create ``nacre report`` on the top-level subparsers ``sub``; its handler is ``args.handler``."""
    report = sub.add_parser(
        "report", help="statistics across seeds: IQM with bootstrap CIs, probability of improvement (md, PNG, CSV)",
        description="Group run directories into experiments (same algorithm, distribution and config apart from "
                    "the seed) and report curves and final scores across seeds with stratified-bootstrap "
                    "confidence intervals. See docs/report.md.",
    )  # fmt: skip
    report.add_argument("run_dirs", type=Path, nargs="*", metavar="RUN_DIR", help="run directories (e.g. runs/*)")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write the report into")
    report.add_argument("--metric", choices=METRIC_CHOICES, default="return",
                        help="score of the adaptation curves and final tables (default: return)")  # fmt: skip
    report.add_argument("--bootstrap-reps", type=int, default=2000, metavar="N",
                        help="bootstrap resamples per interval (default: 2000)")  # fmt: skip
    report.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default: 0)")
    report.add_argument("--confidence", type=float, default=0.95,
                        help="confidence level of the intervals (default: 0.95)")  # fmt: skip
    report.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="GAMMA",
        help="optimality-gap threshold (default: 1.0 for --metric success, none for returns)",
    )
    report.add_argument("--label", action="append", default=None,
                        help="name of a group of runs, once per group in order of first appearance")  # fmt: skip
    report.add_argument(
        "--evaluation",
        default=None,
        metavar="NAME",
        help="use the evaluations saved by nacre eval --name NAME (default: the unnamed ones)",
    )
    report.add_argument("--reference", default=None, metavar="LABEL",
                        help="group whose return the sample-efficiency table measures the others against "
                             "(default: the PEARL group of each distribution)")  # fmt: skip
    report.add_argument("--reference-steps", type=float, default=None, metavar="N",
                        help="env steps at which the reference's return is read (default: its last logged point; "
                             "the PEARL paper compares at 1e6 on some domains)")  # fmt: skip
    report.add_argument("--efficiency-window", type=int, default=3, metavar="N",
                        help="sample efficiency reads every learning curve averaged over its last N logged points "
                             "(default 3; 1: the raw points)")  # fmt: skip
    report.set_defaults(handler=cmd_report)
    return report


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report; one-line errors and status 2 for bad input."""
    from nacre.evaluation.report import ReportError, ReportOptions, counted, write_report

    try:
        options = ReportOptions(metric=args.metric, reps=args.bootstrap_reps, seed=args.seed,
                                confidence=args.confidence, threshold=args.threshold, labels=args.label,
                                reference=args.reference, reference_steps=args.reference_steps,
                                efficiency_window=args.efficiency_window, evaluation=args.evaluation)  # fmt: skip
        report = write_report(args.run_dirs, args.out, options, command=_command_line(args))
    except ReportError as exc:
        print(f"nacre: error: {exc}", file=sys.stderr)
        return 2
    print(f"nacre: {counted(len(report.runs), 'run')} in {counted(len(report.groups), 'group')}; wrote "
          f"{args.out / 'report.md'} and {counted(len(report.files) - 1, 'more file')}", file=sys.stderr)  # fmt: skip
    return 0


def _command_line(args: argparse.Namespace) -> str:
    """The ``nacre report`` command that reproduces this report (options at their defaults left out)."""
    words = ["nacre", "report", *map(str, args.run_dirs), "--out", str(args.out)]
    for flag, value, default in (("--metric", args.metric, "return"), ("--bootstrap-reps", args.bootstrap_reps, 2000),
                                 ("--seed", args.seed, 0), ("--confidence", args.confidence, 0.95),
                                 ("--threshold", args.threshold, None), ("--evaluation", args.evaluation, None),
                                 ("--reference", args.reference, None),
                                 ("--reference-steps", args.reference_steps, None),
                                 ("--efficiency-window", args.efficiency_window, 3)):  # fmt: skip
        if value != default:
            words += [flag, str(value)]
    for label in args.label or []:
        words += ["--label", label]
    return shlex.join(words)
