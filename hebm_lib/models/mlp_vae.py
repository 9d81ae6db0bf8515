"""VHP's Table 2 baselines on MLPs: the IWAE (Burda et al. 2016), L = 1 or 2 stochastic layers, and the
VampPrior VAE (Tomczak & Welling 2018), Bernoulli p(x | z) on binarised pixels (or a Gaussian: the pendulum).

    L = 1:  p(z) p(x | z),            q(z | x)
    L = 2:  p(z_2) p(z_1 | z_2) p(x | z_1),  q(z_1 | x) q(z_2 | z_1)
    VampPrior: p(z) = 1/K sum_k q(z | u_k), the pseudo-inputs u_k learned with the nets

One draw's log importance weight is log p(x, z) - log q(z | x) with every constant kept; training
maximises the K-sample bound log 1/K sum_k w_k (``objective = "iwae"``) or its one-sample ELBO.
"""
from __future__ import annotations

import contextlib
import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from ..configs import MLPVAENets
from ..distributions import (binarise, full_precision, gaussian_log_prob, reparameterised_sample, soft_clamp,
                             standard_normal, standard_normal_log_prob)
from .base import ElboTerms, LatentModelBase
from .blocks import mlp
from .priors import GaussianPrior



class PseudoInputs(nn.Module):
    """VampPrior's K learned pseudo-images, kept on [-1, 1] by a tanh."""

    def __init__(self, k: int, dim: int):
        super().__init__()
        self.raw = nn.Parameter(torch.randn(k, dim) * 0.1)

    def forward(self):
        return torch.tanh(self.raw)


