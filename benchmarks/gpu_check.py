"""Checks of the CUDA paths that the CPU test suite cannot run; prints one JSON line.

* the fused Triton Langevin chain against the TorchScript loop (same noise) on the GPU;
* the CUDA-graph training mode against eager: losses over 20 iterations from the same seed;
* resume in graph mode: interrupted and resumed equals uninterrupted, bit for bit;
* ensembles (hebm_lib.training.ensemble) on the GPU: the members' Langevin chains in the member-batched Triton
  kernel against each member's own chain; an ensemble of 3 in graph mode against the same ensemble eager and
  against the separate graph-mode run of seed 1, losses over 20 iterations.

    python benchmarks/gpu_check.py [--config fmnist_ours]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from hebm_lib.configs import get_config
from hebm_lib.models import samplers
from hebm_lib.models import langevin_triton
from hebm_lib.training import Member, train, train_ensemble


def langevin_agreement(prior, n=100, steps=60, step_size=0.4) -> float:
    w = prior.frozen_weights()
    g = torch.Generator(device="cuda").manual_seed(0)
    z0 = torch.randn(n, prior.dim, device="cuda", generator=g)
    noise = torch.randn(steps, n, prior.dim, device="cuda", generator=g) * step_size
    ref = samplers._scripted_kernel()(z0.clone(), noise, [a for a, _ in w[:-1]], [b for _, b in w[:-1]], w[-1][0],
                                      None, 0.5 * step_size ** 2, prior.slope)
    fused = langevin_triton.langevin_mlp_fused(w, z0, noise, 0.5 * step_size ** 2, prior.slope)
    return (fused - ref).abs().max().item()


def langevin_kernel_ms(prior, n=100, steps=60, step_size=0.4) -> dict:
    """The fused chain alone (CUDA events), per block size and warp count."""
    w = prior.frozen_weights()
    z0 = torch.randn(n, prior.dim, device="cuda")
    noise = torch.randn(steps, n, prior.dim, device="cuda") * step_size
    out = {}
    for block_b, warps in ((16, 1), (16, 2), (16, 4), (32, 4), (64, 4)):
        run = lambda: langevin_triton.langevin_mlp_fused(w, z0, noise, 0.08, 0.2, block_b=block_b, num_warps=warps)
        for _ in range(3):
            run()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(20):
            run()
        end.record()
        torch.cuda.synchronize()
        out[f"block{block_b}_warps{warps}"] = round(start.elapsed_time(end) / 20, 3)
    return out


def losses(cfg, images, mode, run_dir, stop_at=None, seed=0):
    seen = []

    class Stop(Exception):
        pass

    def record(trainer, stats):
        seen.append(trainer.read_stats()["loss"])
        if stop_at and trainer.iteration == stop_at:
            raise Stop

    try:
        tr = train(cfg, seed, run_dir, images, "cuda", progress=False, callback=record, mode=mode)
    except Stop:
        return seen, None
    return seen, tr


def member_chains_agreement(cfg, members: int = 3, n: int = 100, steps: int = 60, step_size: float = 0.4) -> float:
    """The member-batched fused chain against each member's own fused chain (same noise): max abs difference."""
    from hebm_lib.models import build_model
    priors = []
    for s in range(members):
        torch.manual_seed(s)
        priors.append(build_model(cfg).prior.cuda())
    ws = [p.frozen_weights() for p in priors]
    z0 = torch.randn(members, n, priors[0].dim, device="cuda")
    noise = torch.randn(members, steps, n, priors[0].dim, device="cuda") * step_size
    stacked = [(torch.stack([w[i][0] for w in ws]), None if ws[0][i][1] is None else torch.stack([w[i][1] for w in ws]))
               for i in range(len(ws[0]))]
    together = langevin_triton.langevin_mlp_fused(stacked, z0, noise, 0.5 * step_size ** 2, priors[0].slope)
    alone = torch.stack([langevin_triton.langevin_mlp_fused(ws[m], z0[m], noise[m], 0.5 * step_size ** 2, priors[0].slope)
                         for m in range(members)])
    return (together - alone).abs().max().item()


def ensemble_checks(cfg, images, tmp: Path) -> dict:
    seen = {}

    def record(mode):
        def callback(trainer, stats):
            seen.setdefault(mode, []).append(trainer._stats[:, 0].tolist())
        return callback
    for mode in ("eager", "graph"):
        train_ensemble([Member(cfg, s, images, tmp / f"ens-{mode}-{s}") for s in range(3)], "cuda", progress=False,
                       callback=record(mode), mode=mode)
    alone, _ = losses(cfg, images, "graph", tmp / "alone-seed1", seed=1)
    rel = lambda a, b: abs(a - b) / abs(b)
    return {"ensemble_graph_vs_eager_max_rel_loss_diff": max(rel(g, e) for G, E in zip(seen["graph"], seen["eager"])
                                                              for g, e in zip(G, E)),
            "ensemble_member1_vs_separate_graph_max_rel_loss_diff": max(rel(G[1], a) for G, a in zip(seen["graph"], alone)),
            "ensemble_graph_losses_member1": [round(G[1], 3) for G in seen["graph"]][::4],
            "separate_graph_losses_seed1": [round(a, 3) for a in alone][::4]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="fmnist_ours")
    args = ap.parse_args()
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    cfg = get_config(args.config, "paper", {"train.iterations": 20, "train.checkpoint_every": 10})
    from hebm_lib.models import build_model
    prior = build_model(cfg).prior.cuda()
    out["langevin_fused_vs_loop_max_abs"] = langevin_agreement(prior)
    out["langevin_kernel_ms"] = langevin_kernel_ms(prior)
    images = torch.randint(0, 256, (2000, *cfg.nets.image_shape), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        eager, _ = losses(cfg, images, "eager", tmp / "eager")
        graph, full = losses(cfg, images, "graph", tmp / "graph")
        rel = [abs(a - b) / abs(a) for a, b in zip(eager, graph)]
        out["graph_vs_eager_max_rel_loss_diff_20_iterations"] = max(rel)
        out["graph_vs_eager_losses"] = [[round(a, 3), round(b, 3)] for a, b in zip(eager, graph)][::4]
        losses(cfg, images, "graph", tmp / "resumed", stop_at=15)   # checkpoint at 10, dies at 15
        _, resumed = losses(cfg, images, "graph", tmp / "resumed")
        a, b = full.model.state_dict(), resumed.model.state_dict()
        out["graph_resume_exact"] = all(torch.equal(a[k], b[k]) for k in a) and full.history == resumed.history
        out["member_chains_fused_max_abs"] = member_chains_agreement(cfg)
        out |= ensemble_checks(cfg, images, tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
