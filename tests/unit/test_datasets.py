"""Offline datasets: Minari storage round trip, manifest, integrity checks, MACAW loader, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np
import pytest
import torch

from nacre.datasets import (
    DatasetError,
    dataset_info,
    finished_tasks,
    init_dataset_root,
    load_offline_tasks,
    load_task_episodes,
    macaw_batch,
    read_manifest,
    task_dir,
    verify_dataset,
    write_task_dataset,
)
from nacre.datasets.store import DATA_FILE, MANIFEST, sha256_file
from nacre.types import Trajectory

OBS_SPACE = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
ACT_SPACE = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
TASKS = [{"goal": [0.5, -0.25]}, {"goal": [1.0, 2.0]}]
SPLITS = {"train": [0], "test": [1]}
CONFIG = {"seed": 3, "steps_per_task": 100}


def make_episode(rng: np.random.Generator, length: int, end: str = "truncated", rewards=None) -> Trajectory:
    """A contiguous episode ``length`` steps long ending with ``end`` (terminated | truncated | cut)."""
    states = rng.normal(size=(length + 1, 2)).astype(np.float32)
    r = rng.normal(size=length).astype(np.float32) if rewards is None else np.asarray(rewards, dtype=np.float32)
    term, trunc = np.zeros(length, bool), np.zeros(length, bool)
    if end == "terminated":
        term[-1] = True
    elif end == "truncated":
        trunc[-1] = True
    sparse = (r > 0.5).astype(np.float32)
    return Trajectory(obs=states[:-1], actions=rng.uniform(-1, 1, (length, 2)).astype(np.float32), rewards=r,
                      sparse_rewards=sparse, next_obs=states[1:], terminated=term, truncated=trunc,
                      success=sparse > 0)  # fmt: skip


def replace(ep: Trajectory, **changes) -> Trajectory:
    """``ep`` with some fields changed (``Trajectory._replace`` trips over its own ``__len__``)."""
    return Trajectory(**{**ep._asdict(), **changes})


def new_root(tmp_path: Path, **overrides) -> Path:
    root = tmp_path / "data"
    kwargs = {"distribution_id": "toy-v1", "tasks": TASKS, "splits": SPLITS, "config": CONFIG, **overrides}
    init_dataset_root(root, **kwargs)
    return root


def episodes_equal(a: Trajectory, b: Trajectory) -> bool:
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture
def written(tmp_path):
    """A root with both tasks written: task 0 has mixed endings, task 1 two truncated episodes."""
    rng = np.random.default_rng(0)
    root = new_root(tmp_path)
    eps0 = [make_episode(rng, 3, "terminated"), make_episode(rng, 4, "truncated"), make_episode(rng, 2, "cut")]
    eps1 = [make_episode(rng, 5), make_episode(rng, 5)]
    write_task_dataset(root, 0, eps0, [0, 3, 7], OBS_SPACE, ACT_SPACE, {"algorithm": "sac", "seed": 11})
    write_task_dataset(root, 1, eps1, [0, 5], OBS_SPACE, ACT_SPACE)
    return root, eps0, eps1


# ---------------------------------------------------------------------- storage
def test_round_trip_exact(written):
    root, eps0, eps1 = written
    for index, expected, steps in ((0, eps0, [0, 3, 7]), (1, eps1, [0, 5])):
        episodes, behaviour, meta = load_task_episodes(root, index)
        assert len(episodes) == len(expected)
        assert all(episodes_equal(a, b) for a, b in zip(episodes, expected, strict=True))
        np.testing.assert_array_equal(behaviour, steps)
        assert meta["task"] == TASKS[index] and meta["task_index"] == index
        assert meta["distribution_id"] == "toy-v1"
        assert meta["checksum"] == sha256_file(task_dir(root, index) / DATA_FILE)
    episodes, _, meta = load_task_episodes(root, 0)
    # terminated and truncated stay apart; the cut episode has neither flag
    assert [bool(e.terminated[-1]) for e in episodes] == [True, False, False]
    assert [bool(e.truncated[-1]) for e in episodes] == [False, True, False]
    assert meta["algorithm"] == "sac" and meta["seed"] == 11
    assert meta["observation_space"] == OBS_SPACE and meta["action_space"] == ACT_SPACE


def test_stored_as_a_real_minari_dataset(written):
    import minari

    root, eps0, _ = written
    ds = minari.MinariDataset(task_dir(root, 0))
    assert ds.total_episodes == 3 and ds.total_steps == 9
    first = next(ds.iterate_episodes())
    assert first.observations.shape == (4, 2)  # L + 1 rows: obs then the final next_obs
    np.testing.assert_array_equal(first.observations[-1], eps0[0].next_obs[-1])
    np.testing.assert_array_equal(first.infos["sparse_reward"], eps0[0].sparse_rewards)
    np.testing.assert_array_equal(first.infos["success"], eps0[0].success)
    assert list(ds.storage.get_episode_metadata([2]))[0]["behaviour_step"] == 7


def test_manifest_records_finished_tasks(written):
    root, _, _ = written
    manifest = read_manifest(root)
    assert manifest["format_version"] == 1 and manifest["distribution_id"] == "toy-v1"
    assert manifest["tasks"] == TASKS and manifest["splits"] == SPLITS and manifest["config"] == CONFIG
    assert manifest["finished"]["0"]["transitions"] == 9 and manifest["finished"]["0"]["episodes"] == 3
    assert manifest["finished"]["0"]["checksum"] == sha256_file(task_dir(root, 0) / DATA_FILE)
    assert finished_tasks(root) == {0, 1}


def test_read_manifest_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"is not a nacre dataset \(no manifest.json\)"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(DatasetError, match="corrupt"):
        read_manifest(tmp_path)


def test_manifest_resume_identical_accepted_different_refused(tmp_path):
    root = new_root(tmp_path)
    before = (root / MANIFEST).read_bytes()
    init_dataset_root(root, distribution_id="toy-v1", tasks=[dict(t) for t in TASKS], splits=SPLITS,
                      config=dict(CONFIG))  # fmt: skip
    assert (root / MANIFEST).read_bytes() == before
    with pytest.raises(DatasetError, match=r"config \(config.seed: existing 3 != new 4\)"):
        init_dataset_root(root, distribution_id="toy-v1", tasks=TASKS, splits=SPLITS, config={**CONFIG, "seed": 4})
    with pytest.raises(DatasetError, match=r"tasks \(tasks\[1\].goal\[0\]"):
        init_dataset_root(root, distribution_id="toy-v1", tasks=[TASKS[0], {"goal": [9.0, 2.0]}], splits=SPLITS,
                          config=CONFIG)  # fmt: skip
    with pytest.raises(DatasetError, match="'toy-v1', not 'other-v2'"):
        init_dataset_root(root, distribution_id="other-v2", tasks=TASKS, splits=SPLITS, config=CONFIG)
    assert (root / MANIFEST).read_bytes() == before


def test_write_validates_episodes(tmp_path):
    rng = np.random.default_rng(1)
    root = new_root(tmp_path)
    bad_flag = replace(make_episode(rng, 3), terminated=np.array([True, False, False]))
    with pytest.raises(DatasetError, match="before its last step"):
        write_task_dataset(root, 0, [bad_flag], [0], OBS_SPACE, ACT_SPACE)
    ep = make_episode(rng, 3)
    with pytest.raises(DatasetError, match="not one contiguous episode"):
        write_task_dataset(root, 0, [replace(ep, next_obs=ep.next_obs + 1)], [0], OBS_SPACE, ACT_SPACE)
    with pytest.raises(DatasetError, match=r"outside \[-1, 1\]"):
        write_task_dataset(root, 0, [replace(ep, actions=ep.actions * 3)], [0], OBS_SPACE, ACT_SPACE)
    with pytest.raises(DatasetError, match="non-finite"):
        write_task_dataset(root, 0, [replace(ep, rewards=np.array([0, np.nan, 0], np.float32))], [0], OBS_SPACE,
                           ACT_SPACE)  # fmt: skip
    with pytest.raises(DatasetError, match="2 behaviour steps for 1 episodes"):
        write_task_dataset(root, 0, [ep], [0, 1], OBS_SPACE, ACT_SPACE)
    with pytest.raises(DatasetError, match="task index 2 outside"):
        write_task_dataset(root, 2, [ep], [0], OBS_SPACE, ACT_SPACE)
    assert finished_tasks(root) == set() and not task_dir(root, 0).exists()
    write_task_dataset(root, 0, [ep], [0], OBS_SPACE, ACT_SPACE)
    with pytest.raises(DatasetError, match="already finished"):
        write_task_dataset(root, 0, [ep], [0], OBS_SPACE, ACT_SPACE)
    other = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    ep3 = replace(ep, obs=np.zeros((3, 3), np.float32), next_obs=np.zeros((3, 3), np.float32))
    with pytest.raises(DatasetError, match="differ from the dataset's"):
        write_task_dataset(root, 1, [ep3], [0], other, ACT_SPACE)
    write_task_dataset(root, 0, [ep, ep], [0, 3], OBS_SPACE, ACT_SPACE, overwrite=True)
    assert len(load_task_episodes(root, 0)[0]) == 2
    assert read_manifest(root)["finished"]["0"]["episodes"] == 2


def test_killed_writer_leaves_no_finished_task(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    root = new_root(tmp_path)
    ep = make_episode(rng, 4)
    write_task_dataset(root, 0, [ep], [0], OBS_SPACE, ACT_SPACE)
    # a writer killed before its rename leaves a hidden temporary sibling (here a complete-looking copy)
    leftover = root / ".tmp-task_001-99999-deadbeef"
    shutil.copytree(task_dir(root, 0), leftover)
    assert finished_tasks(root) == {0}
    assert "task 1: missing (not finished)" in verify_dataset(root)
    with pytest.raises(DatasetError, match="task 1 of .* is missing"):
        load_offline_tasks(root, [1], gamma=0.99)
    # a writer killed after the rename but before the manifest update: the directory does not count either
    shutil.copytree(task_dir(root, 0), task_dir(root, 1))
    assert finished_tasks(root) == {0}
    # an exception inside the write cleans its temporary directory and records nothing
    from minari.dataset._storages.hdf5_storage import HDF5Storage

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(HDF5Storage, "update_episode_metadata", crash)
        with pytest.raises(KeyboardInterrupt):
            write_task_dataset(root, 1, [ep, ep], [0, 4], OBS_SPACE, ACT_SPACE)
    assert finished_tasks(root) == {0}
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-")) == []  # stale one removed too
    # the next write replaces the stale directory and finishes the task
    write_task_dataset(root, 1, [ep, ep], [0, 4], OBS_SPACE, ACT_SPACE)
    assert finished_tasks(root) == {0, 1} and verify_dataset(root) == []
    assert len(load_task_episodes(root, 1)[0]) == 2


# ---------------------------------------------------------------------- verify / info
def test_verify_ok_and_detects_flipped_bytes(written):
    root, _, _ = written
    assert verify_dataset(root) == []
    path = task_dir(root, 1) / DATA_FILE
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
    problems = verify_dataset(root)
    assert len(problems) == 1 and problems[0].startswith("task 1: checksum mismatch")


def _tamper(root: Path, index: int, edit) -> None:
    """Edit a stored HDF5 file and re-seal its checksums, so only the content checks can notice."""
    path = task_dir(root, index) / DATA_FILE
    with h5py.File(path, "a") as fh:
        edit(fh)
    checksum = sha256_file(path)
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["finished"][str(index)]["checksum"] = checksum
    (root / MANIFEST).write_text(json.dumps(manifest))
    meta_path = task_dir(root, index) / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["nacre"]["checksum"] = checksum
    meta_path.write_text(json.dumps(meta))


def test_verify_detects_early_flags_and_non_finite_values(written):
    root, _, _ = written

    def early_flag(fh):
        fh["episode_1/terminations"][0] = True

    def nan_reward(fh):
        fh["episode_0/rewards"][1] = np.nan

    _tamper(root, 0, early_flag)
    assert verify_dataset(root) == ["task 0: 1 episode(s) with terminated/truncated before the last step "
                                    "(first: episode 1)"]  # fmt: skip
    _tamper(root, 1, nan_reward)
    assert verify_dataset(root)[1] == "task 1: 1 episode(s) with non-finite values (first: episode 0)"


def test_verify_detects_space_mismatch_with_manifest(written):
    root, _, _ = written
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["spaces"]["observation"]["shape"] = [3]
    (root / MANIFEST).write_text(json.dumps(manifest))
    problems = verify_dataset(root)
    assert len(problems) == 4  # per task: the space record and the array shapes
    assert problems[0].startswith("task 0: spaces") and "shapes that do not match" in problems[1]


def test_dataset_info(written):
    root, eps0, _ = written
    rows = dataset_info(root)
    assert [r["index"] for r in rows] == [0, 1] and [r["split"] for r in rows] == ["train", "test"]
    r = rows[0]
    returns = [float(e.rewards.astype(np.float64).sum()) for e in eps0]
    assert r["task"] == TASKS[0] and r["transitions"] == 9 and r["episodes"] == 3
    assert r["return_mean"] == pytest.approx(np.mean(returns)) and r["return_min"] == pytest.approx(min(returns))
    assert r["return_max"] == pytest.approx(max(returns))
    assert r["return_last10pct_mean"] == pytest.approx(returns[-1])  # 10% of 3 episodes rounds up to 1
    assert (r["behaviour_step_min"], r["behaviour_step_max"]) == (0, 7)
    assert r["checksum"] == sha256_file(task_dir(root, 0) / DATA_FILE) and r["size_bytes"] > 0


# ---------------------------------------------------------------------- loader
def test_derived_fields_hand_computed(tmp_path):
    rng = np.random.default_rng(3)
    root = new_root(tmp_path)
    term = make_episode(rng, 3, "terminated", rewards=[1.0, 2.0, 4.0])
    trunc = make_episode(rng, 2, "truncated", rewards=[2.0, -2.0])
    write_task_dataset(root, 0, [term, trunc], [0, 3], OBS_SPACE, ACT_SPACE)
    (d,) = load_offline_tasks(root, [0], gamma=0.5)
    assert len(d) == 5
    # terminated: G2 = 4, G1 = 2 + 0.5 * 4 = 4, G0 = 1 + 0.5 * 4 = 3; truncated: G1 = -2, G0 = 2 - 1 = 1
    np.testing.assert_allclose(d.mc_returns[:, 0], [3.0, 4.0, 4.0, 1.0, -2.0])
    np.testing.assert_allclose(d.discount_to_last[:, 0], [0.125, 0.25, 0.5, 0.25, 0.5])
    np.testing.assert_array_equal(d.last_terminated[:, 0], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(d.last_obs, np.stack([term.next_obs[-1]] * 3 + [trunc.next_obs[-1]] * 2))
    np.testing.assert_array_equal(d.obs, np.concatenate([term.obs, trunc.obs]))
    np.testing.assert_array_equal(d.next_obs, np.concatenate([term.next_obs, trunc.next_obs]))
    np.testing.assert_array_equal(d.terminated, [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(d.truncated, [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(d.sparse_rewards, np.concatenate([term.sparse_rewards, trunc.sparse_rewards]))
    np.testing.assert_array_equal(d.episode_starts, [0, 3])
    np.testing.assert_array_equal(d.behaviour_steps, [0, 3])
    assert d.task == TASKS[0] and d.task_index == 0
    for name in ("obs", "actions", "rewards", "mc_returns", "last_obs", "discount_to_last", "last_terminated"):
        assert getattr(d, name).dtype == np.float32, name
    assert d.mc_returns.shape == d.discount_to_last.shape == d.last_terminated.shape == (5, 1)


@pytest.mark.parametrize(
    ("window", "n", "episodes"),
    [
        ("first", 6, [0, 1]),  # boundaries 0 3 5 9 10 15: 6 -> 5
        ("first", 4, [0]),  # tie between 3 and 5 -> the earlier boundary
        ("last", 6, [3, 4]),  # start 15 - 6 = 9 is a boundary
        ("last", 4, [4]),  # start 11 -> 10
        ("middle", 6, [2, 3]),  # start 4.5 -> 5, end 5 + 6 = 11 -> 10
        ("all", None, [0, 1, 2, 3, 4]),
    ],
)
def test_windows_cut_at_episode_boundaries(tmp_path, window, n, episodes):
    rng = np.random.default_rng(4)
    root = new_root(tmp_path)
    eps = [make_episode(rng, length, end) for length, end in
           ((3, "terminated"), (2, "truncated"), (4, "terminated"), (1, "truncated"), (5, "cut"))]  # fmt: skip
    write_task_dataset(root, 0, eps, [0, 3, 5, 9, 10], OBS_SPACE, ACT_SPACE)
    (full,) = load_offline_tasks(root, [0], gamma=0.9)
    (d,) = load_offline_tasks(root, [0], gamma=0.9, window=window, window_transitions=n)
    kept = [eps[k] for k in episodes]
    np.testing.assert_array_equal(d.obs, np.concatenate([e.obs for e in kept]))
    np.testing.assert_array_equal(d.behaviour_steps, [[0, 3, 5, 9, 10][k] for k in episodes])
    start = int(full.episode_starts[episodes[0]])
    rows = slice(start, start + len(d))
    for name in ("mc_returns", "last_obs", "discount_to_last", "last_terminated", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(d, name), getattr(full, name)[rows], err_msg=name)


def test_window_errors(written):
    root, _, _ = written
    with pytest.raises(DatasetError, match="window_transitions 100 exceeds the 9 transitions of task 0"):
        load_offline_tasks(root, [0], gamma=0.9, window="last", window_transitions=100)
    with pytest.raises(DatasetError, match="needs a positive window_transitions"):
        load_offline_tasks(root, [0], gamma=0.9, window="first")
    with pytest.raises(DatasetError, match="window must be one of"):
        load_offline_tasks(root, [0], gamma=0.9, window="best")


def test_mismatch_and_missing_errors(written, tmp_path):
    root, _, _ = written
    with pytest.raises(DatasetError, match="holds distribution 'toy-v1', expected 'cheetah-vel-v1'"):
        load_offline_tasks(root, gamma=0.99, expect_distribution="cheetah-vel-v1")
    with pytest.raises(DatasetError, match="observation dim 2, expected 20"):
        load_offline_tasks(root, gamma=0.99, expect_obs_dim=20)
    with pytest.raises(DatasetError, match="action dim 2, expected 6"):
        load_offline_tasks(root, gamma=0.99, expect_action_dim=6)
    datas = load_offline_tasks(root, gamma=0.99, expect_distribution="toy-v1", expect_obs_dim=2, expect_action_dim=2)
    assert [d.task_index for d in datas] == [0, 1]
    assert [d.task_index for d in load_offline_tasks(root, [1, 0], gamma=0.99)] == [1, 0]
    shutil.rmtree(task_dir(root, 1))  # e.g. a writer killed while replacing the task (overwrite=True)
    assert finished_tasks(root) == {0}
    with pytest.raises(DatasetError, match="task 1 is finished in .* but .*task_001/main_data.hdf5 is missing"):
        load_offline_tasks(root, gamma=0.99)
    with pytest.raises(DatasetError, match="not a nacre dataset"):
        load_offline_tasks(tmp_path / "nowhere", gamma=0.99)


def test_contiguous_and_uniform_indices(written):
    root, _, _ = written
    (d,) = load_offline_tasks(root, [0], gamma=0.99)
    rng = np.random.default_rng(5)
    starts = set()
    for _ in range(50):
        idx = d.contiguous_indices(rng, 4)
        assert len(idx) == 4 and np.all(np.diff(idx) == 1) and idx[0] >= 0 and idx[-1] < len(d)
        starts.add(int(idx[0]))
    assert starts == set(range(len(d) - 4 + 1))  # every window position is reachable
    np.testing.assert_array_equal(d.contiguous_indices(rng, len(d)), np.arange(len(d)))
    with pytest.raises(ValueError):
        d.contiguous_indices(rng, len(d) + 1)
    idx = d.uniform_indices(rng, 500)
    assert idx.shape == (500,) and idx.min() >= 0 and idx.max() < len(d)
    assert set(idx.tolist()) == set(range(len(d)))  # with replacement, more rows than the task holds
    rows = d.rows(idx[:7])
    np.testing.assert_array_equal(rows["mc_returns"], d.mc_returns[idx[:7]])
    assert set(rows) == {"obs", "actions", "rewards", "sparse_rewards", "next_obs", "terminated", "truncated",
                         "mc_returns", "last_obs", "discount_to_last", "last_terminated"}  # fmt: skip


def test_macaw_batch_shapes_and_values(written):
    root, _, _ = written
    datas = load_offline_tasks(root, gamma=0.99)
    rng = np.random.default_rng(6)
    idx = [d.uniform_indices(rng, 8) for d in datas]
    batch = macaw_batch(datas, idx)
    assert batch.obs.shape == (2, 8, 2) and batch.actions.shape == (2, 8, 2) and batch.last_obs.shape == (2, 8, 2)
    for field in (batch.mc_returns, batch.discount_to_last, batch.last_terminated):
        assert field.shape == (2, 8, 1) and field.dtype == torch.float32
    for t, d in enumerate(datas):
        np.testing.assert_array_equal(batch.mc_returns[t].numpy(), d.mc_returns[idx[t]])
        np.testing.assert_array_equal(batch.obs[t].numpy(), d.obs[idx[t]])
        np.testing.assert_array_equal(batch.last_terminated[t].numpy(), d.last_terminated[idx[t]])
    assert batch.tasks == 2 and batch.rows == 8
    with pytest.raises(ValueError, match="same number of rows"):
        macaw_batch(datas, [idx[0], idx[1][:4]])


# ---------------------------------------------------------------------- CLI
def test_cli_info_and_verify(tmp_path, capsys):
    from nacre.cli import main

    rng = np.random.default_rng(7)
    root = new_root(tmp_path)
    write_task_dataset(root, 0, [make_episode(rng, 3, "terminated"), make_episode(rng, 2)], [0, 3], OBS_SPACE,
                       ACT_SPACE)  # fmt: skip
    assert main(["dataset", "info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "toy-v1, 1/2 tasks finished" in out
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["task", "split", "params", "episodes"]
    assert lines[2].split()[:5] == ["0", "train", '{"goal":[0.5,-0.25]}', "2", "5"]
    assert "not finished" in lines[3]
    from nacre.datasets import data_fingerprint

    one_task = data_fingerprint({"0": read_manifest(root)["finished"]["0"]["checksum"]})
    assert f"fingerprint {one_task[:12]}" in lines[0]
    assert main(["dataset", "verify", str(root)]) == 1
    captured = capsys.readouterr()
    assert "task 1: missing (not finished)" in captured.out and "failed verification" in captured.err
    write_task_dataset(root, 1, [make_episode(rng, 2)], [0], OBS_SPACE, ACT_SPACE)
    assert main(["dataset", "verify", str(root)]) == 0
    assert capsys.readouterr().out.strip() == f"{root}: OK"
    assert main(["dataset", "info", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"nacre: error: {tmp_path / 'nope'} is not a nacre dataset " \
                                              "(no manifest.json)"  # fmt: skip


def test_data_fingerprint_names_the_bytes_of_every_finished_task():
    from nacre.datasets import data_fingerprint

    a, b = "ab" * 32, "cd" * 32
    base = data_fingerprint({"0": a, "1": b})
    assert len(base) == 64 and base == data_fingerprint({"1": b, "0": a})  # order of the dict does not matter
    assert data_fingerprint({"0": a, "1": b, "2": None}) == base  # an unfinished task adds nothing
    assert data_fingerprint({"0": b, "1": a}) != base  # same files on other tasks: other data
    assert data_fingerprint({"0": a, "1": "ce" * 32}) != base
    assert data_fingerprint({"0": a}) != base
