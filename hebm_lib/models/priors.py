"""Priors over the concatenated latent z = [z_1, ..., z_L], behind one interface.

* :class:`GaussianPrior`: p(z) = N(0, I). With the hierarchical nets this is VLAE.
* :class:`JointEBMPrior`: p_alpha(z) ∝ exp(f_alpha(z)) N(0, I) (Eq. 3), f_alpha a small MLP on the
  concatenated z. With one latent group it is LEBM (Pang et al. 2020).

Both give ``tilt(z)`` (= f_alpha(z), 0 for the Gaussian), ``log_density(z)`` (unnormalised),
``grad_log_density(z)`` and ``sample(n, ...)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..configs import EBMPrior
from ..distributions import full_precision, standard_normal
from .blocks import SLOPE, spectral_norm
from .samplers import langevin, langevin_mlp


class GaussianPrior(nn.Module):
    is_ebm = False

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def tilt(self, z: torch.Tensor) -> torch.Tensor:
        return z.new_zeros(z.shape[0])

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I) without its constant."""
        return -0.5 * z.pow(2).sum(1)

    def grad_log_density(self, z: torch.Tensor) -> torch.Tensor:
        return -z

    @torch.no_grad()
    def sample(self, n: int, generator=None, device=None, init: torch.Tensor | None = None,
               mask: torch.Tensor | None = None, **_langevin) -> torch.Tensor:
        """Exact samples; with ``init`` and ``mask`` only the masked coordinates are redrawn.
        (Langevin settings, which the EBM prior takes, are ignored: these draws are exact.)"""
        fresh = standard_normal((n, self.dim), generator, device)
        if init is None or mask is None:
            return fresh
        return torch.where(mask.bool(), fresh, init)


class JointEBMPrior(nn.Module):
    """f_alpha: Linear-LeakyReLU(0.2) x ``layers`` then Linear(->1), optional spectral norm, times the config's
    ``scale``; sampled by short-run Langevin with the config's K and s unless a call says otherwise."""

    is_ebm = True
    slope = SLOPE

    def __init__(self, dim: int, cfg: EBMPrior):
        super().__init__()
        self.dim = dim
        self.steps, self.step_size = cfg.langevin_steps, cfg.langevin_step_size
        self.scale = cfg.scale
        widths = [dim] + [cfg.hidden] * cfg.layers + [1]
        linears = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]
        if cfg.spectral_norm:
            linears = [spectral_norm(lin) for lin in linears]
        self.linears = nn.ModuleList(linears)

    def tilt(self, z: torch.Tensor) -> torch.Tensor:
        """f_alpha(z), the negative energy, one value per row."""
        h = z
        for i, lin in enumerate(self.linears):
            h = lin(h)
            if i < len(self.linears) - 1:
                h = nn.functional.leaky_relu(h, self.slope)
        return (h if self.scale == 1.0 else self.scale * h).squeeze(1)

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        return self.tilt(z) - 0.5 * z.pow(2).sum(1)

    def frozen_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The effective (spectrally normalised) weights, computed once and detached.

        Langevin holds alpha fixed, so the weights are computed once per chain instead of at every
        step (the authors' code re-runs the power iteration at each step, which is what makes their
        sampler slow; the target density of one chain should not change while it runs anyway).
        """
        with torch.no_grad():
            weights = [(lin.weight.detach(), lin.bias.detach()) for lin in self.linears]
            if self.scale != 1.0:   # f = scale x the net: folded into the last layer
                w, b = weights[-1]
                weights[-1] = (self.scale * w, self.scale * b)
            return weights

    def lipschitz_cap(self) -> float:
        """An upper bound on |grad f| everywhere: the product of the effective layers' spectral norms (LeakyReLU's
        slopes are at most 1). With spectral norm each factor is about 1 (its power iteration's estimate), so
        the cap is about ``scale``."""
        return math.prod(torch.linalg.matrix_norm(w.double(), ord=2).item() for w, _ in self.frozen_weights())

    @staticmethod
    def grad_tilt_from(weights, z: torch.Tensor, slope: float = 0.2) -> torch.Tensor:
        """grad_z f(z) by an explicit backward pass through the MLP (no autograd graph).

        A handful of small kernels per step and no graph bookkeeping; tests/test_priors.py checks
        it against torch.autograd.grad.
        """
        pre = []
        h = z
        for w, b in weights[:-1]:
            pre.append(torch.addmm(b, h, w.t()))
            h = nn.functional.leaky_relu(pre[-1], slope)
        g = weights[-1][0].expand(z.shape[0], -1)  # d f / d (last hidden activation)
        for (w, _), a in zip(reversed(weights[:-1]), reversed(pre)):
            g = torch.ops.aten.leaky_relu_backward(g, a, slope, False).mm(w)
        return g

    def grad_log_density(self, z: torch.Tensor, weights=None) -> torch.Tensor:
        weights = weights if weights is not None else self.frozen_weights()
        return self.grad_tilt_from(weights, z, self.slope) - z

    @torch.no_grad()
    def sample(self, n: int, generator=None, device=None, init: torch.Tensor | None = None,
               mask: torch.Tensor | None = None, steps: int | None = None, step_size: float | None = None,
               trace: list | None = None) -> torch.Tensor:
        """Short-run Langevin from N(0, I) (or from ``init``); ``mask`` resamples only some coordinates."""
        device = device or self.linears[0].bias.device
        steps = self.steps if steps is None else steps
        step_size = self.step_size if step_size is None else step_size
        z0 = init if init is not None else standard_normal((n, self.dim), generator, device)
        weights = self.frozen_weights()
        if trace is not None:  # the generic loop keeps every state
            return langevin(lambda z: self.grad_log_density(z, weights), full_precision(z0), steps, step_size,
                            generator, mask, trace)
        return langevin_mlp(weights, full_precision(z0), steps, step_size, self.slope, generator, mask)


def build_prior(cfg: EBMPrior | None, dim: int) -> nn.Module:
    """The joint EBM prior of ``cfg`` over ``dim`` latent coordinates, or N(0, I) when ``cfg`` is None."""
    return GaussianPrior(dim) if cfg is None else JointEBMPrior(dim, cfg)
