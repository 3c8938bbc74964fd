"""Sweep specs: a YAML or TOML file describing a grid (or an explicit list) of ``nacre train`` runs.

A spec is checked whole before anything runs: every entry is expanded into its trials and every trial's config
is built with its algorithm's preset function (the same call ``nacre train`` makes), so an unknown algorithm,
distribution, preset or config field, or a value of the wrong type, is reported as one line
``SPEC: entry N: ...``. Format (docs/scale.md has a full example)::

    name: kl-sweep                      # optional (default: the file name)
    defaults:                           # optional: merged under every entry
      preset: tiny
      seeds: [0, 1]
    entries:                            # required: each entry is a grid over its list-valued keys
      - algorithm: pearl                # or algorithms: [pearl, ...]
        distribution: sparse-point-robot   # or distributions: [...]
        config: {num_iterations: 2}     # config overrides, as nacre train's flags
        grid: {kl_lambda: [0.1, 1.0]}   # config fields to take every value of (cartesian product)
      - algorithm: macaw
        distribution: macaw-cheetah-vel
        dataset: "{data_root}/macaw-cheetah-vel"   # offline methods; {data_root}, {distribution} expand
    scales:                             # optional: named budgets chosen with --scale
      cpu: {defaults: {preset: fast}}
      paper: {defaults: {preset: paper}}
    report: {metric: success}           # optional: nacre report options for nacre reproduce

Each trial's run directory is ``ROOT/<algorithm>-<distribution>-<preset>[-<field>=<value>...]-s<seed>``, from
the overrides that change the model (run-only fields such as ``num_iterations`` or ``device`` are left out, so
a larger budget continues the same runs); :func:`run_name` makes it.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nacre.scale import ScaleError

#: algorithms the shipped specs name before this nacre has them: their trials are skipped with one line each
PLANNED_ALGORITHMS = ("maml-trpo", "promp", "rl2-ppo", "maesn")
#: algorithms that train from a dataset (``dataset:`` required)
OFFLINE_ALGORITHMS = ("macaw", "offline-pearl", "mt-finetune")
#: config fields set through the spec's own keys
RESERVED_FIELDS = {"env": "distribution(s)", "seed": "seed(s)", "dataset": "dataset"}
SPEC_SUFFIXES = (".yaml", ".yml", ".toml")

_TOP_KEYS = ("name", "description", "defaults", "entries", "scales", "report")
_ENTRY_KEYS = ("algorithm", "algorithms", "distribution", "distributions", "seed", "seeds", "preset", "config",
               "grid", "dataset", "dataset_distribution", "scales", "note")  # fmt: skip
_SCALE_KEYS = ("description", "defaults", "dataset_preset")
_REPORT_KEYS = ("metric", "bootstrap_reps", "confidence", "threshold", "seed", "reference", "reference_steps",
                "efficiency_window")  # fmt: skip
_MAX_NAME = 120
_PAIRS = (("algorithm", "algorithms"), ("distribution", "distributions"), ("seed", "seeds"))


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: what ``nacre train`` would be asked, and the config it resolves to."""

    entry: int  # 1-based index of the spec entry it comes from
    algorithm: str
    distribution: str
    seed: int
    preset: str
    #: config overrides as given (``config`` and this trial's ``grid`` values), without seed and dataset
    overrides: dict[str, Any]
    dataset: str | None
    #: run directory name under the sweep's root
    name: str
    #: the resolved config (``cfg.to_dict()``); None for an algorithm this nacre does not have
    config: dict[str, Any] | None
    #: why the trial cannot run here (an algorithm not in this nacre yet), else None
    unavailable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trial:
        return cls(**dict(data))

    def train_argv(self, run_dir: str | Path | None = None) -> list[str]:
        """The ``nacre train`` command line that makes the same run (recorded in the run's ``config.json``)."""
        words = ["nacre", "train", self.algorithm, self.distribution, "--preset", self.preset,
                 "--seed", str(self.seed)]  # fmt: skip
        if self.dataset:
            words += ["--dataset", self.dataset]
        for key, value in self.overrides.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, dict):
                words += [flag, ",".join(f"{k}={json.dumps(v)}" for k, v in value.items())]
            else:
                words += [flag, value if isinstance(value, str) else json.dumps(value)]
        return [*words, "--run-dir", str(run_dir if run_dir is not None else self.name)]

    def train_command(self, run_dir: str | Path | None = None) -> str:
        import shlex

        return shlex.join(self.train_argv(run_dir))


