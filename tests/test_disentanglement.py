"""Known answers for MIG / MIG-sup under both protocols, and for I(x; z)."""
import math

import pytest
import torch

from hebm_lib.evaluation import disentanglement as dis

SIZES = (4, 5, 6)


def _factors(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(s, (n,), generator=g) for s in SIZES], 1)


def _codes(f, columns, noise=0.01, seed=1):
    """Latent dims built from factor columns (a list per dim of (factor, weight)); small posterior noise."""
    g = torch.Generator().manual_seed(seed)
    z = torch.stack([sum(w * (f[:, k].float() / (SIZES[k] - 1) * 4 - 2) for k, w in col) for col in columns], 1)
    mu = z + 0.01 * torch.randn(z.shape, generator=g)
    return mu, torch.full_like(mu, 2 * math.log(noise))


def _score(protocol, mu, logvar, f):
    return dis.mig_dlib(mu, f) if protocol == "dlib" else dis.mig_pv(mu, logvar, f, SIZES, n_samples=1000)


@pytest.mark.parametrize("protocol", dis.PROTOCOLS)
def test_code_equal_to_the_factors_scores_near_one(protocol):
    f = _factors()
    res = _score(protocol, *_codes(f, [[(0, 1)], [(1, 1)], [(2, 1)]]), f)
    assert res["MIG"] > 0.9 and res["MIG-sup"] > 0.9


@pytest.mark.parametrize("protocol", dis.PROTOCOLS)
def test_a_factor_copied_into_two_dims_drops_mig_but_not_mig_sup(protocol):
    f = _factors()
    res = _score(protocol, *_codes(f, [[(0, 1)], [(0, 1)], [(1, 1)], [(2, 1)]]), f)
    assert res["MIG"] < 0.75        # factor 0's gap is ~0: MIG ~ 2/3
    assert res["MIG-sup"] > 0.9


@pytest.mark.parametrize("protocol", dis.PROTOCOLS)
def test_two_factors_in_one_dim_drop_mig_sup(protocol):
    f = _factors()
    clean = _score(protocol, *_codes(f, [[(0, 1)], [(1, 1)], [(2, 1)]]), f)
    mixed = _score(protocol, *_codes(f, [[(0, 1), (1, 0.2)], [(0, 0.2), (1, 1)], [(2, 1)]]), f)
    mixed2 = _score(protocol, *_codes(f, [[(0, 1), (1, 1)], [(2, 1)]]), f)
    assert mixed2["MIG-sup"] < clean["MIG-sup"] - 0.3
    assert mixed["MIG-sup"] < clean["MIG-sup"]


@pytest.mark.parametrize("protocol", dis.PROTOCOLS)
def test_pure_noise_scores_near_zero(protocol):
    f = _factors()
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(len(f), 3, generator=g)
    res = _score(protocol, mu, torch.full_like(mu, -2.0), f)
    assert res["MIG"] < 0.05 and res["MIG-sup"] < 0.05


def test_layer_information_known_answers():
    g = torch.Generator().manual_seed(0)
    # posteriors equal to the prior: no information
    mu = torch.zeros(4000, 2)
    assert abs(dis.layer_information(mu, torch.zeros_like(mu), 2000)) < 0.05
    # N well-separated point masses: I = log N
    mu = torch.arange(50).float().repeat_interleave(40).view(-1, 1) * 10
    info = dis.layer_information(mu, torch.full_like(mu, -6.0), 2000)
    assert abs(info - math.log(50)) < 0.05
    # Gaussian channel: z = x + noise, x ~ N(0, 1), noise var s2 -> I = 0.5 log(1 + 1 / s2)
    x = torch.randn(6000, 1, generator=g)
    s2 = 0.25
    info = dis.layer_information(x, torch.full_like(x, math.log(s2)), 3000)
    assert abs(info - 0.5 * math.log(1 + 1 / s2)) < 0.08


