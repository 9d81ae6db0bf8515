"""The top-down walk of a conditional hierarchy (p(z_L) p(z_i | z_{>i}) p(x | z), q(z_i | z_{>i}, x)) and
its importance-weighted bounds L^{>k} (Havtorn et al. 2021): shared by both HVAEs of the library, the
dense one (:mod:`hebm_lib.models.hvae`) and the conv one of Supp. Table 1 (:mod:`hebm_lib.models.hvae_conv`).

    L^{>k}(x) = log 1/S sum_s p(x | z^s) prod_{i>k} p(z_i^s | z_{>i}^s) / q(z_i^s | z_{>i}^s, x),

the bottom k layers not inferred but set to the mean of p(z_{<=k} | z_{>k}); k = 0 is the (IW) ELBO.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..distributions import gaussian_kl, gaussian_log_prob, reparameterised_sample


class TopDownBounds(nn.Module):
    """The top-down walk of a conditional hierarchy and its importance-weighted bounds L^{>k}.

    A subclass says how to get bottom-up features (``_bottom_up``), the posterior and conditional prior of
    layer i given the features and the layers above (``_layer``), and log p(x | z) (``_log_likelihood``);
    every layer is a diagonal Gaussian on a flat vector, layers bottom first.
    """
    latent_dims: tuple[int, ...]

    def _bottom_up(self, x): ...
    def _layer(self, i: int, feats, zs: list) -> tuple[tuple, tuple]: ...   # ((mu_q, logvar_q), (mu_p, logvar_p))
    def _log_likelihood(self, x, zs: list, feats) -> torch.Tensor: ...

    def _walk(self, x, rng=None, use_mean: bool = False, prior_layers: int = 0):
        """Per layer (z, log q, log p, KL), bottom first; layers below ``prior_layers`` take their
        conditional prior's mean and have no terms."""
        L = len(self.latent_dims)
        feats = self._bottom_up(x)
        zs, log_q, log_p, kls = [None] * L, [None] * L, [None] * L, [None] * L
        for i in reversed(range(L)):
            (mu, logvar), (mu_p, logvar_p) = self._layer(i, feats, zs)
            if i < prior_layers:
                zs[i] = mu_p
                continue
            zs[i] = mu if use_mean else reparameterised_sample(mu, logvar, rng)
            log_q[i] = gaussian_log_prob(zs[i], mu, logvar)
            log_p[i] = gaussian_log_prob(zs[i], mu_p, logvar_p)
            kls[i] = gaussian_kl(mu, logvar, mu_p, logvar_p)
        return zs, log_q, log_p, kls, feats

    def log_weights(self, x, k: int = 0, rng=None) -> torch.Tensor:
        """log p(x | z) + sum_{i >= k} [log p(z_i | z_{>i}) - log q(z_i | .)] of one draw per image."""
        zs, log_q, log_p, _, feats = self._walk(x, rng, prior_layers=k)
        value = self._log_likelihood(x, zs, feats)
        for i in range(k, len(self.latent_dims)):
            value = value + log_p[i] - log_q[i]
        return value

    def encode(self, x):
        """Posterior means layer by layer (top-down with means); zeros for the log-variances, which are
        not defined without a draw of the layers above."""
        z = torch.cat(self._walk(x, use_mean=True)[0], 1)
        return z, torch.zeros_like(z)

    def _refuse_kl_weights(self, kl_weights) -> None:
        """A conditional hierarchy's KL terms are per layer, not per dimension: no beta, no pro-VLAE gates."""
        if kl_weights is not None:
            raise ValueError(f"the {type(self).__name__} has no per-dimension KL weights (beta / progressive training)")

    @torch.no_grad()
    def likelihood_bound(self, x, k: int = 0, rng=None, samples: int = 1, chunk: int = 64) -> torch.Tensor:
        """L^{>k}(x) per image: log-mean-exp of ``samples`` importance weights (``chunk`` draws at a time)."""
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        parts = []
        for start in range(0, samples, chunk):
            s = min(chunk, samples - start)
            xs = x.repeat_interleave(s, 0)
            parts.append(self.log_weights(xs, k, rng).view(x.shape[0], s))
        return torch.logsumexp(torch.cat(parts, 1), 1) - math.log(samples)

    @torch.no_grad()
    def llr(self, x, k: int, rng=None, samples: int = 1) -> torch.Tensor:
        """LLR^{>k}(x) = L(x) - L^{>k}(x); high means out-of-distribution."""
        return self.likelihood_bound(x, 0, rng, samples) - self.likelihood_bound(x, k, rng, samples)

    @torch.no_grad()
    def kl_per_layer(self, x, rng=None) -> torch.Tensor:
        """Mean KL(q(z_i | z_{>i}, x) || p(z_i | z_{>i})) per layer, bottom first (nats)."""
        return torch.stack([k.mean() for k in self._walk(x, rng)[3]])
