"""Meta-World ML1 / ML10 / ML45 (nacre.envs.metaworld). Needs the extra: pip install -e ".[metaworld]" (metaworld
3.1.1 with mujoco 3.3.0, in its own environment); skipped without it. Run with ``-m metaworld``."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.metaworld
try:  # the installed distribution, not a directory named metaworld on sys.path (this one, under tests/)
    importlib.metadata.version("metaworld")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "the metaworld extra is not installed (pip install -e '.[metaworld]' in its own environment)",
        allow_module_level=True,
    )

import metaworld  # noqa: E402

from nacre.algos.pearl import PearlTrainer, preset  # noqa: E402
from nacre.envs import check_task_env, make_distribution, registered_ids  # noqa: E402
from nacre.envs import metaworld as nmw  # noqa: E402
from nacre.envs.pool import EnvPool  # noqa: E402
from nacre.training.loop import load_trainer, train  # noqa: E402
from nacre.vector_rollout import rollout_batch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ml45_tasks():
    """ML45's train and test tasks (seed 0): one task set that covers all 50 Meta-World classes."""
    train_tasks, test_tasks = nmw.benchmark_tasks("ML45", 0)
    return [*train_tasks, *test_tasks]


def _reach_goal_policy(goal):
    goal = np.asarray(goal, dtype=np.float32)
    return lambda obs, idx: np.concatenate([np.clip((goal - obs[:, :3]) * 10.0, -1, 1),
                                            np.zeros((len(obs), 1), np.float32)], axis=1)  # fmt: skip


def test_registered_ids_cover_every_v3_environment():
    assert set(nmw.ML1_ENVS) == set(metaworld.env_dict.ALL_V3_ENVIRONMENTS)
    ids = registered_ids()
    mw_ids = [i for i in ids if i.startswith(("ml1-", "ml10-", "ml45-"))]
    assert set(mw_ids) == {nmw.ml1_id(n) for n in nmw.ML1_ENVS} | {"ml10-v3", "ml45-v3"}
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in mw_ids)  # safe as run-directory names


def test_every_id_builds_steps_and_reports_success(ml45_tasks):
    by_class = {t["env_name"]: t for t in ml45_tasks}
    assert set(by_class) == set(nmw.ML1_ENVS)
    rng = np.random.default_rng(0)
    for name in nmw.ML1_ENVS:
        dist = make_distribution(nmw.ml1_id(name))
        assert dist.episode_length == 500 and dist.default_task_counts == (50, 50)
        env = dist.make_env(by_class[name])
        obs, _ = env.reset(seed=0)
        assert obs.shape == (39,) and env.action_space.shape == (4,)
        for _ in range(3):
            _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
            assert isinstance(info["success"], bool) and np.isfinite(reward) and not terminated and not truncated
        env.close()
    for spec, counts in (("ml10", (500, 250)), ("ml45", (2250, 250))):
        dist = make_distribution(spec)
        assert dist.default_task_counts == counts
        split = dist.split(0, 10 if spec == "ml10" else 45, 5)
        for task in (split.train[0], split.test[0]):
            env = dist.make_env(task)
            env.reset()
            assert "success" in env.step(np.zeros(4, np.float32))[4]


def test_full_episode_500_steps_success_at_any_step():
    dist = make_distribution("ml1-reach-v3")
    check_task_env(dist)  # JSON tasks, disjoint split, truncated exactly at step 500
    task = dist.split(0, 50, 50).test[0]
    env = dist.make_env(task)
    traj = rollout_batch([env], _reach_goal_policy(task["rand_vec"][3:6]), np.random.default_rng(0), 500)[0]
    assert len(traj) == 500 and traj.truncated[-1] and not traj.terminated.any()
    assert traj.succeeded and not traj.success[0]
    lazy = rollout_batch([env], lambda o, i: np.zeros((len(o), 4), np.float32), np.random.default_rng(0), 500)[0]
    assert not lazy.succeeded


def test_json_task_pins_metaworld_task():
    bench = metaworld.ML1("push-v3", seed=3)
    dist = make_distribution("ml1-push-v3")
    split = dist.split(3, 50, 50)
    for ours, theirs in ((split.train[7], bench.train_tasks[7]), (split.test[11], bench.test_tasks[11])):
        ours = json.loads(json.dumps(ours))  # through JSON, as tasks.json stores it
        assert set(ours) == {"env_name", "rand_vec", "partially_observable"}
        env = dist.make_env(ours)
        raw = metaworld.env_dict.ALL_V3_ENVIRONMENTS["push-v3"]()
        raw.set_task(theirs)
        a, _ = env.reset()
        b, _ = raw.reset()
        np.testing.assert_array_equal(a, b)
        rng = np.random.default_rng(1)
        for _ in range(20):
            action = rng.uniform(-1, 1, 4).astype(np.float32)
            sa, ra = env.step(action)[:2]
            sb, rb = raw.step(action)[:2]
            np.testing.assert_array_equal(sa, sb)
            assert ra == rb


