"""Algorithm 1 of the paper, device-agnostic, checkpointed and resumable.

One iteration on a batch x:
  1. prior sampling: z- by K Langevin steps on p_alpha from N(0, I)        (EBM prior only)
  2. inference sampling: z+ = mu(x) + sigma(x) * eps                        (Eq. 8)
  3. generator + inference update on  SSE/(2 sigma^2) + w_t [KL(q || N(0,I)) - f(z+)]   (Eqs. 11, 12)
     (= -ELBO up to log Z(alpha), which has no gradient in beta or phi; w_t = 1 unless
     train.kl_warmup > 0, which ramps it from 0 as VLAE's code does, to keep top layers in use, or
     train.constraint is "rewo" / "geco", which set it from the reconstruction error: VHP paper, Sec. 2)
  4. EBM update on  mean f(z-) - mean f(z+)                                (Eq. 10)

Everything a resumed run needs (weights, optimisers, RNG states, iteration) is in one checkpoint
written atomically; an interrupted run continues from it and ends bit-identical to an
uninterrupted one. A NaN or an exploding energy stops training with :class:`TrainingDiverged`
and leaves the last good checkpoint untouched.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from . import data as data_lib
from . import paths
from .configs import ExperimentConfig
from .models import HierarchicalLatentModel, build_model

_CODE_FILES = ("models.py", "hvae.py", "vhp.py", "priors.py", "samplers.py", "train.py")


class TrainingDiverged(RuntimeError):
    """Loss or energy went non-finite or exploded; the last good checkpoint is kept."""


# ---------------------------------------------------------------------------------------------
# small utilities

def atomic_save(obj, path: Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def code_hash() -> str:
    """Hash of the library files that change what training produces (part of the cache key)."""
    h = hashlib.sha256()
    for name in _CODE_FILES:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:12]


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    return dev


def _dist() -> tuple[int, int]:
    """(rank, world size) under torchrun, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _average_grads(params) -> None:
    rank, world = _dist()
    if world == 1:
        return
    for p in params:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad.div_(world)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Data order of one epoch: a function of (seed, epoch) only, so resuming replays it exactly."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


# ---------------------------------------------------------------------------------------------
# the trainer

