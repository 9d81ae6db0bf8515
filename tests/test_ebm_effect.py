"""What the EBM prior changes (hebm_lib.evaluation.ebm_effect), on energies whose answers are known."""
import pytest
import torch

from hebm_lib.configs import get_config
from hebm_lib.evaluation.ebm_effect import ebm_effect
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
