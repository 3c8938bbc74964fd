"""Offline PEARL (the MACAW paper's baseline) on a small offline point-robot dataset."""

import json

import numpy as np
import pytest
import torch

from nacre.algos.pearl import PearlTrainer, preset
from nacre.algos.pearl.config import ConfigError
from nacre.algos.pearl.offline import OfflinePearlTrainer
from nacre.cli import main
from nacre.datasets import dataset_info
from nacre.training.loop import load_trainer, train


def _cfg(dataset, **kw):
    return preset("tiny", "point-robot", dataset=str(dataset), **kw)


def _params(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.learner.nets.parameters()])


def test_tasks_and_buffers_come_from_the_dataset(point_dataset):
    tr = OfflinePearlTrainer(_cfg(point_dataset))
    info = {row["index"]: row for row in dataset_info(point_dataset)}
    manifest = json.loads((point_dataset / "manifest.json").read_text())
    train_idx = manifest["splits"]["train"]
    assert (tr.cfg.n_train_tasks, tr.cfg.n_test_tasks) == (len(train_idx), len(manifest["splits"]["test"]))
    assert [len(tr.rl_buffer.task(i)) for i in range(len(train_idx))] == [info[i]["transitions"] for i in train_idx]
    assert tr.enc_buffer is tr.rl_buffer


def test_training_never_steps_an_environment(point_dataset, monkeypatch):
    tr = OfflinePearlTrainer(_cfg(point_dataset))
    monkeypatch.setattr(tr.distribution, "make_env", lambda task: pytest.fail("offline training stepped an env"))
    before = _params(tr).clone()
    metrics = tr.train_iteration()
    assert tr.env_steps == 0 and metrics["time/env_steps"] == 0
    assert not torch.equal(before, _params(tr)) and np.isfinite(metrics["losses/qf"])


def test_evaluation_uses_offline_context_and_takes_no_gradient_steps(point_dataset):
    tr = OfflinePearlTrainer(_cfg(point_dataset))
    before = _params(tr).clone()
    result = tr.evaluate(num_runs=2, num_transitions=8, steps=[0, 5], rng=np.random.default_rng(0))
    assert result.returns.shape == (2, 3, 2) and result.num_transitions == 8
    assert torch.equal(before, _params(tr))
    # every column is the same policy (PEARL takes no test-time gradient steps)
    from nacre.algos.pearl.offline import OfflinePearlAdapter

    gen = torch.Generator().manual_seed(0)
    rows = [d.rows(np.arange(8)) for d in tr.test_data]
    p0, p5 = OfflinePearlAdapter(tr.learner, gen).adapted_policies(rows, [0, 5])
    obs = np.random.default_rng(1).uniform(-1, 1, (3, 2)).astype(np.float32)
    np.testing.assert_array_equal(p0(obs, np.arange(3)), p5(obs, np.arange(3)))
    again = tr.evaluate(num_runs=2, num_transitions=8, steps=[0, 5], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(result.returns, again.returns)


def test_resume_equals_never_stopping_and_checkpoints_hold_no_buffers(point_dataset, tmp_path):
    straight = OfflinePearlTrainer(_cfg(point_dataset, num_iterations=3))
    train(straight, tmp_path / "a", tensorboard=False)
    stopped = OfflinePearlTrainer(_cfg(point_dataset, num_iterations=3))
    train(stopped, tmp_path / "b", stop_after=1, tensorboard=False)
    assert stopped.state_dict()["buffers"] == {}
    resumed = load_trainer(tmp_path / "b")
    assert isinstance(resumed, OfflinePearlTrainer) and resumed.iteration == 1
    train(resumed, tmp_path / "b", resumed=True, tensorboard=False)
    assert torch.equal(_params(straight), _params(resumed))


def test_online_pearl_refuses_a_dataset(point_dataset):
    with pytest.raises(ConfigError, match="offline-pearl"):
        PearlTrainer(_cfg(point_dataset))


def test_cli_train_and_eval(point_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "offline-pearl", "point-robot", "--preset", "tiny", "--dataset", str(point_dataset),
                 "--run-dir", str(run), "--no-progress", "--no-tensorboard"]) == 0  # fmt: skip
    assert "offline adaptation on 3 held-out tasks" in capsys.readouterr().out
    meta = json.loads((run / "config.json").read_text())
    assert meta["algorithm"] == "offline-pearl"
    # the data it trained on, byte for byte: the fingerprint `nacre dataset info` prints
    from nacre.datasets import data_fingerprint, read_manifest

    checksums = {k: v["checksum"] for k, v in read_manifest(point_dataset)["finished"].items()}
    assert meta["dataset"] == {"fingerprint": data_fingerprint(checksums), "checksums": checksums}
    assert main(["dataset", "info", str(point_dataset)]) == 0
    assert f"fingerprint {meta['dataset']['fingerprint'][:12]}" in capsys.readouterr().out
    assert main(["eval", str(run), "--transitions", "16", "--runs", "2", "--no-progress"]) == 0
    assert "16 transitions" in capsys.readouterr().out


def test_plot_refuses_to_mix_online_and_offline_runs(point_dataset, tmp_path, capsys):
    from nacre.evaluation.plots import plot_runs

    offline = OfflinePearlTrainer(_cfg(point_dataset, num_iterations=1))
    train(offline, tmp_path / "off", tensorboard=False)
    online = PearlTrainer(preset("tiny", "point-robot", num_iterations=1))
    train(online, tmp_path / "on", tensorboard=False)
    with pytest.raises(ValueError, match="plot them separately"):
        plot_runs([tmp_path / "off", tmp_path / "on"], tmp_path / "x.png")
    plot_runs([tmp_path / "off"], tmp_path / "off.png")
    assert (tmp_path / "off.png").stat().st_size > 10_000
