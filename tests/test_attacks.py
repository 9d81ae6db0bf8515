import pytest
import torch

from hebm_lib.distributions import gaussian_kl
from hebm_lib.evaluation import attacks
from hebm_lib.configs import get_config
from hebm_lib.models import build_model

def test_diag_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_a, lv_a, mu_b, lv_b = torch.randn(4, 5, 3, generator=g).unbind(0)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu_a, (0.5 * lv_a).exp()),
                                            torch.distributions.Normal(mu_b, (0.5 * lv_b).exp())).sum(1)
    assert torch.allclose(gaussian_kl(mu_a, lv_a, mu_b, lv_b), ref, atol=1e-5)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model(get_config("mnist_ours", "smoke")).eval()


def _pairs(n=6):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.rand(n, 1, 28, 28, generator=g) * 2 - 1


@pytest.mark.parametrize("name", ["mnist_ours", "mnist_vae"])
def test_attack_lowers_the_layer_kl_within_the_budget_and_pixel_box(name):
    # (untrained nets: only the bottom layer's posterior depends much on the input)
    torch.manual_seed(0)
    model, layer = build_model(get_config(name, "smoke")).eval(), 0
    x_o, x_t = _pairs()
    out = attacks.latent_attack(model, x_o, x_t, layer, budget=2.0, steps=40, lr=0.05)
    assert (out["distortion"] <= 2.0 + 1e-4).all()
    assert out["x_adv"].min() >= -1 and out["x_adv"].max() <= 1
    assert out["kl_before"].mean() > 1e-3  # the pairs differ on this layer
    assert out["kl_after"].mean() < 0.9 * out["kl_before"].mean()


def test_zero_budget_changes_nothing(model):
    x_o, x_t = _pairs()
    out = attacks.latent_attack(model, x_o, x_t, 1, budget=0.0, steps=5)
    assert torch.allclose(out["x_adv"], x_o)
    assert torch.allclose(out["kl_after"], out["kl_before"], atol=1e-5)


def test_attack_rejects_bad_input(model):
    x_o, x_t = _pairs()
    with pytest.raises(ValueError, match="layer 3 out of range"):
        attacks.latent_attack(model, x_o, x_t, 3, budget=1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        attacks.latent_attack(model, x_o, x_t[:2], 0, budget=1.0)


def test_target_progress_endpoints():
    r_o, r_t = torch.zeros(2, 4), torch.ones(2, 4)
    assert torch.allclose(attacks.target_progress(r_o, r_o, r_t), torch.zeros(2))
    assert torch.allclose(attacks.target_progress(r_t, r_o, r_t), torch.ones(2))
    assert torch.allclose(attacks.target_progress(0.5 * r_t, r_o, r_t), torch.full((2,), 0.5))
