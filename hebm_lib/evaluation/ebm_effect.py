"""What the joint EBM prior changes in a trained model, measured (every page that trains Ours shows it).

The learned prior is p_alpha(z) = exp(f(z)) N(z; 0, I) / Z with Z = E_{N(0,I)}[exp f] (Eq. 3). Its effect on a
model is small exactly when f is nearly constant (or a gentle ramp) over where N(0, I) and the posterior put
their mass; these numbers say how far from that it is:

* ``energy_gap``: mean f over posterior codes z+ of held-out images minus mean f over prior samples z- (K
  Langevin steps, the config's K and s): what Eq. 10 drives up during training;
* ``log_partition``: log Z, by ``n`` draws of N(0, I);
* ``kl_from_gaussian``: KL(p_alpha || N(0, I)) = E_p[f] - log Z, E_p by self-normalised importance sampling from
  N(0, I) (weights exp f): how far the tilted prior is from the Gaussian, in nats;
* ``kl_se``: that estimate's Monte Carlo standard error;
* ``kl_bound``: 1/2 E_p |grad f|^2, the Gaussian log-Sobolev inequality's bound on that KL (for p = exp(f) N(0, I) / Z,
  KL(p || N(0, I)) <= 1/2 E_p |grad log(dp / dN)|^2 = 1/2 E_p |grad f|^2), E_p by the same weights;
* ``grad_max``: the largest |grad f| at the points measured (N(0, I) draws, prior samples, posterior codes);
* ``lipschitz_cap``: the product of f's layers' spectral norms, a bound on |grad f| everywhere, so KL <= cap^2 / 2
  (about 1 with the authors' spectral norm: at most half a nat, whatever the latent size, data or training);
* ``tv_bound``: sqrt(KL / 2), Pinsker's bound on the total variation: the most probability mass the tilt can
  move (small is not nothing: half a nat still allows half the mass);
* ``posterior_gain``: mean f(z+) - log Z = mean log p_alpha(z+) / N(z+): how much more the tilted prior
  believes the posterior's codes than N(0, I) does;
* ``langevin_move``: how far the energy moves a prior sample: mean |z_K(f) - z_K(0)| between each chain and the
  same chain (same start, same noise) with f = 0, which samples N(0, I) itself; ``langevin_move_relative`` the
  same over mean |z_K(0)|. (A chain's own |z_K - z_0| would mostly measure its noise.)
"""
from __future__ import annotations

import math

import torch

from ..models.samplers import langevin
from .encoding import posterior

ROWS = {   # key -> (the row's metric name, unit, note)
    "energy_gap": ("EBM energy gap f(z+) - f(z-)", "nats", "posterior codes of held-out images vs prior samples"),
    "log_partition": ("EBM log E_N(0,I)[exp f]", "nats", "log Z of the tilted prior"),
    "kl_from_gaussian": ("EBM KL(p_alpha || N(0, I))", "nats", "importance-sampled from N(0, I)"),
    "kl_bound": ("EBM 1/2 E_p|grad f|^2", "nats", "log-Sobolev: KL <= this <= 1/2 max|grad f|^2"),
    "grad_max": ("EBM max |grad f|", "", "at N(0, I) draws, prior samples and posterior codes"),
    "lipschitz_cap": ("EBM Lipschitz cap of f", "", "product of its layers' spectral norms: |grad f| <= this"),
    "tv_bound": ("EBM total variation <= sqrt(KL / 2)", "", "Pinsker: the most mass the tilt can move"),
    "posterior_gain": ("EBM f(z+) - log Z", "nats", "log p_alpha / N(0, I) at the posterior's codes"),
    "langevin_move": ("EBM Langevin move by f", "", "|z_K(f) - z_K(f = 0)|: same start and noise, the config's K, s"),
    "langevin_move_relative": ("EBM Langevin move by f / |z_K|", "", "0: f moves no sample"),
}


