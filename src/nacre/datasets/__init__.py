"""Offline datasets: per-task Minari (HDF5) storage and the MACAW loader."""

from nacre.datasets.loader import OfflineTaskData, Window, load_offline_tasks, macaw_batch
from nacre.datasets.store import (
    FORMAT_VERSION,
    DatasetError,
    dataset_info,
    finished_tasks,
    init_dataset_root,
    load_task_episodes,
    read_manifest,
    task_dir,
    verify_dataset,
    write_task_dataset,
)

__all__ = [
    "FORMAT_VERSION",
    "DatasetError",
    "OfflineTaskData",
    "Window",
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
