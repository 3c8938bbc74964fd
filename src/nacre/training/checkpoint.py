"""Complete, atomic checkpoints: write to a temporary file, fsync, rename.

Payloads are nested dicts of tensors, numpy arrays and plain values; numpy arrays are stored as
tensors so files load with ``torch.load(weights_only=True)`` (no arbitrary code runs on load).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where a checkpoint is written or read, not with this module
    import torch

FORMAT = "nacre-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^iter_(\d{6,})\.pt$")
_NUMPY_TAG = "__numpy__"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, truncated or incompatible."""


class CorruptCheckpoint(CheckpointError):
    """A checkpoint file is damaged (truncated, not a torch archive, not a nacre checkpoint)."""


def short_reason(exc: BaseException, width: int = 160) -> str:
    """The first line of ``exc``'s message (its type name if empty); a longer line is cut at a sentence or word
    boundary, never inside a word, and ends with `` ...``."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if not text:
        return type(exc).__name__
    if len(text) <= width:
        return text
    head = text[:width]
    sentence = head.rfind(". ")
    if sentence >= width // 3:
        return head[: sentence + 1] + " ..."
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head).rstrip(" ,;:") + " ..."


def run_header(trainer: Any) -> dict[str, Any]:
    """What every trainer's checkpoint starts with: algorithm, config, distribution id and the frozen tasks."""
    from nacre.envs.base import task_to_json

    return {
        "algorithm": trainer.algorithm,
        "config": trainer.cfg.to_dict(),
        "distribution": trainer.distribution.id,
        "tasks": {"train": [task_to_json(t) for t in trainer.split.train],
                  "test": [task_to_json(t) for t in trainer.split.test]},
    }  # fmt: skip


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        import torch

        return {_NUMPY_TAG: torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_encode(v) for v in obj)
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_NUMPY_TAG}:
            return obj[_NUMPY_TAG].numpy()
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_decode(v) for v in obj)
    return obj


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Atomically save ``payload`` (with format tags added)."""
    import torch

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **_encode(payload)}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check a checkpoint; raise :class:`CheckpointError` with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    import torch

    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for damaged archives
        raise CorruptCheckpoint(f"checkpoint {path} is corrupt or truncated ({short_reason(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CorruptCheckpoint(f"{path} is not a nacre checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {payload.get('format_version')}, "
            f"this nacre reads version {FORMAT_VERSION}"
        )
    return _decode(payload)


def checkpoint_path(directory: Path, iteration: int) -> Path:
    return Path(directory) / f"iter_{iteration:06d}.pt"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(iteration, path) of the checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m[1]), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for _, path in list_checkpoints(directory)[:-keep]:
        path.unlink(missing_ok=True)
