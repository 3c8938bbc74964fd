"""MACAW's inner loop (MAML adaptation per task) and outer losses, as functions of explicit parameters.

Inner loop for each task (MACAW Algorithm 1 lines 7-13, the MACAW paper's algorithm), with ``k = cfg.inner_steps``
steps, step ``j`` on the ``j``-th contiguous chunk of the task's inner batch (as the reference does):

1. ``k`` SGD steps on V:  phi <- phi - alpha_phi * grad L_V  (MC regression);
2. ``k`` SGD steps on the policy: theta <- theta - alpha_theta * grad (L_AWR + lambda L_ADV), the advantages
   coming from the adapted V' (no gradient through V' here, as in the reference).

Every meta-parameter tensor has its own learned rate ``alpha = softplus(raw)``; ``lambda = softplus(raw)``.

Two routes compute the same adapted weights (a unit test checks losses and meta-gradients agree):

* ``plain``: per task, differentiate the inner loss w.r.t. every meta-parameter tensor and build adapted
  copies of all of them (for a weight-transform layer that includes a per-task ``[P, D]`` copy of the
  generating map), then regenerate the layer. This is the reference's computation (a loop over tasks).
* ``structured``: all tasks at once (a leading task axis, batched matmuls; no ``vmap`` needed). A
  weight-transform layer's effective weights ``theta = M z + c`` are linear in each factor, so with
  ``g = dL/dtheta`` the meta-parameter gradients are ``dL/dz = M^T g``, ``dL/dM = g z^T``, ``dL/dc = g`` and
  the adapted layer is ``theta' = M z' + c' - alpha_M g (z . z')`` with ``z' = z - alpha_z M^T g`` and
  ``c' = c - alpha_c g``: the adapted map ``M' = M - alpha_M g z^T`` is kept as the shared ``M`` plus a
  rank-one term per step and never materialised. Only per-task ``[P]`` and ``[D]`` vectors are created.

First-order mode (``second_order=False``, FOMAML) drops the Hessian terms, identically in both routes: inner
gradients are constants w.r.t. the network parameters, while the adapted weights stay differentiable w.r.t.
the meta-parameters, the learned rates and lambda (``g = g_AWR + lambda g_ADV`` with both parts constant).
What holds: with one inner step the rate and lambda meta-gradients are the same in both modes (theta' is
linear in alpha and lambda: dL/dalpha = -<g, dL/dtheta'>); with more steps they differ. The advantage head
reaches the outer loss only through the trunk's inner gradient (a mixed second derivative), so first order
gives it no meta-gradient. With one inner step the head's own learned rates never matter (the outer loss is
plain AWR, which does not read the head): their meta-gradient is zero in both modes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from nacre.algos.macaw import losses
from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.macaw.config import MacawConfig
from nacre.algos.macaw.networks import (
    NetworkSpec,
    Params,
    layer_theta,
    materialise,
    policy_forward,
    value_forward,
)

Metrics = dict[str, torch.Tensor]


class Specs(NamedTuple):
    policy: NetworkSpec
    value: NetworkSpec


class MetaParams(NamedTuple):
    """Everything the outer loop learns. ``*_lr_raw`` have the keys of the network they adapt."""

    policy: Params
    value: Params
    policy_lr_raw: Params
    value_lr_raw: Params
    adv_coef_raw: torch.Tensor | None

    def detached(self) -> MetaParams:
        """A copy cut from the outer graph (network tensors still require grad for the inner gradients)."""
        net = lambda p: {k: v.detach().requires_grad_(True) for k, v in p.items()}
        lrs = lambda p: {k: v.detach() for k, v in p.items()}
        coef = None if self.adv_coef_raw is None else self.adv_coef_raw.detach()
        return MetaParams(net(self.policy), net(self.value), lrs(self.policy_lr_raw), lrs(self.value_lr_raw), coef)

    def adv_coef(self) -> torch.Tensor | None:
        """lambda = softplus(raw), or None without the advantage head."""
        return None if self.adv_coef_raw is None else F.softplus(self.adv_coef_raw)


class Adapted(NamedTuple):
    """Per-task effective weights ``{layer: theta [T, P]}`` of the adapted policy and value function."""

    policy: Params
    value: Params

    def task(self, i: int) -> Adapted:
        """Task ``i``'s weights (``[P]``, usable with inputs of any shape)."""
        return Adapted({k: v[i] for k, v in self.policy.items()}, {k: v[i] for k, v in self.value.items()})

    def detach(self) -> Adapted:
        return Adapted({k: v.detach() for k, v in self.policy.items()}, {k: v.detach() for k, v in self.value.items()})


