"""Many models in one training step: the seeds of a config (and configs that differ only in their data set)
trained as one ensemble, every kernel batched over a leading member axis.

Why: a training step here is ~1,000 small kernels that each keep a GPU's 132 SMs mostly idle; M members in
one step cost little more than one (benchmarks/ensemble.py measures it). On a CPU it saves the per-kernel
overhead only.

Mechanism: ``torch.func`` (PyTorch's "model ensembling" recipe). A model is written for one member; the
ensemble stacks every tensor of its state dict along a leading member dim and runs
``vmap(functional_call(model, member_state, ...))``: each family's forward pass, its own loss
(``training_terms``), its batch norms and the spectral norm run batched as they are written, so a model file
has no ensemble twin and a new family gets ensembles without writing anything. (The alternative, layers
written member-batched with bmm and grouped convs, would need every family's nets written twice.) A family
whose step vmap cannot batch says why (``LatentModel.ensemble_unsupported``) and its members train one by
one (hebm_lib.training.cache).

Per member, never mixed across members:

* data: its own images and epoch permutation (``epoch_permutation(seed)``), as a separate run;
* noise: its own torch.Generator, drawn in the same calls as a separate run of its seed makes
  (:class:`MemberNoise`), Langevin chains included (one member-batched kernel, hebm_lib.models.samplers);
* batch-norm statistics and the spectral norm's u, v: stacked buffers that vmap updates in place;
* Adam (:class:`MemberAdam`): one flat parameter row per member; moments per element, step count and learning
  rate per member (and per held-back group: REWO's initial phase freezes one member's prior nets alone);
* KL schedules, REWO / GECO state, the tilt monitor: one per member;
* divergence: a member that diverges stops alone (its last good checkpoint kept); the others go on;
* files: each member is written where a separate run of its (config, seed) is, in the same format
  (checkpoint.pt, model.pt, history.csv), so a separate run resumes an ensemble's checkpoint and the other
  way round, and the model cache, the notebooks and stored runs read members unchanged.

Equivalence (tests/test_ensemble.py): a member follows its separate run's trajectory up to float rounding
(vmap's batched kernels sum in another order, ~1e-6 relative per step in float32, then amplified as any
rounding difference is; in float64 the two agree to ~1e-12 over a short run).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..configs import ExperimentConfig
from ..distributions import to_unit_range
from ..io import atomic_save, resolve_device
from ..models import build_model
from ..models.base import ElboTerms
from .distributed import rank_and_world
from .schedules import build_schedule
from .trainer import (CHECKPOINT_FIX, MODES, STAT_NAMES, TrainingDiverged, TrainingStopped, batch_slice,
                      capture_cuda_graph, divergence, epoch_permutation, learning_rates, refuse_foreign, run_loop,
                      save_due_files)


def ensemble_key(cfg: ExperimentConfig) -> str:
    """Configs with the same key can train in one ensemble: everything but the data set (and the names) agrees,
    so the members' nets, optimiser settings and schedules are the same shapes and rules."""
    d = cfg.to_dict()
    return json.dumps({k: v for k, v in d.items() if k not in ("name", "description", "data")}, sort_keys=True,
                      default=str)


@functools.lru_cache(maxsize=None)
def _unsupported(key: str, nets, prior) -> str | None:
    return build_model(nets, prior).ensemble_unsupported()


def ensemble_unsupported(cfg: ExperimentConfig) -> str | None:
    """Why ``cfg``'s models cannot train as an ensemble (its family says: LatentModel.ensemble_unsupported)."""
    return _unsupported(ensemble_key(cfg), cfg.nets, cfg.prior)


@dataclass
class Member:
    """One model of an ensemble: what a separate run of it would be given."""
    cfg: ExperimentConfig
    seed: int
    images: torch.Tensor    # uint8 N x C x H x W, on the CPU
    run_dir: Path


