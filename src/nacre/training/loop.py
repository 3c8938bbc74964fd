"""Run directories and the meta-training loop: iterate, log, evaluate, checkpoint, resume.

A run directory holds ``config.json`` (the resolved config), ``tasks.json``, ``progress.jsonl`` /
``progress.csv``, ``tb/`` (TensorBoard) and ``checkpoints/iter_NNNNNN.pt``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacre import __version__
from nacre.algos.registry import ALGORITHMS, config_class, trainer_class
from nacre.config import ConfigBase, ConfigError
from nacre.logging import RunLogger
from nacre.training.checkpoint import (
    CheckpointError,
    CorruptCheckpoint,
    atomic_write_bytes,
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    short_reason,
)
from nacre.training.errors import TrainingDiverged
from nacre.types import Progress

#: what the loop needs of a trainer (PearlTrainer, MacawTrainer): cfg, distribution, split, iteration,
#: train_iteration, evaluate, eval_metrics, state_dict, load_state_dict
Trainer = Any
#: receives one-line warnings (e.g. a corrupt checkpoint skipped); the CLI prints them on stderr
Warn = Callable[[str], None]


def algorithm_classes(algorithm: str) -> tuple[type[ConfigBase], type]:
    """The config and trainer classes of ``algorithm``."""
    if algorithm not in ALGORITHMS:
        raise RunDirError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    return config_class(algorithm), trainer_class(algorithm)


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked (it would overwrite a run, or holds none)."""


def _is_dataset_root(path: Path) -> bool:
    manifest = path / "manifest.json"
    if not manifest.is_file():
        return False
    from nacre.datasets.store import FORMAT

    try:
        return FORMAT in manifest.read_text(errors="replace")
    except OSError:
        return False


def check_new_run_dir(run_dir: Path) -> None:
    """Refuse a directory that already holds a run or a dataset (nothing of it may be overwritten), a file, and
    a place that cannot be written."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is a file, not a run directory: choose another --run-dir")
    if _is_dataset_root(run_dir):
        raise RunDirError(f"{run_dir} holds a nacre dataset (manifest.json), not a run: choose another --run-dir")
    if (run_dir / "config.json").exists() or list_checkpoints(run_dir / "checkpoints"):
        raise RunDirError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --run-dir")
    problem = creation_problem(run_dir)
    if problem:
        raise RunDirError(f"cannot create {run_dir}: {problem}")


def creation_problem(path: Path) -> str | None:
    """Why ``path`` could not be created: its nearest existing ancestor is a file or is not writable; else None."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def _tasks_json(trainer: Trainer) -> dict[str, list[dict]]:
    """The trainer's split as ``tasks.json`` content; :class:`RunDirError` naming the task that is not JSON."""
    from nacre.envs.base import split_to_json

    try:
        return split_to_json(trainer.split)
    except ValueError as exc:
        raise RunDirError(f"{trainer.distribution.id}: tasks must be plain JSON; {exc}") from None


def run_dir_name(algorithm: str, distribution: str, seed: int, stamp: str = "") -> str:
    """A default run-directory name that is safe for any distribution id or ``module:Class`` spec: every
    character other than letters, digits, ``.``, ``_`` and ``-`` (a colon, a slash, a space) becomes ``-``."""
    import re

    safe = lambda text: re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "run"
    return "-".join(part for part in (safe(algorithm), safe(distribution), f"s{seed}", safe(stamp) if stamp else "")
                    if part)  # fmt: skip


