"""MIG (Chen et al. 2018), MIG-sup (pro-VLAE, Eq. 12) and I(x; z_l), under two protocols.

The two protocols give numbers that are not comparable, so every result names its protocol:

``"dlib"`` (disentanglement_lib): the posterior means of N i.i.d. factor draws, each latent dim cut
    into 20 equal-width bins, plug-in discrete MI with each factor, normalised by the factor's
    empirical entropy.
``"pv"`` (pro-VLAE's ``metric_MIG.py``): one sample z ~ q(z|x) per image; H(z_j) and H(z_j | v_k)
    by Monte Carlo over the mixture of all posteriors, q(z_j) = 1/N sum_n N(z_j; mu_nj, sigma_nj^2);
    normalised by log |v_k|; MIG-sup only over active dims (Var_x mu_j > 0.01); on the factors its code
    scores (``DatasetSpec.pv_factors``: dSprites without shape, 3DShapes all six).

MIG = mean over factors of the gap between the two dims most informative about the factor;
MIG-sup = mean over (active) dims of the gap between the two factors it is most informative about.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..distributions import LOG_2PI, reparameterised_sample
from .encoding import posterior

PROTOCOLS = ("dlib", "pv")
ACTIVE_VARIANCE = 0.01


def _gap(m: torch.Tensor, dim: int) -> torch.Tensor:
    """Largest minus second largest along ``dim`` (0 when there is only one entry)."""
    if m.shape[dim] < 2:
        return m.max(dim).values
    top = m.topk(2, dim=dim).values
    return (top.select(dim, 0) - top.select(dim, 1)).clamp_min(0)


def mig_scores(normalised_mi: torch.Tensor, active: torch.Tensor | None = None) -> dict:
    """MIG and MIG-sup from a (latent dims x factors) matrix of MI / H(factor)."""
    mi = normalised_mi.clamp_min(0)
    mig = _gap(mi, 0).mean().item()
    rows = mi if active is None else mi[active]
    mig_sup = _gap(rows, 1).mean().item() if len(rows) else 0.0
    return {"MIG": mig, "MIG-sup": mig_sup}


# ---------------------------------------------------------------------------------------------
# disentanglement_lib: histogram plug-in MI on posterior means

def discretise(codes: torch.Tensor, bins: int = 20) -> np.ndarray:
    """Per dim, ``bins`` equal-width bins over its range (np.histogram edges, np.digitize)."""
    x = codes.double().numpy()
    out = np.zeros_like(x, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.histogram(x[:, j], bins)[1]
        out[:, j] = np.digitize(x[:, j], edges[:-1])
    return out


def mi_matrix_dlib(mean_codes: torch.Tensor, factors: torch.Tensor, bins: int = 20) -> torch.Tensor:
    """(dims x factors) plug-in MI / H(factor), in nats over nats."""
    from sklearn.metrics import mutual_info_score
    d = discretise(mean_codes, bins)
    f = factors.numpy()
    mi = np.zeros((d.shape[1], f.shape[1]))
    for k in range(f.shape[1]):
        h = mutual_info_score(f[:, k], f[:, k])
        for j in range(d.shape[1]):
            mi[j, k] = mutual_info_score(f[:, k], d[:, j]) / max(h, 1e-12)
    return torch.from_numpy(mi)


def mig_dlib(mean_codes: torch.Tensor, factors: torch.Tensor, bins: int = 20) -> dict:
    mi = mi_matrix_dlib(mean_codes, factors, bins)
    active = mean_codes.var(0) > ACTIVE_VARIANCE
    return mig_scores(mi, active) | {"mi": mi, "active": active}


# ---------------------------------------------------------------------------------------------
# pro-VLAE: Monte Carlo entropies of the mixture of posteriors

def mixture_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, joint: bool = False,
                        chunk_elements: int = 1 << 19) -> torch.Tensor:
    """log q(z_s) per sample (S x K, or S x 1 with ``joint``), q = 1/N sum_n N(mu_n, diag exp(logvar_n)).

    The operations of ``gaussian_log_prob_per_dim`` then ``torch.logsumexp`` over n, in place on one s x N x K
    block of about ``chunk_elements`` values (4 MB in float64) instead of fresh 300 MB temporaries per step:
    each row's numbers bit for bit the same (`tests/test_disentanglement.py`), 2-5x sooner on one core. A
    block keeps at least two rows, so that torch reduces each row alone on any number of threads.
    """
    n, k = mu.shape
    var = logvar.exp()
    rows = max(2, chunk_elements // max(1, n * k))
    starts = list(range(0, len(z), rows))
    if len(starts) > 1 and len(z) - starts[-1] == 1:   # a last block of one row joins the one before
        starts.pop()
    out = []
    for i, j in zip(starts, starts[1:] + [len(z)]):
        lp = z[i:j, None, :] - mu[None]                                          # s x N x K
        lp.pow_(2).div_(var).add_(logvar).add_(LOG_2PI).mul_(-0.5)              # log N(z_k; mu_nk, var_nk)
        if joint:
            lp = lp.sum(2, keepdim=True)
        top = lp.amax(1, keepdim=True)                                           # torch.logsumexp's steps
        top.masked_fill_(top.abs() == math.inf, 0)
        out.append(lp.sub_(top).exp_().sum(1).log_().add_(top.squeeze(1)) - math.log(n))
    return torch.cat(out)


def mixture_entropy(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, joint: bool = False) -> torch.Tensor:
    """-mean_s log q(z_s), q = 1/N sum_n N(mu_n, diag exp(logvar_n)).

    z: S x K samples, mu/logvar: N x K. Per dim (K values) or, with ``joint``, of the K-dim joint.
    """
    return -mixture_log_density(z, mu, logvar, joint).mean(0)


def mig_pv(mu: torch.Tensor, logvar: torch.Tensor, factors: torch.Tensor, sizes: tuple[int, ...],
           n_samples: int = 10_000, seed: int = 0) -> dict:
    """MIG / MIG-sup by pro-VLAE's estimator on (mu, logvar) of N images with factor classes ``factors``."""
    g = torch.Generator().manual_seed(seed)
    mu, logvar = mu.double(), logvar.double()
    z = reparameterised_sample(mu, logvar, g)
    n, k_dims = mu.shape

    def subsample(idx: torch.Tensor) -> torch.Tensor:
        return idx[torch.randperm(len(idx), generator=g)[:n_samples]]

    h_marginal = mixture_entropy(z[subsample(torch.arange(n))], mu, logvar)
    mi = torch.zeros(k_dims, len(sizes), dtype=torch.float64)
    for k, size in enumerate(sizes):
        h_cond = torch.zeros(k_dims, dtype=torch.float64)
        for v in range(size):
            idx = (factors[:, k] == v).nonzero().squeeze(1)
            if len(idx) == 0:
                continue
            h_cond += len(idx) / n * mixture_entropy(z[subsample(idx)], mu[idx], logvar[idx])
        mi[:, k] = (h_marginal - h_cond) / math.log(size)
    active = mu.var(0) > ACTIVE_VARIANCE
    return mig_scores(mi, active) | {"mi": mi.float(), "active": active}


