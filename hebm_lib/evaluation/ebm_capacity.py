"""How far can a joint EBM prior move from N(0, I) on a trained generator? The book's capacity study.

With the authors' spectral norm the energy net is 1-Lipschitz, so (ebm_effect's log-Sobolev bound) the tilted
prior is at most half a nat from N(0, I) however long it trains. These pieces measure what more capacity
would buy with the generator and encoder held fixed:

* :func:`refit_prior`: a fresh energy net of any EBM config trained by the paper's EBM update alone (Eq. 10:
  f(z+) up at codes z+ ~ q(z | x) of training images, f(z-) down at its own short-run Langevin samples z-),
  the model's generator and encoder frozen;
* :func:`with_prior`: the model with another prior in its place, for sampling and FID;
* :func:`ideal_prior_images`: images decoded from posterior draws of held-out images, the aggregate posterior
  as the prior: the best any prior could do with this generator (the floor of the study's FIDs);
* :func:`layer_kl`: KL(q(z_l | x) || N(0, I)) per layer, averaged over images.
"""
from __future__ import annotations

import contextlib
import copy
import math

import torch

from ..configs import EBMPrior
from ..models.priors import JointEBMPrior
from .encoding import image_batches, posterior
from .fid import to_uint8


def _draw(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """z ~ q(z | x) = N(mu, exp(logvar)), on mu's device."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def refit_prior(model, images: torch.Tensor, cfg: EBMPrior, iterations: int, batch_size: int,
                betas: tuple[float, float], seed: int, max_energy_gap: float = 1e3) -> tuple[JointEBMPrior, dict]:
    """A fresh energy net of ``cfg`` (initialised from ``seed``) trained for ``iterations`` EBM-only steps (Adam,
    ``cfg.lr``, ``betas``) against ``model``'s posterior codes of uint8 ``images``; the model is not changed.
    Returns the net (eval mode) and what its training did: the last energy gap, and the iteration at which it
    diverged (a non-finite or larger than ``max_energy_gap`` gap), the net then kept as it was 100 steps before."""
    device = model.device
    mu, logvar = (t.to(device) for t in posterior(model, images))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        prior = JointEBMPrior(mu.shape[1], cfg).to(device)
    prior.train()
    opt = torch.optim.Adam(prior.parameters(), lr=cfg.lr, betas=betas)
    rng = torch.Generator(device=device).manual_seed(seed)
    good, diverged, gap = copy.deepcopy(prior.state_dict()), None, float("nan")
    for it in range(1, iterations + 1):
        idx = torch.randint(len(mu), (batch_size,), generator=rng, device=device)
        z_pos = _draw(mu[idx], logvar[idx], rng)
        z_neg = prior.sample(batch_size, generator=rng, device=device)
        loss = prior.tilt(z_neg).mean() - prior.tilt(z_pos).mean()
        if not math.isfinite(loss.item()) or abs(loss.item()) > max_energy_gap:
            diverged = it
            prior.load_state_dict(good)
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        gap = -loss.item()
        if it % 100 == 0:   # the last state known to be sound, kept for a divergence
            good = copy.deepcopy(prior.state_dict())
    return prior.eval(), {"energy_gap": gap, "diverged_at": diverged}


@contextlib.contextmanager
def with_prior(model, prior):
    """``model`` with ``prior`` in place of its own for the block (sampling, FID); its own restored after."""
    own = model.prior
    model.prior = prior
    try:
        yield model
    finally:
        model.prior = own


@torch.no_grad()
def ideal_prior_images(model, images: torch.Tensor, generator: torch.Generator, batch_size: int = 500) -> torch.Tensor:
    """uint8 images g(z), z ~ q(z | x) for each of the held-out uint8 ``images``: the aggregate posterior as the
    prior, which no prior on this generator can beat by much (the floor of the capacity study)."""
    out = []
    for x in image_batches(images, model.device, batch_size):
        mu, logvar = model.encode(x)
        out.append(to_uint8(model.decode(_draw(mu, logvar, generator))))
    return torch.cat(out)


@torch.no_grad()
def layer_kl(model, images: torch.Tensor) -> list[float]:
    """KL(q(z_l | x) || N(0, I)) in nats for each layer l (bottom first), averaged over uint8 ``images``."""
    mu, logvar = posterior(model, images)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    return [part.sum(1).mean().item() for part in kl.split(list(model.latent_dims), 1)]
