"""Peak memory after PEARL's initial data collection: growable buffers vs the reference's pre-allocation.

Usage: ``python benchmarks/buffer_memory.py [--env ant-goal] [--preset paper]``

Builds the trainer for the preset (150 train tasks for ant-goal's paper preset), runs only the initial
collection (``num_initial_steps`` per train task into both buffers), and prints the process's peak RSS,
the bytes the buffers allocated, and what two pre-allocated buffers of ``replay_buffer_size`` rows per
task (the reference code's layout) would need for the same tasks.
"""

from __future__ import annotations

import argparse
import resource
import time

from nacre.algos.pearl import PearlTrainer, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ant-goal")
    parser.add_argument("--preset", default="paper")
    args = parser.parse_args()
    cfg = preset(args.preset, args.env)
    trainer = PearlTrainer(cfg)
    start = time.perf_counter()
    trajs = trainer.collector.initial(list(range(cfg.n_train_tasks)), trainer.seeds.collect, trainer.seeds.buffer)
    seconds = time.perf_counter() - start
    steps = sum(len(t) for t in trajs)
    allocated = trainer.rl_buffer.nbytes() + trainer.enc_buffer.nbytes()
    reference = 2 * cfg.n_train_tasks * cfg.replay_buffer_size * trainer.rl_buffer.row_bytes
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{args.env} {args.preset}: {cfg.n_train_tasks} train tasks, {steps:,} env steps in {seconds:.0f} s")
    print(f"peak RSS {peak / 2**20:,.0f} MiB; buffers allocated {allocated / 2**20:,.0f} MiB "
          f"for {trainer.rl_buffer.num_transitions():,} RL transitions")  # fmt: skip
    print(f"two pre-allocated buffers of {cfg.replay_buffer_size:,} rows per task would need "
          f"{reference / 2**30:,.0f} GiB ({reference / allocated:,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
