"""Running a trained model over many uint8 images, in batches on the model's device."""
from __future__ import annotations

from typing import Iterator

import torch

from ..distributions import to_unit_range


def image_batches(images: torch.Tensor, device, batch_size: int = 500) -> Iterator[torch.Tensor]:
    """Batches of ``images`` (uint8) on ``device``, pixels in [-1, 1]."""
    for i in range(0, len(images), batch_size):
        yield to_unit_range(images[i:i + batch_size].to(device))


@torch.no_grad()
def posterior(model, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) of q(z | x) on the CPU, all layers concatenated, for uint8 images."""
    mus, lvs = [], []
    for x in image_batches(images, model.device, batch_size):
        mu, lv = model.encode(x)
        mus.append(mu.float().cpu())
        lvs.append(lv.float().cpu())
    return torch.cat(mus), torch.cat(lvs)