class MemberNoise:
    """An ensemble's random numbers inside vmap: each member's own generator, called exactly as a separate run
    of its seed calls it, so member m draws that run's numbers. Each draw is made for every member (outside
    vmap's batching: ``randomness="same"``) and ``index``, the member's position (vmapped), picks its own."""

    def __init__(self, generators: list[torch.Generator], index: torch.Tensor):
        self.generators, self.index = generators, index

    def _draw(self, draw, shape, device, dtype) -> torch.Tensor:
        return torch.stack([draw(shape, generator=g, device=device, dtype=dtype) for g in self.generators])[self.index]

    def standard_normal(self, shape, device=None, dtype=None) -> torch.Tensor:
        return self._draw(torch.randn, shape, device, dtype)

    def uniform(self, shape, device=None, dtype=None) -> torch.Tensor:
        return self._draw(torch.rand, shape, device, dtype)


class FlatLayout:
    """Named parameters laid out in one flat row (per member): name -> (offset, shape)."""

    def __init__(self, named: list[tuple[str, torch.Size]]):
        self.names = [n for n, _ in named]
        self.shapes = [torch.Size(s) for _, s in named]
        self.sizes = [s.numel() for s in self.shapes]
        self.size = sum(self.sizes)

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """name -> M x shape views of ``flat`` (M x P); gradients flow back to ``flat``."""
        return {n: part.view(flat.shape[0], *shape)
                for n, part, shape in zip(self.names, flat.split(self.sizes, dim=1), self.shapes)}

    def row(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([tensors[n].reshape(-1) for n in self.names])

    def unrow(self, row: torch.Tensor) -> list[torch.Tensor]:
        return [part.view(shape) for part, shape in zip(row.split(self.sizes), self.shapes)]


class MemberAdam:
    """Adam (as torch.optim.Adam, L2 weight decay) over a flat parameter row per member: M x P moments, an M x G
    step count (G groups of columns, so that a schedule can hold one group back for one member, as a separate
    run's Adam skips a parameter whose gradient is None) and a learning rate per member. A held-back entry is
    not touched at all: parameter, moments and step count stay. Checkpoints are converted to and from
    torch.optim.Adam's state dict (``to_torch`` / ``load_torch``), the format of a separate run."""

    def __init__(self, theta: torch.Tensor, betas, eps: float, weight_decay: float, groups: torch.Tensor | None):
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.groups = groups          # P column -> group (None: one group)
        n_groups = 1 if groups is None else int(groups.max()) + 1
        self.exp_avg = torch.zeros_like(theta)
        self.exp_avg_sq = torch.zeros_like(theta)
        self.step = torch.zeros(theta.shape[0], n_groups, dtype=torch.float64, device=theta.device)

    def _columns(self, per_group: torch.Tensor) -> torch.Tensor:
        """M x G -> M x 1 (one group) or M x P."""
        return per_group if self.groups is None else per_group[:, self.groups]

    @torch.no_grad()
    def update(self, theta: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor, held_back: torch.Tensor | None):
        """One step; ``lr`` (M), ``held_back`` (M x G booleans, or None)."""
        if self.weight_decay:
            grad = grad.add(theta, alpha=self.weight_decay)
        active = None if held_back is None else ~held_back
        self.step.add_(1.0 if active is None else active.double())
        bias1 = 1 - self.beta1 ** self.step                     # float64, as torch's scalars
        bias2_sqrt = (1 - self.beta2 ** self.step).sqrt()
        step_size = self._columns((lr.double()[:, None] / bias1).to(theta.dtype))
        bias2_sqrt = self._columns(bias2_sqrt.to(theta.dtype))
        exp_avg = self.exp_avg.lerp(grad, 1 - self.beta1)
        exp_avg_sq = self.exp_avg_sq.mul(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        denom = exp_avg_sq.sqrt().div_(bias2_sqrt).add_(self.eps)
        new_theta = theta - step_size * exp_avg / denom
        if active is not None:
            cols = self._columns(active)
            exp_avg = torch.where(cols, exp_avg, self.exp_avg)
            exp_avg_sq = torch.where(cols, exp_avg_sq, self.exp_avg_sq)
            new_theta = torch.where(cols, new_theta, theta)
        self.exp_avg.copy_(exp_avg)
        self.exp_avg_sq.copy_(exp_avg_sq)
        theta.copy_(new_theta)

    def select(self, keep: torch.Tensor) -> None:
        self.exp_avg, self.exp_avg_sq, self.step = self.exp_avg[keep], self.exp_avg_sq[keep], self.step[keep]

    def to_torch(self, m: int, layout: FlatLayout, template: dict) -> dict:
        """Member m's state as torch.optim.Adam's state dict (``template``: its param_groups)."""
        state = {}
        group_of = self._param_groups(layout)
        for i, (avg, sq) in enumerate(zip(layout.unrow(self.exp_avg[m]), layout.unrow(self.exp_avg_sq[m]))):
            step = float(self.step[m, group_of[i]])
            if step:   # a parameter never updated has no state in torch's Adam; fused Adam's step: fp32, on the device
                state[i] = {"step": torch.tensor(step, dtype=torch.float32, device=avg.device),
                            "exp_avg": avg.clone(), "exp_avg_sq": sq.clone()}
        return {"state": state, "param_groups": copy.deepcopy(template)}

    def load_torch(self, m: int, layout: FlatLayout, saved: dict) -> None:
        group_of = self._param_groups(layout)
        zero = [torch.zeros(s, device=self.exp_avg.device) for s in layout.shapes]
        st = saved["state"]
        self.exp_avg[m] = torch.cat([(st[i]["exp_avg"] if i in st else z).reshape(-1).to(z.device)
                                     for i, z in enumerate(zero)])
        self.exp_avg_sq[m] = torch.cat([(st[i]["exp_avg_sq"] if i in st else z).reshape(-1).to(z.device)
                                        for i, z in enumerate(zero)])
        for i, g in enumerate(group_of):
            self.step[m, g] = float(st[i]["step"]) if i in st else 0.0

    def _param_groups(self, layout: FlatLayout) -> list[int]:
        """The group of each parameter (its first column's)."""
        if self.groups is None:
            return [0] * len(layout.names)
        starts = torch.tensor([0] + layout.sizes[:-1]).cumsum(0)
        return [int(self.groups[int(s)]) for s in starts]


class _Bound(nn.Module):
    """Runs ``fn(model, *args)`` with the model's tensors replaced by one member's (through functional_call)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, fn, *args):
        return fn(self.model, *args)


class EnsembleTrainer:
    """Algorithm 1 (hebm_lib.training.trainer) for M members at once; the members' step is the separate
    run's, under vmap. Use :func:`train_ensemble`."""

    def __init__(self, members: list[Member], device: torch.device, mode: str = "eager"):
        if mode not in MODES:
            raise ValueError(f"unknown training mode {mode!r}; valid modes: {', '.join(MODES)}")
        if mode == "graph" and device.type != "cuda":
            raise ValueError("training mode 'graph' (CUDA graphs) needs a CUDA device; use 'eager' or 'compiled'")
        keys = {ensemble_key(m.cfg) for m in members}
        if len(keys) > 1:
            raise ValueError("an ensemble's configs may differ only in their data set: "
                             + ", ".join(sorted({m.cfg.name for m in members})))
        if rank_and_world()[1] > 1:
            raise ValueError("an ensemble trains in one process; under torchrun train one seed at a time (--seed)")
        self.members, self.device, self.mode = list(members), device, mode
        self.cfg = cfg = members[0].cfg          # the shared sections (nets, prior, train, schedule)
        t = cfg.train
        if t.amp == "fp16":
            raise ValueError(f"{cfg.name}: amp fp16's loss scaler skips a whole step on one member's overflow; "
                             f"train its seeds one at a time")
        self.models = []
        for m in members:                         # each member's initial weights, as its separate run draws them
            torch.manual_seed(m.seed)
            self.models.append(build_model(m.cfg.nets, m.cfg.prior))
        self.model = self.models[0].to(device)   # the module the members' tensors are bound into
        reason = self.model.ensemble_unsupported() or self.model.unsupported_mode(mode)
        if reason:
            raise ValueError(f"{cfg.name}: {reason}")
        self.schedules = [build_schedule(m.cfg.schedule, self.model.latent_dims, t.iterations, mode == "graph")
                          for m in members]
        if mode == "graph" and self.schedules[0].reads_batch:
            raise ValueError(f"{cfg.name}: its KL schedule ({cfg.schedule.kind}) reads the reconstruction error on "
                             f"the host every iteration; train it in mode 'eager'")
        for m in members:
            if len(m.images) < t.batch_size:
                raise ValueError(f"{m.cfg.name}: {len(m.images)} training images < batch size {t.batch_size}")
        self._stack_state()
        del self.models                           # their tensors are in the stacked state now
        self.generators = [torch.Generator(device=device).manual_seed(m.seed * 7919) for m in members]
        self.iters_per_epoch = [max(1, len(m.images) // t.batch_size) for m in members]
        self.histories = [[] for _ in members]
        self.diverged: dict[int, TrainingDiverged] = {}   # position in the starting members -> its error
        self.positions = list(range(len(members)))        # the starting positions of the members still training
        self.iteration, self.wall_time_s = 0, 0.0
        # the data: on a GPU each distinct image set lives there once
        self._images_dev = {}
        if device.type == "cuda":
            for m in members:
                self._images_dev.setdefault(id(m.images), m.images.to(device))
        self._monitor_init()
        self._graph = None
        self._x_static = None

    # -- the stacked state --------------------------------------------------------------------------
    def _stack_state(self) -> None:
        model, device = self.model, self.device
        every = dict(model.named_parameters())
        covered = {id(p) for part in (model.generator, model.encoder, model.prior) for p in part.parameters()}
        if any(id(p) not in covered for p in every.values()):
            raise ValueError(f"{self.cfg.name}: a parameter outside generator, encoder and prior")
        names_of = {id(p): n for n, p in every.items()}
        gi = [names_of[id(p)] for p in list(model.generator.parameters()) + list(model.encoder.parameters())]
        ebm = [names_of[id(p)] for p in model.prior.parameters()]
        self.layout_gi = FlatLayout([(n, every[n].shape) for n in gi])
        self.layout_ebm = FlatLayout([(n, every[n].shape) for n in ebm])
        states = [m.state_dict() for m in self.models]
        stack = lambda layout: torch.stack([layout.row(s) for s in states]).to(device)
        self.theta_gi = stack(self.layout_gi).requires_grad_()
        self.theta_ebm = stack(self.layout_ebm).requires_grad_() if ebm else None
        self.state_keys = list(states[0].keys())
        params = set(gi) | set(ebm)
        self.buffers = {k: torch.stack([s[k] for s in states]).to(device) for k in self.state_keys if k not in params}
        t = self.cfg.train
        freezable = {id(p) for p in self.schedules[0].freezable(model)}
        groups = None
        if freezable:   # group 1: the columns a schedule may hold back
            groups = torch.cat([torch.full((n,), int(id(every[name]) in freezable), dtype=torch.long)
                                for name, n in zip(self.layout_gi.names, self.layout_gi.sizes)]).to(device)
        self.adam_gi = MemberAdam(self.theta_gi, t.betas, 1e-8, t.weight_decay, groups)
        self.adam_ebm = MemberAdam(self.theta_ebm, t.betas, 1e-8, 0.0, None) if ebm else None
        self._freezable = bool(freezable)
        self._adam_templates = self._torch_adam_templates()
        M = len(self.members)
        self._lr = torch.zeros(2, M, device=device)          # generator + inference, EBM
        self._kl_weight = torch.ones(M, device=device)
        self._held_back = torch.zeros(M, 1 + self._freezable, dtype=torch.bool, device=device)
        self._index = torch.arange(M, device=device)
        self._dim_weights = None

    def _torch_adam_templates(self) -> tuple[list, list | None]:
        """The param_groups of the torch.optim.Adam a separate run of this mode builds (its checkpoints' format)."""
        t, graph = self.cfg.train, self.mode == "graph"
        lr = lambda v: torch.tensor(v, device=self.device) if graph else v
        gi = list(self.model.generator.parameters()) + list(self.model.encoder.parameters())
        opt = torch.optim.Adam(gi, lr=lr(t.lr), betas=t.betas, weight_decay=t.weight_decay, fused=True, capturable=graph)
        ebm = list(self.model.prior.parameters())
        opt_e = torch.optim.Adam(ebm, lr=lr(self.cfg.prior.lr), betas=t.betas, fused=True, capturable=graph) if ebm else None
        return opt.state_dict()["param_groups"], (opt_e.state_dict()["param_groups"] if opt_e else None)

    def _monitor_init(self) -> None:
        M, L, dev = len(self.members), len(self.model.latent_dims), self.device
        self._stats = torch.zeros(M, len(STAT_NAMES), device=dev)
        self._kl_layers = torch.zeros(M, L, device=dev)
        self._it_tensor = torch.zeros((), device=dev)
        self._first_bad = torch.full((M,), -1.0, device=dev)
        self._tilt_scale = torch.zeros(M, device=dev)
        self._bad_scale = torch.zeros(M, device=dev)
        self._bad_stats = torch.zeros(M, len(STAT_NAMES), device=dev)

    def _monitor_tensors(self) -> list[torch.Tensor]:
        return [self._stats, self._kl_layers, self._it_tensor, self._first_bad, self._bad_stats, self._tilt_scale,
                self._bad_scale]

    @property
    def seeds(self) -> list[int]:
        return [m.seed for m in self.members]

    @property
    def active(self) -> bool:
        return bool(self.members)

    # -- one iteration ------------------------------------------------------------------------------
    def _batch(self, it: int) -> torch.Tensor:
        xs = []
        for m, ipe in zip(self.members, self.iters_per_epoch):
            epoch, lo, n = batch_slice(it, self.cfg.train.batch_size, ipe)
            idx = epoch_permutation(len(m.images), m.seed, epoch)[lo:lo + n]
            images = self._images_dev.get(id(m.images))
            xs.append(m.images[idx].to(self.device, non_blocking=True) if images is None
                      else images[idx.to(self.device)])
        return to_unit_range(torch.stack(xs))

    def _state(self) -> dict[str, torch.Tensor]:
        """Every member's tensors by state-dict name: parameters as views of the flat rows, then buffers."""
        views = self.layout_gi.views(self.theta_gi)
        if self.theta_ebm is not None:
            views |= self.layout_ebm.views(self.theta_ebm)
        return {"model." + k: v for k, v in (views | self.buffers).items()}

    def _vmapped(self, fn: Callable, *args, in_dims=None):
        """fn(model, *member_args) for every member at once (the members' tensors bound into the model)."""
        bound = _Bound(self.model)

        def member(state, *a):
            return functional_call(bound, state, (fn, *a))
        return vmap(member, in_dims=(0, *(in_dims or (0,) * len(args))), randomness="same")(self._state(), *args)

    def _terms(self, model, x, index, dim_weights):
        """One member's steps 1-3 forward (the separate run's order of draws): prior samples, then its terms."""
        t, noise = self.cfg.train, MemberNoise(self.generators, index)
        out = {}
        if model.prior.is_ebm:
            out["z_neg"] = model.prior.sample(x.shape[0], generator=noise, device=x.device)
        amp_dtype = {"bf16": torch.bfloat16}.get(t.amp)
        autocast = torch.autocast(x.device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
        terms = model.training_terms(x, noise, t.kl, autocast, dim_weights)
        return out | {k: v for k, v in terms._asdict().items() if v is not None}

    @staticmethod
    def _energy_loss(model, z_pos, z_neg):
        """Step 4's loss (Eq. 10) of one member (f(z+) first: each call moves the spectral norm's power iteration)."""
        f_pos = model.prior.tilt(z_pos).mean()
        return model.prior.tilt(z_neg).mean() - f_pos

    def _compute(self, x: torch.Tensor) -> None:
        dims = None if self._dim_weights is None else 0
        terms = self._vmapped(self._terms, x, self._index, self._dim_weights, in_dims=(0, 0, dims))
        if self.schedules[0].reads_batch:   # each member's KL weight from its own batch (host reads)
            for i, sched in enumerate(self.schedules):
                one = ElboTerms(**{k: terms[k][i] if k in terms else None for k in ElboTerms._fields})
                self._kl_weight[i] = sched.batch_kl_weight(self.iteration, self.model, one, x[i])
        if self._freezable:
            self._held_back[:, 1] = torch.tensor([s.holds_back() for s in self.schedules], device=self.device)
        loss = terms["rec"] + self._kl_weight * (terms["kl"] - terms["tilt"])
        grad_gi, = torch.autograd.grad(loss.sum(), self.theta_gi)
        e_gap = torch.zeros_like(loss)
        if self.theta_ebm is not None:
            e_loss = self._vmapped(self._energy_loss, terms["z"].detach(), terms["z_neg"])
            grad_ebm, = torch.autograd.grad(e_loss.sum(), self.theta_ebm)
            self.adam_ebm.update(self.theta_ebm, grad_ebm, self._lr[1], None)
            e_gap = -e_loss.detach()
        self.adam_gi.update(self.theta_gi, grad_gi, self._lr[0], self._held_back if self._freezable else None)
        # statistics and the divergence monitor, per member (the separate run's rules)
        stats = torch.stack([loss.detach(), terms["rec"].detach(), terms["kl"].detach(), terms["tilt"].detach(),
                             e_gap], dim=1)
        self._stats.copy_(stats)
        self._kl_layers.copy_(terms["kl_layers"].detach())
        self._it_tensor.add_(1)
        t = self.cfg.train
        tilt, limit = stats[:, 3].abs(), t.max_tilt_ratio * (self._tilt_scale + 1)
        bad = ~torch.isfinite(stats).all(1) | (stats[:, 4].abs() > t.max_energy_gap) | (tilt > limit)
        first = bad & (self._first_bad < 0)
        self._first_bad.copy_(torch.where(first, self._it_tensor, self._first_bad))
        self._bad_stats.copy_(torch.where(first[:, None], stats, self._bad_stats))
        self._bad_scale.copy_(torch.where(first, self._tilt_scale, self._bad_scale))
        self._tilt_scale.lerp_(torch.nan_to_num(tilt, nan=0.0, posinf=0.0), 0.01)

    def step(self) -> dict:
        it = self.iteration
        lrs = [learning_rates(m.cfg, it, ipe) for m, ipe in zip(self.members, self.iters_per_epoch)]
        self._lr.copy_(torch.tensor([[a for a, _ in lrs], [b or 0.0 for _, b in lrs]]))
        if not self.schedules[0].reads_batch:
            self._kl_weight.copy_(torch.tensor([s.kl_weight(it) for s in self.schedules]))
        self.model.begin_iteration(it, self.cfg.train)   # shared per-iteration state (the members' train sections agree)
        w = [s.dim_weights(it, self.model, self.device) for s in self.schedules]
        if w[0] is not None:
            if self._dim_weights is None:
                self._dim_weights = torch.stack(w)
            else:
                self._dim_weights.copy_(torch.stack(w))
        x = self._batch(it)
        if self.mode == "graph":
            if self._graph is None:
                self._x_static = x.clone()
                self._graph = capture_cuda_graph(lambda: self._compute(self._x_static), self.device, self.generators,
                                                 self._device_state, self._restore_device_state)
            self._x_static.copy_(x)
            self._graph.replay()
        elif self.mode == "compiled":
            self._compiled(x)
        else:
            self._compute(x)
        self.iteration = it + 1
        return {"stats": self._stats, "kl_layers": self._kl_layers}

    @property
    def _compiled(self):
        if not hasattr(self, "_compiled_fn"):
            self._compiled_fn = torch.compile(self._compute, dynamic=False)
        return self._compiled_fn

    def _mutable(self) -> list[torch.Tensor]:
        adams = [a for a in (self.adam_gi, self.adam_ebm) if a]
        return ([self.theta_gi] + ([self.theta_ebm] if self.theta_ebm is not None else []) + list(self.buffers.values())
                + [t for a in adams for t in (a.exp_avg, a.exp_avg_sq, a.step)] + self._monitor_tensors())

    def _device_state(self) -> dict:
        return {"tensors": [t.detach().clone() for t in self._mutable()], "rng": [g.get_state() for g in self.generators]}

    def _restore_device_state(self, saved: dict) -> None:
        with torch.no_grad():
            for t, v in zip(self._mutable(), saved["tensors"]):
                t.copy_(v)
        for g, s in zip(self.generators, saved["rng"]):
            g.set_state(s)

    # -- members that diverge ---------------------------------------------------------------------------
    def check(self) -> None:
        """Members whose monitor saw a bad iteration stop here, each with its own error (``diverged``), before
        any checkpoint of theirs is written; the others go on. None left: the first error is raised."""
        first = self._first_bad.tolist()
        bad = [i for i, f in enumerate(first) if f >= 0]
        if not bad:
            return
        scales, stats = self._bad_scale.tolist(), self._bad_stats.tolist()
        for i in bad:
            m = self.members[i]
            self.diverged[self.positions[i]] = divergence(m.cfg, m.seed, int(first[i]), dict(zip(STAT_NAMES, stats[i])),
                                                          scales[i])
        self._select([i for i in range(len(self.members)) if i not in bad])
        if not self.members:
            raise next(iter(self.diverged.values()))

    def _select(self, keep: list[int]) -> None:
        """Go on with the members at ``keep`` (their stacked tensors sliced; a CUDA graph is captured anew)."""
        idx = torch.tensor(keep, dtype=torch.long, device=self.device)
        with torch.no_grad():
            self.theta_gi = self.theta_gi[idx].detach().requires_grad_()
            if self.theta_ebm is not None:
                self.theta_ebm = self.theta_ebm[idx].detach().requires_grad_()
            self.buffers = {k: v[idx] for k, v in self.buffers.items()}
        for a in (self.adam_gi, self.adam_ebm):
            if a:
                a.select(idx)
        pick = lambda xs: [xs[i] for i in keep]
        self.members, self.schedules = pick(self.members), pick(self.schedules)
        self.generators, self.iters_per_epoch = pick(self.generators), pick(self.iters_per_epoch)
        self.histories, self.positions = pick(self.histories), pick(self.positions)
        for name in ("_stats", "_kl_layers", "_first_bad", "_tilt_scale", "_bad_scale", "_bad_stats"):
            setattr(self, name, getattr(self, name)[idx])
        self._lr = self._lr[:, idx]
        self._kl_weight, self._held_back = self._kl_weight[idx], self._held_back[idx]
        self._index = torch.arange(len(keep), device=self.device)
        if self._dim_weights is not None:
            self._dim_weights = self._dim_weights[idx]
        self._graph = None
        if hasattr(self, "_compiled_fn"):
            del self._compiled_fn

    # -- each member's files, in a separate run's format ---------------------------------------------
    def member_model_state(self, i: int) -> dict:
        gi = dict(zip(self.layout_gi.names, self.layout_gi.unrow(self.theta_gi[i].detach())))
        ebm = dict(zip(self.layout_ebm.names, self.layout_ebm.unrow(self.theta_ebm[i].detach()))) \
            if self.theta_ebm is not None else {}
        every = gi | ebm | {k: v[i] for k, v in self.buffers.items()}
        return {k: every[k].clone() for k in self.state_keys}

    def member_model(self, i: int) -> nn.Module:
        """Member i as a model of its own (a copy: for the schedule's files)."""
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.member_model_state(i))
        return model

    def member_state_dict(self, i: int) -> dict:
        """Member i's checkpoint, as its separate run's Trainer.state_dict() writes it."""
        m, (tgi, tebm) = self.members[i], self._adam_templates
        lr_gi, lr_ebm = learning_rates(m.cfg, self.iteration, self.iters_per_epoch[i])
        for groups, lr in ((tgi, lr_gi), (tebm, lr_ebm)):
            for g in groups or []:
                g["lr"] = torch.tensor(lr, device=self.device) if isinstance(g["lr"], torch.Tensor) else lr
        return {"iteration": self.iteration, "wall_time_s": self.wall_time_s, "history": self.histories[i],
                "model": self.member_model_state(i), "opt_gi": self.adam_gi.to_torch(i, self.layout_gi, tgi),
                "opt_ebm": self.adam_ebm.to_torch(i, self.layout_ebm, tebm) if self.adam_ebm else None,
                "scaler": torch.amp.GradScaler(self.device.type, enabled=False).state_dict(),
                "rng": self.generators[i].get_state(), "schedule": self.schedules[i].state_dict(),
                "config_hash": m.cfg.hash, "seed": m.seed, "tilt_scale": float(self._tilt_scale[i])}

    def load_member_state_dict(self, i: int, state: dict, path="the checkpoint") -> None:
        """Member i from a checkpoint of its own (an ensemble's, or a separate run's, read from ``path``); every
        member must be at the same iteration (train_ensemble groups them so)."""
        m = self.members[i]
        refuse_foreign(state, path, m.cfg, m.seed)
        if i and state["iteration"] != self.iteration:
            raise ValueError("an ensemble's members resume from the same iteration")
        with torch.no_grad():
            model = state["model"]
            self.theta_gi[i] = self.layout_gi.row(model).to(self.device)
            if self.theta_ebm is not None:
                self.theta_ebm[i] = self.layout_ebm.row(model).to(self.device)
            for k, v in self.buffers.items():
                v[i] = model[k].to(self.device)
        self.adam_gi.load_torch(i, self.layout_gi, state["opt_gi"])
        if self.adam_ebm:
            self.adam_ebm.load_torch(i, self.layout_ebm, state["opt_ebm"])
        self.generators[i].set_state(state["rng"].cpu())
        self.schedules[i].load_state_dict(state["schedule"])
        self.histories[i] = list(state["history"])
        self.iteration, self.wall_time_s = state["iteration"], state["wall_time_s"]
        self._it_tensor.fill_(self.iteration)
        self._tilt_scale[i] = state.get("tilt_scale", 0.0)

    # -- what the training loop (run_loop) asks of a trainer ------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.cfg.name}/{self.cfg.profile}/seeds{','.join(map(str, self.seeds))}"

    @property
    def rank(self) -> int:
        return 0

    def log(self) -> float:
        """Each member's statistics appended to its history; returns the members' mean loss."""
        stats, kls = self._stats.tolist(), self._kl_layers.tolist()
        for i, (s, kl) in enumerate(zip(stats, kls)):
            self.histories[i].append({"iteration": self.iteration, **dict(zip(STAT_NAMES, s)),
                                      "kl_layers": [round(v, 4) for v in kl],
                                      "lr": float(self._lr[0, i]), "seconds": round(self.wall_time_s, 2)}
                                     | self.schedules[i].logged_state())
        return sum(s[0] for s in stats) / len(stats)

    def save_checkpoint(self) -> None:
        for i, m in enumerate(self.members):
            atomic_save(self.member_state_dict(i), Path(m.run_dir) / "checkpoint.pt")

    def save_files(self) -> None:
        for i, m in enumerate(self.members):
            files = self.schedules[i].files_due(self.iteration, _Lazy(lambda i=i: self.member_model(i)))
            save_due_files(m.cfg, self.iteration, self.iters_per_epoch[i], m.run_dir,
                           lambda i=i: self.member_state_dict(i), files, lambda i=i: self.member_model_state(i))

    def stopped(self, signal_name: str) -> TrainingStopped:
        return TrainingStopped(f"{self.cfg.name} (seeds {', '.join(map(str, self.seeds))}): {signal_name} at iteration "
                               f"{self.iteration:,}; checkpoints written to each member's run folder; run the same "
                               f"command again to resume")


class _Lazy:
    """A member's model, built only if a schedule's files_due reads it (pro-VLAE at the end of a step)."""

    def __init__(self, build):
        self._build, self._model = build, None

    def __getattr__(self, name):
        if self._model is None:
            self._model = self._build()
        return getattr(self._model, name)


def train_ensemble(members: list[Member], device=None, progress: bool | str = True,
                   callback: Callable | None = None, mode: str = "eager", check_every: int = 100) -> EnsembleTrainer:
    """Train (or resume, from each member's checkpoint.pt) the members as one ensemble until their configs'
    iterations; returns the trainer (``diverged``: the members that stopped, by position, with their errors)."""
    from ..io import torch_load
    device = resolve_device(device)
    trainer = EnsembleTrainer(members, device, mode)
    for i, m in enumerate(members):
        ckpt = Path(m.run_dir) / "checkpoint.pt"
        if ckpt.exists():
            trainer.load_member_state_dict(i, torch_load(ckpt, CHECKPOINT_FIX, device), ckpt)
        elif trainer.iteration:
            raise ValueError("an ensemble's members resume from the same iteration")
    trainer.model.train()
    run_loop(trainer, trainer.cfg.train, progress, callback, check_every)
    return trainer