@dataclass
class Trainer:
    cfg: ExperimentConfig
    model: HierarchicalLatentModel
    images: torch.Tensor            # uint8 N x C x H x W, on CPU
    seed: int
    device: torch.device
    iteration: int = 0
    wall_time_s: float = 0.0
    history: list = field(default_factory=list)

    def __post_init__(self):
        t = self.cfg.train
        # NHWC activations: oneDNN (CPU) and cuDNN (with AMP) run these small convs faster
        self.model.to(self.device, memory_format=torch.channels_last)
        gi = list(self.model.generator.parameters()) + list(self.model.encoder.parameters())
        self.gi_params = gi
        self.opt_gi = torch.optim.Adam(gi, lr=t.lr_gen, betas=t.betas, weight_decay=t.weight_decay, fused=True)
        ebm = list(self.model.prior.parameters())
        self.opt_ebm = torch.optim.Adam(ebm, lr=t.lr_ebm, betas=t.betas, fused=True) if ebm else None
        rank, world = _dist()
        if t.batch_size % world:
            raise ValueError(f"batch_size {t.batch_size} is not divisible by the {world} processes")
        self.rank, self.world = rank, world
        self.rng = torch.Generator(device=self.device).manual_seed(self.seed * 7919 + rank)
        self.iters_per_epoch = max(1, len(self.images) // t.batch_size)
        if len(self.images) < t.batch_size:
            raise ValueError(f"{self.cfg.name}: {len(self.images)} training images < batch size {t.batch_size}")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.amp == "fp16")
        # constrained KL weight (REWO / GECO): beta, the smoothed constraint C_t, REWO's phase
        self.constraint = {"beta": t.beta_init, "c_hat": None, "initial_phase": True}

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"iteration": self.iteration, "wall_time_s": self.wall_time_s, "history": self.history,
                "model": self.model.state_dict(), "opt_gi": self.opt_gi.state_dict(),
                "opt_ebm": self.opt_ebm.state_dict() if self.opt_ebm else None,
                "scaler": self.scaler.state_dict(), "rng": self.rng.get_state(),
                "constraint": dict(self.constraint), "config_hash": self.cfg.hash, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state["config_hash"] != self.cfg.hash or state["seed"] != self.seed:
            raise ValueError("checkpoint was written for another config or seed; refusing to resume from it")
        self.model.load_state_dict(state["model"])
        self.opt_gi.load_state_dict(state["opt_gi"])
        if self.opt_ebm:
            self.opt_ebm.load_state_dict(state["opt_ebm"])
        self.scaler.load_state_dict(state["scaler"])
        self.rng.set_state(state["rng"])
        self.iteration, self.wall_time_s = state["iteration"], state["wall_time_s"]
        self.history = list(state["history"])
        self.constraint = dict(state["constraint"])

    # -- one iteration --------------------------------------------------------------------
    def _batch(self, it: int) -> torch.Tensor:
        bs = self.cfg.train.batch_size
        epoch, k = divmod(it, self.iters_per_epoch)
        idx = epoch_permutation(len(self.images), self.seed, epoch)[k * bs:(k + 1) * bs]
        local = bs // self.world
        idx = idx[self.rank * local:(self.rank + 1) * local]
        x = self.images[idx].to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        return x.contiguous(memory_format=torch.channels_last)

    def _set_lr(self, it: int) -> None:
        t = self.cfg.train
        decay = t.lr_decay_per_epoch ** (it // self.iters_per_epoch)
        for g in self.opt_gi.param_groups:
            g["lr"] = t.lr_gen * decay
        if self.opt_ebm:
            for g in self.opt_ebm.param_groups:
                g["lr"] = t.lr_ebm * decay

    def stage(self, it: int) -> int:
        """pro-VLAE step (1..L) that iteration ``it`` belongs to; 0 when training is not progressive."""
        t = self.cfg.train
        if not t.progressive_steps:
            return 0
        return min(t.progressive_steps, it // (t.iterations // t.progressive_steps) + 1)

    def _progressive_state(self, it: int) -> torch.Tensor | None:
        """Set the layer gates for iteration ``it`` and return the per-dim KL weights (None = all 1).

        pro-VLAE: at step s the top s layers are active (KL weight beta), the others are cut from x
        (gate 0) and get gamma = pre_kl; the layer added at step s fades in over ``fade_in`` iterations.
        """
        t, m = self.cfg.train, self.model
        dims = m.latent_dims
        if not t.progressive_steps:
            if t.beta == 1:
                return None
            return torch.full((sum(dims),), float(t.beta), device=self.device)
        L, s = len(dims), self.stage(it)
        per_stage = t.iterations // t.progressive_steps
        alpha = min(1.0, (it - (s - 1) * per_stage + 1) / t.fade_in) if t.fade_in and s > 1 else 1.0
        gen, enc, weights = [], [], []
        for i in range(L):                       # bottom first; active = the top s layers
            active, new = i >= L - s, i == L - s and s > 1
            gen.append(alpha if new else float(active))
            enc.append(alpha if new else 1.0)
            weights += [t.beta if active else t.pre_kl] * dims[i]
        m.set_layer_gates(gen, enc)
        return torch.tensor(weights, device=self.device)

    def step(self) -> dict:
        t, m = self.cfg.train, self.model
        it = self.iteration
        self._set_lr(it)
        x = self._batch(it)
        n = x.shape[0]

        # 1. prior sampling (no graph; fp32)
        z_neg = m.prior.sample(n, t.langevin_steps, t.langevin_step_size, generator=self.rng,
                               device=self.device) if m.prior.is_ebm else None

        # 2-3. inference sampling, generator + inference update
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.amp)
        autocast = (torch.autocast(self.device.type, dtype=amp_dtype) if amp_dtype
                    else contextlib.nullcontext())
        m.prior.requires_grad_(False)  # f's own gradient comes from step 4 only
        kl_weights = self._progressive_state(it)
        rec, kl0, z_pos = m.neg_elbo_terms(x, self.rng, t.kl, autocast, kl_weights)
        tilt_pos = m.prior.tilt(z_pos).mean()
        if t.constraint != "none":
            # C = per-pixel squared error on [0, 1] (pixels here are in [-1, 1]), averaged over ranks
            c_batch = rec.detach().float() * 2 * m.sigma ** 2 / x[0].numel() / 4
            if self.world > 1:
                torch.distributed.all_reduce(c_batch)
                c_batch /= self.world
            kl_weight = self._update_beta(c_batch.item())
        else:
            kl_weight = min(1.0, (it + 1) / t.kl_warmup) if t.kl_warmup else 1.0
        loss = rec + kl_weight * (kl0 - tilt_pos)
        m.prior.requires_grad_(True)
        self.opt_gi.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if t.constraint == "rewo" and self.constraint["initial_phase"]:
            for p in m.prior_parameters():   # REWO's initial phase trains theta, phi, not the prior's nets
                p.grad = None
        self.scaler.unscale_(self.opt_gi)
        _average_grads(self.gi_params)
        self.scaler.step(self.opt_gi)
        self.scaler.update()

        # 4. EBM update (Eq. 10)
        e_gap = torch.zeros(())
        if self.opt_ebm:
            f_pos = m.prior.tilt(z_pos.detach()).mean()
            f_neg = m.prior.tilt(z_neg).mean()
            e_loss = f_neg - f_pos
            self.opt_ebm.zero_grad(set_to_none=True)
            e_loss.backward()
            _average_grads(m.prior.parameters())
            self.opt_ebm.step()
            e_gap = -e_loss.detach()

        stats = {"iteration": it + 1, "loss": loss.item(), "rec": rec.item(), "kl0": kl0.item(),
                 "tilt": tilt_pos.item(), "energy_gap": e_gap.item()}
        if t.constraint != "none":
            stats |= {"beta": self.constraint["beta"], "c_hat": self.constraint["c_hat"]}
        self._check(stats)
        self.iteration = it + 1
        return stats

    def _update_beta(self, c_batch: float) -> float:
        """One step of the VHP paper's beta schedule from this batch's constraint value C (per-pixel
        squared error on [0, 1]): smooth C, then REWO (Alg. 1 with Eqs. 11-12: beta is held in the
        initial phase, which ends the first time C_t < kappa^2) or GECO (Eq. 5 for beta = 1 / lambda)."""
        t, st = self.cfg.train, self.constraint
        c_hat = c_batch if st["c_hat"] is None else (1 - t.constraint_ema) * c_batch + t.constraint_ema * st["c_hat"]
        delta = c_hat - t.kappa ** 2
        if t.constraint == "rewo":
            if delta < 0:
                st["initial_phase"] = False
            if not st["initial_phase"]:
                f = -1.0 if delta > 0 else math.tanh(t.rewo_tau * (st["beta"] - 1.0))
                # the paper imposes beta in (0, 1]; one multiplicative step can overshoot 1 when
                # C_t is far below kappa^2, so the step is capped there
                st["beta"] = min(1.0, st["beta"] * math.exp(t.constraint_lr * f * delta))
        else:  # geco: lambda grows while the constraint is violated, so beta = 1 / lambda shrinks
            st["beta"] *= math.exp(-t.constraint_lr * delta)
        st["c_hat"] = c_hat
        return st["beta"]

    def _check(self, stats: dict) -> None:
        bad = [k for k, v in stats.items() if k != "iteration" and not torch.isfinite(torch.tensor(v))]
        if bad:
            raise TrainingDiverged(f"{self.cfg.name} (seed {self.seed}) diverged at iteration {stats['iteration']}: "
                                   f"non-finite {', '.join(bad)} ({stats}). Lower train.lr_gen / train.lr_ebm.")
        if abs(stats["energy_gap"]) > self.cfg.train.max_energy_gap:
            raise TrainingDiverged(
                f"{self.cfg.name} (seed {self.seed}) diverged at iteration {stats['iteration']}: EBM energy gap "
                f"{stats['energy_gap']:.3g} exceeds train.max_energy_gap={self.cfg.train.max_energy_gap:g}. "
                f"Lower train.lr_ebm or keep spectral norm on.")


# ---------------------------------------------------------------------------------------------
# running and caching

@dataclass
class TrainedModel:
    model: HierarchicalLatentModel
    cfg: ExperimentConfig
    seed: int
    run_dir: Path
    info: dict

    def stages(self):
        """(step s, model as it was at the end of pro-VLAE step s, gates included), s = 1..L."""
        device = next(self.model.parameters()).device
        for p in sorted(self.run_dir.glob("stage-*.pt")):
            saved = torch.load(p, map_location=device, weights_only=False)
            m = build_model(self.cfg.model).to(device)
            m.load_state_dict(saved["model"])
            m.set_layer_gates(*saved["gates"])
            yield saved["stage"], m.eval()

    def snapshots(self):
        """(iteration, model) at the end of each of the last ``train.snapshot_epochs`` epochs, oldest first;
        just the final model when none were kept."""
        paths_ = sorted(self.run_dir.glob("snapshot-*.pt"))
        if not paths_:
            yield self.info["iterations"], self.model
            return
        device = next(self.model.parameters()).device
        for p in paths_:
            saved = torch.load(p, map_location=device, weights_only=False)
            m = build_model(self.cfg.model).to(device)
            m.load_state_dict(saved["model"])
            yield saved["iteration"], m.eval()


def run_key(cfg: ExperimentConfig, seed: int, data_fingerprint: str) -> str:
    blob = json.dumps([cfg.hash, seed, data_fingerprint, code_hash()])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def train(cfg: ExperimentConfig, seed: int, run_dir: Path, images: torch.Tensor, device=None,
          progress: bool = True, callback: Callable[[Trainer, dict], None] | None = None) -> Trainer:
    """Train (or resume) in ``run_dir`` until cfg.train.iterations; returns the finished trainer.

    ``callback(trainer, stats)`` runs after every iteration (the tests use it to interrupt).
    """
    device = resolve_device(device)
    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoint.pt"
    torch.manual_seed(seed)  # initial weights
    trainer = Trainer(cfg, build_model(cfg.model), images, seed, device)
    if ckpt.exists():
        trainer.load_state_dict(torch.load(ckpt, map_location=device, weights_only=False))
    total = cfg.train.iterations
    bar = tqdm(total=total, initial=trainer.iteration, desc=f"{cfg.name}/{cfg.profile}/seed{seed}",
               disable=not progress or trainer.rank != 0, mininterval=10, leave=False)
    log_every = max(1, total // 50)
    trainer.model.train()
    with bar:
        while trainer.iteration < total:
            t0 = time.perf_counter()
            stats = trainer.step()
            trainer.wall_time_s += time.perf_counter() - t0
            if trainer.iteration % log_every == 0 or trainer.iteration == total:
                trainer.history.append(stats)
                bar.set_postfix(loss=f"{stats['loss']:.1f}", gap=f"{stats['energy_gap']:.2f}", refresh=False)
            bar.update(1)
            if trainer.rank == 0 and (trainer.iteration % cfg.train.checkpoint_every == 0
                                      or trainer.iteration == total):
                atomic_save(trainer.state_dict(), ckpt)
            if trainer.rank == 0 and cfg.train.progressive_steps and (
                    trainer.iteration % (total // cfg.train.progressive_steps) == 0 or trainer.iteration == total):
                s = trainer.stage(trainer.iteration - 1)
                atomic_save({"model": trainer.model.state_dict(), "iteration": trainer.iteration, "stage": s,
                             "gates": (trainer.model.generator.gates.tolist(), trainer.model.encoder.gates.tolist())},
                            run_dir / f"stage-{s}.pt")
            ipe, keep = trainer.iters_per_epoch, cfg.train.snapshot_epochs
            if (trainer.rank == 0 and keep and trainer.iteration % ipe == 0
                    and trainer.iteration > total - keep * ipe):
                atomic_save({"model": trainer.model.state_dict(), "iteration": trainer.iteration},
                            run_dir / f"snapshot-{trainer.iteration:08d}.pt")
            if callback:
                callback(trainer, stats)
    return trainer


def train_or_load(cfg: ExperimentConfig, seed: int, device=None, data_dir=None, cache_dir=None,
                  progress: bool = True, train_set: data_lib.ImageSet | None = None) -> TrainedModel:
    """The trained model for (config, seed, data): from the cache, or trained (resuming) and cached.

    Two notebooks asking for the same model get the same files; only the first one trains.
    """
    device = resolve_device(device)
    if train_set is None:
        train_set = data_lib.training_set(cfg.data, data_dir)
    key = run_key(cfg, seed, train_set.fingerprint)
    run_dir = paths.cache_dir(cache_dir) / "models" / f"{cfg.name}-{cfg.profile}-seed{seed}-{key}"
    final = run_dir / "model.pt"
    cached = final.exists()
    if not cached:
        atomic_write_text(run_dir / "config.json", json.dumps(
            {"config": cfg.to_dict(), "config_hash": cfg.hash, "seed": seed, "key": key,
             "dataset": train_set.spec.display_name, "data_fingerprint": train_set.fingerprint,
             "code_hash": code_hash()}, indent=2))
        resumed_from = _checkpoint_iteration(run_dir / "checkpoint.pt")
        trainer = train(cfg, seed, run_dir, train_set.images, device, progress)
        info = {"iterations": trainer.iteration, "train_wall_time_s": round(trainer.wall_time_s, 2),
                "resumed_from_iteration": resumed_from, "device": str(device),
                "final": trainer.history[-1] if trainer.history else None, "history": trainer.history,
                "dataset": train_set.spec.display_name, "n_train": len(train_set), "key": key}
        if trainer.rank == 0:
            atomic_save({"model": trainer.model.state_dict(), "info": info}, final)
        if trainer.world > 1:
            torch.distributed.barrier()  # the other ranks read what rank 0 wrote
    saved = torch.load(final, map_location=device, weights_only=False)
    model = build_model(cfg.model).to(device)
    model.load_state_dict(saved["model"])
    model.eval()
    return TrainedModel(model, cfg, seed, run_dir, dict(saved["info"], cached=cached))


def _checkpoint_iteration(path: Path) -> int | None:
    if not path.exists():
        return None
    return int(torch.load(path, map_location="cpu", weights_only=False)["iteration"])
