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
from typing import Callable

import torch

from .. import data as data_lib
from .. import paths
from ..configs import ExperimentConfig
from ..io import (TEMP_FILE, SettingError, UnreadableFile, atomic_save, atomic_write_text, code_hash, device_name,
                  exclusive_lock, remove_orphans, resolve_device, torch_load)
from ..models import LatentModel, build_model
from .ensemble import Member, ensemble_key, ensemble_unsupported, train_ensemble
from .schedules import build_schedule
from .trainer import CHECKPOINT_FIX, MODES, TrainingDiverged, train


@dataclass
class TrainedModel:
    model: LatentModel
    cfg: ExperimentConfig
    seed: int
    run_dir: Path
    info: dict

    def _load(self, path: Path) -> tuple[dict, LatentModel]:
        device = next(self.model.parameters()).device
        # model.pt's fix (delete it and the checkpoint) would not make this file again: only training anew does
        saved = torch_load(path, self._folder_fix, device)
        if not isinstance(saved, dict) or "model" not in saved:
            raise UnreadableFile(f"{path} holds no model weights; {self._folder_fix}")
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

    def progress(self):
        """(iteration, model) part-way through training (the ``progress-*.pt`` kept at the trainer's
        PROGRESS_FRACTIONS, with the schedule's layer gates of that iteration: pro-VLAE's) and at the end, oldest
        first; just the end for a model trained before they were kept. A snapshot missing (model.pt lists those
        its training wrote) or holding another iteration than its name's (a file copied over it) is UnreadableFile:
        a margin measured without it, or at the wrong weights, would be another curve."""
        found = progress_files(self.run_dir)
        kept = self.info.get("progress")   # None: a model.pt of before the list was kept
        missing = sorted(set(kept or ()) - set(found))
        if missing:
            raise UnreadableFile(f"{self.run_dir} lacks the part-way weights of iteration(s) "
                                 f"{', '.join(map(str, missing))} (progress-*.pt) that its training kept; "
                                 f"{self._folder_fix}")
        for iteration, p in sorted(found.items()):
            saved, m = self._load(p)
            if saved.get("iteration") != iteration:
                raise UnreadableFile(f"{p} holds the weights of iteration {saved.get('iteration')}, not {iteration} "
                                     f"(another file copied over it?); {self._folder_fix}")
            # the gates of its last iteration (a schedule without gates sets none)
            build_schedule(self.cfg.schedule, m.latent_dims, self.cfg.train.iterations).dim_weights(
                saved["iteration"] - 1, m, next(m.parameters()).device)
            yield saved["iteration"], m
        yield self.info["iterations"], self.model

    @property
    def _folder_fix(self) -> str:
        return f"delete the model folder {self.run_dir} to train it again"


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
    """``auto``: $HEBM_TRAIN_MODE if set, else a CUDA graph on a GPU where the KL schedule allows it, else eager.
    A mode that is not one, or a CUDA graph off a GPU, is SettingError: before any file of the model is written."""
    source = "--mode"
    if mode == "auto" and os.environ.get("HEBM_TRAIN_MODE"):
        mode, source = os.environ["HEBM_TRAIN_MODE"], "HEBM_TRAIN_MODE"
    if mode == "auto":
        return "graph" if device.type == "cuda" and cfg.schedule.kind != "constrained" else "eager"
    if mode not in MODES:
        raise SettingError(f"{source}={mode!r} is not a training mode; valid: auto, {', '.join(MODES)}")
    if mode == "graph" and device.type != "cuda":
        raise SettingError(f"{source}=graph (CUDA graphs) needs a CUDA device, not {device}; use eager or compiled")
    return mode


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
        _check_batch(cfg, train_set)   # before any file: a refused model leaves no run folder
        _write_config(run_dir, cfg, seed, key, train_set)
        resumed_from = _checkpoint_iteration(run_dir / "checkpoint.pt")
        trainer = train(cfg, seed, run_dir, train_set.images, device, progress, callback=callback, mode=mode)
        if trainer.rank == 0:
            _write_model(run_dir, trainer.model.state_dict(), trainer.history, _info(
                trainer.iteration, trainer.wall_time_s, resumed_from, device, mode, train_set, key))
        if trainer.world > 1:
            torch.distributed.barrier()  # the other ranks read what rank 0 wrote
    return _load(cfg, seed, run_dir, device, cached)


def _check_batch(cfg: ExperimentConfig, train_set) -> None:
    if len(train_set) < cfg.train.batch_size:
        raise data_lib.DataError(f"{cfg.name}: train.batch_size={cfg.train.batch_size} is more than the "
                                 f"{len(train_set)} training images of {train_set.spec.display_name}; lower "
                                 f"train.batch_size" + (" or raise data.n_train" if cfg.data.n_train else ""))


