"""The variational hierarchical prior VAE (VHP, Klushyn et al., NeurIPS 2019), the REWO baseline.

    p(x | z) N-Gaussian,  p(z) = int p_Theta(z | zeta) N(zeta; 0, I) d zeta,  q_phi(z | x),  q_Phi(zeta | z)

log p(z) is replaced by the importance-weighted bound with K = ``model.iw_samples`` draws of zeta,

    log p(z) >= E log (1/K) sum_k p_Theta(z | zeta_k) N(zeta_k) / q_Phi(zeta_k | z),   zeta_k ~ q_Phi(zeta | z),

so the KL term of the ELBO becomes F = log q_phi(z | x) - [that bound] (the paper's Eq. 8, one z per x).
Its weight beta follows REWO or GECO (``schedule``: :class:`hebm_lib.training.schedules.ConstrainedSchedule`).
All four nets are MLPs of ``model.mlp_layers`` x ``model.top_hidden`` ReLU units (the paper's pendulum
nets: 4 x 256). Every log-variance is soft-clamped to (-6, 6) (as in the HVAE): with beta = 1 from
the start the unbounded ones overflowed within 30 iterations. The representation is z (``latent_dims = (z_dim,)``); zeta belongs to the prior.
"""
from __future__ import annotations

import contextlib
import math
from functools import partial

import torch
from torch import nn

from ..configs import VHPNets
from ..distributions import (binarise, full_precision, gaussian_log_prob, reparameterised_sample, soft_clamp,
                             standard_normal, standard_normal_log_prob)
from .base import ElboTerms, LatentModelBase
from .blocks import mlp
from .priors import GaussianPrior


class VHPVAE(LatentModelBase):
    def __init__(self, nets: VHPNets):
        super().__init__(nets)
        C, S, _ = nets.image_shape
        D, z, zeta, W, n = C * S * S, nets.latent_dims[0], nets.zeta_dim, nets.width, nets.mlp_layers
        self.image_shape, self.iw_samples = (C, S, S), nets.iw_samples
        # the trainer optimises generator + encoder; the prior's two nets (Theta, Phi) sit in them
        net = partial(mlp, width=W, hidden_layers=n, activation=nn.ReLU)   # every MLP: n ReLU layers of W units
        self.encoder = nn.ModuleDict({"q_z": net(D, dout=2 * z), "q_zeta": net(z, dout=2 * zeta)})
        self.generator = nn.ModuleDict({"dec": net(z, dout=D), "p_z": net(zeta, dout=2 * z)})
        self.prior = GaussianPrior(z)  # no EBM: the trainer's tilt is 0
        if nets.encoder_init == "he":
            self._he_init_encoder(z)

    def _he_init_encoder(self, z_dim: int) -> None:
        """He-normal weights and zero biases in q(z | x), its log-variances starting at -4: torch's default
        init shrinks the signal through four ReLU layers, the codes start near-constant and the decoder
        learns the mean image before it learns to read them (see VHPNets.encoder_init)."""
        linears = [m for m in self.encoder["q_z"].modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer in linears:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
            linears[-1].bias[z_dim:] = -4.0

    # pieces -------------------------------------------------------------------------------------
    def prior_parameters(self):
        """Theta and Phi: what REWO leaves untouched in its initial phase."""
        return list(self.generator["p_z"].parameters()) + list(self.encoder["q_zeta"].parameters())

    def encode(self, x: torch.Tensor):
        mu, logvar = self.encoder["q_z"](x.flatten(1)).chunk(2, 1)
        return mu, soft_clamp(logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.generator["dec"](z)).view(z.shape[0], *self.image_shape)

    def log_prior_iw(self, z: torch.Tensor, k: int | None = None, rng=None) -> torch.Tensor:
        """The importance-weighted bound on log p(z), one value per row of z (reparameterised)."""
        k = k or self.iw_samples
        mu_q, logvar_q = self.encoder["q_zeta"](z).chunk(2, 1)
        logvar_q = soft_clamp(logvar_q)
        zeta = reparameterised_sample(mu_q, logvar_q, rng, k)             # k x n x zeta_dim
        mu_p, logvar_p = self.generator["p_z"](zeta).chunk(2, -1)          # k x n x z_dim
        logvar_p = soft_clamp(logvar_p)
        log_w = (gaussian_log_prob(z, mu_p, logvar_p) + standard_normal_log_prob(zeta)
                 - gaussian_log_prob(zeta, mu_q, logvar_q))
        return torch.logsumexp(log_w, 0) - math.log(k)

    def neg_elbo_terms(self, x, rng, kl: str = "mc", autocast=None, kl_weights=None):
        """Batch means of -log p(x | z) and of F = log q(z | x) - IW bound on log p(z), and z ~ q."""
        if kl_weights is not None:
            raise ValueError("VHP has no per-dimension KL weights; its beta comes from train.constraint")
        if kl != "mc":
            raise ValueError("VHP's KL term has no closed form (the prior is a continuous mixture); use train.kl='mc'")
        if self.training and self.nets.binarise:
            x = binarise(x, rng)
        with autocast or contextlib.nullcontext():
            mu, logvar = self.encode(x)
            z = reparameterised_sample(mu, logvar, rng)
            x_mean = full_precision(self.decode(z))
            rec = self.reconstruction_nll(x, x_mean).mean()
            mu, logvar, z = full_precision(mu), full_precision(logvar), full_precision(z)
            f = gaussian_log_prob(z, mu, logvar) - self.log_prior_iw(z, rng=rng)
        # the constraint's C: per-pixel squared error on [0, 1] (whatever the likelihood), read by REWO / GECO
        constraint = ((x_mean.detach() - x) / 2).pow(2).mean()
        return ElboTerms(rec, f.mean(), z, f.detach().mean().view(1), constraint)

    def log_importance_weight(self, x, rng=None, prior_samples: int | None = None) -> torch.Tensor:
        """One draw's log p(x | z) + log p(z) - log q(z | x), z ~ q(z | x), with p(x | z) normalised and
        log p(z) its importance-weighted bound over ``prior_samples`` zetas (K by default): the weight
        of :func:`hebm_lib.evaluation.likelihood.importance_sampled_log_likelihood`."""
        mu, logvar = self.encode(x)
        z = reparameterised_sample(mu, logvar, rng)
        return (self.log_likelihood(x, self.decode(z)) + self.log_prior_iw(z, prior_samples, rng)
                - gaussian_log_prob(z, mu, logvar))

    def log_joint(self, x, z, rng=None):
        """log p(x | z) + (IW bound on) log p(z), constants of p(x | z) dropped."""
        return -self.reconstruction_nll(x, self.decode(z)) + self.log_prior_iw(z, rng=rng)

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """z ~ p(z) by ancestral sampling: zeta ~ N(0, I), z ~ p_Theta(z | zeta)."""
        zeta = standard_normal((n, self.nets.zeta_dim), generator, self.device)
        mu, logvar = self.generator["p_z"](zeta).chunk(2, 1)
        return reparameterised_sample(mu, soft_clamp(logvar), generator)
