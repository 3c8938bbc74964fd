"""MuJoCo task families (nacre.envs.mujoco): shapes, rewards recomputed by hand, termination, splits,
Gymnasium ids, and bit-for-bit model restoration for the parameter families."""

from __future__ import annotations

import json
import math
import pickle
import warnings

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import nacre.envs.mujoco as nm
from nacre.envs import check_task_env, make_distribution, registered_ids
from nacre.envs.mujoco._common import quiet_settotalmass_warning

pytestmark = pytest.mark.mujoco

# family -> (observation size, action size, Gymnasium v5 id it is built on)
FAMILIES = {
    "cheetah-vel": (20, 6, "HalfCheetah-v5"),
    "cheetah-dir": (20, 6, "HalfCheetah-v5"),
    "ant-dir": (27, 8, "Ant-v5"),
    "ant-dir-random": (27, 8, "Ant-v5"),
    "ant-goal": (107, 8, "Ant-v5"),
    "humanoid-dir": (348, 17, "Humanoid-v5"),
    "walker-params": (17, 6, "Walker2d-v5"),
    "hopper-params": (11, 3, "Hopper-v5"),
}
FIXED_SPLIT = {"cheetah-dir", "ant-dir"}
RANDOM_SPLIT = sorted(set(FAMILIES) - FIXED_SPLIT)
PAPER_COUNTS = {
    "cheetah-vel": (100, 30),
    "ant-dir-random": (100, 30),
    "ant-goal": (150, 30),
    "humanoid-dir": (100, 30),
    "walker-params": (40, 10),
    "hopper-params": (40, 10),
}


def make(family: str, seed: int = 0, **kwargs):
    dist = make_distribution(family, **kwargs)
    task = dist.sample_tasks(np.random.default_rng(seed), 1)[0]
    return dist, task, dist.make_env(task)


def raw_env(gym_id: str) -> gym.Env:
    """The plain Gymnasium v5 env (without MuJoCo's settotalmass deprecation note in MUJOCO_LOG.TXT)."""
    with quiet_settotalmass_warning():
        return gym.make(gym_id)


def sq(x: np.ndarray) -> float:
    return float(np.sum(np.square(x)))


def mass_center_xy(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    mass = np.asarray(model.body_mass)
    return (np.sum(mass[:, None] * data.xipos, axis=0) / mass.sum())[:2]


def expected_reward(family: str, env, task, before: dict, action: np.ndarray) -> float:
    """The reward of one step recomputed from the simulator state before/after (the PEARL reference environments)."""
    data = env.unwrapped.data
    dt = env.unwrapped.model.opt.timestep * env.unwrapped.frame_skip
    qpos = data.qpos
    if family in ("cheetah-vel", "cheetah-dir"):
        v = (qpos[0] - before["qpos"][0]) / dt
        ctrl = 0.05 * sq(action)
        return -abs(v - task["velocity"]) - ctrl if family == "cheetah-vel" else task["direction"] * v - ctrl
    if family in ("ant-dir", "ant-dir-random", "ant-goal"):
        contact = 0.5e-3 * sq(np.clip(data.cfrc_ext, -1, 1))
        if family == "ant-goal":
            return -float(np.sum(np.abs(qpos[:2] - np.asarray(task["goal"])))) - 0.1 * sq(action) - contact
        v = (qpos[:2] - before["qpos"][:2]) / dt
        t = task["angle"]
        return v[0] * math.cos(t) + v[1] * math.sin(t) - 0.5 * sq(action) - contact + 1.0
    if family == "humanoid-dir":
        v = (mass_center_xy(env.unwrapped.model, data) - before["com"]) / dt
        t = task["angle"]
        forward = 1.25 * (v[0] * math.cos(t) + v[1] * math.sin(t))
        return forward - 0.1 * sq(data.ctrl) - min(0.5e-6 * sq(data.cfrc_ext), 10.0) + 5.0
    v = (qpos[0] - before["qpos"][0]) / dt  # walker / hopper
    return v + 1.0 - 1e-3 * sq(action)


# ------------------------------------------------------------------ registry and spaces


def test_all_families_registered():
    ids = registered_ids()
    for family in FAMILIES:
        assert f"{family}-v1" in ids
        dist = make_distribution(family)
        assert dist.id == f"{family}-v1"
        assert dist.episode_length == 200
        assert dist.test_equals_train == (family in FIXED_SPLIT)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shapes_bounds_and_checkers(family):
    obs_dim, act_dim, gym_id = FAMILIES[family]
    _, _, env = make(family)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (obs_dim,)
    assert obs.dtype == env.observation_space.dtype
    assert env.action_space.shape == (act_dim,)
    # the action space is the MuJoCo ctrlrange (nacre's collector rescales [-1, 1] to it)
    ctrlrange = env.unwrapped.model.actuator_ctrlrange
    np.testing.assert_array_equal(env.action_space.low, ctrlrange[:, 0].astype(np.float32))
    np.testing.assert_array_equal(env.action_space.high, ctrlrange[:, 1].astype(np.float32))
    raw = raw_env(gym_id)
    np.testing.assert_array_equal(env.action_space.low, raw.action_space.low)
    raw.close()
    check_task_env(env, steps=10)
    with warnings.catch_warnings():
        # unbounded Box / no-spec render warnings, as for Gymnasium's own envs
        warnings.simplefilter("ignore")
        check_env(env)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (obs_dim,) and isinstance(reward, float)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
    assert "x_velocity" in info and "reward_ctrl" in info


# ------------------------------------------------------------------ rewards by hand


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_reward_recomputed_from_simulator_state(family):
    _, task, env = make(family, seed=3)
    env.reset(seed=1)
    env.action_space.seed(2)
    u = env.unwrapped
    for _ in range(25):
        action = env.action_space.sample().astype(np.float64)
        before = {"qpos": u.data.qpos.copy(), "com": mass_center_xy(u.model, u.data)}
        _, reward, terminated, _, info = env.step(action)
        assert reward == pytest.approx(expected_reward(family, env, task, before, action), rel=1e-9, abs=1e-9)
        assert info["reward_ctrl"] <= 0.0
        if terminated:
            env.reset()


def test_actions_are_clipped_to_ctrlrange_before_cost():
    _, task, env = make("cheetah-vel")
    env.reset(seed=0)
    x_before = env.unwrapped.data.qpos[0]
    action = np.array([3.0, -3.0, 0.5, 0.0, 2.0, -0.25])
    _, reward, *_ = env.step(action)
    clipped = np.clip(action, -1, 1)
    np.testing.assert_array_equal(env.unwrapped.data.ctrl, clipped)
    v = (env.unwrapped.data.qpos[0] - x_before) / 0.05
    assert reward == pytest.approx(-abs(v - task["velocity"]) - 0.05 * sq(clipped), abs=1e-12)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(5))


