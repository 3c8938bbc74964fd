"""PEARL's speed options change how a gradient step is computed, never its gradients (the PEARL reference losses).

Every option, alone and combined, is compared with the plain step (every option off: the reference's
computation) on identical weights, batches and noise: the gradient each optimiser applies, and every
parameter after the update, must agree to fp32 round-off.
"""

import copy

import pytest
import torch

from nacre.algos.pearl.config import PearlConfig
from nacre.config import ConfigError
from nacre.nn import precision as prec
from nacre.nn.mlp import MLP, EnsembleMLP
from tests.unit.test_pearl_losses import _learner_and_batch

PLAIN = dict(q_ensemble="split", detach_critic_in_policy_loss=False, fused_v_policy_backward=False,
             inplace_relu=False, fused_linear_relu=False)  # fmt: skip
FAST = {
    "batched": dict(q_ensemble="batched"),
    "detach": dict(detach_critic_in_policy_loss=True),
    "fused": dict(fused_v_policy_backward=True),
    "inplace": dict(inplace_relu=True),
    "fused-linear-relu": dict(fused_linear_relu=True),
    "all": dict(
        detach_critic_in_policy_loss=True, fused_v_policy_backward=True, inplace_relu=True, fused_linear_relu=True
    ),  # fmt: skip
    "all-batched": dict(
        q_ensemble="batched",
        detach_critic_in_policy_loss=True,
        fused_v_policy_backward=True,
        inplace_relu=True,
        fused_linear_relu=True,
    ),  # fmt: skip
}
MODULES = ("encoder", "qf", "vf", "policy", "target_vf")


@pytest.fixture(autouse=True)
def _fused_kernel_everywhere(monkeypatch):
    """Run the fused linear+ReLU kernel even on CPUs where the option falls back (it is checked, not timed)."""
    from nacre.nn import mlp

    monkeypatch.setattr(mlp, "_fused_linear_relu_pays", lambda rows: True)


def _setup(**overrides):
    return _learner_and_batch(hidden_size=24, **overrides)


def _applied_grads(learner):
    """The gradient of each network's parameters at the moment its own optimiser steps."""
    own = {"context": "encoder", "qf": "qf", "vf": "vf", "policy": "policy"}
    seen = {}
    for name, opt in learner.optimizers.items():
        original = opt.step

        def step(*a, _name=name, _orig=original, **k):
            seen[_name] = [p.grad.clone() for p in getattr(learner.nets, own[_name]).parameters()]
            return _orig(*a, **k)

        opt.step = step
    return seen


def _one_update(steps=1, **overrides):
    learner, batch, context = _setup(**overrides)
    seen = _applied_grads(learner)
    for _ in range(steps):
        metrics = learner.update(batch, context)
    return learner, seen, metrics


def test_speed_option_defaults_are_the_lossless_fast_path():
    cfg = PearlConfig()
    assert (cfg.q_ensemble, cfg.detach_critic_in_policy_loss, cfg.fused_v_policy_backward, cfg.inplace_relu,
            cfg.fused_linear_relu) == ("split", True, True, True, True)  # fmt: skip
    assert cfg.precision == "fp32"  # bf16 is lossy: never the default


@pytest.mark.parametrize("name", sorted(FAST))
def test_each_fast_path_applies_exactly_the_plain_gradients(name):
    plain, plain_grads, plain_metrics = _one_update(**PLAIN)
    fast, fast_grads, fast_metrics = _one_update(**{**PLAIN, **FAST[name]})
    assert plain_grads.keys() == fast_grads.keys() == {"context", "qf", "vf", "policy"}
    for opt in plain_grads:
        for a, b in zip(plain_grads[opt], fast_grads[opt], strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7, msg=f"{name}: gradient applied by {opt}")
    for mod in MODULES:
        for a, b in zip(getattr(plain.nets, mod).parameters(), getattr(fast.nets, mod).parameters(), strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7, msg=f"{name}: {mod} after the update")
    for key in plain_metrics:
        torch.testing.assert_close(fast_metrics[key], plain_metrics[key], rtol=1e-5, atol=1e-6)


def test_fast_and_plain_stay_together_over_several_updates():
    plain, _, _ = _one_update(steps=5, **PLAIN)
    fast, _, _ = _one_update(steps=5)  # the defaults
    for mod in MODULES:
        for a, b in zip(getattr(plain.nets, mod).parameters(), getattr(fast.nets, mod).parameters(), strict=True):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_plain_path_computes_and_drops_the_critic_gradients_of_the_policy_loss():
    # the wasted work the detach option removes exists in the plain step, and is never applied
    learner, batch, context = _setup(**PLAIN)
    seen = {}
    original = learner.optimizers["policy"].step

    def step(*a, **k):
        seen["qf"] = [p.grad for p in learner.nets.qf.parameters()]
        return original(*a, **k)

    learner.optimizers["policy"].step = step
    learner.update(batch, context)
    assert all(g is not None and g.abs().sum() > 0 for g in seen["qf"])
    assert all(p.grad is None for p in learner.nets.qf.parameters())  # dropped after the step
    fast, batch, context = _setup()
    fast.update(batch, context)
    assert all(p.grad is not None for p in fast.nets.qf.parameters())  # only L_Q's, checked above


