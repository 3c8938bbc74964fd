"""MACAW's fixed task sets and splits (nacre.envs.mujoco.macaw_tasks, the MACAW reference task sets)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import nacre.envs.mujoco as nm
from nacre.envs import check_task_env, make_distribution, registered_ids
from nacre.envs.base import TaskSplit
from nacre.envs.mujoco import macaw_tasks as mt

pytestmark = pytest.mark.mujoco

# id -> (n tasks, n train, n test, test == train, observation size)
MACAW = {
    "macaw-cheetah-vel-v1": (40, 35, 5, False, 20),
    "macaw-cheetah-vel-ood-v1": (40, 26, 14, False, 20),
    "macaw-cheetah-dir-v1": (2, 2, 2, True, 20),
    "macaw-ant-dir-v1": (50, 45, 5, False, 27),
    "macaw-walker-params-v1": (35, 30, 5, False, 17),
}
# CI checks the repository out beside ../shared; the reference csv is not part of the package
CSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "macaw_task_params.csv"


def read_csv() -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = {}
    with CSV.open(newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["env"], []).append(row)
    return rows


def test_ids_registered_and_listed(capsys):
    ids = registered_ids()
    for dist_id, (n, n_train, n_test, same, _) in MACAW.items():
        assert dist_id in ids
        dist = make_distribution(dist_id)
        assert dist.id == dist_id and dist.episode_length == 200
        assert isinstance(dist, mt.FixedTaskSetMixin)
        assert (dist.n_tasks, dist.n_train, dist.n_test, dist.test_equals_train) == (n, n_train, n_test, same)
        assert len(dist.fixed_tasks()) == n
    assert make_distribution("macaw-cheetah-vel").id == "macaw-cheetah-vel-v1"  # bare name: newest version

    from nacre.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for dist_id in MACAW:
        assert f"{dist_id}: MACAW" in out


def test_cheetah_vel_velocities_and_standard_split():
    dist = make_distribution("macaw-cheetah-vel-v1")
    velocities = [t["velocity"] for t in dist.fixed_tasks()]
    assert len(velocities) == 40
    for i, v in enumerate(velocities):
        assert v == float(f"{0.075 * (i + 1):.3f}")  # the nearest double to the decimal 0.075 (i+1)
        assert abs(v - 0.075 * (i + 1)) < 1e-12
    assert velocities[0] == 0.075 and velocities[-1] == 3.0
    assert dist.test_indices == (2, 7, 15, 23, 26)
    assert dist.train_indices == tuple(i for i in range(40) if i not in (2, 7, 15, 23, 26))
    split = dist.fixed_split()
    assert len(split.train) == 35 and len(split.test) == 5
    assert [t["velocity"] for t in split.test] == [0.225, 0.6, 1.2, 1.8, 2.025]
    assert [t["velocity"] for t in split.train] == [velocities[i] for i in dist.train_indices]


def test_cheetah_vel_ood_split():
    dist = make_distribution("macaw-cheetah-vel-ood-v1")
    assert [t["velocity"] for t in dist.fixed_tasks()] == list(mt.CHEETAH_VEL_VELOCITIES)
    assert dist.train_indices == tuple(range(26)) and dist.test_indices == tuple(range(26, 40))
    split = dist.fixed_split()
    train = [t["velocity"] for t in split.train]
    test = [t["velocity"] for t in split.test]
    assert len(train) == 26 and len(test) == 14
    assert max(train) == 1.95 and min(test) == 2.025 and max(test) == 3.0
    assert max(train) < min(test)


def test_cheetah_dir_test_equals_train():
    dist = make_distribution("macaw-cheetah-dir-v1")
    split = dist.fixed_split()
    assert split.train == split.test == ({"direction": 1}, {"direction": -1})
    assert split.train[0] is not split.test[0]  # independent copies


def test_ant_dir_angles_and_split():
    dist = make_distribution("macaw-ant-dir-v1")
    angles = [t["angle"] for t in dist.fixed_tasks()]
    assert angles == list(mt.ANT_DIR_ANGLES) and len(angles) == 50
    assert angles[0] == 1.203361 and angles[-1] == 0.183199  # first / last row of the reference csv
    assert all(0.0 <= a < 2 * math.pi for a in angles)
    assert dist.test_indices == (6, 17, 23, 30, 41)
    split = dist.fixed_split()
    assert [t["angle"] for t in split.test] == [0.24544, 1.778067, 0.904175, 3.568793, 4.14191]
    assert len(split.train) == 45


@pytest.mark.skipif(not CSV.exists(), reason="reference csv not beside the checkout (../shared/data)")
def test_task_sets_match_the_reference_csv():
    rows = read_csv()

    def check(dist_id: str, env: str, key: str, column: str) -> None:
        dist = make_distribution(dist_id)
        env_rows = rows[env]
        assert [int(r["task_idx"]) for r in env_rows] == list(range(dist.n_tasks))
        assert [t[key] for t in dist.fixed_tasks()] == [float(r["param_value"]) for r in env_rows]
        assert dist.train_indices == tuple(i for i, r in enumerate(env_rows) if "train" in r[column])
        assert dist.test_indices == tuple(i for i, r in enumerate(env_rows) if "test" in r[column])

    check("macaw-cheetah-vel-v1", "cheetah_vel", "velocity", "split_standard")
    check("macaw-cheetah-vel-ood-v1", "cheetah_vel", "velocity", "split_extrapolation")
    check("macaw-cheetah-dir-v1", "cheetah_dir", "direction", "split_standard")
    check("macaw-ant-dir-v1", "ant_dir", "angle", "split_standard")
    assert "walker_params" not in rows and "walker" not in rows  # why walker's tasks are drawn by nacre


@pytest.mark.parametrize("dist_id", sorted(MACAW))
def test_train_and_test_disjoint_and_cover_all(dist_id):
    dist = make_distribution(dist_id)
    train, test = set(dist.train_indices), set(dist.test_indices)
    assert len(train) == len(dist.train_indices) and len(test) == len(dist.test_indices)
    assert train | test == set(range(dist.n_tasks))
    if dist.test_equals_train:
        assert train == test
    else:
        assert not train & test
        split = dist.fixed_split()
        assert not {repr(t) for t in split.train} & {repr(t) for t in split.test}


@pytest.mark.parametrize("dist_id", sorted(MACAW))
def test_split_is_independent_of_the_run_seed(dist_id):
    dist = make_distribution(dist_id)
    reference = dist.fixed_split()
    assert isinstance(reference, TaskSplit)
    for seed in (0, 1, 7, 123, 2**31 - 1):
        assert dist.split(seed, dist.n_train, dist.n_test) == reference
        assert make_distribution(dist_id).split(seed, dist.n_train, dist.n_test) == reference
    for bad in ((dist.n_train + 1, dist.n_test), (dist.n_train, dist.n_test - 1), (100, 30)):
        with pytest.raises(ValueError, match="fixed split"):
            dist.split(0, *bad)
    # returned tasks are copies: mutating them does not change the benchmark
    reference.train[0].clear()
    assert dist.fixed_split().train[0]


def test_walker_params_task_set_is_fixed():
    dist = make_distribution("macaw-walker-params-v1")
    tasks = dist.fixed_tasks()
    assert mt.WALKER_PARAMS_SEED == 1337
    # the task set is a function of the documented seed and walker-params' law only
    expected = make_distribution("walker-params").sample_tasks(np.random.default_rng(1337), 35)
    assert tasks == expected
    assert dist.train_indices == tuple(range(30)) and dist.test_indices == tuple(range(30, 35))
    # pinned values: a change here is a new version of the id
    assert tasks[0]["body_mass"][1] == pytest.approx(0.46531316163490344, rel=1e-12)
    assert tasks[0]["dof_damping"][3] == pytest.approx(1.5690761206901502, rel=1e-12)
    for task in tasks:
        for key, base in (("body_mass", 1.5), ("body_inertia", 1.5), ("geom_friction", 1.5), ("dof_damping", 1.3)):
            mult = np.asarray(task[key])
            assert np.all(mult >= base**-3) and np.all(mult <= base**3)
    env = dist.make_env(tasks[31])
    base = env.unwrapped.base_params["body_mass"]
    np.testing.assert_array_equal(env.unwrapped.model.body_mass, base * np.asarray(tasks[31]["body_mass"]))
    assert make_distribution("macaw-walker-params-v1", frame_skip=8).make_env(tasks[0]).unwrapped.frame_skip == 8


@pytest.mark.parametrize("dist_id", sorted(MACAW))
def test_envs_build_and_step_with_their_task(dist_id):
    dist = make_distribution(dist_id)
    split = dist.fixed_split()
    for task in (split.train[0], split.test[-1]):
        env = dist.make_env(task)
        assert env.observation_space.shape == (MACAW[dist_id][4],)
        assert env.unwrapped.get_task() == task
        check_task_env(env, steps=5)


@pytest.mark.parametrize(("dist_id", "index"), [("macaw-cheetah-vel-v1", 2), ("macaw-cheetah-vel-ood-v1", 39)])
def test_cheetah_vel_reward_uses_the_task_velocity(dist_id, index):
    dist = make_distribution(dist_id)
    task = dist.fixed_tasks()[index]
    env = dist.make_env(task)
    env.reset(seed=0)
    data, unwrapped = env.unwrapped.data, env.unwrapped
    dt = unwrapped.model.opt.timestep * unwrapped.frame_skip
    action = np.linspace(-0.8, 0.8, 6)
    x_before = float(data.qpos[0])
    _, reward, terminated, truncated, info = env.step(action)
    v_x = (data.qpos[0] - x_before) / dt
    assert info["goal_velocity"] == task["velocity"]
    assert reward == pytest.approx(-abs(v_x - task["velocity"]) - 0.05 * float(np.sum(action**2)), abs=1e-10)
    assert not terminated and not truncated


def test_ant_dir_reward_uses_the_task_angle():
    dist = make_distribution("macaw-ant-dir-v1")
    task = dist.fixed_split().test[1]
    env = dist.make_env(task)
    env.reset(seed=0)
    data = env.unwrapped.data
    dt = env.unwrapped.model.opt.timestep * env.unwrapped.frame_skip
    xy_before = data.qpos[:2].copy()
    action = np.full(8, 0.3)
    _, reward, _, _, info = env.step(action)
    v = (data.qpos[:2] - xy_before) / dt
    contact = 0.5e-3 * float(np.sum(np.clip(data.cfrc_ext, -1, 1) ** 2))
    forward = v[0] * math.cos(task["angle"]) + v[1] * math.sin(task["angle"])
    assert info["angle"] == task["angle"]
    assert reward == pytest.approx(forward - 0.5 * float(np.sum(action**2)) - contact + 1.0, abs=1e-10)


def test_gymnasium_ids():
    assert set(nm.MACAW_GYM_IDS.values()) == set(MACAW)
    assert set(nm.MACAW_GYM_IDS) <= set(gym.registry)
    env = gym.make("nacre/MacawCheetahVel-v1", task={"velocity": 0.6})
    assert env.unwrapped.task == {"velocity": 0.6} and env.spec.max_episode_steps == 200
    env.reset(seed=0)
    env.step(env.action_space.sample())
    for gym_id, dist_id in nm.MACAW_GYM_IDS.items():
        env = gym.make(gym_id)  # without a task: one of the fixed tasks, drawn from seed 0
        assert env.unwrapped.get_task() in make_distribution(dist_id).fixed_tasks()
        assert env.unwrapped.get_task() == gym.make(gym_id, seed=0).unwrapped.get_task()
        env.close()