def grad_tilt(prior, z: torch.Tensor) -> torch.Tensor:
    """grad_z f(z) of ``prior`` (any module with ``tilt``), one row per row of ``z``."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        return torch.autograd.grad(prior.tilt(z).sum(), z)[0].detach()


@torch.no_grad()
def tilt_measures(prior, n: int = 2000, generator: torch.Generator | None = None,
                  points: tuple[torch.Tensor, ...] = (), z0: torch.Tensor | None = None) -> dict[str, float]:
    """How far p_alpha = exp(f) N(0, I) / Z is from N(0, I), and the bounds on it: log Z, the KL, 1/2 E_p|grad f|^2,
    max |grad f| over the N(0, I) draws and ``points``, the Lipschitz cap and Pinsker's bound (module docstring).
    E_p is self-normalised importance sampling from ``n`` draws of N(0, I) (weights exp f; ``z0``: those draws)."""
    device = next(prior.parameters()).device
    if z0 is None:
        generator = generator or torch.Generator(device=device).manual_seed(0)
        z0 = torch.randn(n, prior.dim, generator=generator, device=device)
    f0 = prior.tilt(z0).double().cpu()
    weights = torch.softmax(f0, 0)
    log_z = torch.logsumexp(f0, 0).item() - math.log(len(z0))
    e_p_f = (weights * f0).sum().item()
    kl = e_p_f - log_z
    # the KL estimate's Monte Carlo standard error (delta method, its two terms' errors added: conservative);
    # where f is at its cap the bound is tight, and only this tells a true excess from sampling noise
    w2 = weights.pow(2)
    kl_se = (w2 * (f0 - e_p_f).pow(2)).sum().sqrt().item() + max(w2.sum().item() - 1 / len(z0), 0.0) ** 0.5
    grads = [grad_tilt(prior, p.to(device)).double().cpu().norm(dim=1) for p in (z0, *points)]
    return {"log_partition": log_z, "kl_from_gaussian": kl, "kl_se": kl_se,
            "kl_bound": 0.5 * (weights * grads[0].pow(2)).sum().item(),
            "grad_max": torch.cat(grads).max().item(), "lipschitz_cap": prior.lipschitz_cap(),
            "tv_bound": math.sqrt(max(kl, 0.0) / 2)}


@torch.no_grad()
def ebm_effect(model, images: torch.Tensor, n: int = 2000, generator: torch.Generator | None = None) -> dict[str, float]:
    """The numbers of the module docstring for ``model`` (with a joint EBM prior) on held-out uint8 ``images``."""
    prior, device = model.prior, model.device
    if not getattr(prior, "is_ebm", False):
        raise ValueError("ebm_effect needs a model with the joint EBM prior")
    f = lambda z: prior.tilt(z.to(device)).double().cpu()
    mu, _ = posterior(model, images)
    f_pos = f(mu)
    generator = generator or torch.Generator(device=device).manual_seed(0)
    z0 = torch.randn(n, prior.dim, generator=generator, device=device)
    replay = torch.Generator(device=device)
    replay.set_state(generator.get_state())
    z_neg = prior.sample(n, generator=generator, device=device, init=z0)
    # the same chain with f = 0 (grad log N(0, I) = -z), from the same start and the same noise draws
    z_flat = langevin(lambda z: -z, z0, prior.steps, prior.step_size, replay)
    # the chains' starts are the N(0, I) draws of the importance sampling
    bounds = tilt_measures(prior, points=(z_neg, mu), z0=z0)
    move = (z_neg - z_flat).norm(dim=1)
    return {"energy_gap": f_pos.mean().item() - f(z_neg).mean().item(), **bounds,
            "posterior_gain": f_pos.mean().item() - bounds["log_partition"],
            "langevin_move": move.mean().item(),
            "langevin_move_relative": (move.mean() / z_flat.norm(dim=1).mean()).item()}
