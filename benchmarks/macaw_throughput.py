"""MACAW outer-step cost at the paper's shapes, both inner-loop routes, in one run.

Usage: ``python benchmarks/macaw_throughput.py [--steps 10] [--threads N] [--routes structured plain]
[--first-order] [--no-weight-transform]``

Times ``MacawLearner.update`` (adapt V and policy on D_tr, outer losses on D_ts, backward, four Adam steps,
target update) with the ``paper`` preset: 5 tasks, inner and outer batches 256, policy and value 3x100 with
weight-transform layers (latent 100), advantage head 32, one second-order inner step, obs 20, act 6 (cheetah).
Prints seconds per step (median of ``--steps`` after warm-up) as wall time and as process CPU time (with one
thread the CPU time approximates the wall time of an idle machine when other jobs share the cores), the
meta-parameter count, the ratio of the routes and the difference of their first losses (same weights, same
batches). The reference implementation takes ~0.43 s/step on this machine kind (as reported in the issue).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from nacre.algos.macaw import MacawBatch, MacawLearner, preset
from nacre.algos.macaw.networks import count

OBS, ACT = 20, 6


def random_batch(gen: torch.Generator, tasks: int, rows: int) -> MacawBatch:
    return MacawBatch(
        torch.randn(tasks, rows, OBS, generator=gen), torch.rand(tasks, rows, ACT, generator=gen) * 2 - 1,
        torch.randn(tasks, rows, 1, generator=gen) * 50, torch.randn(tasks, rows, OBS, generator=gen),
        torch.rand(tasks, rows, 1, generator=gen), (torch.rand(tasks, rows, 1, generator=gen) < 0.05).float(),
    )  # fmt: skip


def time_route(route: str, steps: int, **overrides) -> tuple[float, float, float, MacawLearner]:
    """(median wall s/step, median process-CPU s/step, first loss) for ``route`` on fixed random batches."""
    cfg = preset("paper", inner_route=route, **overrides)
    learner = MacawLearner(cfg, OBS, ACT, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    tr = random_batch(gen, cfg.tasks_per_step, cfg.inner_batch_size)
    ts = random_batch(gen, cfg.tasks_per_step, cfg.outer_batch_size)
    loss = learner.meta_loss(tr, ts)[0].item()
    for _ in range(2):
        learner.update(tr, ts)
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        learner.update(tr, ts)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), loss, learner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--routes", nargs="+", default=["structured", "plain"], choices=["structured", "plain"])
    parser.add_argument("--first-order", action="store_true")
    parser.add_argument("--no-weight-transform", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = dict(second_order=not args.first_order, weight_transform=not args.no_weight_transform)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, settings {overrides}")
    results = {}
    for route in args.routes:
        sec, cpu, loss, learner = time_route(route, args.steps, **overrides)
        results[route] = (sec, cpu, loss)
        n = count(learner.specs.policy) + count(learner.specs.value)
        print(f"{route:>10}: {sec:.4f} s/step wall, {cpu:.4f} s/step process CPU  first loss {loss:.6f}  "
              f"meta-params {n:,}")  # fmt: skip
    if len(results) == 2:
        (s_fast, c_fast, l_fast), (s_plain, c_plain, l_plain) = results["structured"], results["plain"]
        print(f"structured / plain: {s_plain / s_fast:.1f}x faster (wall), {c_plain / c_fast:.1f}x (CPU); "
              f"|loss difference| {abs(l_fast - l_plain):.2e}")  # fmt: skip


if __name__ == "__main__":
    main()
