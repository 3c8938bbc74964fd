"""PNG figures computed from run directories: learning curves and adaptation curves across seeds.

Online runs (PEARL): test return after exploration (solid) and with z from the prior (dashed) against
meta-training env steps; the adaptation curve is the mean return of trajectory k over tasks and seeds.
Offline runs (MACAW, offline PEARL, MT+FT): test return after adaptation (solid) and un-adapted (dashed)
against outer/gradient steps (they take no env steps); the adaptation curve is the median return against
the number of test-time adaptation steps with the 25-75 percentile band over tasks, runs and seeds.
On-policy runs (MAML-TRPO, ProMP) are online (env-step axis, on one figure with PEARL runs) and adapt by
test-time steps (a panel of their own, drawn like the offline one). Where the tasks report success (sparse
navigation, Meta-World's ``info["success"]``) a panel shows success per trajectory (or per evaluated step count),
and runs that log ``success/test`` also get the test success rate against env steps (Meta-World's metric) or,
offline, against outer steps. An adaptation panel with
no saved evaluation says so instead of staying blank.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nacre.algos.onpolicy import ON_POLICY_ALGORITHMS
from nacre.evaluation.offline_adaptation import nan_quantiles
from nacre.evaluation.runs import IGNORED_FIELDS as _IGNORED
from nacre.evaluation.runs import group_key, latest_eval, read_meta
from nacre.logging import read_jsonl

__all__ = ["latest_eval", "plot_runs"]


def _group_key(run_dir: Path) -> tuple[str, dict]:
    meta = read_meta(run_dir)
    return group_key(meta), {**meta["config"], "algorithm": meta["algorithm"]}


def _auto_labels(configs: list[dict]) -> list[str]:
    if len(configs) == 1:
        return [f"{configs[0]['algorithm']} {configs[0]['env']}"]
    shared = set.intersection(*(set(c) for c in configs)) - _IGNORED
    varying = [k for k in configs[0] if k in shared and len({json.dumps(c.get(k)) for c in configs}) > 1]
    return [", ".join(f"{k}={c[k]}" for k in varying[:3]) or str(c["env"]) for c in configs]


def plot_runs(run_dirs: Sequence[Path], out: Path, labels: Sequence[str] | None = None, log_x: bool = False) -> None:
    """Learning curve (test return vs env steps; ``log_x``: on a log axis) and adaptation curve (return per
    trajectory or per test-time step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[Path]] = {}
    configs: dict[str, dict] = {}
    for rd in map(Path, run_dirs):
        if not (rd / "config.json").is_file():
            raise FileNotFoundError(f"{rd} is not a nacre run directory (no config.json)")
        key, cfg = _group_key(rd)
        groups.setdefault(key, []).append(rd)
        configs.setdefault(key, cfg)
    names = list(labels) if labels else _auto_labels(list(configs.values()))
    if len(names) != len(groups):
        raise ValueError(f"got {len(names)} labels for {len(groups)} groups of runs")
    # on-policy meta-learners (maml-trpo, promp) take env steps like PEARL and adapt by test-time steps like the
    # offline methods: their learning curves share PEARL's env-step axis, their adaptation curves the steps axis
    online = {c["algorithm"] == "pearl" or c["algorithm"] in ON_POLICY_ALGORITHMS for c in configs.values()}
    if len(online) > 1:
        raise ValueError("online (env steps) and offline runs have different axes: plot them separately")
    offline = online == {False}
    by_step = [c["algorithm"] != "pearl" for c in configs.values()]  # adaptation per test-time step
    # success is drawn wherever the task reports it: sparse navigation (goal reached) and families whose episodes
    # report info["success"] (Meta-World), whose learning curve is then also success against env steps
    logged = any(_logs(rd, "success/test") for dirs in groups.values() for rd in dirs)
    success = logged or any(c.get("sparse_rewards") for c in configs.values())
    panels = ["learning"] + (["learning_success"] if logged else [])
    panels += (["trajectories"] if not all(by_step) else []) + (["steps"] if any(by_step) else [])
    panels += ["success"] if success else []
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    ax = dict(zip(panels, axes, strict=True))
    for i, ((_key, dirs), name, step) in enumerate(zip(groups.items(), names, by_step, strict=True)):
        color = f"C{i % 10}"  # one colour per group in every panel
        x_key = "time/grad_steps" if offline else "time/env_steps"
        _learning_curve(ax["learning"], dirs, name, x_key, color)
        if logged:
            _learning_curve(ax["learning_success"], dirs, name, x_key, color, "success/test")
        if step:
            _offline_adaptation_curve(ax["steps"], dirs, name, color)
        else:
            _adaptation_curve(ax["trajectories"], dirs, name, "returns", color)
        if success:
            _adaptation_curve(ax["success"], dirs, name, "success", color)
    if offline:
        ax["learning"].set(
            xlabel="meta-training outer/gradient steps (no env steps)",
            ylabel="test return: adapted (solid), un-adapted (dashed)",
            title="learning curve",
        )
        ax["steps"].set(
            xlabel="test-time adaptation steps", ylabel="return: median, 25-75%", title="offline adaptation"
        )
    else:
        prior = "prior z / un-adapted" if any(by_step) else "prior z"
        ax["learning"].set(
            xlabel="meta-training env steps",
            ylabel=f"test return: adapted (solid), {prior} (dashed)",
            title="learning curve",
        )
        if "trajectories" in ax:
            ax["trajectories"].set(
                xlabel="trajectory k (after k-1 of context)", ylabel="return", title="adaptation curve"
            )
        if "steps" in ax:
            ax["steps"].set(
                xlabel="test-time adaptation steps",
                ylabel="return: median, 25-75%",
                title="adaptation by gradient steps",
            )
    if "learning_success" in ax:
        x_label = "meta-training outer/gradient steps" if offline else "meta-training env steps"
        ax["learning_success"].set(xlabel=x_label, ylabel="test success rate (adapted)", title="success",
                                   ylim=(-0.02, 1.02))  # fmt: skip
    if "success" in ax:
        ax["success"].set(
            xlabel="trajectory k" if not all(by_step) else "evaluated step count (column)",
            ylabel="success rate",
            title="success per trajectory",
            ylim=(-0.02, 1.02),
        )
    from matplotlib.ticker import EngFormatter, MaxNLocator

    learning = [ax[p] for p in ("learning", "learning_success") if p in ax]
    for each in learning:
        if log_x:
            each.set_xscale("log")
        else:
            each.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1.5M: readable step counts
    for panel, each in ax.items():
        if each not in learning:
            each.xaxis.set_major_locator(MaxNLocator(integer=True))
        each.grid(alpha=0.3)
        if each.lines:
            each.legend(fontsize=8)
        elif panel not in ("learning", "learning_success"):  # adaptation panels draw saved evaluations only
            each.text(0.5, 0.5, "no saved evaluation yet:\nrun nacre eval RUN", ha="center", va="center",
                      transform=each.transAxes, color="0.4")  # fmt: skip
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _logs(run_dir: Path, key: str) -> bool:
    """Whether any row of the run's progress.jsonl holds ``key``."""
    log = run_dir / "progress.jsonl"
    return log.exists() and any(key in r for r in read_jsonl(log))