class MLPVAE(LatentModelBase):
    def __init__(self, nets: MLPVAENets):
        super().__init__(nets)
        C, S, _ = nets.image_shape
        D, W, n, dims = C * S * S, nets.width, nets.mlp_layers, self.latent_dims
        self.image_shape, self.iw_samples, self.objective = (C, S, S), nets.iw_samples, nets.objective
        self.two_layers, self.vamp = len(dims) == 2, nets.prior == "vamp"
        net = partial(mlp, width=W, hidden_layers=n, activation=nn.Tanh)   # every MLP: n tanh layers of W units
        self.encoder = nn.ModuleDict({"q1": net(D, dout=2 * dims[0])})
        self.generator = nn.ModuleDict({"dec": net(dims[0], dout=D)})
        if self.two_layers:
            self.encoder["q2"] = net(dims[0], dout=2 * dims[1])
            self.generator["p1"] = net(dims[1], dout=2 * dims[0])
        if self.vamp:
            self.generator["pseudo"] = PseudoInputs(nets.pseudo_inputs, D)
        self.prior = GaussianPrior(dims[-1])   # the trainer sees no EBM; the VampPrior lives in log_prior

    # pieces ---------------------------------------------------------------------------------------
    def encode(self, x):
        """q(z_1 | x) (and, for L = 2, q(z_2 | z_1) at z_1's mean), concatenated."""
        mu, logvar = self._q1(x.flatten(1))
        if not self.two_layers:
            return mu, logvar
        mu2, logvar2 = self._q2(mu)
        return torch.cat([mu, mu2], 1), torch.cat([logvar, logvar2], 1)

    def _q1(self, flat):
        mu, logvar = self.encoder["q1"](flat).chunk(2, 1)
        return mu, soft_clamp(logvar)

    def _q2(self, z1):
        mu, logvar = self.encoder["q2"](z1).chunk(2, 1)
        return mu, soft_clamp(logvar)

    def _logits(self, z1):
        return self.generator["dec"](z1)

    def decode(self, z):
        """The mean of p(x | z) on [-1, 1]: 2 sigmoid - 1 of the Bernoulli's logits, or the Gaussian's tanh."""
        out = self._logits(self.split(z)[0])
        return (torch.tanh(out / 2) if self.nets.gaussian_sigma is None else torch.tanh(out)).view(
            z.shape[0], *self.image_shape)

    def _log_likelihood(self, flat, z1):
        """log p(x | z_1), normalised: the Bernoulli on x in {-1, 1}, or the Gaussian of sd gaussian_sigma."""
        out = full_precision(self._logits(z1))
        sigma = self.nets.gaussian_sigma
        if sigma is None:
            return -F.binary_cross_entropy_with_logits(out, (flat + 1) / 2, reduction="none").sum(1)
        return gaussian_log_prob(flat, torch.tanh(out), torch.full_like(out, 2 * math.log(sigma)))

    def _log_prior_top(self, z):
        """log p(z_top): N(0, I), or the VampPrior's mixture."""
        if not self.vamp:
            return standard_normal_log_prob(z)
        mu, logvar = self._q1(self.generator["pseudo"]())                        # K x d
        comp = gaussian_log_prob(z[:, None, :], mu[None], logvar[None])          # n x K
        return torch.logsumexp(comp, 1) - math.log(mu.shape[0])

    def log_importance_weight(self, x, rng=None) -> torch.Tensor:
        """One draw's log p(x, z) - log q(z | x), z ~ q, p(x | z) normalised."""
        flat = x.flatten(1)
        mu1, lv1 = self._q1(flat)
        z1 = reparameterised_sample(mu1, lv1, rng)
        value = self._log_likelihood(flat, z1) - gaussian_log_prob(z1, mu1, lv1)
        if self.two_layers:
            mu2, lv2 = self._q2(z1)
            z2 = reparameterised_sample(mu2, lv2, rng)
            mu_p, lv_p = self.generator["p1"](z2).chunk(2, 1)
            value = value + gaussian_log_prob(z1, mu_p, soft_clamp(lv_p)) + self._log_prior_top(z2) \
                - gaussian_log_prob(z2, mu2, lv2)
            self._last_z = torch.cat([z1, z2], 1)
        else:
            value = value + self._log_prior_top(z1)
            self._last_z = z1
        return value

    # the LatentModel protocol ---------------------------------------------------------------------
    def neg_elbo_terms(self, x, rng, kl: str = "mc", autocast=None, kl_weights=None):
        """The negative training bound as ``rec`` (this objective does not split into reconstruction and
        KL; ``kl`` is 0 and ``kl_layers`` holds -log w's mean, the bound of one draw)."""
        if kl_weights is not None:
            raise ValueError("the IWAE / VampPrior VAE has no per-dimension KL weights")
        if self.training and self.nets.binarise:
            x = binarise(x, rng)
        k = self.iw_samples if self.objective == "iwae" else 1
        with autocast or contextlib.nullcontext():
            log_w = full_precision(self.log_importance_weight(x.repeat_interleave(k, 0), rng).view(x.shape[0], k))
        bound = torch.logsumexp(log_w, 1) - math.log(k)
        z = full_precision(self._last_z.view(x.shape[0], k, -1)[:, 0])
        zero = torch.zeros((), device=x.device)
        return ElboTerms(-bound.mean(), zero, z, (-log_w.mean()).detach().view(1).expand(len(self.latent_dims)))

    def log_joint(self, x, z):
        """log p(x, z), constants kept."""
        zs = self.split(z)
        value = self._log_likelihood(x.flatten(1), zs[0])
        if self.two_layers:
            mu_p, lv_p = self.generator["p1"](zs[1]).chunk(2, 1)
            return value + gaussian_log_prob(zs[0], mu_p, soft_clamp(lv_p)) + self._log_prior_top(zs[1])
        return value + self._log_prior_top(zs[0])

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """Ancestral draws of z (layers concatenated, bottom first)."""
        if self.vamp:
            mu, logvar = self._q1(self.generator["pseudo"]())
            pick = torch.randint(mu.shape[0], (n,), generator=generator, device=self.device)
            return reparameterised_sample(mu[pick], logvar[pick], generator)
        top = standard_normal((n, self.latent_dims[-1]), generator, self.device)
        if not self.two_layers:
            return top
        mu_p, lv_p = self.generator["p1"](top).chunk(2, 1)
        return torch.cat([reparameterised_sample(mu_p, soft_clamp(lv_p), generator), top], 1)
