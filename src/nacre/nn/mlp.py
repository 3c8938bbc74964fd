"""Fully connected networks with the reference initialisation, seeded through an explicit generator.

Hidden layers: weights U(+-1/sqrt(fan_in)), biases 0.1; output layer: weights and biases U(+-3e-3)
(the PEARL reference code, "reference init").
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn
from torch.nn.utils import skip_init

HIDDEN_BIAS = 0.1
OUTPUT_INIT = 3e-3


def _fanin_(weight: torch.Tensor, fan_in: int, gen: torch.Generator | None) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        weight.uniform_(-bound, bound, generator=gen)


def _fused_linear_relu_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


#: fewest rows (the product of a layer input's leading dimensions) for which the fused kernel is used: below it the
#: primitive's per-call overhead outweighs the saved pass over the output (benchmarks/fused_linear_relu.py)
FUSED_MIN_ROWS = 2048


@functools.cache
def _fused_linear_relu_cpu_pays() -> bool:
    """Whether this CPU has AVX-512, the only kind on which the fused kernel measured faster.

    Measured faster on Intel Xeons with AVX-512 at PEARL's 4096-row layers, slower on an AVX2-only AMD EPYC (the
    SAC step 0.98x alone, the PEARL ``fast`` step 26.4 against 29.9 steps/s; BENCHMARKS.md).
    """
    from nacre.nn.precision import cpu_flags

    return "avx512f" in cpu_flags()


def _fused_linear_relu_pays(rows: int) -> bool:
    """Whether the fused oneDNN linear+ReLU beats matmul then ReLU for a layer input of ``rows`` rows: on CPUs
    with AVX-512 and for at least :data:`FUSED_MIN_ROWS` rows (one layer's forward and backward on an idle AVX-512
    Xeon: 1.02-1.12x at 2048-8192 rows, 0.74-0.96x at 64-1024 at width 256, 0.80-0.92x at 64-256 at width 300;
    BENCHMARKS.md). Elsewhere the option falls back to the unfused computation (same values to fp32 round-off)."""
    return rows >= FUSED_MIN_ROWS and _fused_linear_relu_cpu_pays()


@functools.cache
def _onednn_bf16_available() -> bool:
    """Whether oneDNN builds bf16 primitives on this CPU (it refuses to on CPUs without AVX-512)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class _LinearReLU(torch.autograd.Function):
    """relu(x @ w.T + b) in one oneDNN primitive (bias and ReLU fused into the matmul's epilogue).

    Backward is exactly autograd's for ``relu(linear(x, w, b))``: ReLU's mask from the saved output, then
    the two matmuls and the bias sum.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = torch.ops.mkldnn._linear_pointwise(x, w, b, "relu", [], "")
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        g = torch.ops.aten.threshold_backward(grad, y, 0)
        gx = g @ w if ctx.needs_input_grad[0] else None
        g2 = g.reshape(-1, g.shape[-1])
        gw = g2.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        gb = g2.sum(0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def linear_relu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, fused: bool, inplace: bool) -> torch.Tensor:
    """``relu(x @ w.T + b)`` (``w`` as in ``nn.Linear``: ``[out, in]``); ``fused`` uses :class:`_LinearReLU`
    on CPU tensors where it pays (:func:`_fused_linear_relu_pays`; under CPU autocast its operands are cast to
    the autocast dtype first, as autocast would)."""
    if (
        fused
        and x.device.type == "cpu"
        and _fused_linear_relu_available()
        and _fused_linear_relu_pays(x.numel() // max(x.shape[-1], 1))
    ):
        if torch.is_autocast_enabled("cpu"):
            dtype = torch.get_autocast_dtype("cpu")
            if dtype == torch.bfloat16 and not _onednn_bf16_available():  # oneDNN has no bf16 kernel here
                y = torch.nn.functional.linear(x, w, b)
                return torch.relu_(y) if inplace else torch.relu(y)
            x, w, b = x.to(dtype), w.to(dtype), b.to(dtype)
        elif not (x.dtype == w.dtype == b.dtype):
            x, w, b = x, w.to(x.dtype), b.to(x.dtype)
        return _LinearReLU.apply(x, w, b)
    y = torch.nn.functional.linear(x, w, b)
    return torch.relu_(y) if inplace else torch.relu(y)


class MLP(nn.Module):
    """``in -> [hidden] * layers (ReLU) -> out``.

    ``inplace_relu`` (attribute, default off) applies each ReLU in place on its layer's fresh output: the
    same values and gradients (ReLU's backward reads its output either way), one activation buffer
    fewer per layer, which matters on CPUs where the step is memory-bound between the matmuls.
    """

    inplace_relu: bool = False
    fused_linear_relu: bool = False

    def __init__(self, in_dim: int, out_dim: int, hidden: int, layers: int, gen: torch.Generator | None = None) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers
        # skip_init: torch's default init would draw from the global RNG; ours uses ``gen`` only
        self.hidden = nn.ModuleList(skip_init(nn.Linear, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.out = skip_init(nn.Linear, dims[-1], out_dim)
        for layer in self.hidden:
            _fanin_(layer.weight, layer.in_features, gen)
            nn.init.constant_(layer.bias, HIDDEN_BIAS)
        with torch.no_grad():
            self.out.weight.uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen)
            self.out.bias.uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = linear_relu(x, layer.weight, layer.bias, self.fused_linear_relu, self.inplace_relu)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.trunk(x))


class EnsembleMLP(nn.Module):
    """``E`` independent MLPs of one shape evaluated together with batched matmuls.

    Mathematically identical to ``E`` separate :class:`MLP` s (each member has its own weights and,
    with an element-wise optimiser like Adam, its own updates); input ``[N, in]`` or ``[E, N, in]``,
    output ``[E, N, out]``.

    ``matmul`` (attribute) picks how the members are evaluated: ``"batched"`` (default) uses one
    batched matmul (``baddbmm``) per layer; ``"split"`` runs one ``addmm`` per member on the same
    parameters (the reference's separate networks), which is faster on CPUs where batched matmuls
    reach a lower fraction of the GEMM peak. Both compute the same function and gradients.
    """

    matmul: str = "batched"
    inplace_relu: bool = False
    fused_linear_relu: bool = False  # split mode only

    def __init__(
        self, members: int, in_dim: int, out_dim: int, hidden: int, layers: int,
        gen: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.members = members
        dims = [in_dim] + [hidden] * layers + [out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            w = torch.empty(members, a, b)
            bias = torch.empty(members, 1, b)
            last = i == len(dims) - 2
            with torch.no_grad():
                for m in range(members):  # the reference law, member by member
                    if last:
                        w[m].copy_(torch.empty(b, a).uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen).T)
                        bias[m, 0].uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen)
                    else:
                        bound = 1.0 / math.sqrt(a)
                        w[m].copy_(torch.empty(b, a).uniform_(-bound, bound, generator=gen).T)
                        bias[m].fill_(HIDDEN_BIAS)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(bias))

    def forward(self, x: torch.Tensor, detach_params: bool = False) -> torch.Tensor:
        """``detach_params=True`` lets gradients reach ``x`` but not the weights (no wasted work)."""
        params = list(zip(self.weights, self.biases, strict=True))
        if detach_params:
            params = [(w.detach(), b.detach()) for w, b in params]
        relu = torch.relu_ if self.inplace_relu else torch.relu
        last = len(params) - 1
        if self.matmul == "split":
            per_member = [(w.unbind(0), b.unbind(0)) for w, b in params]
            outs = []
            for m in range(self.members):
                h = x if x.dim() == 2 else x[m]
                for i, (ws, bs) in enumerate(per_member):
                    if i < last:
                        h = linear_relu(h, ws[m].t(), bs[m][0], self.fused_linear_relu, self.inplace_relu)
                    else:
                        h = torch.addmm(bs[m], h, ws[m])
                outs.append(h)
            return torch.stack(outs)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        for i, (w, b) in enumerate(params):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = relu(x)
        return x


def reference_fan_in_(module: nn.Module) -> None:
    """Rescale every hidden layer of the MLPs / ensembles in ``module`` from U(+-1/sqrt(inputs)) to the
    reference's U(+-1/sqrt(outputs)) (rlkit's ``fanin_init`` reads ``weight.size(0)``, the output size of an
    ``nn.Linear`` weight). The same uniform draws are scaled, so the generator's sequence is unchanged. Output
    layers keep U(+-3e-3)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, MLP):
                for layer in m.hidden:
                    layer.weight.mul_(math.sqrt(layer.in_features / layer.out_features))
            elif isinstance(m, EnsembleMLP):
                for w in list(m.weights)[:-1]:  # [members, in, out]
                    w.mul_(math.sqrt(w.shape[1] / w.shape[2]))


def set_fast_paths(
    module: nn.Module, *, inplace_relu: bool, ensemble_matmul: str = "batched", fused_linear_relu: bool = False
) -> None:
    """Set the (value-preserving) evaluation options of every MLP / ensemble inside ``module``."""
    for m in module.modules():
        if isinstance(m, (MLP, EnsembleMLP)):
            m.inplace_relu = inplace_relu
            m.fused_linear_relu = fused_linear_relu
        if isinstance(m, EnsembleMLP):
            m.matmul = ensemble_matmul
