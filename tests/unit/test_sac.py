"""SAC: targets by hand (terminated vs truncated), temperature sign, target isolation, state, learning."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nacre.algos.sac import SACConfig, SACLearner, SACReplayBuffer, alpha_loss, q_target


def _learner(num_tasks: int = 0, seed: int = 0, **cfg) -> SACLearner:
    init, train = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    return SACLearner(SACConfig(hidden_size=16, hidden_layers=2, **cfg), 3, 2, num_tasks=num_tasks,
                      init_gen=init, train_gen=train)  # fmt: skip


def _batch(n: int = 8, terminated: float = 0.0, seed: int = 0, num_tasks: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    batch = {"obs": torch.randn(n, 3, generator=g), "actions": torch.rand(n, 2, generator=g) * 2 - 1,
             "rewards": torch.randn(n, 1, generator=g), "next_obs": torch.randn(n, 3, generator=g),
             "terminated": torch.full((n, 1), terminated)}  # fmt: skip
    if num_tasks:
        batch["task"] = torch.arange(n) % num_tasks
    return batch


def test_q_target_by_hand():
    r = torch.tensor([[1.0], [2.0]])
    done = torch.tensor([[0.0], [1.0]])
    y = q_target(r, done, next_min_q=torch.tensor([[10.0], [10.0]]), next_log_prob=torch.tensor([[-1.0], [-1.0]]),
                 alpha=0.5, gamma=0.9)  # fmt: skip
    # y = r + gamma (1 - d) (Q' - alpha log pi'): 1 + 0.9 * (10 + 0.5) = 10.45; a terminal step keeps only r
    torch.testing.assert_close(y, torch.tensor([[10.45], [2.0]]))


def test_learner_target_bootstraps_unless_terminated():
    agent = _learner(gamma=0.9)
    batch = _batch(terminated=1.0)
    torch.testing.assert_close(agent.td_target(batch), batch["rewards"])  # a true end: no bootstrap
    batch = _batch(terminated=0.0)
    state = agent.gen.get_state()
    got = agent.td_target(batch)
    agent.gen.set_state(state)  # replay the same a' ~ pi(s') draw by hand
    nxt = agent.nets.policy(batch["next_obs"], torch.zeros(8, 0), agent.gen)
    q1, q2 = agent.nets.target_qf(torch.cat([batch["next_obs"], nxt.action], -1)).detach()
    expected = batch["rewards"] + 0.9 * (torch.minimum(q1, q2) - agent.alpha * nxt.log_prob.detach())
    torch.testing.assert_close(got, expected)


def test_time_limit_is_not_stored_as_termination():
    """The buffer keeps only `terminated`: a truncated (time-limit) step bootstraps."""
    from nacre.datasets.generate import GenerateSettings, SACLifetime
    from nacre.envs.registry import make_distribution

    dist = make_distribution("point-robot")
    s = GenerateSettings(steps_per_task=40, hidden_size=8, hidden_layers=1, batch_size=8, random_steps=40,
                         checkpoint_every=0)  # fmt: skip
    run = SACLifetime(dist, [{"goal": [0.5, 0.5]}], s, seed=0, conditioned=False)
    while not run.done:
        run.run_round()
    assert all(ep.truncated[-1] and not ep.terminated.any() for ep in run.episodes[0])
    assert run.buffer.state_dict()["data"]["terminated"].sum() == 0


@pytest.mark.parametrize("log_prob, grows", [(5.0, True), (-5.0, False)])
def test_temperature_moves_towards_target_entropy(log_prob, grows):
    # target entropy -2: log pi = 5 means entropy -5 < -2 (too little), so alpha must grow; log pi = -5: shrink
    log_alpha = torch.zeros((), requires_grad=True)
    alpha_loss(log_alpha, torch.full((4, 1), log_prob), target_entropy=-2.0).backward()
    assert (log_alpha.grad < 0) == grows  # gradient descent moves log_alpha against the gradient
    agent = _learner()
    agent.target_entropy = 100.0 if grows else -100.0  # unreachable targets force the direction
    before = float(agent.alpha)
    agent.update(_batch())
    assert (float(agent.alpha) > before) == grows


def test_target_networks_get_no_gradients_and_track_polyak():
    agent = _learner(num_tasks=3)
    old_target = copy.deepcopy(agent.nets.target_qf.state_dict())
    agent.update(_batch(num_tasks=3))
    assert all(not p.requires_grad and p.grad is None for p in agent.nets.target_qf.parameters())
    q = agent.nets.qf.state_dict()
    for k, v in agent.nets.target_qf.state_dict().items():
        torch.testing.assert_close(v, 0.995 * old_target[k] + 0.005 * q[k])
    assert agent.grad_steps == 1


def test_task_conditioning_needs_task_and_changes_action():
    agent = _learner(num_tasks=2)
    with pytest.raises(ValueError, match="task index"):
        agent.update(_batch())
    obs = np.zeros((2, 3), dtype=np.float32)
    a = agent.act(obs, np.array([0, 1]), deterministic=True)
    assert a.shape == (2, 2) and not np.allclose(a[0], a[1])


def test_state_dict_roundtrip_continues_identically():
    a, b = _learner(seed=3), _learner(seed=9)
    for i in range(3):
        a.update(_batch(seed=i))
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for i in range(3, 6):
        ma, mb = a.update(_batch(seed=i)), b.update(_batch(seed=i))
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(v, sb["networks"][k]) for k, v in sa["networks"].items())
    assert torch.equal(sa["log_alpha"], sb["log_alpha"]) and sa["grad_steps"] == sb["grad_steps"] == 6


def test_replay_buffer_grows_and_wraps():
    buf = SACReplayBuffer(1, 1, capacity=5000)
    for i in range(5003):
        buf.add(np.array([i]), np.array([0.0]), float(i), np.array([i + 1]), False, task=i % 2)
    assert len(buf) == 5000
    obs = buf.state_dict()["data"]["obs"][:, 0]
    assert obs[0] == 5000 and obs[3] == 3  # the oldest three were overwritten
    batch = buf.sample(np.random.default_rng(0), 7)
    assert batch["obs"].shape == (7, 1) and batch["task"].dtype == torch.int64


def test_sac_learns_point_robot_goal():
    """A fixed-goal point robot: the learned policy clearly beats random actions (about 10 s)."""
    from nacre.datasets.generate import GenerateSettings, SACLifetime
    from nacre.envs.registry import make_distribution
    from nacre.vector_rollout import rollout_batch

    dist = make_distribution("point-robot")
    task = {"goal": [0.6, -0.4]}
    s = GenerateSettings(steps_per_task=3000, hidden_size=64, hidden_layers=2, batch_size=128, random_steps=200,
                         checkpoint_every=0)  # fmt: skip
    run = SACLifetime(dist, [task], s, seed=0, conditioned=False)
    while not run.done:
        run.run_round()
    env, rng = dist.make_env(task), np.random.default_rng(123)
    learned = np.mean([rollout_batch([env], lambda o, i: run.agent.act(o, deterministic=True), rng, 20)[0]
                       .episode_return() for _ in range(20)])  # fmt: skip
    rand = np.mean([rollout_batch([env], lambda o, i: rng.uniform(-1, 1, (len(o), 2)), rng, 20)[0].episode_return()
                    for _ in range(20)])  # fmt: skip
    assert learned > rand + 10.0 and learned > -11.0, (learned, rand)  # measured: about -7.5 vs -23


SAC_PLAIN = dict(q_ensemble="batched", inplace_relu=False, fused_linear_relu=False, fused_adam=False)


@pytest.fixture(autouse=True)
def _fused_kernel_everywhere(monkeypatch):
    """Run the fused linear+ReLU kernel even on CPUs where the option falls back (it is checked, not timed)."""
    from nacre.nn import mlp

    monkeypatch.setattr(mlp, "_fused_linear_relu_pays", lambda rows: True)


@pytest.mark.parametrize("option", ["q_ensemble", "inplace_relu", "fused_linear_relu", "fused_adam", "all"])
def test_speed_options_compute_the_plain_update(option):
    """Each speed option (and all together, the default) gives the plain step's parameters after 4 updates."""
    names = list(SAC_PLAIN) if option == "all" else [option]
    fast = {name: getattr(SACConfig(), name) for name in names}  # the defaults are the fast settings
    plain, other = _learner(seed=4, **SAC_PLAIN), _learner(seed=4, **{**SAC_PLAIN, **fast})
    assert other.cfg != plain.cfg
    for i in range(4):
        mp, mo = plain.update(_batch(32, seed=i)), other.update(_batch(32, seed=i))
        for k in mp:
            torch.testing.assert_close(mo[k], mp[k], rtol=1e-5, atol=1e-6)
    sp, so = plain.nets.state_dict(), other.nets.state_dict()
    for k, v in sp.items():
        torch.testing.assert_close(so[k], v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(other.log_alpha, plain.log_alpha)


def test_precision_rule_and_bf16_step(monkeypatch):
    from nacre.nn import precision

    monkeypatch.setattr(precision, "cpu_bf16_matmul_supported", lambda: False)
    assert _learner(precision="auto").precision == "fp32"  # no bf16 matrix units: fp32
    monkeypatch.setattr(precision, "cpu_bf16_matmul_supported", lambda: True)
    monkeypatch.setattr(precision, "cpu_bf16_matmul_faster", lambda: False)
    assert _learner(precision="auto").precision == "fp32"  # bf16 units slower than fp32 here: fp32
    monkeypatch.setattr(precision, "cpu_bf16_matmul_faster", lambda: True)
    assert _learner(precision="auto").precision == "bf16"
    learner = _learner(precision="bf16")
    metrics = learner.update(_batch(32))
    assert all(torch.isfinite(v).all() and v.dtype == torch.float32 for v in metrics.values())
    with pytest.raises(ValueError, match="precision"):
        SACConfig(precision="fp16")