def _write_config(run_dir: Path, cfg: ExperimentConfig, seed: int, key: str, train_set) -> None:
    """config.json, as a training run starts in ``run_dir`` (under its lock), after the temporary files of a run
    killed mid-write (SIGKILL leaves them; they are never read)."""
    remove_orphans(run_dir, ".*.tmp*", TEMP_FILE)
    atomic_write_text(run_dir / "config.json", json.dumps(
        {"config": cfg.to_dict(), "config_hash": cfg.hash, "seed": seed, "key": key,
         "dataset": train_set.spec.display_name, "data_fingerprint": train_set.fingerprint,
         "training_version": TRAINING_VERSION, "code_hash": code_hash()}, indent=2))


def _info(iterations: int, wall_time_s: float, resumed_from, device, mode: str, train_set, key: str, **extra) -> dict:
    """What model.pt records of its training (the history is added by _write_model)."""
    return {"iterations": iterations, "train_wall_time_s": round(wall_time_s, 2), "resumed_from_iteration": resumed_from,
            "device": str(device), "device_name": device_name(device), "mode": mode, "torch": torch.__version__,
            "dataset": train_set.spec.display_name, "n_train": len(train_set), "key": key, **extra}


def progress_files(run_dir: Path) -> dict[int, Path]:
    """The part-way weights in a model's folder (the trainer's ``progress-%08d.pt``), by the iteration named."""
    import re
    named = ((re.fullmatch(r"progress-(\d+)\.pt", p.name), p) for p in Path(run_dir).glob("progress-*.pt"))
    return {int(m.group(1)): p for m, p in named if m}


def _write_model(run_dir: Path, model_state: dict, history: list, info: dict) -> None:
    """history.csv, then model.pt (its presence is what "trained" means), which lists the part-way weights its
    training kept (progress-*.pt; a run resumed from a checkpoint of before they were kept has fewer)."""
    atomic_write_text(run_dir / HISTORY_FILE, history_csv(history))
    progress = sorted(progress_files(run_dir))
    info = dict(info, final=history[-1] if history else None, history=history, progress=progress)
    atomic_save({"model": model_state, "info": info}, run_dir / "model.pt")


def _load(cfg: ExperimentConfig, seed: int, run_dir: Path, device, cached: bool) -> TrainedModel:
    saved = _read_model_file(run_dir / "model.pt", device)
    model = build_model(cfg.nets, cfg.prior).to(device)
    model.load_state_dict(saved["model"])
    model.eval()
    return TrainedModel(model, cfg, seed, run_dir, dict(saved["info"], cached=cached))


ENSEMBLE_POLICIES = ("auto", "always", "never")


def ensemble_policy(policy: str | None = None) -> str:
    """``policy``, else $HEBM_ENSEMBLE, else auto; anything else is SettingError (checked before a command starts)."""
    policy = policy or os.environ.get("HEBM_ENSEMBLE") or "auto"
    if policy not in ENSEMBLE_POLICIES:
        raise SettingError(f"HEBM_ENSEMBLE={policy!r}; valid: {', '.join(ENSEMBLE_POLICIES)}")
    return policy


def batches_members(device: torch.device, policy: str | None = None) -> bool:
    """Whether models that can share an ensemble train as one (``policy``, else $HEBM_ENSEMBLE, else auto).
    auto: on a GPU, where one step's small kernels leave it idle and M members cost little more than one; not on
    a CPU, where the step is compute-bound and the batched kernels measured slower than one model after another
    (0.55-0.9x, benchmarks/RESULTS.md)."""
    policy = ensemble_policy(policy)
    return policy == "always" or (policy == "auto" and device.type == "cuda")


