"""Per-iteration training statistics of one config per system branch at `smoke`, on fixed random images.

Prints JSON {config: [[loss, rec, kl0, tilt, energy_gap, KL per layer..., beta], ...] per iteration}. The trainer and the models are refactored
against it: tests/test_objectives.py pins what this printed before a move (the same numbers after)."""
from __future__ import annotations

import json
import sys
import tempfile

import torch

from hebm_lib.configs import get_config
from hebm_lib.training.trainer import STAT_NAMES, train

# one config per branch of a system's objective: the EBM prior, N(0, I), one layer, LEBM's posterior
# Langevin, the conditional HVAE, free nats, pro-VLAE's gates, beta-VAE, REWO, GECO, warm-up, VampPrior, IWAE
BRANCHES = {
    "mnist_ours": {}, "mnist_vlae": {}, "mnist_vae": {}, "mnist_lebm": {},
    "anomaly_lebm": {}, "mnist_hvae": {}, "fmnist_hvae_oodd": {},
    "shapes3d_provlae": {}, "shapes3d_betavae": {}, "pendulum_vhp_rewo": {}, "pendulum_vhp_geco": {},
    "pendulum_vhp_wu20": {}, "mnist_nll_vamp": {}, "mnist_nll_iwae2": {},
}


def losses(name: str, overrides: dict) -> list[list[float]]:
    """One thread and deterministic kernels: a sum split over threads rounds differently (1e-6 relative)."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        return _losses(name, overrides)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _losses(name: str, overrides: dict) -> list[list[float]]:
    cfg = get_config(name, "smoke", overrides)
    gen = torch.Generator().manual_seed(123)
    images = torch.randint(0, 256, (64, *cfg.nets.image_shape), generator=gen, dtype=torch.uint8)
    with tempfile.TemporaryDirectory() as d:
        trainer = train(cfg, 0, d, images, device="cpu", progress=False)
    return [[h[k] for k in STAT_NAMES] + h["kl_layers"] + [h.get("beta", 1.0)] for h in trainer.history]


if __name__ == "__main__":
    names = sys.argv[1:] or list(BRANCHES)
    print(json.dumps({n: losses(n, BRANCHES[n]) for n in names}, indent=1))
