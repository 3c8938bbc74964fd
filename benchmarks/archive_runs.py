"""Keep the small files of finished runs (no checkpoints) in ``benchmarks/results/`` so that the figures in
BENCHMARKS.md can be recomputed after the machine that trained them is gone.

Usage: ``python benchmarks/archive_runs.py RUN_DIR [RUN_DIR ...] --out benchmarks/results/NAME``

Copies, per run, ``config.json``, ``tasks.json``, ``progress.csv``, ``progress.jsonl`` and the saved
evaluations in ``eval/`` into ``OUT/<run name>/`` (about 100 KB a run). ``nacre report``, ``nacre plot`` and
``benchmarks/summarize_runs.py`` read such a copy as they read the run; ``nacre train --resume`` cannot (no
checkpoints). A run whose copy already exists is refreshed (the files are replaced one by one).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

KEPT_FILES = ("config.json", "tasks.json", "progress.csv", "progress.jsonl")


def archive_run(run_dir: Path, out: Path) -> list[Path]:
    """Copy the small files of ``run_dir`` into ``out / run_dir.name``; returns the copied paths."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir} is not a nacre run directory (no config.json)")
    dest = Path(out) / run_dir.name
    dest.mkdir(parents=True, exist_ok=True)
    sources = [run_dir / name for name in KEPT_FILES if (run_dir / name).is_file()]
    if (run_dir / "eval").is_dir():
        sources += sorted(p for p in (run_dir / "eval").iterdir() if p.suffix in (".npz", ".json"))
    copied = []
    for src in sources:
        target = dest / src.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(target)
        copied.append(target)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    total = 0
    for run_dir in args.run_dirs:
        try:
            copied = archive_run(run_dir, args.out)
        except (ValueError, OSError) as exc:
            print(f"archive_runs: error: {exc}", file=sys.stderr)
            return 2
        size = sum(p.stat().st_size for p in copied)
        total += size
        print(f"{run_dir.name}: {len(copied)} files, {size / 1024:.0f} KiB")
    print(f"{len(args.run_dirs)} runs, {total / 1024:.0f} KiB in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
