"""One training iteration of the joint EBM model, and its Langevin sampler alone, against a reference
written the authors' way, measured in the same run. Prints one JSON line.

Default size: the authors' SVHN hierarchical-sampling model (32x32x3, latent dims 2,2,2,10, batch 100,
K = 60, EBM 4 x 50 with spectral norm), on random data; ``--config fmnist_ours`` times the `paper`
profile's Fashion-MNIST model instead.

The reference step does what the authors' code does: Langevin by autograd through f with the
spectral-norm power iteration re-run at every step, the single-sample KL, unfused Adam, no CUDA graph.

    .venv/bin/python benchmarks/train_step.py [--device cuda] [--modes eager,graph] [--config svhn_ours]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from hebm_lib.configs import get_config
from hebm_lib.distributions import kl_to_standard_mc, reparameterised_sample
from hebm_lib.io import device_name, resolve_device
from hebm_lib.models import build_model, count_parameters
from hebm_lib.training import Trainer

# issue #10's targets (ms), per device type and config; None: no target
TARGETS = {("cuda", "svhn_ours"): {"step": 8.0, "langevin": 1.5}, ("cuda", "fmnist_ours"): {"step": 4.0},
           ("cpu", "svhn_ours"): {"step": 300.0, "langevin": 15.0}}


def timed(fn, repeats: int, device, warmup: int = 5) -> float:
    """Median wall time of fn() in ms, after ``warmup`` calls (a CUDA graph is captured in them)."""
    for _ in range(warmup):
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


class ReferenceStep:
    """Algorithm 1 as the authors' code runs it (see the module docstring)."""

    def __init__(self, cfg, device):
        self.model = build_model(cfg).to(device).train()
        self.cfg, self.device = cfg, device
        t = cfg.train
        gi = list(self.model.generator.parameters()) + list(self.model.encoder.parameters())
        self.opt = torch.optim.Adam(gi, lr=t.lr, betas=t.betas, weight_decay=t.weight_decay, foreach=False)
        ebm = list(self.model.prior.parameters())
        self.opt_e = torch.optim.Adam(ebm, lr=cfg.prior.lr, betas=t.betas, foreach=False) if ebm else None
        self.x = torch.rand(t.batch_size, *cfg.nets.image_shape, device=device) * 2 - 1

    def __call__(self):
        m, p = self.model, self.cfg.prior
        z_neg = (reference_langevin(m.prior, self.x.shape[0], p.langevin_steps, p.langevin_step_size, self.device)
                 if p else None)
        mu, logvar = m.encode(self.x)
        z = reparameterised_sample(mu, logvar)
        loss = (m.reconstruction_nll(self.x, m.decode(z)).mean() + kl_to_standard_mc(z, mu, logvar).mean()
                - m.prior.tilt(z).mean())
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if self.opt_e is None:
            return
        e_loss = m.prior.tilt(z_neg).mean() - m.prior.tilt(z.detach()).mean()
        self.opt_e.zero_grad()
        e_loss.backward()
        self.opt_e.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
    ap.add_argument("--config", default="svhn_ours")
    ap.add_argument("--modes", default=None, help="comma-separated: eager, compiled, graph (default: eager, and "
                                                   "graph on CUDA)")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    device = resolve_device(args.device)
    modes = args.modes.split(",") if args.modes else (["eager", "graph"] if device.type == "cuda" else ["eager"])
    cfg = get_config(args.config, "paper", {"train.amp": args.amp})
    images = torch.randint(0, 256, (2000, *cfg.nets.image_shape), dtype=torch.uint8)
    out = {"config": args.config, "parameters_M": None}
    for mode in modes:
        torch.manual_seed(0)
        trainer = Trainer(cfg, build_model(cfg), images, 0, device, mode=mode)
        trainer.model.train()
        out["parameters_M"] = round(count_parameters(trainer.model) / 1e6, 3)
        out[f"step_ms_{mode}"] = round(timed(trainer.step, args.repeats, device), 2)
    prior, n = trainer.model.prior, cfg.train.batch_size
    if prior.is_ebm:
        out["langevin_ms"] = round(timed(lambda: prior.sample(n, device=device), 3 * args.repeats, device), 3)
    if not args.no_reference:
        torch.manual_seed(0)
        ref = ReferenceStep(cfg, device)
        out["reference_step_ms"] = round(timed(ref, max(3, args.repeats // 4), device, warmup=2), 1)
        if prior.is_ebm:
            p = cfg.prior
            out["reference_langevin_ms"] = round(timed(
                lambda: reference_langevin(prior, n, p.langevin_steps, p.langevin_step_size, device),
                max(3, args.repeats // 4), device, warmup=2), 2)
        best = min(out[f"step_ms_{m}"] for m in modes)
        out["step_speedup_vs_reference"] = round(out["reference_step_ms"] / best, 1)
        if "langevin_ms" in out:
            out["langevin_speedup_vs_reference"] = round(out["reference_langevin_ms"] / out["langevin_ms"], 1)
    target = TARGETS.get((device.type, args.config), {})
    if target:
        best = min(out[f"step_ms_{m}"] for m in modes)
        out["targets_ms"] = target
        out["step_target_ratio"] = round(best / target["step"], 2)
        if "langevin" in target and "langevin_ms" in out:
            out["langevin_target_ratio"] = round(out["langevin_ms"] / target["langevin"], 2)
    out |= {"device": device_name(device), "amp": args.amp, "threads": torch.get_num_threads(),
            "torch": torch.__version__}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
