"""What every latent-variable model of the library is, as one protocol, and the pieces they share.

Every system (Ours, VLAE, VAE, LEBM, beta-VAE, pro-VLAE, the HVAE, VHP) is a :class:`LatentModel`:
the trainer, the metrics and the notebooks use nothing else of a model.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import nn

from ..distributions import full_precision


def free_nats_at(it: int, nats: float, hold: int, decay: int) -> float:
    """Havtorn et al.'s free nats: ``nats`` for ``hold`` iterations, then linearly to 0 over ``decay``."""
    if it < hold:
        return float(nats)
    return float(nats) * max(0.0, 1.0 - (it - hold) / decay) if decay > 0 else 0.0


class ElboTerms(NamedTuple):
    """What one pass of a model's -ELBO gives the trainer (batch means; z per image)."""
    rec: torch.Tensor        # -log p(x | z), up to its constant
    kl: torch.Tensor         # the (weighted) KL term against the model's base prior
    z: torch.Tensor          # z ~ q(z | x), reparameterised, all layers concatenated
    kl_layers: torch.Tensor  # unweighted KL of each layer, bottom first (nats; the diagnostic of unused layers)
    # REWO / GECO's C where the model defines its own (VHP: per-pixel squared error on [0, 1], whatever its
    # likelihood); None: derived from rec under the Gaussian likelihood (LatentModelBase.reconstruction_constraint)
    constraint: torch.Tensor | None = None
    # the prior's tilt f(z+) (batch mean; 0 without an EBM), set by training_terms:
    # the training loss is rec + w_t * (kl - tilt)
    tilt: torch.Tensor | None = None


@runtime_checkable
class LatentModel(Protocol):
    latent_dims: tuple[int, ...]   # bottom (z_1) -> top (z_L)
    sigma: float                   # observation noise std on [-1, 1] pixels
    generator: nn.Module           # trained with the encoder by one optimiser
    encoder: nn.Module
    prior: nn.Module               # tilt(z) (f_alpha; 0 without an EBM), log_density(z), sample(n, ...)

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The concatenated z as its layers, bottom first."""

    def layer_mask(self, layer: int, device=None) -> torch.Tensor:
        """1 on the coordinates of layer ``layer`` (0 = bottom), 0 elsewhere."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenated posterior mean and log-variance of q(z | x), pixels x in [-1, 1]."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The generator's mean image of z."""

    def neg_elbo_terms(self, x: torch.Tensor, rng: torch.Generator, kl: str = "analytic", autocast=None,
                       kl_weights: torch.Tensor | None = None) -> ElboTerms:
        """-log p(x | z), the KL term against the model's base prior, z ~ q, and the KL per layer."""

    def training_terms(self, x: torch.Tensor, rng: torch.Generator, kl: str = "analytic", autocast=None,
                       kl_weights: torch.Tensor | None = None) -> ElboTerms:
        """The terms of this system's training loss on batch x (rec + w_t (kl - tilt)), tilt included."""

    def begin_iteration(self, iteration: int, train) -> None:
        """Set the objective's own per-iteration state (device buffers) before iteration ``iteration``."""

    def unsupported_mode(self, mode: str) -> str | None:
        """Why this system's objective cannot train in trainer mode ``mode``; None when it can."""

    def ensemble_unsupported(self) -> str | None:
        """Why this system's seeds cannot train as one ensemble (torch.func.vmap over its step); None when they
        can (hebm_lib.training.ensemble)."""

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised log p(x, z) per image."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of z from the prior (the model's default sampler settings)."""


BERNOULLI_EPS = 1e-6   # the mean is a tanh output: kept off 0 and 1 so the cross-entropy stays finite


class LatentModelBase(nn.Module):
    """The latent layout and the Gaussian observation model every system shares."""

    def __init__(self, nets):
        super().__init__()
        self.nets = nets
        self.latent_dims = tuple(nets.latent_dims)
        self.sigma = nets.sigma
        self.likelihood = getattr(nets, "likelihood", "gaussian")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        return list(z.split(self.latent_dims, dim=1))

    def layer_mask(self, layer: int, device=None) -> torch.Tensor:
        mask = torch.zeros(sum(self.latent_dims), device=device)
        start = sum(self.latent_dims[:layer])
        mask[start: start + self.latent_dims[layer]] = 1
        return mask

    def reconstruction_nll(self, x: torch.Tensor, x_mean: torch.Tensor) -> torch.Tensor:
        """-log p(x | z) per image, x and the generator's mean in [-1, 1]. Gaussian: SSE / (2 sigma^2), up
        to its constant. Bernoulli (pro-VLAE's): cross-entropy of the pixels on [0, 1] against the mean."""
        if self.likelihood == "bernoulli":
            p = ((x_mean + 1) / 2).clamp(BERNOULLI_EPS, 1 - BERNOULLI_EPS)
            t = (x + 1) / 2
            return -(t * p.log() + (1 - t) * (1 - p).log()).flatten(1).sum(1)
        return (x - x_mean).pow(2).flatten(1).sum(1) / (2 * self.sigma ** 2)

    # -- the training objective: the trainer calls these and nothing system-specific --------------
    def training_terms(self, x, rng, kl="analytic", autocast=None, kl_weights=None) -> ElboTerms:
        """The -ELBO terms and the prior's tilt f(z+) (outside autocast: the EBM runs in fp32). A system whose
        training loss is not its -ELBO overrides this (LEBM's posterior Langevin)."""
        terms = self.neg_elbo_terms(x, rng, kl, autocast, kl_weights)
        return terms._replace(tilt=self.prior.tilt(terms.z).mean())

    def begin_iteration(self, iteration: int, train) -> None:
        """No per-iteration state by default (the conv HVAE's free nats have one)."""

    def unsupported_mode(self, mode: str) -> str | None:
        return None

    def ensemble_unsupported(self) -> str | None:
        return None

    def reconstruction_constraint(self, terms: ElboTerms, x: torch.Tensor) -> torch.Tensor:
        """REWO / GECO's C of this batch: the per-pixel squared error on [0, 1] pixels, the model's own where
        it gives one (terms.constraint), else from rec = SSE / (2 sigma^2) on [-1, 1] pixels."""
        if terms.constraint is not None:
            return terms.constraint
        return full_precision(terms.rec.detach()) * 2 * self.sigma ** 2 / x[0].numel() / 4

    def log_likelihood(self, x: torch.Tensor, x_mean: torch.Tensor) -> torch.Tensor:
        """log p(x | z) per image with its constant: a density in nats (Gaussian on [-1, 1] pixels), or
        a probability (Bernoulli; exact for binarised x)."""
        if self.likelihood == "bernoulli":
            return -self.reconstruction_nll(x, x_mean)
        return -self.reconstruction_nll(x, x_mean) - 0.5 * x[0].numel() * math.log(2 * math.pi * self.sigma ** 2)