def test_comparison_fails_when_routing_breaks(monkeypatch):
    """The equivalence check is sensitive: letting L_pi's critic gradients reach the critics' update shows."""
    _, plain_grads, _ = _one_update(steps=2, **PLAIN)
    learner, batch, context = _setup()
    original = learner.nets.qf.forward
    monkeypatch.setattr(learner.nets.qf, "forward", lambda x, detach_params=False: original(x, False))
    monkeypatch.setattr(learner.optimizers["qf"], "zero_grad", lambda set_to_none=True: None)
    seen = _applied_grads(learner)
    learner.update(batch, context)
    learner.update(batch, context)  # the critic step now applies L_Q + the previous step's L_pi gradients
    assert any(not torch.allclose(a, b, rtol=1e-5, atol=1e-7)
               for a, b in zip(plain_grads["qf"], seen["qf"], strict=True))  # fmt: skip


def test_split_and_batched_ensembles_compute_the_same_function_and_gradients():
    x = torch.randn(64, 7)
    nets = {}
    for mode in ("batched", "split"):
        net = EnsembleMLP(2, 7, 3, 16, 3, torch.Generator().manual_seed(0))
        net.matmul = mode
        nets[mode] = net
        xi = x.clone().requires_grad_(True)
        out = net(xi)
        (out.pow(2).sum() + out[0].sum()).backward()
        nets[mode] = (out.detach(), xi.grad, [p.grad for p in net.parameters()])
    (ob, xb, gb), (os_, xs, gs) = nets["batched"], nets["split"]
    torch.testing.assert_close(os_, ob)
    torch.testing.assert_close(xs, xb)
    for a, b in zip(gb, gs, strict=True):
        torch.testing.assert_close(b, a)
    # member inputs [E, N, in] and detached weights work the same way in both modes
    net = EnsembleMLP(2, 7, 3, 16, 3, torch.Generator().manual_seed(0))
    x2 = torch.randn(2, 64, 7, requires_grad=True)
    outs = []
    for mode in ("batched", "split"):
        net.matmul = mode
        outs.append(net(x2, detach_params=True))
    torch.testing.assert_close(outs[1], outs[0])
    outs[1].sum().backward()
    assert x2.grad is not None and all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("shape", [(32, 5), (3, 7, 5)])
def test_inplace_and_fused_relu_mlps_match_the_plain_mlp(shape):
    x = torch.randn(*shape)
    results = []
    for inplace, fused in ((False, False), (True, False), (False, True)):
        net = MLP(5, 2, 16, 3, torch.Generator().manual_seed(0))
        net.inplace_relu, net.fused_linear_relu = inplace, fused
        xi = x.clone().requires_grad_(True)
        out = net(xi)
        out.pow(2).sum().backward()
        results.append([out.detach(), xi.grad] + [p.grad for p in net.parameters()])
    for a, b in zip(results[0], results[1], strict=True):
        assert torch.equal(a, b)  # in place: bit for bit
    for a, b in zip(results[0], results[2], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)  # one oneDNN primitive: fp32 round-off


def test_fused_linear_relu_under_bf16_autocast_matches_autocast():
    x = torch.randn(64, 5)
    results = []
    for fused in (False, True):
        net = MLP(5, 2, 16, 3, torch.Generator().manual_seed(0))
        net.fused_linear_relu = fused
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x.requires_grad_(False))
        assert out.dtype == torch.bfloat16
        out.float().pow(2).sum().backward()
        results.append([out.float()] + [p.grad for p in net.parameters()])
    for a, b in zip(*results, strict=True):
        assert b.dtype == a.dtype
        torch.testing.assert_close(b, a, rtol=2e-2, atol=1e-3)


def test_bf16_fast_path_stays_close_to_bf16_plain():
    plain, plain_grads, _ = _one_update(precision="bf16", **PLAIN)
    fast, fast_grads, _ = _one_update(precision="bf16")
    assert plain.precision == fast.precision == "bf16"
    for opt in plain_grads:
        a = torch.cat([g.flatten() for g in plain_grads[opt]])
        b = torch.cat([g.flatten() for g in fast_grads[opt]])
        assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99, opt