def runtime_versions() -> dict[str, str]:
    """Versions of the libraries a run's numbers depend on (MuJoCo changes trajectories at equal seeds)."""
    import importlib.metadata
    import platform

    from nacre.envs.mujoco_install import mujoco_version

    out = {"python": platform.python_version()}
    for name in ("numpy", "torch", "gymnasium", "metaworld"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    version = mujoco_version()
    if version:
        out["mujoco"] = version
    return out


def cpu_model() -> str:
    """The CPU's model name: ``/proc/cpuinfo`` on Linux, else what :mod:`platform` reports (the processor, or at
    least the architecture)."""
    import platform

    from nacre.nn.precision import cpuinfo_field

    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def machine_description(trainer: Trainer) -> dict[str, Any]:
    """Where a run's numbers were computed: CPU model, its relevant vector-unit flags and logical CPUs, torch
    threads, device (with the GPU's name on CUDA) and the matmul precision the learner resolved (``precision
    auto`` picks bf16 only on hardware with bf16 units, so one command can run fp32 here and bf16 there)."""
    import torch

    from nacre.nn.precision import cpu_flags

    device = torch.device(trainer.cfg.device)
    out: dict[str, Any] = {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
                           "torch_threads": torch.get_num_threads(), "device": str(device)}  # fmt: skip
    # the vector units that decide nacre's fast paths (fused kernels with AVX-512, bf16 with avx512_bf16 / AMX)
    out["cpu_flags"] = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"})
    if device.type == "cuda" and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(device)
    precision = getattr(getattr(trainer, "learner", None), "precision", None)
    if isinstance(precision, str):
        out["precision"] = precision
    return out


def record_machine(trainer: Trainer, run_dir: Path) -> None:
    """On resume: append ``{"at_iteration", "machine"}`` to ``resumed_with`` in ``config.json`` when the
    machine differs from the last one recorded (a new run records its machine in ``write_run_files``)."""

    def entry(meta: dict[str, Any]) -> dict[str, Any] | None:
        machine = machine_description(trainer)  # inside: a failure here is a RunDirError, as before
        last = meta.get("machine")
        for previous in meta.get("resumed_with", []):
            last = previous.get("machine", last)
        return None if last == machine else {"at_iteration": trainer.iteration, "machine": machine}

    _append_resumed_with(run_dir, entry, "the machine")


def _append_resumed_with(run_dir: Path, make_entry: Callable[[dict[str, Any]], dict[str, Any] | None],
                         what: str) -> None:  # fmt: skip
    """Append ``make_entry(meta)`` to ``resumed_with`` in ``run_dir/config.json`` and rewrite it atomically;
    ``make_entry`` sees the stored metadata, may update it (e.g. its ``config``) and returns ``None`` to write
    nothing. :class:`RunDirError` (naming ``what`` was being recorded) if the file is unreadable."""
    path = Path(run_dir) / "config.json"
    try:
        meta = json.loads(path.read_text())
        entry = make_entry(meta)
        if entry is None:
            return
        meta.setdefault("resumed_with", []).append(entry)
        atomic_write_bytes(path, (json.dumps(meta, indent=2) + "\n").encode())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunDirError(f"cannot record {what} in {path}: {short_reason(exc)}") from None


def read_stored_tasks(run_dir: Path) -> Any:
    """The :class:`~nacre.envs.base.TaskSplit` in ``run_dir/tasks.json``, or ``None`` if there is none;
    :class:`RunDirError` if it is unreadable or malformed."""
    from nacre.envs.base import split_from_json

    path = Path(run_dir) / "tasks.json"
    if not path.is_file():
        return None
    try:
        return split_from_json(json.loads(path.read_text()), str(path))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path} is unreadable: {short_reason(exc)}") from None


def _same_tasks(a: Any, b: Any) -> bool:
    from nacre.envs.base import task_to_json

    norm = lambda split: ([task_to_json(t) for t in split.train], [task_to_json(t) for t in split.test])
    return norm(a) == norm(b)


def build_trainer(trainer_cls: type, cfg: Any, run_dir: Path) -> Trainer:
    """A trainer for an existing run whose tasks are the stored ``tasks.json``: passed to trainers that take
    ``tasks`` (PEARL; then a changed task generation in a newer nacre cannot change the run's tasks), checked
    against the recomputed split for the others (offline trainers take theirs from the dataset)."""
    import inspect

    stored = read_stored_tasks(run_dir)
    if stored is not None and "tasks" in inspect.signature(trainer_cls.__init__).parameters:
        return trainer_cls(cfg, tasks=stored)
    trainer = trainer_cls(cfg)
    if stored is not None and not _same_tasks(stored, trainer.split):
        raise RunDirError(f"{Path(run_dir) / 'tasks.json'} differs from the tasks this run's config and data give "
                          f"now ({trainer.algorithm} takes its tasks from them): restore the file")  # fmt: skip
    return trainer