def test_cheetah_torso_observation_is_fresh_body_position():
    _, _, env = make("cheetah-dir")
    env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    u = env.unwrapped
    np.testing.assert_array_equal(obs[:8], u.data.qpos[1:])
    np.testing.assert_array_equal(obs[8:17], u.data.qvel)
    data = mujoco.MjData(u.model)
    data.qpos[:] = u.data.qpos
    mujoco.mj_kinematics(u.model, data)
    np.testing.assert_allclose(obs[17:], data.body("torso").xpos, atol=1e-12)


@pytest.mark.parametrize(
    "family", ["cheetah-vel", "ant-dir", "ant-goal", "humanoid-dir", "walker-params", "hopper-params"]
)
def test_same_physics_as_gymnasium_v5(family):
    """Same seed and actions: the nacre env and the raw v5 env go through the same states."""
    gym_id = FAMILIES[family][2]
    if family.endswith("-params"):
        env = make_distribution(family).make_env({})  # the unmodified model
    else:
        _, _, env = make(family)
    raw = raw_env(gym_id).unwrapped
    env.reset(seed=5)
    raw.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(env.action_space.low, env.action_space.high)
        _, _, _, _, info = env.step(action)
        _, _, _, _, raw_info = raw.step(action)
        np.testing.assert_array_equal(env.unwrapped.data.qpos, raw.data.qpos)
        if family == "humanoid-dir":  # both are the mass-centre velocity
            assert info["x_velocity"] == pytest.approx(raw_info["x_velocity"], rel=1e-9, abs=1e-9)
    raw.close()


@pytest.mark.parametrize(
    ("family", "key"),
    [
        ("cheetah-vel", "goal_velocity"),
        ("cheetah-dir", "direction"),
        ("ant-dir", "angle"),
        ("ant-goal", "goal"),
        ("humanoid-dir", "angle"),
    ],
)
def test_info_carries_task_and_reward_terms(family, key):
    _, _, env = make(family)
    env.reset(seed=0)
    info = env.step(np.zeros(env.action_space.shape))[4]
    assert key in info and ("reward_forward" in info or "reward_goal" in info)
    assert np.all(np.asarray(info[key]) == np.asarray(next(iter(env.unwrapped.task.values()))))


