"""Offline datasets: per-task Minari (HDF5) storage and the MACAW loader."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.datasets.store import (
    FORMAT_VERSION,
    DatasetError,
    data_fingerprint,
    dataset_info,
    finished_tasks,
    init_dataset_root,
    load_task_episodes,
    read_manifest,
    task_dir,
    verify_dataset,
    write_task_dataset,
)

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.datasets.loader import OfflineTaskData, Window, load_offline_tasks, macaw_batch

# the torch-backed loader loads on first use, so that the store alone (its errors, manifests) stays light
__getattr__, __dir__ = lazy_exports(
    __name__, dict.fromkeys(["OfflineTaskData", "Window", "load_offline_tasks", "macaw_batch"], "nacre.datasets.loader")
)

__all__ = [
    "FORMAT_VERSION",
    "DatasetError",
    "OfflineTaskData",
    "Window",
    "data_fingerprint",
    "dataset_info",
    "finished_tasks",
    "init_dataset_root",
    "load_offline_tasks",
    "load_task_episodes",
    "macaw_batch",
    "read_manifest",
    "task_dir",
    "verify_dataset",
    "write_task_dataset",
]
