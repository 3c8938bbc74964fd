"""On-disk offline datasets: one Minari dataset (HDF5 backend) per task under one root with a manifest.

Layout (see ``docs/datasets.md``)::

    ROOT/manifest.json            format version, nacre version, distribution id, tasks, splits, generation
                                  config, observation/action spaces, finished {index: checksum (sha256), counts}
    ROOT/task_007/metadata.json   Minari metadata (spaces, dataset id) + "nacre" block (task, checksum, stats)
    ROOT/task_007/main_data.hdf5  Minari episodes: episode_k/{observations [L+1, O], actions, rewards,
                                  terminations, truncations, infos/{sparse_reward, success}}, attr behaviour_step

A task is written to a hidden temporary sibling directory and renamed into place, then recorded as finished
in the manifest, so a killed writer leaves no half task: a task counts only once the manifest says so.
Everything is created from explicit paths (no ``MINARI_DATASETS_PATH``, no network).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from nacre import __version__
from nacre.envs.base import task_to_json
from nacre.training.checkpoint import atomic_write_bytes, short_reason
from nacre.types import Trajectory

FORMAT = "nacre-offline-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_FILE = "main_data.hdf5"  # Minari's HDF5 file name inside a dataset directory
_LOCK = ".manifest.lock"
_TMP_PREFIX = ".tmp-"
#: keys of the per-task "nacre" metadata block that a caller's ``metadata`` may not override
_RESERVED = frozenset(
    {"format", "format_version", "nacre_version", "distribution_id", "task_index", "task", "checksum", "stats",
     "episodes", "transitions", "minari_version", "dataset_id"}
)  # fmt: skip


class DatasetError(ValueError):
    """A missing, corrupt, inconsistent or mismatched offline dataset (the message is one line)."""


def task_dir_name(task_index: int) -> str:
    return f"task_{task_index:03d}"


def absolute_root(root: str | Path) -> Path:
    """``root`` as an absolute path: every public function takes the root through this, because Minari
    joins a relative dataset path onto itself (``data/x/data/x/main_data.hdf5``)."""
    return Path(root).resolve()


def task_dir(root: Path, task_index: int) -> Path:
    """Directory of one task's Minari dataset."""
    return absolute_root(root) / task_dir_name(task_index)


def _json_normal(obj: Any) -> Any:
    """``obj`` as plain JSON (tuples become lists, numpy scalars floats), for comparisons and storage."""
    try:
        return json.loads(json.dumps(task_to_json(obj) if isinstance(obj, Mapping) else obj, allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"not JSON-serialisable: {exc}") from None


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode()


@contextlib.contextmanager
def _manifest_lock(root: Path) -> Iterator[None]:
    """Exclusive lock for read-modify-write of the manifest (several writer processes may share a root)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / _LOCK, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _first_difference(a: Any, b: Any, path: str) -> str | None:
    """Where two JSON values differ, e.g. ``"config.seed: 0 != 1"`` (None if equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                side = "missing in the existing manifest" if key not in a else "missing in the new one"
                return f"{path}.{key} {side}"
            found = _first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} has {len(a)} entries in the existing manifest, {len(b)} in the new one"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: existing {json.dumps(a)} != new {json.dumps(b)}"


# ---------------------------------------------------------------------- manifest
def init_dataset_root(
    root: Path, *, distribution_id: str, tasks: Sequence[Mapping], splits: Mapping[str, Sequence[int]],
    config: Mapping[str, Any],
) -> None:  # fmt: skip
    """Create ``root/manifest.json``; on an existing root accept only an identical description (a resume)."""
    root = absolute_root(root)
    tasks_json = [_json_normal(dict(t)) for t in tasks]
    splits_json = {str(name): [int(i) for i in idx] for name, idx in splits.items()}
    config_json = _json_normal(dict(config))
    for name, idx in splits_json.items():
        bad = [i for i in idx if not 0 <= i < len(tasks_json)]
        if bad:
            raise DatasetError(f"split {name!r} names task indices {bad} outside 0..{len(tasks_json) - 1}")
    if not tasks_json:
        raise DatasetError("a dataset needs at least one task")
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root} is a file, not a dataset root: choose another one")
    if not (root / MANIFEST).exists() and any((root / name).exists() for name in ("config.json", "progress.jsonl")):
        raise DatasetError(f"{root} holds a nacre training run (config.json, progress.jsonl), not a dataset: "
                           "choose another dataset root")  # fmt: skip
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the dataset root {root}: {exc.strerror or exc}") from None
    with _manifest_lock(root):
        if (root / MANIFEST).exists():
            old = read_manifest(root)
            if old["distribution_id"] != distribution_id:
                raise DatasetError(
                    f"{root} holds distribution {old['distribution_id']!r}, not {distribution_id!r}: "
                    "use another dataset root"
                )
            for key, new in (("tasks", tasks_json), ("config", config_json), ("splits", splits_json)):
                diff = _first_difference(old[key], new, key)
                if diff:
                    hint = "use another dataset root"
                    if diff.startswith("config.sac.precision"):  # precision auto resolved differently here
                        hint = f"continue it with --precision {old['config']['sac']['precision']}, or {hint}"
                    raise DatasetError(f"{root} was created with different {key} ({diff}): {hint}")
            return
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "nacre_version": __version__,
            "distribution_id": distribution_id, "tasks": tasks_json, "splits": splits_json, "config": config_json,
            "spaces": None, "finished": {},
        }  # fmt: skip
        atomic_write_bytes(root / MANIFEST, _dump(manifest))


