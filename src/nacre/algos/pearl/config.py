"""PEARL configuration: one frozen, validated dataclass, and presets per task distribution.

The ``paper`` presets copy the PEARL reference configs and, for Meta-World, the Meta-World paper's
PEARL settings (its appendix D.9, docs/metaworld.md). ``fast`` presets are tuned for 2-core CPUs; ``tiny`` presets
exist for smoke tests. Any other task distribution (a plug-in) gets every preset derived from its
``episode_length``, ``default_task_counts`` and ``has_sparse_reward``, then its ``preset_overrides("pearl", name)``
(docs/environments.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from nacre.config import ConfigBase, ConfigError

EncoderKind = Literal["mlp", "rnn-transitions", "rnn-trajectories"]
KLReduction = Literal["sum", "mean"]
Precision = Literal["fp32", "bf16", "auto"]
QEnsemble = Literal["split", "batched"]
ContextSource = Literal["recent", "replay"]


@dataclass(frozen=True)
class PearlConfig(ConfigBase):
    """Every setting of a PEARL run. Defaults are the paper's Half-Cheetah-Vel values."""

    label: ClassVar[str] = "PEARL"
    #: fields one of the two algorithms built on this config never reads: ``nacre train ALGO`` refuses them and
    #: its ``--help`` leaves them out (offline PEARL collects nothing and evaluates from offline context; online
    #: PEARL has no dataset)
    unused_fields: ClassVar[dict[str, frozenset[str]]] = {
        "pearl": frozenset({"dataset", "eval_transitions"}),
        "offline-pearl": frozenset({
            "n_train_tasks", "n_test_tasks", "num_initial_steps", "num_tasks_sample", "num_steps_prior",
            "num_steps_posterior", "num_extra_rl_steps_posterior", "replay_buffer_size", "context_source",
            "num_exp_traj_eval", "num_eval_trajectories",
        }),
    }  # fmt: skip
    type_aliases: ClassVar[dict[str, type]] = {
        "EncoderKind": str,
        "KLReduction": str,
        "Precision": str,
        "QEnsemble": str,
        "ContextSource": str,
    }

    # task distribution
    env: str = "sparse-point-robot"
    #: keyword arguments of the task distribution (--env-kwargs goal_radius=0.8), merged over the preset's
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: meta-training tasks drawn from the distribution (a fixed task set sets it)
    n_train_tasks: int = 100
    #: held-out tasks of the meta-test
    n_test_tasks: int = 30
    #: offline PEARL only: dataset root (``nacre dataset generate``); its manifest fixes the tasks
    dataset: str = ""
    # model
    #: size of the task variable z
    latent_dim: int = 5
    #: width of the hidden layers of the policy, Q and V networks
    hidden_size: int = 300
    #: hidden layers of the policy, Q and V networks
    hidden_layers: int = 3
    #: width of the context encoder's hidden layers
    encoder_hidden_size: int = 200
    #: hidden layers of the context encoder
    encoder_hidden_layers: int = 3
    #: context encoder: "mlp" encodes each transition and multiplies the Gaussian factors (permutation-invariant);
    #: "rnn-transitions" a GRU over shuffled transitions, "rnn-trajectories" a GRU over whole episodes in order
    encoder: EncoderKind = "mlp"
    #: a Gaussian belief over z trained with the KL term to N(0, I); off: a deterministic z (the paper's ablation)
    use_information_bottleneck: bool = True
    #: context transitions are (s, a, r, s') instead of (s, a, r)
    use_next_obs_in_context: bool = False
    #: the encoder's context and the reported test returns use the sparse reward; the critic learns from the dense one
    sparse_rewards: bool = False
    #: the reference's initialisation (rlkit's fan-in rule, which takes the layer's *output* size as fan-in:
    #: first-layer bounds 1/sqrt(300) = 0.0577 for Q, 1/sqrt(200) = 0.0707 for the encoder, and policy mean and
    #: log-std heads U(+-1e-3)); off: the usual fan-in 1/sqrt(inputs) and heads U(+-3e-3). ``paper`` turns it on
    reference_init: bool = False
    # losses (the PEARL reference losses)
    #: factor on the reward in the Q target (SAC's inverse temperature)
    reward_scale: float = 5.0
    #: weight of the KL(q(z | c) || N(0, I)) term in the encoder's loss
    kl_lambda: float = 0.1
    #: "sum" sums the KL over the meta-batch tasks (the reference code: kl_lambda keeps its published meaning), "mean"
    #: averages it
    kl_reduction: KLReduction = "sum"
    #: discount factor gamma of the Q target
    discount: float = 0.99
    #: Polyak rate of the target V network after each gradient step
    soft_target_tau: float = 0.005
    #: Adam learning rate of the policy
    policy_lr: float = 3e-4
    #: Adam learning rate of the twin Q networks
    qf_lr: float = 3e-4
    #: Adam learning rate of the V network
    vf_lr: float = 3e-4
    #: Adam learning rate of the context encoder
    context_lr: float = 3e-4
    #: weight of the penalty on the squared policy mean in L_pi
    policy_mean_reg: float = 1e-3
    #: weight of the penalty on the squared policy log-std in L_pi
    policy_std_reg: float = 1e-3
    #: weight of the penalty on the squared pre-tanh action in L_pi
    policy_pre_activation_reg: float = 0.0
    #: "bf16" runs the networks' matmuls under bf16 autocast (losses, log-probs, posterior stay fp32);
    #: "auto" picks bf16 where the hardware has bf16 matrix units (CPU avx512_bf16 / amx_bf16, CUDA
    #: compute capability >= 8), fp32 elsewhere (nacre.nn.precision). The ``paper``, ``fast`` and ``quick``
    #: presets use "auto" (the A/B learning check in BENCHMARKS.md found bf16 inside seed noise); the
    #: dataclass default and ``tiny`` stay "fp32". ``--precision fp32`` turns bf16 off.
    precision: Precision = "fp32"
    # speed options of the gradient step: each leaves the gradients exactly those of the PEARL reference losses
    # (tests/unit/test_pearl_fast_paths.py); turning all off gives the reference's computation
    #: twin Q: "split" runs one matmul per critic (fastest on CPU), "batched" one batched matmul for both
    q_ensemble: QEnsemble = "split"
    #: L_pi evaluates the critics with detached weights, so no Q weight-gradient is computed only to be
    #: discarded (the reference computes them)
    detach_critic_in_policy_loss: bool = True
    #: one backward pass of L_V + L_pi (they share no parameters) instead of one per loss
    fused_v_policy_backward: bool = True
    #: ReLU in place on each layer's fresh output (same values; one activation buffer fewer per layer)
    inplace_relu: bool = True
    #: CPU: each hidden layer's matmul, bias and ReLU as one oneDNN primitive (same values; fewer passes
    #: over memory); ignored where oneDNN is unavailable or the CPU lacks AVX-512 (measured slower there)
    fused_linear_relu: bool = True
    # batches
    #: tasks per gradient step (distinct when there are enough train tasks)
    meta_batch: int = 16
    #: RL transitions per task and gradient step
    batch_size: int = 256
    #: context transitions per task and gradient step, from the buffer context_source names
    embedding_batch_size: int = 100
    #: where the meta-training gradient steps draw each task's context: "recent" from the task's encoder buffer
    #: (the prior and posterior data of its latest collection), "replay" from its whole RL buffer (every
    #: iteration's data, extra-RL-posterior steps included, as the RL batch), the paper's cheetah-vel ablation,
    #: which it reports worse. Only training changes: collection infers its posterior from the encoder buffer and
    #: the meta-test from the online context either way. Offline PEARL has one buffer, so both are the same
    context_source: ContextSource = "recent"
    # data collection (the PEARL reference's data collection)
    #: training iterations (each: data collection, then num_train_steps_per_itr gradient steps)
    num_iterations: int = 500
    #: env steps per train task with z from the prior before the first iteration (into both buffers)
    num_initial_steps: int = 2000
    #: train tasks drawn per iteration for data collection
    num_tasks_sample: int = 5
    #: env steps per drawn task with z from the prior, into both buffers (the task's encoder buffer is cleared first)
    num_steps_prior: int = 400
    #: env steps per drawn task with z from the posterior over its new context, into both buffers
    num_steps_posterior: int = 0
    #: env steps per drawn task with z from the posterior, into the RL buffer only
    num_extra_rl_steps_posterior: int = 600
    #: gradient steps per iteration
    num_train_steps_per_itr: int = 2000
    #: rows per task of the RL and encoder buffers (they grow up to it, then act as rings)
    replay_buffer_size: int = 1_000_000
    # meta-test (the PEARL paper's meta-test protocol)
    #: meta-test exploration trajectories; the return of the next one is reported (returns/test)
    num_exp_traj_eval: int = 2
    #: trajectories per meta-test run (the length of the adaptation curve)
    num_eval_trajectories: int = 3
    #: independent meta-test runs per test task
    num_evals: int = 1
    #: evaluate on the test tasks every N iterations (and after the last)
    eval_every: int = 1
    #: offline PEARL only: context transitions drawn from each test task's offline data (the MACAW paper's baselines)
    eval_transitions: int = 256
    # run
    #: root seed of the run: task split, collection, networks, batches
    seed: int = 0
    #: torch device: cpu, cuda[:N] or mps
    device: str = "cpu"
    #: write a checkpoint every N iterations (and where the run stops)
    checkpoint_every: int = 1
    #: newest checkpoints kept; older ones are deleted
    keep_checkpoints: int = 2

    #: fields that may differ between a checkpoint and the run that loads it
    run_only_fields: ClassVar[frozenset[str]] = frozenset({
        "device", "precision", "num_iterations", "eval_every", "checkpoint_every", "keep_checkpoints",
        "num_evals", "num_eval_trajectories", "eval_transitions",
        "q_ensemble", "detach_critic_in_policy_loss", "fused_v_policy_backward", "inplace_relu",
        "fused_linear_relu",
    })  # fmt: skip

    def __post_init__(self) -> None:
        positive = [
            "n_train_tasks", "n_test_tasks", "latent_dim", "hidden_size", "hidden_layers",
            "encoder_hidden_size", "encoder_hidden_layers", "meta_batch", "batch_size",
            "embedding_batch_size", "num_iterations", "num_tasks_sample", "num_train_steps_per_itr",
            "replay_buffer_size", "num_exp_traj_eval", "num_eval_trajectories", "num_evals",
            "eval_every", "checkpoint_every", "keep_checkpoints", "eval_transitions",
        ]  # fmt: skip
        non_negative = [
            "num_initial_steps", "num_steps_prior", "num_steps_posterior",
            "num_extra_rl_steps_posterior", "reward_scale", "kl_lambda", "policy_mean_reg",
            "policy_std_reg", "policy_pre_activation_reg", "seed",
        ]  # fmt: skip
        self.check_types()
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        for name in ["policy_lr", "qf_lr", "vf_lr", "context_lr", "discount", "soft_target_tau"]:
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.encoder not in ("mlp", "rnn-transitions", "rnn-trajectories"):
            raise ConfigError(f"encoder must be mlp, rnn-transitions or rnn-trajectories, got {self.encoder!r}")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise ConfigError(f"precision must be 'fp32', 'bf16' or 'auto', got {self.precision!r}")
        if self.q_ensemble not in ("split", "batched"):
            raise ConfigError(f"q_ensemble must be 'split' or 'batched', got {self.q_ensemble!r}")
        if self.context_source not in ("recent", "replay"):
            raise ConfigError(f"context_source must be 'recent' or 'replay', got {self.context_source!r}")
        if self.kl_reduction not in ("sum", "mean"):
            raise ConfigError(f"kl_reduction must be 'sum' or 'mean', got {self.kl_reduction!r}")
        if self.num_exp_traj_eval > self.num_eval_trajectories:
            raise ConfigError(
                f"num_exp_traj_eval ({self.num_exp_traj_eval}) cannot exceed "
                f"num_eval_trajectories ({self.num_eval_trajectories})"
            )
        if self.num_initial_steps == 0 and self.num_steps_prior + self.num_steps_posterior == 0:
            raise ConfigError("no data would reach the encoder buffer: set num_initial_steps or num_steps_prior")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")

    @property
    def grad_steps_per_iteration(self) -> int:
        return self.num_train_steps_per_itr

    @property
    def test_return_index(self) -> int:
        """Index (0-based) of the trajectory whose return the paper reports (after exploration)."""
        return min(self.num_exp_traj_eval, self.num_eval_trajectories - 1)


