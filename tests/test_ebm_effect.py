"""What the EBM prior changes (hebm_lib.evaluation.ebm_effect), on energies whose answers are known."""
import dataclasses
import math

import pytest
import torch

from hebm_lib.configs import config_names, get_config
from hebm_lib.evaluation.ebm_capacity import refit_prior
from hebm_lib.evaluation.ebm_effect import ebm_effect, tilt_measures
from hebm_lib.models import build_model


def _model_with_linear_tilt(w: torch.Tensor, shift: float):
    """An Ours model whose f(z) = w . z + shift exactly: one hidden layer kept in LeakyReLU's linear part
    (pre-activations z + 100 > 0 for any z that matters), no spectral norm; then p_alpha = N(w, I)."""
    cfg = get_config("fmnist_ours", "smoke", {"prior.layers": 1, "prior.spectral_norm": False,
                                              "prior.hidden": len(w)})
    model = build_model(cfg).eval()
    first, last = model.prior.linears
    with torch.no_grad():
        first.weight.copy_(torch.eye(len(w)))
        first.bias.fill_(100.0)
        last.weight.copy_(w[None])
        last.bias.fill_(shift - 100.0 * w.sum().item())
    return model


def test_a_constant_energy_changes_nothing():
    """f = c: the tilted prior is N(0, I); log Z = c, every other measure 0 (up to Monte Carlo)."""
    w = torch.zeros(6)
    model = _model_with_linear_tilt(w, 0.7)
    images = torch.randint(0, 256, (200, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = ebm_effect(model, images, n=4000, generator=torch.Generator().manual_seed(1))
    assert out["log_partition"] == pytest.approx(0.7, abs=1e-6)   # f in float32
    assert abs(out["kl_from_gaussian"]) < 1e-6 and abs(out["energy_gap"]) < 1e-6 and abs(out["posterior_gain"]) < 1e-6
    # grad f = 0: every chain is its f = 0 twin (same start, same noise), up to float rounding
    assert out["langevin_move"] < 1e-4


def test_a_linear_energy_is_a_shifted_gaussian():
    """f(z) = w . z + c: p_alpha = N(w, I), so KL(p_alpha || N(0, I)) = |w|^2 / 2 and log Z = |w|^2 / 2 + c."""
    w = torch.tensor([0.8, -0.4, 0.0, 0.0, 0.0, 0.0])
    model = _model_with_linear_tilt(w, -1.0)
    images = torch.randint(0, 256, (200, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = ebm_effect(model, images, n=40_000, generator=torch.Generator().manual_seed(2))
    half_sq = 0.5 * w.pow(2).sum().item()   # 0.4
    assert out["kl_from_gaussian"] == pytest.approx(half_sq, rel=0.05)
    assert out["log_partition"] == pytest.approx(half_sq - 1.0, abs=0.02)
    # grad f = w: each chain drifts from its f = 0 twin by exactly w (1 - (1 - s^2 / 2)^K)
    prior = model.prior
    shrink = 1 - (1 - prior.step_size ** 2 / 2) ** prior.steps
    assert out["langevin_move"] == pytest.approx(w.norm().item() * shrink, rel=1e-4)


def test_it_refuses_a_model_without_an_ebm():
    with pytest.raises(ValueError, match="joint EBM prior"):
        ebm_effect(build_model(get_config("fmnist_vlae", "smoke")), torch.zeros(4, 1, 28, 28, dtype=torch.uint8))


# the bound on every page: KL(p_alpha || N(0, I)) <= 1/2 E_p |grad f|^2 (Gaussian log-Sobolev) <= 1/2 cap^2


def test_the_bound_of_a_linear_energy_is_its_kl_exactly():
    """f(z) = w . z: grad f = w everywhere, so 1/2 E_p |grad f|^2 = |w|^2 / 2 = KL(N(w, I) || N(0, I)): the bound
    is tight; max |grad f| = |w|, and the Lipschitz cap (eye, then w) is |w| too."""
    w = torch.tensor([0.8, -0.4, 0.0, 0.0, 0.0, 0.0])
    model = _model_with_linear_tilt(w, 0.3)
    out = tilt_measures(model.prior, 40_000, torch.Generator().manual_seed(3))
    half_sq = 0.5 * w.pow(2).sum().item()
    assert out["kl_bound"] == pytest.approx(half_sq, rel=1e-5)
    assert out["grad_max"] == pytest.approx(w.norm().item(), rel=1e-5)
    assert out["lipschitz_cap"] == pytest.approx(w.norm().item(), rel=1e-5)
    assert out["kl_from_gaussian"] == pytest.approx(half_sq, rel=0.05)
    assert out["tv_bound"] == pytest.approx((out["kl_from_gaussian"] / 2) ** 0.5)


class _QuadraticTilt(torch.nn.Module):
    """f(z) = -c |z|^2 / 2: p_alpha = N(0, I / (1 + c)), not Lipschitz (its cap is infinite)."""

    def __init__(self, c: float, dim: int):
        super().__init__()
        self.c, self.dim = c, dim
        self.unused = torch.nn.Parameter(torch.zeros(1))   # where the measures find the device

    def tilt(self, z):
        return -0.5 * self.c * z.pow(2).sum(1)

    def lipschitz_cap(self):
        return float("inf")


@pytest.mark.parametrize("c", [0.5, -0.2])
def test_a_quadratic_energy_in_closed_form(c):
    """p_alpha = N(0, v I), v = 1 / (1 + c): KL = d/2 (v - 1 - log v) and 1/2 E_p |grad f|^2 = c^2 d v / 2, which
    is larger, as the inequality says."""
    d = 3
    v = 1 / (1 + c)
    out = tilt_measures(_QuadraticTilt(c, d), 400_000, torch.Generator().manual_seed(4))
    kl, bound = d / 2 * (v - 1 - math.log(v)), c * c * d * v / 2
    assert out["kl_from_gaussian"] == pytest.approx(kl, rel=0.05)
    assert out["kl_bound"] == pytest.approx(bound, rel=0.05)
    assert out["kl_from_gaussian"] < out["kl_bound"]


def _smoke_ebm_configs():
    """One smoke config for each distinct (latent size, energy net) among the configs with an EBM prior."""
    seen = {}
    for name in config_names():
        cfg = get_config(name, "smoke")
        if cfg.prior is not None and getattr(cfg.nets, "latent_dims", None):
            seen.setdefault((tuple(cfg.nets.latent_dims), cfg.prior), name)
    return sorted(seen.values())


@pytest.mark.parametrize("name", _smoke_ebm_configs())
def test_every_smoke_energy_net_stays_under_its_bound(name):
    """Each smoke EBM config's energy net, refit hard (lr 0.02) toward posterior codes far from N(0, I): its KL is
    under its log-Sobolev bound, and with spectral norm the bound is under 1/2 cap^2 with the cap about 1."""
    cfg = get_config(name, "smoke")
    model = build_model(cfg).eval()
    images = torch.randint(0, 256, (64, *model.nets.image_shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(5)) \
        if hasattr(model.nets, "image_shape") else None
    if images is None:
        pytest.skip(f"{name}: no image shape to encode")
    prior, _ = refit_prior(model, images, dataclasses.replace(cfg.prior, lr=0.02), iterations=40, batch_size=32,
                           betas=(0.0, 0.9), seed=0)
    out = tilt_measures(prior, 20_000, torch.Generator().manual_seed(6))
    assert out["kl_from_gaussian"] <= out["kl_bound"], out
    if cfg.prior.spectral_norm:
        assert out["lipschitz_cap"] == pytest.approx(cfg.prior.scale, rel=0.05)
        assert out["grad_max"] <= out["lipschitz_cap"] * (1 + 1e-6)
        assert out["kl_bound"] <= 0.5 * out["lipschitz_cap"] ** 2
