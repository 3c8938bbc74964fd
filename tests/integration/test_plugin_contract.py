"""The plug-in contract (docs/environments.md): the documented example runs, presets, entry points, run-directory
names, tasks.json as the run's tasks, JSON validation before a run directory exists, check_task_env, success
logging for any family that reports it, and the one-line MuJoCo install errors."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from nacre.algos.pearl import PearlTrainer, preset
from nacre.envs import TaskDistribution, check_task_env, make_distribution, register
from nacre.envs.base import TaskSplit, split_from_json, split_to_json
from nacre.envs.pool import EnvPool
from nacre.envs.registry import TaskDistributionError, load_entry_points
from nacre.training.loop import (
    RunDirError,
    load_trainer,
    resume_trainer,
    run_dir_name,
    train,
)

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- a small plug-in used below
class LineEnv(gym.Env):
    def __init__(self, goal: float, episode_length: int, truncate_at: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.goal, self.episode_length = goal, episode_length
        self.truncate_at = truncate_at or episode_length
        self.builds = 1

    def set_task(self, task):
        self.goal = float(task["goal"])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = 0.0, 0
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.x += 0.1 * float(np.clip(action[0], -1, 1))
        self.t += 1
        dist = abs(self.x - self.goal)
        return (np.array([self.x], dtype=np.float32), -dist, False, self.t >= self.truncate_at,
                {"success": dist < 0.3})  # fmt: skip


class LineGoals(TaskDistribution):
    """Goals on a line; reports success; 15-step episodes."""

    name = "line-goals"
    version = 2
    episode_length = 15
    default_task_counts = (6, 3)
    built = 0

    def __init__(self, truncate_at: int | None = None, shared: bool = False) -> None:
        self.truncate_at, self.shared = truncate_at, shared

    def sample_tasks(self, rng, n):
        return [{"goal": float(g)} for g in rng.uniform(-1, 1, size=n)]

    def make_env(self, task):
        type(self).built += 1
        return LineEnv(task["goal"], self.episode_length, self.truncate_at)

    def env_key(self, task):
        return "line" if self.shared else None

    def task_group(self, task):
        return "left" if task["goal"] < 0 else "right"

    def preset_overrides(self, algorithm, preset_name):
        return {"kl_lambda": 0.5} if (algorithm, preset_name) == ("pearl", "paper") else {}  # PEARL's field


class NotJsonGoals(LineGoals):
    """Tasks holding a set: not JSON."""

    name = "not-json-goals"

    def sample_tasks(self, rng, n):
        return [{"goal": float(g), "tags": {"a"}} for g in rng.uniform(-1, 1, size=n)]


class SameGoals(LineGoals):
    """Every task the same: the held-out tasks are train tasks."""

    name = "same-goals"

    def sample_tasks(self, rng, n):
        return [{"goal": 0.5}] * n


register("line-goals", LineGoals, version=2)
register("not-json-goals", NotJsonGoals)
register("same-goals", SameGoals)


# ---------------------------------------------------------------------- the documented example
def _doc_example() -> str:
    text = (ROOT / "docs" / "environments.md").read_text()
    match = re.search(r"<!-- plugin-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/environments.md lost its <!-- plugin-example --> code block"
    return match.group(1)


def test_documented_plugin_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _doc_example()
    namespace: dict = {"__name__": "plugin_example"}
    exec(compile(code, "docs/environments.md", "exec"), namespace)
    run = tmp_path / "runs" / "circle-goals-s0"
    assert (run / "tasks.json").is_file() and (run / "checkpoints").is_dir()
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert "success/test" in rows[-1] and "success/test_traj_1" in rows[-1]


# ---------------------------------------------------------------------- presets
def test_derived_presets_follow_episode_length_counts_and_family_overrides():
    paper = preset("paper", "line-goals")
    assert (paper.n_train_tasks, paper.n_test_tasks) == (6, 3)
    assert (paper.num_initial_steps, paper.num_steps_prior, paper.num_extra_rl_steps_posterior) == (150, 30, 45)
    assert paper.kl_lambda == 0.5  # the family's preset_overrides
    fast, quick, tiny = preset("fast", "line-goals"), preset("quick", "line-goals"), preset("tiny", "line-goals")
    assert fast.hidden_size == 256 and fast.num_initial_steps == 150 and fast.kl_lambda == 0.1
    assert quick.num_iterations == 12
    assert (tiny.n_train_tasks, tiny.n_test_tasks) == (4, 2)
    assert preset("paper", "line-goals", kl_lambda=0.2).kl_lambda == 0.2  # the user's value wins
    spec = f"{__name__}:LineGoals"
    assert preset("fast", spec).n_train_tasks == 6  # a module:Class spec too


def test_plugin_presets_train(tmp_path):
    cfg = preset("tiny", "line-goals", num_iterations=1)
    train(PearlTrainer(cfg), tmp_path / "run", tensorboard=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["distribution"] == "line-goals-v2"


# ---------------------------------------------------------------------- entry points
def test_entry_point_discovery(tmp_path, monkeypatch):
    pkg = tmp_path / "ep_plugin_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent('''
        import numpy as np
        from nacre.envs import TaskDistribution
        from nacre.envs.point_robot import PointRobotEnv

        class EpGoals(TaskDistribution):
            """Found through an entry point."""
            name = "ep-goals"
            version = 1
            episode_length = 20
            def sample_tasks(self, rng, n):
                return [{"goal": [float(x), 0.0]} for x in rng.uniform(-1, 1, size=n)]
            def make_env(self, task):
                return PointRobotEnv(tuple(task["goal"]), 20)
    ''')
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [importlib.metadata.EntryPoint(name="ep-goals", value="ep_plugin_pkg:EpGoals", group="nacre.distributions"),
           importlib.metadata.EntryPoint(name="broken-goals-v3", value="no_such_module_xyz:Nothing",
                                         group="nacre.distributions")]  # fmt: skip
    real = importlib.metadata.entry_points

    def fake(**kwargs):
        return eps if kwargs.get("group") == "nacre.distributions" else real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    assert load_entry_points() == ["ep-goals-v1"]
    assert make_distribution("ep-goals").id == "ep-goals-v1"
    assert preset("tiny", "ep-goals").env == "ep-goals"
    with pytest.raises(TaskDistributionError, match="broken-goals-v3.*failed to load.*ModuleNotFoundError"):
        make_distribution("broken-goals-v3")
    assert load_entry_points() == []  # already registered: not twice


# ---------------------------------------------------------------------- run directories and tasks.json
def test_run_dir_names_are_safe_for_any_id():
    name = run_dir_name("pearl", "my_pkg.tasks:MyTasks", 3, "20261201-120000")
    assert name == "pearl-my_pkg.tasks-MyTasks-s3-20261201-120000"
    assert ":" not in run_dir_name("pearl", "a/b c:D", 0) and "/" not in run_dir_name("pearl", "a/b c:D", 0)
    assert run_dir_name("pearl", "ml1-reach-v3", 0) == "pearl-ml1-reach-v3-s0"


def test_non_json_task_is_refused_before_the_run_dir_exists(tmp_path):
    with pytest.raises(TaskDistributionError, match="plain JSON.*train task 0"):
        PearlTrainer(preset("tiny", "not-json-goals"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT / "src")])}
    run = tmp_path / "never"
    out = subprocess.run([sys.executable, "-m", "nacre.cli", "train", "pearl", "test_plugin_contract:NotJsonGoals",
                          "--preset", "tiny", "--run-dir", str(run), "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "not plain JSON" in out.stderr
    assert not run.exists()


def test_split_json_round_trip_and_errors():
    split = make_distribution("line-goals").split(0, 3, 2)
    assert split_from_json(json.loads(json.dumps(split_to_json(split)))) == TaskSplit(
        tuple(dict(t) for t in split.train), tuple(dict(t) for t in split.test)
    )
    with pytest.raises(ValueError, match="not plain JSON"):
        split_to_json(TaskSplit(train=({"g": float("nan")},), test=()))
    with pytest.raises(ValueError, match="lists 'train' and 'test'"):
        split_from_json({"train": []})


def test_tasks_json_is_the_source_of_truth(tmp_path, monkeypatch):
    cfg = preset("tiny", "line-goals", num_iterations=2)
    run = tmp_path / "run"
    train(PearlTrainer(cfg), run, stop_after=1, tensorboard=False)
    stored = json.loads((run / "tasks.json").read_text())
    # a newer task generation must not change the run: resume and eval use tasks.json
    monkeypatch.setattr(LineGoals, "sample_tasks", lambda self, rng, n: [{"goal": 0.5}] * n)
    resumed = resume_trainer(run)
    assert [dict(t) for t in resumed.split.train] == stored["train"]
    # edited test tasks are what nacre eval evaluates on
    stored["test"][0]["goal"] = 0.987
    (run / "tasks.json").write_text(json.dumps(stored))
    assert load_trainer(run, weights_only=True).split.test[0]["goal"] == 0.987
    # edited train tasks after a checkpoint: resuming would mix data of other tasks
    stored["train"][0]["goal"] = -0.5
    (run / "tasks.json").write_text(json.dumps(stored))
    with pytest.raises(RunDirError, match="differs from the tasks iter_000001.pt was trained on"):
        resume_trainer(run)
    (run / "tasks.json").write_text("{not json")
    with pytest.raises(RunDirError, match="unreadable"):
        resume_trainer(run)


def test_resume_before_the_first_checkpoint_uses_edited_tasks(tmp_path):
    cfg = preset("tiny", "line-goals", num_iterations=1)
    run = tmp_path / "run"
    from nacre.training.loop import write_run_files

    write_run_files(run, PearlTrainer(cfg))  # as if killed during iteration 1
    stored = json.loads((run / "tasks.json").read_text())
    stored["train"][1]["goal"] = 0.25
    (run / "tasks.json").write_text(json.dumps(stored))
    assert resume_trainer(run).split.train[1]["goal"] == 0.25
    meta = json.loads((run / "config.json").read_text())
    assert "numpy" in meta["versions"] and "python" in meta["versions"]


# ---------------------------------------------------------------------- check_task_env
def test_check_task_env_checks_episode_length_and_disjointness():
    check_task_env(LineGoals())
    with pytest.raises(ValueError, match="truncated after 10 steps, but episode_length is 15"):
        check_task_env(LineGoals(truncate_at=10))
    with pytest.raises(ValueError, match="not truncated after episode_length = 15"):
        check_task_env(LineGoals(truncate_at=40))

    class Overlapping(LineGoals):
        name = "overlapping"

        def sample_tasks(self, rng, n):
            return [{"goal": 0.5}] * n

    with pytest.raises(ValueError, match="test task.*also train tasks"):
        check_task_env(Overlapping())
    with pytest.raises(ValueError, match="not plain JSON"):
        check_task_env(NotJsonGoals())


# ---------------------------------------------------------------------- shared environments, success
def test_env_pool_shares_environments_by_key():
    dist = LineGoals(shared=True)
    tasks = dist.split(0, 6, 3).train
    pool = EnvPool(dist)
    first = pool.envs(list(tasks[:2]))
    assert first[0] is not first[1] and pool.num_envs == 2
    for start in range(0, 6, 2):
        envs = pool.envs(list(tasks[start : start + 2]))
        assert [e.goal for e in envs] == [t["goal"] for t in tasks[start : start + 2]]
    assert pool.num_envs == 2  # independent of the number of tasks
    from nacre.envs.pool import batches_by_key

    mixed = [{"goal": 0.1, "k": "a"}, {"goal": 0.2, "k": "a"}, {"goal": 0.3, "k": "b"}, {"goal": 0.4, "k": "a"}]

    class Keyed(LineGoals):
        def env_key(self, task):
            return task["k"]

    assert batches_by_key(Keyed(), mixed) == [[0, 2], [1], [3]]
    assert batches_by_key(Keyed(), mixed, per_key=2) == [[0, 1, 2], [3]]
    assert batches_by_key(LineGoals(), mixed) == [[0, 1, 2, 3]]  # unkeyed: all together, as before
    unshared = EnvPool(LineGoals(), cache_unkeyed=True)
    unshared.envs(list(tasks), ids=list(range(6)))
    assert unshared.num_envs == 6


def test_success_logged_for_any_family_that_reports_it(tmp_path):
    cfg = preset("tiny", "line-goals", num_iterations=1, env_kwargs={"shared": True})
    trainer = PearlTrainer(cfg)
    assert trainer.reports_success and trainer.shares_envs
    metrics = train(trainer, tmp_path / "run", tensorboard=False)
    assert {"success/test", "success/test_traj_1", "success/train_prior"} <= set(metrics)
    groups = {k for k in metrics if k.startswith("success/test_class/")}
    assert groups <= {"success/test_class/left", "success/test_class/right"} and groups
    assert trainer.env_pool.num_envs == 1 < cfg.n_train_tasks  # one environment for the one key
    assert trainer.eval_pool.num_envs == 1
    csv_header = (tmp_path / "run" / "progress.csv").read_text().splitlines()[0]
    assert "success/test" in csv_header.split(",")
    from nacre.evaluation.adaptation import format_adaptation

    result = trainer.evaluate()
    assert result.reports_success and set(result.groups) <= {"left", "right"}  # saved with the evaluation
    text = format_adaptation(result, cfg.test_return_index, 1, trainer.env_steps)
    assert "success" in text.splitlines()[1]


@pytest.fixture(scope="module")
def line_dataset(tmp_path_factory):
    from nacre.datasets.generate import PRESETS, generate_datasets

    root = tmp_path_factory.mktemp("line") / "data"
    return generate_datasets("line-goals", root, n_train=4, n_test=4, settings=PRESETS["tiny"], split_seed=1)


@pytest.mark.parametrize("algorithm", ["macaw", "offline-pearl", "maml-trpo", "rl2-ppo"])  # MT+FT: MACAW's path
def test_every_method_logs_success_where_the_tasks_report_it(algorithm, line_dataset, tmp_path, capsys):
    """Not only PEARL: the offline and on-policy methods log success (per evaluated column, ``success/test`` at
    the reported one, per task group), print it, save it in the evaluation and `nacre report` reads it."""
    from nacre.cli import main
    from nacre.evaluation.runs import latest_eval

    run = tmp_path / algorithm
    data = ["--dataset", str(line_dataset)] if algorithm in ("macaw", "offline-pearl", "mt-finetune") else []
    assert main(["train", algorithm, "line-goals", "--preset", "tiny", *data, "--run-dir", str(run),
                 "--no-progress", "--no-tensorboard"]) == 0, capsys.readouterr().err  # fmt: skip
    out = capsys.readouterr().out
    assert "success" in out.splitlines()[1]  # the console's column
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    last = rows[-1]
    assert "success/test" in last and 0.0 <= last["success/test"] <= 1.0
    assert any(k.startswith("success/test_steps_") for k in last)
    classes = {k.rsplit("/", 1)[1] for k in last if k.startswith("success/test_class/")}
    saved = latest_eval(run)
    assert bool(saved["reports_success"])
    groups = sorted(set(saved["groups"].tolist()))
    assert classes == set(groups) and set(groups) <= {"left", "right"}
    if len(groups) > 1:
        assert "per class:" in out
    summary = json.loads(sorted((run / "eval").glob("*.json"))[-1].read_text())
    assert "success_per_steps" in summary
    assert main(["report", str(run), "--metric", "success", "--out", str(tmp_path / "rep"), "--bootstrap-reps",
                 "20"]) == 0  # fmt: skip
    curves = (tmp_path / "rep" / "curves.csv").read_text()
    assert "learning_success" in curves


def test_success_is_flagged_as_not_reported_for_dense_offline_tasks(point_dataset, tmp_path, capsys):
    from nacre.cli import main
    from nacre.evaluation.runs import latest_eval

    run = tmp_path / "macaw"
    assert main(["train", "macaw", "point-robot", "--preset", "tiny", "--dataset", str(point_dataset),
                 "--run-dir", str(run), "--no-progress", "--no-tensorboard"]) == 0  # fmt: skip
    assert not bool(latest_eval(run)["reports_success"])
    assert not any(k.startswith("success/") for k in json.loads((run / "progress.jsonl").read_text().splitlines()[-1]))
    assert main(["report", str(run), "--metric", "success", "--out", str(tmp_path / "rep"), "--bootstrap-reps",
                 "20"]) == 0  # fmt: skip
    assert "report no success" in (tmp_path / "rep" / "report.md").read_text()


def test_dataset_generation_rejects_tasks_that_are_not_json_before_writing(tmp_path, capsys):
    from nacre.cli import main

    out = tmp_path / "data"
    assert main(["dataset", "generate", "not-json-goals", "--out", str(out), "--preset", "tiny", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("nacre: error: ") and "task 0 is not plain JSON" in err[-1]
    assert not out.exists()


def test_eval_progress_counts_every_trajectory_with_shared_environments(tmp_path, monkeypatch, capsys):
    """With environments shared per key, PEARL's evaluation runs batch after batch; the bar of nacre eval must
    still end at its total (runs x tasks x trajectories), not overrun it."""
    import tqdm

    from nacre.cli import main

    run = tmp_path / "run"
    assert main(["train", "pearl", "line-goals", "--preset", "tiny", "--env-kwargs", "shared=true", "--run-dir",
                 str(run), "--no-progress", "--no-tensorboard"]) == 0, capsys.readouterr().err  # fmt: skip
    seen = []

    class Bar:
        def __init__(self, total=None, **kwargs):
            self.total, self.n = total, 0
            seen.append(self)

        def update(self, n=1):
            self.n += n

        def refresh(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(tqdm, "tqdm", Bar)
    assert main(["eval", str(run), "--runs", "2", "--trajectories", "3"]) == 0
    tasks = len(json.loads((run / "tasks.json").read_text())["test"])
    assert seen[0].total == 2 * tasks * 3 == seen[0].n


def test_training_warns_when_held_out_tasks_are_train_tasks(tmp_path, capsys):
    from nacre.cli import main

    argv = ["train", "pearl", "same-goals", "--preset", "tiny", "--num-iterations", "1", "--no-progress",
            "--no-tensorboard"]  # fmt: skip
    assert main([*argv, "--run-dir", str(tmp_path / "same")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("nacre: warning:")]
    assert len(warnings) == 1 and "held-out tasks are also train tasks" in warnings[0]
    argv[2] = "line-goals"
    assert main([*argv, "--run-dir", str(tmp_path / "line")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_dense_family_without_success_logs_none(tmp_path):
    trainer = PearlTrainer(preset("tiny", "point-robot", num_iterations=1))
    assert not trainer.reports_success
    metrics = train(trainer, tmp_path / "run", tensorboard=False)
    assert not any(k.startswith("success/") for k in metrics)


# ---------------------------------------------------------------------- MuJoCo install errors
def test_broken_mujoco_import_gives_the_repair_command(monkeypatch):
    import nacre.envs.mujoco_install as mi

    def broken(name):
        raise OSError("libmujoco.so.4.0.0: cannot open shared object file: No such file or directory")

    monkeypatch.delitem(sys.modules, "mujoco")
    monkeypatch.setattr(mi.importlib, "import_module", broken)
    with pytest.raises(mi.MujocoInstallError) as info:
        mi.import_mujoco()
    message = str(info.value)
    assert "\n" not in message and "libmujoco.so.4.0.0" in message
    assert 'pip uninstall -y mujoco mujoco-core mujoco-studio && pip install "mujoco==3.3.0"' in message


def test_metaworld_on_the_wrong_mujoco_is_refused():
    from nacre.envs.mujoco_install import MujocoInstallError, check_metaworld_mujoco

    check_metaworld_mujoco("3.3.0", "3.3.0")
    check_metaworld_mujoco("4.0.0", None)  # metaworld not installed: nothing to check
    with pytest.raises(MujocoInstallError, match=r'needs mujoco==3.3.0 but MuJoCo 4.0.0.*pip install "mujoco'):
        check_metaworld_mujoco("4.0.0", "3.3.0")


def test_cli_with_a_broken_mujoco_prints_one_line(tmp_path):
    """The install order metaworld-after-nacre, simulated: a `mujoco` package whose import fails like it."""
    fake = tmp_path / "fake" / "mujoco"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise OSError("libmujoco.so.4.0.0: cannot open shared object file: No such file or directory")\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), str(ROOT / "src")])}
    out = subprocess.run([sys.executable, "-m", "nacre.cli", "train", "pearl", "cheetah-vel", "--preset", "tiny",
                          "--run-dir", str(tmp_path / "run"), "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip()
    assert line.startswith("nacre: error:") and "\n" not in line and "Traceback" not in line
    assert "pip uninstall -y mujoco mujoco-core mujoco-studio" in line
    # families that do not need MuJoCo still work
    out = subprocess.run([sys.executable, "-m", "nacre.cli", "list"], capture_output=True, text=True, env=env,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0 and "point-robot-v1" in out.stdout


def test_metaworld_missing_gives_the_install_command(monkeypatch):
    import nacre.envs.metaworld as nmw

    real = nmw.importlib.import_module

    def without_metaworld(name, *args):
        if name == "metaworld":
            raise ModuleNotFoundError("No module named 'metaworld'", name="metaworld")
        return real(name, *args)

    monkeypatch.setattr(nmw.importlib, "import_module", without_metaworld)
    monkeypatch.setattr(nmw, "_CACHE", {})
    dist = make_distribution("ml1-reach-v3")  # the ids exist without metaworld
    assert dist.episode_length == 500 and dist.id == "ml1-reach-v3"
    with pytest.raises(TaskDistributionError, match=r'Meta-World is not installed: .*pip install -e ".\[metaworld\]"'):
        dist.split(0, 5, 5)
