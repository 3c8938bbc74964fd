"""Build time and memory of Meta-World ML10 / ML45 in nacre: the benchmark's task draw, and environments for every
train task one per task versus shared per class (nacre.envs.pool.EnvPool, what PEARL's trainer uses).

    python benchmarks/metaworld_build.py                      # ML10 and ML45
    python benchmarks/metaworld_build.py --benchmarks ML10 --naive-tasks 30

Needs the metaworld extra (pip install -e ".[metaworld]"). Memory is the process's resident set (RSS) before and
after each step; the one-environment-per-task figures are measured on ``--naive-tasks`` environments held at once
(spread over the classes) and extrapolated linearly to all train tasks.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import os
import platform
import time


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", nargs="+", default=["ML10", "ML45"], choices=["ML10", "ML45"])
    parser.add_argument("--naive-tasks", type=int, default=50, help="environments held at once, one per task")
    parser.add_argument("--batch", type=int, default=32, help="tasks stepped side by side (PEARL's shared batch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from nacre.envs import make_distribution
    from nacre.envs import metaworld as nmw
    from nacre.envs.pool import EnvPool

    versions = {n: importlib.metadata.version(n) for n in ("metaworld", "mujoco", "numpy", "gymnasium")}
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + f", {os.cpu_count()} CPUs")  # fmt: skip
    nmw.import_metaworld()
    for bench in args.benchmarks:
        dist = make_distribution(bench.lower())
        gc.collect()
        start_rss, start = rss_mib(), time.perf_counter()
        train, _ = nmw.benchmark_tasks(bench, args.seed)
        build_s, build_mib = time.perf_counter() - start, rss_mib() - start_rss
        classes = sorted({t["env_name"] for t in train})
        print(f"\n{bench}: {len(train)} train tasks in {len(classes)} classes")
        print(f"  benchmark task draw (metaworld.{bench}, once per run): {build_s:.1f} s, RSS +{build_mib:.0f} MiB")

        # shared: every train task, in batches of --batch, through one pool (two passes: build, then reuse)
        pool = EnvPool(dist)
        for label in ("first pass (builds)", "second pass (reuse)"):
            gc.collect()
            rss0, t0 = rss_mib(), time.perf_counter()
            for i in range(0, len(train), args.batch):
                for env in pool.envs(list(train[i : i + args.batch])):
                    env.reset()
            print(f"  shared per class, all {len(train)} tasks, {label}: {time.perf_counter() - t0:.1f} s, "
                  f"{pool.num_envs} environments held, RSS +{rss_mib() - rss0:.0f} MiB")  # fmt: skip
        pool.close()
        del pool
        gc.collect()

        # one environment per task: --naive-tasks of them held at once, spread over the classes
        per_class = {c: [t for t in train if t["env_name"] == c] for c in classes}
        sample = [per_class[classes[i % len(classes)]][i // len(classes)] for i in range(args.naive_tasks)]
        rss0, t0 = rss_mib(), time.perf_counter()
        held = []
        for task in sample:
            env = dist.make_env(task)
            env.reset()
            held.append(env)
        seconds, mib = time.perf_counter() - t0, rss_mib() - rss0
        n = len(held)
        print(f"  one environment per task, {n} held: {seconds:.1f} s, RSS +{mib:.0f} MiB "
              f"({seconds / n:.2f} s and {mib / n:.1f} MiB each) -> all {len(train)} tasks: "
              f"~{seconds / n * len(train):.0f} s, ~{mib / n * len(train) / 1024:.1f} GiB")  # fmt: skip
        for env in held:
            env.close()
        del held
        gc.collect()


if __name__ == "__main__":
    main()