@pytest.mark.parametrize("family", ["cheetah-vel", "ant-goal", "walker-params"])
def test_env_pickles_with_its_task(family):
    _, task, env = make(family)
    copy = pickle.loads(pickle.dumps(env))
    assert copy.unwrapped.get_task() == env.unwrapped.get_task()
    assert copy.observation_space == env.observation_space
    np.testing.assert_array_equal(copy.reset(seed=4)[0], env.reset(seed=4)[0])


def test_ant_goal_observation_has_xy_and_contacts():
    _, _, env = make("ant-goal")
    env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    data = env.unwrapped.data
    np.testing.assert_array_equal(obs[:2], data.qpos[:2])
    np.testing.assert_array_equal(obs[29:], np.clip(data.cfrc_ext[1:], -1, 1).ravel())
    _, _, small = make("ant-goal", contact_forces_in_obs=False)
    assert small.observation_space.shape == (29,)


# ------------------------------------------------------------------ termination and truncation


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_truncated_exactly_at_step_200(family):
    _, _, env = make(family)
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape)
    flags = [env.step(zero)[3] for _ in range(200)]  # keeps stepping even after a fall
    assert flags == [False] * 199 + [True]
    env.reset(seed=0)
    assert env.step(zero)[3] is False


def step_from_state(env, **qpos_items):
    """Reset, overwrite qpos entries, zero the velocities, take one zero-action step."""
    env.reset(seed=0)
    u = env.unwrapped
    qpos = u.data.qpos.copy()
    for index, value in qpos_items.items():
        qpos[int(index[1:])] = value
    u.set_state(qpos, np.zeros(u.model.nv))
    _, _, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
    return terminated, truncated


def test_cheetah_never_terminates():
    _, _, env = make("cheetah-vel")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    assert not any(env.step(rng.uniform(-1, 1, 6))[2] for _ in range(200))


@pytest.mark.parametrize("family", ["ant-dir", "ant-goal"])
def test_ant_terminates_outside_height_range(family):
    _, _, env = make(family)
    assert step_from_state(env) == (False, False)
    assert step_from_state(env, q2=1.5) == (True, False)  # torso above 1.0
    # torso below 0.2: the contacts push it back up within one step, so check the rule on the state
    u = env.unwrapped
    qpos = u.data.qpos.copy()
    qpos[2] = 0.1
    u.set_state(qpos, np.zeros(u.model.nv))
    assert not u.is_healthy
    qpos[2] = 0.2
    u.set_state(qpos, np.zeros(u.model.nv))
    assert u.is_healthy  # the bounds are inclusive, as in the reference
    _, _, no_term = make(family if family == "ant-goal" else "ant-goal", terminate_when_unhealthy=False)
    assert step_from_state(no_term, q2=1.5) == (False, False)


def test_ant_goal_presets_never_terminate_like_the_reference():
    """The reference ant-goal has ``done = False`` (and the A/B in BENCHMARKS.md gave no reason to differ); every
    PEARL preset, the smoke-test one included, runs the reference's environment."""
    from nacre.algos.pearl.config import PRESETS, preset

    for name in PRESETS:
        cfg = preset(name, "ant-goal")
        assert cfg.env_kwargs["terminate_when_unhealthy"] is False
        _, _, env = make(cfg.env, **cfg.env_kwargs)
        assert step_from_state(env, q2=1.5) == (False, False)  # unhealthy, and the episode goes on
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        flags = [env.step(rng.uniform(-1, 1, 8))[2:4] for _ in range(200)]
        assert not any(term for term, _ in flags) and flags[-1][1]  # whole 200 steps, then the time limit
    merged = preset("paper", "ant-goal", env_kwargs={"contact_forces_in_obs": False}).env_kwargs
    assert merged == {"terminate_when_unhealthy": False, "contact_forces_in_obs": False}


def test_humanoid_terminates_outside_height_range():
    _, _, env = make("humanoid-dir")
    assert step_from_state(env) == (False, False)
    assert step_from_state(env, q2=2.5) == (True, False)
    assert step_from_state(env, q2=0.8) == (True, False)


def test_walker_and_hopper_health_rules():
    _, _, walker = make("walker-params")
    assert step_from_state(walker) == (False, False)
    assert step_from_state(walker, q1=0.5) == (True, False)  # height below 0.8
    assert step_from_state(walker, q2=1.2) == (True, False)  # |angle| >= 1
    _, _, hopper = make("hopper-params")
    assert step_from_state(hopper) == (False, False)
    assert step_from_state(hopper, q2=0.3) == (True, False)  # |angle| >= 0.2
    assert step_from_state(hopper, q1=0.5) == (True, False)  # height below 0.7


