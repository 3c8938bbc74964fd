"""Evaluation results in a run directory: ``eval/adaptation_iterNNNNNN_<tag>.npz`` and a JSON summary beside it.

``nacre train`` (its final evaluation), ``nacre eval`` and sweep trials write them; ``nacre plot`` and
``nacre report`` read them (:func:`nacre.evaluation.runs.latest_eval`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from nacre.training.checkpoint import atomic_write_bytes


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    """A JSON-safe list: NaN (all adaptations diverged) becomes null."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def save_evaluation(run_dir: Path, trainer: Any, result: Any, tag: str) -> Path:
    """Write ``result`` (an adaptation result with ``to_dict``) of ``trainer``'s current iteration atomically;
    ``tag`` is ``test``, ``train`` or ``final``, or ``test-NAME`` for ``nacre eval --name NAME`` (kept beside the
    unnamed evaluation of the same iteration instead of replacing it). Returns the ``.npz`` path."""
    out_dir = Path(run_dir) / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"adaptation_iter{trainer.iteration:06d}_{tag}.npz"
    buf = io.BytesIO()
    np.savez(buf, **result.to_dict(), iteration=trainer.iteration, env_steps=trainer.env_steps)
    atomic_write_bytes(path, buf.getvalue())
    summary: dict[str, Any] = {"iteration": trainer.iteration, "env_steps": trainer.env_steps,
                               "grad_steps": trainer.grad_steps}  # fmt: skip
    if hasattr(result, "steps"):  # offline / on-policy adaptation: one column per number of test-time steps
        summary.update({"adaptation_steps": result.steps.tolist(), "num_transitions": result.num_transitions,
                        "mean_return_per_steps": _nan_to_none(np.nanmean(result.returns, axis=(0, 1))),
                        "return_quantiles_25_50_75": [_nan_to_none(q) for q in result.quantiles()],
                        "diverged_per_steps": result.diverged.mean(axis=(0, 1)).tolist()})  # fmt: skip
        if getattr(result, "reports_success", False):
            summary["success_per_steps"] = np.asarray(result.success, dtype=float).mean(axis=(0, 1)).tolist()
            by_group = result.success_by_group(result.reported_column)
            if by_group:
                summary["success_per_class"] = by_group
    else:
        summary.update({"test_return_index": trainer.cfg.test_return_index,
                        "mean_return_per_trajectory": result.returns.mean(axis=(0, 1)).tolist(),
                        "success_per_trajectory": result.success.mean(axis=(0, 1)).tolist(),
                        "found_by_trajectory": result.found.mean(axis=(0, 1)).tolist()})  # fmt: skip
        by_group = result.success_by_group(trainer.cfg.test_return_index)
        if by_group:
            summary["success_per_class"] = by_group  # of the reported trajectory
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(summary, indent=1) + "\n").encode())
    return path