# ---------------------------------------------------------------- losses on effective weights


def value_inner_losses(spec: NetworkSpec, eff: Params, batch: MacawBatch) -> tuple[torch.Tensor, Metrics]:
    """Per-task L_V against the MC return-to-go (inner loop: no bootstrap)."""
    return losses.value_loss(value_forward(spec, eff, batch.obs), batch.mc_returns.squeeze(-1))


@torch.no_grad()
def advantages(
    cfg: MacawConfig, spec: NetworkSpec, v_eff: Params, batch: MacawBatch, values: torch.Tensor | None = None
) -> torch.Tensor:
    """A = R_hat - V(s) ``[T, B]`` with the given (adapted) V; R_hat per ``cfg.advantage_returns``.

    ``values``: V(s) on ``batch.obs`` if already computed (it is detached here).
    """
    returns = batch.mc_returns.squeeze(-1)
    if cfg.advantage_returns == "bootstrap":
        returns = losses.bootstrapped_returns(
            returns, batch.discount_to_last.squeeze(-1), value_forward(spec, v_eff, batch.last_obs),
            batch.last_terminated.squeeze(-1),
        )  # fmt: skip
    values = value_forward(spec, v_eff, batch.obs) if values is None else values.detach()
    return returns - values


def policy_losses(
    cfg: MacawConfig, spec: NetworkSpec, eff: Params, batch: MacawBatch, adv: torch.Tensor, with_head: bool
) -> tuple[torch.Tensor, torch.Tensor | None, Metrics]:
    """Per-task L_AWR and, ``with_head``, L_ADV (None otherwise)."""
    use_head = with_head and bool(spec.head)
    mean, pred = policy_forward(spec, eff, batch.obs, batch.actions if use_head else None)
    log_prob = losses.gaussian_log_prob(mean, batch.actions, cfg.action_std)
    weights = losses.awr_weights(adv, cfg.awr_temperature, cfg.max_weight)
    awr, metrics = losses.awr_loss(log_prob, weights)
    adv_loss = None
    if use_head:
        assert pred is not None
        adv_loss, adv_metrics = losses.advantage_head_loss(pred, adv)
        metrics.update(adv_metrics)
    metrics["advantage_mean"] = adv.mean()
    return awr, adv_loss, metrics


def outer_losses(
    cfg: MacawConfig, specs: Specs, adapted: Adapted, target_value: Params, batch: MacawBatch
) -> tuple[torch.Tensor, torch.Tensor, Metrics]:
    """Per-task outer losses on D_ts: (L_V with the bootstrapped target, plain L_AWR with the adapted V).

    ``target_value``: effective weights of the target value net (shared ``[P]``, no gradient).
    """
    with torch.no_grad():
        last_v = value_forward(specs.value, target_value, batch.last_obs)
        target = losses.bootstrapped_returns(
            batch.mc_returns.squeeze(-1), batch.discount_to_last.squeeze(-1), last_v,
            batch.last_terminated.squeeze(-1),
        )  # fmt: skip
    v_pred = value_forward(specs.value, adapted.value, batch.obs)
    loss_v, metrics = losses.value_loss(v_pred, target)
    metrics["value_target_mean"] = target.mean()
    v_det = {k: v.detach() for k, v in adapted.value.items()}
    adv = advantages(cfg, specs.value, v_det, batch, values=v_pred)
    loss_pi, _, pi_metrics = policy_losses(cfg, specs.policy, adapted.policy, batch, adv, with_head=False)
    metrics.update(pi_metrics)
    metrics["policy_loss"] = loss_pi.detach().mean()
    return loss_v, loss_pi, metrics


# ---------------------------------------------------------------- inner loop


def adapt(
    cfg: MacawConfig, specs: Specs, meta: MetaParams, batch: MacawBatch, differentiable: bool
) -> tuple[Adapted, Metrics]:
    """Adapted weights for every task of ``batch`` (``[T, B, ...]``) and mean inner metrics.

    ``differentiable=True`` keeps the graph to the meta-parameters (second order iff ``cfg.second_order``);
    ``False`` (meta-test) returns detached weights.
    """
    if not differentiable:
        meta = meta.detached()
    create_graph = differentiable and cfg.second_order
    route = _adapt_structured if cfg.inner_route == "structured" else _adapt_plain
    with torch.enable_grad():
        adapted, metrics = route(cfg, specs, meta, batch, create_graph)
    return (adapted if differentiable else adapted.detach()), metrics


