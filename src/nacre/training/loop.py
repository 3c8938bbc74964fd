"""Run directories and the meta-training loop: iterate, log, evaluate, checkpoint, resume.

A run directory holds ``config.json`` (the resolved config), ``tasks.json``, ``progress.jsonl`` /
``progress.csv``, ``tb/`` (TensorBoard) and ``checkpoints/iter_NNNNNN.pt``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacre import __version__
from nacre.config import ConfigBase
from nacre.logging import RunLogger
from nacre.training.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from nacre.types import Progress

#: algorithm name -> (config class, trainer class), imported on first use
ALGORITHMS: dict[str, tuple[str, str]] = {
    "pearl": ("nacre.algos.pearl.config:PearlConfig", "nacre.algos.pearl.trainer:PearlTrainer"),
    "macaw": ("nacre.algos.macaw.config:MacawConfig", "nacre.algos.macaw.trainer:MacawTrainer"),
    "mt-finetune": ("nacre.algos.mtft.config:MtftConfig", "nacre.algos.mtft.trainer:MtftTrainer"),
    "offline-pearl": ("nacre.algos.pearl.config:PearlConfig", "nacre.algos.pearl.offline:OfflinePearlTrainer"),
}

#: what the loop needs of a trainer (PearlTrainer, MacawTrainer): cfg, distribution, split, iteration,
#: train_iteration, evaluate, eval_metrics, state_dict, load_state_dict
Trainer = Any


def algorithm_classes(algorithm: str) -> tuple[type[ConfigBase], type]:
    """The config and trainer classes of ``algorithm``."""
    if algorithm not in ALGORITHMS:
        raise RunDirError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    loaded = []
    for spec in ALGORITHMS[algorithm]:
        module, _, name = spec.partition(":")
        loaded.append(getattr(importlib.import_module(module), name))
    return loaded[0], loaded[1]


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked (it would overwrite a run, or holds none)."""


def check_new_run_dir(run_dir: Path) -> None:
    """Refuse a directory that already holds a run (nothing of it may be overwritten)."""
    run_dir = Path(run_dir)
    if (run_dir / "config.json").exists() or list_checkpoints(run_dir / "checkpoints"):
        raise RunDirError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --run-dir")


def write_run_files(run_dir: Path, trainer: Trainer) -> None:
    """Create a new run directory; refuse to reuse one that already holds a run."""
    run_dir = Path(run_dir)
    check_new_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {"nacre_version": __version__, "algorithm": trainer.algorithm,
            "distribution": trainer.distribution.id, "config": trainer.cfg.to_dict()}  # fmt: skip
    atomic_write_bytes(run_dir / "config.json", (json.dumps(meta, indent=2) + "\n").encode())
    tasks = {"train": [dict(t) for t in trainer.split.train], "test": [dict(t) for t in trainer.split.test]}
    atomic_write_bytes(run_dir / "tasks.json", (json.dumps(tasks, indent=1) + "\n").encode())


def read_run_config(run_dir: Path) -> tuple[str, Any]:
    """(algorithm, config) of a run directory; runs written before MACAW existed are PEARL runs."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a nacre run directory (no config.json)")
    try:
        meta = json.loads(path.read_text())
        algorithm = meta.get("algorithm", "pearl")
        config_cls, _ = algorithm_classes(algorithm)
        return algorithm, config_cls.from_dict(meta["config"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise RunDirError(f"{path} is unreadable: {exc}") from None


def check_compatible(saved: dict[str, Any], cfg: Any, source: Path, algorithm: str = "pearl") -> None:
    """Raise :class:`CheckpointError` if a checkpoint's config differs from ``cfg`` in a model field."""
    if saved.get("algorithm") != algorithm:
        raise CheckpointError(f"{source} is a {saved.get('algorithm')!r} checkpoint, not a {cfg.label} one")
    defaults = type(cfg)().to_dict()
    theirs = {**defaults, **saved.get("config", {})}  # fields added since the checkpoint take their defaults
    mine = cfg.to_dict()
    diffs = [f"{k}: checkpoint {theirs.get(k)!r} vs run {mine[k]!r}" for k in mine
             if k not in cfg.run_only_fields and theirs.get(k) != mine[k]]  # fmt: skip
    if diffs:
        raise CheckpointError(f"{source} comes from an incompatible config ({'; '.join(diffs[:3])})")


def latest_checkpoint(run_dir: Path) -> Path:
    found = list_checkpoints(Path(run_dir) / "checkpoints")
    if not found:
        raise RunDirError(f"{run_dir} has no checkpoints")
    return found[-1][1]


def load_trainer(run_dir: Path, checkpoint: Path | None = None, device: str | None = None,
                 weights_only: bool = False) -> Trainer:  # fmt: skip
    """Rebuild a trainer from a run directory and restore a checkpoint (the newest by default)."""
    algorithm, cfg = read_run_config(run_dir)
    if device is not None:
        cfg = cfg.replace(device=device)
    path = Path(checkpoint) if checkpoint is not None else latest_checkpoint(run_dir)
    state = load_checkpoint(path, map_location=cfg.device)
    check_compatible(state, cfg, path, algorithm)
    _, trainer_cls = algorithm_classes(algorithm)
    trainer = trainer_cls(cfg)
    try:
        trainer.load_state_dict(state, weights_only=weights_only)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path} does not fit this run: {str(exc).splitlines()[0][:160]}") from None
    return trainer


def train(
    trainer: Trainer,
    run_dir: Path,
    resumed: bool = False,
    progress: Progress | None = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    tensorboard: bool = True,
) -> dict[str, float]:
    """Meta-train until ``cfg.num_iterations`` (or ``stop_after`` more iterations); returns the last metrics."""
    cfg = trainer.cfg
    run_dir = Path(run_dir)
    if not resumed:
        write_run_files(run_dir, trainer)
    logger = RunLogger(run_dir, resume_after=trainer.iteration if resumed else None, tensorboard=tensorboard)
    metrics: dict[str, float] = {}
    target = cfg.num_iterations if stop_after is None else min(cfg.num_iterations, trainer.iteration + stop_after)
    try:
        while trainer.iteration < target:
            metrics = trainer.train_iteration(progress)
            it = trainer.iteration
            if it % cfg.eval_every == 0 or it == cfg.num_iterations:
                metrics.update(trainer.eval_metrics(trainer.evaluate(progress=progress)))
            logger.log(it, metrics)
            if it % cfg.checkpoint_every == 0 or it == target:
                save_checkpoint(checkpoint_path(run_dir / "checkpoints", it), trainer.state_dict())
                prune_checkpoints(run_dir / "checkpoints", cfg.keep_checkpoints)
            if on_iteration is not None:
                on_iteration(it, metrics)
    finally:
        logger.close()
    return metrics
