"""PNG figures computed from run directories: learning curves and adaptation curves across seeds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nacre.logging import read_jsonl

_IGNORED = {"seed", "device", "checkpoint_every", "keep_checkpoints", "eval_every", "num_evals"}


def _group_key(run_dir: Path) -> tuple[str, dict]:
    meta = json.loads((run_dir / "config.json").read_text())
    cfg = {k: v for k, v in meta["config"].items() if k not in _IGNORED}
    return json.dumps(cfg, sort_keys=True), meta["config"]


def _auto_labels(configs: list[dict]) -> list[str]:
    if len(configs) == 1:
        return [str(configs[0]["env"])]
    varying = [k for k in configs[0] if k not in _IGNORED and len({json.dumps(c.get(k)) for c in configs}) > 1]
    return [", ".join(f"{k}={c[k]}" for k in varying[:3]) or str(c["env"]) for c in configs]


def latest_eval(run_dir: Path) -> dict[str, np.ndarray] | None:
    """Arrays of the newest saved adaptation evaluation of a run (``nacre eval`` or end of training)."""
    files = sorted((run_dir / "eval").glob("adaptation_iter*_*.npz")) if (run_dir / "eval").is_dir() else []
    preferred = [f for f in files if not f.stem.endswith("_train")]
    if not preferred:
        return None
    with np.load(preferred[-1]) as data:
        return {k: data[k] for k in data.files}


def plot_runs(run_dirs: Sequence[Path], out: Path, labels: Sequence[str] | None = None) -> None:
    """Learning curve (test return vs env steps) and adaptation curve (return per trajectory)."""
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
    sparse = any(c.get("sparse_rewards") for c in configs.values())
    fig, axes = plt.subplots(1, 3 if sparse else 2, figsize=(15 if sparse else 10, 4))
    for (_key, dirs), name in zip(groups.items(), names, strict=True):
        _learning_curve(axes[0], dirs, name)
        _adaptation_curve(axes[1], dirs, name, "returns")
        if sparse:
            _adaptation_curve(axes[2], dirs, name, "success")
    axes[0].set(xlabel="meta-training env steps", ylabel="test return after exploration", title="learning curve")
    axes[1].set(xlabel="trajectory k (after k-1 of context)", ylabel="return", title="adaptation curve")
    if sparse:
        axes[2].set(xlabel="trajectory k", ylabel="success rate", title="reached goal", ylim=(-0.02, 1.02))
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _learning_curve(ax, dirs: list[Path], name: str) -> None:
    curves = []
    for rd in dirs:
        log = rd / "progress.jsonl"
        rows = [r for r in read_jsonl(log) if "returns/test" in r] if log.exists() else []
        if rows:
            curves.append((np.array([r["time/env_steps"] for r in rows]), np.array([r["returns/test"] for r in rows])))
    if not curves:
        return
    n = min(len(c[0]) for c in curves)
    x = np.mean([c[0][:n] for c in curves], axis=0)
    y = np.stack([c[1][:n] for c in curves])
    ax.plot(x, y.mean(0), label=f"{name} ({len(curves)} seeds)")
    if len(curves) > 1:
        ax.fill_between(x, y.min(0), y.max(0), alpha=0.2)


def _adaptation_curve(ax, dirs: list[Path], name: str, field: str) -> None:
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
    ax.plot(k, y.mean(0), marker="o", ms=3, label=f"{name} ({len(per_seed)} seeds)")
    if len(per_seed) > 1:
        ax.fill_between(k, y.min(0), y.max(0), alpha=0.2)