def source_revision() -> str | None:
    """The git revision of the nacre source tree in use (``<sha>`` or ``<sha>-dirty``), or ``None`` when nacre
    is not running from a git checkout (an installed wheel) or git is unavailable."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha or None


def write_run_files(run_dir: Path, trainer: Trainer, command: list[str] | None = None) -> None:
    """Create a new run directory; refuse to reuse one that already holds a run. ``command`` (the argv that
    started the run, when it came from the command line) and the source revision are recorded with the config."""
    run_dir = Path(run_dir)
    check_new_run_dir(run_dir)
    tasks_text = json.dumps(_tasks_json(trainer), indent=1) + "\n"  # before anything is created
    meta = {"nacre_version": __version__, "algorithm": trainer.algorithm,
            "distribution": trainer.distribution.id, "config": trainer.cfg.to_dict(),
            "versions": runtime_versions(), "machine": machine_description(trainer)}  # fmt: skip
    checksums = getattr(trainer, "dataset_checksums", None)
    if checksums:  # offline runs: which data, byte for byte (the path alone may be regenerated data)
        from nacre.datasets.store import data_fingerprint

        meta["dataset"] = {"fingerprint": data_fingerprint(checksums), "checksums": dict(checksums)}
    if command:
        meta["command"] = list(command)
    revision = source_revision()
    if revision:
        meta["git_revision"] = revision
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run_dir / "config.json", (json.dumps(meta, indent=2) + "\n").encode())
        atomic_write_bytes(run_dir / "tasks.json", tasks_text.encode())
    except OSError as exc:
        raise RunDirError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None


def change_run_options(trainer: Trainer, run_dir: Path, changes: dict[str, Any],
                       command: list[str] | None = None) -> None:  # fmt: skip
    """Apply run-only settings (``cfg.run_only_fields``: budget, logging, evaluation) to a resumed run and record
    them in its ``config.json``, so that a later plain ``--resume``, ``nacre eval`` and reports see the run as it
    now is. ``device`` is applied but not recorded (it belongs to the machine, not the run). Each change is also
    appended to ``resumed_with`` (the iteration, the changed values and the command, when given); values equal to
    the stored ones change nothing."""
    if not changes:
        return
    before = trainer.cfg
    trainer.set_run_options(**changes)
    recorded = {k: getattr(trainer.cfg, k) for k in changes
                if k != "device" and getattr(trainer.cfg, k) != getattr(before, k)}  # fmt: skip
    if not recorded:
        return

    def entry(meta: dict[str, Any]) -> dict[str, Any]:
        meta["config"].update(json.loads(json.dumps(recorded)))
        out: dict[str, Any] = {"at_iteration": trainer.iteration, "changes": recorded}
        if command:
            out["command"] = list(command)
        return out

    _append_resumed_with(run_dir, entry, "the changed settings")


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


def check_device(device: str) -> None:
    """Raise :class:`~nacre.config.ConfigError` if torch cannot use ``device`` here (CUDA on a CPU-only build)."""
    import torch

    kind, _, index = device.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} is not available: this torch build ({torch.__version__}) "
                              "sees no CUDA GPU; use --device cpu or install a CUDA build of torch")  # fmt: skip
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(f"device {device!r} is not available: {torch.cuda.device_count()} CUDA GPU(s) visible")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} is not available on this machine; use --device cpu")


def _newest_intact(run_dir: Path, map_location: str, warn: Warn | None,
                   set_aside: bool) -> tuple[Path, dict[str, Any]] | None:  # fmt: skip
    """(path, payload) of the newest checkpoint that loads, None if there is none; each damaged newer one is
    reported through ``warn`` and, with ``set_aside``, renamed to ``<name>.corrupt`` (kept, never pruned)."""
    found = list_checkpoints(Path(run_dir) / "checkpoints")
    damaged: list[tuple[Path, CorruptCheckpoint]] = []
    for _, path in reversed(found):
        try:
            state = load_checkpoint(path, map_location=map_location)
        except CorruptCheckpoint as exc:
            damaged.append((path, exc))
            continue
        for bad, exc in damaged:
            note = ""
            if set_aside:
                try:
                    bad.replace(bad.with_name(bad.name + ".corrupt"))
                    note = f", renamed to {bad.name}.corrupt"
                except OSError as err:
                    raise RunDirError(f"{exc}; cannot rename it out of the way: {err.strerror or err}") from None
            (warn or _warn)(f"{exc}; skipped it{note}; using the older {path.name}")
        return path, state
    if damaged:
        more = f" (and {len(damaged) - 1} older damaged one(s))" if len(damaged) > 1 else ""
        raise CheckpointError(f"no intact checkpoint in {Path(run_dir) / 'checkpoints'}: {damaged[0][1]}{more}")
    return None


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


def _restore(trainer: Trainer, state: dict[str, Any], path: Path, weights_only: bool) -> None:
    try:
        trainer.load_state_dict(state, weights_only=weights_only)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path} does not fit this run: {short_reason(exc)}") from None


def load_trainer(run_dir: Path, checkpoint: Path | None = None, device: str | None = None,
                 weights_only: bool = False, warn: Warn | None = None) -> Trainer:  # fmt: skip
    """Rebuild a trainer from a run directory and restore a checkpoint (by default the newest one that is
    intact: a damaged newer one is skipped with a warning through ``warn``)."""
    algorithm, cfg = read_run_config(run_dir)
    if device is not None:
        cfg = cfg.replace(device=device)
    check_device(cfg.device)
    if checkpoint is not None:
        path, state = Path(checkpoint), load_checkpoint(checkpoint, map_location=cfg.device)
    else:
        found = _newest_intact(run_dir, cfg.device, warn, set_aside=False)
        if found is None:
            raise RunDirError(f"{run_dir} has no checkpoints (it stopped in its first iteration; "
                              f"nacre train --resume {run_dir} starts it)")  # fmt: skip
        path, state = found
    check_compatible(state, cfg, path, algorithm)
    _, trainer_cls = algorithm_classes(algorithm)
    trainer = build_trainer(trainer_cls, cfg, run_dir)
    _restore(trainer, state, path, weights_only)
    return trainer


def resume_trainer(run_dir: Path, device: str | None = None, warn: Warn | None = None) -> Trainer:
    """The trainer to continue a run with: restored from its newest intact checkpoint (damaged newer ones are
    renamed to ``*.corrupt`` and reported through ``warn``), or, for a run stopped before its first checkpoint,
    a new trainer from the stored config at iteration 0 (its tasks checked against ``tasks.json``)."""
    run_dir = Path(run_dir)
    algorithm, cfg = read_run_config(run_dir)
    if device is not None:
        cfg = cfg.replace(device=device)
    check_device(cfg.device)
    found = _newest_intact(run_dir, cfg.device, warn, set_aside=True)
    if found is not None:
        check_compatible(found[1], cfg, found[0], algorithm)
    _, trainer_cls = algorithm_classes(algorithm)
    trainer = build_trainer(trainer_cls, cfg, run_dir)
    if found is not None:
        saved = found[1].get("tasks")
        if saved is not None and _tasks_json(trainer) != json.loads(json.dumps(saved)):
            raise RunDirError(f"{run_dir / 'tasks.json'} differs from the tasks {found[0].name} was trained on "
                              "(edited after the run started?): restore it to resume")  # fmt: skip
        _restore(trainer, found[1], found[0], weights_only=False)
        return trainer
    tasks = json.loads(json.dumps(_tasks_json(trainer)))
    stored = run_dir / "tasks.json"
    if not stored.is_file():  # killed between writing config.json and tasks.json
        try:
            atomic_write_bytes(stored, (json.dumps(tasks, indent=1) + "\n").encode())
        except OSError as exc:
            raise RunDirError(f"cannot write {stored}: {exc.strerror or exc}") from None
    else:
        try:
            same = json.loads(stored.read_text()) == tasks
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{stored} is unreadable: {short_reason(exc)}") from None
        if not same:
            raise RunDirError(f"{stored} differs from the tasks the stored config gives now: cannot restart the run")
    return trainer


def train(
    trainer: Trainer,
    run_dir: Path,
    resumed: bool = False,
    progress: Progress | None = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    tensorboard: bool = True,
    command: list[str] | None = None,
) -> dict[str, float]:
    """Meta-train until ``cfg.num_iterations`` (or ``stop_after`` more iterations); returns the last metrics.
    ``command``: the argv to record in a new run's ``config.json`` (the CLI passes its own)."""
    cfg = trainer.cfg
    run_dir = Path(run_dir)
    if not resumed:
        write_run_files(run_dir, trainer, command)
    else:
        record_machine(trainer, run_dir)
    try:
        logger = RunLogger(run_dir, resume_after=trainer.iteration if resumed else None, tensorboard=tensorboard)
    except OSError as exc:
        raise RunDirError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
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
    except TrainingDiverged as exc:
        kept = list_checkpoints(run_dir / "checkpoints")
        state = (f"the checkpoint of iteration {kept[-1][0]} is intact" if kept
                 else "no checkpoint had been written yet")  # fmt: skip
        raise TrainingDiverged(f"{exc}; {state}") from None
    finally:
        logger.close()
    return metrics
