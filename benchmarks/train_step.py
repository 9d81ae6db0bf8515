"""One training iteration of the joint EBM model at the authors' SVHN hierarchical-sampling size
(32x32x3, latent dims 2,2,2,10, batch 100, K = 60, EBM 4 x 50 with spectral norm), on random data,
and the Langevin sampler alone. Prints one JSON line.

Ratios are measured in this run against a reference written the way the authors' code does it
(autograd for grad f, the spectral-norm power iteration re-run at every Langevin step).

    .venv/bin/python benchmarks/train_step.py [--device cuda] [--repeats 10] [--amp bf16]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from hebm_lib.configs import get_config
from hebm_lib.models import build_model
from hebm_lib.train import Trainer, resolve_device

STEP_TARGET_MS, LANGEVIN_TARGET_MS = 150.0, 15.0


def timed(fn, repeats: int, device) -> float:
    """Median wall time of fn() in ms, after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def reference_langevin(prior, n, steps, step_size, device):
    """The authors' way: autograd through the module, spectral norm recomputed every step."""
    z = torch.randn(n, prior.dim, device=device)
    for _ in range(steps):
        z = z.detach().requires_grad_(True)
        grad = torch.autograd.grad(prior.tilt(z).sum(), z)[0]
        z = z + 0.5 * step_size ** 2 * (grad - z) + step_size * torch.randn_like(z)
    return z.detach()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
    args = ap.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    cfg = get_config("svhn_ours", "paper", {"train.amp": args.amp})
    images = torch.randint(0, 256, (2000, 3, 32, 32), dtype=torch.uint8)
    trainer = Trainer(cfg, build_model(cfg.model), images, 0, device)
    trainer.model.train()
    prior, K, s, n = trainer.model.prior, cfg.train.langevin_steps, cfg.train.langevin_step_size, cfg.train.batch_size

    with FlopCounterMode(display=False) as counter:
        trainer.step()
    step_flops = counter.get_total_flops()  # matmuls and convolutions, forward and backward

    step_ms = timed(trainer.step, args.repeats, device)
    langevin_ms = timed(lambda: prior.sample(n, K, s, device=device), 3 * args.repeats, device)
    ref_langevin_ms = timed(lambda: reference_langevin(prior, n, K, s, device), args.repeats, device)
    print(json.dumps({
        "step_ms": round(step_ms, 1),
        "langevin_ms": round(langevin_ms, 2),
        "gflops_per_s": round(step_flops / step_ms / 1e6, 1),
        "step_gflop": round(step_flops / 1e9, 2),
        "reference_langevin_ms": round(ref_langevin_ms, 2),
        "langevin_speedup_vs_reference": round(ref_langevin_ms / langevin_ms, 2),
        "step_target_ratio": round(step_ms / STEP_TARGET_MS, 2),
        "langevin_target_ratio": round(langevin_ms / LANGEVIN_TARGET_MS, 2),
        "meets_targets": step_ms < STEP_TARGET_MS and langevin_ms < LANGEVIN_TARGET_MS,
        "device": str(device), "amp": args.amp, "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