# ------------------------------------------------------------------ tasks and splits


@pytest.mark.parametrize("family", RANDOM_SPLIT)
def test_split_deterministic_and_disjoint(family):
    dist = make_distribution(family)
    n_train, n_test = PAPER_COUNTS.get(family, (20, 5))
    a, b, c = dist.split(0, n_train, n_test), dist.split(0, n_train, n_test), dist.split(1, n_train, n_test)
    assert len(a.train) == n_train and len(a.test) == n_test
    assert a == b
    assert a.train != c.train
    train = {json.dumps(t, sort_keys=True) for t in a.train}
    test = {json.dumps(t, sort_keys=True) for t in a.test}
    assert len(train) == n_train and len(test) == n_test and not train & test
    assert json.loads(json.dumps(a.train[0])) == a.train[0]  # plain JSON, exact round trip
    # sample_tasks uses only its rng
    rng_tasks = dist.sample_tasks(np.random.default_rng(7), 3)
    assert rng_tasks == dist.sample_tasks(np.random.default_rng(7), 3)


def test_sampling_laws():
    rng = np.random.default_rng(0)
    vel = np.array([t["velocity"] for t in make_distribution("cheetah-vel").sample_tasks(rng, 500)])
    assert vel.min() >= 0.0 and vel.max() <= 3.0 and vel.max() > 2.8
    goals = np.array([t["goal"] for t in make_distribution("ant-goal").sample_tasks(rng, 500)])
    radius = np.linalg.norm(goals, axis=1)
    assert radius.max() <= 3.0 and np.mean(radius < 1.5) == pytest.approx(0.25, abs=0.07)  # uniform in disk
    for family in ("humanoid-dir", "ant-dir-random"):
        angles = np.array([t["angle"] for t in make_distribution(family).sample_tasks(rng, 500)])
        assert angles.min() >= 0.0 and angles.max() < 2 * math.pi and angles.max() > 6.0
    task = make_distribution("walker-params").sample_tasks(rng, 1)[0]
    env = make_distribution("walker-params").make_env({})
    laws = {
        "body_mass": 1.5,
        "body_inertia": 1.5,
        "geom_friction": 1.5,
        "dof_damping": 1.3,
    }
    for key, base in laws.items():
        mult = np.asarray(task[key])
        assert mult.shape == getattr(env.unwrapped.model, key).shape
        assert np.all(mult >= base**-3) and np.all(mult <= base**3)


@pytest.mark.parametrize(
    ("family", "key", "values"), [("cheetah-dir", "direction", {-1, 1}), ("ant-dir", "angle", {0.0, math.pi})]
)
def test_fixed_split_families(family, key, values):
    dist = make_distribution(family)
    for seed in (0, 1, 123):
        split = dist.split(seed, 2, 2)
        assert split.train == split.test
        assert {t[key] for t in split.train} == values
    for bad in ((1, 2), (2, 1), (3, 3), (100, 30)):
        with pytest.raises(ValueError, match="fixed split"):
            dist.split(0, *bad)
    sampled = dist.sample_tasks(np.random.default_rng(0), 20)
    assert {t[key] for t in sampled} == values


def test_dir_tasks_switch_reward_sign():
    _, _, env = make("cheetah-dir")
    results = []
    for direction in (1, -1):
        env.set_task({"direction": direction})
        env.reset(seed=0)
        info = env.step(np.full(6, 0.5))[4]
        results.append((info["reward_forward"], info["x_velocity"]))
    assert results[0][0] == pytest.approx(results[0][1]) and results[1][0] == pytest.approx(-results[1][1])
    with pytest.raises(ValueError):
        env.set_task({"direction": 0.5})


# ------------------------------------------------------------------ walker / hopper parameters


