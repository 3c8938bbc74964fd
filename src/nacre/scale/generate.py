"""``nacre dataset generate ... --ray``: the per-task SAC lifetimes as parallel Ray tasks, one per task.

Each Ray task calls :func:`nacre.datasets.generate.generate_datasets` for its one task index, so it uses the
same per-task seed (``task_seed(seed, i)``), checkpoints to the same ``ROOT/.generate/task_NNNNN.pt`` and
writes through the same file-locked manifest as a serial or sharded run: the data does not depend on which
worker made it, a task whose worker died resumes from its checkpoint when the command is rerun, and the
manifest only ever lists finished tasks. On a cluster, ROOT must be a directory every node sees (e.g. NFS).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacre.datasets.generate import GenerateSettings, ProgressFn, generate_datasets
from nacre.datasets.store import DatasetError, absolute_root, finished_tasks, read_manifest

#: test hook: ``TASK:STEPS`` makes the worker generating task TASK exit abruptly (``os._exit``) once it has run
#: STEPS env steps, as if the machine died; read by the driver and passed to the workers
FAIL_ENV = "NACRE_GENERATE_FAIL"


def _fail_hook(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    task, _, steps = text.partition(":")
    try:
        return int(task), int(steps)
    except ValueError:
        raise DatasetError(f"{FAIL_ENV} must be TASK:STEPS, got {text!r}") from None


def generate_one(distribution_id: str, root: str, index: int, options: dict[str, Any],
                 fail: tuple[int, int] | None = None) -> int:  # fmt: skip
    """Generate task ``index`` (the body of one Ray task); returns the index."""
    import torch

    torch.set_num_threads(1)
    progress = None
    if fail is not None and fail[0] == index:
        steps = [0]

        def progress(kind: str, n: int) -> None:
            if kind == "env_steps":
                steps[0] += n
                if steps[0] >= fail[1]:
                    os._exit(17)

    generate_datasets(distribution_id, Path(root), task_indices=[index], progress=progress, **options)
    return index


def generate_with_ray(distribution_id: str, root: Path, *, split_seed: int = 0, n_train: int | None = None,
                      n_test: int | None = None, settings: GenerateSettings | None = None,
                      progress: ProgressFn | None = None, shard: tuple[int, int] | None = None,
                      address: str | None = None, retries: int = 3, cpus_per_task: float = 1.0,
                      echo: Callable[[str], None] | None = None) -> Path:  # fmt: skip
    """Like :func:`~nacre.datasets.generate.generate_datasets` (same arguments, same data), with the tasks run
    as parallel Ray tasks on this machine (all its CPUs) or on the cluster at ``address``. A task that fails
    is retried up to ``retries`` times (resuming from its checkpoint); if one still fails, the finished tasks
    are kept and :class:`DatasetError` says to rerun the command."""
    from nacre.scale import ScaleError, require_ray
    from nacre.scale.sweep import connect

    try:
        ray = require_ray()
    except ScaleError as exc:
        raise DatasetError(f"--ray: {exc}") from None
    settings = settings or GenerateSettings()
    if settings.behaviour != "per-task":
        raise DatasetError("--ray needs per-task behaviour (one multi-task SAC cannot be split)")
    options = {"split_seed": split_seed, "n_train": n_train, "n_test": n_test, "settings": settings}
    root = absolute_root(root)
    generate_datasets(distribution_id, root, shard=shard, task_indices=[], **options)  # the manifest, checked
    total = len(read_manifest(root)["tasks"])
    mine = range(total) if shard is None else range(shard[0], total, shard[1])
    done = finished_tasks(root)
    todo = [i for i in mine if i not in done]
    report = progress or (lambda kind, n: None)
    report("tasks_total", len(mine))
    report("tasks_done", len(mine) - len(todo))
    report("env_steps_total", len(todo) * settings.steps_per_task)
    if not todo:
        return root
    fail = _fail_hook(os.environ.get(FAIL_ENV))
    try:
        owned = connect(None, address, echo or (lambda line: None))  # Ray's files stay out of the dataset
    except ScaleError as exc:
        raise DatasetError(str(exc)) from None
    try:
        resources: dict[str, Any] = {"num_cpus": cpus_per_task}
        if settings.device.startswith("cuda"):
            resources["num_gpus"] = 1
        remote = ray.remote(max_retries=retries, retry_exceptions=False, **resources)(generate_one)
        pending = {remote.remote(distribution_id, str(root), i, options, fail): i for i in todo}
        failures: dict[int, str] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - any worker failure is reported per task
                    failures[index] = _reason(exc)
                    continue
                report("tasks_done", 1)
                report("env_steps", settings.steps_per_task)
    finally:
        if owned:
            ray.shutdown()
    if failures:
        first = min(failures)
        raise DatasetError(f"{len(failures)} of {len(todo)} tasks failed (task {first}: {failures[first]}); the "
                           f"finished tasks and checkpoints are kept: rerun the same command to resume")  # fmt: skip
    if finished_tasks(root) == set(range(total)):
        generate_datasets(distribution_id, root, task_indices=[], **options)  # drops the leftover checkpoints
    return root


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, DatasetError):
        return str(cause)
    name = type(exc).__name__
    if "WorkerCrashed" in name or "died" in str(exc)[:300] or "NodeDied" in name:
        return "the worker process died"
    lines = [line for line in str(cause or exc).splitlines() if line.strip()]
    return lines[-1][:200] if lines else name
