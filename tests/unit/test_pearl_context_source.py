"""``context_source``: the gradient steps' context from the encoder buffer ("recent") or the whole RL buffer
("replay", the paper's cheetah-vel ablation); collection's posterior reads the encoder buffer either way."""

import json
import re

import numpy as np
import pytest
import torch

from nacre.algos.pearl import PearlTrainer, preset
from nacre.algos.pearl.config import PearlConfig
from nacre.cli import main
from nacre.cli_train import config_class, config_overrides, parse_command
from nacre.config import ConfigError
from nacre.training.checkpoint import CheckpointError
from nacre.training.loop import check_compatible
from nacre.types import Trajectory

N_TASKS = 4


def _trajectory(obs_dim: int, action_dim: int, reward: float, length: int = 20) -> Trajectory:
    rewards = np.full(length, reward, dtype=np.float32)
    done = np.zeros(length, dtype=bool)
    truncated = done.copy()
    truncated[-1] = True
    return Trajectory(np.zeros((length, obs_dim), np.float32), np.zeros((length, action_dim), np.float32),
                      rewards, rewards.copy(), np.zeros((length, obs_dim), np.float32), done, truncated,
                      done.copy())  # fmt: skip


def _enc_reward(task: int) -> float:
    return -1.0 - task  # the encoder buffer's rewards: negative, one value per task


def _rl_reward(task: int) -> float:
    return 10.0 + task  # the RL buffer's rewards: positive, one value per task


def _trainer(source: str) -> PearlTrainer:
    """A tiny point-robot trainer whose two buffers hold data told apart by its reward (no collection)."""
    cfg = preset("tiny", "point-robot", n_train_tasks=N_TASKS, meta_batch=3, num_train_steps_per_itr=4,
                 context_source=source)  # fmt: skip
    tr = PearlTrainer(cfg)
    for task in range(N_TASKS):
        tr.enc_buffer.add_trajectory(task, _trajectory(tr.obs_dim, tr.action_dim, _enc_reward(task)))
        for _ in range(3):  # more data in the RL buffer, as after the extra-RL-posterior steps
            tr.rl_buffer.add_trajectory(task, _trajectory(tr.obs_dim, tr.action_dim, _rl_reward(task)))
    return tr


def _gradient_step_inputs(tr: PearlTrainer, monkeypatch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(context rewards [T, E], RL-batch rewards [T, B]) of each gradient step of one ``train_iteration``."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    reward_col = tr.obs_dim + tr.action_dim  # the context layout (s, a, r)

    def update(batch, context):
        seen.append((context[..., reward_col].clone(), batch.rewards[..., 0].clone()))
        return {"losses/dummy": torch.zeros(())}

    monkeypatch.setattr(tr, "_collect", lambda: {})  # keep the hand-made buffers as they are
    monkeypatch.setattr(tr.learner, "update", update)
    tr.train_iteration()
    assert len(seen) == tr.cfg.num_train_steps_per_itr
    return seen


@pytest.mark.parametrize("source", ["recent", "replay"])
def test_gradient_steps_draw_context_from_the_configured_buffer(source, monkeypatch):
    tr = _trainer(source)
    for context_r, batch_r in _gradient_step_inputs(tr, monkeypatch):
        # the RL batch comes from the RL buffer whatever the setting; its reward names each row's task
        tasks = (batch_r[:, 0] - 10.0).round().long()
        assert torch.equal(batch_r, (10.0 + tasks.float())[:, None].expand_as(batch_r))
        expected = [_rl_reward(t) if source == "replay" else _enc_reward(t) for t in tasks.tolist()]
        assert context_r.shape == (tr.cfg.meta_batch, tr.cfg.embedding_batch_size)
        assert torch.equal(context_r, torch.tensor(expected)[:, None].expand_as(context_r))


def test_the_default_and_every_preset_use_the_encoder_buffer():
    assert PearlConfig().context_source == "recent"
    for name in ("paper", "fast", "quick", "tiny"):
        assert preset(name, "point-robot").context_source == "recent"
    assert preset("paper", "cheetah-vel").context_source == "recent"


@pytest.mark.parametrize("source", ["recent", "replay"])
def test_collection_infers_the_posterior_from_the_encoder_buffer_either_way(source, monkeypatch):
    tr = _trainer(source)
    reward_col = tr.obs_dim + tr.action_dim
    seen: list[torch.Tensor] = []
    infer = tr.learner.infer_posterior

    def recording(context):
        seen.append(context[..., reward_col].clone())
        return infer(context)

    monkeypatch.setattr(tr.learner, "infer_posterior", recording)
    # extra-RL-posterior steps: new data goes to the RL buffer only, z from the posterior after each episode
    tr.collector.collect([1, 2], 40, True, False, tr.seeds.collect, tr.seeds.buffer)
    assert seen
    for rewards in seen:
        assert torch.equal(rewards, torch.tensor([_enc_reward(1), _enc_reward(2)])[:, None].expand_as(rewards))


def test_a_real_iteration_runs_with_replay_context():
    cfg = preset("tiny", "point-robot", num_train_steps_per_itr=2, context_source="replay")
    tr = PearlTrainer(cfg)
    before = [p.detach().clone() for p in tr.learner.nets.encoder.parameters()]
    metrics = tr.train_iteration()
    assert np.isfinite(metrics["losses/qf"])
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.learner.nets.encoder.parameters(), strict=True))


