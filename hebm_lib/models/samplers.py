"""Short-run Langevin dynamics (Eqs. 13-14).

    z_{t+1} = z_t + (s^2 / 2) * grad log p(z_t) + s * eps_t,   eps_t ~ N(0, I)

``grad_log_p`` is any callable z -> grad_z log p(z). With ``mask`` only the masked coordinates
move, which samples one layer from p(z_i | z_{-i}) while the other layers stay fixed.

The chain of an MLP energy (the joint EBM prior's) is one operator, ``hebm::langevin_mlp_chain``, with a
rule for ``torch.func.vmap``: inside an ensemble's vmapped step (hebm_lib.training.ensemble) each member's
chain runs with its own weights and noise in one member-batched kernel, not as ~12 small kernels per step.
"""
from __future__ import annotations

import warnings
from typing import Callable, List, Optional

import torch

from ..distributions import standard_normal
from . import langevin_triton


def langevin(grad_log_p: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, steps: int,
             step_size: float, generator: torch.Generator | None = None,
             mask: torch.Tensor | None = None, trace: list | None = None) -> torch.Tensor:
    """Run ``steps`` Langevin steps from ``z0`` (not modified); returns the final state."""
    z = z0.detach().clone()
    half_s2 = 0.5 * step_size * step_size
    # all the noise in one call: fewer small kernels, same distribution
    noise = standard_normal((steps, *z.shape), generator, z.device, z.dtype)
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


def _langevin_mlp_members_kernel(z: torch.Tensor, noise: torch.Tensor, ws: List[torch.Tensor],
                                 bs: List[torch.Tensor], w_last: torch.Tensor, mask: Optional[torch.Tensor],
                                 half_s2: float, slope: float) -> torch.Tensor:
    """:func:`_langevin_mlp_kernel` for M members at once: z (M x B x D), noise (M x K x B x D), each weight
    with a leading member dim (w_last M x 1 x H); batched matrix products instead of one per member."""
    n_hidden = len(ws)
    for t in range(noise.shape[1]):
        pre: List[torch.Tensor] = []
        h = z
        for i in range(n_hidden):
            a = torch.baddbmm(bs[i].unsqueeze(1), h, ws[i].transpose(1, 2))
            pre.append(a)
            h = torch.nn.functional.leaky_relu(a, slope)
        g = w_last.expand(z.shape[0], z.shape[1], w_last.shape[2])
        for i in range(n_hidden - 1, 0, -1):
            g = torch.bmm(torch.ops.aten.leaky_relu_backward(g, pre[i], slope, False), ws[i])
        step = torch.baddbmm(z, torch.ops.aten.leaky_relu_backward(g, pre[0], slope, False), ws[0], beta=-1.0)
        if mask is not None:
            step = step * mask
        z = torch.add(z, step, alpha=half_s2).add_(noise[:, t])
    return z


_kernels: dict = {}


def _scripted_kernel(members: bool = False):
    """TorchScript removes the per-op Python overhead that dominates a 16-d, 50-wide MLP."""
    if members not in _kernels:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated, still the fastest here
            _kernels[members] = torch.jit.script(_langevin_mlp_members_kernel if members else _langevin_mlp_kernel)
    return _kernels[members]


@torch.library.custom_op("hebm::langevin_mlp_chain", mutates_args=(),
                         schema="(Tensor z, Tensor noise, Tensor[] ws, Tensor[] bs, Tensor w_last, Tensor? mask, "
                                "float half_s2, float slope) -> Tensor")
def _chain(z, noise, ws, bs, w_last, mask, half_s2, slope):
    """One chain: the fused Triton kernel on CUDA, else the TorchScript loop (``noise`` pre-scaled)."""
    weights = list(zip(ws, bs)) + [(w_last, None)]
    if langevin_triton.available(z, weights):
        return langevin_triton.langevin_mlp_fused(weights, z, noise, half_s2, slope, mask)
    return _scripted_kernel()(z.clone(), noise, list(ws), list(bs), w_last, mask, half_s2, slope)


@_chain.register_fake
def _(z, noise, ws, bs, w_last, mask, half_s2, slope):
    return torch.empty_like(z)


def _chain_members(info, in_dims, z, noise, ws, bs, w_last, mask, half_s2, slope):
    """vmap's rule: every input with the member dim first (an input shared by all members is expanded), then
    every member's chain in one kernel."""
    m = info.batch_size
    lead = lambda t, d: t.movedim(d, 0) if d is not None else t.expand(m, *t.shape)
    z, noise, w_last = lead(z, in_dims[0]), lead(noise, in_dims[1]), lead(w_last, in_dims[4])
    ws = [lead(w, d) for w, d in zip(ws, in_dims[2])]
    bs = [lead(b, d) for b, d in zip(bs, in_dims[3])]
    if mask is not None:
        mask = lead(mask, in_dims[5]).unsqueeze(1) if in_dims[5] is not None else mask
    weights = list(zip(ws, bs)) + [(w_last, None)]
    if langevin_triton.available(z, weights):
        return langevin_triton.langevin_mlp_fused(weights, z, noise, half_s2, slope, mask), 0
    z = z.contiguous().clone()
    return _scripted_kernel(members=True)(z, noise, ws, bs, w_last, mask, half_s2, slope), 0


torch.library.register_vmap("hebm::langevin_mlp_chain", _chain_members)


def langevin_mlp(weights, z0: torch.Tensor, steps: int, step_size: float, slope: float,
                 generator: torch.Generator | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Same chain as ``langevin`` with grad log p = grad f - z for an MLP f, drawn from the same noise.

    On CUDA the whole chain is one fused Triton kernel (hebm_lib.models.langevin_triton); elsewhere a
    TorchScript loop. Both apply the same update to the same noise.
    """
    z = z0.detach()
    noise = standard_normal((steps, *z.shape), generator, z.device, z.dtype).mul_(step_size)
    if mask is not None:
        noise = noise * mask
    return _chain(z, noise, [w for w, _ in weights[:-1]], [b for _, b in weights[:-1]], weights[-1][0], mask,
                  0.5 * step_size * step_size, slope)


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
        init = torch.where(mask.bool(), standard_normal(start.shape, generator, device), start)
        fresh = prior.sample(n, generator=generator, device=device, init=init, mask=mask, **langevin_settings)
    return torch.where(mask.bool(), fresh, start)
