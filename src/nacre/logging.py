"""Run logs: per-iteration JSONL (source of truth), a CSV view of it, and TensorBoard scalars.

Learners return metrics; this writer stores them. On resume, rows newer than the checkpoint are
dropped so the logs match the restored state.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from nacre.training.checkpoint import atomic_write_bytes


class RunLogger:
    """Writes ``progress.jsonl``, ``progress.csv`` and ``tb/`` inside a run directory."""

    def __init__(self, run_dir: Path, resume_after: int | None = None, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.jsonl = self.run_dir / "progress.jsonl"
        self.csv = self.run_dir / "progress.csv"
        self.rows: list[dict[str, Any]] = []
        if resume_after is not None and self.jsonl.exists():
            self.rows = [r for r in read_jsonl(self.jsonl) if r.get("iteration", 0) <= resume_after]
            self._rewrite()
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_after is None else resume_after + 1
            self._writer = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=purge)

    def log(self, iteration: int, metrics: dict[str, float]) -> None:
        row = {"iteration": iteration, **{k: _clean(v) for k, v in metrics.items()}}
        self.rows.append(row)
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        self._write_csv()
        if self._writer is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self._writer.add_scalar(key, value, iteration)
            self._writer.flush()

    def _rewrite(self) -> None:
        atomic_write_bytes(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.rows).encode())
        self._write_csv()

    def _write_csv(self) -> None:
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.csv, out.getvalue().encode())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (crash mid-write) is skipped."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
