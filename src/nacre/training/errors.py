"""Errors of a training run shared by every algorithm's trainer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the error class loads without torch (the CLI names it before any training starts)
    import torch


class TrainingDiverged(RuntimeError):
    """A loss or a parameter became NaN/inf."""


def check_finite(metrics: dict[str, float], named_parameters: Iterable[tuple[str, torch.Tensor]],
                 iteration: int) -> None:  # fmt: skip
    """Raise :class:`TrainingDiverged` naming the first non-finite metrics (else parameters) of ``iteration``."""
    bad = [k for k, v in metrics.items() if not np.isfinite(v)]
    if not bad:
        import torch

        bad = [name for name, p in named_parameters if not torch.isfinite(p).all()]
    if bad:
        raise TrainingDiverged(f"non-finite values ({', '.join(bad[:3])}) in iteration {iteration}; training stopped")
