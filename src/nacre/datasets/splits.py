"""Which tasks of a dataset an offline run trains and tests on.

By default the dataset's manifest decides (``splits.train`` / ``splits.test``), and the run's task
distribution must be the one the data was generated for. A distribution with a *fixed task set*
(``fixed_tasks()`` with ``train_indices`` / ``test_indices``, e.g. ``macaw-cheetah-vel-ood``) may also use
data generated for another distribution holding exactly the same tasks in the same order: then the
distribution's own split applies. So one ``macaw-cheetah-vel`` dataset serves the standard 35/5 split and
the out-of-distribution 26/14 split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nacre.datasets.store import DatasetError, read_manifest
from nacre.envs.base import TaskDistribution, TaskSplit, task_to_json


@dataclass(frozen=True)
class DatasetSplit:
    """Train/test tasks of an offline run and their task indices in the dataset."""

    split: TaskSplit
    train_indices: tuple[int, ...]
    test_indices: tuple[int, ...]
    #: dataset task index -> sha256 of its data file (stored in checkpoints: resume only on the same data)
    checksums: dict[str, str]


def dataset_split(dataset: str | Path, distribution: TaskDistribution) -> DatasetSplit:
    """The train/test tasks of ``distribution`` in the dataset at ``dataset`` (see the module docstring)."""
    if not str(dataset):
        raise DatasetError("no dataset given: pass --dataset ROOT (made by `nacre dataset generate`)")
    manifest = read_manifest(Path(dataset))
    tasks = manifest["tasks"]
    checksums = {str(k): v.get("checksum") for k, v in manifest.get("finished", {}).items()}
    if manifest.get("distribution_id") == distribution.id:
        train, test = tuple(manifest["splits"]["train"]), tuple(manifest["splits"]["test"])
    elif (
        hasattr(distribution, "fixed_tasks")
        and hasattr(distribution, "train_indices")
        and ([task_to_json(t) for t in distribution.fixed_tasks()] == tasks)
    ):
        train, test = tuple(distribution.train_indices), tuple(distribution.test_indices)
    else:
        raise DatasetError(
            f"dataset {dataset} holds {manifest.get('distribution_id')!r} data, not {distribution.id!r} "
            "(and not the same fixed task set)"
        )
    missing = sorted((set(train) | set(test)) - {int(k) for k in checksums})
    if missing:
        raise DatasetError(f"dataset {dataset} is incomplete: tasks {missing[:8]} not generated yet "
                           "(rerun `nacre dataset generate` with the same arguments to finish it)")  # fmt: skip
    split = TaskSplit(train=tuple(tasks[i] for i in train), test=tuple(tasks[i] for i in test))
    return DatasetSplit(split, train, test, checksums)


def check_same_data(saved: dict[str, str], current: dict[str, str]) -> None:
    """Raise ``ValueError`` naming the tasks whose data changed since a checkpoint recorded ``saved``."""
    if saved != current:
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        raise ValueError(f"the dataset changed since the checkpoint (tasks {', '.join(changed[:5])})")