def _learning_curve(ax, dirs: list[Path], name: str, x_key: str, color: str | None = None,
                    y_key: str = "returns/test") -> None:  # fmt: skip
    """``y_key`` (dashed: ``y_key + "_prior_only"`` where logged) against ``x_key``, mean and min-max over seeds."""
    curves = []
    for rd in dirs:
        log = rd / "progress.jsonl"
        rows = [r for r in read_jsonl(log) if y_key in r] if log.exists() else []
        if rows:
            prior = [r.get(f"{y_key}_prior_only", np.nan) for r in rows]
            curves.append((np.array([r[x_key] for r in rows]), np.array([r[y_key] for r in rows], dtype=float),
                           np.array(prior, dtype=float)))  # fmt: skip
    if not curves:
        return
    n = min(len(c[0]) for c in curves)
    x = np.mean([c[0][:n] for c in curves], axis=0)
    y = np.stack([c[1][:n] for c in curves])
    (line,) = ax.plot(x, y.mean(0), label=f"{name} ({_seeds(len(curves))})", color=color)
    if len(curves) > 1:
        ax.fill_between(x, y.min(0), y.max(0), alpha=0.2, color=line.get_color())
    prior = np.stack([c[2][:n] for c in curves])
    if np.isfinite(prior).any():
        ax.plot(x, np.nanmean(prior, axis=0), ls="--", color=line.get_color())


def _adaptation_curve(ax, dirs: list[Path], name: str, field: str, color: str | None = None) -> None:
    per_seed = []
    for rd in dirs:
        data = latest_eval(rd)
        if data is not None:
            per_seed.append(data[field].astype(float).mean(axis=(0, 1)))
    if not per_seed:
        return
    n = min(len(c) for c in per_seed)
    y = np.stack([c[:n] for c in per_seed])
    k = np.arange(1, n + 1)
    (line,) = ax.plot(k, y.mean(0), marker="o", ms=3, label=f"{name} ({_seeds(len(per_seed))})", color=color)
    if len(per_seed) > 1:
        ax.fill_between(k, y.min(0), y.max(0), alpha=0.2, color=line.get_color())


def _offline_adaptation_curve(ax, dirs: list[Path], name: str, color: str | None = None) -> None:
    pooled, steps = [], None
    for rd in dirs:
        data = latest_eval(rd)
        if data is not None and "steps" in data:
            if steps is not None and not np.array_equal(steps, data["steps"]):
                raise ValueError(f"{rd}: its last evaluation used other adaptation steps than the other seeds")
            steps = data["steps"]
            pooled.append(data["returns"].reshape(-1, len(steps)))
    if steps is None:
        return
    values = np.concatenate(pooled)
    q25, med, q75 = nan_quantiles(values)  # diverged adaptations (NaN) are left out
    (line,) = ax.plot(steps, med, marker="o", ms=3, label=f"{name} ({_seeds(len(pooled))})", color=color)
    ax.fill_between(steps, q25, q75, alpha=0.2, color=line.get_color())