def _chunks(batch: MacawBatch, steps: int) -> list[MacawBatch]:
    size = batch.rows // steps
    return [batch.slice_rows(j * size, (j + 1) * size) for j in range(steps)]


def _stack_tasks(per_task: list[Params]) -> Params:
    """One ``[T, ...]`` tensor per key from ``T`` per-task weight dicts."""
    return {k: torch.stack([p[k] for p in per_task]) for k in per_task[0]}


def _mean_metrics(items: list[Metrics]) -> Metrics:
    return {k: torch.stack([m[k] for m in items]).mean() for k in items[0]}


def _adapt_plain(
    cfg: MacawConfig, specs: Specs, meta: MetaParams, batch: MacawBatch, create_graph: bool
) -> tuple[Adapted, Metrics]:
    """Reference computation: one task at a time, adapted copies of every meta-parameter tensor."""
    coef = meta.adv_coef()
    chunks = _chunks(batch, cfg.inner_steps)
    policies, values, v_metrics, p_metrics = [], [], [], []
    for t in range(batch.tasks):
        task_chunks = [MacawBatch(*(x[t : t + 1] for x in c)) for c in chunks]
        vp = dict(meta.value)
        for c in task_chunks:
            loss, m = value_inner_losses(specs.value, materialise(specs.value, vp), c)
            vp = _sgd(vp, meta.value_lr_raw, _inner_grads(loss, None, None, list(vp.values()), create_graph))
            v_metrics.append(m)
        v_eff = materialise(specs.value, vp)
        v_det = {k: v.detach() for k, v in v_eff.items()}
        pp = dict(meta.policy)
        for c in task_chunks:
            adv = advantages(cfg, specs.value, v_det, c)
            awr, head, m = policy_losses(cfg, specs.policy, materialise(specs.policy, pp), c, adv, coef is not None)
            m["policy_loss"] = losses.policy_inner_loss(awr, head, coef).detach().mean()
            pp = _sgd(pp, meta.policy_lr_raw, _inner_grads(awr, head, coef, list(pp.values()), create_graph))
            p_metrics.append(m)
        policies.append(materialise(specs.policy, pp))
        values.append(v_eff)
    metrics = {**_mean_metrics(v_metrics), **_mean_metrics(p_metrics)}
    return Adapted(_stack_tasks(policies), _stack_tasks(values)), metrics


def _inner_grads(
    loss: torch.Tensor, head_loss: torch.Tensor | None, coef: torch.Tensor | None, inputs: list[torch.Tensor],
    create_graph: bool,
) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """Gradients of the summed per-task inner loss ``loss + coef * head_loss`` w.r.t. ``inputs``.

    First order: the gradients are constants, except that a differentiable ``coef`` (lambda) keeps its
    first-order role, ``g = g_AWR + lambda g_ADV`` (d theta' / d lambda = -alpha g_ADV holds no Hessian).
    """
    if head_loss is None or coef is None:
        return torch.autograd.grad(loss.sum(), inputs, create_graph=create_graph)
    if create_graph or not coef.requires_grad:
        return torch.autograd.grad((loss + coef * head_loss).sum(), inputs, create_graph=create_graph)
    g_awr = torch.autograd.grad(loss.sum(), inputs, retain_graph=True, allow_unused=True, materialize_grads=True)
    g_head = torch.autograd.grad(head_loss.sum(), inputs, allow_unused=True, materialize_grads=True)
    return tuple(a + coef * b for a, b in zip(g_awr, g_head, strict=True))


def _sgd(params: Params, lr_raw: Params, grads: tuple[torch.Tensor, ...]) -> Params:
    return {n: p - F.softplus(lr_raw[n]) * g for (n, p), g in zip(params.items(), grads, strict=True)}


class _WTState:
    """One weight-transform layer's adapted meta-parameters for every task, without materialising the map:
    ``M_t = M - sum_j a_j b_j^T`` (rank-one steps), latent ``z_t``, offset ``c_t``. Shared (1-D) until the
    first step."""

    def __init__(self, latent: torch.Tensor, offset: torch.Tensor) -> None:
        self.latent, self.offset = latent, offset
        self.rank_one: list[tuple[torch.Tensor, torch.Tensor]] = []


