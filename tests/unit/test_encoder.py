"""Context encoders: permutation invariance, shrinking variance, ablations, recurrent variants."""

import torch

from nacre.nn.encoders import RecurrentEncoder, TransitionEncoder


def _encoder(prob=True):
    return TransitionEncoder(6, 3, 16, 2, probabilistic=prob, gen=torch.Generator().manual_seed(0))


def test_encoder_is_permutation_invariant():
    enc = _encoder()
    ctx = torch.randn(2, 9, 6, generator=torch.Generator().manual_seed(1))
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(2))
    a, b = enc(ctx), enc(ctx[:, perm])
    torch.testing.assert_close(a.mean, b.mean)
    torch.testing.assert_close(a.var, b.var)


def test_posterior_variance_shrinks_as_context_grows():
    enc = _encoder()
    ctx = torch.randn(1, 40, 6, generator=torch.Generator().manual_seed(3))
    variances = [enc(ctx[:, :n]).var for n in (1, 5, 20, 40)]
    for small, large in zip(variances[1:], variances[:-1], strict=True):
        assert (small < large).all()


def test_empty_context_gives_the_prior():
    post = _encoder()(torch.zeros(2, 0, 6))
    assert torch.equal(post.mean, torch.zeros(2, 3)) and torch.equal(post.var, torch.ones(2, 3))


def test_deterministic_ablation_is_the_mean_of_point_estimates():
    enc = _encoder(prob=False)
    ctx = torch.randn(2, 5, 6, generator=torch.Generator().manual_seed(4))
    post = enc(ctx)
    torch.testing.assert_close(post.mean, enc.net(ctx).mean(1))
    assert torch.equal(post.var, torch.zeros_like(post.var))


def test_recurrent_encoder_depends_on_order_and_learns():
    enc = RecurrentEncoder(6, 3, 16, gen=torch.Generator().manual_seed(0))
    ctx = torch.randn(1, 8, 6, generator=torch.Generator().manual_seed(5))
    a, b = enc(ctx), enc(ctx.flip(1))
    assert not torch.allclose(a.mean, b.mean)
    target = torch.tensor([[1.0, -1.0, 0.5]])
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    first = None
    for _ in range(100):
        loss = (enc(ctx).mean - target).pow(2).sum()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01 * first
