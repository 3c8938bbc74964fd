"""Sweep specs without Ray: expansion, run names, one-line errors for malformed specs, the shipped specs, and the
planning of a sweep against existing run directories (``nacre sweep --dry-run``)."""

import json
import sys
import textwrap

import pytest

from nacre.cli import main
from nacre.scale import ScaleError
from nacre.scale.reproduce import available_specs, load_shipped
from nacre.scale.spec import load_spec, run_name
from nacre.scale.sweep import plan

pytest.importorskip("yaml")

GRID = """
name: kl
defaults: {preset: tiny, seeds: [0, 1]}
entries:
  - algorithm: pearl
    distribution: sparse-point-robot
    grid: {kl_lambda: [0.1, 1.0]}
"""


def _write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_grid_expands_to_trials_with_deterministic_names(tmp_path):
    spec = load_spec(_write(tmp_path, GRID))
    names = [t.name for t in spec.trials]
    assert names == [
        "pearl-sparse-point-robot-tiny-kl_lambda=0.1-s0",
        "pearl-sparse-point-robot-tiny-kl_lambda=0.1-s1",
        "pearl-sparse-point-robot-tiny-kl_lambda=1.0-s0",
        "pearl-sparse-point-robot-tiny-kl_lambda=1.0-s1",
    ]
    first = spec.trials[0]
    from nacre.algos.pearl.config import preset

    assert first.config == preset("tiny", "sparse-point-robot", seed=0, kl_lambda=0.1).to_dict()
    assert first.train_argv("RUN")[2:] == [
        "pearl",
        "sparse-point-robot",
        "--preset",
        "tiny",
        "--seed",
        "0",
        "--kl-lambda",
        "0.1",
        "--run-dir",
        "RUN",
    ]
    assert [t.name for t in load_spec(_write(tmp_path, GRID)).trials] == names  # deterministic


def test_toml_spec_and_run_only_fields_left_out_of_names(tmp_path):
    path = _write(tmp_path, """
        [[entries]]
        algorithm = "pearl"
        distribution = "sparse-point-robot"
        preset = "tiny"
        seeds = [3]
        config = { num_iterations = 5, env_kwargs = { goal_radius = 0.8 }, use_information_bottleneck = false }
        """, "spec.toml")  # fmt: skip
    (trial,) = load_spec(path).trials
    assert trial.name == "pearl-sparse-point-robot-tiny-goal_radius=0.8-use_information_bottleneck=false-s3"
    assert trial.config["num_iterations"] == 5 and trial.config["env_kwargs"] == {"goal_radius": 0.8}


def test_long_names_are_cut_with_a_hash():
    long = run_name("pearl", "sparse-point-robot", "tiny", {f"field_{i}": i for i in range(30)}, 0)
    assert len(long) <= 120 and long.endswith("-s0") and "~" in long
    assert long != run_name("pearl", "sparse-point-robot", "tiny", {f"field_{i}": i + 1 for i in range(30)}, 0)


