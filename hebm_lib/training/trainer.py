"""Algorithm 1 of the paper, device-agnostic, checkpointed and resumable.

One iteration on a batch x:
  1. prior sampling: z- by K Langevin steps on p_alpha from N(0, I)        (EBM prior only)
  2. inference sampling: z+ = mu(x) + sigma(x) * eps                        (Eq. 8)
  3. generator + inference update on  -log p(x|z+) + w_t [KL(q || N(0,I)) - f(z+)]   (Eqs. 11, 12)
     (= -ELBO up to log Z(alpha), which has no gradient in beta or phi; w_t and per-dim KL weights
     come from the KL schedule: 1 for the paper, a warm-up, pro-VLAE's steps, or REWO / GECO)
  4. EBM update on  mean f(z-) - mean f(z+)                                (Eq. 10)

The step is capture-safe: it never reads a value back to the host (statistics stay on the device
and are read every ``check_every`` iterations, where the divergence check runs, and before every
checkpoint), its shapes are static, and every per-iteration number (KL weight, learning rate) is a
device tensor. Three execution modes run the same step:

* ``eager``: plain PyTorch (the default, and the only mode on CPU besides ``compiled``);
* ``compiled``: the loss of step 3 through ``torch.compile`` (fused elementwise work);
* ``graph`` (CUDA): the whole iteration captured once in a CUDA graph and replayed, Langevin by the
  fused Triton kernel of :mod:`hebm_lib.models.samplers`.

Everything a resumed run needs (weights, optimisers, RNG states, schedule state, iteration) is in one
checkpoint written atomically; an interrupted run continues from it and ends bit-identical to an
uninterrupted one in the same mode. A NaN, an exploding energy gap or an exploding tilt f(z+) stops training with
:class:`TrainingDiverged` and leaves the last good checkpoint untouched.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ..configs import ExperimentConfig
from ..distributions import to_unit_range
from ..errors import TrainingDiverged, TrainingStopped   # raised here; defined where a command reads them
from ..io import UnreadableFile, atomic_save, resolve_device, torch_load
from ..models import build_model
from .distributed import average_buffers, average_grads, rank_and_world
from .schedules import build_schedule

MODES = ("eager", "compiled", "graph")
STAT_NAMES = ("loss", "rec", "kl0", "tilt", "energy_gap")
WARMUP_ITERATIONS = 3   # eager iterations (real ones) before a CUDA graph is captured


CHECKPOINT_FIX = "delete it to train from the start (its iterations are lost)"


def refuse_foreign(state: dict, path, cfg: ExperimentConfig, seed: int) -> None:
    """A checkpoint written for another config or seed (copied into this model's folder) is a wrong file in this
    place, named in one line: resuming from it would train another model under this one's name."""
    if state["config_hash"] != cfg.hash or state["seed"] != seed:
        raise UnreadableFile(f"{path} was written for another config or seed (config hash {state['config_hash']}, "
                             f"seed {state['seed']}; this model: {cfg.hash}, seed {seed}); refusing to resume from "
                             f"it: {CHECKPOINT_FIX}")


@contextlib.contextmanager
def _stop_requests():
    """SIGTERM and Ctrl-C (SIGINT) during training set a flag instead of killing the process mid-step, so the
    loop can checkpoint the iteration it finished and stop (only the main thread can take signals)."""
    import signal
    import threading
    asked: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield asked
        return
    handler = lambda signum, frame: asked.append(signal.Signals(signum).name)
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield asked
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def stop_at(deadline: float):
    """A ``train`` (or ``train_ensemble``) callback that, once time.monotonic() passes ``deadline``, checks the
    state, writes the checkpoint(s) and raises :class:`TrainingStopped`."""
    def callback(trainer, stats) -> None:
        if time.monotonic() > deadline:
            trainer.check()   # never checkpoint a diverged state
            trainer.save_checkpoint()
            raise TrainingStopped
    return callback


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Data order of one epoch: a function of (seed, epoch) only, so resuming replays it exactly."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def batch_slice(it: int, batch_size: int, iters_per_epoch: int, rank: int = 0, world: int = 1) -> tuple[int, int, int]:
    """(epoch, first index, count) of iteration ``it``'s batch within its epoch's permutation (this rank's share)."""
    epoch, k = divmod(it, iters_per_epoch)
    local = batch_size // world
    return epoch, k * batch_size + rank * local, local


def learning_rates(cfg: ExperimentConfig, it: int, iters_per_epoch: int) -> tuple[float, float | None]:
    """(generator + inference lr, EBM lr or None) at iteration ``it``: the config's, decayed once per epoch."""
    decay = cfg.train.lr_decay_per_epoch ** (it // iters_per_epoch)
    return cfg.train.lr * decay, (cfg.prior.lr * decay if cfg.prior else None)


def divergence(cfg: ExperimentConfig, seed: int, first: int, stats: dict, bad_scale: float) -> TrainingDiverged:
    """The error of a run that went bad at iteration ``first`` (its statistics then), naming the setting to change."""
    where = f"{cfg.name} (seed {seed}) diverged at iteration {first}"
    nonfinite = [k for k, v in stats.items() if v != v or abs(v) == float("inf")]
    if nonfinite:
        return TrainingDiverged(f"{where}: non-finite {', '.join(nonfinite)} ({stats}). Lower train.lr / prior.lr.")
    if abs(stats["energy_gap"]) > cfg.train.max_energy_gap:
        return TrainingDiverged(f"{where}: EBM energy gap {stats['energy_gap']:.3g} exceeds "
                                f"train.max_energy_gap={cfg.train.max_energy_gap:g}. "
                                f"Lower prior.lr or keep spectral norm on.")
    return TrainingDiverged(f"{where}: the EBM's tilt f(z+) = {stats['tilt']:.3g} is over "
                            f"train.max_tilt_ratio={cfg.train.max_tilt_ratio:g} times its running scale "
                            f"({bad_scale:.3g} + 1). Lower prior.lr.")


def capture_cuda_graph(compute: Callable[[], None], device: torch.device, generators, snapshot, restore,
                       before_capture: Callable[[], None] = lambda: None) -> "torch.cuda.CUDAGraph":
    """One iteration recorded in a CUDA graph. The warm-up the recipe needs runs on a copy of the state that is
    then put back in place (``snapshot()`` before, ``restore(saved)`` after: same tensors, so the graph's
    addresses hold): every iteration of a graph-mode run, fresh or resumed, is a replay, and a resumed run
    equals an uninterrupted one."""
    saved = snapshot()
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(WARMUP_ITERATIONS):
            compute()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    for g in generators:
        graph.register_generator_state(g)
    before_capture()
    with torch.cuda.graph(graph):
        compute()
    restore(saved)
    return graph


def _match_parameter_layout(opt: torch.optim.Optimizer) -> None:
    """Adam's moments in their parameter's memory layout (channels-last convs): the fused kernel walks a parameter
    and its moments in memory order, so a moment saved in another layout (an ensemble's, or another mode's) would
    be read scrambled."""
    for p, st in opt.state.items():
        for k, v in st.items():
            if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                st[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


@dataclass
class Trainer:
    cfg: ExperimentConfig
    model: torch.nn.Module
    images: torch.Tensor            # uint8 N x C x H x W, on CPU
    seed: int
    device: torch.device
    mode: str = "eager"
    iteration: int = 0
    wall_time_s: float = 0.0
    history: list = field(default_factory=list)
    active = True   # still training (an ensemble's trainer drops diverged members and ends with none)

    def __post_init__(self):
        t = self.cfg.train
        if self.mode not in MODES:
            raise ValueError(f"unknown training mode {self.mode!r}; valid modes: {', '.join(MODES)}")
        if self.mode == "graph" and self.device.type != "cuda":
            raise ValueError("training mode 'graph' (CUDA graphs) needs a CUDA device; use 'eager' or 'compiled'")
        self.schedule = build_schedule(self.cfg.schedule, self.model.latent_dims, t.iterations, self.mode == "graph")
        reason = self.model.unsupported_mode(self.mode)
        if reason:
            raise ValueError(f"{self.cfg.name}: {reason}")
        if self.mode == "graph" and (self.schedule.reads_batch or t.amp == "fp16"):
            raise ValueError(f"{self.cfg.name}: its KL schedule ({self.cfg.schedule.kind}) reads the reconstruction "
                             f"error on the host every iteration (or amp is fp16, whose scaler is not capture-safe); "
                             f"train it in mode 'eager'")
        # NHWC activations: oneDNN (CPU) and cuDNN run these small convs faster
        self.model.to(self.device, memory_format=torch.channels_last)
        graph = self.mode == "graph"
        self.gi_params = list(self.model.generator.parameters()) + list(self.model.encoder.parameters())
        lr = torch.tensor(t.lr, device=self.device) if graph else t.lr  # a tensor lr can change under replay
        self.opt_gi = torch.optim.Adam(self.gi_params, lr=lr, betas=t.betas, weight_decay=t.weight_decay,
                                       fused=True, capturable=graph)
        ebm = list(self.model.prior.parameters())
        self.opt_ebm = None
        if ebm:
            lr_e = torch.tensor(self.cfg.prior.lr, device=self.device) if graph else self.cfg.prior.lr
            self.opt_ebm = torch.optim.Adam(ebm, lr=lr_e, betas=t.betas, fused=True, capturable=graph)
        self.rank, self.world = rank_and_world()
        if t.batch_size % self.world:
            raise ValueError(f"batch_size {t.batch_size} is not divisible by the {self.world} processes")
        if len(self.images) < t.batch_size:
            raise ValueError(f"{self.cfg.name}: train.batch_size={t.batch_size} is more than the {len(self.images)} "
                             f"training images; lower train.batch_size")
        self.rng = torch.Generator(device=self.device).manual_seed(self.seed * 7919 + self.rank)
        self.iters_per_epoch = max(1, len(self.images) // t.batch_size)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.amp == "fp16")
        # the data: on a GPU the whole set lives there and batches are gathered on the device
        self._images_dev = self.images.to(self.device) if self.device.type == "cuda" else None
        self._perm = (None, None)  # (epoch, permutation on the device)
        # per-iteration inputs of the step, as device tensors (the values a captured graph reads)
        self._kl_weight = torch.ones((), device=self.device)
        self._dim_weights = None
        first = self.schedule.dim_weights(0, self.model, self.device)
        if first is not None:
            self._dim_weights = first.clone()
        # statistics and the divergence monitor, on the device
        self._stats = torch.zeros(len(STAT_NAMES), device=self.device)
        self._kl_layers = torch.zeros(len(self.model.latent_dims), device=self.device)
        self._it_tensor = torch.zeros((), device=self.device)
        self._first_bad = torch.full((), -1.0, device=self.device)
        self._tilt_scale = torch.zeros((), device=self.device)   # running mean of |f(z+)| (the tilt monitor)
        self._bad_scale = torch.zeros((), device=self.device)
        self._bad_stats = torch.zeros(len(STAT_NAMES), device=self.device)
        self._graph = None
        self._x_static = None
        self._loss_fn = torch.compile(self._loss_terms, dynamic=False) if self.mode == "compiled" else self._loss_terms

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"iteration": self.iteration, "wall_time_s": self.wall_time_s, "history": self.history,
                "model": self.model.state_dict(), "opt_gi": self.opt_gi.state_dict(),
                "opt_ebm": self.opt_ebm.state_dict() if self.opt_ebm else None,
                "scaler": self.scaler.state_dict(), "rng": self.rng.get_state(),
                "schedule": self.schedule.state_dict(), "config_hash": self.cfg.hash, "seed": self.seed,
                "tilt_scale": self._tilt_scale.item()}

    def load_state_dict(self, state: dict) -> None:
        where = getattr(self, "run_dir", None)   # set by train()
        path = where / "checkpoint.pt" if where is not None else "the checkpoint"
        missing = sorted(set(self.state_dict()) - {"tilt_scale"} - set(state)) if isinstance(state, dict) else ["all"]
        if missing:   # another file in its place (a model.pt, say)
            raise UnreadableFile(f"{path} is not a checkpoint of this trainer (no {', '.join(missing)}); {CHECKPOINT_FIX}")
        refuse_foreign(state, path, self.cfg, self.seed)
        self.model.load_state_dict(state["model"])
        for opt, saved in ((self.opt_gi, state["opt_gi"]), (self.opt_ebm, state["opt_ebm"])):
            if opt:
                opt.load_state_dict(saved)
                _match_parameter_layout(opt)
        self.scaler.load_state_dict(state["scaler"])
        self.rng.set_state(state["rng"].cpu())
        self.iteration, self.wall_time_s = state["iteration"], state["wall_time_s"]
        self.history = list(state["history"])
        self.schedule.load_state_dict(state["schedule"])
        self._it_tensor.fill_(self.iteration)
        self._tilt_scale.fill_(state.get("tilt_scale", 0.0))   # checkpoints of before the tilt monitor: 0

    # -- the per-iteration inputs (host side) ---------------------------------------------
    def _batch(self, it: int) -> torch.Tensor:
        epoch, lo, local = batch_slice(it, self.cfg.train.batch_size, self.iters_per_epoch, self.rank, self.world)
        if self._images_dev is None:
            idx = epoch_permutation(len(self.images), self.seed, epoch)[lo:lo + local]
            x = self.images[idx].to(self.device, non_blocking=True)
        else:
            if self._perm[0] != epoch:
                self._perm = (epoch, epoch_permutation(len(self.images), self.seed, epoch).to(self.device))
            x = self._images_dev[self._perm[1][lo:lo + local]]
        return to_unit_range(x).contiguous(memory_format=torch.channels_last)

    def _set_lr(self, it: int) -> None:
        for opt, lr in zip((self.opt_gi, self.opt_ebm), learning_rates(self.cfg, it, self.iters_per_epoch)):
            if opt is None:
                continue
            for g in opt.param_groups:
                if isinstance(g["lr"], torch.Tensor):
                    g["lr"].fill_(lr)
                else:
                    g["lr"] = lr

    # -- one iteration (device side, no host reads) ----------------------------------------
    def _loss_terms(self, x, dim_weights):
        """The model's training terms of batch x (its own objective): what ``torch.compile`` fuses in mode
        'compiled'."""
        t = self.cfg.train
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.amp)
        autocast = torch.autocast(self.device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
        return self.model.training_terms(x, self.rng, t.kl, autocast, dim_weights)

    def _compute(self, x: torch.Tensor) -> None:
        """Steps 1-4 of Algorithm 1 on batch ``x``; results land in the trainer's device tensors."""
        m = self.model
        n = x.shape[0]
        # 1. prior sampling (no graph; fp32)
        z_neg = m.prior.sample(n, generator=self.rng, device=self.device) if m.prior.is_ebm else None
        # 2-3. inference sampling, generator + inference update
        m.prior.requires_grad_(False)  # f's own gradient comes from step 4 only
        terms = self._loss_fn(x, self._dim_weights)
        tilt_pos = terms.tilt
        if self.schedule.reads_batch:   # the KL weight from this batch's forward pass (a host read)
            self._kl_weight.fill_(self.schedule.batch_kl_weight(self.iteration, m, terms, x))
        loss = terms.rec + self._kl_weight * (terms.kl - tilt_pos)
        m.prior.requires_grad_(True)
        self.opt_gi.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.schedule.holds_back():   # no update at all for these (Adam's moments and step count stay)
            for p in self.schedule.freezable(m):
                p.grad = None
        self.scaler.unscale_(self.opt_gi)
        average_grads(self.gi_params)
        self.scaler.step(self.opt_gi)
        self.scaler.update()
        average_buffers(m.generator)   # batch norms' running statistics (a no-op on one process)
        average_buffers(m.encoder)
        # 4. EBM update (Eq. 10)
        e_gap = torch.zeros((), device=self.device)
        if self.opt_ebm:
            f_pos = m.prior.tilt(terms.z.detach()).mean()
            f_neg = m.prior.tilt(z_neg).mean()
            e_loss = f_neg - f_pos
            self.opt_ebm.zero_grad(set_to_none=True)
            e_loss.backward()
            average_grads(m.prior.parameters())
            self.opt_ebm.step()
            e_gap = -e_loss.detach()
        # statistics and the divergence monitor
        stats = torch.stack([loss.detach(), terms.rec.detach(), terms.kl.detach(), tilt_pos.detach(), e_gap])
        self._stats.copy_(stats)
        self._kl_layers.copy_(terms.kl_layers.detach())
        self._it_tensor.add_(1)
        tilt, limit = stats[3].abs(), self.cfg.train.max_tilt_ratio * (self._tilt_scale + 1)
        bad = ~torch.isfinite(stats).all() | (stats[-1].abs() > self.cfg.train.max_energy_gap) | (tilt > limit)
        first = bad & (self._first_bad < 0)
        self._first_bad.copy_(torch.where(first, self._it_tensor, self._first_bad))
        self._bad_stats.copy_(torch.where(first, stats, self._bad_stats))
        self._bad_scale.copy_(torch.where(first, self._tilt_scale, self._bad_scale))
        self._tilt_scale.lerp_(torch.nan_to_num(tilt, nan=0.0, posinf=0.0), 0.01)

    def step(self) -> dict:
        """One iteration. Returns the device tensors of its statistics (read them only when needed)."""
        it = self.iteration
        self._set_lr(it)
        if not self.schedule.reads_batch:
            self._kl_weight.fill_(self.schedule.kl_weight(it))
        self.model.begin_iteration(it, self.cfg.train)
        w = self.schedule.dim_weights(it, self.model, self.device)
        if w is not None:
            self._dim_weights.copy_(w)
        x = self._batch(it)
        if self.mode == "graph":
            self._graph_step(x, it)
        else:
            self._compute(x)
        self.iteration = it + 1
        return {"stats": self._stats, "kl_layers": self._kl_layers}

    def _graph_step(self, x: torch.Tensor, it: int) -> None:
        if self._graph is None:
            self._x_static = x.clone()
            self._capture()
        self._x_static.copy_(x)
        self._graph.replay()

    def _capture(self) -> None:
        def zero_grads():
            for opt in (self.opt_gi, self.opt_ebm):
                if opt:
                    opt.zero_grad(set_to_none=True)
        self._graph = capture_cuda_graph(lambda: self._compute(self._x_static), self.device, [self.rng],
                                         self._device_state, self._restore_device_state, zero_grads)

    def _device_state(self) -> dict:
        opts = [o for o in (self.opt_gi, self.opt_ebm) if o]
        return {"model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "opt": [{p: {k: v.clone() for k, v in o.state[p].items()} for p in o.state} for o in opts],
                "rng": self.rng.get_state(),
                "tensors": [t.clone() for t in self._monitor_tensors()]}

    def _restore_device_state(self, saved: dict) -> None:
        with torch.no_grad():
            self.model.load_state_dict(saved["model"])   # copies into the same tensors
            for o, state in zip([o for o in (self.opt_gi, self.opt_ebm) if o], saved["opt"]):
                for p, st in o.state.items():             # a state born in the warm-up goes back to zero
                    for k, v in st.items():
                        v.copy_(state[p][k]) if p in state else v.zero_()
            for t, v in zip(self._monitor_tensors(), saved["tensors"]):
                t.copy_(v)
        self.rng.set_state(saved["rng"])

    def _monitor_tensors(self) -> list[torch.Tensor]:
        return [self._stats, self._kl_layers, self._it_tensor, self._first_bad, self._bad_stats, self._tilt_scale,
                self._bad_scale]

    # -- reading the statistics --------------------------------------------------------------
    def read_stats(self) -> dict:
        """The last iteration's statistics as numbers (a host read)."""
        values = self._stats.tolist()
        lr = self.opt_gi.param_groups[0]["lr"]
        out = {"iteration": self.iteration, **dict(zip(STAT_NAMES, values)),
               "kl_layers": [round(v, 4) for v in self._kl_layers.tolist()],
               "lr": float(lr), "seconds": round(self.wall_time_s, 2)}
        return out | self.schedule.logged_state()

    def check(self) -> None:
        """Raise :class:`TrainingDiverged` if any iteration since the start went non-finite or exploded."""
        first = int(self._first_bad.item())
        if first >= 0:
            raise divergence(self.cfg, self.seed, first, dict(zip(STAT_NAMES, self._bad_stats.tolist())),
                             self._bad_scale.item())

    # -- what the training loop (run_loop) asks of a trainer --------------------------------------
    @property
    def label(self) -> str:
        return f"{self.cfg.name}/{self.cfg.profile}/seed{self.seed}"

    def log(self) -> float:
        """Append this iteration's statistics to the history; returns its loss (for the progress bar)."""
        self.history.append(self.read_stats())
        return self.history[-1]["loss"]

    def save_checkpoint(self) -> None:
        atomic_save(self.state_dict(), Path(self.run_dir) / "checkpoint.pt")

    def save_files(self) -> None:
        """The checkpoint, the schedule's own files (pro-VLAE's per-step models) and the last epochs' snapshots
        that are due now."""
        if self.rank == 0:
            save_due_files(self.cfg, self.iteration, self.iters_per_epoch, self.run_dir, self.state_dict,
                           self.schedule.files_due(self.iteration, self.model), self.model.state_dict)

    def stopped(self, signal_name: str) -> TrainingStopped:
        return TrainingStopped(f"{self.cfg.name} (seed {self.seed}): {signal_name} at iteration {self.iteration:,}; "
                               f"checkpoint written to {Path(self.run_dir) / 'checkpoint.pt'}; run the same command "
                               f"again to resume")


@contextlib.contextmanager
def _terminal(progress: bool | str):
    """Where progress goes: nowhere (False), stderr (True), or a terminal or a file by its path (a notebook's
    kernel, whose stderr is the page, writes to `hebm run`'s terminal or to the file it relays this way). A
    terminal gets a bar, anything else a line every tenth of training."""
    import sys
    if not progress:
        yield None
    elif progress is True:
        yield sys.stderr
    else:
        try:
            stream = open(progress, "a")   # appended: a file another writer shares
        except OSError:   # the terminal went away: no bar
            yield None
            return
        with stream:
            yield stream


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def train(cfg: ExperimentConfig, seed: int, run_dir: Path, images: torch.Tensor, device=None,
          progress: bool | str = True, callback: Callable[[Trainer, dict], None] | None = None,
          mode: str = "eager", check_every: int = 100) -> Trainer:
    """Train (or resume) in ``run_dir`` until cfg.train.iterations; returns the finished trainer.

    ``progress``: a bar (iteration, loss, rate, time left) on stderr, on the terminal device at that path,
    or none (False).

    ``callback(trainer, stats)`` runs after every iteration (the tests use it to interrupt). The
    divergence check runs every ``check_every`` iterations, before every checkpoint and at the end.
    """
    device = resolve_device(device)
    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoint.pt"
    torch.manual_seed(seed)  # initial weights
    trainer = Trainer(cfg, build_model(cfg.nets, cfg.prior), images, seed, device, mode)
    trainer.run_dir = run_dir
    if ckpt.exists():
        trainer.load_state_dict(torch_load(ckpt, CHECKPOINT_FIX, device))
    trainer.model.train()
    run_loop(trainer, cfg.train, progress if trainer.rank == 0 else False, callback, check_every)
    return trainer


def run_loop(trainer, train_cfg, progress, callback, check_every: int) -> None:
    """The training loop of a trainer (one model's :class:`Trainer`, or an ensemble's): steps until
    ``train_cfg.iterations``, the divergence check every ``check_every`` iterations and before every
    checkpoint, the history every 2% of training, the files due, and a clean stop on SIGTERM / Ctrl-C."""
    total = train_cfg.iterations
    log_every = max(1, total // 50)
    every = train_cfg.checkpoint_every
    with _terminal(progress) as stream, _stop_requests() as asked, \
            tqdm(total=total, initial=trainer.iteration, desc=trainer.label,
                 disable=not _is_terminal(stream), file=stream, mininterval=2, leave=False) as bar:
        # off a terminal (a log, a relayed file): a line every tenth of training, never a bar's redraws
        lines = stream is not None and not _is_terminal(stream)
        line_every = max(1, total // 10)
        next_line = (trainer.iteration // line_every + 1) * line_every
        while trainer.iteration < total and trainer.active:
            if asked:   # a signal arrived during the last iteration: keep it, then stop
                trainer.check()
                trainer.save_checkpoint()
                raise trainer.stopped(asked[0])
            t0 = time.perf_counter()
            stats = trainer.step()
            it = trainer.iteration
            logged = it % log_every == 0 or it == total
            if logged or it % every == 0 or it % check_every == 0:
                trainer.check()  # a host read: before any checkpoint, and every check_every iterations
            trainer.wall_time_s += time.perf_counter() - t0
            if logged and trainer.active:
                loss = trainer.log()
                bar.set_postfix(loss=f"{loss:.1f}", refresh=False)
                if lines and (it >= next_line or it == total):
                    stream.write(f"{trainer.label}: iteration {it:,} of {total:,} ({100 * it // total}%), "
                                 f"loss {loss:.1f}, {trainer.wall_time_s:.0f} s\n")
                    stream.flush()
                    next_line = (it // line_every + 1) * line_every
            bar.update(1)
            trainer.save_files()
            if callback:
                callback(trainer, stats)


# The weights part-way through training, kept whatever the config (so outside the cache key): the pages plot a
# claim's margin against training length from them, to show whether a failing claim is on its way to holding.
PROGRESS_FRACTIONS = (0.25, 0.5, 0.75)


def progress_iterations(total: int) -> list[int]:
    """The iterations of a ``total``-iteration run whose weights are kept as ``progress-*.pt`` (the end is model.pt)."""
    return sorted({max(1, round(f * total)) for f in PROGRESS_FRACTIONS} - {total})


def save_due_files(cfg: ExperimentConfig, it: int, iters_per_epoch: int, run_dir: Path, state_dict: Callable[[], dict],
                   schedule_files: dict, model_state: Callable[[], dict]) -> None:
    """One model's files due after iteration ``it``: its checkpoint (every ``checkpoint_every`` iterations and at
    the end), its schedule's files, the last ``snapshot_epochs`` epochs' snapshots and the progress snapshots."""
    total = cfg.train.iterations
    if it in progress_iterations(total):
        atomic_save({"model": model_state(), "iteration": it}, Path(run_dir) / f"progress-{it:08d}.pt")
    if it % cfg.train.checkpoint_every == 0 or it == total:
        atomic_save(state_dict(), Path(run_dir) / "checkpoint.pt")
    for name, contents in schedule_files.items():
        atomic_save(contents, Path(run_dir) / name)
    keep = cfg.train.snapshot_epochs
    if keep and it % iters_per_epoch == 0 and it > total - keep * iters_per_epoch:
        atomic_save({"model": model_state(), "iteration": it}, Path(run_dir) / f"snapshot-{it:08d}.pt")