def _adapt_structured(
    cfg: MacawConfig, specs: Specs, meta: MetaParams, batch: MacawBatch, create_graph: bool
) -> tuple[Adapted, Metrics]:
    """All tasks together; structured weight-transform updates (module docstring)."""
    coef = meta.adv_coef()
    chunks = _chunks(batch, cfg.inner_steps)
    t = batch.tasks

    v_state = _initial_state(specs.value, meta.value)
    v_metrics = []
    for c in chunks:
        thetas = _thetas(specs.value, meta.value, v_state, t)
        loss, m = value_inner_losses(specs.value, thetas, c)
        grads = _inner_grads(loss, None, None, list(thetas.values()), create_graph)
        _structured_step(specs.value, meta.value, meta.value_lr_raw, v_state, grads, create_graph)
        v_metrics.append(m)
    v_eff = _thetas(specs.value, meta.value, v_state, t)
    v_det = {k: v.detach() for k, v in v_eff.items()}

    p_state = _initial_state(specs.policy, meta.policy)
    p_metrics = []
    for c in chunks:
        adv = advantages(cfg, specs.value, v_det, c)
        thetas = _thetas(specs.policy, meta.policy, p_state, t)
        awr, head, m = policy_losses(cfg, specs.policy, thetas, c, adv, coef is not None)
        m["policy_loss"] = losses.policy_inner_loss(awr, head, coef).detach().mean()
        grads = _inner_grads(awr, head, coef, list(thetas.values()), create_graph)
        _structured_step(specs.policy, meta.policy, meta.policy_lr_raw, p_state, grads, create_graph)
        p_metrics.append(m)
    p_eff = _thetas(specs.policy, meta.policy, p_state, t)
    return Adapted(p_eff, v_eff), {**_mean_metrics(v_metrics), **_mean_metrics(p_metrics)}


def _initial_state(spec: NetworkSpec, params: Params) -> dict[str, _WTState | torch.Tensor]:
    state: dict[str, _WTState | torch.Tensor] = {}
    for layer in spec.layers:
        if spec.weight_transform:
            latent_name, _, offset_name = spec.param_names(layer)
            state[layer.name] = _WTState(params[latent_name], params[offset_name])
        else:
            state[layer.name] = layer_theta(spec, layer, params)
    return state


def _thetas(spec: NetworkSpec, params: Params, state: dict, tasks: int) -> Params:
    """Current per-task effective weights ``[T, P]``."""
    out: Params = {}
    for layer in spec.layers:
        st = state[layer.name]
        if isinstance(st, _WTState):
            mapping = params[spec.param_names(layer)[1]]
            if st.latent.dim() == 1:  # not adapted yet: one shared layer
                theta = torch.addmv(st.offset, mapping, st.latent).expand(tasks, -1)
            else:
                theta = torch.addmm(st.offset, st.latent, mapping.T)  # M z_t + c_t
                for a, b in st.rank_one:
                    theta = theta - a * (b * st.latent).sum(-1, keepdim=True)
        else:
            theta = st.expand(tasks, -1)
        out[layer.name] = theta
    return out


def _structured_step(
    spec: NetworkSpec, params: Params, lr_raw: Params, state: dict, grads: tuple[torch.Tensor, ...],
    create_graph: bool,
) -> None:  # fmt: skip
    """One SGD step of every task from the gradients ``[T, P]`` w.r.t. the per-task effective weights."""
    for layer, g in zip(spec.layers, grads, strict=True):
        names = spec.param_names(layer)
        rates = [F.softplus(lr_raw[n]) for n in names]
        st = state[layer.name]
        if isinstance(st, _WTState):
            rate_z, rate_map, rate_c = rates
            mapping, rank_one, z_factor = params[names[1]], st.rank_one, st.latent
            if not create_graph:  # first order: the parameter factors of the gradients are constants
                mapping, z_factor = mapping.detach(), z_factor.detach()
                rank_one = [(a.detach(), b.detach()) for a, b in rank_one]
            grad_z = g @ mapping  # dL/dz_t = M_t^T g
            for a, b in rank_one:
                grad_z = grad_z - b * (a * g).sum(-1, keepdim=True)
            st.rank_one.append((rate_map * g, z_factor.expand(g.shape[0], -1)))  # dL/dM_t = g z_t^T
            st.latent = st.latent - rate_z * grad_z
            st.offset = st.offset - rate_c * g
        else:
            rate_w, rate_b = rates
            n = layer.in_dim * layer.out_dim
            state[layer.name] = st - torch.cat([rate_w * g[:, :n], rate_b * g[:, n:]], dim=-1)