def read_manifest(root: Path) -> dict:
    """The manifest of a dataset root (``DatasetError`` if missing, corrupt or of another format version)."""
    root = absolute_root(root)
    path = root / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{root} is not a nacre dataset (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path} is corrupt ({str(exc).splitlines()[0][:100]})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a nacre dataset manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path} has dataset format version {manifest.get('format_version')}, "
            f"this nacre reads version {FORMAT_VERSION}"
        )
    missing = [k for k in ("distribution_id", "tasks", "splits", "config", "finished") if k not in manifest]
    if missing:
        raise DatasetError(f"{path} is corrupt (no {', '.join(missing)})")
    return manifest


def finished_tasks(root: Path) -> set[int]:
    """Indices of the tasks recorded as finished in the manifest whose directory exists."""
    root = absolute_root(root)
    manifest = read_manifest(root)
    return {int(i) for i in manifest["finished"] if (task_dir(root, int(i)) / DATA_FILE).is_file()}


def _split_names(manifest: dict, task_index: int) -> list[str]:
    return [name for name, idx in manifest["splits"].items() if task_index in idx]


# ---------------------------------------------------------------------- writing
def _space_record(space: gym.spaces.Box) -> dict[str, Any]:
    return {"shape": [int(s) for s in space.shape], "dtype": str(space.dtype)}


def _episode_arrays(k: int, ep: Trajectory, obs_dim: int, act_dim: int) -> dict[str, np.ndarray]:
    """Validated float32/bool arrays of one episode, observations as Minari's ``L + 1`` rows."""
    n = len(ep.rewards)
    if n == 0:
        raise DatasetError(f"episode {k} is empty")
    f32 = lambda x: np.asarray(x, dtype=np.float32)
    obs, next_obs, actions = f32(ep.obs), f32(ep.next_obs), f32(ep.actions)
    arrays = {
        "rewards": f32(ep.rewards).reshape(-1), "sparse_reward": f32(ep.sparse_rewards).reshape(-1),
        "terminations": np.asarray(ep.terminated, dtype=bool).reshape(-1),
        "truncations": np.asarray(ep.truncated, dtype=bool).reshape(-1),
        "success": np.asarray(ep.success, dtype=bool).reshape(-1),
    }  # fmt: skip
    for name, arr, dim in (("obs", obs, obs_dim), ("next_obs", next_obs, obs_dim), ("actions", actions, act_dim)):
        if arr.shape != (n, dim):
            raise DatasetError(f"episode {k}: {name} has shape {arr.shape}, expected ({n}, {dim})")
    for name, arr in arrays.items():
        if arr.shape != (n,):
            raise DatasetError(f"episode {k}: {name} has shape {arr.shape}, expected ({n},)")
    for name, arr in (("obs", obs), ("next_obs", next_obs), ("actions", actions), ("rewards", arrays["rewards"]),
                      ("sparse_rewards", arrays["sparse_reward"])):  # fmt: skip
        if not np.isfinite(arr).all():
            raise DatasetError(f"episode {k}: {name} has non-finite values")
    if np.abs(actions).max() > 1.0:
        raise DatasetError(f"episode {k}: actions outside [-1, 1] (store the agent's normalised actions)")
    if arrays["terminations"][:-1].any() or arrays["truncations"][:-1].any():
        raise DatasetError(f"episode {k}: terminated/truncated set before its last step (split episodes first)")
    if not np.array_equal(obs[1:], next_obs[:-1]):
        raise DatasetError(f"episode {k}: obs[t + 1] != next_obs[t] (not one contiguous episode)")
    arrays["observations"] = np.concatenate([obs, next_obs[-1:]], axis=0)
    arrays["actions"] = actions
    return arrays


