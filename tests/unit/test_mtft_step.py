"""MT+FT's gradient step against the MACAW reference's multi-task configuration: advantages standardised per task
(each task's loss on its own rows), the value regressed on the plain Monte-Carlo return (``no_bootstrap``) unless
``value_bootstrap``, and the reference's sub-sampled buffers in the ``paper`` preset."""

import math

import pytest
import torch

from nacre.algos.macaw import losses
from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.mtft import preset
from nacre.algos.mtft.learner import MtftLearner


def _batch(tasks=2, rows=6, obs_dim=3, act_dim=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=gen)
    mc = r(tasks, rows, 1)
    mc[1] *= 100.0  # task 1's returns (and so its advantages) on another scale than task 0's
    return MacawBatch(r(tasks, rows, obs_dim), torch.tanh(r(tasks, rows, act_dim)), mc, r(tasks, rows, obs_dim),
                      torch.full((tasks, rows, 1), 0.9), torch.zeros(tasks, rows, 1))  # fmt: skip


def _learner(**kw):
    cfg = preset("tiny", "point-robot", policy_hidden_size=8, value_hidden_size=8, **kw)
    return MtftLearner(cfg, 3, 2, num_tasks=4, init_gen=torch.Generator().manual_seed(1))


def test_advantages_are_standardised_per_task(monkeypatch):
    learner = _learner()
    batch, ids = _batch(), torch.tensor([0, 3])
    seen = []
    real = losses.awr_weights
    monkeypatch.setattr(losses, "awr_weights", lambda a, *args: seen.append(a.clone()) or real(a, *args))
    metrics = learner.update(batch, ids)
    (advantages,) = seen
    assert advantages.shape == (2, 6)  # one row of advantages per task
    # the expected weights: each task standardised over its own rows, then exp(min(., log 20))
    std = (advantages - advantages.mean(1, keepdim=True)) / (advantages.std(1, keepdim=True) + 1e-8)
    expected = torch.exp(std.clamp(max=math.log(20.0)))
    assert float(metrics["weight_mean"]) == pytest.approx(float(expected.mean()), rel=1e-5)
    # pooled standardisation would flatten task 0's weights (task 1's scale dominates the pooled std)
    pooled = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    assert float(torch.exp(pooled[0].clamp(max=math.log(20.0))).std()) < 0.1 * float(expected[0].std())


@pytest.mark.parametrize("bootstrap", [False, True])
def test_value_target_is_the_monte_carlo_return_unless_bootstrapped(bootstrap):
    learner = _learner(value_bootstrap=bootstrap)
    batch, ids = _batch(seed=2), torch.tensor([1, 2])
    with torch.no_grad():
        x_last = learner.inputs(batch.last_obs, ids)
        boot = batch.mc_returns[..., 0] + 0.9 * learner.target_value(x_last)[..., 0]
    metrics = learner.update(batch, ids)
    expected = boot if bootstrap else batch.mc_returns[..., 0]
    assert float(metrics["value_target_mean"]) == pytest.approx(float(expected.mean()), rel=1e-5)


def test_paper_preset_keeps_every_seventh_row_as_the_reference():
    assert preset("paper", "macaw-cheetah-vel").buffer_skip == 7
    assert preset("fast", "macaw-cheetah-vel").buffer_skip == 1
    assert not preset("paper", "macaw-cheetah-vel").value_bootstrap
