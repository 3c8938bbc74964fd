"""generate_datasets(task_indices=...): the unit of work of distributed generation (no Ray needed)."""

import pytest

from nacre.datasets import generate
from nacre.datasets.store import DatasetError, finished_tasks, read_manifest

ARGS = dict(n_train=2, n_test=1)


def test_task_indices_make_only_those_tasks_with_the_serial_data(tmp_path):
    settings = generate.preset("tiny")
    part = tmp_path / "part"
    generate.generate_datasets("point-robot", part, settings=settings, task_indices=[], **ARGS)
    assert finished_tasks(part) == set() and len(read_manifest(part)["tasks"]) == 3
    generate.generate_datasets("point-robot", part, settings=settings, task_indices=[2], **ARGS)
    assert finished_tasks(part) == {2}
    generate.generate_datasets("point-robot", part, settings=settings, task_indices=[0, 1], shard=(0, 2), **ARGS)
    assert finished_tasks(part) == {0, 2}  # intersected with the shard
    whole = generate.generate_datasets("point-robot", tmp_path / "whole", settings=settings, **ARGS)
    checksum = lambda root, i: read_manifest(root)["finished"][str(i)]["checksum"]
    assert checksum(part, 2) == checksum(whole, 2) and checksum(part, 0) == checksum(whole, 0)
    with pytest.raises(DatasetError, match="task index 3 outside 0..2"):
        generate.generate_datasets("point-robot", part, settings=settings, task_indices=[3], **ARGS)
    with pytest.raises(DatasetError, match="task_indices needs per-task behaviour"):
        multi = generate.preset("tiny", behaviour="multi-task")
        generate.generate_datasets("point-robot", tmp_path / "mt", settings=multi, task_indices=[0], **ARGS)
