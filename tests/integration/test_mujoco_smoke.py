"""A 2-iteration PEARL run with tiny networks on every MuJoCo task distribution."""

import numpy as np
import pytest

from nacre.algos.pearl import PearlTrainer, preset

FAMILIES = ["cheetah-vel", "cheetah-dir", "ant-dir", "ant-dir-random", "ant-goal", "humanoid-dir", "walker-params",
            "hopper-params"]  # fmt: skip


@pytest.mark.mujoco
@pytest.mark.parametrize("family", FAMILIES)
def test_pearl_smoke(family):
    cfg = preset("tiny", family, num_initial_steps=200, num_steps_prior=200, num_steps_posterior=0,
                 num_extra_rl_steps_posterior=200, num_tasks_sample=1)  # fmt: skip
    trainer = PearlTrainer(cfg)
    for _ in range(2):
        metrics = trainer.train_iteration()
    assert np.isfinite(metrics["losses/qf"]) and trainer.env_steps >= 200 * cfg.n_train_tasks + 2 * 400
    result = trainer.evaluate(num_trajectories=2)
    assert result.returns.shape == (1, cfg.n_test_tasks, 2) and np.isfinite(result.returns).all()
    assert (result.lengths <= 200).all()
