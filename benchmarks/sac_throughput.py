"""SAC gradient-step cost (the behaviour agent of ``nacre dataset generate``): plain step against the speed options.

Usage: ``python benchmarks/sac_throughput.py [--steps 100] [--rounds 5] [--threads 1] [--hidden 256]``

Prints updates per second of ``SACLearner.update`` on random data of Half-Cheetah's shapes (obs 20, action 6,
batch 256, two hidden layers) for the plain step (every speed option off), each option alone, all lossless options
(the default), and bf16 autocast where the hardware multiplies bf16 natively. The variants are timed in interleaved
rounds and the median taken, so the ratios hold on a loaded machine. The last line estimates the update cost of the
``fast`` dataset preset (100,000 transitions per task, one update per 4 env steps) per task.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nacre.algos.sac import SACConfig, SACLearner
from nacre.datasets.generate import PRESETS
from nacre.nn.precision import cpu_bf16_matmul_supported, resolve_precision

OBS, ACT = 20, 6
PLAIN = dict(q_ensemble="batched", inplace_relu=False, fused_linear_relu=False, fused_adam=False)
ALONE = {
    "split twin-Q": dict(q_ensemble="split"),
    "in-place ReLU": dict(inplace_relu=True),
    "fused linear+bias+ReLU (oneDNN)": dict(fused_linear_relu=True),
    "fused Adam": dict(fused_adam=True),
}


def variants() -> dict[str, dict]:
    out = {"plain (all options off)": PLAIN}
    out.update({name: {**PLAIN, **opt} for name, opt in ALONE.items()})
    out["all lossless options (default)"] = {}
    out["all but fused linear+ReLU"] = dict(fused_linear_relu=False)
    if cpu_bf16_matmul_supported():
        out["all options + bf16"] = dict(precision="bf16")
    return out


def make(hidden: int, batch: int, overrides: dict) -> tuple[SACLearner, dict[str, torch.Tensor]]:
    cfg = SACConfig(hidden_size=hidden, hidden_layers=2, batch_size=batch, **overrides)
    learner = SACLearner(cfg, OBS, ACT, init_gen=torch.Generator().manual_seed(0),
                         train_gen=torch.Generator().manual_seed(1))  # fmt: skip
    g = torch.Generator().manual_seed(2)
    data = {"obs": torch.randn(batch, OBS, generator=g), "actions": torch.rand(batch, ACT, generator=g) * 2 - 1,
            "rewards": torch.randn(batch, 1, generator=g), "next_obs": torch.randn(batch, OBS, generator=g),
            "terminated": torch.zeros(batch, 1)}  # fmt: skip
    return learner, data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100, help="updates per timed round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    runs = {name: make(args.hidden, args.batch, opt) for name, opt in variants().items()}
    for learner, data in runs.values():  # warm-up
        for _ in range(10):
            learner.update(data)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (learner, data) in runs.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                learner.update(data)
            times[name].append((time.perf_counter() - t0) / args.steps)
    base = float(np.median(times["plain (all options off)"]))
    print(f"SAC update, obs {OBS}, action {ACT}, hidden {args.hidden}x2, batch {args.batch}, "
          f"{args.threads} thread(s), torch {torch.__version__}, median of {args.rounds} interleaved rounds "
          f"x {args.steps} updates")  # fmt: skip
    print(f"{'variant':<34} {'ms/update':>10} {'updates/s':>10} {'vs plain':>9}")
    for name, ts in times.items():
        t = float(np.median(ts))
        print(f"{name:<34} {1e3 * t:>10.2f} {1 / t:>10.1f} {base / t:>8.2f}x")
    fast = PRESETS["fast"]
    t = float(np.median(times["all lossless options (default)"]))
    updates = fast.steps_per_task * fast.updates_per_step
    print(f"fast dataset preset: {updates:,.0f} updates per task -> {updates * t / 60:.1f} min of updates per task "
          f"per process at this speed")  # fmt: skip
    if not cpu_bf16_matmul_supported():
        print("bf16: not timed (this CPU has no bf16 matrix units; precision=auto runs fp32 here)")
    else:
        print(f"precision=auto resolves to {resolve_precision('auto', 'cpu')} here (bf16 only where its measured "
              "matmul speed pays; nacre/nn/precision.py)")  # fmt: skip


if __name__ == "__main__":
    main()