# ---------------------------------------------------------------- presets

_PAPER_COMMON: dict[str, Any] = dict(
    latent_dim=5, hidden_size=300, hidden_layers=3, encoder_hidden_size=200, encoder_hidden_layers=3,
    batch_size=256, num_iterations=500, discount=0.99, num_evals=1,
)  # fmt: skip

# the PEARL reference configs, column by column.
_PAPER: dict[str, dict[str, Any]] = {
    "point-robot": dict(
        n_train_tasks=80, n_test_tasks=20, meta_batch=16, num_initial_steps=200, num_tasks_sample=5,
        num_steps_prior=200, num_steps_posterior=0, num_extra_rl_steps_posterior=200,
        num_train_steps_per_itr=1000, embedding_batch_size=64, reward_scale=100.0, kl_lambda=0.1,
        num_exp_traj_eval=1, num_eval_trajectories=3,
    ),
    "sparse-point-robot": dict(
        n_train_tasks=80, n_test_tasks=20, meta_batch=16, num_initial_steps=200, num_tasks_sample=10,
        num_steps_prior=100, num_steps_posterior=900, num_extra_rl_steps_posterior=0,
        num_train_steps_per_itr=1000, embedding_batch_size=1024, reward_scale=100.0, kl_lambda=1.0,
        num_exp_traj_eval=5, num_eval_trajectories=20, discount=0.90, sparse_rewards=True,
    ),
    "cheetah-vel": dict(
        n_train_tasks=100, n_test_tasks=30, meta_batch=16, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=400, num_steps_posterior=0, num_extra_rl_steps_posterior=600,
        num_train_steps_per_itr=2000, embedding_batch_size=100, reward_scale=5.0, kl_lambda=0.1,
    ),
    "cheetah-dir": dict(
        n_train_tasks=2, n_test_tasks=2, meta_batch=4, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=1000, num_steps_posterior=0, num_extra_rl_steps_posterior=1000,
        num_train_steps_per_itr=2000, embedding_batch_size=256, reward_scale=5.0, kl_lambda=0.1,
    ),
    "ant-dir": dict(
        n_train_tasks=2, n_test_tasks=2, meta_batch=4, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=400, num_steps_posterior=0, num_extra_rl_steps_posterior=600,
        num_train_steps_per_itr=4000, embedding_batch_size=256, reward_scale=5.0, kl_lambda=0.1,
    ),
    "ant-goal": dict(
        n_train_tasks=150, n_test_tasks=30, meta_batch=10, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=400, num_steps_posterior=0, num_extra_rl_steps_posterior=600,
        num_train_steps_per_itr=4000, embedding_batch_size=256, reward_scale=5.0, kl_lambda=1.0,
        # the reference ant-goal never ends early: with an always negative reward and no bootstrapping past a
        # termination, ending the episode by falling would pay (docs/environments.md)
        env_kwargs={"terminate_when_unhealthy": False},
    ),
    "humanoid-dir": dict(
        n_train_tasks=100, n_test_tasks=30, meta_batch=16, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=400, num_steps_posterior=0, num_extra_rl_steps_posterior=600,
        num_train_steps_per_itr=4000, embedding_batch_size=256, reward_scale=5.0, kl_lambda=0.1,
    ),
    "walker-params": dict(
        n_train_tasks=40, n_test_tasks=10, meta_batch=10, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=400, num_steps_posterior=0, num_extra_rl_steps_posterior=600,
        num_train_steps_per_itr=4000, embedding_batch_size=100, reward_scale=5.0, kl_lambda=0.1,
        use_next_obs_in_context=True, env_kwargs={"timestep": 0.004},  # the reference's 0.004 x 4 = 0.016 s
    ),
    "hopper-params": dict(
        n_train_tasks=40, n_test_tasks=10, meta_batch=10, num_initial_steps=2000, num_tasks_sample=5,
        num_steps_prior=400, num_steps_posterior=0, num_extra_rl_steps_posterior=600,
        num_train_steps_per_itr=4000, embedding_batch_size=100, reward_scale=5.0, kl_lambda=0.1,
        use_next_obs_in_context=True, env_kwargs={"timestep": 0.004},  # the reference's 0.004 x 4 = 0.016 s
    ),
}  # fmt: skip
_PAPER["ant-dir-random"] = dict(_PAPER["ant-dir"])

