"""Per-iteration training statistics of one config per system branch at `smoke`, on fixed random images,
trained in float64: the numbers tests/test_objectives.py and tests/test_train.py pin.

Why float64: in float32 CPU rounding alone moves these numbers by up to ~1e-4 relative after a few
iterations (Adam turns gradients that are rounding noise into full-size steps; tools/rounding_spread.py
measures it by running them as other CPUs would: AVX2, SSE, MKL's compatible path, 1 to 4 threads), which is
as much as a real change of the numerics moves them. In float64 the same spread is ~1e-14, so a pin can be
tight (1e-9) and still hold on every machine.

Prints JSON {config: [[loss, rec, kl0, tilt, energy_gap, KL per layer..., beta], ...] per iteration}:
python tools/smoke_losses.py [CONFIG ...] > tests/known/smoke_losses.json rewrites the pins (with a new
hebm_lib.training.cache.TRAINING_VERSION when what is trained has changed)."""
from __future__ import annotations

import contextlib
import json
import sys
import tempfile

import torch

from hebm_lib.configs import LADDER_BEFORE_VLAE, get_config
from hebm_lib.training.trainer import STAT_NAMES, train

# one config per branch of a system's objective: the EBM prior, N(0, I), one layer, LEBM's posterior
# Langevin, the conditional HVAE (and with BIVA's free bits), free nats, pro-VLAE's gates, beta-VAE, REWO, GECO, warm-up, VampPrior, IWAE
BRANCHES = {
    "mnist_ours": {}, "mnist_vlae": {}, "mnist_vae": {}, "mnist_lebm": {},
    "anomaly_lebm": {}, "mnist_hvae": {}, "mnist_hvae6": {}, "fmnist_hvae_oodd": {},
    "shapes3d_provlae": {}, "shapes3d_betavae": {}, "pendulum_vhp_rewo": {}, "pendulum_vhp_geco": {},
    "pendulum_vhp_wu20": {}, "mnist_nll_vamp": {}, "mnist_nll_iwae2": {},
}

# tests/test_train.py's pinned short runs of Ours: nets overrides of each
PINNED_NETS = {"ladder-before-vlae": LADDER_BEFORE_VLAE, "vlae-ladder": {}}
PINNED_STATS = ("loss", "kl0", "tilt", "energy_gap")


@contextlib.contextmanager
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def losses(name: str, overrides: dict) -> list[list[float]]:
    """Every logged iteration's statistics of config ``name`` at `smoke` (6 iterations), in float64."""
    cfg = get_config(name, "smoke", overrides)
    gen = torch.Generator().manual_seed(123)
    images = torch.randint(0, 256, (64, *cfg.nets.image_shape), generator=gen, dtype=torch.uint8)
    with float64(), tempfile.TemporaryDirectory() as d:
        trainer = train(cfg, 0, d, images, device="cpu", progress=False)
    return [[h[k] for k in STAT_NAMES] + h["kl_layers"] + [h.get("beta", 1.0)] for h in trainer.history]


def pinned_run(nets: dict, overrides: dict | None = None) -> dict:
    """The last statistics of an 8-iteration `smoke` Ours run on 64 fixed random images, in float64."""
    cfg = get_config("mnist_ours", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 8,
                                             "train.checkpoint_every": 2, **nets, **(overrides or {})})
    images = torch.randint(0, 256, (64, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with float64(), tempfile.TemporaryDirectory() as d:
        last = train(cfg, 0, d, images, device="cpu", progress=False).history[-1]
    return {k: last[k] for k in PINNED_STATS}


if __name__ == "__main__":
    names = sys.argv[1:] or list(BRANCHES)
    print(json.dumps({n: losses(n, BRANCHES[n]) for n in names}, indent=1))
