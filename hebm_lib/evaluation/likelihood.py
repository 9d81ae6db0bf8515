"""Marginal log-likelihood by importance sampling (the VHP paper's Table 2 protocol: 5,000 samples).

    log p(x) ~= log (1/S) sum_s w_s,   w_s = p(x, z_s) / q(z_s | x),   z_s ~ q(z | x)

A model supplies ``log_importance_weight(x, rng)``: log w of one draw per row of x, with every
constant of p(x | z) kept (a normalised likelihood), so that the estimate is a log-likelihood in nats.
The estimate is a stochastic lower bound whose gap shrinks as S grows (Burda et al. 2016).
"""
from __future__ import annotations

import math

import torch


@torch.no_grad()
def importance_sampled_log_likelihood(log_weight, x: torch.Tensor, samples: int, rng: torch.Generator | None = None,
                                      chunk: int = 500) -> torch.Tensor:
    """log p(x) per row of ``x`` from ``samples`` importance weights, drawn ``chunk`` at a time;
    ``log_weight(xs, rng)`` gives one draw's log weight per row of ``xs``."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    running = torch.full((x.shape[0],), -math.inf, device=x.device, dtype=torch.float64)
    for start in range(0, samples, chunk):
        s = min(chunk, samples - start)
        w = log_weight(x.repeat_interleave(s, 0), rng).view(x.shape[0], s).double()
        running = torch.logaddexp(running, torch.logsumexp(w, 1))   # a running log-sum-exp: memory of one chunk
    return running - math.log(samples)
