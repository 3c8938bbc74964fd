"""RL2-PPO configuration (Duan et al. 2016, as PEARL's authors ran it in the ProMP code, docs/baselines.md 5.4).

Defaults and the ``paper`` preset: meta-batch 100 tasks, one trial of 2 episodes per task and iteration, horizon the
distribution's ``episode_length`` (200 on MuJoCo, PEARL's horizon), discount 0.99, GAE lambda 1 over the whole
trial, per-task normalised advantages, the per-task linear feature baseline, a recurrent Gaussian policy with 64
hidden units fed ``[obs, previous action, reward, done]``, PPO with clip 0.2, 5 epochs, Adam 1e-3, 501 iterations.
nacre's recurrent cell is a GRU (PEARL's run used an LSTM; garage's RL2 uses a GRU): docs/baselines.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from nacre.algos.onpolicy.config import PRESETS, OnPolicyRunConfig, onpolicy_preset
from nacre.config import ConfigError

__all__ = ["ConfigError", "PRESETS", "Rl2Config", "preset"]


@dataclass(frozen=True)
class Rl2Config(OnPolicyRunConfig):
    """Every setting of an RL2-PPO run. Defaults are the reference's (docs/baselines.md, 5.4)."""

    label: ClassVar[str] = "RL2-PPO"
    run_only_fields: ClassVar[frozenset[str]] = OnPolicyRunConfig.run_only_fields | {"eval_episodes"}
    positive_fields: ClassVar[tuple[str, ...]] = (
        *OnPolicyRunConfig.positive_fields, "trials_per_task", "episodes_per_trial", "learning_rate", "ppo_epochs",
        "clip_eps",
    )  # fmt: skip
    non_negative_fields: ClassVar[tuple[str, ...]] = (
        *OnPolicyRunConfig.non_negative_fields, "minibatch_trials", "entropy_coef", "max_grad_norm", "eval_episodes",
    )  # fmt: skip

    # below: RL2's own fields, and the shared ones (OnPolicyRunConfig) whose default or meaning differs for RL2

    # task distribution
    #: families with a sparse reward: the policy is fed the sparse reward (as at test time) while PPO optimises the
    #: dense one during meta-training; test returns are sparse
    sparse_rewards: bool = False
    # policy
    #: units of the GRU cell (the recurrent state carried across the episodes of a trial)
    hidden_size: int = 64
    # sampling
    #: the policy's actions in [-action_scale, action_scale] map linearly onto the env's bounds (then clipped); 1 as
    #: in the reference's RL2, which steps the environment with the policy's raw actions
    action_scale: float = 1.0
    #: tasks per iteration (drawn from the train tasks, without replacement when there are enough)
    meta_batch: int = 100
    #: trials per task and iteration (each its own environment and a fresh hidden state)
    trials_per_task: int = 1
    #: episodes per trial: the hidden state is carried across them and reset between trials
    episodes_per_trial: int = 2
    #: steps per episode; 0 = the distribution's episode_length
    horizon: int = 0
    # returns and advantages
    #: discount of the returns and of GAE (over the whole trial: episode boundaries do not cut it)
    discount: float = 0.99
    #: GAE lambda (1: discounted trial return-to-go minus the linear baseline)
    gae_lambda: float = 1.0
    #: ridge coefficient of the per-task linear feature baseline (features of the observation and the step in the
    #: trial)
    baseline_reg: float = 1e-5
    # PPO
    #: Adam learning rate
    learning_rate: float = 1e-3
    #: epochs over the iteration's trials
    ppo_epochs: int = 5
    #: trials per minibatch (whole trials, back-propagated through in full); 0 = all trials in one batch
    minibatch_trials: int = 0
    #: the likelihood ratio is clipped to [1 - clip_eps, 1 + clip_eps]
    clip_eps: float = 0.2
    #: weight of the policy entropy bonus (the reference uses none; garage 0.02)
    entropy_coef: float = 0.0
    #: clip the gradient norm of each Adam step to this (0: no clipping)
    max_grad_norm: float = 0.0
    # meta-test: one trial per held-out task and run, return per episode of the trial
    #: episodes of a meta-test trial; 0 = episodes_per_trial
    eval_episodes: int = 0
    #: independent trials per test task
    num_evals: int = 1
    # run
    #: meta-training iterations (each: sample the trials, PPO epochs)
    num_iterations: int = 501

    def __post_init__(self) -> None:
        self.check_onpolicy_fields()
        if self.clip_eps >= 1:
            raise ConfigError(f"clip_eps must be below 1, got {self.clip_eps}")

    @property
    def test_episodes(self) -> int:
        """Episodes of a meta-test trial."""
        return self.eval_episodes or self.episodes_per_trial

    @property
    def rollout_envs(self) -> int:
        """Environments per task slot: one per trial."""
        return self.trials_per_task

    @property
    def grad_steps_per_iteration(self) -> int:
        """Adam steps per iteration."""
        trials = self.meta_batch * self.trials_per_task
        per_epoch = -(-trials // self.minibatch_trials) if self.minibatch_trials else 1
        return self.ppo_epochs * per_epoch


#: RL2-PPO's own settings per preset (docs/baselines.md, 5.4), on top of the shared budgets
_METHOD: dict[str, dict[str, Any]] = {
    "paper": dict(meta_batch=100, num_iterations=501, num_evals=1),
    "tiny": dict(ppo_epochs=2),
}


def preset(name: str, env: str = "point-robot", **overrides: Any) -> Rl2Config:
    """``paper`` (docs/baselines.md, 5.4: 100 tasks x 1 trial of 2 episodes, 501 iterations), ``fast`` (a CPU budget: 20
    tasks, 100 iterations) or ``tiny`` (seconds, smoke tests), for any registered task distribution; sizes come
    from the distribution's ``episode_length`` and PEARL's task split of the family."""
    return onpolicy_preset(Rl2Config, "rl2-ppo", name, env, overrides, _METHOD)
