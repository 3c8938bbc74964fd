"""Reading run directories for figures and reports: metadata, grouping of seeds, the newest evaluation, and the
``nacre train`` command that reproduces a run.

Runs are one *group* (seeds of one experiment) when their algorithm, task distribution and config agree in every
field except :data:`IGNORED_FIELDS`: the seed, the budget (``num_iterations``: a run continued to a longer budget, or
resumed with a shorter one, stays with its seeds) and the bookkeeping that cannot change results (device,
checkpointing, how often and how many times the training log evaluates). ``nacre plot`` and ``nacre report``
group with :func:`group_key`.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np

#: config fields ignored when grouping runs: the seed, the budget and bookkeeping run options
IGNORED_FIELDS = frozenset({"seed", "num_iterations", "device", "checkpoint_every", "keep_checkpoints", "eval_every",
                            "num_evals"})  # fmt: skip


class RunReadError(ValueError):
    """A path is not a readable nacre run directory (the message names it)."""


def read_meta(run_dir: Path) -> dict[str, Any]:
    """The contents of ``RUN_DIR/config.json``; for runs written by an older nacre, ``algorithm`` defaults to
    ``pearl`` and config fields added since take their defaults (as when such a run is resumed)."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunReadError(f"{run_dir}: no such directory")
    if not run_dir.is_dir():
        raise RunReadError(f"{run_dir} is not a directory")
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunReadError(f"{run_dir} is not a nacre run directory (no config.json)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunReadError(f"{path} is unreadable: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict) or "env" not in meta["config"]:
        raise RunReadError(f"{path} is not a nacre run config (no 'config' with an 'env')")
    meta.setdefault("algorithm", "pearl")
    meta.setdefault("distribution", meta["config"]["env"])
    meta["config"] = {**_config_defaults(meta["algorithm"]), **meta["config"]}
    return meta


def _config_defaults(algorithm: str) -> dict[str, Any]:
    """Defaults of ``algorithm``'s config: fields added since a run was written take them, as on resume."""
    from nacre.algos.registry import ALGORITHMS, config_class

    if algorithm not in ALGORITHMS:
        return {}
    try:
        return config_class(algorithm)().to_dict()
    except Exception:  # noqa: BLE001 - a config class that cannot be built without arguments
        return {}


def group_key(meta: dict[str, Any]) -> str:
    """A string equal for runs of the same experiment: algorithm plus the config without :data:`IGNORED_FIELDS`."""
    cfg = {k: v for k, v in meta["config"].items() if k not in IGNORED_FIELDS}
    cfg["algorithm"] = meta.get("algorithm", "pearl")
    return json.dumps(cfg, sort_keys=True)


#: what ``nacre eval --name`` accepts: it becomes part of a file name
EVAL_NAME = re.compile(r"[A-Za-z0-9_.]{1,40}")


def named_eval_tag(name: str) -> str:
    """The file tag of ``nacre eval --name NAME``'s evaluations (``adaptation_iterN_<tag>.npz``); ``ValueError``
    naming the rule if ``name`` cannot be part of a file name."""
    if not EVAL_NAME.fullmatch(str(name)):
        raise ValueError(f"{name!r}: use 1-40 letters, digits, '_' or '.'")
    return f"test-{name}"


def eval_files(run_dir: Path, name: str | None = None) -> list[Path]:
    """Saved held-out-task evaluations, oldest first. Without ``name``: the unnamed ones (``nacre eval`` or end of
    training), by iteration, and at equal iterations ``nacre eval``'s ``_test`` after training's ``_final``. With
    ``name``: only ``nacre eval --name NAME``'s (``_test-NAME``), by iteration. Train-task evaluations excluded."""
    folder = Path(run_dir) / "eval"
    files = sorted(folder.glob("adaptation_iter*_*.npz")) if folder.is_dir() else []
    if name is not None:
        return [f for f in files if f.stem.endswith(f"_{named_eval_tag(name)}")]
    return [f for f in files if f.stem.endswith(("_test", "_final"))]


def latest_eval(run_dir: Path, name: str | None = None) -> dict[str, np.ndarray] | None:
    """Arrays of the newest saved adaptation evaluation of a run (``nacre eval`` or end of training; ``name``:
    ``nacre eval --name``'s)."""
    files = eval_files(run_dir, name)
    if not files:
        return None
    with np.load(files[-1]) as data:
        return {k: data[k] for k in data.files}


def recorded_command(meta: dict[str, Any]) -> str | None:
    """The command stored in ``config.json`` (key ``command``: a string or an argv list), if any."""
    command = meta.get("command")
    if isinstance(command, list) and command:
        return shlex.join(str(c) for c in command)
    if isinstance(command, str) and command.strip():
        return command.strip()
    return None


def git_revision(meta: dict[str, Any]) -> str:
    """The git revision stored in ``config.json`` (``git_revision`` or ``git_commit``), else ``unknown``."""
    for key in ("git_revision", "git_commit"):
        if isinstance(meta.get(key), str) and meta[key].strip():
            return meta[key].strip()
    return "unknown"


def _flag_value(value: Any) -> str:
    """``value`` as ``nacre train`` parses it (``true``/``false``, ``key=value,...`` for dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in value.items())
    return str(value)


def derive_command(meta: dict[str, Any]) -> str:
    """``nacre train ALGORITHM DIST --preset P [--field value ...] --seed S`` giving the config of ``meta``.

    The preset is the one of the run's algorithm whose config differs from the run's in the fewest fields; those
    fields become flags. Without any usable preset, the flags are the differences from the config defaults.
    """
    from nacre.algos.registry import ALGORITHMS, config_class, preset, preset_names

    algorithm = meta.get("algorithm", "pearl")
    cfg = dict(meta["config"])
    env = cfg["env"]
    words = ["nacre", "train", algorithm, env]
    if algorithm not in ALGORITHMS:
        return shlex.join([*words, "--seed", str(cfg.get("seed", 0))])
    config_cls = config_class(algorithm)
    candidates: list[tuple[int, int, str | None, dict[str, Any]]] = []
    for order, name in enumerate(preset_names(algorithm)):
        try:
            base = preset(algorithm, name, env).to_dict()
        except Exception:  # noqa: BLE001 - a preset that does not exist for this distribution
            continue
        diff = {k: v for k, v in cfg.items() if k not in ("env", "seed") and base.get(k, object()) != v}
        candidates.append((len(diff), order, name, diff))
    if not candidates:
        defaults = config_cls().to_dict()
        diff = {k: v for k, v in cfg.items() if k not in ("env", "seed") and defaults.get(k, object()) != v}
        candidates.append((len(diff), 0, None, diff))
    _, _, name, diff = min(candidates, key=lambda c: (c[0], c[1]))
    if name is not None:
        words += ["--preset", name]
    for key, value in diff.items():
        words += [f"--{key.replace('_', '-')}", _flag_value(value)]
    words += ["--seed", str(cfg.get("seed", 0))]
    return shlex.join(words)