def test_train_and_test_tasks_come_from_the_benchmarks_own_sets():
    train_set, test_set = nmw.benchmark_tasks("reach-v3", 0)
    key = lambda t: tuple(t["rand_vec"])
    split = make_distribution("ml1-reach-v3").split(0, 50, 50)
    assert [key(t) for t in split.train] == [key(t) for t in train_set]
    assert [key(t) for t in split.test] == [key(t) for t in test_set]
    assert not {key(t) for t in train_set} & {key(t) for t in test_set}
    small = make_distribution("ml1-reach-v3").split(0, 10, 5)
    assert {key(t) for t in small.train} <= {key(t) for t in train_set}
    assert {key(t) for t in small.test} <= {key(t) for t in test_set}
    ml10 = make_distribution("ml10").split(0, 20, 10)
    train_classes = {t["env_name"] for t in ml10.train}
    test_classes = {t["env_name"] for t in ml10.test}
    assert train_classes == set(metaworld.env_dict.ML10_V3["train"]) and len(ml10.train) == 20
    assert test_classes == set(metaworld.env_dict.ML10_V3["test"]) and not train_classes & test_classes
    assert all(sum(t["env_name"] == c for t in ml10.train) == 2 for c in train_classes)  # spread evenly
    with pytest.raises(ValueError, match="n_train_tasks must be in 1..500"):
        make_distribution("ml10").split(0, 501, 10)


def test_benchmark_is_built_once(monkeypatch):
    make_distribution("ml1-reach-v3").split(0, 5, 5)

    def fail(*args, **kwargs):
        raise AssertionError("the benchmark was built again")

    monkeypatch.setattr(metaworld, "ML1", fail)
    make_distribution("ml1-reach-v3").split(0, 50, 50)


def test_shared_env_equals_a_fresh_env_and_refuses_other_classes():
    dist = make_distribution("ml1-reach-v3")
    tasks = dist.split(0, 50, 50).train
    pool = EnvPool(dist)
    actions = np.random.default_rng(2).uniform(-1, 1, (30, 4)).astype(np.float32)

    def run(env):
        out = [env.reset()[0]]
        out += [env.step(a)[0] for a in actions]
        return np.stack(out)

    for task in tasks[:5]:
        shared = pool.envs([task])[0]
        np.testing.assert_array_equal(run(shared), run(dist.make_env(task)))
    assert pool.num_envs == 1
    push = make_distribution("ml1-push-v3").split(0, 1, 1).train[0]
    with pytest.raises(ValueError, match="cannot take a push-v3 task"):
        shared.set_task(push)


def test_pearl_on_ml10_logs_success_per_class_and_eval_needs_no_rebuild(tmp_path, monkeypatch):
    cfg = preset("tiny", "ml10", num_iterations=1, n_test_tasks=3, env_kwargs={"episode_length": 20})
    assert (cfg.latent_dim, cfg.reward_scale) == (7, 10.0)
    trainer = PearlTrainer(cfg)
    assert trainer.shares_envs and trainer.reports_success
    metrics = train(trainer, tmp_path / "run", tensorboard=False)
    classes = {k.rpartition("/")[2] for k in metrics if k.startswith("success/test_class/")}
    assert len(classes) == 3 and classes <= set(metaworld.env_dict.ML10_V3["test"])
    assert "success/test" in metrics and "success/train_prior" in metrics
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["versions"]["mujoco"] == "3.3.0" and meta["versions"]["metaworld"] == "3.1.1"
    # evaluation and resume read tasks.json: no benchmark build
    monkeypatch.setattr(nmw, "benchmark_tasks", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    loaded = load_trainer(tmp_path / "run", weights_only=True)
    result = loaded.evaluate(num_runs=1, num_trajectories=2)
    assert result.reports_success and set(result.success_by_group(1)) == classes


def test_presets():
    paper = preset("paper", "ml1-reach-v3")
    assert (paper.n_train_tasks, paper.n_test_tasks, paper.meta_batch, paper.num_tasks_sample) == (50, 50, 16, 15)
    assert (paper.batch_size, paper.embedding_batch_size, paper.latent_dim, paper.num_evals) == (500, 250, 7, 5)
    assert (paper.num_steps_prior, paper.num_steps_posterior, paper.num_extra_rl_steps_posterior) == (2500,) * 3
    assert preset("paper", "ml45").n_train_tasks == 2250 and preset("paper", "ml10").meta_batch == 10
    fast = preset("fast", "ml1-push-v3")
    assert fast.reward_scale == 10.0 and fast.n_test_tasks == 10


def test_dataset_generate_ml1(tmp_path):
    out = tmp_path / "data"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "nacre.cli", "dataset", "generate", "ml1-reach-v3", "--out", str(out),
                          "--preset", "tiny", "--n-train", "2", "--n-test", "1", "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["distribution_id"] == "ml1-reach-v3" and len(manifest["tasks"]) == 3
    assert manifest["tasks"][0]["env_name"] == "reach-v3"
    info = subprocess.run([sys.executable, "-m", "nacre.cli", "dataset", "info", str(out)], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert info.returncode == 0 and "3/3 tasks finished" in info.stdout