def train_or_load_many(requests, device=None, data_dir=None, cache_dir=None, progress: bool | str = True,
                       mode: str = "auto", callback=None, log: Callable[[str], None] = print,
                       ensemble: str | None = None, max_members: int = 16) -> list[TrainedModel]:
    """The trained models of ``requests`` ((config, seed) or (config, seed, training set) each), in order: the
    cached ones read, the others trained as ensembles (hebm_lib.training.ensemble) where ``ensemble``
    (batches_members) says so: the seeds of a config, and configs that differ only in their data set, in one
    batched step each; else one after another. Every member is written where train_or_load writes that
    (config, seed), in the same files, so either finds the other's. A family whose step cannot be batched says
    so in one line (``log``) and trains its members one by one.

    A member that diverges stops alone; the others are finished and written, then its error is raised."""
    device = resolve_device(device)
    batch = batches_members(device, ensemble)
    items, sets = [], {}
    for request in requests:
        cfg, seed, train_set = (*request, None)[:3]
        if train_set is None:   # each data set read once
            if repr(cfg.data) not in sets:
                sets[repr(cfg.data)] = data_lib.training_set(cfg.data, data_dir)
            train_set = sets[repr(cfg.data)]
        items.append((cfg, seed, train_set, run_key(cfg, seed, train_set.fingerprint)))
    groups: dict[tuple, list] = {}   # the models to train, by what can share an ensemble
    to_train = set()
    for cfg, seed, train_set, key in items:
        if key in to_train or (run_dir_for(cfg, seed, train_set.fingerprint, cache_dir) / "model.pt").exists():
            continue
        to_train.add(key)
        shared = (ensemble_key(cfg), training_mode(cfg, device, mode))
        chunk = sum(1 for k in groups if k[:2] == shared and len(groups[k]) >= max_members)   # full ones before
        groups.setdefault((*shared, chunk), []).append((cfg, seed, train_set, key))
    errors = []
    for (_, group_mode, _), group in groups.items():
        reason = None
        if batch and len(group) > 1:
            reason = ensemble_unsupported(group[0][0])
        if not batch or len(group) == 1 or reason:
            if reason:
                log(f"{group[0][0].name}: {reason}; its {len(group)} models train one by one")
            for cfg, seed, train_set, _ in group:
                train_or_load(cfg, seed, device, data_dir, cache_dir, progress, train_set, group_mode, callback)
            continue
        with contextlib.ExitStack() as locks:
            for key in sorted(k for *_, k in group):
                locks.enter_context(_training_lock(key, cache_dir))
            errors += _train_group(group, device, group_mode, cache_dir, progress, callback)
    if errors:
        raise TrainingDiverged("; ".join(str(e) for e in errors))
    return [_load(cfg, seed, run_dir_for(cfg, seed, ts.fingerprint, cache_dir), device, cached=key not in to_train)
            for cfg, seed, ts, key in items]


def _train_group(group, device, mode, cache_dir, progress, callback) -> list[Exception]:
    """Train one ensemble's members (under their locks): those another process finished meanwhile are skipped;
    members whose checkpoints stand at different iterations resume as one ensemble per iteration."""
    by_start: dict[int, list] = {}
    for cfg, seed, train_set, key in group:
        run_dir = run_dir_for(cfg, seed, train_set.fingerprint, cache_dir)
        if (run_dir / "model.pt").exists():
            continue
        by_start.setdefault(_checkpoint_iteration(run_dir / "checkpoint.pt") or 0, []).append(
            (cfg, seed, train_set, key, run_dir))
    errors = []
    for start, members in sorted(by_start.items()):
        for cfg, seed, train_set, key, run_dir in members:
            _check_batch(cfg, train_set)
        for cfg, seed, train_set, key, run_dir in members:
            _write_config(run_dir, cfg, seed, key, train_set)
        trainer = train_ensemble([Member(cfg, seed, ts.images, run_dir) for cfg, seed, ts, _, run_dir in members],
                                 device, progress, callback, mode)
        ensemble = {"members": len(members), "seeds": [seed for _, seed, *_ in members],
                    "configs": [cfg.name for cfg, *_ in members]}
        for i, (cfg, seed, train_set, key, run_dir) in enumerate(members):
            if i in trainer.diverged:
                errors.append(trainer.diverged[i])
                continue
            j = trainer.positions.index(i)
            _write_model(run_dir, trainer.member_model_state(j), trainer.histories[j], _info(
                trainer.iteration, trainer.wall_time_s, start or None, device, mode, train_set, key, ensemble=ensemble))
    return errors


MODEL_FIX = "delete it (and the checkpoint.pt beside it) to train the model again"



def _read_model_file(path: Path, device="cpu") -> dict:
    return torch_load(path, MODEL_FIX, device)


def _checkpoint_iteration(path: Path) -> int | None:
    """The iteration a checkpoint stands at (None: none); a file that is not a checkpoint is UnreadableFile."""
    if not path.exists():
        return None
    state = torch_load(path, CHECKPOINT_FIX)
    if not isinstance(state, dict) or "iteration" not in state:
        held = ", ".join(map(str, state)) if isinstance(state, dict) else type(state).__name__
        raise UnreadableFile(f"{path} is not a training checkpoint (it holds {held}, no iteration; a model.pt "
                             f"copied over it?); {CHECKPOINT_FIX}")
    return int(state["iteration"])
