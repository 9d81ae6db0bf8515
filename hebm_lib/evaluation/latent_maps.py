"""Low-dimensional latent spaces (Figures 2, 6, 7): codes varied over grids, how often the decoded digit
changes class, the prior's density on a grid, and Langevin chains with their energies."""
from __future__ import annotations

import itertools

import torch

from ..models.base import LatentModel


def grid_values(n: int, span: float) -> torch.Tensor:
    """``n`` evenly spaced values in [-span, span] (prior standard deviations)."""
    return torch.linspace(-span, span, n)


def vary_units(base: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Copies of each base code (B x d) with the coordinates ``dims`` set to every point of the grid
    ``values`` ^ len(dims), the others held: B x G^k x d, grid in row-major order of ``dims``."""
    points = torch.tensor(list(itertools.product(values.tolist(), repeat=len(dims))), dtype=base.dtype,
                          device=base.device)
    out = base[:, None, :].repeat(1, len(points), 1)
    out[:, :, dims] = points
    return out


@torch.no_grad()
def class_change_rate(judge: torch.nn.Module, model: LatentModel, base: torch.Tensor, dims: list[int],
                      values: torch.Tensor) -> torch.Tensor:
    """Per base code: the fraction of decodings, with ``dims`` swept over the grid, that the judge labels
    differently from the decoding of the base itself (one rate per row of ``base``)."""
    varied = vary_units(base, dims, values)
    B, G, d = varied.shape
    base_class = judge(model.decode(base)).argmax(1)
    varied_class = judge(model.decode(varied.reshape(B * G, d))).argmax(1).view(B, G)
    return (varied_class != base_class[:, None]).float().mean(1)


@torch.no_grad()
def log_density_grid(prior, values: torch.Tensor, base: torch.Tensor | None = None,
                     dims: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """Unnormalised log p(z) on the G x G grid over the coordinates ``dims`` (others at ``base``, default
    0); rows index dims[1] (the y axis), columns dims[0]."""
    device = next(prior.parameters()).device
    base = (torch.zeros(1, prior.dim) if base is None else base.reshape(1, -1)).to(device)
    varied = vary_units(base, [dims[1], dims[0]], values.to(device))[0]
    return prior.log_density(varied).view(len(values), len(values))


@torch.no_grad()
def prior_chains(prior, n: int, generator: torch.Generator | None = None, steps: int | None = None,
                 init: torch.Tensor | None = None, device=None) -> torch.Tensor:
    """Langevin chains of the prior from N(0, I) (or ``init``): every state, (steps + 1) x n x d."""
    trace: list[torch.Tensor] = []
    z0 = init if init is not None else torch.randn(n, prior.dim, generator=generator, device=device)
    prior.sample(len(z0), generator=generator, init=z0, steps=steps, trace=trace)
    return torch.stack([z0.float()] + trace)


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, bandwidth: float = 1.0) -> float:
    """Unbiased squared maximum mean discrepancy between samples x (n x d) and y (m x d) under the
    Gaussian kernel exp(-|a - b|^2 / (2 bandwidth^2)); 0 in expectation when they share a distribution."""
    def k(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth ** 2))
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"mmd_rbf needs at least 2 samples on each side, got {n} and {m}")
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1)) - 2 * kxy.mean())
