"""Gaussian building blocks shared by every model, and the pixel scaling of images.

All densities are summed over the last dimension (one value per row); ``logvar`` is a log-variance.
"""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """``t`` out of autocast's half precision, in the default float dtype: float32, or float64 where a test
    trains in it (tests/test_train.py pins float64 numbers, which CPU rounding cannot move)."""
    return t.to(torch.get_default_dtype())


def to_unit_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 -> float in [-1, 1] (the generators end in tanh)."""
    return full_precision(images_uint8).div(127.5).sub(1.0)


# -- random draws ----------------------------------------------------------------------------------------
# Every draw of training goes through these two functions. ``rng`` is a torch.Generator (None: the global
# one) or a noise source: an object with the same two methods, such as an ensemble's per-member generators
# (hebm_lib.training.ensemble.MemberNoise), which draws each member's numbers as a separate run would.

def standard_normal(shape, rng=None, device=None, dtype=None) -> torch.Tensor:
    """N(0, 1) draws of ``shape`` from ``rng``."""
    if rng is None or isinstance(rng, torch.Generator):
        return torch.randn(shape, generator=rng, device=device, dtype=dtype)
    return rng.standard_normal(shape, device, dtype)


def uniform(shape, rng=None, device=None, dtype=None) -> torch.Tensor:
    """U[0, 1) draws of ``shape`` from ``rng``."""
    if rng is None or isinstance(rng, torch.Generator):
        return torch.rand(shape, generator=rng, device=device, dtype=dtype)
    return rng.uniform(shape, device, dtype)


def bernoulli(p: torch.Tensor, rng=None) -> torch.Tensor:
    """1 with probability p, else 0, as U < p: on the CPU the same draws and values as torch.bernoulli(p,
    generator=rng) (tests/test_distributions.py), and a noise source can give U."""
    return (uniform(p.shape, rng, p.device, p.dtype) < p).to(p.dtype)


def binarise(x: torch.Tensor, rng=None) -> torch.Tensor:
    """Pixels in [-1, 1] -> {-1, 1}, each white with probability its grey level (Bernoulli resampling)."""
    return bernoulli(((x + 1) / 2).clamp(0, 1), rng) * 2 - 1


def binarise_uint8(images: torch.Tensor, rng=None) -> torch.Tensor:
    """uint8 images -> uint8 images of 0 / 255, each pixel white with probability its grey level."""
    return (bernoulli(full_precision(images) / 255, rng) * 255).to(torch.uint8)


def reparameterised_sample(mu: torch.Tensor, logvar: torch.Tensor, rng=None, n: int | None = None) -> torch.Tensor:
    """mu + sigma * eps with eps ~ N(0, I) from ``rng``; with ``n``, n draws stacked in a leading dim."""
    shape = mu.shape if n is None else (n,) + mu.shape
    eps = standard_normal(shape, rng, mu.device, mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def soft_clamp(logvar: torch.Tensor, bound: float = 6.0) -> torch.Tensor:
    """Keep learned log-variances in (-bound, bound) smoothly (an unbounded ratio of two learned
    variances overflows early in training)."""
    return bound * torch.tanh(logvar / bound)


def gaussian_log_prob_per_dim(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z_k; mu_k, e^logvar_k) of every coordinate (not summed)."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + LOG_2PI)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag e^logvar)."""
    return gaussian_log_prob_per_dim(z, mu, logvar).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I)."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def gaussian_kl(mu_q, logvar_q, mu_p, logvar_p) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p))."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1).sum(-1)


def kl_to_standard_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(0, 1)) of every coordinate (not summed)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_to_standard(mu: torch.Tensor, logvar: torch.Tensor, weights=None) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)), optionally with a weight per coordinate."""
    per_dim = kl_to_standard_per_dim(mu, logvar)
    return (per_dim if weights is None else per_dim * weights).sum(-1)


def kl_to_standard_mc(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, weights=None) -> torch.Tensor:
    """Single-sample estimate log q(z|x) - log N(z; 0, I) at z ~ q (the authors' estimator)."""
    per_dim = -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar) + 0.5 * z.pow(2)
    return (per_dim if weights is None else per_dim * weights).sum(-1)
