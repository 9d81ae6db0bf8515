"""The conditional hierarchical VAE baseline (LVAE/BIVA-style top-down hierarchy): the paper's "HVAE".

    p(z_L) = N(0, I),  p(z_i | z_{i+1}) = N(mu_i(z_{i+1}), sigma_i(z_{i+1})),  p(x | z_1) = N(g(z_1), sigma^2 I)
    q(z_L | x),        q(z_i | z_{i+1}, x): bottom-up features d_i joined with the top-down state

It gives the ELBO and Havtorn et al.'s (2021) likelihood with the bottom k layers taken from the
conditional prior instead of the posterior,

    L^{>k}(x) = E_q[ log p(x | z) + log p(z_{>k}) - log q(z_{>k} | x) ],  z_{<=k} = prior means,

and the OOD score LLR^{>k}(x) = L^{0}(x) - L^{>k}(x) (``baselines-facts.md`` section 7), both from
:class:`hebm_lib.models.top_down.TopDownBounds` (one sample by default, importance-weighted with
``samples``). Nets follow the dense ladder of :mod:`hebm_lib.models` (convs then a dense path of width
``top_hidden``).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..configs import ConditionalNets
from ..distributions import (LOG_2PI, full_precision, gaussian_log_prob, reparameterised_sample, soft_clamp,
                             standard_normal)
from .base import ElboTerms, LatentModelBase, free_nats_at
from .top_down import TopDownBounds
from .blocks import SLOPE, act, conv_stack, init_weights, mlp
from .priors import GaussianPrior


class ConditionalHVAE(TopDownBounds, LatentModelBase):
    def __init__(self, nets: ConditionalNets):
        LatentModelBase.__init__(self, nets)
        C, S, _ = nets.image_shape
        ch, W, dims = nets.channels, nets.width, self.latent_dims
        self.side = S // 2 ** len(ch)
        flat = ch[-1] * self.side ** 2
        # bottom-up: d_1 from convs of x, d_i = MLP(d_{i-1})
        self.encoder = nn.ModuleDict({
            "d1": nn.Sequential(conv_stack(C, ch), nn.Flatten(), nn.Linear(flat, W)),
            "up": nn.ModuleList(nn.Sequential(act(), mlp(W, W, W)) for _ in dims[1:]),
            "q_top": nn.Sequential(act(), nn.Linear(W, 2 * dims[-1])),
            "q": nn.ModuleList(nn.Sequential(act(), nn.Linear(2 * W, W), act(), nn.Linear(W, 2 * d)) for d in dims[:-1]),
        })
        # top-down: h_i = MLP(z_{i+1}) gives p(z_i | z_{i+1}) and joins d_i for q; decoder from z_1
        self.generator = nn.ModuleDict({
            "td": nn.ModuleList(mlp(d_above, W, W) for d_above in dims[1:]),
            "p": nn.ModuleList(nn.Sequential(act(), nn.Linear(W, 2 * d)) for d in dims[:-1]),
            "dec": nn.Sequential(nn.Linear(dims[0], W), act(), nn.Linear(W, flat), act()),
            "up": self._deconvs(C, ch),
        })
        self.prior = GaussianPrior(dims[-1])  # p(z_L); the trainer sees no EBM
        # free bits (BIVA's 2 nats per layer, train.free_nats): each layer's KL floor this iteration, a buffer so a
        # captured graph reads it; off, the bound is summed as before (a floor of 0 would clip an MC KL below 0)
        self.register_buffer("free_nats", torch.zeros(()), persistent=False)
        self.free_nats_on = False
        init_weights(self, "authors")

    @staticmethod
    def _deconvs(C, ch) -> nn.Sequential:
        ups = []
        for j in reversed(range(len(ch))):
            ups += [nn.ConvTranspose2d(ch[j], ch[j - 1] if j > 0 else C, 4, 2, 1), nn.Tanh() if j == 0 else act()]
        return nn.Sequential(*ups)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z1 = self.split(z)[0]
        h = self.generator["dec"](z1).view(z.shape[0], -1, self.side, self.side)
        return self.generator["up"](h)

    @torch.no_grad()
    def z_from_noise(self, eps: torch.Tensor) -> torch.Tensor:
        """Ancestral sampling with given noise (Figure 1's protocol): z_L = eps_L and
        z_i = mu_i(z_{i+1}) + sigma_i(z_{i+1}) * eps_i, bottom first in ``eps`` (N x d) and in the result."""
        eps_layers = self.split(eps)
        L = len(eps_layers)
        zs = [None] * L
        zs[-1] = eps_layers[-1]
        for i in reversed(range(L - 1)):
            mu_p, logvar_p = self.generator["p"][i](self.generator["td"][i](zs[i + 1])).chunk(2, 1)
            zs[i] = mu_p + torch.exp(0.5 * soft_clamp(logvar_p)) * eps_layers[i]
        return torch.cat(zs, 1)

    # the hierarchy (TopDownBounds' hooks) ---------------------------------------------------------
    def _bottom_up(self, x):
        d = [self.encoder["d1"](x)]
        for block in self.encoder["up"]:
            d.append(block(d[-1]))
        return d

    def _layer(self, i, d, zs):
        """((mu_q, logvar_q), (mu_p, logvar_p)) of layer i: q from d_i joined with the top-down state h_i."""
        if i == len(self.latent_dims) - 1:
            mu, logvar = self.encoder["q_top"](d[-1]).chunk(2, 1)
            zero = torch.zeros_like(mu)
            return (mu, soft_clamp(logvar)), (zero, zero)
        h = self.generator["td"][i](zs[i + 1])
        mu_p, logvar_p = self.generator["p"][i](h).chunk(2, 1)
        mu, logvar = self.encoder["q"][i](torch.cat([nn.functional.leaky_relu(d[i], SLOPE), h], 1)).chunk(2, 1)
        return (mu, soft_clamp(logvar)), (mu_p, soft_clamp(logvar_p))

    def _log_likelihood(self, x, zs, d):
        """log p(x | z_1), the Gaussian's constants dropped (they cancel in LLR)."""
        return -self.reconstruction_nll(x, self.decode(torch.cat(zs, 1)))

    def neg_elbo_terms(self, x, rng, kl: str = "analytic", autocast=None, kl_weights=None):
        self._refuse_kl_weights(kl_weights)
        with autocast or contextlib.nullcontext():
            zs, log_q, log_p, kls, _ = self._walk(x, rng)
            z = torch.cat(zs, 1)
            rec = self.reconstruction_nll(x, full_precision(self.decode(z))).mean()
        terms = kls if kl == "analytic" else [q - p for q, p in zip(log_q, log_p)]
        kl_layers = torch.stack([full_precision(k.detach()).mean() for k in kls])
        if self.free_nats_on:   # a layer's KL below the floor counts as the floor: no gradient pushes it lower
            kl = torch.maximum(torch.stack([full_precision(t).mean() for t in terms]), self.free_nats).sum()
        else:
            kl = torch.stack([full_precision(t) for t in terms]).sum(0).mean()
        return ElboTerms(rec, kl, full_precision(z), kl_layers)

    def begin_iteration(self, iteration: int, train) -> None:
        self.free_nats_on = train.free_nats is not None
        if self.free_nats_on:
            self.free_nats.fill_(free_nats_at(iteration, *train.free_nats))

    def log_joint(self, x, z):
        """log p(x, z) = log p(x | z_1) + sum_i log p(z_i | z_{i+1}) + log N(z_L), constants dropped."""
        zs = self.split(z)
        value = -self.reconstruction_nll(x, self.decode(z)) - 0.5 * zs[-1].pow(2).sum(1)
        for i in range(len(zs) - 1):
            mu_p, logvar_p = self.generator["p"][i](self.generator["td"][i](zs[i + 1])).chunk(2, 1)
            logvar_p = soft_clamp(logvar_p)
            value = value + gaussian_log_prob(zs[i], mu_p, logvar_p) + 0.5 * zs[i].shape[1] * LOG_2PI
        return value

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """Ancestral samples of z (concatenated, bottom first)."""
        zs = [None] * len(self.latent_dims)
        zs[-1] = standard_normal((n, self.latent_dims[-1]), generator, self.device)
        for i in reversed(range(len(zs) - 1)):
            mu_p, logvar_p = self.generator["p"][i](self.generator["td"][i](zs[i + 1])).chunk(2, 1)
            zs[i] = reparameterised_sample(mu_p, soft_clamp(logvar_p), generator)
        return torch.cat(zs, 1)
