"""Gaussian beliefs and the tanh-Gaussian policy distribution against closed forms."""

import math

import numpy as np
import torch

from nacre.nn.distributions import Posterior, product_of_gaussians, tanh_gaussian_sample


def test_product_of_gaussians_matches_sequential_bayes_update():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 7, 4, generator=g, dtype=torch.float64)
    var = torch.rand(3, 7, 4, generator=g, dtype=torch.float64) + 0.05
    post = product_of_gaussians(mu, var)
    for t in range(3):
        m, v = mu[t, 0].clone(), var[t, 0].clone()
        for n in range(1, 7):  # multiply two Gaussians at a time: closed form
            m = (m * var[t, n] + mu[t, n] * v) / (v + var[t, n])
            v = v * var[t, n] / (v + var[t, n])
        torch.testing.assert_close(post.mean[t], m)
        torch.testing.assert_close(post.var[t], v)


def test_single_factor_is_returned_unchanged():
    mu, var = torch.tensor([[[0.3, -2.0]]]), torch.tensor([[[0.5, 4.0]]])
    post = product_of_gaussians(mu, var)
    torch.testing.assert_close(post.mean, mu[:, 0])
    torch.testing.assert_close(post.var, var[:, 0])


def test_kl_to_standard_normal_matches_torch_distributions():
    mean = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    var = torch.tensor([[0.25, 2.0, 1.0], [1.0, 1.0, 1.0]])
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, var.sqrt()), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    torch.testing.assert_close(Posterior(mean, var).kl_to_standard_normal(), expected)
    assert Posterior.prior(2, 3).kl_to_standard_normal().abs().max() == 0


def test_reparameterised_sample_has_gradients_and_right_moments():
    mean = torch.tensor([[1.0, -2.0]], requires_grad=True)
    var = torch.tensor([[0.25, 4.0]], requires_grad=True)
    g = torch.Generator().manual_seed(1)
    z = torch.cat([Posterior(mean, var).sample(g) for _ in range(20000)])
    z.sum().backward()
    assert mean.grad is not None and var.grad is not None
    np.testing.assert_allclose(z.mean(0).detach(), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.var(0).detach(), [0.25, 4.0], rtol=0.05)


def test_tanh_gaussian_log_prob_against_hand_computation():
    mean = torch.tensor([[0.3, -1.2]], dtype=torch.float64)
    log_std = torch.tensor([[-0.5, 0.4]], dtype=torch.float64)
    s = tanh_gaussian_sample(mean, log_std, torch.Generator().manual_seed(3))
    u, std = s.pre_tanh, log_std.exp()
    by_hand = 0.0
    for i in range(2):
        ui, mi, si = u[0, i].item(), mean[0, i].item(), std[0, i].item()
        normal = -0.5 * ((ui - mi) / si) ** 2 - math.log(si) - 0.5 * math.log(2 * math.pi)
        by_hand += normal - math.log(1 - math.tanh(ui) ** 2)
    assert abs(s.log_prob.item() - by_hand) < 1e-9
    torch.testing.assert_close(s.action, torch.tanh(u))


def test_tanh_gaussian_clamps_log_std_and_deterministic_is_tanh_mean():
    mean = torch.zeros(1, 2)
    s = tanh_gaussian_sample(mean, torch.tensor([[-50.0, 10.0]]), deterministic=True)
    assert s.log_std.tolist() == [[-20.0, 2.0]]
    torch.testing.assert_close(s.action, torch.tanh(mean))
