"""Dataset generation as Ray tasks: a worker that dies mid-task leaves a consistent manifest, and the rerun
completes the dataset with the checksums of a serial generation with the same seed."""

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

from nacre.datasets import generate  # noqa: E402
from nacre.datasets.store import DatasetError, finished_tasks, read_manifest, verify_dataset  # noqa: E402
from nacre.scale.generate import FAIL_ENV, generate_with_ray  # noqa: E402

ARGS = dict(n_train=3, n_test=1)


def _settings():
    return generate.preset("tiny", checkpoint_every=50)


def test_killed_worker_then_rerun_equals_serial(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    temp = tmp_path_factory.mktemp("r")  # short: Ray's socket paths must stay under 107 bytes
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp), logging_level="WARNING")
    try:
        root = tmp_path / "ray"
        monkeypatch.setenv(FAIL_ENV, "2:120")  # task 2's worker exits after 120 env steps (checkpoint at 100)
        with pytest.raises(DatasetError, match=r"1 of 4 tasks failed \(task 2: the worker process died\).*rerun"):
            generate_with_ray("point-robot", root, settings=_settings(), retries=0, **ARGS)
        manifest = read_manifest(root)  # never half-written
        assert finished_tasks(root) == {0, 1, 3} and set(manifest["finished"]) == {"0", "1", "3"}
        assert verify_dataset(root) == ["task 2: missing (not finished)"]
        assert (root / ".generate" / "task_00002.pt").is_file()  # its checkpoint, to resume from

        monkeypatch.delenv(FAIL_ENV)
        generate_with_ray("point-robot", root, settings=_settings(), retries=0, **ARGS)
    finally:
        ray.shutdown()
    serial = generate.generate_datasets("point-robot", tmp_path / "serial", settings=_settings(), **ARGS)
    assert verify_dataset(root) == []
    assert not (root / ".generate").exists()
    checksums = lambda r: {k: v["checksum"] for k, v in read_manifest(r)["finished"].items()}
    assert checksums(root) == checksums(serial) and len(checksums(root)) == 4
