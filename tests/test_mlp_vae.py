"""VHP's Table 2 baselines: IWAE (L = 1, 2) and the VampPrior VAE."""
import math

import pytest
import torch

from hebm_lib import data
from hebm_lib.configs import get_config
from hebm_lib.evaluation.likelihood import importance_sampled_log_likelihood
from hebm_lib.models import build_model
from hebm_lib.training import Trainer


def _model(name, overrides=None):
    torch.manual_seed(0)
    return build_model(get_config(name, "smoke", overrides)).eval()


def test_the_vampprior_is_a_normalised_density():
    model = _model("mnist_nll_vamp", {"nets.latent_dims": [1]})
    grid = torch.linspace(-12, 12, 20_001)[:, None]
    with torch.no_grad():
        mass = model._log_prior_top(grid).exp().sum() * (grid[1] - grid[0])
    assert abs(mass.item() - 1) < 1e-3


@pytest.mark.parametrize("name", ["mnist_nll_iwae1", "mnist_nll_iwae2", "mnist_nll_vamp"])
def test_the_importance_weight_is_log_joint_minus_log_q(name):
    model = _model(name)
    x = torch.bernoulli(torch.rand(4, 1, 28, 28)) * 2 - 1
    with torch.no_grad():
        w = model.log_importance_weight(x, torch.Generator().manual_seed(0))
        z = model._last_z
        mu1, lv1 = model._q1(x.flatten(1))
        from hebm_lib.distributions import gaussian_log_prob
        log_q = gaussian_log_prob(model.split(z)[0], mu1, lv1)
        if model.two_layers:
            mu2, lv2 = model._q2(model.split(z)[0])
            log_q = log_q + gaussian_log_prob(model.split(z)[1], mu2, lv2)
        assert torch.allclose(w, model.log_joint(x, z) - log_q, atol=1e-3)


def test_the_k_sample_bound_is_tighter_than_the_elbo_and_below_the_estimate():
    model = _model("mnist_nll_iwae2", {"nets.iw_samples": 20})
    x = torch.bernoulli(torch.rand(8, 1, 28, 28)) * 2 - 1
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        k20 = torch.stack([-model.neg_elbo_terms(x, g).rec for _ in range(50)]).mean()
        model.objective = "elbo"
        k1 = torch.stack([-model.neg_elbo_terms(x, g).rec for _ in range(50)]).mean()
        est = importance_sampled_log_likelihood(model.log_importance_weight, x, 2000, g).mean()
    assert k1 < k20 < est


@pytest.mark.parametrize("name", ["mnist_nll_iwae1", "mnist_nll_iwae2", "mnist_nll_vamp", "mnist_nll_vhp_rewo"])
def test_short_training_raises_the_bound(name):
    images = data.load("mnist5k", "train").subset(512).images
    cfg = get_config(name, "smoke", {"train.batch_size": 32, "train.lr": 3e-3})
    trainer = Trainer(cfg, build_model(cfg), images, 0, torch.device("cpu"))
    losses = []
    for _ in range(40):
        trainer.step()
        losses.append(trainer.read_stats()["rec"])
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:3]) / 3


def test_the_bound_objective_refuses_a_kl_weight_schedule():
    with pytest.raises(ValueError, match="no KL weight"):
        get_config("mnist_nll_iwae1", "smoke", {"schedule": {"kind": "warmup", "iterations": 5}})


def test_the_gaussian_likelihood_is_the_normal_density():
    """The pendulum IWAE: log p(x, z) = log N(x; decode(z), sigma^2 I) + log N(z; 0, I), constants kept."""
    model = _model("pendulum_iwae")
    assert model.nets.gaussian_sigma == 0.1
    x, z = torch.rand(4, 1, 16, 16) * 2 - 1, torch.randn(4, 2)
    normal = torch.distributions.Normal
    with torch.no_grad():
        expected = normal(model.decode(z).flatten(1), 0.1).log_prob(x.flatten(1)).sum(1) \
            + normal(0.0, 1.0).log_prob(z).sum(1)
        assert torch.allclose(model.log_joint(x, z), expected, atol=1e-3)
    with pytest.raises(ValueError, match="gaussian_sigma"):
        get_config("pendulum_iwae", "smoke", {"nets.gaussian_sigma": None})
    with pytest.raises(ValueError, match="gaussian_sigma"):
        get_config("mnist_nll_iwae1", "smoke", {"nets.gaussian_sigma": 0.1})
