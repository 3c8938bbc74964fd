"""Build time and memory of Meta-World ML10 / ML45 in nacre: the benchmark's task draw, and environments for the
train tasks one per task versus shared per class (nacre.envs.pool, as PEARL's trainer uses them: batches with at
most one task per class, environments switched with set_task).

    python benchmarks/metaworld_build.py                      # ML10 and ML45
    python benchmarks/metaworld_build.py --benchmarks ML10 --naive-tasks 30

Needs the metaworld extra (pip install -e ".[metaworld]"). Every measurement runs in a fresh Python process and
reports the growth of that process's resident set (RSS) over the step measured, so freed memory of an earlier step
cannot hide in it. "Shared" resets every environment once per task of the subset (the first pass builds the
environments, the second only switches tasks), for 5, 25 and 50 tasks per class: its memory must not grow with
the tasks per class. "One per task" holds ``--naive-tasks`` environments at once and is extrapolated linearly.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _part(bench: str, part: str, per_class: int, naive: int, seed: int) -> dict:
    """One measurement in this (fresh) process."""
    from nacre.envs import make_distribution
    from nacre.envs import metaworld as nmw
    from nacre.envs.pool import EnvPool, batches_by_key

    nmw.import_metaworld()
    dist = make_distribution(bench.lower())
    gc.collect()
    rss0, t0 = rss_mib(), time.perf_counter()
    train, _ = nmw.benchmark_tasks(bench, seed)
    if part == "draw":
        return {"seconds": time.perf_counter() - t0, "mib": rss_mib() - rss0, "tasks": len(train),
                "classes": len({t["env_name"] for t in train})}  # fmt: skip
    by_class: dict[str, list[dict]] = {}
    for t in train:
        by_class.setdefault(t["env_name"], []).append(t)
    if part == "shared":
        tasks = [t for ts in by_class.values() for t in ts[:per_class]]
        pool = EnvPool(dist)
        out: dict = {"tasks": len(tasks)}
        gc.collect()
        rss0 = rss_mib()
        for label in ("build", "reuse"):
            t0 = time.perf_counter()
            for batch in batches_by_key(dist, tasks, per_key=1):
                for env in pool.envs([tasks[i] for i in batch]):
                    env.reset()
            out[f"{label}_seconds"] = time.perf_counter() - t0
        out.update(envs=pool.num_envs, mib=rss_mib() - rss0)
        return out
    classes = list(by_class)
    sample = [by_class[classes[i % len(classes)]][i // len(classes)] for i in range(naive)]
    gc.collect()
    rss0, t0 = rss_mib(), time.perf_counter()
    held = []
    for task in sample:
        env = dist.make_env(task)
        env.reset()
        held.append(env)
    return {"seconds": time.perf_counter() - t0, "mib": rss_mib() - rss0, "envs": len(held), "tasks": len(train)}


def _run(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--part", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", nargs="+", default=["ML10", "ML45"], choices=["ML10", "ML45"])
    parser.add_argument("--naive-tasks", type=int, default=50, help="environments held at once, one per task")
    parser.add_argument("--per-class", type=int, nargs="+", default=[5, 25, 50], help="tasks per class (shared)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", nargs=5, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        bench, part, per_class, naive, seed = args.part
        print(json.dumps(_part(bench, part, int(per_class), int(naive), int(seed))))
        return

    versions = {n: importlib.metadata.version(n) for n in ("metaworld", "mujoco", "torch", "numpy", "gymnasium")}
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + f", {os.cpu_count()} CPUs")  # fmt: skip
    for bench in args.benchmarks:
        common = (str(args.naive_tasks), str(args.seed))
        draw = _run(bench, "draw", "0", *common)
        print(f"\n{bench}: {draw['tasks']} train tasks in {draw['classes']} classes")
        print(f"  benchmark task draw (metaworld.{bench}; once per run, then tasks.json): {draw['seconds']:.1f} s, "
              f"RSS +{draw['mib']:.0f} MiB")  # fmt: skip
        for per_class in args.per_class:
            r = _run(bench, "shared", str(per_class), *common)
            print(f"  shared per class, {per_class:2d} tasks per class ({r['tasks']} tasks): {r['envs']} environments, "
                  f"RSS +{r['mib']:.0f} MiB; first reset of every task {r['build_seconds']:.1f} s (builds), "
                  f"second {r['reuse_seconds']:.1f} s (set_task only)")  # fmt: skip
        r = _run(bench, "naive", "0", *common)
        n = r["envs"]
        print(f"  one environment per task, {n} held: {r['seconds']:.1f} s, RSS +{r['mib']:.0f} MiB "
              f"({r['seconds'] / n:.2f} s and {r['mib'] / n:.1f} MiB each) -> all {r['tasks']} train tasks: "
              f"~{r['seconds'] / n * r['tasks']:.0f} s, ~{r['mib'] / n * r['tasks'] / 1024:.1f} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