# Meta-World (the Meta-World paper's appendix D.9; docs/metaworld.md says why each value). Shared:
# latent 7, IB on, no next obs in context, 300x3 networks, all lrs 3e-4, tau 5e-3, policy regs 1e-3, discount 0.99,
# 500-step episodes, 2,500 prior / posterior / extra-posterior steps per sampled task, embedding batch 250, 5 runs
# per test task. The appendix's printed reward scale (10,000), KL weight and gradient steps per epoch are not
# usable as printed: reward scale 10 (the value garage's Meta-World PEARL scripts run with; rewards are in [0, 10]
# per step), KL weight 0.1 and 4,000 gradient steps per iteration (PEARL's own values on its larger MuJoCo
# families). Initial steps: the appendix's 1,000 / 5,000 / 22,500 are 2 / 10 / 45 episodes; ML10's and ML45's are
# one episode per train *class*, so with every goal variation its own task nacre collects one episode (500 steps)
# per ML10 / ML45 task and the printed two episodes per ML1 task.
_METAWORLD_COMMON: dict[str, Any] = dict(
    latent_dim=7, num_steps_prior=2500, num_steps_posterior=2500, num_extra_rl_steps_posterior=2500,
    embedding_batch_size=250, reward_scale=10.0, kl_lambda=0.1, num_train_steps_per_itr=4000, num_evals=5,
    num_exp_traj_eval=2, num_eval_trajectories=3, use_next_obs_in_context=False,
)  # fmt: skip
_PAPER.update({
    "ml1": dict(_METAWORLD_COMMON, n_train_tasks=50, n_test_tasks=50, meta_batch=16, num_tasks_sample=15,
                batch_size=500, num_initial_steps=1000),
    "ml10": dict(_METAWORLD_COMMON, n_train_tasks=500, n_test_tasks=250, meta_batch=10, num_tasks_sample=10,
                 batch_size=1000, num_initial_steps=500),
    "ml45": dict(_METAWORLD_COMMON, n_train_tasks=2250, n_test_tasks=250, meta_batch=45, num_tasks_sample=45,
                 batch_size=1000, num_initial_steps=500),
})  # fmt: skip

