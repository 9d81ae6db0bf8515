"""Short-run Langevin dynamics (Eqs. 13-14).

    z_{t+1} = z_t + (s^2 / 2) * grad log p(z_t) + s * eps_t,   eps_t ~ N(0, I)

``grad_log_p`` is any callable z -> grad_z log p(z). With ``mask`` only the masked coordinates
move, which samples one layer from p(z_i | z_{-i}) while the other layers stay fixed.
"""
from __future__ import annotations

import warnings
from typing import Callable, List, Optional

import torch

from . import langevin_triton


def langevin(grad_log_p: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, steps: int,
             step_size: float, generator: torch.Generator | None = None,
             mask: torch.Tensor | None = None, trace: list | None = None) -> torch.Tensor:
    """Run ``steps`` Langevin steps from ``z0`` (not modified); returns the final state."""
    z = z0.detach().clone()
    half_s2 = 0.5 * step_size * step_size
    # all the noise in one call: fewer small kernels, same distribution
    noise = torch.randn((steps, *z.shape), generator=generator, device=z.device, dtype=z.dtype)
    if mask is not None:
        noise = noise * mask
    for t in range(steps):
        grad = grad_log_p(z)
        if mask is not None:
            grad = grad * mask
        z = torch.add(z, grad, alpha=half_s2).add_(noise[t], alpha=step_size)
        if trace is not None:
            trace.append(z)
    return z


def _langevin_mlp_kernel(z: torch.Tensor, noise: torch.Tensor, ws: List[torch.Tensor], bs: List[torch.Tensor],
                         w_last: torch.Tensor, mask: Optional[torch.Tensor], half_s2: float,
                         slope: float) -> torch.Tensor:
    """The Langevin loop of a LeakyReLU MLP prior, with grad f written out (see JointEBMPrior).

    ``noise`` is already scaled by the step size (and masked).
    """
    n_hidden = len(ws)
    for t in range(noise.shape[0]):
        pre: List[torch.Tensor] = []
        h = z
        for i in range(n_hidden):
            a = torch.addmm(bs[i], h, ws[i].t())
            pre.append(a)
            h = torch.nn.functional.leaky_relu(a, slope)
        g = w_last.expand(z.shape[0], -1)
        for i in range(n_hidden - 1, 0, -1):
            g = torch.ops.aten.leaky_relu_backward(g, pre[i], slope, False).mm(ws[i])
        # last layer of the backward pass also subtracts z: grad log p = grad f - z
        step = torch.addmm(z, torch.ops.aten.leaky_relu_backward(g, pre[0], slope, False), ws[0], beta=-1.0)
        if mask is not None:
            step = step * mask
        z = torch.add(z, step, alpha=half_s2).add_(noise[t])
    return z


_kernel = None


def _scripted_kernel():
    """TorchScript removes the per-op Python overhead that dominates a 16-d, 50-wide MLP."""
    global _kernel
    if _kernel is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated, still the fastest here
            _kernel = torch.jit.script(_langevin_mlp_kernel)
    return _kernel


def langevin_mlp(weights, z0: torch.Tensor, steps: int, step_size: float, slope: float,
                 generator: torch.Generator | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Same chain as ``langevin`` with grad log p = grad f - z for an MLP f, drawn from the same noise.

    On CUDA the whole chain is one fused Triton kernel (hebm_lib.models.langevin_triton); elsewhere a
    TorchScript loop. Both apply the same update to the same noise.
    """
    z = z0.detach().clone()
    noise = torch.randn((steps, *z.shape), generator=generator, device=z.device, dtype=z.dtype).mul_(step_size)
    if mask is not None:
        noise = noise * mask
    if langevin_triton.available(z, weights):
        return langevin_triton.langevin_mlp_fused(weights, z, noise, 0.5 * step_size * step_size, slope, mask)
    ws = [w for w, _ in weights[:-1]]
    bs = [b for _, b in weights[:-1]]
    args = (z, noise, ws, bs, weights[-1][0], mask, 0.5 * step_size * step_size, slope)
    return _scripted_kernel()(*args)


@torch.no_grad()
def resample_layer(prior, base: torch.Tensor, mask: torch.Tensor, n: int, generator: torch.Generator | None = None,
                   protocol: str = "conditional", steps: int | None = None,
                   step_size: float | None = None) -> torch.Tensor:
    """``n`` copies of the latent ``base`` (1 x d) whose masked coordinates (one layer) are redrawn.

    * ``conditional`` (the paper's text, Sec. 5.1): Langevin on p(z_i | z_{-i}) from N(0, I) for the
      masked layer, the other layers held at ``base``.
    * ``joint-mix`` (the authors' sampling script): draw n joint prior samples and copy their layer-i
      values into ``base``.
    For the Gaussian prior both are exact draws of z_i ~ N(0, I). Langevin uses the prior's K and s
    unless ``steps`` / ``step_size`` are given.
    """
    if protocol not in ("conditional", "joint-mix"):
        raise ValueError(f"unknown protocol {protocol!r}; valid: conditional, joint-mix")
    device = base.device
    start = base.expand(n, -1)
    langevin_settings = {"steps": steps, "step_size": step_size}
    if protocol == "joint-mix" or not getattr(prior, "is_ebm", False):
        fresh = prior.sample(n, generator=generator, device=device, **langevin_settings)
    else:
        init = torch.where(mask.bool(), torch.randn(start.shape, generator=generator, device=device), start)
        fresh = prior.sample(n, generator=generator, device=device, init=init, mask=mask, **langevin_settings)
    return torch.where(mask.bool(), fresh, start)