# ---------------------------------------------------------------- meta-test: more steps than meta-trained


def test_time_adapt(
    cfg: MacawConfig, specs: Specs, meta: MetaParams, batch: MacawBatch, steps: Sequence[int], guard_after: int,
    max_halvings: int = 10,
) -> list[Adapted]:  # fmt: skip
    """For each count ``n`` in ``steps`` (positive): ``n`` inner steps per task on all of ``batch``'s rows (``n``
    on V, then ``n`` on the policy with advantages from that V), detached.

    Steps ``1..guard_after`` are the learned inner steps exactly (what :func:`adapt` computes on repeated
    rows). The learned rates are meta-trained for ``cfg.inner_steps`` steps and repeating them can overshoot
    (MC-return regression with a weight transform amplifies a step by ``|z|^2 + |M|^2``), so every later step
    is backtracked: a step that raises that task's inner loss on these rows, or is not finite, is retried at
    half the rate, at most ``max_halvings`` times, and otherwise dropped (the weights stay where they are).
    The V steps of a smaller count are a prefix of a larger one's, so V is descended once.
    """
    if not steps or min(steps) < 1:
        raise ValueError(f"test_time_adapt needs positive step counts, got {list(steps)}")
    meta = meta.detached()
    coef = meta.adv_coef()
    per_count: dict[int, tuple[list[Params], list[Params]]] = {n: ([], []) for n in steps}
    for t in range(batch.tasks):
        rows = MacawBatch(*(x[t : t + 1] for x in batch))

        def value_objective(p: Params, rows: MacawBatch = rows) -> torch.Tensor:
            return value_inner_losses(specs.value, materialise(specs.value, p), rows)[0].sum()

        vp, done = dict(meta.value), 0
        for n in sorted(set(steps)):
            vp = _descend(vp, meta.value_lr_raw, value_objective, n - done, guard_after - done, max_halvings)
            done = n
            v_eff = {k: v.detach() for k, v in materialise(specs.value, vp).items()}
            adv = advantages(cfg, specs.value, v_eff, rows)

            def policy_objective(p: Params, rows: MacawBatch = rows, adv: torch.Tensor = adv) -> torch.Tensor:
                eff = materialise(specs.policy, p)
                awr, head, _ = policy_losses(cfg, specs.policy, eff, rows, adv, coef is not None)
                return losses.policy_inner_loss(awr, head, coef).sum()

            pp = _descend(dict(meta.policy), meta.policy_lr_raw, policy_objective, n, guard_after, max_halvings)
            per_count[n][0].append({k: v.detach() for k, v in materialise(specs.policy, pp).items()})
            per_count[n][1].append(v_eff)
    return [Adapted(_stack_tasks(per_count[n][0]), _stack_tasks(per_count[n][1])) for n in steps]


def _descend(
    params: Params, lr_raw: Params, objective: Callable[[Params], torch.Tensor], steps: int, guard_after: int,
    max_halvings: int,
) -> Params:  # fmt: skip
    """``steps`` SGD steps with the learned per-tensor rates; backtracked after ``guard_after`` steps."""
    rates = {k: F.softplus(v).detach() for k, v in lr_raw.items()}
    for j in range(steps):
        with torch.enable_grad():
            leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
            loss = objective(leaves)
            grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True, materialize_grads=True)
        with torch.no_grad():

            def moved(scale: float, start: Params = params, grads: tuple[torch.Tensor, ...] = grads) -> Params:
                return {k: p.detach() - scale * rates[k] * g for (k, p), g in zip(start.items(), grads, strict=True)}

            if j < guard_after:
                params = moved(1.0)
                continue
            for halving in range(max_halvings + 1):
                candidate = moved(0.5**halving)
                if torch.isfinite(new := objective(candidate)) and new <= loss.detach():
                    params = candidate
                    break
            else:
                return params  # no step lowers the loss: later steps would see the same gradient
    return params