def test_precision_auto_resolution(monkeypatch):
    assert prec.resolve_precision("fp32", "cpu") == "fp32"
    assert prec.resolve_precision("bf16", "cpu") == "bf16"
    assert prec.resolve_precision("auto", "mps") == "fp32"
    monkeypatch.setattr(prec, "cpu_bf16_matmul_supported", lambda: False)
    assert prec.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(prec, "cpu_bf16_matmul_supported", lambda: True)
    monkeypatch.setattr(prec, "cpu_bf16_matmul_faster", lambda: False)  # bf16 units, but slower than fp32 here
    assert prec.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(prec, "cpu_bf16_matmul_faster", lambda: True)
    assert prec.resolve_precision("auto", "cpu") == "bf16"
    learner, _, _ = _setup(precision="auto")
    assert learner.precision == "bf16" and learner.cfg.precision == "auto"


def test_bf16_is_faster_only_above_the_measured_margin(monkeypatch):
    """The measured rule: bf16 is chosen only when its matrix product beats fp32's by BF16_MIN_SPEEDUP, once per
    thread count."""
    speedup = prec._cpu_bf16_speedup(torch.get_num_threads())  # the real measurement on this machine
    assert 0.0 < speedup < float("inf")
    assert prec.cpu_bf16_matmul_faster() == (speedup >= prec.BF16_MIN_SPEEDUP)
    calls = []

    def measured(threads):
        calls.append(threads)
        return {1: prec.BF16_MIN_SPEEDUP * 0.9, 2: prec.BF16_MIN_SPEEDUP}[threads]

    monkeypatch.setattr(prec, "_cpu_bf16_speedup", measured)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert not prec.cpu_bf16_matmul_faster()
        torch.set_num_threads(2)
        assert prec.cpu_bf16_matmul_faster()
    finally:
        torch.set_num_threads(threads)
    assert calls == [1, 2]


def test_speed_options_are_validated_and_run_only():
    with pytest.raises(ConfigError, match="q_ensemble"):
        PearlConfig(q_ensemble="vmap")
    with pytest.raises(ConfigError, match="precision"):
        PearlConfig(precision="fp16")
    with pytest.raises(ConfigError, match="inplace_relu"):
        PearlConfig(inplace_relu="yes")
    for name in ("q_ensemble", "detach_critic_in_policy_loss", "fused_v_policy_backward", "inplace_relu",
                 "fused_linear_relu", "precision"):  # fmt: skip
        assert name in PearlConfig.run_only_fields  # lossless (or precision): may change on resume


def test_learner_state_loads_across_speed_options():
    fast, batch, context = _setup()
    fast.update(batch, context)
    plain, _, _ = _setup(**PLAIN)
    plain.load_state_dict(copy.deepcopy(fast.state_dict()))
    plain.gen.set_state(fast.gen.get_state())
    a, b = fast.update(batch, context), plain.update(batch, context)
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6)


def test_changed_speed_options_take_effect_on_a_running_learner():
    learner, batch, context = _setup()
    learner.update(batch, context)
    assert learner.nets.qf.matmul == "split" and learner.precision == "fp32"
    learner.cfg = learner.cfg.replace(q_ensemble="batched", inplace_relu=False, precision="bf16")
    learner.update(batch, context)
    assert learner.nets.qf.matmul == "batched" and not learner.nets.vf.inplace_relu and learner.precision == "bf16"


@pytest.mark.parametrize(
    "flags, shape, fused_runs",
    [
        ({"avx2", "avx512f"}, (2048, 3), True),
        ({"avx2", "avx512f"}, (16, 128, 3), True),  # rows = product of the leading dimensions
        ({"avx2", "avx512f"}, (2047, 3), False),  # too few rows: the primitive's overhead outweighs the gain
        ({"avx2", "fma"}, (4096, 3), False),  # slower on an AVX2-only CPU at any size
    ],
)
def test_fused_linear_relu_only_on_avx512_and_large_inputs(monkeypatch, flags, shape, fused_runs):
    """The fused kernel measured slower on an AVX2-only CPU and below FUSED_MIN_ROWS rows: there the option
    computes matmul then ReLU."""
    from nacre.nn import mlp

    monkeypatch.undo()  # drop the autouse fixture's override
    assert mlp.FUSED_MIN_ROWS == 2048
    mlp._fused_linear_relu_cpu_pays.cache_clear()
    monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset(flags))
    calls = []
    monkeypatch.setattr(mlp._LinearReLU, "apply", lambda *a: calls.append(1) or torch.relu(a[0] @ a[1].t() + a[2]))
    try:
        x, w, b = torch.randn(*shape), torch.randn(5, 3), torch.randn(5)
        y = mlp.linear_relu(x, w, b, fused=True, inplace=False)
        torch.testing.assert_close(y, torch.relu(x @ w.t() + b))
        assert bool(calls) == (fused_runs and mlp._fused_linear_relu_available())
    finally:
        mlp._fused_linear_relu_cpu_pays.cache_clear()