@dataclass(frozen=True)
class SweepSpec:
    """A validated spec: its trials (available or not) and the options of its report."""

    name: str
    source: str
    scale: str | None
    description: str
    trials: tuple[Trial, ...]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def runnable(self) -> list[Trial]:
        return [t for t in self.trials if t.unavailable is None]

    @property
    def unavailable(self) -> list[Trial]:
        return [t for t in self.trials if t.unavailable is not None]


# ---------------------------------------------------------------------- reading files
def _yaml_loader() -> Any:
    try:
        import yaml
    except ImportError:
        from nacre.scale import INSTALL_HINT

        raise ScaleError(f"reading YAML specs needs PyYAML: {INSTALL_HINT} (or write the spec in TOML)") from None

    class Loader(yaml.SafeLoader):
        """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return yaml, Loader


def read_spec_file(path: str | Path, label: str | None = None) -> dict[str, Any]:
    """The raw mapping in a ``.yaml`` / ``.yml`` / ``.toml`` spec file (:class:`ScaleError` naming ``label``)."""
    path = Path(path)
    label = label or str(path)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        raise ScaleError(f"{label}: a spec is a .yaml, .yml or .toml file")
    if not path.is_file():
        raise ScaleError(f"{label}: no such file" if not path.exists() else f"{label}: not a file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScaleError(f"{label}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ImportError:
                raise ScaleError(f"{label}: reading TOML on Python 3.10 needs tomli (pip install tomli)") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScaleError(f"{label}: not valid TOML ({str(exc).splitlines()[0]})") from None
    else:
        yaml, loader = _yaml_loader()
        try:
            data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ScaleError(f"{label}: not valid YAML ({problem}{where})") from None
    if not isinstance(data, dict):
        raise ScaleError(f"{label}: the spec must be a mapping with an 'entries' list, got {_kind(data)}")
    return data


# ---------------------------------------------------------------------- checks
def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", int: "an integer",
             float: "a number", type(None): "nothing"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _unknown_keys(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
            raise ScaleError(f"{where}: unknown key {key!r}{hint}")


def _mapping(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScaleError(f"{where}: {what} must be a mapping, got {_kind(value)}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ScaleError(f"{where}: {what} keys must be strings, got {bad[0]!r}")
    return value


def _strings(entry: Mapping[str, Any], single: str, plural: str, where: str) -> list[str]:
    if single in entry and plural in entry:
        raise ScaleError(f"{where}: give {single} or {plural}, not both")
    if single in entry:
        value = entry[single]
        if not isinstance(value, str) or not value:
            raise ScaleError(f"{where}: {single} must be a name, got {_kind(value)} {value!r}")
        return [value]
    if plural in entry:
        value = entry[plural]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ScaleError(f"{where}: {plural} must be a non-empty list of names, got {value!r}")
        return list(dict.fromkeys(value))
    raise ScaleError(f"{where}: no {single} (give {single}: NAME or {plural}: [NAME, ...])")


def _seeds(entry: Mapping[str, Any], where: str) -> list[int]:
    if "seed" in entry and "seeds" in entry:
        raise ScaleError(f"{where}: give seed or seeds, not both")
    value = entry.get("seeds", [entry["seed"]] if "seed" in entry else [0])
    ok = lambda s: isinstance(s, int) and not isinstance(s, bool) and s >= 0
    if not isinstance(value, list) or not value or not all(ok(s) for s in value):
        key = "seeds" if "seeds" in entry else "seed"
        shown = value if key == "seeds" else entry.get("seed")
        raise ScaleError(f"{where}: {key} must be {'a non-empty list of ' if key == 'seeds' else 'a '}"
                         f"non-negative integer{'s' if key == 'seeds' else ''}, got {shown!r}")  # fmt: skip
    if len(set(value)) != len(value):
        raise ScaleError(f"{where}: seeds repeat a seed: {value}")
    return list(value)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; ``config`` and ``grid`` merge field by field, and a singular key (``seed``)
    replaces its plural (``seeds``) and the other way round."""
    out = dict(base)
    for one, many in _PAIRS:  # an entry's seed replaces the defaults' seeds, and so on
        if one in over:
            out.pop(many, None)
        if many in over:
            out.pop(one, None)
    for key, value in over.items():
        if key in ("config", "grid") and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------- run names
