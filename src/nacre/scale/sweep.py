"""Running a sweep: one Ray Tune trial (a function trainable) per run, each calling nacre's own training loop.

The run directories decide everything (Ray's experiment state under ``ROOT/.tune`` is only a record):

* :func:`plan` reads ``ROOT/<trial name>`` for every trial: ``new`` (nothing there yet), ``resume`` (a run that
  stopped: it continues from its newest intact checkpoint, as ``nacre train --resume``), ``done`` (trained to
  ``num_iterations`` and finally evaluated: skipped) or ``unavailable`` (an algorithm this nacre does not have);
  a directory holding a run of another config is an error before anything runs.
* :func:`run_trial` (in a Ray worker) trains with :func:`nacre.training.loop.train`, reports every iteration's
  metrics to Tune, and ends with the final evaluation ``nacre train`` saves, so ``nacre eval / plot / video /
  report`` work on the result.
* :func:`run_sweep` starts Ray (this machine's CPUs, its temporary files under ``ROOT/.ray``) or joins a cluster
  (``address``), runs the trials and returns what happened to each.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacre.scale import ScaleError, require_ray
from nacre.scale.spec import SweepSpec, Trial

#: test hook: ``K`` or ``K:exit`` makes every trial of the sweep fail after K iterations in its process
#: (``exit``: the worker process dies with ``os._exit``, as if killed), to test resuming
FAIL_AFTER_ENV = "NACRE_SWEEP_FAIL_AFTER"
Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- planning (no Ray needed)
@dataclass(frozen=True)
class TrialPlan:
    trial: Trial
    run_dir: Path
    state: str  # new | resume | done | unavailable
    detail: str = ""


def final_eval_path(run_dir: Path, iteration: int) -> Path:
    """Where ``nacre train`` saves the final evaluation of a run that reached ``iteration``."""
    return Path(run_dir) / "eval" / f"adaptation_iter{iteration:06d}_final.npz"


def _stored(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "config.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise ValueError("no config")
        return meta
    except (OSError, ValueError) as exc:
        raise ScaleError(f"{path} is unreadable ({str(exc).splitlines()[0][:80]}): move that run away") from None


def _model_differences(trial: Trial, meta: dict[str, Any]) -> list[str]:
    from nacre.training.loop import algorithm_classes

    if meta.get("algorithm", "pearl") != trial.algorithm:
        return [f"algorithm: run {meta.get('algorithm')!r} vs spec {trial.algorithm!r}"]
    config_cls = algorithm_classes(trial.algorithm)[0]
    mine = trial.config or {}
    theirs = {**config_cls().to_dict(), **meta["config"]}  # fields added since take their defaults
    skip = set(config_cls.run_only_fields) | {"dataset"}
    return [
        f"{k}: run {theirs.get(k)!r} vs spec {mine[k]!r}"
        for k in mine
        if k not in skip and json.dumps(theirs.get(k), sort_keys=True) != json.dumps(mine[k], sort_keys=True)
    ]


def plan_trial(trial: Trial, root: Path) -> TrialPlan:
    """What a sweep would do with ``trial`` under ``root`` (see the module docstring)."""
    from nacre.training.checkpoint import list_checkpoints

    run_dir = Path(root) / trial.name
    if trial.unavailable is not None:
        return TrialPlan(trial, run_dir, "unavailable", trial.unavailable)
    if run_dir.exists() and not run_dir.is_dir():
        raise ScaleError(f"{run_dir} is a file, not a run directory: move it away")
    meta = _stored(run_dir)
    if meta is None:
        if list_checkpoints(run_dir / "checkpoints"):
            raise ScaleError(f"{run_dir} holds checkpoints but no config.json: move it away")
        return TrialPlan(trial, run_dir, "new")
    diffs = _model_differences(trial, meta)
    if diffs:
        raise ScaleError(f"{run_dir} holds a run of another config ({'; '.join(diffs[:2])}): "
                         "move it away or use another --root")  # fmt: skip
    kept = list_checkpoints(run_dir / "checkpoints")
    target = int((trial.config or {}).get("num_iterations", 0))
    last = kept[-1][0] if kept else 0
    if kept and last >= target and final_eval_path(run_dir, last).is_file():
        return TrialPlan(trial, run_dir, "done", f"iteration {last}")
    return TrialPlan(trial, run_dir, "resume", f"from iteration {last} of {target}")


def plan(spec: SweepSpec | Sequence[Trial], root: Path) -> list[TrialPlan]:
    trials = spec.trials if isinstance(spec, SweepSpec) else tuple(spec)
    return [plan_trial(t, Path(root)) for t in trials]


def describe_plan(plans: Sequence[TrialPlan]) -> str:
    counts = {s: sum(p.state == s for p in plans) for s in ("new", "resume", "done", "unavailable")}
    words = [f"{counts['new']} new", f"{counts['resume']} to resume", f"{counts['done']} done"]
    if counts["unavailable"]:
        words.append(f"{counts['unavailable']} skipped (algorithm not available)")
    return f"{len(plans)} trials: " + ", ".join(words)


def unavailable_lines(plans: Sequence[TrialPlan]) -> list[str]:
    """One line per (entry, algorithm) whose trials are skipped."""
    groups: dict[tuple[int, str], list[TrialPlan]] = {}
    for p in plans:
        if p.state == "unavailable":
            groups.setdefault((p.trial.entry, p.trial.algorithm), []).append(p)
    lines = []
    for (entry, algorithm), members in groups.items():
        dists = ", ".join(dict.fromkeys(p.trial.distribution for p in members))
        lines.append(f"skipping {len(members)} {algorithm} trial{'s' if len(members) != 1 else ''} of entry {entry} "
                     f"({dists}): algorithm {algorithm!r} is not in this nacre yet")  # fmt: skip
    return lines


# ---------------------------------------------------------------------- the trial (runs in a Ray worker)
def _numeric(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, (int, float)):
            out[key] = value
    return out


def _fail_hook(spec: str | None) -> tuple[int, str] | None:
    if not spec:
        return None
    count, _, mode = str(spec).partition(":")
    try:
        return int(count), mode or "raise"
    except ValueError:
        raise ScaleError(f"{FAIL_AFTER_ENV} must be K or K:exit, got {spec!r}") from None


def train_trial(trial: Trial, root: str | Path, *, device: str | None = None,
                report: Callable[[dict[str, Any]], None] | None = None, fail_after: str | None = None,
                threads: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Train (or resume) one trial into ``ROOT/<trial.name>`` exactly as ``nacre train`` (and ``--resume``)
    would, calling ``report(metrics)`` after every iteration; end with ``nacre train``'s final evaluation.
    Returns a summary (iteration, counters, the last metrics)."""
    import numpy as np

    from nacre.evaluation.saving import save_evaluation
    from nacre.training.loop import algorithm_classes, change_run_options, resume_trainer, train

    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    started = time.monotonic()
    run_dir = Path(root) / trial.name
    config_cls, trainer_cls = algorithm_classes(trial.algorithm)
    cfg = config_cls.from_dict(dict(trial.config or {}))
    if device is not None and device != cfg.device:
        cfg = cfg.replace(device=device)
    warnings: list[str] = []
    if (run_dir / "config.json").is_file():
        trainer = resume_trainer(run_dir, device=cfg.device, warn=warnings.append)
        changes = {k: getattr(cfg, k) for k in cfg.run_only_fields
                   if k != "device" and getattr(trainer.cfg, k) != getattr(cfg, k)}  # fmt: skip
        change_run_options(trainer, run_dir, changes)
        resumed = True
    else:
        trainer, resumed = trainer_cls(cfg), False
    for line in warnings:
        print(f"nacre: warning: {trial.name}: {line}", file=sys.stderr, flush=True)
    hook = _fail_hook(fail_after)
    done_here = 0

    def on_iteration(it: int, metrics: dict[str, float]) -> None:
        nonlocal done_here
        done_here += 1
        if report is not None:
            report({**_numeric(metrics), "iteration": it, "num_iterations": trainer.cfg.num_iterations})
        if hook is not None and done_here >= hook[0]:
            if hook[1] == "exit":
                os._exit(17)
            raise RuntimeError(f"injected failure after {done_here} iterations ({FAIL_AFTER_ENV})")

    first = trainer.iteration
    metrics = train(trainer, run_dir, resumed=resumed, on_iteration=on_iteration,
                    command=trial.train_argv(run_dir))  # fmt: skip
    summary: dict[str, Any] = {"iteration": trainer.iteration, "num_iterations": trainer.cfg.num_iterations,
                               "resumed_from": first if resumed else None, "env_steps": trainer.env_steps,
                               "grad_steps": trainer.grad_steps}  # fmt: skip
    if trainer.iteration >= trainer.cfg.num_iterations and not final_eval_path(run_dir, trainer.iteration).is_file():
        result = trainer.evaluate(rng=np.random.default_rng(trainer.cfg.seed + 1))
        save_evaluation(run_dir, trainer, result, tag="final")
        final = trainer.eval_metrics(result)
        summary.update({f"final/{k}": v for k, v in _numeric(final).items()})
    summary.update({f"last/{k}": v for k, v in _numeric(metrics).items()})
    summary["trial_seconds"] = time.monotonic() - started
    return summary