def _episode_stats(returns: np.ndarray, behaviour_steps: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    last = max(1, int(np.ceil(0.1 * len(returns))))
    return {
        "transitions": int(lengths.sum()), "episodes": int(len(returns)),
        "return_mean": float(returns.mean()), "return_min": float(returns.min()), "return_max": float(returns.max()),
        "return_last10pct_mean": float(returns[-last:].mean()),
        "behaviour_step_min": int(behaviour_steps.min()), "behaviour_step_max": int(behaviour_steps.max()),
    }  # fmt: skip


def data_fingerprint(checksums: Mapping[str, str | None]) -> str:
    """One sha256 naming a dataset's contents: of the sorted ``"task index:data-file sha256"`` lines of its
    finished tasks. Two datasets (or the data two runs trained on) have the same fingerprint exactly when every
    task's data file is byte-identical; ``nacre dataset info`` prints it and offline runs record it."""
    lines = "".join(f"{int(k)}:{v}\n" for k, v in sorted(checksums.items(), key=lambda kv: int(kv[0])) if v)
    return hashlib.sha256(lines.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _minari_dataset_id(distribution_id: str, task_index: int) -> str:
    """A Minari id ``nacre/<distribution>/task_007-v1`` (Minari's id grammar: word characters and dashes)."""
    safe = re.sub(r"[^-\w]", "_", distribution_id) or "unknown"
    return f"nacre/{safe}/{task_dir_name(task_index)}-v{FORMAT_VERSION}"


def write_task_dataset(
    root: Path, task_index: int, episodes: Sequence[Trajectory], behaviour_steps: Sequence[int],
    observation_space: gym.spaces.Box, action_space: gym.spaces.Box, metadata: Mapping[str, Any] | None = None,
    *, overwrite: bool = False,
) -> Path:  # fmt: skip
    """Write one task's episodes (in collection order) as a Minari HDF5 dataset and mark the task finished.

    ``behaviour_steps[k]`` is the behaviour agent's gradient-step count when episode ``k`` began. Arrays are
    stored as float32 (bools for flags). A task already finished is refused unless ``overwrite``. Returns the
    task directory.
    """
    from minari.data_collector import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    root = absolute_root(root)
    manifest = read_manifest(root)
    n_tasks = len(manifest["tasks"])
    if not 0 <= task_index < n_tasks:
        raise DatasetError(f"task index {task_index} outside 0..{n_tasks - 1} of {root}")
    if not overwrite and task_index in finished_tasks(root):
        raise DatasetError(f"task {task_index} of {root} is already finished (pass overwrite=True to replace it)")
    for name, space in (("observation", observation_space), ("action", action_space)):
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise DatasetError(f"the {name} space must be a 1-D Box, got {space}")
    spaces = {"observation": _space_record(observation_space), "action": _space_record(action_space)}
    if manifest.get("spaces") not in (None, spaces):
        raise DatasetError(f"task {task_index}: spaces {spaces} differ from the dataset's {manifest['spaces']}")
    if len(episodes) == 0:
        raise DatasetError(f"task {task_index}: no episodes to write")
    steps = np.asarray(behaviour_steps, dtype=np.int64).reshape(-1)
    if len(steps) != len(episodes):
        raise DatasetError(f"task {task_index}: {len(steps)} behaviour steps for {len(episodes)} episodes")
    extra = _json_normal(dict(metadata or {}))
    clash = sorted(_RESERVED & set(extra))
    if clash:
        raise DatasetError(f"metadata keys {clash} are reserved by the dataset format")

    obs_dim, act_dim = observation_space.shape[0], action_space.shape[0]
    buffers, returns, lengths = [], [], []
    for k, ep in enumerate(episodes):
        a = _episode_arrays(k, ep, obs_dim, act_dim)
        buffers.append(EpisodeBuffer(
            observations=a["observations"], actions=a["actions"], rewards=a["rewards"],
            terminations=a["terminations"], truncations=a["truncations"],
            infos={"sparse_reward": a["sparse_reward"], "success": a["success"]},
        ))  # fmt: skip
        returns.append(float(a["rewards"].astype(np.float64).sum()))
        lengths.append(len(a["rewards"]))
    stats = _episode_stats(np.asarray(returns), steps, np.asarray(lengths))

    final = task_dir(root, task_index)
    for stale in root.glob(f"{_TMP_PREFIX}{final.name}-*"):  # left by a killed writer of this task
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f"{_TMP_PREFIX}{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        storage = MinariStorage.new(tmp, observation_space=observation_space, action_space=action_space,
                                    data_format="hdf5", jpeg_encoding=False)  # fmt: skip
        import minari

        storage.update_metadata({
            "dataset_id": _minari_dataset_id(manifest["distribution_id"], task_index),
            "minari_version": minari.__version__, "algorithm_name": str(extra.get("algorithm", "unknown")),
            "description": f"nacre offline data, {manifest['distribution_id']} task {task_index}",
        })  # fmt: skip
        storage.update_episodes(buffers)
        storage.update_episode_metadata([{"behaviour_step": int(s)} for s in steps])
        checksum = sha256_file(tmp / DATA_FILE)
        storage.update_metadata({"nacre": {
            **extra, "format": FORMAT, "format_version": FORMAT_VERSION, "nacre_version": __version__,
            "distribution_id": manifest["distribution_id"], "task_index": int(task_index),
            "task": manifest["tasks"][task_index], "checksum": checksum, "stats": stats,
            "episodes": stats["episodes"], "transitions": stats["transitions"],
        }})  # fmt: skip
        for path in tmp.iterdir():
            _fsync_path(path)
        _fsync_path(tmp)
        with _manifest_lock(root):
            manifest = read_manifest(root)
            if manifest.get("spaces") not in (None, spaces):
                raise DatasetError(f"task {task_index}: spaces {spaces} differ from the dataset's {manifest['spaces']}")
            if final.exists():  # overwrite, or a writer killed between the rename and the manifest update
                trash = root / f"{_TMP_PREFIX}{final.name}-old-{uuid.uuid4().hex[:8]}"
                os.rename(final, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.rename(tmp, final)
            _fsync_path(root)
            manifest["spaces"] = spaces
            manifest["finished"][str(task_index)] = {
                "checksum": checksum,
                "transitions": stats["transitions"],
                "episodes": stats["episodes"],
            }
            manifest["finished"] = dict(sorted(manifest["finished"].items(), key=lambda kv: int(kv[0])))
            atomic_write_bytes(root / MANIFEST, _dump(manifest))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


# ---------------------------------------------------------------------- reading
def _open_task(root: Path, task_index: int, manifest: dict) -> Any:
    """The task's ``minari.MinariDataset`` (``DatasetError`` if missing or unreadable)."""
    from minari import MinariDataset

    if not 0 <= task_index < len(manifest["tasks"]):
        raise DatasetError(f"task index {task_index} outside 0..{len(manifest['tasks']) - 1} of {root}")
    path = task_dir(root, task_index)
    if str(task_index) not in manifest["finished"]:
        raise DatasetError(f"task {task_index} of {root} is missing (not finished; generate it first)")
    if not (path / DATA_FILE).is_file():
        raise DatasetError(f"task {task_index} is finished in {root / MANIFEST} but {path / DATA_FILE} is missing")
    try:
        return MinariDataset(path)
    except Exception as exc:  # minari/h5py raise assorted types on damaged files
        raise DatasetError(f"cannot open {path} ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = short_reason(exc)
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def _nacre_metadata(dataset: Any, path: Path) -> dict:
    meta = dataset.storage.metadata.get("nacre")
    if not isinstance(meta, dict):
        raise DatasetError(f"{path} is a Minari dataset without nacre metadata")
    return meta


def load_task_episodes(root: Path, task_index: int) -> tuple[list[Trajectory], np.ndarray, dict]:
    """A finished task's episodes in collection order, behaviour steps ``[n_episodes]`` and its metadata.

    The metadata is the task's "nacre" block (task, task_index, distribution_id, checksum = sha256 hex of the
    data file, stats, the writer's extra keys, ...) plus ``observation_space``/``action_space`` (gymnasium Boxes).
    """
    root = absolute_root(root)
    manifest = read_manifest(root)
    dataset = _open_task(root, task_index, manifest)
    path = task_dir(root, task_index)
    meta = dict(_nacre_metadata(dataset, path))
    try:
        n = dataset.total_episodes
        steps = np.asarray([m["behaviour_step"] for m in dataset.storage.get_episode_metadata(range(n))],
                           dtype=np.int64)  # fmt: skip
        episodes = [_to_trajectory(ep) for ep in dataset.iterate_episodes()]
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"cannot read {path / DATA_FILE} ({_reason(exc)})") from None
    meta["observation_space"] = dataset.observation_space
    meta["action_space"] = dataset.action_space
    return episodes, steps, meta


def _to_trajectory(ep: Any) -> Trajectory:
    observations = np.asarray(ep.observations, dtype=np.float32)
    rewards = np.asarray(ep.rewards, dtype=np.float32)
    infos = ep.infos or {}
    n = len(rewards)
    if observations.shape[0] != n + 1:
        raise DatasetError(f"episode {ep.id} has {observations.shape[0]} observations for {n} steps (expected L+1)")
    return Trajectory(
        obs=observations[:-1], actions=np.asarray(ep.actions, dtype=np.float32), rewards=rewards,
        sparse_rewards=np.asarray(infos.get("sparse_reward", rewards), dtype=np.float32),
        next_obs=observations[1:], terminated=np.asarray(ep.terminations, dtype=bool),
        truncated=np.asarray(ep.truncations, dtype=bool),
        success=np.asarray(infos.get("success", np.zeros(n, dtype=bool)), dtype=bool),
    )  # fmt: skip


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def dataset_info(root: Path) -> list[dict]:
    """One summary per task of the manifest (from the stored metadata; no data is read).

    Keys: index, split, task, finished, transitions, episodes, return_mean/min/max, return_last10pct_mean,
    behaviour_step_min/max, checksum, size_bytes (None where the task is not finished).
    """
    root = absolute_root(root)
    manifest = read_manifest(root)
    rows = []
    for i, task in enumerate(manifest["tasks"]):
        row: dict[str, Any] = {"index": i, "split": ",".join(_split_names(manifest, i)) or "-", "task": task,
                               "finished": str(i) in manifest["finished"]}  # fmt: skip
        stats: dict[str, Any] = {}
        if row["finished"]:
            path = task_dir(root, i)
            with contextlib.suppress(OSError, ValueError):
                stats = json.loads((path / "metadata.json").read_text()).get("nacre", {}).get("stats", {})
            row["checksum"] = manifest["finished"][str(i)].get("checksum")
            row["size_bytes"] = _dir_size(path)
        for key in ("transitions", "episodes", "return_mean", "return_min", "return_max", "return_last10pct_mean",
                    "behaviour_step_min", "behaviour_step_max"):  # fmt: skip
            row[key] = stats.get(key)
        row.setdefault("checksum", None)
        row.setdefault("size_bytes", None)
        rows.append(row)
    return rows


def verify_dataset(root: Path) -> list[str]:
    """Every problem found, one line each (empty list: the dataset is complete and intact).

    Checks: manifest readable; every task finished and present; data-file sha256 equal to the manifest's and
    the task metadata's; task metadata consistent with the manifest; spaces equal to the manifest's; arrays
    of the declared shapes, finite, actions in [-1, 1]; no terminated/truncated flag before an episode's last
    step; episode/transition counts as recorded.
    """
    root = absolute_root(root)
    try:
        manifest = read_manifest(root)
    except DatasetError as exc:
        return [str(exc)]
    problems: list[str] = []
    spaces = manifest.get("spaces")
    for i, task in enumerate(manifest["tasks"]):
        record = manifest["finished"].get(str(i))
        path = task_dir(root, i)
        if record is None:
            problems.append(f"task {i}: missing (not finished)")
            continue
        if not (path / DATA_FILE).is_file():
            problems.append(f"task {i}: finished in the manifest but {path / DATA_FILE} is missing")
            continue
        checksum = sha256_file(path / DATA_FILE)
        if checksum != record.get("checksum"):
            problems.append(f"task {i}: checksum mismatch for {path / DATA_FILE} "
                            f"(sha256 {checksum[:12]}..., manifest {str(record.get('checksum'))[:12]}...)")  # fmt: skip
            continue
        try:
            episodes, steps, meta = load_task_episodes(root, i)
        except DatasetError as exc:
            problems.append(f"task {i}: {exc}")
            continue
        problems += [f"task {i}: {p}" for p in _check_task(manifest, i, task, record, spaces, episodes, steps, meta)]
    return problems


def _check_task(
    manifest: dict, i: int, task: Any, record: dict, spaces: Any, episodes: list[Trajectory], steps: np.ndarray,
    meta: dict,
) -> list[str]:  # fmt: skip
    problems = []
    if meta.get("checksum") != record.get("checksum"):
        problems.append("metadata checksum differs from the manifest's")
    for key, expected in (("task_index", i), ("task", task), ("distribution_id", manifest["distribution_id"])):
        if meta.get(key) != expected:
            problems.append(f"metadata {key} {meta.get(key)!r} != manifest {expected!r}")
    stored = {"observation": _space_record(meta["observation_space"]), "action": _space_record(meta["action_space"])}
    if spaces is not None and stored != spaces:
        problems.append(f"spaces {stored} != manifest {spaces}")
    obs_dim = (spaces or stored)["observation"]["shape"][0]
    act_dim = (spaces or stored)["action"]["shape"][0]
    transitions = sum(len(ep) for ep in episodes)
    if (len(episodes), transitions) != (record.get("episodes"), record.get("transitions")):
        problems.append(f"{len(episodes)} episodes / {transitions} transitions, manifest says "
                        f"{record.get('episodes')} / {record.get('transitions')}")  # fmt: skip
    if len(steps) != len(episodes):
        problems.append(f"{len(steps)} behaviour steps for {len(episodes)} episodes")
    bad_flags, bad_values, bad_shapes, bad_actions = [], [], [], []
    for k, ep in enumerate(episodes):
        n = len(ep)
        if n == 0 or ep.obs.shape != (n, obs_dim) or ep.next_obs.shape != (n, obs_dim) or \
                ep.actions.shape != (n, act_dim) or any(len(x) != n for x in ep[2:]):  # fmt: skip
            bad_shapes.append(k)
            continue
        if ep.terminated[:-1].any() or ep.truncated[:-1].any():
            bad_flags.append(k)
        if not all(np.isfinite(x).all() for x in (ep.obs, ep.next_obs, ep.actions, ep.rewards, ep.sparse_rewards)):
            bad_values.append(k)
        elif np.abs(ep.actions).max() > 1.0:
            bad_actions.append(k)
    for what, ks in (("shapes that do not match the spaces", bad_shapes),
                     ("terminated/truncated before the last step", bad_flags),
                     ("non-finite values", bad_values), ("actions outside [-1, 1]", bad_actions)):  # fmt: skip
        if ks:
            problems.append(f"{len(ks)} episode(s) with {what} (first: episode {ks[0]})")
    return problems
