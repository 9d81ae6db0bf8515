"""The hierarchical VAE of Havtorn et al. (ICML 2021) for Fashion-MNIST vs MNIST (Supp. Table 1's "HVAE").

Their recipe (``baselines-facts.md`` section 7): three stochastic layers, z_1 a conv-Gaussian map of 8
channels at 14x14, z_2 dense 16, z_3 dense 8; deterministic stages of residual conv blocks (k5 at full
resolution, k3 below; 64 channels); a Bernoulli p(x | z) on binarised pixels; KL warm-up and free nats.
Weight norm and their activation are not copied (LeakyReLU as in the rest of the library).

    top-down   p(z_3) = N(0, I),  p(z_i | z_{>i}) Gaussian,  p(x | z) Bernoulli
    inference  q(z_3 | x),  q(z_i | z_{>i}, x) from the bottom-up features joined with the top-down state

The bounds are importance-weighted (log-mean-exp over ``samples`` draws per image), as Havtorn et al.'s:

    L^{>k}(x) = log 1/S sum_s p(x | z^s) prod_{i>k} p(z_i^s | z_{>i}^s) / q(z_i^s | z_{>i}^s, x),

the bottom k layers not inferred but set to the mean of p(z_{<=k} | z_{>k}), with no term of their own;
k = 0 is the (IW) ELBO; LLR^{>k}(x) = L(x) - L^{>k}(x).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn import functional as F

from ..configs import ConvLatentNets
from ..distributions import binarise, full_precision, gaussian_log_prob, reparameterised_sample, soft_clamp
from .base import ElboTerms, LatentModelBase, free_nats_at  # noqa: F401 (tests import it from here)
from .top_down import TopDownBounds
from .blocks import act, init_weights
from .priors import GaussianPrior


def _res_stage(c: int, kernel: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*(_Residual(c, kernel) for _ in range(blocks)))


class _Residual(nn.Module):
    def __init__(self, c: int, kernel: int):
        super().__init__()
        self.net = nn.Sequential(act(), nn.Conv2d(c, c, kernel, 1, kernel // 2),
                                 act(), nn.Conv2d(c, c, kernel, 1, kernel // 2))

    def forward(self, x):
        return x + self.net(x)


class ConvLatentHVAE(TopDownBounds, LatentModelBase):
    def __init__(self, nets: ConvLatentNets):
        LatentModelBase.__init__(self, nets)
        C, S, _ = nets.image_shape
        c1, c2, c3 = nets.channels
        b, d2, d3 = nets.blocks, nets.latent_dims[1], nets.latent_dims[2]
        self.half, self.quarter, self.c1 = S // 2, S // 4, nets.z1_channels
        q2 = self.quarter ** 2
        self.encoder = nn.ModuleDict({
            "stage1": nn.Sequential(nn.Conv2d(C, c1, 5, 1, 2), _res_stage(c1, 5, b), act(), nn.Conv2d(c1, c2, 5, 2, 2)),
            "stage2": nn.Sequential(_res_stage(c2, 3, b), act(), nn.Conv2d(c2, c3, 3, 2, 1)),
            "stage3": _res_stage(c3, 3, b),
            "q3": nn.Sequential(act(), nn.Flatten(), nn.Linear(c3 * q2, 2 * d3)),
            "q2": nn.Sequential(act(), nn.Flatten(), nn.Linear(2 * c3 * q2, 2 * d2)),
            "q1": nn.Sequential(act(), nn.Conv2d(c2 + c2, 2 * self.c1, 3, 1, 1)),
        })
        self.generator = nn.ModuleDict({
            "from_z3": nn.Linear(d3, c3 * q2), "stage3": _res_stage(c3, 3, b),
            "p2": nn.Sequential(act(), nn.Flatten(), nn.Linear(c3 * q2, 2 * d2)),
            "from_z2": nn.Linear(d2, c3 * q2),
            "stage2": nn.Sequential(_res_stage(c3, 3, b), act(), nn.ConvTranspose2d(c3, c2, 4, 2, 1)),
            "p1": nn.Sequential(act(), nn.Conv2d(c2, 2 * self.c1, 3, 1, 1)),
            "from_z1": nn.Conv2d(self.c1, c2, 3, 1, 1),
            "stage1": nn.Sequential(_res_stage(c2, 3, b), act(), nn.ConvTranspose2d(c2, c1, 4, 2, 1),
                                    _res_stage(c1, 5, b), act(), nn.Conv2d(c1, C, 5, 1, 2)),
        })
        self.prior = GaussianPrior(d3)     # p(z_3); the trainer sees no EBM
        # the KL floor of each layer this iteration (train.free_nats), a buffer so a captured graph reads it
        self.register_buffer("free_nats", torch.zeros(()), persistent=False)
        init_weights(self, "authors")

    # the hierarchy (TopDownBounds' hooks) --------------------------------------------------------
    def _bottom_up(self, x):
        d1 = self.encoder["stage1"](x)
        d2 = self.encoder["stage2"](d1)
        return {"d1": d1, "d2": d2, "d3": self.encoder["stage3"](d2)}

    def _h2(self, z3):
        return self.generator["stage3"](self.generator["from_z3"](z3).view(z3.shape[0], -1, self.quarter, self.quarter))

    def _h1(self, z2, h2):
        return self.generator["stage2"](self.generator["from_z2"](z2).view_as(h2) + h2)

    def _prior(self, i, feats, zs):
        """p(z_i | z_{>i}); keeps the top-down state it computes in ``feats`` for the layers below."""
        if i == 2:
            n = feats["d3"].shape[0] if "d3" in feats else feats["n"]
            zero = torch.zeros(n, self.latent_dims[2], device=self.device)
            return zero, zero
        if i == 1:
            feats["h2"] = self._h2(zs[2])
            mu_p, logvar_p = self.generator["p2"](feats["h2"]).chunk(2, 1)
        else:
            feats["h1"] = self._h1(zs[1], feats["h2"])
            mu_p, logvar_p = self.generator["p1"](feats["h1"]).flatten(1).chunk(2, 1)
        return mu_p, soft_clamp(logvar_p)

    def _layer(self, i, feats, zs):
        prior = self._prior(i, feats, zs)
        if i == 2:
            mu, logvar = self.encoder["q3"](feats["d3"]).chunk(2, 1)
        elif i == 1:
            mu, logvar = self.encoder["q2"](torch.cat([feats["d2"], feats["h2"]], 1)).chunk(2, 1)
        else:
            mu, logvar = self.encoder["q1"](torch.cat([feats["d1"], feats["h1"]], 1)).flatten(1).chunk(2, 1)
        return (mu, soft_clamp(logvar)), prior

    def _logits(self, z1, h1):
        z1 = z1.view(z1.shape[0], self.c1, self.half, self.half)
        return self.generator["stage1"](self.generator["from_z1"](z1) + h1)

    def _log_likelihood(self, x, zs, feats):
        target = (x + 1) / 2
        return -F.binary_cross_entropy_with_logits(full_precision(self._logits(zs[0], feats["h1"])), target,
                                                   reduction="none").flatten(1).sum(1)

    # the LatentModel protocol ----------------------------------------------------------------------
    def decode(self, z):
        z1, z2, z3 = self.split(z)
        return torch.tanh(self._logits(z1, self._h1(z2, self._h2(z3))) / 2)   # 2 sigmoid - 1: the mean on [-1, 1]

    def begin_iteration(self, iteration: int, train) -> None:
        if train.free_nats is not None:
            self.free_nats.fill_(free_nats_at(iteration, *train.free_nats))

    def neg_elbo_terms(self, x, rng, kl: str = "analytic", autocast=None, kl_weights=None):
        self._refuse_kl_weights(kl_weights)
        if self.training and self.nets.binarise:
            x = binarise(x, rng)
        with autocast or contextlib.nullcontext():
            zs, log_q, log_p, kls, feats = self._walk(x, rng)
            rec = -self._log_likelihood(x, zs, feats).mean()
        per_layer = kls if kl == "analytic" else [q - p for q, p in zip(log_q, log_p)]
        per_layer = torch.stack([full_precision(t).mean() for t in per_layer])
        # free nats: a layer's KL below the floor counts as the floor (no gradient pushes it lower)
        kl_term = torch.maximum(per_layer, self.free_nats).sum()
        kl_layers = torch.stack([full_precision(k.detach()).mean() for k in kls])
        return ElboTerms(rec, kl_term, full_precision(torch.cat(zs, 1)), kl_layers)

    def log_joint(self, x, z):
        """log p(x, z) = log p(x | z) + log p(z_1 | z_2, z_3) + log p(z_2 | z_3) + log N(z_3; 0, I)."""
        zs, feats = self.split(z), {"n": z.shape[0]}
        value = 0.0
        for i in reversed(range(3)):
            value = value + gaussian_log_prob(zs[i], *self._prior(i, feats, zs))
        return value + self._log_likelihood(x, zs, feats)

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """Ancestral samples of z (concatenated, bottom first)."""
        zs, feats = [None] * 3, {"n": n}
        for i in reversed(range(3)):
            mu_p, logvar_p = self._prior(i, feats, zs)
            zs[i] = reparameterised_sample(mu_p, logvar_p, generator)
        return torch.cat(zs, 1)