def test_bad_value_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^context_source must be 'recent' or 'replay', got 'everything'$"):
        PearlConfig(context_source="everything")
    with pytest.raises(ConfigError, match="context_source"):
        preset("tiny", "point-robot", context_source="encoder")


def test_context_source_is_part_of_the_checkpoint_identity(tmp_path):
    assert "context_source" not in PearlConfig.run_only_fields
    recent = preset("tiny", "point-robot")
    replay = recent.replace(context_source="replay")
    saved = {"algorithm": "pearl", "config": recent.to_dict()}
    check_compatible(saved, recent, tmp_path)
    with pytest.raises(CheckpointError, match="context_source"):
        check_compatible(saved, replay, tmp_path)
    with pytest.raises(ConfigError, match="cannot change"):
        recent.with_run_options(context_source="replay")
    # a checkpoint written before the field existed used the encoder buffer
    old = {k: v for k, v in recent.to_dict().items() if k != "context_source"}
    check_compatible({"algorithm": "pearl", "config": old}, recent, tmp_path)
    with pytest.raises(CheckpointError, match="context_source"):
        check_compatible({"algorithm": "pearl", "config": old}, replay, tmp_path)


def test_cli_flag_parses_and_is_documented(capsys, monkeypatch):
    command = parse_command(["pearl", "cheetah-vel", "--context-source", "replay"])
    overrides = config_overrides(config_class("pearl"), command.settings)
    assert overrides == {"context_source": "replay"}
    assert preset("paper", "cheetah-vel", **overrides).context_source == "replay"

    monkeypatch.setenv("COLUMNS", "120")
    assert main(["train", "pearl", "cheetah-vel", "--help"]) == 0
    text = re.sub(r"(?:\s|[│|╭╮╰╯+─]|-{3,})+", " ", capsys.readouterr().out)
    assert "--context-source {recent,replay}" in text
    assert "from its whole RL buffer" in text and "(default: recent)" in text

    with pytest.raises(SystemExit) as exc:
        main(["train", "pearl", "cheetah-vel", "--context-source", "all"])
    assert exc.value.code == 2
    assert "invalid choice 'all'" in capsys.readouterr().err


def test_cli_run_records_the_setting(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "pearl", "point-robot", "--preset", "tiny", "--context-source", "replay",
                 "--num-train-steps-per-itr", "1", "--iterations", "1", "--run-dir", str(run), "--no-progress",
                 "--no-tensorboard"]) == 0  # fmt: skip
    assert json.loads((run / "config.json").read_text())["config"]["context_source"] == "replay"