def model_arrays(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    out = {}
    for name in dir(model):
        if name.startswith("_"):
            continue
        try:
            value = getattr(model, name)
        except Exception:  # noqa: BLE001 - some attributes are not readable
            continue
        if isinstance(value, np.ndarray):
            out[name] = value.copy()
    return out


def rollout(env, seed: int, steps: int = 40) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(
        env.action_space.low, env.action_space.high, (steps, env.action_space.shape[0])
    )
    out = [obs]
    for a in actions:
        obs, reward, *_ = env.step(a)
        out.append(np.append(obs, reward))
    return np.concatenate(out)


@pytest.mark.parametrize("family", ["walker-params", "hopper-params"])
def test_params_change_model_and_restore_bit_for_bit(family):
    dist = make_distribution(family)
    task_a, task_b = dist.sample_tasks(np.random.default_rng(0), 2)
    env = dist.make_env(task_a)
    model = env.unwrapped.model
    fresh_base = model_arrays(dist.make_env({}).unwrapped.model)
    base = env.unwrapped.base_params
    for key in ("body_mass", "body_inertia", "geom_friction", "dof_damping"):
        np.testing.assert_array_equal(getattr(model, key), base[key] * np.asarray(task_a[key]))
        assert not np.array_equal(getattr(model, key), fresh_base[key])
    arrays_a = model_arrays(model)
    roll_a = rollout(env, seed=3)

    env.set_task(task_b)
    assert not np.array_equal(model.body_mass, arrays_a["body_mass"])
    roll_b = rollout(env, seed=3)
    assert not np.array_equal(roll_a, roll_b)  # different dynamics

    env.set_task(task_a)
    arrays_back = model_arrays(model)
    assert arrays_back.keys() == arrays_a.keys()
    for name, value in arrays_a.items():
        assert np.array_equal(arrays_back[name], value, equal_nan=True), name
    np.testing.assert_array_equal(rollout(env, seed=3), roll_a)
    np.testing.assert_array_equal(rollout(dist.make_env(task_a), seed=3), roll_a)  # same as a fresh env

    env.set_task({})  # the unmodified model
    for name, value in fresh_base.items():
        assert np.array_equal(model_arrays(model)[name], value, equal_nan=True), name
    assert env.get_task() == {}


def test_params_task_validation():
    env = make_distribution("hopper-params").make_env({})
    with pytest.raises(ValueError, match="shape"):
        env.set_task({"body_mass": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unknown"):
        env.set_task({"gravity": [1.0]})
    with pytest.raises(ValueError, match="positive"):
        env.set_task({"dof_damping": [0.0] * env.unwrapped.model.nv})


def test_params_frame_skip_option():
    env = make_distribution("walker-params", frame_skip=8).make_env({})
    assert env.unwrapped.dt == pytest.approx(0.016)


# ------------------------------------------------------------------ Gymnasium ids


def test_gymnasium_ids():
    assert set(nm.GYM_IDS) <= set(gym.registry)
    env = gym.make("nacre/CheetahVel-v1", task={"velocity": 1.0})
    assert env.unwrapped.task == {"velocity": 1.0}
    assert env.spec.max_episode_steps == 200
    env.reset(seed=0)
    env.step(env.action_space.sample())
    # without a task: one task sampled from `seed` (default 0), deterministically
    t0 = gym.make("nacre/AntGoal-v1").unwrapped.task
    assert t0 == gym.make("nacre/AntGoal-v1", seed=0).unwrapped.task
    assert t0 != gym.make("nacre/AntGoal-v1", seed=1).unwrapped.task
    assert gym.make("nacre/AntGoal-v1", contact_forces_in_obs=False).observation_space.shape == (29,)
    # Gymnasium's "module:id" form imports nacre.envs.mujoco itself
    assert gym.make("nacre.envs.mujoco:nacre/HopperParams-v1").observation_space.shape == (11,)
    for gym_id, family in nm.GYM_IDS.items():
        env = gym.make(gym_id)
        assert env.observation_space.shape == (FAMILIES[family.removesuffix("-v1")][0],)
        env.close()


@pytest.mark.parametrize("family", ["walker-params", "hopper-params", "macaw-walker-params"])
def test_reference_timestep_option(family):
    """timestep=0.004 with frame_skip 4 gives the reference's dt = 0.016 (its MuJoCo 1.31 models)."""
    _, _, default = make(family)
    _, task, ref = make(family, timestep=0.004)
    assert default.unwrapped.dt == pytest.approx(0.008) and ref.unwrapped.dt == pytest.approx(0.016)
    assert ref.unwrapped.model.opt.timestep == 0.004
    ref.reset(seed=0)
    ref.unwrapped.set_task(task)  # task switches (mj_setConst) keep the timestep
    assert ref.unwrapped.model.opt.timestep == 0.004
    with pytest.raises(ValueError, match="timestep"):
        make(family, timestep=-1.0)


def test_pearl_paper_presets_use_the_reference_walker_timestep():
    from nacre.algos.pearl.config import preset

    assert preset("paper", "walker-params").env_kwargs == {"timestep": 0.004}
    assert preset("paper", "hopper-params").env_kwargs == {"timestep": 0.004}
    assert preset("paper", "macaw-walker-params").env_kwargs == {}  # the offline data fixes that environment
