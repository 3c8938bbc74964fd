"""Trust-region pieces as functions: conjugate gradient, KL Hessian-vector products, the TRPO step.

``trpo_step`` maximises a surrogate ``L(theta)`` subject to ``KL(theta) <= max_kl`` (docs/baselines.md, 5.3): the search
direction ``x`` solves ``H x = g`` by conjugate gradient (``g`` the surrogate's gradient, ``H`` the Hessian of the
KL, by double backward), the full step is ``sqrt(2 max_kl / (x^T H x + 1e-8)) x``, and a backtracking line search
(ratio 0.8, at most 15 tries) takes the first step whose KL is within ``max_kl`` and whose surrogate improves;
otherwise the parameters stay where they were.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nacre.algos.onpolicy.policies import flat

#: ``create_graph -> (surrogate, kl)`` evaluated at the current values of the parameters; with ``create_graph``
#: both must be differentiable twice with respect to them
SurrogateAndKL = Callable[[bool], tuple[torch.Tensor, torch.Tensor]]


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iterations: int = 10,
                       residual_tol: float = 1e-10) -> torch.Tensor:  # fmt: skip
    """Approximate solution of ``A x = b`` for a symmetric positive definite ``A`` given as ``matvec``, from
    ``x = 0``; stops early when the squared residual norm falls below ``residual_tol``."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r @ r
    for _ in range(iterations):
        if rr <= residual_tol:
            break
        ap = matvec(p)
        alpha = rr / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def flat_grad(output: torch.Tensor, params: Sequence[torch.Tensor], retain_graph: bool = False,
              create_graph: bool = False) -> torch.Tensor:  # fmt: skip
    """``d output / d params`` as one vector (zeros for parameters ``output`` does not depend on)."""
    grads = torch.autograd.grad(output, list(params), retain_graph=retain_graph, create_graph=create_graph,
                                allow_unused=True)  # fmt: skip
    return flat([torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)])


def hessian_vector_product(scalar: torch.Tensor, params: Sequence[torch.Tensor],
                           damping: float = 0.0) -> Callable[[torch.Tensor], torch.Tensor]:  # fmt: skip
    """``v -> (d^2 scalar / d params^2) v + damping v`` by double backward; ``scalar`` must have been built with
    a graph that is differentiable twice (the first gradient is taken once and reused)."""
    grad = flat_grad(scalar, params, retain_graph=True, create_graph=True)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad @ v.detach(), params, retain_graph=True) + damping * v

    return hvp


def set_flat(params: Sequence[torch.Tensor], vector: torch.Tensor) -> None:
    """Write ``vector`` into ``params`` (in place, without recording a graph)."""
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vector[offset : offset + n].view_as(p))
            offset += n


@dataclass
class TrpoInfo:
    """What one TRPO step did."""

    surrogate_before: float
    surrogate_after: float
    kl_after: float
    accepted: bool
    backtracks: int  # step-size reductions before the accepted step (== max_backtracks when rejected)
    step_size: float  # the accepted fraction of the full step (0 when rejected)
    grad_norm: float

    def metrics(self) -> dict[str, float]:
        return {"trpo/surrogate_before": self.surrogate_before, "trpo/surrogate_after": self.surrogate_after,
                "trpo/kl": self.kl_after, "trpo/accepted": float(self.accepted),
                "trpo/backtracks": float(self.backtracks), "trpo/step_fraction": self.step_size,
                "trpo/grad_norm": self.grad_norm}  # fmt: skip


def trpo_step(params: Sequence[torch.Tensor], surrogate_and_kl: SurrogateAndKL, max_kl: float = 0.01,
              cg_iterations: int = 10, backtrack_ratio: float = 0.8, max_backtracks: int = 15,
              damping: float = 0.0, residual_tol: float = 1e-10) -> TrpoInfo:  # fmt: skip
    """One trust-region step on the leaf tensors ``params`` (changed in place); see the module docstring."""
    params = list(params)
    surrogate, kl = surrogate_and_kl(True)
    g = flat_grad(surrogate, params, retain_graph=True)
    hvp = hessian_vector_product(kl, params, damping)
    direction = conjugate_gradient(hvp, g, cg_iterations, residual_tol)
    shs = float(direction @ hvp(direction))
    before = flat([p.detach() for p in params]).clone()
    surrogate_before = float(surrogate.detach())
    if not math.isfinite(shs) or shs + 1e-8 <= 0.0:  # no positive curvature along the direction (round-off on
        # a flat KL): the quadratic model gives no step length, so the step is rejected, as the reference's NaN is
        return TrpoInfo(surrogate_before, surrogate_before, 0.0, False, 0, 0.0, float(g.norm()))
    full_step = math.sqrt(2.0 * max_kl / (shs + 1e-8)) * direction
    del surrogate, kl, hvp
    for k in range(max_backtracks):
        fraction = backtrack_ratio**k
        set_flat(params, before + fraction * full_step)
        with torch.no_grad():
            new_surrogate, new_kl = surrogate_and_kl(False)
        s, d = float(new_surrogate), float(new_kl)
        if math.isfinite(s) and math.isfinite(d) and d <= max_kl and s > surrogate_before:
            return TrpoInfo(surrogate_before, s, d, True, k, fraction, float(g.norm()))
    set_flat(params, before)
    return TrpoInfo(surrogate_before, surrogate_before, 0.0, False, max_backtracks, 0.0, float(g.norm()))
