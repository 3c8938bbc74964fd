"""Replay buffers grow with data, wrap at capacity, sample sequences, and round-trip their state."""

import numpy as np
import pytest

from nacre.buffers.context import context_dim, make_context
from nacre.buffers.replay import MultiTaskReplayBuffer, TaskReplayBuffer
from nacre.types import Trajectory


def _traj(n, start=0.0, obs_dim=2):
    obs = (start + np.arange(n, dtype=np.float32))[:, None].repeat(obs_dim, 1)
    z = np.zeros(n, dtype=bool)
    term = z.copy()
    term[-1] = True
    return Trajectory(obs, np.ones((n, 1), np.float32), obs[:, 0].copy(), obs[:, 0] * 0, obs + 1, term, z, z)


def test_storage_grows_with_data_not_capacity():
    buf = TaskReplayBuffer(2, 1, capacity=1_000_000)
    assert buf.allocated_rows == 0
    buf.add_trajectory(_traj(20))
    assert len(buf) == 20 and buf.allocated_rows < 5000
    for i in range(200):
        buf.add_trajectory(_traj(20, start=i))
    assert len(buf) == 4020 and buf.allocated_rows < 2 * 4020 + 1024


def test_ring_overwrites_oldest_at_capacity():
    buf = TaskReplayBuffer(2, 1, capacity=50)
    for i in range(4):
        buf.add_trajectory(_traj(20, start=100 * i))
    assert len(buf) == 50 and buf.allocated_rows == 50
    stored = set(buf.get(np.arange(50))["obs"][:, 0].tolist())
    assert stored == set(range(210, 220)) | set(range(300, 320)) | set(range(200, 210)) | set(range(100 + 10, 120))


def test_terminated_flag_and_clear():
    buf = TaskReplayBuffer(2, 1, capacity=100)
    buf.add_trajectory(_traj(5))
    assert buf.get(np.arange(5))["terminated"][:, 0].tolist() == [0, 0, 0, 0, 1]
    buf.clear()
    assert len(buf) == 0
    with pytest.raises(ValueError, match="empty"):
        buf.sample_indices(np.random.default_rng(0), 3)


def test_sequence_sampling_returns_consecutive_transitions_from_an_episode_start():
    buf = TaskReplayBuffer(2, 1, capacity=1000)
    for i in range(5):
        buf.add_trajectory(_traj(10, start=10 * i))
    idx = buf.sequence_indices(np.random.default_rng(0), 15)
    obs = buf.get(idx)["obs"][:, 0]
    assert np.all(np.diff(obs) == 1) and obs[0] % 10 == 0


def test_multitask_sampling_shapes_and_state_round_trip():
    mb = MultiTaskReplayBuffer(2, 1, capacity=100)
    for t in range(3):
        mb.add_trajectory(t, _traj(10, start=100 * t))
    out = mb.sample([2, 0], 7, np.random.default_rng(0))
    assert out["obs"].shape == (2, 7, 2) and out["rewards"].shape == (2, 7, 1)
    assert (out["obs"][0] >= 200).all() and (out["obs"][1] < 100).all()
    clone = MultiTaskReplayBuffer(2, 1, capacity=100)
    clone.load_state_dict(mb.state_dict())
    a = mb.sample([0, 1, 2], 5, np.random.default_rng(1))
    b = clone.sample([0, 1, 2], 5, np.random.default_rng(1))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_context_layout():
    obs, act, rew, nxt = np.ones((4, 3)), np.zeros((4, 2)), np.arange(4.0), np.full((4, 3), 2.0)
    ctx = make_context(obs, act, rew, nxt, use_next_obs=False)
    assert ctx.shape == (4, context_dim(3, 2, False)) == (4, 6)
    assert ctx[:, 5].tolist() == [0, 1, 2, 3]
    ctx = make_context(obs, act, rew, nxt, use_next_obs=True)
    assert ctx.shape == (4, context_dim(3, 2, True)) and (ctx[:, 6:] == 2).all()


def test_sampling_creates_no_buffer_for_other_tasks():
    mb = MultiTaskReplayBuffer(2, 1, capacity=100)
    mb.add_trajectory(3, _traj(10))
    mb.sample([3], 4, np.random.default_rng(0))
    assert list(mb.tasks) == [3] and mb.nbytes() == mb.tasks[3].allocated_rows * 4 * (2 + 1 + 1 + 1 + 2 + 1)