def _slug_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_slug_value(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={_slug_value(v)}" for k, v in sorted(value.items()))
    return str(value)


def _flat(overrides: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(key, value) pairs sorted by key; a dict value (``env_kwargs``) contributes its own items."""
    pairs: list[tuple[str, Any]] = []
    for key in sorted(overrides):
        value = overrides[key]
        if isinstance(value, dict) and value:
            pairs += [(sub, value[sub]) for sub in sorted(value)]
        elif not (isinstance(value, dict) and not value):
            pairs.append((key, value))
    return pairs


def run_name(algorithm: str, distribution: str, preset: str, overrides: Mapping[str, Any], seed: int) -> str:
    """``<algorithm>-<distribution>-<preset>[-<field>=<value>...]-s<seed>``, safe as a directory name; a name
    longer than 120 characters keeps its start and gets a hash of the whole."""
    parts = [algorithm, distribution.replace(":", "."), preset]
    parts += [f"{k}={_slug_value(v)}" for k, v in _flat(overrides)]
    body = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", "-".join(parts))
    suffix = f"-s{seed}"
    if len(body) + len(suffix) > _MAX_NAME:
        digest = hashlib.sha1(body.encode()).hexdigest()[:10]
        body = f"{body[: _MAX_NAME - len(suffix) - 11]}~{digest}"
    return body + suffix


# ---------------------------------------------------------------------- loading a spec
class _Resolver:
    """Builds and checks one trial's config (cached per distribution; the config classes imported once)."""

    def __init__(self) -> None:
        from nacre.algos.registry import ALGORITHMS

        self.algorithms = ALGORITHMS
        self._dists: dict[str, Any] = {}

    def config_class(self, algorithm: str) -> Any:
        from nacre.algos.registry import config_class

        return config_class(algorithm)

    def distribution(self, dist: str, env_kwargs: Any, where: str) -> Any:
        from nacre.envs.registry import TaskDistributionError, make_distribution

        key = json.dumps([dist, env_kwargs], sort_keys=True, default=str)
        if key not in self._dists:
            if not isinstance(env_kwargs, dict):
                raise ScaleError(f"{where}: env_kwargs must be a mapping, got {_kind(env_kwargs)}")
            try:
                self._dists[key] = make_distribution(dist, **env_kwargs)
            except (TaskDistributionError, TypeError, ValueError) as exc:
                raise ScaleError(f"{where}: {str(exc).splitlines()[0]}") from None
        return self._dists[key]

    def check_env_kwargs(self, dist: str, env_kwargs: dict[str, Any], where: str) -> None:
        from nacre.envs.kwargs import check_env_kwargs
        from nacre.envs.registry import TaskDistributionError

        try:
            check_env_kwargs(dist, env_kwargs)
        except TaskDistributionError as exc:
            raise ScaleError(f"{where}: {exc}") from None

    def config(self, algorithm: str, preset: str, dist: str, overrides: dict[str, Any], where: str) -> dict:
        from nacre.algos.registry import preset as make_preset
        from nacre.config import ConfigError

        config_cls = self.config_class(algorithm)
        unused = getattr(config_cls, "unused_fields", {}).get(algorithm, frozenset())
        known = [f.name for f in fields(config_cls) if f.name not in unused]
        for key in overrides:
            if key in unused:
                raise ScaleError(f"{where}: {algorithm} does not use {key!r}")
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ScaleError(f"{where}: {key!r} is not a {config_cls.label} config field{hint}")
        try:
            cfg = make_preset(algorithm, preset, dist, **overrides)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ScaleError(f"{where}: {str(exc).splitlines()[0]}") from None
        return cfg.to_dict()

    def run_only(self, algorithm: str) -> frozenset[str]:
        return frozenset(self.config_class(algorithm).run_only_fields)


def load_spec(path: str | Path, *, scale: str | None = None, data_root: str | Path | None = None,
              label: str | None = None, check_datasets: bool = True) -> SweepSpec:  # fmt: skip
    """Read and check a spec file; every problem is a :class:`ScaleError` ``LABEL: [entry N: ]...`` (one line).

    ``scale`` picks one of the spec's ``scales`` (required when it has some). ``data_root`` (default ``data``)
    fills ``{data_root}`` in dataset paths. With ``check_datasets`` every offline trial's dataset must exist
    and hold its tasks; missing ones are reported together with the ``nacre dataset generate`` commands that
    make them.
    """
    label = label or str(path)
    data = read_spec_file(path, label)
    _unknown_keys(data, _TOP_KEYS, label)
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise ScaleError(f"{label}: name must be a non-empty string without '/', got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ScaleError(f"{label}: description must be text, got {_kind(description)}")
    defaults = _mapping(data.get("defaults", {}), label, "defaults")
    _unknown_keys(defaults, _ENTRY_KEYS, f"{label}: defaults")
    dataset_preset = "fast"
    scales = _mapping(data.get("scales", {}), label, "scales")
    if scales:
        if scale is None:
            raise ScaleError(f"{label}: choose a scale with --scale ({', '.join(scales)})")
        if scale not in scales:
            raise ScaleError(f"{label}: unknown scale {scale!r}; this spec has {', '.join(scales)}")
        chosen = _mapping(scales[scale] if scales[scale] is not None else {}, label, f"scale {scale!r}")
        _unknown_keys(chosen, _SCALE_KEYS, f"{label}: scale {scale!r}")
        scale_defaults = _mapping(chosen.get("defaults", {}), label, f"scale {scale!r} defaults")
        _unknown_keys(scale_defaults, _ENTRY_KEYS, f"{label}: scale {scale!r} defaults")
        defaults = _merge(defaults, scale_defaults)
        dataset_preset = chosen.get("dataset_preset", dataset_preset)
        if not isinstance(dataset_preset, str):
            raise ScaleError(f"{label}: scale {scale!r}: dataset_preset must be a preset name")
        if chosen.get("description") is not None and not isinstance(chosen["description"], str):
            raise ScaleError(f"{label}: scale {scale!r}: description must be text")
        if chosen.get("description"):
            description = f"{description} [{scale}] {chosen['description']}".strip()
    elif scale is not None:
        raise ScaleError(f"{label}: --scale {scale} given but the spec defines no scales")
    report = _mapping(data.get("report", {}), label, "report")
    _unknown_keys(report, _REPORT_KEYS, f"{label}: report")
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise ScaleError(f"{label}: 'entries' must be a non-empty list of entries, got {_kind(entries)}")

    resolver = _Resolver()
    root_text = str(data_root) if data_root is not None else "data"
    trials: list[Trial] = []
    missing: dict[str, str] = {}  # dataset path -> generate command
    missing_where: list[str] = []
    for number, raw in enumerate(entries, start=1):
        where = f"{label}: entry {number}"
        raw = _mapping(raw, f"{label}: entry {number}", "an entry")
        _unknown_keys(raw, _ENTRY_KEYS, where)
        entry = _merge(defaults, raw)
        if "scales" in entry:
            only = entry["scales"]
            if not isinstance(only, list) or not all(isinstance(s, str) for s in only):
                raise ScaleError(f"{where}: scales must be a list of scale names, got {only!r}")
            unknown = [s for s in only if s not in scales]
            if unknown:
                raise ScaleError(f"{where}: unknown scale {unknown[0]!r} (the spec's scales: "
                                 f"{', '.join(scales) or 'none'})")  # fmt: skip
            if scale not in only:
                continue
        for trial in _expand(entry, number, where, resolver, root_text, dataset_preset, missing, missing_where):
            trials.append(trial)
    if not trials:
        raise ScaleError(f"{label}: no trials{f' at scale {scale!r}' if scale else ''}")
    seen: dict[str, int] = {}
    for t in trials:
        if t.name in seen:
            other = seen[t.name]
            pair = f"entry {other}" if other == t.entry else f"entries {other} and {t.entry}"
            raise ScaleError(f"{label}: {pair} both make run {t.name!r}: give them different settings or seeds")
        seen[t.name] = t.entry
    if check_datasets and missing:
        commands = " && ".join(dict.fromkeys(missing.values()))
        if len(missing) == 1:
            raise ScaleError(f"{missing_where[0]}: dataset {next(iter(missing))} not found; make it with: {commands}")
        raise ScaleError(f"{label}: {len(missing)} datasets not found ({', '.join(missing)}); "
                         f"make them with: {commands}")  # fmt: skip
    return SweepSpec(name=name, source=str(path), scale=scale, description=description, trials=tuple(trials),
                     report=dict(report))  # fmt: skip


def _expand(entry: dict[str, Any], number: int, where: str, resolver: _Resolver, data_root: str,
            dataset_preset: str, missing: dict[str, str], missing_where: list[str]) -> list[Trial]:  # fmt: skip
    algorithms = _strings(entry, "algorithm", "algorithms", where)
    distributions = _strings(entry, "distribution", "distributions", where)
    seeds = _seeds(entry, where)
    preset = entry.get("preset", "fast")
    if not isinstance(preset, str) or not preset:
        raise ScaleError(f"{where}: preset must be a name, got {_kind(preset)} {preset!r}")
    config = _mapping(entry.get("config", {}), where, "config")
    grid = _mapping(entry.get("grid", {}), where, "grid")
    for key in (*config, *grid):
        if key in RESERVED_FIELDS:
            raise ScaleError(f"{where}: set {key!r} with the spec's {RESERVED_FIELDS[key]} key, not in config/grid")
    both = sorted(set(config) & set(grid))
    if both:
        raise ScaleError(f"{where}: {both[0]!r} is in both config and grid")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ScaleError(f"{where}: grid {key!r} must be a non-empty list of values, got {_kind(values)}")
    dataset_text = entry.get("dataset")
    if dataset_text is not None and (not isinstance(dataset_text, str) or not dataset_text):
        raise ScaleError(f"{where}: dataset must be a path, got {_kind(dataset_text)} {dataset_text!r}")
    gen_dist = entry.get("dataset_distribution")
    if gen_dist is not None and not isinstance(gen_dist, str):
        raise ScaleError(f"{where}: dataset_distribution must be a distribution id")
    note = entry.get("note")
    if note is not None and not isinstance(note, str):
        raise ScaleError(f"{where}: note must be text")

    trials = []
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for algorithm in algorithms:
        available = algorithm in resolver.algorithms
        if not available and algorithm not in PLANNED_ALGORITHMS:
            raise ScaleError(f"{where}: unknown algorithm {algorithm!r}; known: {', '.join(resolver.algorithms)}")
        offline = algorithm in OFFLINE_ALGORITHMS
        if available and offline and dataset_text is None:
            raise ScaleError(f"{where}: {algorithm} trains from a dataset: give dataset: PATH "
                             "(e.g. \"{data_root}/<distribution>\")")  # fmt: skip
        if available and not offline and dataset_text is not None and len(algorithms) == 1:
            raise ScaleError(f"{where}: {algorithm} does not train from a dataset: remove dataset:")
        for dist in distributions:
            dataset = None
            if offline and dataset_text is not None:
                try:
                    text = dataset_text.format(data_root=data_root, distribution=dist)
                except (KeyError, IndexError, ValueError) as exc:
                    raise ScaleError(f"{where}: dataset {dataset_text!r}: only {{data_root}} and {{distribution}} "
                                     f"can be filled in ({exc})") from None  # fmt: skip
                dataset = str(Path(text).expanduser().absolute())
            for combo in combos:
                overrides = {**config, **combo}
                if available:
                    env_kwargs = overrides.get("env_kwargs", {})
                    resolver.distribution(dist, {}, where)  # the id first, as nacre train checks it
                    if not isinstance(env_kwargs, dict):
                        raise ScaleError(f"{where}: env_kwargs must be a mapping, got {_kind(env_kwargs)}")
                    resolver.check_env_kwargs(dist, env_kwargs, where)
                    extra = {"seed": seeds[0], **({"dataset": dataset} if dataset else {})}
                    resolved = resolver.config(algorithm, preset, dist, {**overrides, **extra}, where)
                    resolver.distribution(dist, env_kwargs, where)
                    run_only = resolver.run_only(algorithm)
                    slug = {k: v for k, v in overrides.items() if k not in run_only}
                    if dataset and available and check_dataset(dataset, dist, resolver, where, missing,
                                                               gen_dist or dist, dataset_preset):  # fmt: skip
                        missing_where.append(where)
                else:
                    resolver.distribution(dist, overrides.get("env_kwargs", {}), where)
                    resolved, slug = None, overrides
                for seed in seeds:
                    cfg = None if resolved is None else {**resolved, "seed": seed}
                    known = ", ".join(resolver.algorithms)
                    reason = None if available else f"algorithm {algorithm!r} is not in this nacre yet (known: {known})"
                    trials.append(Trial(entry=number, algorithm=algorithm, distribution=dist, seed=seed,
                                        preset=preset, overrides=overrides, dataset=dataset,
                                        name=run_name(algorithm, dist, preset, slug, seed), config=cfg,
                                        unavailable=reason))  # fmt: skip
    return trials


def check_dataset(dataset: str, dist: str, resolver: _Resolver, where: str, missing: dict[str, str],
                  gen_dist: str, dataset_preset: str) -> bool:  # fmt: skip
    """Check that ``dataset`` holds ``dist``'s tasks; a missing one goes into ``missing`` (True), any other
    problem raises."""
    import shlex

    from nacre.datasets.splits import dataset_split
    from nacre.datasets.store import MANIFEST, DatasetError

    if dataset in missing:
        return False
    if not (Path(dataset) / MANIFEST).is_file():
        missing[dataset] = shlex.join(["nacre", "dataset", "generate", gen_dist, "--out", dataset,
                                       "--preset", dataset_preset])  # fmt: skip
        return True
    try:
        dataset_split(dataset, resolver.distribution(dist, {}, where))
    except DatasetError as exc:
        raise ScaleError(f"{where}: {exc}") from None
    return False


def select_trials(
    spec: SweepSpec,
    *,
    seeds: Sequence[int] | None = None,
    algorithms: Sequence[str] | None = None,
    distributions: Sequence[str] | None = None,
) -> SweepSpec:
    """``spec`` with only the trials of these seeds, algorithms and distributions (None: all): a grid run a part
    at a time, e.g. two of a figure's six domains today and the rest later into the same root.

    A value no trial has is a :class:`ScaleError` naming the values the spec has.
    """
    trials = spec.trials
    for what, wanted, of in (("seed", seeds, lambda t: t.seed), ("algorithm", algorithms, lambda t: t.algorithm),
                             ("distribution", distributions, lambda t: t.distribution)):  # fmt: skip
        if wanted is None:
            continue
        have = sorted({of(t) for t in spec.trials})
        unknown = [w for w in wanted if w not in have]
        if unknown:
            raise ScaleError(f"{spec.name}: no trial has {what} {unknown[0]}; its {what}s are "
                             f"{', '.join(map(str, have))}")  # fmt: skip
        trials = tuple(t for t in trials if of(t) in set(wanted))
    return replace(spec, trials=trials)