# Quick CPU settings: smaller networks and iterations, same algorithm.
_FAST: dict[str, dict[str, Any]] = {
    "point-robot": dict(
        n_train_tasks=40, n_test_tasks=10, hidden_size=64, hidden_layers=2, encoder_hidden_size=64,
        encoder_hidden_layers=2, meta_batch=8, batch_size=128, embedding_batch_size=64,
        num_iterations=30, num_initial_steps=200, num_tasks_sample=5, num_steps_prior=100,
        num_extra_rl_steps_posterior=100, num_train_steps_per_itr=500, reward_scale=20.0,
        kl_lambda=0.1, num_exp_traj_eval=1, num_eval_trajectories=3, eval_every=5,
    ),
    "sparse-point-robot": dict(
        n_train_tasks=80, n_test_tasks=20, hidden_size=128, hidden_layers=2, encoder_hidden_size=128,
        encoder_hidden_layers=2, meta_batch=10, batch_size=128, embedding_batch_size=128,
        num_iterations=200, num_initial_steps=200, num_tasks_sample=10, num_steps_prior=100,
        num_steps_posterior=400, num_extra_rl_steps_posterior=0, num_train_steps_per_itr=500,
        reward_scale=100.0, kl_lambda=1.0, discount=0.90, sparse_rewards=True,
        num_exp_traj_eval=5, num_eval_trajectories=20, eval_every=5,
    ),
}  # fmt: skip

