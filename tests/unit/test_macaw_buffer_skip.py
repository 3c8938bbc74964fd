"""MACAW's sub-sampled buffers (the reference keeps every 7th transition): D_tr spans many episodes."""

import numpy as np
import pytest

from nacre.algos.macaw import preset
from nacre.algos.macaw.trainer import MacawTrainer
from nacre.datasets import load_offline_tasks, write_task_dataset
from tests.unit.test_datasets import ACT_SPACE, OBS_SPACE, make_episode, new_root

EPISODE = 200


@pytest.fixture(scope="module")
def long_task(tmp_path_factory):
    """One task of 50 episodes of 200 steps (10,000 rows), like a SAC lifetime buffer on MuJoCo."""
    rng = np.random.default_rng(0)
    root = new_root(tmp_path_factory.mktemp("skip"))
    episodes = [make_episode(rng, EPISODE) for _ in range(50)]
    write_task_dataset(root, 0, episodes, list(range(50)), OBS_SPACE, ACT_SPACE)
    (data,) = load_offline_tasks(root, [0], gamma=0.99)
    return data


def _episodes_spanned(idx: np.ndarray) -> int:
    return len(np.unique(idx // EPISODE))


def test_contiguous_window_of_every_7th_row_spans_about_nine_episodes(long_task):
    rng = np.random.default_rng(1)
    for _ in range(50):
        idx = long_task.contiguous_indices(rng, 256, skip=7)
        np.testing.assert_array_equal(np.diff(idx), 7)
        assert idx[0] % 7 == 0  # the sub-sampled buffer keeps rows 0, 7, 14, ... (the reference's [::skip])
        assert 9 <= _episodes_spanned(idx) <= 10  # 255 * 7 + 1 = 1,786 rows = 8.9 episodes
    plain = [_episodes_spanned(long_task.contiguous_indices(rng, 256)) for _ in range(50)]
    assert max(plain) <= 3  # 256 consecutive rows: 1.3 episodes on average, at most 3


def test_skip_one_draws_exactly_what_the_plain_sampler_drew(long_task):
    a = long_task.contiguous_indices(np.random.default_rng(5), 256, skip=1)
    b = long_task.contiguous_indices(np.random.default_rng(5), 256)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.diff(a), 1)


def test_uniform_rows_come_from_the_sub_sampled_buffer_and_reach_its_ends(long_task):
    idx = long_task.uniform_indices(np.random.default_rng(2), 20_000, skip=7)
    assert np.all(idx % 7 == 0)
    assert idx.min() == 0 and idx.max() == 9996  # last kept row of 10,000: 1,428 * 7
    with pytest.raises(ValueError, match="every 7th"):
        long_task.contiguous_indices(np.random.default_rng(0), 1430, skip=7)


def test_paper_preset_uses_the_reference_skip_and_the_trainer_samples_with_it(point_dataset):
    assert preset("paper", "point-robot").inner_buffer_skip == 7 == preset("paper", "point-robot").buffer_skip
    assert preset("fast", "point-robot").inner_buffer_skip == 1
    cfg = preset("tiny", "point-robot", dataset=str(point_dataset), inner_buffer_skip=5, buffer_skip=3)
    trainer = MacawTrainer(cfg)
    tr, ts = trainer.sample_step(np.random.default_rng(0))
    for task in range(tr.obs.shape[0]):
        data = next(d for d in trainer.train_data if _holds(d, tr, task))
        where = _row_positions(data)
        inner = [where[r] for r in _keys(tr, task)]  # each row's positions in the task (duplicates possible)
        assert any(all(s + 5 * k in pos for k, pos in enumerate(inner)) for s in inner[0])
        assert all(any(i % 3 == 0 for i in where[r]) for r in _keys(ts, task))


def _keys(batch, task):
    return [r.tobytes() for r in np.concatenate([batch.obs[task].numpy(), batch.actions[task].numpy()], 1)]


def _row_positions(data):
    where = {}
    for i, row in enumerate(np.concatenate([data.obs, data.actions], 1)):
        where.setdefault(row.tobytes(), set()).add(i)
    return where


def _holds(data, batch, task):
    return set(_keys(batch, task)) <= set(_row_positions(data))
