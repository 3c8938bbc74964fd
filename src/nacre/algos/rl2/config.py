"""RL2-PPO configuration (Duan et al. 2016, as PEARL's authors ran it in the ProMP authors' code, REFERENCE 5.4).

Defaults and the ``paper`` preset: meta-batch 100 tasks, one trial of 2 episodes per task and iteration, horizon the
distribution's ``episode_length`` (200 on MuJoCo, PEARL's horizon), discount 0.99, GAE lambda 1 over the whole
trial, per-task normalised advantages, the per-task linear feature baseline, a recurrent Gaussian policy with 64
hidden units fed ``[obs, previous action, reward, done]``, PPO with clip 0.2, 5 epochs, Adam 1e-3, 501 iterations.
nacre's recurrent cell is a GRU (PEARL's run used an LSTM; garage's RL2 uses a GRU): docs/baselines.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from nacre.algos.onpolicy.config import _ENV_KWARGS, _SPLITS, PRESETS, _base_family, _distribution, family
from nacre.config import ConfigBase, ConfigError

__all__ = ["ConfigError", "PRESETS", "Rl2Config", "preset"]


@dataclass(frozen=True)
class Rl2Config(ConfigBase):
    """Every setting of an RL2-PPO run. Defaults are the reference's (REFERENCE 5.4)."""

    label: ClassVar[str] = "RL2-PPO"
    run_only_fields: ClassVar[frozenset[str]] = frozenset({
        "device", "num_iterations", "eval_every", "checkpoint_every", "keep_checkpoints", "num_evals",
        "eval_episodes",
    })  # fmt: skip

    # task distribution
    #: task distribution id (``nacre list``) or ``module:Class``
    env: str = "point-robot"
    #: keyword arguments of the distribution (``--env-kwargs goal_radius=0.8``)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: meta-training tasks (the presets use PEARL's split of the family)
    n_train_tasks: int = 80
    #: held-out tasks of the meta-test
    n_test_tasks: int = 20
    #: families with a sparse reward: the policy is fed the sparse reward (as at test time) while PPO optimises the
    #: dense one during meta-training; test returns are sparse
    sparse_rewards: bool = False
    # policy
    #: units of the GRU cell (the recurrent state carried across the episodes of a trial)
    hidden_size: int = 64
    #: initial standard deviation of the state-independent, learned action noise
    init_std: float = 1.0
    #: floor of the action standard deviation
    min_std: float = 1e-6
    #: the policy's actions in [-action_scale, action_scale] map linearly onto the env's bounds (then clipped)
    action_scale: float = 10.0
    # sampling
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
    #: (A - mean) / (std + 1e-8) over each task's steps
    normalize_advantages: bool = True
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
    #: evaluate on the held-out tasks every this many iterations (and after the last)
    eval_every: int = 10
    # run
    #: meta-training iterations (each: sample the trials, PPO epochs)
    num_iterations: int = 501
    #: root seed of the tasks, environments, sampling noise and initialisation
    seed: int = 0
    #: torch device (cpu, cuda[:N], mps); sampling runs on the CPU
    device: str = "cpu"
    #: write a checkpoint every this many iterations (and after the last)
    checkpoint_every: int = 10
    #: checkpoints kept in the run directory (the newest)
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        self.check_types()
        positive = ["n_train_tasks", "n_test_tasks", "hidden_size", "init_std", "min_std", "action_scale",
                    "meta_batch", "trials_per_task", "episodes_per_trial", "learning_rate", "ppo_epochs", "clip_eps",
                    "num_evals", "eval_every", "num_iterations", "checkpoint_every", "keep_checkpoints"]  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("horizon", "baseline_reg", "minibatch_trials", "entropy_coef", "max_grad_norm",
                     "eval_episodes", "seed"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        for name in ("discount", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.clip_eps >= 1:
            raise ConfigError(f"clip_eps must be below 1, got {self.clip_eps}")
        if self.min_std > self.init_std:
            raise ConfigError(f"min_std ({self.min_std}) cannot exceed init_std ({self.init_std})")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")

    @property
    def test_episodes(self) -> int:
        """Episodes of a meta-test trial."""
        return self.eval_episodes or self.episodes_per_trial

    @property
    def grad_steps_per_iteration(self) -> int:
        """Adam steps per iteration."""
        trials = self.meta_batch * self.trials_per_task
        per_epoch = -(-trials // self.minibatch_trials) if self.minibatch_trials else 1
        return self.ppo_epochs * per_epoch


def preset(name: str, env: str = "point-robot", **overrides: Any) -> Rl2Config:
    """``paper`` (REFERENCE 5.4: 100 tasks x 1 trial of 2 episodes, 501 iterations), ``fast`` (a CPU budget: 20
    tasks, 100 iterations) or ``tiny`` (seconds, smoke tests), for any registered task distribution; sizes come
    from the distribution's ``episode_length`` and PEARL's task split of the family."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    base = _base_family(family(env))
    dist = _distribution(env)
    episode_length = int(getattr(dist, "episode_length", 200))
    fixed = (int(dist.n_train), int(dist.n_test)) if hasattr(dist, "n_train") and hasattr(dist, "n_test") else None
    n_train, n_test = fixed or _SPLITS.get(base) or getattr(dist, "default_task_counts", None) or (100, 30)
    values: dict[str, Any] = {"env": env, "n_train_tasks": n_train, "n_test_tasks": n_test, "horizon": episode_length,
                              "sparse_rewards": base == "sparse-point-robot"}  # fmt: skip
    if base in ("point-robot", "sparse-point-robot"):
        values["action_scale"] = 1.0  # as for MAML-TRPO / ProMP: scale 10 barely moves a std-1 policy there
    if base in _ENV_KWARGS and not family(env).startswith("macaw-"):
        values["env_kwargs"] = dict(_ENV_KWARGS[base])  # the environments of PEARL's presets
    if name == "paper":
        values.update(meta_batch=100, num_iterations=501, eval_every=10, num_evals=1)
    elif name == "fast":
        values.update(meta_batch=20, num_iterations=100, eval_every=10, checkpoint_every=5)
    else:  # tiny: seconds
        values.update(hidden_size=8, meta_batch=2, horizon=min(episode_length, 10), num_iterations=2, eval_every=1,
                      ppo_epochs=2, checkpoint_every=1)  # fmt: skip
        if fixed is None:
            values.update(n_train_tasks=2 if n_train == 2 else 4, n_test_tasks=2)
    family_overrides = getattr(dist, "preset_overrides", None)  # a plug-in family's own values
    if family_overrides is not None:
        values.update(family_overrides("rl2-ppo", name))
    env_kwargs = {**values.get("env_kwargs", {}), **overrides.get("env_kwargs", {})}
    values.update(overrides)
    if env_kwargs:
        values["env_kwargs"] = env_kwargs
    try:
        return Rl2Config(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
