"""Returns, GAE and the linear feature baseline (docs/baselines.md, 5.1), as pure numpy functions.

Arrays are ``[..., H]`` over the steps of one rollout (leading dimensions: tasks, rollouts) with a ``mask`` that is
1 on the steps that happened; values after a rollout's last step are ignored and come out as zeros. The value
after the last step of a rollout is 0 (the reference's ``b_T = 0``), at a termination and at the time limit
alike. Computation is in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: features of the linear baseline: the time index is ``step / TIME_SCALE``
TIME_SCALE = 100.0


def discounted_cumsum(x: np.ndarray, discount: float) -> np.ndarray:
    """``y[..., t] = sum_{u >= t} discount^(u - t) x[..., u]`` along the last axis."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    running = np.zeros(x.shape[:-1])
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + discount * running
        out[..., t] = running
    return out


def discounted_returns(rewards: np.ndarray, mask: np.ndarray, discount: float) -> np.ndarray:
    """Reward-to-go of every step that happened (zeros elsewhere)."""
    m = np.asarray(mask, dtype=np.float64)
    return discounted_cumsum(np.asarray(rewards, dtype=np.float64) * m, discount) * m


def gae(rewards: np.ndarray, values: np.ndarray, mask: np.ndarray, discount: float, lam: float) -> np.ndarray:
    """Generalised advantage estimates: ``delta_t = r_t + discount * V_{t+1} - V_t`` (``V`` after the last step
    is 0) summed with weights ``(discount * lam)^k``."""
    m = np.asarray(mask, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64) * m
    v_next = np.zeros_like(v)
    v_next[..., :-1] = v[..., 1:]  # zero past the end: masked steps carry V = 0
    deltas = (np.asarray(rewards, dtype=np.float64) + discount * v_next - v) * m
    return discounted_cumsum(deltas, discount * lam) * m


def baseline_features(obs: np.ndarray) -> np.ndarray:
    """``[clip(obs, -10, 10), clip(obs, -10, 10)^2, t, t^2, t^3, 1]`` with ``t = step / 100``: ``[..., H, 2 O + 4]``
    for observations ``[..., H, O]``."""
    o = np.clip(np.asarray(obs, dtype=np.float64), -10.0, 10.0)
    steps = o.shape[-2]
    t = np.broadcast_to((np.arange(steps, dtype=np.float64) / TIME_SCALE)[:, None], (*o.shape[:-1], 1))
    return np.concatenate([o, o * o, t, t**2, t**3, np.ones_like(t)], axis=-1)


def fit_linear_baseline(features: np.ndarray, targets: np.ndarray, reg: float = 1e-5, retries: int = 5) -> np.ndarray:
    """Ridge regression ``argmin_w |F w - y|^2 + reg |w|^2`` for ``features [N, D]``, ``targets [N]``: the normal
    equations solved by least squares; if the solution has a NaN, ``reg`` grows tenfold (at most ``retries``
    times)."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    gram, rhs = f.T @ f, f.T @ y
    eye = np.eye(f.shape[1])
    coef = np.full(f.shape[1], np.nan)
    for _ in range(retries + 1):
        with np.errstate(all="ignore"):
            try:
                coef = np.linalg.lstsq(gram + reg * eye, rhs, rcond=None)[0]
            except np.linalg.LinAlgError:
                coef = np.full(f.shape[1], np.nan)
        if not np.isnan(coef).any():
            return coef
        reg *= 10.0
    return np.zeros(f.shape[1])  # no usable fit: a zero baseline


def linear_baseline_values(obs: np.ndarray, returns: np.ndarray, mask: np.ndarray, reg: float = 1e-5) -> np.ndarray:
    """The linear feature baseline fitted on one task's rollouts and evaluated on them.

    ``obs [K, H, O]``, ``returns [K, H]`` (discounted reward-to-go), ``mask [K, H]``: fitted on the steps that
    happened; returns ``[K, H]`` predictions (zeros on the other steps).
    """
    feats = baseline_features(obs)
    valid = np.asarray(mask) > 0
    coef = fit_linear_baseline(feats[valid], np.asarray(returns)[valid], reg)
    return (feats @ coef) * valid


def normalize(x: np.ndarray, mask: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """``(x - mean) / (std + eps)`` over the steps that happened (population std); zeros elsewhere."""
    valid = np.asarray(mask) > 0
    if not valid.any():
        return np.zeros_like(x, dtype=np.float64)
    values = np.asarray(x, dtype=np.float64)[valid]
    return (np.asarray(x, dtype=np.float64) - values.mean()) / (values.std() + eps) * valid


class Advantages(NamedTuple):
    """Per-step quantities ``[M, K, H]`` (float64)."""

    advantages: np.ndarray  # normalised per task when asked
    returns: np.ndarray  # discounted reward-to-go
    baselines: np.ndarray  # the per-task linear baseline's predictions


def task_advantages(rewards: np.ndarray, obs: np.ndarray, mask: np.ndarray, discount: float, lam: float,
                    normalize_per_task: bool = True, reg: float = 1e-5) -> Advantages:  # fmt: skip
    """For ``rewards [M, K, H]``, ``obs [M, K, H, O]``: per task, fit the linear baseline on that task's rollouts,
    compute GAE and (optionally) normalise the task's advantages."""
    returns = discounted_returns(rewards, mask, discount)
    baselines = np.stack([linear_baseline_values(obs[m], returns[m], mask[m], reg) for m in range(len(rewards))])
    adv = gae(rewards, baselines, mask, discount, lam)
    if normalize_per_task:
        adv = np.stack([normalize(adv[m], mask[m]) for m in range(len(adv))])
    return Advantages(adv, returns, baselines)