def layer_information(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int = 10_000, seed: int = 0) -> float:
    """I(x; z_l) = H(z_l) - E_x H(q(z_l | x)) in nats (Chen et al.'s estimator, joint over the layer's
    dims, the data distribution being the N images given). At most log N."""
    g = torch.Generator().manual_seed(seed)
    mu, logvar = mu.double(), logvar.double()
    idx = torch.randperm(len(mu), generator=g)[:n_samples]
    z = reparameterised_sample(mu[idx], logvar[idx], g)
    h_z = mixture_entropy(z, mu, logvar, joint=True).item()
    h_cond = (0.5 * (math.log(2 * math.pi * math.e) + logvar)).sum(1).mean().item()
    return h_z - h_cond


# ---------------------------------------------------------------------------------------------
# from a model and a factor dataset

def pv_columns(spec) -> list[int]:
    """The factor columns pro-VLAE's protocol scores (all of them when the dataset does not say)."""
    names = spec.pv_factors or spec.factor_names
    return [spec.factor_names.index(n) for n in names]


def evaluate(model, factor_data, n_points: int, seed: int = 0, n_samples: int = 10_000) -> dict:
    """MIG and MIG-sup under both protocols, and I(x; z_l) per layer, on ``n_points`` i.i.d. factor draws
    (disentanglement_lib's protocol uses the first 10,000 of them, as its gin configs do)."""
    classes = factor_data.sample_factors(n_points, seed=10_000 + seed)
    mu, logvar = posterior(model, factor_data.images(classes))
    cols = pv_columns(factor_data.spec)
    pv_sizes = tuple(factor_data.spec.factor_sizes[c] for c in cols)
    out = {"pv factors": [factor_data.spec.factor_names[c] for c in cols]}
    for name, res in (("dlib", mig_dlib(mu[:10_000], classes[:10_000])),
                      ("pv", mig_pv(mu, logvar, classes[:, cols], pv_sizes, n_samples, seed))):
        out[f"MIG ({name})"], out[f"MIG-sup ({name})"] = res["MIG"], res["MIG-sup"]
        out[f"mi ({name})"] = res["mi"]
    sizes = model.latent_dims
    starts = np.cumsum((0,) + tuple(sizes))
    out["I(x;z_l)"] = [layer_information(mu[:, a:b], logvar[:, a:b], n_samples, seed)
                       for a, b in zip(starts[:-1], starts[1:])]
    out["active"] = (mu.var(0) > ACTIVE_VARIANCE).tolist()
    return out