def test_mixture_entropy_of_one_gaussian_is_closed_form():
    mu, logvar = torch.zeros(1, 3), torch.full((1, 3), math.log(4.0))
    z = torch.randn(20000, 3, generator=torch.Generator().manual_seed(0)) * 2
    h = dis.mixture_entropy(z, mu, logvar)
    assert torch.allclose(h, torch.full((3,), 0.5 * math.log(2 * math.pi * math.e * 4.0)), atol=0.03)


def _textbook_log_density(z, mu, logvar, joint):
    from hebm_lib.distributions import gaussian_log_prob_per_dim
    lp = gaussian_log_prob_per_dim(z[:, None, :], mu[None], logvar[None])
    if joint:
        lp = lp.sum(2, keepdim=True)
    return torch.logsumexp(lp, 1) - math.log(len(mu))


@pytest.mark.parametrize("joint", [False, True])
@pytest.mark.parametrize("n, s, k", [(1500, 301, 7), (40, 1000, 3), (1, 50, 2), (600, 3, 1)])
def test_mixture_log_density_equals_the_textbook_formula_bit_for_bit(n, s, k, joint):
    """Every sample's log q(z) from the in-place blocks is exactly log N(z; mu, var) per dim then
    torch.logsumexp over all of z at once, whatever the block size (so the recorded MIG and I(x; z_l) numbers
    do not move)."""
    g = torch.Generator().manual_seed(n + s + k)
    mu = torch.randn(n, k, generator=g, dtype=torch.float64) * 2
    logvar = torch.randn(n, k, generator=g, dtype=torch.float64) - 2
    z = torch.randn(s, k, generator=g, dtype=torch.float64) * 2
    textbook = _textbook_log_density(z, mu, logvar, joint)
    for block in (1, 3 * n * k, 4096, 1 << 19):
        assert torch.equal(dis.mixture_log_density(z, mu, logvar, joint, chunk_elements=block), textbook)
    assert torch.equal(dis.mixture_entropy(z, mu, logvar, joint), -textbook.mean(0))


def test_mixture_log_density_of_a_point_outside_every_component_is_minus_infinity_as_in_torch():
    mu, logvar = torch.zeros(5, 2, dtype=torch.float64), torch.zeros(5, 2, dtype=torch.float64)
    z = torch.tensor([[math.inf, 0.0], [0.5, -0.5], [1.0, 2.0]], dtype=torch.float64)
    for joint in (False, True):
        got = dis.mixture_log_density(z, mu, logvar, joint)
        assert torch.equal(got, _textbook_log_density(z, mu, logvar, joint)) and got[0, 0] == -math.inf


def test_pv_protocol_scores_dsprites_without_shape():
    """pro-VLAE's metric code leaves dSprites' shape out: a code that carries only shape scores 0 under
    that protocol's factor set, while all of 3DShapes' six factors are kept."""
    from hebm_lib import data
    sprites, shapes = data.spec("dsprites_proc32"), data.spec("shapes3d_proc32")
    assert [sprites.factor_names[c] for c in dis.pv_columns(sprites)] == ["scale", "orientation", "pos_x", "pos_y"]
    assert dis.pv_columns(shapes) == list(range(6))
    g = torch.Generator().manual_seed(0)
    classes = torch.stack([torch.randint(s, (2000,), generator=g) for s in sprites.factor_sizes], 1)
    mu = torch.stack([classes[:, 0].float() * 3, torch.randn(2000, generator=g) * 0.01], 1)  # dim 0 = shape
    logvar = torch.full_like(mu, -6.0)
    cols = dis.pv_columns(sprites)
    sizes = tuple(sprites.factor_sizes[c] for c in cols)
    assert dis.mig_pv(mu, logvar, classes[:, cols], sizes, 1000)["MIG"] < 0.02
    assert dis.mig_pv(mu, logvar, classes, sprites.factor_sizes, 1000)["MIG"] > 0.1
