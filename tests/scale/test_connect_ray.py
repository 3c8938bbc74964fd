"""A local cluster started by nacre runs its trials at the driver's priority (Ray's own default is niceness 15,
which starves trials next to any other busy process)."""

import os

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

from nacre.scale.sweep import connect  # noqa: E402


def test_local_cluster_workers_run_at_the_drivers_niceness(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_worker_niceness", raising=False)
    assert not ray.is_initialized()
    assert connect(tmp_path, None, echo=lambda _line: None, num_cpus=1)
    try:

        @ray.remote
        def niceness() -> int:
            return os.nice(0)

        assert ray.get(niceness.remote()) == os.nice(0)
    finally:
        ray.shutdown()
        os.environ.pop("RAY_worker_niceness", None)