def run_trial(params: dict[str, Any], trials: dict[str, dict[str, Any]] | None = None) -> None:
    """Ray Tune function trainable: ``params['name']`` picks the trial; metrics go to ``ray.tune.report``."""
    import ray
    from ray import tune

    trial = Trial.from_dict((trials or {})[params["name"]])
    node = ray.get_runtime_context().get_node_id()
    summary = train_trial(trial, params["root"], device=params.get("device"),
                          report=lambda m: tune.report({**m, "node_id": node}),
                          fail_after=params.get("fail_after"), threads=params.get("threads"))  # fmt: skip
    tune.report({**summary, "node_id": node, "done": True})


# ---------------------------------------------------------------------- the driver
@dataclass
class SweepResult:
    """What happened to each trial of a sweep."""

    root: Path
    plans: list[TrialPlan]
    finished: list[str] = field(default_factory=list)  # trained to the end in this sweep
    skipped_done: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> one-line reason
    nodes: dict[str, str] = field(default_factory=dict)  # name -> Ray node id that ran it
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def run_dirs(self, states: Sequence[str] = ("finished", "done")) -> list[Path]:
        """Run directories of the trials that are trained to the end (in this sweep or before)."""
        names = set()
        if "finished" in states:
            names |= set(self.finished)
        if "done" in states:
            names |= set(self.skipped_done)
        return [p.run_dir for p in self.plans if p.trial.name in names]


