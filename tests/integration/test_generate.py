"""`nacre dataset generate`: tiny SAC behaviour data on point-robot (and a MuJoCo smoke test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nacre.datasets.generate import PRESETS, generate_datasets, preset
from nacre.datasets.store import finished_tasks, load_task_episodes, read_manifest, verify_dataset

TINY = preset("tiny", steps_per_task=100, random_steps=40)


def _tasks(root: Path) -> list[tuple[list, np.ndarray]]:
    out = []
    for i in range(len(read_manifest(root)["tasks"])):
        episodes, steps, _ = load_task_episodes(root, i)
        out.append((episodes, steps))
    return out


def _same(a: Path, b: Path) -> bool:
    ta, tb = _tasks(a), _tasks(b)
    return len(ta) == len(tb) and all(
        np.array_equal(sa, sb) and len(ea) == len(eb)
        and all(np.array_equal(x, y) for e1, e2 in zip(ea, eb, strict=True) for x, y in zip(e1, e2, strict=True))
        for (ea, sa), (eb, sb) in zip(ta, tb, strict=True)
    )  # fmt: skip


class Interrupt(Exception):
    pass


def _stop_after(kind: str, count: int):
    seen = {"n": 0}

    def progress(k: str, n: int) -> None:
        if k == kind:
            seen["n"] += n
            if seen["n"] >= count:
                raise Interrupt

    return progress


@pytest.mark.parametrize("behaviour", ["per-task", "multi-task"])
def test_every_task_written_in_order(tmp_path, behaviour):
    root = tmp_path / "ds"
    events: dict[str, int] = {}
    generate_datasets("point-robot", root, n_train=3, n_test=2, settings=TINY, behaviour=behaviour,
                      progress=lambda k, n: events.__setitem__(k, events.get(k, 0) + n))  # fmt: skip
    assert verify_dataset(root) == []
    manifest = read_manifest(root)
    assert manifest["splits"] == {"train": [0, 1, 2], "test": [3, 4]}
    assert manifest["config"]["behaviour"] == behaviour and finished_tasks(root) == set(range(5))
    assert events == {"tasks_total": 5, "tasks_done": 5, "env_steps_total": 500, "env_steps": 500}
    for episodes, steps in _tasks(root):
        assert sum(len(e) for e in episodes) == 100 and len(steps) == len(episodes) == 5
        assert steps[0] == 0 and np.all(np.diff(steps) >= 0) and steps[-1] > 0
    assert not (root / ".generate").exists()


def test_same_seed_identical_other_seed_different(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        generate_datasets("point-robot", tmp_path / name, n_train=2, n_test=1, settings=TINY, seed=seed)
    assert _same(tmp_path / "a", tmp_path / "b")
    assert not _same(tmp_path / "a", tmp_path / "c")


def test_per_task_resume_skips_finished_and_completes(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    generate_datasets("point-robot", full, n_train=2, n_test=2, settings=TINY)
    with pytest.raises(Interrupt):  # killed while task 2 runs: tasks 0 and 1 are on disk
        generate_datasets(
            "point-robot", part, n_train=2, n_test=2, settings=TINY, progress=_stop_after("env_steps", 250)
        )
    assert finished_tasks(part) == {0, 1}
    before = {i: read_manifest(part)["finished"][str(i)] for i in (0, 1)}
    events: dict[str, int] = {}
    generate_datasets("point-robot", part, n_train=2, n_test=2, settings=TINY,
                      progress=lambda k, n: events.__setitem__(k, events.get(k, 0) + n))  # fmt: skip
    assert events["env_steps"] == 200 and events["env_steps_total"] == 200  # only tasks 2 and 3 ran
    assert {i: read_manifest(part)["finished"][str(i)] for i in (0, 1)} == before
    assert verify_dataset(part) == [] and _same(full, part)


def test_multi_task_checkpoint_resume_equals_uninterrupted(tmp_path):
    s = preset("tiny", behaviour="multi-task", steps_per_task=120, random_steps=20, checkpoint_every=60)
    full, part = tmp_path / "full", tmp_path / "part"
    generate_datasets("point-robot", full, n_train=2, n_test=1, settings=s)
    with pytest.raises(Interrupt):  # 3 tasks x 20 steps per round: checkpoints after rounds 1 and 2; killed in 4
        generate_datasets("point-robot", part, n_train=2, n_test=1, settings=s, progress=_stop_after("env_steps", 190))
    assert (part / ".generate" / "multi_task.pt").is_file() and finished_tasks(part) == set()
    generate_datasets("point-robot", part, n_train=2, n_test=1, settings=s)
    assert verify_dataset(part) == [] and _same(full, part)
    assert not (part / ".generate").exists()


def test_other_settings_on_existing_root_are_refused(tmp_path):
    from nacre.datasets.store import DatasetError

    generate_datasets("point-robot", tmp_path / "ds", n_train=1, n_test=1, settings=TINY)
    with pytest.raises(DatasetError, match="different config"):
        generate_datasets("point-robot", tmp_path / "ds", n_train=1, n_test=1, settings=TINY, seed=5)


def test_presets_are_valid():
    assert PRESETS["paper"].behaviour == "per-task" and PRESETS["paper"].steps_per_task == 1_000_000
    # the default data is per-task SAC lifetimes (the faithful method), not one agent shaped by every task
    assert PRESETS["fast"].behaviour == "per-task" and PRESETS["fast"].steps_per_task == 100_000
    assert PRESETS["multi-task"].behaviour == "multi-task"
    assert {s.precision for name, s in PRESETS.items() if name != "tiny"} == {"auto"}


def test_shards_in_two_processes_equal_one_serial_generation(tmp_path):
    """Two shards sharing one root, run concurrently, give the serial generation's data (same checksums)."""
    import multiprocessing as mp

    serial, shared = tmp_path / "serial", tmp_path / "shared"
    generate_datasets("point-robot", serial, n_train=3, n_test=2, settings=TINY)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=generate_datasets, args=("point-robot", shared),
                         kwargs=dict(n_train=3, n_test=2, settings=TINY, shard=(k, 2))) for k in (0, 1)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert verify_dataset(shared) == [] and _same(serial, shared)
    assert read_manifest(shared)["finished"] == read_manifest(serial)["finished"]
    assert not (shared / ".generate").exists()


