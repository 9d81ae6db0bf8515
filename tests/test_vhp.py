"""VHP + REWO: the importance-weighted prior bound, the beta schedules, REWO's frozen prior, resume,
and the pendulum data and measure."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from hebm_lib import data
from hebm_lib.data import pendulum
from hebm_lib.evaluation.pendulum import circular_regression_error, ols_angle_error
from hebm_lib.configs import get_config
from hebm_lib.models import build_model
from hebm_lib.training import Trainer, train

def _model():
    torch.manual_seed(0)
    return build_model(get_config("pendulum_vhp_rewo", "smoke"))


def _linear_gaussian_prior(model, a, b, s):
    """p(z | zeta) = N(a zeta + b, s^2 I) with 1-d zeta, and q(zeta | z) its exact posterior.
    Then p(z) = N(b, a a^T + s^2 I) and every importance weight equals p(z)."""
    a, b = torch.tensor(a), torch.tensor(b)
    raw = lambda logvar: 6 * math.atanh(logvar / 6)      # undo the model's soft clamp 6 tanh(. / 6)
    p_z = nn.Linear(1, 4)
    p_z.weight.data = torch.cat([a, torch.zeros(2)]).view(4, 1)
    p_z.bias.data = torch.cat([b, torch.full((2,), raw(2 * math.log(s)))])
    post_var = 1 / (1 + a @ a / s ** 2)                 # zeta | z ~ N(post_var a.(z - b) / s^2, post_var)
    q = nn.Linear(2, 2)
    q.weight.data = torch.stack([post_var * a / s ** 2, torch.zeros(2)])
    q.bias.data = torch.tensor([-(post_var * a @ b / s ** 2).item(), raw(math.log(post_var))])
    model.generator["p_z"], model.encoder["q_zeta"] = p_z, q
    return torch.distributions.MultivariateNormal(b, torch.outer(a, a) + s ** 2 * torch.eye(2))


def test_iw_bound_is_exact_with_the_exact_posterior():
    model = _model()
    marginal = _linear_gaussian_prior(model, [1.5, -0.5], [0.3, 0.1], 0.4)
    z = torch.randn(50, 2) * 2
    for k in (1, 16):
        got = model.log_prior_iw(z, k, torch.Generator().manual_seed(1))
        torch.testing.assert_close(got, marginal.log_prob(z), atol=1e-4, rtol=1e-5)


def test_iw_bound_is_below_log_p_and_tightens_with_k():
    model = _model()
    marginal = _linear_gaussian_prior(model, [1.5, -0.5], [0.3, 0.1], 0.4)
    model.encoder["q_zeta"].bias.data[1] += 1.5           # a too-wide proposal: the bound is loose
    z = torch.randn(400, 2)
    rng = torch.Generator().manual_seed(2)
    gap = {k: (marginal.log_prob(z) - model.log_prior_iw(z, k, rng)).mean().item() for k in (1, 8, 64)}
    assert gap[1] > gap[8] > gap[64] > -0.01
    assert gap[1] > 0.1


def test_neg_elbo_terms_rejects_what_vhp_has_not():
    model, x = _model(), torch.zeros(2, 1, 16, 16)
    with pytest.raises(ValueError, match="no closed form"):
        model.neg_elbo_terms(x, None, "analytic")
    with pytest.raises(ValueError, match="KL weights"):
        model.neg_elbo_terms(x, None, "mc", kl_weights=torch.ones(2))
    rec, f, z, _, constraint, _ = model.neg_elbo_terms(x, torch.Generator().manual_seed(0))
    assert rec.ndim == f.ndim == 0 and z.shape == (2, 2)
    assert constraint.ndim == 0 and 0 <= constraint.item() <= 1   # REWO's C: squared error on [0, 1] pixels
    assert model.sample(5).shape == (5, 2) and model.decode(z).shape == (2, 1, 16, 16)


def _trainer(name="pendulum_vhp_rewo", **over):
    cfg = get_config(name, "smoke", {"schedule.ema": 0.0, **over})
    images = data.load("pendulum", "train").subset(256).images
    torch.manual_seed(0)
    return Trainer(cfg, build_model(cfg), images, 0, torch.device("cpu"))


def test_rewo_beta_schedule_known_values():
    tr = _trainer(**{"schedule.kappa": 0.1, "schedule.beta_init": 0.01, "schedule.lr": 5.0})
    k2, nu, tau = 0.01, 5.0, 3.0
    # initial phase: the constraint is violated, beta is held
    assert tr.schedule.kl_weight(0, 0.05) == 0.01 and tr.schedule.state["initial_phase"]
    # met once: the phase ends and beta moves up towards 1 by exp(nu tanh(tau (beta - 1)) delta)
    beta = tr.schedule.kl_weight(0, 0.004)
    assert not tr.schedule.state["initial_phase"]
    assert beta == pytest.approx(0.01 * math.exp(nu * math.tanh(tau * (0.01 - 1)) * (0.004 - k2)))
    assert beta > 0.01
    # violated again after the initial phase: beta falls by exp(-nu delta)
    assert tr.schedule.kl_weight(0, 0.02) == pytest.approx(beta * math.exp(-nu * (0.02 - k2)))
    # at beta = 1 with the constraint met, beta stays at 1 (the ELBO)
    tr.schedule.state["beta"] = 1.0
    assert tr.schedule.kl_weight(0, 0.001) == pytest.approx(1.0)
    # far below kappa^2 one step would overshoot 1; the paper keeps beta in (0, 1]
    tr.schedule.state["beta"] = 0.5
    assert tr.schedule.kl_weight(0, -100.0) == 1.0


def test_geco_and_the_running_average():
    tr = _trainer("pendulum_vhp_geco", **{"schedule.kappa": 0.1, "schedule.ema": 0.5})
    nu = tr.cfg.schedule.lr
    assert tr.schedule.kl_weight(0, 0.03) == pytest.approx(math.exp(-nu * (0.03 - 0.01)))  # C_0 = C_batch
    assert tr.schedule.state["c_hat"] == 0.03
    beta = tr.schedule.state["beta"]
    assert tr.schedule.kl_weight(0, 0.01) == pytest.approx(beta * math.exp(-nu * (0.02 - 0.01)))  # C_1 = 0.5 C + 0.5 C_0
    beta = tr.schedule.state["beta"]
    assert tr.schedule.kl_weight(0, 0.0) == pytest.approx(beta)    # C_2 = 0.5 * 0 + 0.5 * 0.02 = kappa^2: no change
    assert tr.schedule.kl_weight(0, 0.0) > beta                    # met: lambda falls, beta rises


@pytest.mark.parametrize("kappa, prior_moves", [(1e-6, False), (1.0, True)])
def test_rewo_initial_phase_leaves_the_prior_untouched(kappa, prior_moves):
    tr = _trainer(**{"schedule.kappa": kappa})
    before = [p.detach().clone() for p in tr.model.prior_parameters()]
    dec = tr.model.generator["dec"][0].weight.detach().clone()
    for _ in range(3):
        tr.step()
    stats = tr.read_stats()
    moved = [not torch.equal(a, b) for a, b in zip(before, tr.model.prior_parameters())]
    assert all(moved) if prior_moves else not any(moved)
    assert not torch.equal(dec, tr.model.generator["dec"][0].weight)
    assert tr.schedule.state["initial_phase"] != prior_moves and "beta" in stats


def test_rewo_resume_is_exact(tmp_path):
    cfg = get_config("pendulum_vhp_rewo", "smoke", {"schedule.kappa": 1.0, "train.iterations": 8,
                                                    "train.checkpoint_every": 4})
    images = data.load("pendulum", "train").subset(256).images
    full = train(cfg, 0, tmp_path / "full", images, progress=False)

    class Interrupt(Exception):
        pass

    def stop(trainer, stats):
        if trainer.iteration == 6:
            raise Interrupt
    with pytest.raises(Interrupt):
        train(cfg, 0, tmp_path / "resumed", images, progress=False, callback=stop)
    resumed = train(cfg, 0, tmp_path / "resumed", images, progress=False)
    assert resumed.schedule.state == full.schedule.state
    assert not full.schedule.state["initial_phase"] and full.schedule.state["beta"] != cfg.schedule.beta_init
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_validation():
    with pytest.raises(ValueError, match="train.kl='mc'"):
        get_config("pendulum_vhp_rewo", "smoke", {"train.kl": "analytic"})
    with pytest.raises(ValueError, match="VHP's schedule"):
        get_config("mnist_vlae", "smoke", {"schedule": {"kind": "constrained", "method": "rewo"}})
    with pytest.raises(ValueError, match="schedule.method='gecko' not in"):
        get_config("pendulum_vhp_rewo", "smoke", {"schedule.method": "gecko"})
    with pytest.raises(ValueError, match="own prior"):
        get_config("pendulum_vhp_rewo", "smoke", {"prior": {}})


def test_he_encoder_init_known_values():
    """nets.encoder_init='he': q(z | x) starts with He-normal weights (std sqrt(2 / fan_in)), zero biases and
    log-variances at -4; with torch's default the 4 ReLU layers shrink the code's spread across images."""
    cfg = get_config("pendulum_vhp_rewo", "paper")
    assert cfg.nets.encoder_init == "he"
    torch.manual_seed(0)
    he = build_model(cfg)
    linears = [m for m in he.encoder["q_z"].modules() if isinstance(m, nn.Linear)]
    for layer in linears[:-1]:
        assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / layer.in_features), rel=0.05)
        assert not layer.bias.any()
    assert linears[-1].bias[:2].eq(0).all() and linears[-1].bias[2:].eq(-4.0).all()
    torch.manual_seed(0)
    default = build_model(get_config("pendulum_vhp_rewo", "paper", {"nets.encoder_init": None}))
    x = data.load("pendulum", "train").subset(256).to_float()
    with torch.no_grad():
        spread = {name: m.encode(x)[0].std(0).mean().item() for name, m in (("he", he), ("default", default))}
    assert spread["he"] > 20 * spread["default"]
    with pytest.raises(ValueError, match="encoder_init"):
        get_config("pendulum_vhp_rewo", "smoke", {"nets.encoder_init": "xavier"})


# -- data and measure -------------------------------------------------------------------------

def test_pendulum_rendering():
    imgs = pendulum.render(np.array([0.0, math.pi / 2, math.pi]))
    assert imgs.shape == (3, 1, 16, 16) and imgs.dtype == np.uint8
    down, right, up = imgs[:, 0].astype(int)
    assert np.array_equal(down, down[:, ::-1])           # hanging straight down: left-right symmetric
    assert np.array_equal(up, down[::-1])                 # straight up is its mirror image
    assert down[12:].sum() > 3 * down[:8].sum() and right[:, 8:].sum() > 3 * right[:, :8].sum()
    a, b = pendulum.load("test")
    assert a.shape == (2000, 1, 16, 16) and torch.equal(a, pendulum.load("test")[0])
    assert 0 <= b.min() and b.max() < 2 * math.pi
    with pytest.raises(ValueError, match="valid splits"):
        pendulum.angles("val")


def test_pendulum_pinned_sum_is_checked():
    sums = data.load_checksums()
    sums["procedural"]["pendulum"]["test"] += 10_000
    with pytest.raises(data.DataError, match="renderer changed"):
        data.load("pendulum", "test", checksums=sums)
    ds = data.load("pendulum", "test")
    assert ds.labels.max() < 36 and ds.spec.substitute_for


def test_circular_regression_known_answers():
    theta = np.random.RandomState(0).uniform(0, 2 * math.pi, 500)
    ring = np.stack([np.cos(theta), np.sin(theta)], 1) * 3 + 5
    assert circular_regression_error(ring, theta)["abs_error"] < 1e-9
    mirrored = np.stack([np.cos(1.0 - theta), np.sin(1.0 - theta)], 1)
    fit = circular_regression_error(mirrored, theta)
    assert fit["abs_error"] < 1e-9 and fit["sign"] == -1.0
    noise = np.random.RandomState(1).randn(500, 2)
    assert abs(circular_regression_error(noise, theta)["abs_error"] - math.pi / 2) < 0.25
    with pytest.raises(ValueError, match="N x 2"):
        circular_regression_error(np.zeros((5, 3)), theta[:5])


def test_ols_angle_error_known_answers():
    """App. B.3's OLS on arcsin(z_2 / r): 0 for a ring in any position, orientation or handedness; the
    folded angle's spread (pi / 4) for a code that ignores the angle; noise on the ring's radius shows."""
    theta = np.random.RandomState(0).uniform(0, 2 * math.pi, 2000)
    for phase, hand in ((0.0, 1), (2.0, 1), (0.7, -1)):
        ring = np.stack([np.cos(hand * theta + phase), np.sin(hand * theta + phase)], 1) * 3 + [5, -2]
        fit = ols_angle_error(ring, theta)
        assert fit["abs_error"] < 1e-6 and abs(fit["slope"] - 1) < 1e-6 and abs(fit["radius"] - 3) < 1e-9
    noise = np.random.RandomState(1).randn(2000, 2)
    assert abs(ols_angle_error(noise, theta)["abs_error"] - math.pi / 4) < 0.05
    rough = np.stack([np.cos(theta), np.sin(theta)], 1) * (1 + 0.1 * np.random.RandomState(2).randn(2000, 1))
    assert 0.01 < ols_angle_error(rough, theta)["abs_error"] < 0.2