def _short_temp_dir(root: Path, echo: Echo) -> str:
    """``ROOT/.ray``, or a short directory under the system temp dir when ROOT is too deep for Ray's Unix
    sockets (their paths must stay under 107 bytes)."""
    preferred = (root / ".ray").absolute()
    if len(str(preferred)) <= 45:
        preferred.mkdir(parents=True, exist_ok=True)
        return str(preferred)
    short = tempfile.mkdtemp(prefix="nacre-ray-")
    echo(f"nacre: {preferred} is too long a path for Ray's sockets; Ray's temporary files go to {short}")
    return short


def connect(root: Path | None, address: str | None, echo: Echo = _stderr, num_cpus: int | None = None) -> bool:
    """Start a local Ray (this machine's CPUs; temporary files under ``root/.ray``, or Ray's default place when
    ``root`` is None) or join the cluster at ``address``; False if Ray was already initialised here (the caller
    then must not shut it down)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    import logging

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's plain output honours verbose=0
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
        else:
            # Ray starts its workers at niceness 15: next to any other busy process a trial then gets a few per
            # cent of a core (4% measured beside two training processes on 2 cores). Trials are the work here, so
            # a local cluster runs them at the driver's priority unless RAY_worker_niceness says otherwise.
            os.environ.setdefault("RAY_worker_niceness", "0")
            temp = {"_temp_dir": _short_temp_dir(root, echo)} if root is not None else {}
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                     logging_level=logging.WARNING, **temp)  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ScaleError(f"cannot start or reach {where}: {str(exc).splitlines()[0][:200]}") from None
    return True


def _error_line(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    name = type(cause).__name__
    if "Actor" in name or "WorkerCrashed" in name or "died" in str(cause)[:300]:
        return "the worker process died (killed, out of memory or crashed)"
    last = [line for line in text if line.strip()]
    line = last[-1] if last else name
    return line if line.startswith(name) else f"{name}: {line}"


def _tune_callback(echo: Echo, total: int, sweep: SweepResult, plans: dict[str, TrialPlan]) -> Any:
    from ray import tune

    class Echoing(tune.Callback):
        """One line per started, finished or failed trial (the driver's view)."""

        def __init__(self) -> None:
            self.done = 0
            self.nodes = sweep.nodes

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            name = trial.config["name"]
            p = plans.get(name)
            how = f"resuming {name} ({p.detail})" if p is not None and p.state == "resume" else f"started {name}"
            echo(f"nacre: {how}")

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            if result.get("node_id"):
                self.nodes[trial.config["name"]] = result["node_id"]

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            metrics = trial.last_result or {}
            score = next((f", {k[6:]} {metrics[k]:.3g}" for k in ("final/returns/test", "final/returns/test_adapted")
                          if isinstance(metrics.get(k), (int, float))), "")  # fmt: skip
            seconds = metrics.get("trial_seconds")
            took = f" in {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
            echo(f"nacre: [{self.done}/{total}] finished {trial.config['name']} (iteration "
                 f"{metrics.get('iteration', '?')}{score}){took}")  # fmt: skip

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            echo(f"nacre: [{self.done}/{total}] FAILED {trial.config['name']}: rerun the sweep to resume it")

    return Echoing()


def run_sweep(spec: SweepSpec | Sequence[Trial], root: str | Path, *, address: str | None = None,
              cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, max_concurrent: int | None = None,
              retries: int = 0, echo: Echo = _stderr, name: str | None = None) -> SweepResult:  # fmt: skip
    """Run every trial of ``spec`` that is not done under ``root``; see the module docstring.

    ``cpus_per_trial`` / ``gpus_per_trial``: Ray resources per trial (with a GPU share, trials train on
    ``cuda``, the GPU Ray assigns; torch uses ``cpus_per_trial`` threads). ``max_concurrent``: at most this
    many trials at once (default: as many as the resources allow). ``retries``: Ray restarts a failed trial
    this many times (it resumes from its checkpoint). A failed trial does not stop the others.
    """
    if cpus_per_trial <= 0 or gpus_per_trial < 0:
        raise ScaleError("--cpus-per-trial must be positive and --gpus-per-trial non-negative")
    if max_concurrent is not None and max_concurrent < 1:
        raise ScaleError(f"--max-concurrent must be 1 or more, got {max_concurrent}")
    root = Path(root).absolute()
    plans = plan(spec, root)
    result = SweepResult(root=root, plans=plans)
    result.skipped_done = [p.trial.name for p in plans if p.state == "done"]
    result.unavailable = [p.trial.name for p in plans if p.state == "unavailable"]
    for line in unavailable_lines(plans):
        echo(f"nacre: {line}")
    todo = [p for p in plans if p.state in ("new", "resume")]
    sweep_name = name or (spec.name if isinstance(spec, SweepSpec) else "sweep")
    echo(f"nacre: sweep {sweep_name} in {root}: {describe_plan(plans)}")
    if not todo:
        return result
    require_ray()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScaleError(f"cannot create {root}: {exc.strerror or exc}") from None
    started = time.monotonic()
    owned = connect(root, address, echo)
    try:
        _fit(todo, root, result, sweep_name, cpus_per_trial, gpus_per_trial, max_concurrent, retries, echo)
    finally:
        if owned:
            import ray

            ray.shutdown()
    result.seconds = time.monotonic() - started
    return result


def _fit(todo: list[TrialPlan], root: Path, result: SweepResult, sweep_name: str, cpus: float, gpus: float,
         max_concurrent: int | None, retries: int, echo: Echo) -> None:  # fmt: skip
    from ray import tune

    trials = {p.trial.name: p.trial.to_dict() for p in todo}
    resources = {"cpu": cpus, **({"gpu": gpus} if gpus else {})}
    trainable = tune.with_resources(tune.with_parameters(run_trial, trials=trials), resources)
    params = {"name": tune.grid_search(list(trials)), "root": str(root),
              "threads": max(1, int(cpus)), "fail_after": os.environ.get(FAIL_AFTER_ENV) or None,
              "device": "cuda" if gpus else None}  # fmt: skip
    _fail_hook(params["fail_after"])  # a malformed hook fails here, not in every worker
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tuner = tune.Tuner(
        trainable,
        param_space=params,
        # reuse_actors: a lane's next trial runs in the same worker process (torch and nacre already imported)
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True,
                                    trial_name_creator=lambda t: t.config["name"],
                                    trial_dirname_creator=lambda t: t.config["name"]),
        run_config=tune.RunConfig(name=f"{sweep_name}-{stamp}", storage_path=str(root / ".tune"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=retries),
                                  callbacks=[_tune_callback(echo, len(todo), result,
                                                             {p.trial.name: p for p in todo})]),
    )  # fmt: skip
    grid = tuner.fit()
    for item in grid:
        name = item.config.get("name") if item.config else None
        if name is None:
            continue
        node = (item.metrics or {}).get("node_id")
        if node:
            result.nodes[name] = node
        if item.error is not None:
            result.failed[name] = _error_line(item.error)
        elif (item.metrics or {}).get("done"):
            result.finished.append(name)
        else:
            result.failed[name] = "ended without finishing"
    for name in trials:
        if name not in result.finished and name not in result.failed:
            result.failed[name] = "did not run"
    for name, reason in result.failed.items():
        echo(f"nacre: FAILED {name}: {reason}")