# Meta-World on a 2-core CPU: the paper preset's algorithm and reward scale with smaller networks, one episode per
# collection phase, a subset of the test tasks and one run each (docs/metaworld.md has the measured cost).
_METAWORLD_FAST: dict[str, Any] = dict(
    latent_dim=7, hidden_size=256, hidden_layers=2, encoder_hidden_size=128, encoder_hidden_layers=2,
    batch_size=256, embedding_batch_size=128, num_initial_steps=500, num_steps_prior=500, num_steps_posterior=500,
    num_extra_rl_steps_posterior=500, num_train_steps_per_itr=500, reward_scale=10.0, kl_lambda=0.1,
    num_evals=1, num_exp_traj_eval=2, num_eval_trajectories=3, eval_every=5, num_iterations=100,
)  # fmt: skip
_FAST.update({
    "ml1": dict(_METAWORLD_FAST, n_train_tasks=50, n_test_tasks=10, meta_batch=16, num_tasks_sample=5),
    "ml10": dict(_METAWORLD_FAST, n_train_tasks=100, n_test_tasks=25, meta_batch=10, num_tasks_sample=10),
    "ml45": dict(_METAWORLD_FAST, n_train_tasks=225, n_test_tasks=25, meta_batch=15, num_tasks_sample=15),
})  # fmt: skip

