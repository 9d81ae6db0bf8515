"""Image modelling measures (Tables 2, 4-6, Figures 8, 10): samples as uint8 images, the reconstruction
MSE, and the long-run Langevin chain with its energy and saturation."""
from __future__ import annotations

import torch

from ..models import LatentModel
from .encoding import image_batches, posterior
from .fid import to_uint8


@torch.no_grad()
def generate(model: LatentModel, n: int, generator: torch.Generator | None = None, steps: int | None = None,
             batch_size: int = 500) -> torch.Tensor:
    """``n`` images x = g(z), z from the model's prior (``steps`` Langevin steps for an EBM prior, its
    config's K when None), as uint8 pixels."""
    out = []
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        z = model.sample(m, generator=generator) if steps is None else model.sample(m, generator=generator, steps=steps)
        out.append(to_uint8(model.decode(z)))
    return torch.cat(out)


@torch.no_grad()
def reconstruction_mse(model: LatentModel, images: torch.Tensor, batch_size: int = 500) -> float:
    """Per-pixel mean squared error of g(mu(x)) against x on the [-1, 1] pixel scale, over ``images``
    (uint8), with the posterior mean as the code (the paper's Table 2 MSE; on [0, 1] it is a quarter)."""
    mu, _ = posterior(model, images, batch_size)
    total, count = 0.0, 0
    for x, z in zip(image_batches(images, model.device, batch_size), mu.split(batch_size)):
        total += (model.decode(z.to(model.device)) - x).pow(2).sum().item()
        count += x.numel()
    return total / count


def saturated_fraction(images: torch.Tensor, margin: float = 0.02) -> float:
    """Fraction of pixels within ``margin`` of black or white (generator images on [-1, 1])."""
    x = images.float().clamp(-1, 1)
    return ((x <= -1 + 2 * margin) | (x >= 1 - 2 * margin)).float().mean().item()


@torch.no_grad()
def long_run_chain(model: LatentModel, n_chains: int, steps: int, every: int, generator=None,
                   also_at: tuple[int, ...] = (), step_size: float | None = None):
    """Figure 8: Langevin on the prior from N(0, I) for ``steps`` steps, all chains at once.

    Returns (energy, snapshots, final): the mean energy -log p_alpha(z) (unnormalised: -f(z) + |z|^2 / 2)
    over the chains after every step (index 0 = the start); the decoded images (on [-1, 1]) every
    ``every`` steps and at the steps ``also_at``, as {step: images}; the energy of every chain at the end.
    """
    prior = model.prior
    if not getattr(prior, "is_ebm", False):
        raise ValueError("the long-run chain needs an EBM prior (this model's prior is N(0, I))")
    s = prior.step_size if step_size is None else step_size
    z = torch.randn(n_chains, prior.dim, generator=generator, device=model.device)
    energy = [(-prior.log_density(z)).mean().item()]
    snapshots = {0: model.decode(z).cpu()}
    stops = sorted(set(range(every, steps + 1, every)) | {t for t in also_at if 0 < t <= steps} | {steps})
    done = 0
    for t in stops:
        trace = []
        z = prior.sample(n_chains, generator=generator, init=z, steps=t - done, step_size=s, trace=trace)
        energy += [(-prior.log_density(zt)).mean().item() for zt in trace]
        snapshots[t] = model.decode(z).cpu()
        done = t
    return torch.tensor(energy), snapshots, (-prior.log_density(z)).cpu()