@pytest.mark.parametrize("body, message", [
    ("entries:\n  - algorithm: pearll\n    distribution: sparse-point-robot\n",
     "SPEC: entry 1: unknown algorithm 'pearll'; known: pearl"),
    ("entries:\n  - algorithm: pearl\n    distribution: sparse-robot\n",
     "SPEC: entry 1: unknown task distribution 'sparse-robot'"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, preset: huge}\n",
     "SPEC: entry 1: unknown preset 'huge'"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, preset: tiny}\n"
     "  - {algorithm: pearl, distribution: point-robot, preset: tiny, config: {kl_lamda: 0.5}}\n",
     "SPEC: entry 2: 'kl_lamda' is not a PEARL config field (did you mean 'kl_lambda'?)"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, preset: tiny, config: {kl_lambda: lots}}\n",
     "SPEC: entry 1: kl_lambda must be of type float, got str 'lots'"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, preset: tiny, grid: {meta_batch: [2, 2.5]}}\n",
     "SPEC: entry 1: meta_batch must be of type int, got float 2.5"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, seeds: 3}\n",
     "SPEC: entry 1: seeds must be a non-empty list of non-negative integers, got 3"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, config: {seed: 3}}\n",
     "SPEC: entry 1: set 'seed' with the spec's seed(s) key"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, colour: red}\n",
     "SPEC: entry 1: unknown key 'colour'"),
    ("entries:\n  - {algorithm: macaw, distribution: macaw-cheetah-vel, preset: tiny}\n",
     "SPEC: entry 1: macaw trains from a dataset: give dataset: PATH"),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, preset: tiny, config: {env_kwargs: {size: 2}}}\n",
     "SPEC: entry 1: "),
    ("entries:\n  - {algorithm: pearl, distribution: point-robot, preset: tiny}\n"
     "  - {algorithm: pearl, distribution: point-robot, preset: tiny}\n",
     "SPEC: entries 1 and 2 both make run 'pearl-point-robot-tiny-s0'"),
    ("entrys: []\n", "SPEC: unknown key 'entrys' (did you mean 'entries'?)"),
    ("name: x\n", "SPEC: 'entries' must be a non-empty list of entries, got nothing"),
    ("entries:\n  - algorithm: pearl\n   distribution: [\n", "SPEC: not valid YAML ("),
    ("- just\n- a list\n", "SPEC: the spec must be a mapping with an 'entries' list, got a list"),
    ("scales: {cpu: {}}\nentries:\n  - {algorithm: pearl, distribution: point-robot}\n",
     "SPEC: choose a scale with --scale (cpu)"),
])  # fmt: skip
def test_malformed_specs_give_one_line_errors(tmp_path, capsys, body, message):
    path = _write(tmp_path, body)
    code = main(["sweep", str(path), "--dry-run", "--root", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nacre: error: "), err
    assert message.replace("SPEC", str(path)) in err, err
    assert not (tmp_path / "runs").exists()


def test_unknown_file_and_suffix(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.yaml"), "--dry-run"]) == 2
    assert "none.yaml: no such file" in capsys.readouterr().err
    bad = _write(tmp_path, "x", "spec.json")
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    assert "a spec is a .yaml, .yml or .toml file" in capsys.readouterr().err
    toml = _write(tmp_path, "entries = [", "bad.toml")
    assert main(["sweep", str(toml), "--dry-run"]) == 2
    assert "bad.toml: not valid TOML (" in capsys.readouterr().err


def test_yaml_exponent_floats_are_numbers(tmp_path):
    spec = load_spec(_write(tmp_path, """
        entries:
          - {algorithm: pearl, distribution: point-robot, preset: tiny, config: {policy_lr: 3e-4}}
        """))  # fmt: skip
    assert spec.trials[0].config["policy_lr"] == 3e-4


def test_missing_and_foreign_datasets(tmp_path, point_dataset):
    body = """
        entries:
          - algorithms: [macaw, mt-finetune]
            distributions: [macaw-cheetah-vel, point-robot]
            preset: tiny
            dataset: "{data_root}/{distribution}"
        """
    data = tmp_path / "data"
    with pytest.raises(ScaleError) as err:
        load_spec(_write(tmp_path, body), data_root=data, label="S")
    text = str(err.value)
    assert text.startswith("S: 2 datasets not found") and "\n" not in text
    assert (
        f"make them with: nacre dataset generate macaw-cheetah-vel --out {data}/macaw-cheetah-vel --preset fast"
        f" && nacre dataset generate point-robot --out {data}/point-robot --preset fast"
    ) in text
    data.mkdir()
    (data / "point-robot").symlink_to(point_dataset)
    one = _write(tmp_path, body.replace("macaw-cheetah-vel, ", ""))
    spec = load_spec(one, data_root=data)
    assert {t.dataset for t in spec.trials} == {str(data / "point-robot")}
    assert spec.trials[0].config["dataset"] == str(data / "point-robot")
    with pytest.raises(ScaleError, match="holds 'point-robot-v1' data, not 'macaw-cheetah-vel-v1'"):
        load_spec(_write(tmp_path, body.replace("{distribution}", "point-robot")), data_root=data)


def test_planned_algorithms_are_skipped_with_one_line_each(tmp_path, capsys, monkeypatch):
    from nacre.algos.registry import ALGORITHMS

    monkeypatch.delitem(ALGORITHMS, "maesn")  # the one registry every module reads
    path = _write(tmp_path, """
        defaults: {preset: tiny, seeds: [0, 1]}
        entries:
          - algorithm: pearl
            distribution: sparse-point-robot
          - algorithm: maesn
            distributions: [sparse-point-robot, point-robot]
        """)  # fmt: skip
    assert main(["sweep", str(path), "--dry-run", "--root", str(tmp_path / "r")]) == 0
    out, err = capsys.readouterr()
    skips = [line for line in err.splitlines() if "skipping" in line]
    assert skips == [
        "nacre: skipping 4 maesn trials of entry 2 (sparse-point-robot, point-robot): algorithm 'maesn' "
        "is not in this nacre yet"
    ]
    assert "new     pearl-sparse-point-robot-tiny-s0" in out and "maesn" not in out
    assert "4 trials" not in err and "6 trials: 2 new, 0 to resume, 0 done, 4 skipped" in err


@pytest.mark.parametrize("name", available_specs())
@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_shipped_specs_are_valid(name, scale):
    spec = load_shipped(name, scale, check_datasets=False)
    assert spec.runnable and len({t.name for t in spec.trials}) == len(spec.trials)
    if name == "pearl-fig3" and scale == "cpu":
        pearl = [t for t in spec.trials if t.algorithm == "pearl"]
        assert len(pearl) == 20 and {t.config["num_iterations"] for t in pearl} == {50}
        assert {t.config["env_kwargs"]["goal_radius"] for t in pearl} == {0.8, 0.2}
        assert any(t.algorithm == "maesn" for t in spec.trials)
    if name == "pearl-ablations":
        seeds = {"cpu": 2, "paper": 3}[scale]
        arms = {(t.config["encoder"], t.config["context_source"]) for t in spec.trials}
        assert arms == {("mlp", "recent"), ("rnn-transitions", "recent"), ("rnn-trajectories", "recent"),
                        ("mlp", "replay")}  # fmt: skip
        assert len(spec.trials) == 4 * seeds


def test_all_five_figures_ship():
    assert {"pearl-fig2", "pearl-fig3", "pearl-ablations", "macaw-fig1", "macaw-fig2"} <= set(available_specs())


def test_reproduce_missing_datasets_name_the_generate_commands(tmp_path, capsys):
    code = main(["reproduce", "macaw-fig2", "--scale", "cpu", "--data-root", str(tmp_path / "d"), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert (
        f"macaw-fig2: entry 1: dataset {tmp_path}/d/macaw-cheetah-vel not found; make it with: nacre dataset "
        f"generate macaw-cheetah-vel --out {tmp_path}/d/macaw-cheetah-vel --preset fast"
    ) in err


def test_sweep_without_ray_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    path = _write(tmp_path, GRID)
    assert main(["sweep", str(path), "--root", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'this needs Ray, which is not installed: pip install -e ".[ray]"' in err
    assert main(["dataset", "generate", "point-robot", "--out", str(tmp_path / "d"), "--preset", "tiny",
                 "--ray"]) == 2  # fmt: skip
    assert 'this needs Ray, which is not installed: pip install -e ".[ray]"' in capsys.readouterr().err


def test_plan_reads_run_directories(tmp_path, capsys):
    spec = load_spec(_write(tmp_path, GRID.replace("seeds: [0, 1]", "seeds: [0]")))
    root = tmp_path / "runs"
    done, stopped = spec.trials
    assert main(["train", "pearl", "sparse-point-robot", "--preset", "tiny", "--seed", "0", "--kl-lambda", "0.1",
                 "--run-dir", str(root / done.name), "--no-progress", "--no-tensorboard"]) == 0  # fmt: skip
    assert main(["train", "pearl", "sparse-point-robot", "--preset", "tiny", "--seed", "0", "--kl-lambda", "1.0",
                 "--iterations", "1", "--run-dir", str(root / stopped.name), "--no-progress",
                 "--no-tensorboard"]) == 0  # fmt: skip
    states = {p.trial.name: (p.state, p.detail) for p in plan(spec, root)}
    assert states == {done.name: ("done", "iteration 2"), stopped.name: ("resume", "from iteration 1 of 2")}
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "spec.yaml"), "--dry-run", "--root", str(root)]) == 0
    assert "2 trials: 0 new, 1 to resume, 1 done" in capsys.readouterr().err

    meta = json.loads((root / done.name / "config.json").read_text())
    meta["config"]["kl_lambda"] = 0.3
    (root / done.name / "config.json").write_text(json.dumps(meta))
    assert main(["sweep", str(tmp_path / "spec.yaml"), "--dry-run", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a run of another config (kl_lambda: run 0.3 vs spec 0.1)" in err


def test_entry_keys_replace_the_defaults_singular_or_plural(tmp_path):
    spec = load_spec(_write(tmp_path, """
        defaults: {preset: tiny, seeds: [0, 1], algorithms: [pearl], distribution: point-robot}
        scales:
          cpu: {defaults: {config: {num_iterations: 3}}}
          paper: {}
        entries:
          - {seed: 7, algorithm: pearl, distributions: [sparse-point-robot]}
          - {scales: [paper], grid: {kl_lambda: [0.5]}}
        """), scale="cpu")  # fmt: skip
    assert [(t.name, t.config["num_iterations"]) for t in spec.trials] == [("pearl-sparse-point-robot-tiny-s7", 3)]
    spec = load_spec(tmp_path / "spec.yaml", scale="paper")
    assert [t.name for t in spec.trials] == [
        "pearl-sparse-point-robot-tiny-s7",
        "pearl-point-robot-tiny-kl_lambda=0.5-s0",
        "pearl-point-robot-tiny-kl_lambda=0.5-s1",
    ]


def test_seeds_option_runs_part_of_the_grid(tmp_path, capsys):
    path = _write(tmp_path, GRID)
    root = str(tmp_path / "runs")
    assert main(["sweep", str(path), "--dry-run", "--root", root, "--seeds", "1"]) == 0
    captured = capsys.readouterr()
    listed = [line.split()[1] for line in captured.out.splitlines()]
    assert listed == ["pearl-sparse-point-robot-tiny-kl_lambda=0.1-s1",
                      "pearl-sparse-point-robot-tiny-kl_lambda=1.0-s1"]  # fmt: skip
    assert "2 trials: 2 new" in captured.err
    assert main(["sweep", str(path), "--dry-run", "--root", root, "--seeds", "0", "7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no trial has seed 7; its seeds are 0, 1" in err
    assert main(["reproduce", "pearl-fig3", "--scale", "cpu", "--dry-run", "--root", root, "--seeds", "0", "1"]) == 0
    assert "12 trials: 12 new" in capsys.readouterr().err  # (2 radii x 2 PEARL arms + 2 MAESN radii) x 2 seeds


def test_algorithms_and_distributions_options_run_part_of_a_figure(tmp_path, capsys):
    root = str(tmp_path / "runs")
    argv = ["reproduce", "pearl-fig2", "--scale", "cpu", "--dry-run", "--root", root]
    assert main([*argv, "--distributions", "cheetah-vel", "cheetah-dir", "--algorithms", "pearl", "rl2-ppo",
                 "--seeds", "0"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    listed = sorted(line.split()[1] for line in captured.out.splitlines())
    assert listed == [
        "pearl-cheetah-dir-fast-s0",
        "pearl-cheetah-vel-fast-s0",
        "rl2-ppo-cheetah-dir-fast-s0",
        "rl2-ppo-cheetah-vel-fast-s0",
    ]
    assert "4 trials: 4 new" in captured.err
    assert main([*argv, "--distributions", "cheetah-vel", "half-cheetah"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no trial has distribution half-cheetah; its distributions are ant-dir, " in err
    assert main([*argv, "--algorithms", "sac"]) == 2
    assert "no trial has algorithm sac; its algorithms are maml-trpo, pearl, promp, rl2-ppo" in capsys.readouterr().err


def test_pearl_fig2_cpu_1m_budgets_reach_the_comparison_budgets():
    """PEARL runs to the first iteration at or past 1M env steps (training collection, as logged), the on-policy
    methods to 20M: computed from each trial's own config."""
    spec = load_shipped("pearl-fig2", "cpu-1m", check_datasets=False)
    assert spec.report["reference_steps"] == 1_000_000  # PEARL's return read at 1M env steps
    pearl = [t for t in spec.trials if t.algorithm == "pearl"]
    assert len(pearl) == 6 * 3
    for t in pearl:
        c = t.config
        initial = c["num_initial_steps"] * c["n_train_tasks"]
        per = c["num_tasks_sample"] * (c["num_steps_prior"] + c["num_steps_posterior"]
                                       + c["num_extra_rl_steps_posterior"])  # fmt: skip
        n = c["num_iterations"]
        assert initial + (n - 1) * per < 1_000_000 <= initial + n * per, t.name
    for t in spec.trials:
        c = t.config
        if t.algorithm in ("maml-trpo", "promp"):  # a sampling phase before each inner step and after the last
            per = c["meta_batch"] * c["rollouts_per_task"] * 200 * (c["inner_steps"] + 1)
            assert (c["num_iterations"] - 1) * per < 20_000_000 <= c["num_iterations"] * per, t.name
            assert c["eval_every"] == 5, t.name
        elif t.algorithm == "rl2-ppo":
            assert (
                c["num_iterations"] * c["meta_batch"] * c["trials_per_task"] * c["episodes_per_trial"] * 200
                == 20_000_000
            )


def test_reproduce_unknown_scale_is_one_line(capsys):
    assert main(["reproduce", "pearl-fig2", "--scale", "huge", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown scale 'huge'; this spec has cpu, cpu-1m, paper" in err