_TINY: dict[str, Any] = dict(
    n_train_tasks=4, n_test_tasks=2, hidden_size=16, hidden_layers=2, encoder_hidden_size=16,
    encoder_hidden_layers=1, meta_batch=2, batch_size=16, embedding_batch_size=8, num_iterations=2,
    num_initial_steps=40, num_tasks_sample=2, num_steps_prior=20, num_steps_posterior=20,
    num_extra_rl_steps_posterior=20, num_train_steps_per_itr=3, num_exp_traj_eval=1,
    num_eval_trajectories=2, eval_every=1, replay_buffer_size=10_000,
)  # fmt: skip

PRESETS = ("paper", "fast", "quick", "tiny")


def preset(name: str, env: str, **overrides: Any) -> PearlConfig:
    """The named preset for task distribution ``env``: ``paper``, ``fast``, ``quick`` or ``tiny``.

    ``quick`` is ``fast`` cut to a few minutes of CPU (a demonstration, not a result).
    """
    family = _family(env)
    if name == "quick":
        return preset("fast", env, **{"num_iterations": 12, "eval_every": 4, **overrides})
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    values: dict[str, Any] = {"env": env}
    derived = family not in _PAPER and family not in _FAST
    if derived:  # a family without tables (a plug-in): from its episode length, sizes and own overrides
        values.update(derived_preset(name, env, overrides.get("env_kwargs", {})))
    elif name == "paper":
        if family not in _PAPER:
            raise ConfigError(f"no paper preset for {env!r}; paper presets exist for {', '.join(sorted(_PAPER))}")
        values.update(_PAPER_COMMON)
        values.update(_PAPER[family])
        values["reference_init"] = True
    elif name == "fast":
        if family in _FAST:
            values.update(_FAST[family])
        else:
            values.update(_PAPER_COMMON)
            values.update(_PAPER[family])
            values.update(fast_mujoco_overrides())
    elif name == "tiny":
        base = _PAPER.get(family, {})
        keep = (
            "sparse_rewards",
            "use_next_obs_in_context",
            "discount",
            "reward_scale",
            "kl_lambda",
            "latent_dim",
            "env_kwargs",
        )  # the paper's environment (ant-goal never terminating, the walker's timestep)
        values.update({k: v for k, v in base.items() if k in keep})
        values.update(_TINY)
        if base.get("n_train_tasks") == 2:  # fixed two-task splits
            values.update(n_train_tasks=2, n_test_tasks=2)
    values.update(_fixed_sizes(env))
    if env.startswith("macaw-"):  # offline data fixes a MACAW task set's environment: keep its defaults
        values.pop("env_kwargs", None)
    if name in ("paper", "fast"):  # bf16 where the hardware multiplies it faster (nacre.nn.precision)
        values["precision"] = "auto"
    env_kwargs = {**values.get("env_kwargs", {}), **overrides.get("env_kwargs", {})}  # a preset's, then the user's
    values.update(overrides)
    if env_kwargs:
        values["env_kwargs"] = env_kwargs
    try:
        return PearlConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def derived_preset(name: str, env: str, env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A preset for a family nacre has no table for, derived from the distribution itself.

    ``paper`` is the PEARL paper's Half-Cheetah-Vel schedule counted in episodes of the family's
    ``episode_length`` (10 initial episodes per train task; 2 prior and 3 extra-posterior episodes per sampled
    task), its sizes the family's ``default_task_counts`` (else the paper's 100 / 30); ``fast`` adds the CPU
    changes of the MuJoCo fast presets; ``tiny`` is the smoke-test preset (one episode per phase). Sparse
    families get ``sparse_rewards``. The family's ``preset_overrides("pearl", name)`` come last.
    """
    from nacre.envs.registry import make_distribution

    dist = make_distribution(env, **(env_kwargs or {}))
    length = int(dist.episode_length)
    if length < 1:
        raise ConfigError(f"{env}: episode_length must be positive, got {length}")
    n_train, n_test = dist.default_task_counts or (100, 30)
    values: dict[str, Any] = {}
    if name in ("paper", "fast"):
        values.update(_PAPER_COMMON)
        values.update(_PAPER["cheetah-vel"])
        values.update(n_train_tasks=int(n_train), n_test_tasks=int(n_test), num_initial_steps=10 * length,
                      num_steps_prior=2 * length, num_extra_rl_steps_posterior=3 * length)  # fmt: skip
        if name == "paper":
            values["reference_init"] = True
        else:
            values.update(fast_mujoco_overrides())
    else:  # tiny
        values.update(_TINY)
        if dist.default_task_counts is not None:  # e.g. a fixed split: ask for at most its sizes
            values.update(n_train_tasks=min(_TINY["n_train_tasks"], int(n_train)),
                          n_test_tasks=min(_TINY["n_test_tasks"], int(n_test)))  # fmt: skip
    if dist.has_sparse_reward:
        values["sparse_rewards"] = True
    family_values = dist.preset_overrides("pearl", name) or {}
    if not isinstance(family_values, dict):
        raise ConfigError(f"{env}: preset_overrides must return a dict, got {type(family_values).__name__}")
    values.update(family_values)
    return values


def fast_mujoco_overrides() -> dict[str, Any]:
    """CPU-friendly changes applied to a MuJoCo paper preset by the ``fast`` preset."""
    return dict(hidden_size=256, hidden_layers=2, encoder_hidden_size=128, encoder_hidden_layers=2,
                num_train_steps_per_itr=500, eval_every=5)  # fmt: skip


#: MACAW's task sets take the PEARL settings of the family they are drawn from
_ALIASES = {"macaw-cheetah-vel": "cheetah-vel", "macaw-cheetah-vel-ood": "cheetah-vel",
            "macaw-cheetah-dir": "cheetah-dir", "macaw-ant-dir": "ant-dir",
            "macaw-walker-params": "walker-params"}  # fmt: skip


def _family(env: str) -> str:
    """``cheetah-vel-v1`` -> ``cheetah-vel``; MACAW task sets -> the family they come from; every Meta-World ML1
    id (``ml1-reach-v3``) -> ``ml1``."""
    head, sep, tail = env.rpartition("-v")
    name = head if sep and tail.isdigit() else env
    if name.startswith("ml1-"):
        return "ml1"
    return _ALIASES.get(name, name)


def _fixed_sizes(env: str) -> dict[str, int]:
    """``n_train_tasks`` / ``n_test_tasks`` of a distribution with a fixed task set (MACAW's), else nothing."""
    if not env.startswith("macaw-"):
        return {}
    from nacre.envs.registry import TaskDistributionError, make_distribution

    try:
        dist = make_distribution(env)
    except TaskDistributionError:
        return {}
    if hasattr(dist, "n_train") and hasattr(dist, "n_test"):
        return {"n_train_tasks": int(dist.n_train), "n_test_tasks": int(dist.n_test)}
    return {}
