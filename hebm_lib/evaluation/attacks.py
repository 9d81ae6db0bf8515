"""The latent attack of Gondim-Ribeiro et al. (2018), restricted to one layer (Figure 9).

For an original x_o and a target x_t, find a distortion d that makes the inference distribution of
one layer at x_o + d close to that at x_t:

    minimise   C ||d||^2 + KL( q(z_l | x_o + d) || q(z_l | x_t) )      subject to ||d||_2 <= budget,

with x_o + d kept in the pixel box [-1, 1]. Gondim-Ribeiro et al. sweep C without a hard budget; a fixed
budget (projected Adam) makes the layers comparable at one perturbation size, which is what the
per-layer numbers below need.
"""
from __future__ import annotations

import torch

from ..distributions import gaussian_kl


def _project(d: torch.Tensor, x: torch.Tensor, budget: float) -> torch.Tensor:
    """Into the L2 ball of radius ``budget`` (per image), then into the pixel box."""
    norms = d.flatten(1).norm(dim=1).clamp_min(1e-12)
    d = d * (budget / norms).clamp(max=1.0).view(-1, *[1] * (d.dim() - 1))
    return (x + d).clamp(-1, 1) - x


def latent_attack(model, x_orig: torch.Tensor, x_target: torch.Tensor, layer: int, budget: float,
                  steps: int = 200, lr: float = 0.05, penalty: float = 1e-3, seed: int = 0) -> dict:
    """Attack layer ``layer`` (0 = bottom) for each pair (rows of x_orig, x_target; pixels in [-1, 1]).

    Returns the adversarial images, the distortion norms and the layer's KL to the target before/after.
    """
    if x_orig.shape != x_target.shape:
        raise ValueError(f"original and target batches differ in shape: {tuple(x_orig.shape)} vs {tuple(x_target.shape)}")
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    if not 0 <= layer < len(model.latent_dims):
        raise ValueError(f"layer {layer} out of range for {len(model.latent_dims)} latent layers")

    def encode_layer(x):  # q(z_layer | x): that layer's mean and log-variance
        return (model.split(v)[layer] for v in model.encode(x))

    model.requires_grad_(False)
    with torch.no_grad():
        mu_t, lv_t = encode_layer(x_target)
        mu_o, lv_o = encode_layer(x_orig)
        kl_before = gaussian_kl(mu_o, lv_o, mu_t, lv_t)
    gen = torch.Generator(device=x_orig.device).manual_seed(seed)
    d = (torch.rand(x_orig.shape, generator=gen, device=x_orig.device) - 0.5) * 2e-8  # as GR: U(+-1e-8)
    d.requires_grad_(True)
    opt = torch.optim.Adam([d], lr=lr)
    for _ in range(steps):
        mu, lv = encode_layer(x_orig + d)
        loss = (gaussian_kl(mu, lv, mu_t, lv_t) + penalty * d.flatten(1).pow(2).sum(1)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            d.copy_(_project(d, x_orig, budget))
    model.requires_grad_(True)
    with torch.no_grad():
        x_adv = x_orig + d.detach()
        mu, lv = encode_layer(x_adv)
        kl_after = gaussian_kl(mu, lv, mu_t, lv_t)
    return {"x_adv": x_adv, "distortion": d.detach().flatten(1).norm(dim=1), "kl_before": kl_before,
            "kl_after": kl_after}


@torch.no_grad()
def reconstruct(model, x: torch.Tensor) -> torch.Tensor:
    """Decode the posterior mean of every layer."""
    return model.decode(model.encode(x)[0])


@torch.no_grad()
def target_progress(rec_adv: torch.Tensor, rec_orig: torch.Tensor, rec_target: torch.Tensor) -> torch.Tensor:
    """Per pair: 0 when the adversarial reconstruction equals the original's reconstruction, 1 when it
    equals the target's (1 - ||r_adv - r_t|| / ||r_o - r_t||; can leave [0, 1])."""
    num = (rec_adv - rec_target).flatten(1).norm(dim=1)
    den = (rec_orig - rec_target).flatten(1).norm(dim=1).clamp_min(1e-12)
    return 1 - num / den