def test_one_shard_writes_only_its_tasks_and_bad_shards_are_refused(tmp_path):
    from nacre.cli import main
    from nacre.datasets.store import DatasetError

    generate_datasets("point-robot", tmp_path / "ds", n_train=3, n_test=2, settings=TINY, shard=(1, 2))
    assert finished_tasks(tmp_path / "ds") == {1, 3}
    for bad in ((2, 2), (-1, 2)):
        with pytest.raises(DatasetError, match="shard"):
            generate_datasets("point-robot", tmp_path / "ds", n_train=3, n_test=2, settings=TINY, shard=bad)
    with pytest.raises(DatasetError, match="per-task"):
        generate_datasets("point-robot", tmp_path / "mt", n_train=3, n_test=2, shard=(0, 2),
                          settings=preset("tiny", behaviour="multi-task"))  # fmt: skip
    assert main(["dataset", "generate", "point-robot", "--out", str(tmp_path / "x"), "--preset", "tiny",
                 "--shard", "a/b"]) == 2  # fmt: skip


def test_precision_is_resolved_into_the_identity(monkeypatch):
    from nacre.nn import precision

    assert preset("tiny", precision="auto").identity()["sac"]["precision"] in ("fp32", "bf16")
    monkeypatch.setattr(precision, "cpu_bf16_matmul_supported", lambda: False)
    assert preset("tiny", precision="auto").identity() == preset("tiny", precision="fp32").identity()


def test_cli_generate(tmp_path, capsys):
    from nacre.cli import main

    root = tmp_path / "cli"
    args = ["dataset", "generate", "point-robot", "--out", str(root), "--preset", "tiny", "--steps-per-task", "60",
            "--n-train", "2", "--n-test", "1", "--no-progress", "--seed", "4"]  # fmt: skip
    assert main(args) == 0
    assert verify_dataset(root) == [] and read_manifest(root)["config"]["seed"] == 4
    # --no-progress (for logs) still says when each task finishes
    lines = [line for line in capsys.readouterr().err.splitlines() if "tasks finished" in line]
    assert [line.split(" tasks")[0] for line in lines] == ["nacre: 1/3", "nacre: 2/3", "nacre: 3/3"]
    assert main(args) == 0  # rerun: everything already finished
    assert main(["dataset", "verify", str(root)]) == 0
    capsys.readouterr()
    assert main(args[:-1] + ["5"]) == 2  # another seed on the same root
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("nacre: error:") and "different config" in err[-1]
    assert main(["dataset", "generate", "no-such-family", "--out", str(tmp_path / "x"), "--preset", "tiny"]) == 2


@pytest.mark.mujoco
@pytest.mark.parametrize("dist_id, sizes", [("cheetah-vel", {"n_train": 1, "n_test": 1}), ("macaw-cheetah-dir", {})])
def test_mujoco_smoke(tmp_path, dist_id, sizes):
    s = preset("tiny", steps_per_task=200, random_steps=100)
    generate_datasets(dist_id, tmp_path / "ds", settings=s, **sizes)
    assert verify_dataset(tmp_path / "ds") == []
    episodes, steps, _ = load_task_episodes(tmp_path / "ds", 0)
    obs_dim = read_manifest(tmp_path / "ds")["spaces"]["observation"]["shape"][0]
    assert len(episodes) == 1 and len(episodes[0]) == 200 and episodes[0].obs.shape[1] == obs_dim
    assert steps.tolist() == [0]


def test_device_is_a_run_option_not_part_of_the_data_identity():
    from nacre.datasets.store import DatasetError

    assert preset("tiny", device="cpu").identity() == preset("tiny").identity()
    assert "device" not in preset("tiny").identity()
    with pytest.raises(DatasetError, match="device must be"):
        preset("tiny", device="tpu")


def test_a_root_made_at_another_precision_names_the_flag_that_continues_it(tmp_path):
    """precision auto can resolve differently on another machine (or after nacre measures bf16 slower): the
    refusal says which --precision continues the existing root."""
    from nacre.datasets.store import DatasetError, init_dataset_root

    def init(precision):
        init_dataset_root(tmp_path / "d", distribution_id="point-robot-v1", tasks=[{"goal": 0}], splits={"train": [0]},
                          config={"sac": {"precision": precision}, "seed": 0})  # fmt: skip

    init("bf16")
    init("bf16")  # the same settings: a resume
    with pytest.raises(DatasetError, match=r"config\.sac\.precision.*continue it with --precision bf16"):
        init("fp32")
    with pytest.raises(DatasetError, match=r"config\.seed.*: use another dataset root$"):
        init_dataset_root(tmp_path / "d", distribution_id="point-robot-v1", tasks=[{"goal": 0}], splits={"train": [0]},
                          config={"sac": {"precision": "bf16"}, "seed": 1})  # fmt: skip
