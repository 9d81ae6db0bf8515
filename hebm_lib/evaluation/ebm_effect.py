"""What the joint EBM prior changes in a trained model, measured (every page that trains Ours shows it).

The learned prior is p_alpha(z) = exp(f(z)) N(z; 0, I) / Z with Z = E_{N(0,I)}[exp f] (Eq. 3). Its effect on a
model is small exactly when f is nearly constant (or a gentle ramp) over where N(0, I) and the posterior put
their mass; these numbers say how far from that it is:

* ``energy_gap``: mean f over posterior codes z+ of held-out images minus mean f over prior samples z- (K
  Langevin steps, the config's K and s): what Eq. 10 drives up during training;
* ``log_partition``: log Z, by ``n`` draws of N(0, I);
* ``kl_from_gaussian``: KL(p_alpha || N(0, I)) = E_p[f] - log Z, E_p by self-normalised importance sampling from
  N(0, I) (weights exp f): how far the tilted prior is from the Gaussian, in nats;
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
    "posterior_gain": ("EBM f(z+) - log Z", "nats", "log p_alpha / N(0, I) at the posterior's codes"),
    "langevin_move": ("EBM Langevin move by f", "", "|z_K(f) - z_K(f = 0)|: same start and noise, the config's K, s"),
    "langevin_move_relative": ("EBM Langevin move by f / |z_K|", "", "0: f moves no sample"),
}


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
    f_gauss = f(z0)
    log_z = torch.logsumexp(f_gauss, 0).item() - math.log(n)
    e_p_f = (torch.softmax(f_gauss, 0) * f_gauss).sum().item()
    move = (z_neg - z_flat).norm(dim=1)
    return {"energy_gap": f_pos.mean().item() - f(z_neg).mean().item(), "log_partition": log_z,
            "kl_from_gaussian": e_p_f - log_z, "posterior_gain": f_pos.mean().item() - log_z,
            "langevin_move": move.mean().item(),
            "langevin_move_relative": (move.mean() / z_flat.norm(dim=1).mean()).item()}
