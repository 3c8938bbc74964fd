"""PEARL gradient-step cost at the paper's shapes, against this machine's matmul peak.

Usage: ``python benchmarks/update_throughput.py [--steps 10] [--rounds 3] [--threads 1] [--only cheetah-vel]
[--env-steps 0] [--summary]``

Prints, in one run:

* seconds per PEARL gradient step (``PearlLearner.update`` on random data of the right shapes) for the
  paper presets of cheetah-vel (meta-batch 16, batch 256, context 100, networks 300x3, encoder 200x3,
  latent 5) and the point robot, side by side: the plain fp32 step (the reference's computation: every
  speed option off), each speed option alone, all lossless options (the default), and bf16 with and
  without them; the variants are timed in interleaved rounds (median), so ratios hold on a loaded machine;
* GFLOP per step counted with ``torch.utils.flop_counter.FlopCounterMode`` and the achieved GFLOP/s;
* the sustained fp32 and bf16 GEMM throughput at a PEARL-like shape (4096x300 @ 300x300) and at
  2048^3, and the fraction of the matching peak each step reaches;
* env steps per second of PEARL data collection (policy inference included), one env at a time and
  ``--collect-envs`` envs in lockstep with batched inference, against raw random-action stepping.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from nacre.algos.pearl.config import preset
from nacre.algos.pearl.learner import PearlLearner
from nacre.buffers.context import context_dim
from nacre.envs import make_distribution
from nacre.nn.precision import resolve_precision
from nacre.types import TransitionBatch
from nacre.vector_rollout import rollout_batch, to_env_action

SHAPES = {"cheetah-vel": (20, 6), "point-robot": (2, 2)}


def random_inputs(cfg, obs_dim: int, act_dim: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    t, b = cfg.meta_batch, cfg.batch_size
    batch = TransitionBatch(
        torch.randn(t, b, obs_dim, generator=g), torch.rand(t, b, act_dim, generator=g) * 2 - 1,
        torch.randn(t, b, 1, generator=g), torch.randn(t, b, obs_dim, generator=g), torch.zeros(t, b, 1),
    )  # fmt: skip
    batch = TransitionBatch(*(x.to(device) for x in batch))
    ctx = torch.randn(t, cfg.embedding_batch_size, context_dim(obs_dim, act_dim, cfg.use_next_obs_in_context),
                      generator=g).to(device)  # fmt: skip
    return batch, ctx


PLAIN = dict(
    q_ensemble="split",
    detach_critic_in_policy_loss=False,
    fused_v_policy_backward=False,
    inplace_relu=False,
    fused_linear_relu=False,
)  # the reference's computation
LEVERS = {  # each lever alone, on top of the plain step
    "batched twin-Q (bmm)": dict(q_ensemble="batched"),
    "detached Q in L_pi": dict(detach_critic_in_policy_loss=True),
    "fused L_V+L_pi backward": dict(fused_v_policy_backward=True),
    "in-place ReLU": dict(inplace_relu=True),
    "fused linear+bias+ReLU (oneDNN)": dict(fused_linear_relu=True),
}
ALL = dict(
    q_ensemble="split",
    detach_critic_in_policy_loss=True,
    fused_v_policy_backward=True,
    inplace_relu=True,
    fused_linear_relu=True,
)
PREVIOUS = dict(
    q_ensemble="batched",
    detach_critic_in_policy_loss=True,
    fused_v_policy_backward=True,
    inplace_relu=False,
    fused_linear_relu=False,
)  # the default before the speed options existed


def variants(full: bool) -> dict[str, dict]:
    """name -> PearlConfig overrides, the plain fp32 step first."""
    out = {"plain fp32 (reference computation)": dict(PLAIN, precision="fp32")}
    if full:
        out.update({name: dict(PLAIN, **lever, precision="fp32") for name, lever in LEVERS.items()})
        out["previous default (fp32)"] = dict(PREVIOUS, precision="fp32")
    out["all lossless levers fp32 (default)"] = dict(ALL, precision="fp32")
    if full:
        out["all but fused linear+ReLU (fp32)"] = dict(ALL, fused_linear_relu=False, precision="fp32")
        out["plain bf16"] = dict(PLAIN, precision="bf16")
    out["all levers + bf16"] = dict(ALL, precision="bf16")
    return out


def make_learner(env: str, device: str, overrides: dict) -> tuple[PearlLearner, TransitionBatch, torch.Tensor]:
    cfg = preset("paper", env, device=device, **overrides)
    obs_dim, act_dim = SHAPES[env]
    dev = torch.device(device)
    learner = PearlLearner(cfg, obs_dim, act_dim, torch.Generator().manual_seed(0),
                           torch.Generator(device=dev).manual_seed(1))  # fmt: skip
    batch, ctx = random_inputs(cfg, obs_dim, act_dim, dev)
    return learner, batch, ctx


def count_gflop(learner: PearlLearner, batch: TransitionBatch, ctx: torch.Tensor) -> float:
    """Matmul GFLOP of one step. The fused oneDNN linear+ReLU is invisible to the FLOP counter, so it is
    counted on the unfused layers, which do the same arithmetic."""
    cfg = learner.cfg
    learner.cfg = cfg.replace(fused_linear_relu=False)
    counter = FlopCounterMode(display=False)
    with counter:
        learner.update(batch, ctx)
    learner.cfg = cfg
    return counter.get_total_flops() / 1e9


def time_variants(env: str, steps: int, rounds: int, device: str, full: bool) -> dict[str, tuple[float, float]]:
    """name -> (median seconds per step, GFLOP per step).

    All variants are built first and timed in interleaved rounds of ``steps`` steps each, so that a load
    change on a shared machine hits every variant alike; the median over rounds is reported.
    """
    dev = torch.device(device)
    setups = {name: make_learner(env, device, o) for name, o in variants(full).items()}
    gflop = {}
    for name, (learner, batch, ctx) in setups.items():
        for _ in range(2):
            learner.update(batch, ctx)
        gflop[name] = count_gflop(learner, batch, ctx)
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, (learner, batch, ctx) in setups.items():
            _sync(dev)
            start = time.perf_counter()
            for _ in range(steps):
                learner.update(batch, ctx)
            _sync(dev)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: (float(np.median(times[name])), gflop[name]) for name in setups}


def gemm_gflops(m: int, k: int, n: int, dtype: torch.dtype, device: str, seconds: float = 1.0) -> float:
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    _sync(torch.device(device))
    return 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9


def collection_rate(env_id: str, steps: int, n_envs: int) -> tuple[float, float, float]:
    """Env steps/s of policy rollouts (one env; ``n_envs`` in lockstep) and of raw random-action stepping."""
    cfg = preset("tiny", env_id, hidden_size=300, hidden_layers=3)
    dist = make_distribution(env_id)
    tasks = dist.split(0, n_envs, 1).train
    envs = [dist.make_env(t) for t in tasks]
    obs_dim, act_dim = envs[0].observation_space.shape[0], envs[0].action_space.shape[0]
    learner = PearlLearner(cfg, obs_dim, act_dim, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    z = torch.zeros(n_envs, cfg.latent_dim)
    rng = np.random.default_rng(0)
    rates = []
    for batch in ([envs[0]], envs):
        done, start = 0, time.perf_counter()
        while done < steps:
            trajs = rollout_batch(batch, lambda o, idx: learner.act(o, z[idx]), rng, dist.episode_length)
            done += sum(len(t) for t in trajs)
        rates.append(done / (time.perf_counter() - start))
    env = envs[0]
    env.reset(seed=0)
    actions = rng.uniform(-1, 1, size=(steps, act_dim)).astype(np.float32)
    start = time.perf_counter()
    for i in range(steps):
        _, _, term, trunc, _ = env.step(to_env_action(actions[i], env.action_space))
        if term or trunc:
            env.reset()
    return rates[0], rates[1], steps / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=sorted(SHAPES), default=None)
    parser.add_argument("--env-steps", type=int, default=4000, help="0 skips the collection measurement")
    parser.add_argument("--collect-envs", type=int, default=10, help="envs stepped in lockstep")
    parser.add_argument("--summary", action="store_true", help="only plain fp32, the default and bf16 + levers")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    auto = resolve_precision("auto", args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"precision='auto' resolves to {auto}")  # fmt: skip
    fp32_small = gemm_gflops(4096, 300, 300, torch.float32, args.device)
    fp32_big = gemm_gflops(2048, 2048, 2048, torch.float32, args.device)
    bf16_small = gemm_gflops(4096, 300, 300, torch.bfloat16, args.device)
    bf16_big = gemm_gflops(2048, 2048, 2048, torch.bfloat16, args.device)
    print(f"GEMM GFLOP/s  fp32: {fp32_small:7.1f} (4096x300x300) {fp32_big:7.1f} (2048^3)   "
          f"bf16: {bf16_small:7.1f} (4096x300x300) {bf16_big:7.1f} (2048^3)")  # fmt: skip
    peaks = {"fp32": max(fp32_small, fp32_big), "bf16": max(bf16_small, bf16_big)}
    for env in [args.only] if args.only else ["cheetah-vel", "point-robot"]:
        full = env == "cheetah-vel" and not args.summary
        results = time_variants(env, args.steps, args.rounds, args.device, full)
        print(f"\n{env} paper shapes: s/step = median of {args.rounds} interleaved rounds of {args.steps} steps")
        print(f"{'variant':<38}{'s/step':>9}{'vs plain':>10}{'GFLOP':>8}{'GFLOP/s':>9}{'of peak':>9}")
        base = next(iter(results.values()))[0]
        for name, (sec, gflop) in results.items():
            prec = "bf16" if "bf16" in name else "fp32"
            print(f"{name:<38}{sec:9.4f}{base / sec:9.2f}x{gflop:8.2f}{gflop / sec:9.1f}"
                  f"{gflop / sec / peaks[prec]:8.0%} {prec}")  # fmt: skip
    if args.env_steps <= 0:
        return
    n = args.collect_envs
    print(f"collection (300x3 policy), env steps/s: {'1 env':>9}{f'{n} envs lockstep':>18}{'raw env':>10}"
          f"{'lockstep/raw':>14}")  # fmt: skip
    for env_id in ("cheetah-vel", "point-robot"):
        one, many, raw = collection_rate(env_id, args.env_steps, n)
        print(f"  {env_id:<38}{one:9.0f}{many:18.0f}{raw:10.0f}{many / raw:14.2f}")


if __name__ == "__main__":
    main()
