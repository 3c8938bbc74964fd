"""The ``nacre dataset`` command group: ``info`` and ``verify`` (and, later, ``generate``).

Each subcommand sets ``dataset_handler`` on its parser (``set_defaults``); :func:`cmd_dataset` dispatches to it.
To add a subcommand, create its parser on the ``dataset`` subparsers in :func:`add_dataset_parser` (the marked
spot) and give it a ``dataset_handler``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def add_dataset_parser(sub: Any) -> argparse.ArgumentParser:
    """Create ``nacre dataset ...`` on the top-level subparsers ``sub``."""
    dataset = sub.add_parser("dataset", help="offline datasets (one Minari dataset per task): info, verify, generate")
    dataset_sub = dataset.add_subparsers(dest="dataset_command", required=True)
    add_info_verify_parsers(dataset_sub)
    # --- `nacre dataset generate` goes here: add its parser to dataset_sub with set_defaults(dataset_handler=...)
    add_generate_parser(dataset_sub)
    return dataset


def add_info_verify_parsers(dataset_subparsers: Any) -> None:
    """Add ``info`` and ``verify`` to the ``dataset`` subparsers."""
    info = dataset_subparsers.add_parser("info", help="per-task table: split, task, size, returns, behaviour steps")
    info.add_argument("root", type=Path, help="dataset root (the directory holding manifest.json)")
    info.set_defaults(dataset_handler=cmd_info)
    verify = dataset_subparsers.add_parser("verify", help="check completeness, checksums, contents (exit 1 if not OK)")
    verify.add_argument("root", type=Path, help="dataset root (the directory holding manifest.json)")
    verify.set_defaults(dataset_handler=cmd_verify)


def cmd_dataset(args: argparse.Namespace) -> int:
    """Run the chosen ``nacre dataset`` subcommand."""
    return args.dataset_handler(args)


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _task_text(task: Any, width: int = 28) -> str:
    import json

    text = json.dumps(task, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def cmd_info(args: argparse.Namespace) -> int:
    from nacre.datasets.store import data_fingerprint, dataset_info, read_manifest

    manifest = read_manifest(args.root)
    rows = dataset_info(args.root)
    done = sum(r["finished"] for r in rows)
    fingerprint = data_fingerprint({str(r["index"]): r["checksum"] for r in rows})
    print(f"{args.root}: {manifest['distribution_id']}, {done}/{len(rows)} tasks finished, "
          f"format {manifest['format_version']}, nacre {manifest['nacre_version']}, "
          f"fingerprint {fingerprint[:12]} (of the finished tasks' data)")  # fmt: skip
    header = (f"{'task':>4}  {'split':<10} {'params':<28} {'episodes':>8} {'transitions':>11} {'ret mean':>9} "
              f"{'ret min':>9} {'ret max':>9} {'last10%':>9} {'behaviour steps':>17} {'MB':>7}  sha256")  # fmt: skip
    print(header)
    for r in rows:
        steps = "-" if r["behaviour_step_min"] is None else f"{r['behaviour_step_min']}-{r['behaviour_step_max']}"
        size = None if r["size_bytes"] is None else r["size_bytes"] / 1e6
        print(f"{r['index']:>4}  {r['split']:<10} {_task_text(r['task']):<28} {_fmt(r['episodes'], 'd'):>8} "
              f"{_fmt(r['transitions'], 'd'):>11} {_fmt(r['return_mean']):>9} {_fmt(r['return_min']):>9} "
              f"{_fmt(r['return_max']):>9} {_fmt(r['return_last10pct_mean']):>9} {steps:>17} {_fmt(size, '.1f'):>7}  "
              f"{(r['checksum'] or 'not finished')[:12]}")  # fmt: skip
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from nacre.datasets.store import verify_dataset

    problems = verify_dataset(args.root)
    if not problems:
        print(f"{args.root}: OK")
        return 0
    print(f"{args.root}: {len(problems)} problem(s)")
    for p in problems:
        print(f"  {p}")
    print(f"nacre: dataset {args.root} failed verification", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------- generate
def add_generate_parser(dataset_subparsers: Any) -> None:
    """Add ``generate`` (SAC behaviour data for every task of a distribution) to the ``dataset`` subparsers."""
    gen = dataset_subparsers.add_parser(
        "generate", help="behaviour data: the lifetime replay data of SAC learning each task (resumable)"
    )
    gen.add_argument("distribution", help="task distribution id, e.g. macaw-cheetah-vel or point-robot")
    gen.add_argument("--out", type=Path, required=True, metavar="ROOT", help="dataset root to create or resume")
    gen.add_argument("--preset", default="fast", help="paper | fast | multi-task | tiny (default: fast)")
    gen.add_argument("--behaviour", choices=["per-task", "multi-task"], default=None,
                     help="per-task: a fresh SAC per task (paper); multi-task: one task-conditioned SAC")  # fmt: skip
    gen.add_argument("--steps-per-task", type=int, default=None, help="env steps (transitions) per task")
    gen.add_argument("--seed", type=int, default=None, help="seed of the SAC agents and episodes (default: 0)")
    gen.add_argument("--split-seed", type=int, default=0, help="seed of the task split (sampled families)")
    gen.add_argument("--n-train", type=int, default=None, help="train tasks (sampled families; default 35)")
    gen.add_argument("--n-test", type=int, default=None, help="test tasks (sampled families; default 5)")
    group = gen.add_argument_group("SAC settings (override the preset)")
    for flag, kind in (("hidden-size", int), ("hidden-layers", int), ("batch-size", int),
                       ("updates-per-step", float), ("random-steps", int), ("replay-capacity", int),
                       ("checkpoint-every", int)):  # fmt: skip
        group.add_argument(f"--{flag}", type=kind, default=None)
    gen.add_argument(
        "--precision",
        choices=["fp32", "bf16", "auto"],
        default=None,
        help="SAC matmul precision (presets: auto = bf16 only on hardware with bf16 matrix units)",
    )
    gen.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="per-task: generate only tasks i with i %% N == K (run N processes, one per shard)",
    )
    gen.add_argument("--device", default=None, help="where SAC runs: cpu (default), cuda, cuda:N")
    gen.add_argument("--ray", action="store_true",
                     help="per-task: run the tasks as parallel Ray tasks (this machine, or --address; needs the "
                          "ray extra)")  # fmt: skip
    gen.add_argument("--address", default=None, help="with --ray: join this Ray cluster (e.g. auto)")
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    gen.set_defaults(dataset_handler=cmd_generate)


def _parse_shard(text: str) -> tuple[int, int]:
    from nacre.datasets.store import DatasetError

    k, sep, n = text.partition("/")
    try:
        return int(k), int(n)
    except ValueError:
        raise DatasetError(f"--shard must be K/N (e.g. 0/2), got {text!r}") from None


def cmd_generate(args: argparse.Namespace) -> int:
    from nacre.datasets.generate import generate_datasets, preset
    from nacre.datasets.store import DatasetError
    from nacre.training.loop import check_device

    names = ("behaviour", "steps_per_task", "seed", "hidden_size", "hidden_layers", "batch_size",
             "updates_per_step", "random_steps", "replay_capacity", "checkpoint_every", "device",
             "precision")  # fmt: skip
    bar, state = None, {"tasks_total": 0, "tasks_done": 0}
    started = time.monotonic()

    def progress(kind: str, n: int) -> None:
        nonlocal bar
        if kind == "env_steps_total" and not args.no_progress:
            from tqdm import tqdm

            bar = tqdm(total=n, unit="step", desc="generate", mininterval=1.0, dynamic_ncols=True)
            bar.set_postfix(tasks=f"{state['tasks_done']}/{state['tasks_total']}")
        elif kind in state:
            state[kind] += n
            if kind == "tasks_done" and n and args.no_progress:  # a line per finished task, for logs
                minutes = (time.monotonic() - started) / 60
                print(f"nacre: {state['tasks_done']}/{state['tasks_total']} tasks finished ({minutes:.1f} min)",
                      file=sys.stderr, flush=True)  # fmt: skip
        elif kind == "env_steps" and bar is not None:
            bar.update(n)
        if bar is not None and kind.startswith("tasks"):
            bar.set_postfix(tasks=f"{state['tasks_done']}/{state['tasks_total']}")

    try:
        shard = _parse_shard(args.shard) if args.shard else None
        settings = preset(args.preset, **{k: getattr(args, k) for k in names})
        check_device(settings.device)
        print(f"nacre: generating {args.distribution} into {args.out}: {settings.behaviour} SAC, "
              f"at least {settings.steps_per_task} steps per task (whole episodes), seed {settings.seed}",
              file=sys.stderr)  # fmt: skip
        if args.address is not None and not args.ray:
            raise DatasetError("--address joins a Ray cluster: give --ray as well")
        run, extra = generate_datasets, {}
        if args.ray:  # one Ray task per task (nacre.scale.generate): same data, same manifest
            from nacre.scale.generate import generate_with_ray as run

            extra = {"address": args.address}
        run(args.distribution, args.out, split_seed=args.split_seed, n_train=args.n_train, n_test=args.n_test,
            settings=settings, progress=progress, shard=shard, **extra)  # fmt: skip
    except DatasetError as exc:
        print(f"nacre: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nacre: interrupted; finished tasks and the last checkpoint are kept: rerun the same command to "
              f"resume {args.out}", file=sys.stderr)  # fmt: skip
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"nacre: {state['tasks_total']} tasks written to {args.out} (nacre dataset verify {args.out})",
          file=sys.stderr)  # fmt: skip
    return 0
