"""A sweep on a two-node local Ray cluster (one CPU per node) runs trials on both nodes."""

import textwrap

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

from nacre.scale.spec import load_spec  # noqa: E402
from nacre.scale.sweep import run_sweep  # noqa: E402


def test_two_node_cluster_runs_trials_on_both_nodes(tmp_path, monkeypatch):
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(textwrap.dedent("""
        entries:
          - algorithm: pearl
            distribution: point-robot
            preset: tiny
            seeds: [0, 1]
            config: {num_iterations: 3}
        """))  # fmt: skip
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        result = run_sweep(load_spec(spec_path), tmp_path / "runs", address=cluster.address, cpus_per_trial=1)
        assert ray.is_initialized() is False  # the sweep disconnected from the cluster it joined
    finally:
        cluster.shutdown()
    assert result.ok and sorted(result.finished) == ["pearl-point-robot-tiny-s0", "pearl-point-robot-tiny-s1"]
    assert len(set(result.nodes.values())) == 2, result.nodes
    for name in result.finished:
        assert (tmp_path / "runs" / name / "eval").is_dir()
