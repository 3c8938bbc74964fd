"""What the on-policy meta-learners' configs share: fields, validation and presets (:class:`OnPolicyRunConfig`,
every on-policy method's; :class:`OnPolicyConfig`, the gradient-based ones': MAML-TRPO, ProMP, MAESN).

Defaults and ``paper`` presets follow the ProMP authors' run scripts, with which PEARL's authors ran these
baselines (docs/baselines.md, 5.1): 40 tasks x 20 rollouts per iteration, discount 0.99, GAE lambda 1, per-task
normalised advantages, a (64, 64) tanh Gaussian policy with learned state-independent log-std (init 1, floor
1e-6), actions in [-10, 10] rescaled to the bounds, inner lr 0.1 (0.05 for the rand-params families), one inner
step (two on ant-goal), 1001 iterations. The horizon is the distribution's ``episode_length`` (200 on MuJoCo: the
PEARL horizon, so the env-step axis matches PEARL's; ProMP's own cheetah sweep used 100). Train and test tasks are
the PEARL reference's splits of each family (the PEARL reference configs) rather than fresh tasks every iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from nacre.config import ConfigBase, ConfigError

C = TypeVar("C", bound="OnPolicyRunConfig")

PRESETS = ("paper", "fast", "tiny")


@dataclass(frozen=True)
class OnPolicyRunConfig(ConfigBase):
    """The fields of every on-policy meta-learner, RL2-PPO included: task distribution, policy noise, sampling
    budget, returns and advantages, meta-test schedule and run. The doc comments are the gradient-based methods'
    (:class:`OnPolicyConfig`); a subclass redefines a field whose meaning it words otherwise. A subclass adds its
    own settings, names the ones that must be positive / non-negative in :attr:`positive_fields` /
    :attr:`non_negative_fields` and calls :meth:`check_onpolicy_fields` in ``__post_init__``."""

    run_only_fields: ClassVar[frozenset[str]] = frozenset({
        "device", "num_iterations", "eval_every", "checkpoint_every", "keep_checkpoints", "num_evals",
    })  # fmt: skip
    #: the fields :meth:`check_onpolicy_fields` requires to be positive (a subclass appends its own)
    positive_fields: ClassVar[tuple[str, ...]] = (
        "n_train_tasks", "n_test_tasks", "hidden_size", "init_std", "min_std", "action_scale", "meta_batch",
        "num_evals", "eval_every", "num_iterations", "checkpoint_every", "keep_checkpoints",
    )  # fmt: skip
    #: the fields :meth:`check_onpolicy_fields` requires to be non-negative (a subclass appends its own)
    non_negative_fields: ClassVar[tuple[str, ...]] = ("horizon", "seed", "baseline_reg")

    # task distribution
    #: task distribution id (``nacre list``) or ``module:Class``
    env: str = "point-robot"
    #: keyword arguments of the distribution (``--env-kwargs goal_radius=0.8``)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: meta-training tasks (the presets use PEARL's split of the family)
    n_train_tasks: int = 80
    #: held-out tasks of the meta-test
    n_test_tasks: int = 20
    #: families with a sparse reward: the inner steps (meta-training and meta-test) see the sparse reward, the
    #: outer objective the dense one, and test returns are sparse
    sparse_rewards: bool = False
    # policy (docs/baselines.md, 5.1)
    #: units per tanh hidden layer of the Gaussian policy (128 on humanoid-dir)
    hidden_size: int = 64
    #: initial standard deviation of the state-independent, learned action noise
    init_std: float = 1.0
    #: floor of the action standard deviation
    min_std: float = 1e-6
    #: the policy's actions in [-action_scale, action_scale] map linearly onto the env's bounds (then clipped)
    action_scale: float = 10.0
    # sampling
    #: tasks per iteration (drawn from the train tasks, without replacement when there are enough)
    meta_batch: int = 40
    #: steps per rollout; 0 = the distribution's episode_length
    horizon: int = 0
    # returns and advantages (docs/baselines.md, 5.1)
    #: discount of the returns and of GAE
    discount: float = 0.99
    #: GAE lambda (1: discounted return minus the linear baseline)
    gae_lambda: float = 1.0
    #: (A - mean) / (std + 1e-8) over each task's steps
    normalize_advantages: bool = True
    #: ridge coefficient of the per-task linear feature baseline (x10 up to 5 times if the fit is NaN)
    baseline_reg: float = 1e-5
    # meta-test: per held-out task, rollouts with the meta-policy, adapt, rollouts, ... (docs/baselines.md)
    #: independent runs per test task
    num_evals: int = 1
    #: evaluate on the held-out tasks every this many iterations (and after the last)
    eval_every: int = 10
    # run
    #: meta-training iterations (each: sample, adapt, sample, one outer update)
    num_iterations: int = 1001
    #: root seed of the tasks, environments, sampling noise and initialisation
    seed: int = 0
    #: torch device (cpu, cuda[:N], mps); sampling runs on the CPU
    device: str = "cpu"
    #: write a checkpoint every this many iterations (and after the last)
    checkpoint_every: int = 10
    #: checkpoints kept in the run directory (the newest)
    keep_checkpoints: int = 2

    def check_onpolicy_fields(self) -> None:
        """Validate the shared fields and the subclass's :attr:`positive_fields` / :attr:`non_negative_fields`
        (types first); raise :class:`ConfigError` naming the field."""
        self.check_types()
        for name in self.positive_fields:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in self.non_negative_fields:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        for name in ("discount", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.min_std > self.init_std:
            raise ConfigError(f"min_std ({self.min_std}) cannot exceed init_std ({self.init_std})")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")

    @property
    def grad_steps_per_iteration(self) -> int:
        """Outer-loop steps per iteration (the progress bar's unit)."""
        return 1

    @property
    def rollout_envs(self) -> int:
        """Environments per task slot of the training pool."""
        raise NotImplementedError

    @classmethod
    def preset_values(cls, name: str, fam: str) -> dict[str, Any]:
        """The values preset ``name`` gives this config class's own fields on task family ``fam`` (before the
        method's table in :func:`onpolicy_preset`)."""
        return {}


@dataclass(frozen=True)
class OnPolicyConfig(OnPolicyRunConfig):
    """The fields of the gradient-based on-policy meta-learners (MAML-TRPO, ProMP, MAESN): the shared ones plus
    the rollouts per adaptation step and the inner loop. A subclass adds its outer-loop settings and calls
    :meth:`check_onpolicy_fields` in ``__post_init__``."""

    run_only_fields: ClassVar[frozenset[str]] = OnPolicyRunConfig.run_only_fields | {"eval_rollouts", "eval_steps"}
    positive_fields: ClassVar[tuple[str, ...]] = (
        *OnPolicyRunConfig.positive_fields, "hidden_layers", "rollouts_per_task", "inner_lr", "inner_steps",
        "eval_rollouts",
    )  # fmt: skip
    non_negative_fields: ClassVar[tuple[str, ...]] = (
        *OnPolicyRunConfig.non_negative_fields, "envs_per_task", "eval_steps",
    )  # fmt: skip

    # policy (docs/baselines.md, 5.1)
    #: tanh hidden layers (the mean head after them is linear)
    hidden_layers: int = 2
    # sampling
    #: rollouts per task and adaptation step (pre- and post-update alike)
    rollouts_per_task: int = 20
    #: environments per task slot (the rollouts of a task run in waves of this many); 0 = rollouts_per_task.
    #: Changes the random stream, not the method
    envs_per_task: int = 0
    # inner loop (docs/baselines.md, 5.1): gradient ascent on all policy parameters, log-std included
    #: inner-step size, fixed (0.05 on the rand-params families)
    inner_lr: float = 0.1
    #: inner steps per task in meta-training (2 on ant-goal), each on freshly sampled rollouts
    inner_steps: int = 1
    # meta-test: per held-out task, rollouts with the meta-policy, adapt, rollouts, ... (docs/baselines.md)
    #: rollouts per adaptation step at meta-test (the data of each test-time step, and the return it reports)
    eval_rollouts: int = 20
    #: the evaluations during training report the return after 0, 1, ..., eval_steps adaptation steps
    eval_steps: int = 1

    @property
    def rollout_envs(self) -> int:
        """Environments per task slot."""
        return min(self.envs_per_task or self.rollouts_per_task, self.rollouts_per_task)

    @classmethod
    def preset_values(cls, name: str, fam: str) -> dict[str, Any]:
        """The policy size, inner loop and rollout counts of preset ``name`` on ``fam`` (docs/baselines.md, 5.1)."""
        base = _base_family(fam)
        values: dict[str, Any] = {}
        if name in ("paper", "fast"):
            values.update(
                hidden_size=128 if base == "humanoid-dir" else 64,
                hidden_layers=2,
                inner_lr=0.05 if fam in RAND_PARAMS else 0.1,
                inner_steps=2 if base == "ant-goal" else 1,
            )
            values["eval_steps"] = values["inner_steps"]
        # paper: 10 environments per task slot (the 20 rollouts in two waves): half the environments' memory
        # (about 1 MB each for MuJoCo), the same method
        values.update({
            "paper": dict(meta_batch=40, rollouts_per_task=20, num_iterations=1001, eval_rollouts=20, envs_per_task=10),
            "fast": dict(rollouts_per_task=10, eval_rollouts=10),
            "tiny": dict(hidden_layers=1, rollouts_per_task=2, eval_rollouts=2, eval_steps=1),
        }[name])  # fmt: skip
        return values


# ---------------------------------------------------------------- presets

#: PEARL's train / test task counts per family (PEARL reference configs), so both methods meta-train on the same tasks
_SPLITS: dict[str, tuple[int, int]] = {
    "point-robot": (80, 20), "sparse-point-robot": (80, 20), "cheetah-vel": (100, 30), "cheetah-dir": (2, 2),
    "ant-dir": (2, 2), "ant-dir-random": (2, 2), "ant-goal": (150, 30), "humanoid-dir": (100, 30),
    "walker-params": (40, 10), "hopper-params": (40, 10),
}  # fmt: skip
#: the environment settings of PEARL's paper presets (same environments for the comparison): ant-goal without
#: early termination, walker/hopper at the reference's 0.016 s control step
_ENV_KWARGS: dict[str, dict[str, Any]] = {
    "ant-goal": {"terminate_when_unhealthy": False},
    "walker-params": {"timestep": 0.004}, "hopper-params": {"timestep": 0.004},
}  # fmt: skip
#: the rand-params families (ProMP's inner lr 0.05; ProMP's 3 Adam steps and adaptive KL penalty)
RAND_PARAMS = frozenset({"walker-params", "hopper-params", "macaw-walker-params"})


def family(env: str) -> str:
    """``cheetah-vel-v1`` -> ``cheetah-vel``."""
    head, sep, tail = env.rpartition("-v")
    return head if sep and tail.isdigit() else env


def _base_family(name: str) -> str:
    """MACAW's fixed task sets -> the family they are drawn from (``macaw-cheetah-vel-ood`` -> ``cheetah-vel``)."""
    if name.startswith("macaw-"):
        name = name[len("macaw-") :]
        return name[: -len("-ood")] if name.endswith("-ood") else name
    return name


def _distribution(env: str) -> Any:
    """The distribution ``env`` with its default arguments (an unknown id raises ``TaskDistributionError``)."""
    from nacre.envs.registry import make_distribution

    return make_distribution(env)


#: the run budgets every on-policy method's presets share; ``tiny`` also caps the horizon at 10 steps and, on a
#: family without a fixed task set, uses 4 (2) train and 2 test tasks
_BUDGETS: dict[str, dict[str, Any]] = {
    "paper": dict(eval_every=10),
    "fast": dict(meta_batch=20, num_iterations=100, eval_every=10, checkpoint_every=5),  # a CPU budget
    "tiny": dict(hidden_size=8, meta_batch=2, num_iterations=2, eval_every=1, checkpoint_every=1),  # smoke tests
}  # fmt: skip


def onpolicy_preset(config_cls: type[C], algorithm: str, name: str, env: str, overrides: Mapping[str, Any],
                    method: Mapping[str, Mapping[str, Any]] | None = None) -> C:  # fmt: skip
    """``paper`` / ``fast`` / ``tiny`` for any distribution; ``method[name]`` holds the method's own changes per
    preset (``method["paper-rand-params"]`` is applied to ``paper`` on the rand-params families). Sizes come from
    the distribution's ``episode_length`` and task counts (a fixed task set's, the table above, the family's
    ``default_task_counts``, else 100 / 30), then the shared budgets (:data:`_BUDGETS`), the config class's
    :meth:`~OnPolicyRunConfig.preset_values` and the method's table; a family's ``preset_overrides(algorithm,
    name)`` come next, the caller's ``overrides`` last."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    fam = family(env)
    base = _base_family(fam)
    dist = _distribution(env)
    episode_length = int(getattr(dist, "episode_length", 200))
    fixed = None
    if dist is not None and hasattr(dist, "n_train") and hasattr(dist, "n_test"):
        fixed = (int(dist.n_train), int(dist.n_test))
    values: dict[str, Any] = {"env": env}
    n_train, n_test = fixed or _SPLITS.get(base) or getattr(dist, "default_task_counts", None) or (100, 30)
    values.update(n_train_tasks=n_train, n_test_tasks=n_test, horizon=episode_length)
    if base == "sparse-point-robot":
        values["sparse_rewards"] = True
    if base in ("point-robot", "sparse-point-robot"):
        # the reference never ran these methods on PEARL's point robots: with its action scale 10, a std-1 policy
        # moves 0.01 per step of the 0.1 allowed and barely leaves its start in 20 steps; scale 1 explores the
        # whole range from the start, as PEARL's normalised actions do (docs/baselines.md)
        values["action_scale"] = 1.0
    if base in _ENV_KWARGS and not fam.startswith("macaw-"):
        values["env_kwargs"] = dict(_ENV_KWARGS[base])
    values.update(_BUDGETS[name])
    if name == "tiny":
        values["horizon"] = min(episode_length, 10)
        if fixed is None:
            values.update(n_train_tasks=2 if n_train == 2 else 4, n_test_tasks=2)
    values.update(config_cls.preset_values(name, fam))
    for key in (name, f"{name}-rand-params" if fam in RAND_PARAMS else ""):
        if method and key in method:
            values.update(method[key])
    family_overrides = getattr(dist, "preset_overrides", None)
    if family_overrides is not None:
        values.update(family_overrides(algorithm, name))
    env_kwargs = {**values.get("env_kwargs", {}), **overrides.get("env_kwargs", {})}  # a preset's, then the user's
    values.update(overrides)
    if env_kwargs:
        values["env_kwargs"] = env_kwargs
    try:
        return config_cls(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
