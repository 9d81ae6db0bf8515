"""The trained-model cache: one folder per (config, seed, data, training version), shared by every notebook.

Two notebooks asking for the same model get the same files; only the first one trains. The key is the
config hash, the seed, the training data's fingerprint and TRAINING_VERSION, so a change to any of them
trains anew (and an old folder is never reused for it).

TRAINING_VERSION names what training computes, not how the code is laid out: bump it with any change
that alters what a given config and seed train to. tests/test_train.py pins the losses of a short run,
so such a change fails that test until the version and the pinned numbers are updated together;
a refactor that keeps the numbers keeps every cached and half-trained model (paper-profile runs take
hours on a CPU).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import data as data_lib
from .. import paths
from ..configs import ExperimentConfig
from ..io import atomic_save, atomic_write_text, code_hash, device_name, exclusive_lock, resolve_device, torch_load
from ..models import LatentModel, build_model
from .trainer import CHECKPOINT_FIX, train


@dataclass
class TrainedModel:
    model: LatentModel
    cfg: ExperimentConfig
    seed: int
    run_dir: Path
    info: dict

    def _load(self, path: Path) -> tuple[dict, LatentModel]:
        device = next(self.model.parameters()).device
        saved = _read_model_file(path, device)
        m = build_model(self.cfg.nets, self.cfg.prior).to(device)
        m.load_state_dict(saved["model"])
        return saved, m.eval()

    def stages(self):
        """(step s, model as it was at the end of pro-VLAE step s, gates included), s = 1..L."""
        for p in sorted(self.run_dir.glob("stage-*.pt")):
            saved, m = self._load(p)
            m.set_layer_gates(*saved["gates"])
            yield saved["stage"], m

    def snapshots(self):
        """(iteration, model) at the end of each of the last ``train.snapshot_epochs`` epochs, oldest first;
        just the final model when none were kept."""
        paths_ = sorted(self.run_dir.glob("snapshot-*.pt"))
        if not paths_:
            yield self.info["iterations"], self.model
        for p in paths_:
            saved, m = self._load(p)
            yield saved["iteration"], m


TRAINING_VERSION = "2026-11-23.1"


HISTORY_FILE = "history.csv"   # the training curve beside model.pt, one row per logged iteration


def history_csv(history: list[dict]) -> str:
    """The training history as CSV: iteration, the loss terms, the KL of each layer (kl_z1 = bottom), the
    energy gap (0 without an EBM), the learning rate, the training seconds so far (and REWO / GECO's beta)."""
    import csv
    import io
    if not history:
        return ""
    n_layers = len(history[0]["kl_layers"])
    extra = [k for k in ("beta", "c_hat") if k in history[0]]
    fields = ["iteration", "loss", "rec", "kl0", "tilt", "energy_gap", *[f"kl_z{i + 1}" for i in range(n_layers)],
              "lr", "seconds", *extra]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(fields)
    for h in history:
        w.writerow([h["iteration"], *(f"{h[k]:.6g}" for k in ("loss", "rec", "kl0", "tilt", "energy_gap")),
                    *(f"{v:.6g}" for v in h["kl_layers"]), f"{h.get('lr', float('nan')):.6g}",
                    h.get("seconds", ""), *(f"{h[k]:.6g}" for k in extra)])
    return out.getvalue()


def run_key(cfg: ExperimentConfig, seed: int, data_fingerprint: str) -> str:
    """The cache key of a model: config hash, seed, training data and TRAINING_VERSION."""
    blob = json.dumps([cfg.hash, seed, data_fingerprint, TRAINING_VERSION])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_dir_for(cfg: ExperimentConfig, seed: int, data_fingerprint: str, cache_dir=None) -> Path:
    """The cache folder of a model. The key is the model and the name a label: a config that resolves to
    another's (an artefact's stand-in at `cpu`, say) finds and uses that one's folder."""
    key = run_key(cfg, seed, data_fingerprint)
    models = paths.cache_dir(cache_dir) / "models"
    same_key = sorted(models.glob(f"*-{key}/model.pt"))
    return same_key[0].parent if same_key else models / f"{cfg.name}-{cfg.profile}-seed{seed}-{key}"


def training_mode(cfg: ExperimentConfig, device: torch.device, mode: str = "auto") -> str:
    """``auto``: $HEBM_TRAIN_MODE if set, else a CUDA graph on a GPU where the KL schedule allows it, else eager."""
    if mode != "auto":
        return mode
    if os.environ.get("HEBM_TRAIN_MODE"):
        return os.environ["HEBM_TRAIN_MODE"]
    return "graph" if device.type == "cuda" and cfg.schedule.kind != "constrained" else "eager"


def train_or_load(cfg: ExperimentConfig, seed: int, device=None, data_dir=None, cache_dir=None,
                  progress: bool = True, train_set: data_lib.ImageSet | None = None,
                  mode: str = "auto", callback=None) -> TrainedModel:
    """The trained model for (config, seed, data): from the cache, or trained (resuming) and cached.

    Two notebooks asking for the same model get the same files; only the first one trains.
    """
    device = resolve_device(device)
    mode = training_mode(cfg, device, mode)
    if train_set is None:
        train_set = data_lib.training_set(cfg.data, data_dir)
    key = run_key(cfg, seed, train_set.fingerprint)
    if (run_dir_for(cfg, seed, train_set.fingerprint, cache_dir) / "model.pt").exists():
        # finished: read it without the lock (written atomically; a read-only cache works)
        return _train_or_load_locked(cfg, seed, device, mode, train_set, key, cache_dir, progress, callback)
    with _training_lock(key, cache_dir):
        return _train_or_load_locked(cfg, seed, device, mode, train_set, key, cache_dir, progress, callback)


@contextlib.contextmanager
def _training_lock(key: str, cache_dir=None):
    """One process at a time trains a given model: notebooks run side by side (`run-all --jobs`) may ask
    for the same one; the second waits and then loads what the first cached. Under torchrun the ranks
    train together and are not locked against each other."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        yield
        return
    with exclusive_lock(paths.cache_dir(cache_dir) / "models" / ".locks" / key):
        yield


def _train_or_load_locked(cfg, seed, device, mode, train_set, key, cache_dir, progress, callback) -> TrainedModel:
    run_dir = run_dir_for(cfg, seed, train_set.fingerprint, cache_dir)
    final = run_dir / "model.pt"
    cached = final.exists()
    if not cached:
        atomic_write_text(run_dir / "config.json", json.dumps(
            {"config": cfg.to_dict(), "config_hash": cfg.hash, "seed": seed, "key": key,
             "dataset": train_set.spec.display_name, "data_fingerprint": train_set.fingerprint,
             "training_version": TRAINING_VERSION, "code_hash": code_hash()}, indent=2))
        resumed_from = _checkpoint_iteration(run_dir / "checkpoint.pt")
        trainer = train(cfg, seed, run_dir, train_set.images, device, progress, callback=callback, mode=mode)
        info = {"iterations": trainer.iteration, "train_wall_time_s": round(trainer.wall_time_s, 2),
                "resumed_from_iteration": resumed_from, "device": str(device),
                "device_name": device_name(device), "mode": mode, "torch": torch.__version__,
                "final": trainer.history[-1] if trainer.history else None, "history": trainer.history,
                "dataset": train_set.spec.display_name, "n_train": len(train_set), "key": key}
        if trainer.rank == 0:
            atomic_write_text(run_dir / HISTORY_FILE, history_csv(trainer.history))
            atomic_save({"model": trainer.model.state_dict(), "info": info}, final)
        if trainer.world > 1:
            torch.distributed.barrier()  # the other ranks read what rank 0 wrote
    saved = _read_model_file(final, device)
    model = build_model(cfg.nets, cfg.prior).to(device)
    model.load_state_dict(saved["model"])
    model.eval()
    return TrainedModel(model, cfg, seed, run_dir, dict(saved["info"], cached=cached))


MODEL_FIX = "delete it (and the checkpoint.pt beside it) to train the model again"



def _read_model_file(path: Path, device="cpu") -> dict:
    return torch_load(path, MODEL_FIX, device)


def _checkpoint_iteration(path: Path) -> int | None:
    if not path.exists():
        return None
    return int(torch_load(path, CHECKPOINT_FIX)["iteration"])
