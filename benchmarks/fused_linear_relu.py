"""When the fused oneDNN linear+bias+ReLU pays: one layer's forward and backward, fused against matmul then ReLU.

Usage: ``python benchmarks/fused_linear_relu.py [--threads 1] [--rounds 5] [--reps 50] [--force]``

For each width (256: SAC, 300: PEARL) and number of rows (batch rows through the layer), times
``linear_relu(x, w, b).sum().backward()`` with the fused kernel and without it, in interleaved rounds, and prints
the median ratio (above 1: the fused kernel is faster). nacre uses the fused kernel only on CPUs with AVX-512 and
for at least ``FUSED_MIN_ROWS`` rows (``nacre/nn/mlp.py``); ``--force`` times the fused kernel at every size and on
every CPU, which is how the threshold was chosen.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nacre.nn import mlp
from nacre.nn.precision import cpuinfo_field

ROWS = (64, 256, 1024, 2048, 4096, 8192)
WIDTHS = (256, 300)


def seconds_per_rep(rows: int, width: int, fused: bool, reps: int) -> float:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, width, generator=g, requires_grad=True)
    w = torch.randn(width, width, generator=g, requires_grad=True)
    b = torch.zeros(width, requires_grad=True)
    for _ in range(5):  # warm-up: oneDNN builds its primitive on the first call
        mlp.linear_relu(x, w, b, fused, False).sum().backward()
    start = time.perf_counter()
    for _ in range(reps):
        mlp.linear_relu(x, w, b, fused, False).sum().backward()
    return (time.perf_counter() - start) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median ratio is reported")
    ap.add_argument("--reps", type=int, default=50, help="forward+backward passes per timing")
    ap.add_argument("--force", action="store_true", help="use the fused kernel at every size and on every CPU")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not mlp._fused_linear_relu_available():
        raise SystemExit("this torch build has no oneDNN linear_pointwise kernel: nothing to compare")
    if args.force:
        mlp._fused_linear_relu_pays = lambda rows: True  # type: ignore[assignment]
    print(f"CPU: {cpuinfo_field('model name')}; torch {torch.__version__}, {args.threads} thread(s); "
          f"FUSED_MIN_ROWS = {mlp.FUSED_MIN_ROWS}; {'forced' if args.force else 'as nacre decides'}")  # fmt: skip
    print(f"{'width':>5} {'rows':>6} {'unfused ms':>11} {'fused ms':>9} {'fused speedup':>14}")
    for width in WIDTHS:
        for rows in ROWS:
            plain, fused = [], []
            for _ in range(args.rounds):
                plain.append(seconds_per_rep(rows, width, False, args.reps))
                fused.append(seconds_per_rep(rows, width, True, args.reps))
            ratio = float(np.median(np.array(plain) / np.array(fused)))
            print(f"{width:>5} {rows:>6} {1e3 * np.median(plain):>11.3f} {1e3 * np.median(fused):>9.3f} "
                  f"{ratio:>13.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
