"""PEARL's reference initialisation (``reference_init``, used by the ``paper`` preset)."""

import math

import pytest
import torch

from nacre.algos.pearl.config import preset
from nacre.algos.pearl.learner import PearlNetworks

OBS, ACT = 20, 6  # Half-Cheetah


def _nets(reference: bool) -> PearlNetworks:
    cfg = preset("paper", "cheetah-vel", reference_init=reference)
    return PearlNetworks(cfg, OBS, ACT, torch.Generator().manual_seed(0))


def _bound(w: torch.Tensor) -> float:
    return float(w.detach().abs().max())


def test_paper_preset_uses_the_reference_init_and_other_presets_do_not():
    assert preset("paper", "cheetah-vel").reference_init
    assert not preset("fast", "cheetah-vel").reference_init and not preset("tiny", "cheetah-vel").reference_init


@pytest.mark.parametrize("reference", [True, False])
def test_first_layer_and_head_bounds(reference):
    n = _nets(reference)
    q_in, enc_in = OBS + ACT + 5, OBS + ACT + 1  # (s, a, z) and context (s, a, r)
    q_first, enc_first = n.qf.weights[0], n.encoder.net.hidden[0].weight
    heads = [n.policy.net.out.weight, n.policy.net.out.bias, n.policy.log_std.out.weight, n.policy.log_std.out.bias]
    want_q = 1 / math.sqrt(300) if reference else 1 / math.sqrt(q_in)  # 0.0577 vs 0.180
    want_enc = 1 / math.sqrt(200) if reference else 1 / math.sqrt(enc_in)  # 0.0707 vs 0.192
    want_head = 1e-3 if reference else 3e-3
    for w, want in [(q_first, want_q), (enc_first, want_enc), (n.vf.hidden[0].weight, 1 / math.sqrt(300 if
                    reference else OBS + 5)), (n.policy.net.hidden[0].weight, 1 / math.sqrt(300 if reference
                    else OBS + 5))]:  # fmt: skip
        assert 0.98 * want < _bound(w) <= want  # thousands of uniform draws reach close to the bound
    for h in heads:
        assert 0.5 * want_head < _bound(h) <= want_head
    # square hidden layers (300 x 300) and the Q / V output layers are the same under both rules
    assert 0.98 / math.sqrt(300) < _bound(n.qf.weights[1]) <= 1 / math.sqrt(300)
    assert 2.9e-3 < _bound(n.qf.weights[-1]) <= 3e-3


def test_reference_init_scales_the_same_draws():
    ref, plain = _nets(True), _nets(False)
    ratio = ref.qf.weights[0] / plain.qf.weights[0]
    torch.testing.assert_close(ratio, torch.full_like(ratio, math.sqrt((OBS + ACT + 5) / 300)))
    torch.testing.assert_close(ref.qf.weights[1], plain.qf.weights[1])
    torch.testing.assert_close(ref.target_vf.hidden[0].weight, ref.vf.hidden[0].weight)  # target copies V
