"""The importance-sampled log-likelihood against a linear-Gaussian model, whose log p(x) is exact."""
import math

import torch

from hebm_lib.evaluation.likelihood import importance_sampled_log_likelihood

torch.manual_seed(0)
W = torch.randn(5, 2)          # x = W z + noise, z ~ N(0, I_2), noise ~ N(0, SIG2 I_5)
SIG2 = 0.3


def _exact(x):
    cov = W @ W.T + SIG2 * torch.eye(5)
    return torch.distributions.MultivariateNormal(torch.zeros(5), cov).log_prob(x)


def _log_normal(v, mean, var):
    return (-0.5 * ((v - mean) ** 2 / var + torch.log(2 * math.pi * var))).sum(-1)


def _weight(q_mean_of, q_var):
    def log_weight(x, rng):
        m = q_mean_of(x)
        z = m + q_var.sqrt() * torch.randn(m.shape, generator=rng)
        return (_log_normal(x, z @ W.T, torch.tensor(SIG2)) + _log_normal(z, torch.zeros(()), torch.tensor(1.0))
                - _log_normal(z, m, q_var))
    return log_weight


X = torch.randn(4, 5) * 1.5


def test_the_exact_posterior_gives_the_exact_log_likelihood_at_one_sample():
    precision = torch.eye(2) + W.T @ W / SIG2
    cov = torch.linalg.inv(precision)
    # the exact posterior has a full covariance: whiten z by it so the weight is constant
    chol = torch.linalg.cholesky(cov)

    def log_weight(x, rng):
        m = x @ W @ cov.T / SIG2
        z = m + torch.randn(m.shape, generator=rng) @ chol.T
        log_q = torch.distributions.MultivariateNormal(torch.zeros(2), cov).log_prob(z - m)
        return _log_normal(x, z @ W.T, torch.tensor(SIG2)) + _log_normal(z, torch.zeros(()), torch.tensor(1.0)) - log_q

    got = importance_sampled_log_likelihood(log_weight, X, 1, torch.Generator().manual_seed(0))
    assert torch.allclose(got.float(), _exact(X), atol=1e-4)


def test_a_poor_proposal_converges_to_the_exact_value_with_5000_samples_and_is_below_it_with_one():
    log_weight = _weight(lambda x: 0.2 * x[:, :2], torch.tensor([0.5, 0.5]))
    g = torch.Generator().manual_seed(1)
    many = importance_sampled_log_likelihood(log_weight, X, 5000, g, chunk=700)
    assert torch.allclose(many.float(), _exact(X), atol=0.1)
    one = torch.stack([importance_sampled_log_likelihood(log_weight, X, 1, g) for _ in range(2000)]).mean(0)
    assert (one.float() < _exact(X) - 0.3).all()     # the ELBO: a bound, clearly loose for this q


def test_vhp_importance_weights_tighten_its_elbo():
    """On a VHP (untrained, smoke nets) the 500-sample estimate is above the mean single-draw weight
    (= the ELBO with log p(z) by its bound), and the Gaussian likelihood carries its constant."""
    from hebm_lib.configs import get_config
    from hebm_lib.models import build_model
    torch.manual_seed(0)
    model = build_model(get_config("pendulum_vhp_rewo", "smoke")).eval()
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    g = torch.Generator().manual_seed(0)
    weight = lambda xs, rng: model.log_importance_weight(xs, rng)
    with torch.no_grad():
        elbo = torch.stack([weight(x, g) for _ in range(300)]).mean(0)
        est = importance_sampled_log_likelihood(weight, x, 500, g)
        assert (est.float() > elbo).all()
        mean = model.decode(model.encode(x)[0])
        constant = -0.5 * 256 * math.log(2 * math.pi * model.sigma ** 2)
        assert torch.allclose(model.log_likelihood(x, mean), -model.reconstruction_nll(x, mean) + constant)
