"""Data-parallel helpers for torchrun: each rank trains on its share of the batch, gradients averaged."""
from __future__ import annotations

import torch


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) under torchrun, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def average_grads(params) -> None:
    _, world = rank_and_world()
    if world == 1:
        return
    for p in params:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad.div_(world)


def average_buffers(module: torch.nn.Module) -> None:
    """Average the floating-point buffers (batch norms' running statistics) over the ranks after a step, so
    every rank holds the same model; each rank normalises its own share of the batch, as under DDP."""
    _, world = rank_and_world()
    if world == 1:
        return
    for b in module.buffers():
        if b.is_floating_point():
            torch.distributed.all_reduce(b)
            b.div_(world)
